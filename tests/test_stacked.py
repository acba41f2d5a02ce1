"""Stacked training: each network of a stack follows the trajectory ``fit`` gives it alone (the oracle is
``fit`` on a fresh network of the same seed: another code path, 2-D products one network at a time)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.stacked import DENSE_ONLY, fit_stacked

# (output activation, loss, targets) pairs the library supports
HEADS = [("sigmoid", "bce"), ("softmax", "cross_entropy"), ("linear", "mse"), ("linear", "half_sse"),
         ("tanh", "hinge"), ("linear", "cross_entropy"), ("sigmoid", "mse")]
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "xtanh"]


def targets(loss, n_out, rng, n):
    if loss == "cross_entropy":
        return rng.integers(0, n_out, n)
    if loss == "hinge":
        return rng.choice([-1.0, 1.0], (n, n_out))
    if loss == "bce":
        return rng.integers(0, 2, (n, n_out)).astype(float)
    return rng.normal(size=(n, n_out))


def optimizers(rng, K):
    """K optimizers of one random class whose scalar hyperparameters differ from network to network."""
    kind = rng.integers(0, 4)
    clip = [None if rng.random() < 0.5 else float(rng.uniform(0.05, 1)) for _ in range(K)]
    if kind == 0:
        return [cr.SGD(lr=float(rng.uniform(0.01, 0.3)), clip_norm=clip[k]) for k in range(K)]
    if kind == 1:
        nesterov = bool(rng.integers(0, 2))
        return [cr.SGD(lr=float(rng.uniform(0.01, 0.2)), momentum=float(rng.uniform(0.1 if nesterov else 0, 0.9)),
                       nesterov=nesterov, clip_norm=clip[k]) for k in range(K)]
    if kind == 2:
        return [cr.Adam(lr=float(rng.uniform(1e-3, 0.05)), betas=(float(rng.uniform(0.5, 0.95)), 0.999),
                        eps=float(rng.uniform(1e-8, 1e-6)), clip_norm=clip[k]) for k in range(K)]
    centered = bool(rng.integers(0, 2))
    return [cr.RMSprop(lr=float(rng.uniform(1e-3, 0.02)), alpha=float(rng.uniform(0.8, 0.99)),
                       momentum=float(rng.choice([0.0, 0.5])), centered=centered, clip_norm=clip[k]) for k in range(K)]


def configuration(seed):
    """A random stack: architecture, data, K seeds, L2 strengths and optimizers, batch size."""
    rng = np.random.default_rng(seed)
    out_act, loss = HEADS[rng.integers(len(HEADS))]
    n_out = int(rng.integers(2, 4)) if loss == "cross_entropy" else int(rng.integers(1, 3))
    sizes = [int(rng.integers(1, 4))] + [int(rng.integers(1, 6)) for _ in range(rng.integers(0, 3))] + [n_out]
    acts = [HIDDEN[rng.integers(len(HIDDEN))] for _ in sizes[2:]] + [out_act]
    n = int(rng.integers(3, 12))
    X = rng.normal(size=(n, sizes[0]))
    K = int(rng.integers(1, 5))
    seeds = [int(s) for s in rng.choice(1000, K, replace=False)]
    l2 = [float(rng.choice([0.0, 0.01, 0.3])) for _ in range(K)]
    batch = [None, 1, 2, 3, n - 1][rng.integers(5)]

    def network(k, dtype=np.float64):
        layers = [cr.Dense(a, b, f) for a, b, f in zip(sizes, sizes[1:], acts)]
        return cr.Network(layers, loss=loss, seed=seeds[k], l2=l2[k], dtype=dtype)

    return dict(network=network, X=X, y=targets(loss, n_out, rng, n), K=K, optimizers=optimizers(rng, K),
                batch_size=batch, shuffle=bool(rng.random() < 0.8), epochs=int(rng.integers(5, 25)))


def alone(cfg, k, dtype=np.float64):
    """Network k trained by ``fit`` on its own: (network, history)."""
    net = cfg["network"](k, dtype)
    history = net.fit(cfg["X"], cfg["y"], optimizer=cfg["optimizers"][k], epochs=cfg["epochs"],
                      batch_size=cfg["batch_size"], shuffle=cfg["shuffle"], progress=False, diagnostics=False)
    return net, history


def stacked(cfg, dtype=np.float64):
    nets = [cfg["network"](k, dtype) for k in range(cfg["K"])]
    histories = fit_stacked(nets, cfg["X"], cfg["y"], cfg["optimizers"], epochs=cfg["epochs"],
                            batch_size=cfg["batch_size"], shuffle=cfg["shuffle"])
    return nets, histories


def relative(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(1e-300, np.max(np.abs(b))))


@pytest.mark.parametrize("seed", range(60))
def test_each_network_follows_fit(seed):
    cfg = configuration(seed)
    nets, histories = stacked(cfg)
    for k in range(cfg["K"]):
        ref, ref_history = alone(cfg, k)
        assert relative(nets[k].theta, ref.theta) <= 1e-12, (seed, k)
        assert relative(histories[k].loss, ref_history.loss) <= 1e-12, (seed, k)
        assert histories[k].stop_reason == ref_history.stop_reason


@pytest.mark.parametrize("sizes, rows", [([2, 4, 1], 4), ([3, 5, 2], 17), ([6, 30, 8, 2], 20)])
def test_a_shared_first_layer_follows_fit_side_by_side_and_not(sizes, rows):
    """A full batch's first layer: side by side (XOR's m·n_in·n_out = 32, and 255, just below
    SIDE_BY_SIDE) or as K products of np.matmul (3600 multiply-adds); sigmoid hidden layers of at
    least 128 entries of the stack take the exp form of σ."""
    from chainrule.stacked import SIDE_BY_SIDE

    assert (rows * sizes[0] * sizes[1] <= SIDE_BY_SIDE) == (sizes[1] != 30)
    rng = np.random.default_rng(rows)
    X, y = rng.normal(size=(rows, sizes[0])), rng.integers(0, sizes[-1] if sizes[-1] > 1 else 2, rows)
    loss, out = ("cross_entropy", "softmax") if sizes[-1] > 1 else ("bce", "sigmoid")

    def network(seed):
        acts = ["sigmoid", "tanh"][: len(sizes) - 2] + [out]
        return cr.Network([cr.Dense(a, b, f) for a, b, f in zip(sizes, sizes[1:], acts)], loss=loss, seed=seed)

    nets = [network(seed) for seed in range(5)]
    histories = fit_stacked(nets, X, y, [cr.SGD(lr=0.3, momentum=0.5)] * 5, epochs=40)
    for seed, (net, history) in enumerate(zip(nets, histories)):
        ref = network(seed)
        ref_history = ref.fit(X, y, optimizer=cr.SGD(lr=0.3, momentum=0.5), epochs=40, progress=False,
                              diagnostics=False)
        assert relative(net.theta, ref.theta) <= 1e-12
        assert relative(history.loss, ref_history.loss) <= 1e-12


@pytest.mark.parametrize("seed", range(0, 60, 6))
def test_float32_stays_float32_and_close(seed):
    cfg = configuration(seed)
    nets, _ = stacked(cfg, np.float32)
    for k in range(cfg["K"]):
        ref, _ = alone(cfg, k, np.float32)
        assert nets[k].theta.dtype == np.float32
        np.testing.assert_allclose(nets[k].theta, ref.theta, rtol=1e-3, atol=1e-4)


XOR = (np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float), np.array([0, 1, 1, 0]))


def xor_net(seed, l2=0.0):
    return cr.Network([cr.Dense(2, 4, "tanh"), cr.Dense(4, 1, "sigmoid")], loss="bce", seed=seed, l2=l2)


def test_xor_hand_checked_first_step():
    """One full-batch SGD step of two XOR networks, against the equations written out here."""
    X, y = XOR
    nets = [xor_net(0), xor_net(1, l2=0.1)]
    before = [(n.layers[0].W.copy(), n.layers[0].b.copy(), n.layers[1].W.copy(), n.layers[1].b.copy()) for n in nets]
    histories = fit_stacked(nets, X, y, [cr.SGD(lr=0.5), cr.SGD(lr=0.25)], epochs=1)
    for (W1, b1, W2, b2), net, lr, l2, h in zip(before, nets, (0.5, 0.25), (0.0, 0.1), histories):
        a1 = np.tanh(X @ W1 + b1)
        p = 1 / (1 + np.exp(-(a1 @ W2 + b2)))
        t = y.reshape(-1, 1)
        loss = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)) + l2 / 8 * (np.sum(W1**2) + np.sum(W2**2))
        d2 = (p - t) / 4
        d1 = (d2 @ W2.T) * (1 - a1**2)
        np.testing.assert_allclose(h.loss, [loss], rtol=1e-12)
        np.testing.assert_allclose(net.layers[1].W, W2 - lr * (a1.T @ d2 + l2 / 4 * W2), rtol=1e-12)
        np.testing.assert_allclose(net.layers[0].W, W1 - lr * (X.T @ d1 + l2 / 4 * W1), rtol=1e-12)
        np.testing.assert_allclose(net.layers[0].b, b1 - lr * d1.sum(axis=0), rtol=1e-12, atol=1e-15)


def test_members_are_ordinary_networks(tmp_path):
    X, y = XOR
    nets = [xor_net(s) for s in range(3)]
    fit_stacked(nets, X, y, [cr.SGD(lr=0.5)] * 3, epochs=50)
    for k, net in enumerate(nets):
        assert cr.gradcheck(net, X, y).passed
        net.save(tmp_path / f"{k}.npz")
        np.testing.assert_array_equal(cr.load(tmp_path / f"{k}.npz").forward(X), net.forward(X))
        net.fit(X, y, optimizer=cr.SGD(lr=0.5), epochs=2, progress=False)  # fit goes on from there


def test_a_diverging_network_stops_alone_as_with_fit():
    X, y = np.array([[1e3, -2e3], [3e3, 1e3], [-1e3, 2e3]]), np.array([1e3, -1e3, 5e2])

    def net(seed):
        return cr.Network([cr.Dense(2, 3, "relu"), cr.Dense(3, 1)], loss="mse", seed=seed)

    lrs = [1e-9, 10.0, 1e-8]
    nets = [net(s) for s in range(3)]
    histories = fit_stacked(nets, X, y, [cr.SGD(lr=lr) for lr in lrs], epochs=40)
    for k in range(3):
        ref = net(k)
        with pytest.warns(UserWarning) if k == 1 else _nothing():
            ref_history = ref.fit(X, y, optimizer=cr.SGD(lr=lrs[k]), epochs=40, progress=False, diagnostics=False)
        assert histories[k].stop_reason == ref_history.stop_reason
        assert histories[k].diverged == (k == 1)
        assert len(histories[k].loss) == len(ref_history.loss)
        assert relative(nets[k].theta, ref.theta) <= 1e-12


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_what_a_stack_refuses():
    X, y = XOR

    class Other(cr.Dense):
        pass

    with pytest.raises(ValueError, match="stacked training supports Dense layers; train this one with fit"):
        fit_stacked([cr.Network([Other(2, 1, "sigmoid")], loss="bce")], X, y, ["sgd"])
    assert DENSE_ONLY in "stacked training supports Dense layers; train this one with fit"
    wide = cr.Network([cr.Dense(2, 8, "tanh"), cr.Dense(8, 1, "sigmoid")], loss="bce")
    with pytest.raises(ValueError, match="share one architecture"):
        fit_stacked([xor_net(0), wide], X, y, ["sgd", "sgd"])
    with pytest.raises(ValueError, match="one optimizer per network"):
        fit_stacked([xor_net(0), xor_net(1)], X, y, ["sgd"])
    with pytest.raises(ValueError, match="one optimizer class"):
        fit_stacked([xor_net(0), xor_net(1)], X, y, ["sgd", "adam"])
    with pytest.raises(ValueError, match="nesterov"):
        fit_stacked([xor_net(0), xor_net(1)], X, y, [cr.SGD(0.1, 0.9, nesterov=True), cr.SGD(0.1, 0.9)])
    with pytest.raises(ValueError, match="betas|beta2"):
        fit_stacked([xor_net(0), xor_net(1)], X, y, [cr.Adam(betas=(0.9, 0.99)), cr.Adam()])
    net = xor_net(0)
    with pytest.raises(ValueError, match="twice"):
        fit_stacked([net, net], X, y, ["sgd", "sgd"])


def test_the_xor_experiment_seeds_match_fit_one_by_one(tmp_path):
    """The xor experiment trains its runs over seeds stacked: the final losses, whether each learned
    XOR, and the diagnostics' findings are those of fit, run by run."""
    from chainrule.experiments import xor
    from chainrule.experiments.context import Context

    X, y = XOR
    seeds = [0, 1, 2]
    stacked_ctx, alone_ctx = Context("xor", "", tmp_path / "a", quick=True), Context("xor", "", tmp_path / "b", quick=True)
    final, won = xor._over_seeds(stacked_ctx, xor.QUICK, X, y, seeds)
    for hidden in xor.SIZES:
        label = f"2-{hidden}-1"
        for i, seed in enumerate(seeds):
            net = xor.network(hidden, seed)
            h = alone_ctx.fit(net, X, y, f"{label} seed {seed}", optimizer=cr.SGD(lr=xor.QUICK["lr"]),
                              epochs=xor.QUICK["epochs"])
            assert final[label][i] == pytest.approx(h.loss[-1], rel=1e-12)
            assert won[label][i] == xor.learned(net, X, y)
    assert stacked_ctx.findings() == alone_ctx.findings()


def test_trained_networks_are_no_longer_initial_as_with_fit():
    """fit sets initial_weights False once a step is taken: the diagnostics then no longer judge the
    weights' scale as initial. Network 1's first step overflows (λ = 1e300, η = 1e10): refused, it stays
    initial, with fit as in the stack."""
    X, y = XOR
    settings = [(0.0, 0.5), (1e300, 1e10), (0.1, 0.25)]
    nets = [xor_net(k, l2) for k, (l2, _) in enumerate(settings)]
    histories = fit_stacked(nets, X, y, [cr.SGD(lr=lr) for _, lr in settings], epochs=3)
    assert [net.initial_weights for net in nets] == [False, True, False]
    assert [h.diverged for h in histories] == [False, True, False]
    for k, (l2, lr) in enumerate(settings):
        ref = xor_net(k, l2)
        with pytest.warns(UserWarning) if k == 1 else _nothing():
            ref.fit(X, y, optimizer=cr.SGD(lr=lr), epochs=3, progress=False, diagnostics=False)
        assert nets[k].initial_weights == ref.initial_weights
        assert relative(nets[k].theta, ref.theta) <= 1e-12


def test_a_huge_epoch_count_costs_only_the_epochs_run():
    """The Historys grow an epoch at a time, as fit's: 10¹⁵ epochs of networks that diverge within a few
    allocate nothing for the epochs never run."""
    X, y = np.array([[1e3, -2e3], [3e3, 1e3], [-1e3, 2e3]]), np.array([1e3, -1e3, 5e2])
    nets = [cr.Network([cr.Dense(2, 3, "relu"), cr.Dense(3, 1)], loss="mse", seed=s) for s in range(2)]
    histories = fit_stacked(nets, X, y, [cr.SGD(lr=10.0), cr.SGD(lr=20.0)], epochs=10**15)
    for k, (history, lr) in enumerate(zip(histories, (10.0, 20.0))):
        ref = cr.Network([cr.Dense(2, 3, "relu"), cr.Dense(3, 1)], loss="mse", seed=k)
        with pytest.warns(UserWarning):
            ref_history = ref.fit(X, y, optimizer=cr.SGD(lr=lr), epochs=10**15, progress=False, diagnostics=False)
        assert history.diverged and ref_history.diverged and len(history.loss) == len(ref_history.loss) < 50
        assert relative(history.loss, ref_history.loss) <= 1e-12


class _LogSigmoid(cr.Activation):
    """A user's sigmoid that leaves log σ (has_log) with the forward signature of that protocol,
    forward(z, out, log_out), and no scratch."""

    name = "stacked_test_logsig"
    has_log = True

    def f(self, z):
        return 1 / (1 + np.exp(-z))

    def df(self, z):
        s = self.f(z)
        return s * (1 - s)

    def forward(self, z, out=None, log_out=None):
        a = np.divide(1, 1 + np.exp(-z), out=out)
        if log_out is not None:
            np.log(a, out=log_out)
        return a


class _OwnArrays(cr.Activation):
    """x·tanh x whose forward and backward answer in arrays of their own, out left untouched."""

    name = "stacked_test_own_arrays"

    def f(self, z):
        return z * np.tanh(z)

    def df(self, z):
        t = np.tanh(z)
        return t + z * (1 - t * t)

    def forward(self, z, out=None):
        return self.f(z)

    def backward(self, grad_a, z, a, out=None, scratch=None):
        return grad_a * self.df(z)


@pytest.mark.parametrize("hidden", [_LogSigmoid, _OwnArrays])
@pytest.mark.parametrize("batch_size", [None, 3])
def test_user_activations_follow_fit(hidden, batch_size):
    """A user activation with has_log but no scratch, or one that answers in arrays of its own, in a
    hidden layer (side by side on XOR's full batch) and as the output: each network as fit trains it."""
    X, y = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float), np.array([0.0, 1.0, 1.0, 0.0])

    def network(seed):
        return cr.Network([cr.Dense(2, 4, hidden()), cr.Dense(4, 1, hidden())], loss="mse", seed=seed)

    nets = [network(seed) for seed in range(3)]
    fit_stacked(nets, X, y, [cr.SGD(lr=0.1)] * 3, epochs=20, batch_size=batch_size)
    for seed, net in enumerate(nets):
        ref = network(seed)
        ref.fit(X, y, optimizer=cr.SGD(lr=0.1), epochs=20, batch_size=batch_size, progress=False, diagnostics=False)
        assert relative(net.theta, ref.theta) <= 1e-12


def test_float32_epoch_losses_are_summed_in_float64_as_fit_sums_them():
    """Batch losses near 1e35 in float32: their sum over an epoch's rows passes float32's range, fit's
    (a Python float) does not; the stack's History says the same finite number."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(5000, 2)), rng.normal(size=(5000, 1)) * 3e17

    def network():
        return cr.Network([cr.Dense(2, 1, "linear")], loss="mse", seed=0, dtype=np.float32)

    [history] = fit_stacked([network()], X, y, [cr.SGD(lr=1e-30)], epochs=1, batch_size=1000, shuffle=False)
    ref = network().fit(X, y, optimizer=cr.SGD(lr=1e-30), epochs=1, batch_size=1000, shuffle=False, progress=False,
                        diagnostics=False)
    assert np.isfinite(history.loss[0]) and history.loss[0] == pytest.approx(ref.loss[0], rel=1e-6)
