"""Optimizers: PyTorch's update equations, checked against torch.optim (when installed) and
against the equations written out here; clipping, per-layer learning rates, defaults."""

import numpy as np
import pytest

import chainrule as cr

RNG = np.random.default_rng(7)
X = RNG.normal(size=(6, 3))
Y = RNG.normal(size=(6, 2))
W1, W2 = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2))
B1, B2 = RNG.normal(size=4) * 0.1, RNG.normal(size=2) * 0.1

CASES = [
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.05, momentum=0.9)),
    ("sgd", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("rmsprop", dict(lr=0.01)),
    ("rmsprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("adam", dict(lr=0.01)),
    ("adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
]
OURS = {"sgd": cr.SGD, "rmsprop": cr.RMSprop, "adam": cr.Adam}


def make_net():
    return cr.Network(
        [cr.Dense(3, 4, "tanh", init=(W1, B1)), cr.Dense(4, 2, "linear", init=(W2, B2))], loss="mse"
    )


def train(opt, steps=5, net=None):
    net = net or make_net()
    for _ in range(steps):
        net.backward(X, Y)
        opt.step(net)
    return net


@pytest.mark.parametrize("name, kw", CASES)
def test_matches_torch_optim(name, kw):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(a.copy(), requires_grad=True) for a in (W1, B1, W2, B2)]
    topt = {"sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop, "adam": torch.optim.Adam}[name](params, **kw)
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    for _ in range(5):
        topt.zero_grad()
        out = torch.tanh(Xt @ params[0] + params[1]) @ params[2] + params[3]
        torch.nn.MSELoss()(out, Yt).backward()
        topt.step()
    net = train(OURS[name](**kw))
    for ours, ref in zip([net.layers[0].W, net.layers[0].b, net.layers[1].W, net.layers[1].b], params):
        np.testing.assert_allclose(ours, ref.detach().numpy(), rtol=1e-10, atol=1e-12)


def reference_step(name, kw, p, g, s, t):
    """The update equations as PyTorch documents them, one parameter at a time."""
    lr = kw["lr"]
    if name == "sgd":
        mu = kw.get("momentum", 0.0)
        if mu:
            s["b"] = g.copy() if t == 1 else mu * s["b"] + g
            g = g + mu * s["b"] if kw.get("nesterov") else s["b"]
        return p - lr * g
    if name == "rmsprop":
        alpha, eps, mu = 0.99, 1e-8, kw.get("momentum", 0.0)
        s["v"] = alpha * s.get("v", 0) + (1 - alpha) * g**2
        v = s["v"]
        if kw.get("centered"):
            s["g"] = alpha * s.get("g", 0) + (1 - alpha) * g
            v = v - s["g"] ** 2
        if mu:
            s["b"] = mu * s.get("b", 0) + g / (np.sqrt(v) + eps)
            return p - lr * s["b"]
        return p - lr * g / (np.sqrt(v) + eps)
    b1, b2 = kw.get("betas", (0.9, 0.999))
    eps = kw.get("eps", 1e-8)
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * g**2
    m_hat, v_hat = s["m"] / (1 - b1**t), s["v"] / (1 - b2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


@pytest.mark.parametrize("name, kw", CASES)
def test_matches_the_written_equations(name, kw):
    net = make_net()
    ref = make_net()
    opt = OURS[name](**kw)
    states = [{} for _ in range(4)]
    for t in range(1, 6):
        ref.backward(X, Y)
        new = [reference_step(name, kw, p.copy(), g, s, t) for (_, _, p, g, _), s in zip(ref.parameters(), states)]
        for (_, _, p, _, _), value in zip(ref.parameters(), new):
            p[...] = value
        net.backward(X, Y)
        opt.step(net)
    for (_, _, p, _, _), (_, _, q, _, _) in zip(net.parameters(), ref.parameters()):
        np.testing.assert_allclose(p, q, rtol=1e-10, atol=1e-13)


def test_pytorch_defaults():
    assert cr.SGD().lr == 1e-3 and cr.SGD().momentum == 0
    r = cr.RMSprop()
    assert (r.lr, r.alpha, r.eps, r.momentum, r.centered) == (1e-2, 0.99, 1e-8, 0.0, False)
    a = cr.Adam()
    assert (a.lr, a.beta1, a.beta2, a.eps) == (1e-3, 0.9, 0.999, 1e-8)


def test_global_norm_clipping():
    net = make_net()
    net.backward(X, Y)
    grads = [g.copy() for *_, g, _ in net.parameters()]
    norm = np.sqrt(sum((g**2).sum() for g in grads))
    before = [p.copy() for _, _, p, _, _ in net.parameters()]
    cr.SGD(lr=1.0, clip_norm=norm / 4).step(net)
    for b, (_, _, p, _, _), g in zip(before, net.parameters(), grads):
        np.testing.assert_allclose(b - p, g / 4, rtol=1e-12)
    # below the threshold nothing changes
    net2 = make_net()
    net2.backward(X, Y)
    before = [p.copy() for _, _, p, _, _ in net2.parameters()]
    cr.SGD(lr=1.0, clip_norm=norm * 2).step(net2)
    for b, (_, _, p, _, _), g in zip(before, net2.parameters(), grads):
        np.testing.assert_allclose(b - p, g, rtol=1e-12)


def test_per_layer_learning_rate():
    net = make_net()
    net.layers[0].lr_scale = 0.1
    net.backward(X, Y)
    grads = [g.copy() for *_, g, _ in net.parameters()]
    before = [p.copy() for _, _, p, _, _ in net.parameters()]
    cr.SGD(lr=0.5).step(net)
    scales = [0.1, 0.1, 1.0, 1.0]
    for b, (_, _, p, _, _), g, s in zip(before, net.parameters(), grads, scales):
        np.testing.assert_allclose(b - p, 0.5 * s * g, rtol=1e-12)


def test_float32_stays_float32():
    net = cr.Network([cr.Dense(3, 4, "tanh"), cr.Dense(4, 2)], loss="mse", seed=0, dtype=np.float32)
    for opt in (cr.SGD(0.1, momentum=0.9), cr.RMSprop(centered=True, momentum=0.1), cr.Adam()):
        train(opt, steps=2, net=net)
        assert all(p.dtype == np.float32 for _, _, p, _, _ in net.parameters())
        assert all(s.dtype == np.float32 for st in opt.state.values() for s in st.values() if hasattr(s, "dtype"))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: cr.SGD(lr=0), "SGD lr must be a finite number > 0, got 0"),
        (lambda: cr.SGD(lr=None), "SGD lr must be a finite number > 0, got None"),
        (lambda: cr.Adam(lr="0.1"), "Adam lr must be a finite number > 0, got '0.1'"),
        (lambda: cr.Adam(lr=True), "Adam lr must be"),
        (lambda: cr.Adam(betas=0.9), "betas must be a pair"),
        (lambda: cr.RMSprop(centered="yes"), "centered must be True or False"),
        (lambda: cr.SGD(0.1, momentum=0.9, nesterov=1), "nesterov must be True or False"),
        (lambda: cr.SGD(lr=float("nan")), "lr must be"),
        (lambda: cr.SGD(lr=0.1, nesterov=True), "Nesterov momentum needs momentum > 0"),
        (lambda: cr.Adam(betas=(1.0, 0.9)), r"betas\[0\] must be"),
        (lambda: cr.RMSprop(alpha=1.5), "alpha must be"),
        (lambda: cr.SGD(0.1, clip_norm=-1), "clip_norm must be a finite number > 0"),
    ],
)
def test_bad_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make()
