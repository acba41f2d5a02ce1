"""Gradients of random networks against an independent autograd oracle and central differences.

Every ``Network.backward`` result (each layer's dW and db, and the returned loss value) is
compared, in float64 and to 1e-7 relative error on each whole array, with

* ``autograd`` applied to a loss written here from the math definitions alone
  (z = a_prev W + b, a = f(z), the loss as in losses.py's docstrings, + λ/(2m)·Σ‖W‖²);
  nothing from chainrule is used to build that oracle;
* fourth-order central differences of the library's own ``Network.loss_value``.

Random networks have 1–4 layers, batch sizes 1…8, every activation × every loss where the
pair is valid. Data are redrawn until no pre-activation lies within 1e-3 of 0 and no hinge
margin y·ŷ within 1e-3 of 1, so the finite differences never straddle a kink; the finite
difference routine also checks that no perturbation changed which side of a kink any
pre-activation or margin is on.
"""

import itertools
import zlib

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import chainrule as cr
from chainrule.activations import ACTIVATIONS
from chainrule.losses import LOSSES, MSE

RTOL = 1e-7
KINK_GAP = 1e-3
FD_STEP = 1e-4  # the 4-point stencil moves a parameter by at most 2·FD_STEP
LEAKY_SLOPE = 0.01
KINKED = {"relu", "leaky_relu"}
GRAD_FLOOR = 1e-3  # draws with a gradient array max|g| < GRAD_FLOOR are redrawn (see draw_case)


# ---- comparison helper -----------------------------------------------------------------------


def assert_close(actual, expected, rtol=RTOL, label="", floor=1e-12):
    """max|a − e| / max(max|a|, max|e|, floor) ≤ rtol over the whole array (shapes must match)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{label}: shape {a.shape} != expected shape {e.shape}"
    assert np.isfinite(a).all(), f"{label}: non-finite values in actual {a}"
    assert np.isfinite(e).all(), f"{label}: non-finite values in expected {e}"
    if a.size == 0:
        return
    scale = max(float(np.abs(a).max()), float(np.abs(e).max()), floor)
    err = float(np.abs(a - e).max()) / scale
    assert err <= rtol, (
        f"{label}: relative error {err:.3e} > {rtol:g}\n actual   = {a.ravel()[:12]}\n expected = {e.ravel()[:12]}"
    )


# ---- the oracle: written from the math definitions, autograd.numpy only --------------------


def _softmax(z):
    e = anp.exp(z)
    return e / anp.sum(e, axis=1, keepdims=True)


def oracle_activation(name, slope=LEAKY_SLOPE):
    return {
        "sigmoid": lambda z: 1.0 / (1.0 + anp.exp(-z)),
        "tanh": lambda z: anp.tanh(z),
        "relu": lambda z: anp.where(z > 0, z, 0.0),
        "leaky_relu": lambda z: anp.where(z > 0, z, slope * z),
        "linear": lambda z: z,
        "softmax": _softmax,
        "xtanh": lambda z: z * anp.tanh(z),
    }[name]


def oracle_forward(params, X, acts, slope=LEAKY_SLOPE):
    """[(z, a)] per layer; params is [(W, b)] per layer, or [(W,)] for a layer without bias."""
    out = []
    a = X
    for p, act in zip(params, acts):
        z = anp.dot(a, p[0])
        if len(p) > 1:
            z = z + p[1]
        a = oracle_activation(act, slope)(z)
        out.append((z, a))
    return out


def oracle_loss(params, X, Y, acts, loss, l2=0.0, slope=LEAKY_SLOPE):
    """The mean loss of the network on (X, Y) with Y dense (m, K), plus λ/(2m)·Σ‖W‖²."""
    cache = oracle_forward(params, X, acts, slope)
    z, a = cache[-1]
    m, k = Y.shape
    if loss == "mse":
        value = anp.sum((a - Y) ** 2) / (m * k)
    elif loss == "half_sse":
        value = anp.sum(0.5 * (a - Y) ** 2) / m
    elif loss == "bce":
        value = -anp.sum(Y * anp.log(a) + (1.0 - Y) * anp.log(1.0 - a)) / (m * k)
    elif loss == "cross_entropy":
        o = z if acts[-1] == "softmax" else a
        log_p = o - anp.log(anp.sum(anp.exp(o), axis=1, keepdims=True))
        value = -anp.sum(Y * log_p) / m
    elif loss == "hinge":
        value = anp.sum(anp.maximum(0.0, 1.0 - Y * a)) / (m * k)
    else:
        raise AssertionError(f"no oracle for loss {loss!r}")
    if l2:
        value = value + l2 / (2.0 * m) * sum(anp.sum(p[0] ** 2) for p in params)
    return value


oracle_grad = grad(oracle_loss)


# ---- random cases ----------------------------------------------------------------------------


def _seed(*parts):
    return zlib.crc32(repr(parts).encode())


def draw_targets(rng, loss, m, k, soft=False):
    """(y as passed to the library, Y dense (m, k) for the oracle)."""
    if loss in ("mse", "half_sse"):
        Y = rng.normal(0.0, 1.0, (m, k))
        return Y, Y
    if loss == "bce":
        Y = rng.uniform(0.0, 1.0, (m, k)) if soft else rng.integers(0, 2, (m, k)).astype(np.float64)
        return Y, Y
    if loss == "hinge":
        Y = rng.choice([-1.0, 1.0], size=(m, k))
        return (Y[:, 0] if k == 1 else Y), Y  # a 1-D target for a single output is accepted too
    if loss == "cross_entropy":
        if soft:
            P = rng.uniform(0.1, 1.0, (m, k))
            P /= P.sum(axis=1, keepdims=True)
            return P, P
        labels = rng.integers(0, k, m)
        return labels, np.eye(k)[labels]
    raise AssertionError(loss)


def draw_case(seed, hidden, output, loss, depth, batch, soft=False, slope=LEAKY_SLOPE, bias=True, tries=500):
    """Sizes, activations, parameters and data with every kink at least KINK_GAP away."""
    rng = np.random.default_rng(seed)
    acts = [hidden] * (depth - 1) + [output]
    lo = lambda act: 2 if act == "softmax" else 1  # noqa: E731  (a 1-unit softmax is constant)
    sizes = [int(rng.integers(1, 5))] + [int(rng.integers(lo(a), 5)) for a in acts[:-1]]
    several = output == "softmax" or loss == "cross_entropy"  # at least two classes / softmax units
    sizes.append(int(rng.integers(2 if several else 1, 4)))
    for _ in range(tries):
        params = [
            (rng.normal(0.0, 1.2 / np.sqrt(n_in), (n_in, n_out)), rng.normal(0.0, 0.4, n_out))[: 2 if bias else 1]
            for n_in, n_out in zip(sizes[:-1], sizes[1:])
        ]
        X = rng.normal(0.0, 1.0, (batch, sizes[0]))
        y, Y = draw_targets(rng, loss, batch, sizes[-1], soft)
        cache = oracle_forward(params, X, acts, slope)
        if min(float(np.abs(z).min()) for z, _ in cache) < KINK_GAP:
            continue
        if loss == "hinge" and float(np.abs(Y * cache[-1][1] - 1.0).min()) < KINK_GAP:
            continue
        # every gradient array must be clearly non-zero: a tiny one (0.01³ down a leaky_relu chain) or a
        # zero one (a dead ReLU layer, softmax + hinge with all targets −1, which makes the loss constant,
        # or per-sample terms that cancel) has no meaningful relative error, only rounding noise
        gradients = itertools.chain.from_iterable(oracle_grad(params, X, Y, acts, loss, 0.0, slope))
        if min(float(np.abs(g).max()) for g in gradients) < GRAD_FLOOR:
            continue
        return dict(acts=acts, sizes=sizes, params=params, X=X, y=y, Y=Y, slope=slope)
    raise AssertionError(f"no kink-free draw for seed {seed}")


def build_net(case, loss, l2=0.0, dtype=np.float64):
    layers = []
    for p, act in zip(case["params"], case["acts"]):
        activation = cr.leaky_relu(case["slope"]) if act == "leaky_relu" else act
        W = p[0]
        init = (W.copy(), p[1].copy()) if len(p) > 1 else W.copy()
        layers.append(cr.Dense(W.shape[0], W.shape[1], activation, init=init, bias=len(p) > 1))
    return cr.Network(layers, loss=loss, l2=l2, dtype=dtype)


def library_gradients(net):
    return [(layer.dW.copy(), layer.db.copy()) for layer in net.layers]


def kink_sides(net, Y):
    """Which side of its kink every kinked pre-activation and every hinge margin is on."""
    sides = [layer.Z > 0 for layer in net.layers if layer.activation.name in KINKED]
    if net.loss.name == "hinge":
        sides.append(Y * net.layers[-1].A < 1.0)
    return sides


def central_differences(net, X, y, Y, h=FD_STEP):
    """∂L/∂θ of the library's loss_value by the 4-point central stencil, for every W and b."""
    net.loss_value(X, y)
    base = kink_sides(net, Y)
    result = []
    for layer in net.layers:
        grads = []
        for p in (layer.W, layer.b):
            g = np.zeros_like(p)
            if p is layer.b and not layer.bias:
                grads.append(g)
                continue
            for idx in np.ndindex(p.shape):
                theta = p[idx]
                values = []
                for step in (2 * h, h, -h, -2 * h):
                    p[idx] = theta + step
                    values.append(net.loss_value(X, y))
                    sides = kink_sides(net, Y)
                    assert all(np.array_equal(s, t) for s, t in zip(sides, base)), (
                        f"finite-difference step {step} at {idx} crossed a kink; draw data further from it"
                    )
                p[idx] = theta
                f2, f1, fm1, fm2 = values
                g[idx] = (8.0 * (f1 - fm1) - (f2 - fm2)) / (12.0 * h)  # differences first: exact 0 stays 0
            grads.append(g)
        result.append(tuple(grads))
    return result


def check_against_oracles(case, loss, l2=0.0, y=None, fd=True):
    """Library loss and gradients vs the autograd oracle and (if fd) central differences."""
    y = case["y"] if y is None else y
    net = build_net(case, loss, l2=l2)
    value = net.backward(case["X"], y)
    got = library_gradients(net)
    args = (case["params"], case["X"], case["Y"], case["acts"], loss, l2, case["slope"])
    expected_value = float(oracle_loss(*args))
    auto = oracle_grad(*args)

    assert isinstance(value, float)
    assert_close(value, expected_value, label="loss value vs oracle")
    for l, ((dW, db), g_auto) in enumerate(zip(got, auto), start=1):
        assert dW.shape == case["params"][l - 1][0].shape
        assert_close(dW, g_auto[0], label=f"dW{l} vs autograd")
        if len(g_auto) == 1:
            assert not db.any(), f"db{l} of a layer without bias must be zero"
        else:
            assert_close(db, g_auto[1], label=f"db{l} vs autograd")
    if fd:
        numeric = central_differences(net, case["X"], y, case["Y"])
        for l, ((dW, db), (W_fd, b_fd)) in enumerate(zip(got, numeric), start=1):
            assert_close(dW, W_fd, label=f"dW{l} vs central differences")
            assert_close(db, b_fd, label=f"db{l} vs central differences")
    return net, got


# ---- the grid: hidden activation × output activation × loss, depths 1–4, batches 1–8 ----------

HIDDEN = [name for name in ACTIVATIONS if name != "softmax"]
OUTPUT_LOSS = [
    (output, loss)
    for loss in LOSSES
    for output in ACTIVATIONS
    if loss != "bce" or output in ("sigmoid", "softmax")  # bce needs probabilities
]


def _grid():
    """For each (output, loss) pair 12 networks: every hidden activation twice, depths 1–4 three
    times each and every batch size 1–8 at least once; l2 > 0 on half of them."""
    cases = []
    for p, (output, loss) in enumerate(OUTPUT_LOSS):
        for h, hidden in enumerate(HIDDEN):
            for j in range(2):
                k = 2 * h + j
                depth = 1 + (k + p) % 4
                batch = 1 + (3 * k + p) % 8
                l2 = 0.0 if j == 0 else 0.35
                name = f"{hidden}-{output}-{loss}-d{depth}-m{batch}-l2={l2:g}"
                cases.append(pytest.param(hidden, output, loss, depth, batch, l2, id=name))
    # a hidden softmax layer is allowed too
    for output, loss, depth, batch in [
        ("tanh", "mse", 2, 5),
        ("linear", "half_sse", 3, 8),
        ("sigmoid", "bce", 2, 3),
        ("softmax", "cross_entropy", 4, 6),
        ("linear", "hinge", 3, 1),
    ]:
        name = f"softmax-{output}-{loss}-d{depth}-m{batch}"
        cases.append(pytest.param("softmax", output, loss, depth, batch, 0.0, id=name))
    return cases


GRID = _grid()


def test_grid_covers_every_combination():
    seen = {(p.values[1], p.values[2]) for p in GRID}
    assert seen == set(OUTPUT_LOSS)
    assert {p.values[0] for p in GRID} == set(ACTIVATIONS)
    assert {p.values[1] for p in GRID} == set(ACTIVATIONS)
    assert {p.values[2] for p in GRID} == set(LOSSES)
    for output, loss in OUTPUT_LOSS:
        ours = [p.values for p in GRID if p.values[1:3] == (output, loss)]
        assert {v[3] for v in ours} == {1, 2, 3, 4}
        assert {v[4] for v in ours} == set(range(1, 9))
        assert {v[0] for v in ours if v[3] > 1} >= set(HIDDEN)


@pytest.mark.parametrize("hidden, output, loss, depth, batch, l2", GRID)
def test_gradients_match_autograd_and_central_differences(hidden, output, loss, depth, batch, l2):
    soft = loss == "bce" and (depth + batch) % 2 == 1  # bce: probabilities instead of 0/1 labels on some cases
    case = draw_case(_seed(hidden, output, loss, depth, batch, l2), hidden, output, loss, depth, batch, soft=soft)
    check_against_oracles(case, loss, l2=l2)
    if loss == "cross_entropy":
        # the same data given as one-hot rows (the oracle already uses them) and as soft labels
        check_against_oracles(case, loss, l2=l2, y=case["Y"].copy(), fd=False)
        seed = _seed("soft", hidden, output, depth, batch)
        soft_case = draw_case(seed, hidden, output, loss, depth, batch, soft=True)
        check_against_oracles(soft_case, loss, l2=l2, fd=False)


@pytest.mark.parametrize("output, loss", OUTPUT_LOSS)
@pytest.mark.parametrize("l2", [0.1, 2.5])
def test_l2_penalty(output, loss, l2):
    """λ/(2m)·Σ‖W‖² on the weights only: loss and dW change by exactly that, db does not."""
    case = draw_case(_seed("l2", output, loss, l2), "tanh", output, loss, depth=3, batch=4)
    net, with_l2 = check_against_oracles(case, loss, l2=l2, fd=False)
    plain = build_net(case, loss)
    plain_value = plain.backward(case["X"], case["y"])
    m = len(case["X"])
    penalty = l2 / (2 * m) * sum(float(np.sum(p[0] ** 2)) for p in case["params"])
    assert_close(net.loss_value(case["X"], case["y"]), plain_value + penalty, rtol=1e-12, label="penalised loss")
    for (W, _), (dW, db), layer in zip(case["params"], with_l2, plain.layers):  # layers with bias here
        assert np.array_equal(db, layer.db), "the L2 penalty must not touch the biases"
        assert_close(dW - layer.dW, (l2 / m) * W, rtol=1e-12, label="dW(λ) − dW(0)")


@pytest.mark.parametrize("act", HIDDEN)
def test_layers_without_bias_and_leaky_slope(act):
    """bias=False layers (db stays zero) and a non-default leaky_relu slope."""
    for loss, output in [("mse", act), ("cross_entropy", "softmax"), ("hinge", "tanh")]:
        case = draw_case(_seed("nobias", act, loss), act, output, loss, depth=3, batch=5, bias=False, slope=0.2)
        check_against_oracles(case, loss, l2=0.2)


@pytest.mark.parametrize("loss, output", [("mse", "linear"), ("cross_entropy", "softmax"), ("bce", "sigmoid")])
def test_dead_relu_layer_gives_exact_zero_gradients(loss, output):
    """The random draws avoid all-zero gradient arrays; here one is made on purpose: a ReLU layer
    dead on the whole batch gives dW1 = db1 = 0 and (its output being 0) dW2 = 0, exactly."""
    case = draw_case(_seed("dead", loss), "tanh", output, loss, depth=3, batch=6)
    case["acts"] = ["relu", "tanh", output]
    W1, b1 = case["params"][0]
    case["params"][0] = (W1, b1 - 10.0 - np.abs(case["X"] @ W1).max(axis=0))
    assert (oracle_forward(case["params"], case["X"], case["acts"])[0][0] < -1.0).all()
    net, got = check_against_oracles(case, loss, fd=False)
    (dW1, db1), (dW2, db2), (dW3, _) = got
    assert not dW1.any() and not db1.any() and not dW2.any(), "a dead layer must have exactly zero gradients"
    assert np.abs(db2).max() > GRAD_FLOOR and np.abs(dW3).max() > GRAD_FLOOR
    numeric = central_differences(net, case["X"], case["y"], case["Y"])
    for (dW, db), (W_fd, b_fd) in zip(got, numeric):
        assert_close(dW, W_fd, label="dW vs central differences")
        assert_close(db, b_fd, label="db vs central differences")


# ---- dtype, repeatability, no side effects ---------------------------------------------------


@pytest.mark.parametrize("output, loss", OUTPUT_LOSS)
def test_float32_network_matches_float64(output, loss):
    hidden = HIDDEN[OUTPUT_LOSS.index((output, loss)) % len(HIDDEN)]
    case = draw_case(_seed("f32", output, loss), hidden, output, loss, depth=3, batch=6)
    # the float64 reference gets the float32-rounded weights and inputs, so only the arithmetic differs
    rounded = dict(case, params=[tuple(q.astype(np.float32).astype(np.float64) for q in p) for p in case["params"]])
    X32 = case["X"].astype(np.float32)
    net32 = build_net(rounded, loss, l2=0.3, dtype=np.float32)
    net64 = build_net(rounded, loss, l2=0.3)
    v32 = net32.backward(X32, case["y"])
    v64 = net64.backward(X32.astype(np.float64), case["y"])
    assert_close(v32, v64, rtol=1e-5, label="float32 loss")
    for l, (l32, l64) in enumerate(zip(net32.layers, net64.layers), start=1):
        for name in ("W", "b", "dW", "db", "Z", "A", "delta"):
            assert getattr(l32, name).dtype == np.float32, f"layer {l} {name} is {getattr(l32, name).dtype}"
        assert_close(l32.dW, l64.dW, rtol=1e-4, label=f"float32 dW{l}")
        assert_close(l32.db, l64.db, rtol=1e-4, label=f"float32 db{l}")
    # and against the float64 network on the original (unrounded) weights and inputs
    exact = build_net(case, loss, l2=0.3)
    exact.backward(case["X"], case["y"])
    for l, (l32, l64) in enumerate(zip(net32.layers, exact.layers), start=1):
        assert_close(l32.dW, l64.dW, rtol=1e-4, label=f"float32 dW{l} vs unrounded float64")
        assert_close(l32.db, l64.db, rtol=1e-4, label=f"float32 db{l} vs unrounded float64")


class _Tanh64(cr.Activation):
    """A user's activation that ignores ``out`` and returns float64 whatever the network's dtype."""

    def forward(self, z, out=None):
        return np.tanh(z.astype(np.float64))

    def backward(self, grad_a, z, a, out=None, scratch=None):
        return grad_a * (1.0 - np.tanh(z.astype(np.float64)) ** 2)


class _MSE64(MSE):
    """A user's loss whose gradient ignores ``out`` and comes back in float64."""

    def grad(self, a, y, out=None):
        return (a.astype(np.float64) - y) * (2.0 / a.size)


def test_float32_network_with_extensions_that_return_float64():
    # the products take float64 operands into float32 buffers (cast, as np.matmul does): the gradients
    # still match the oracle, and θ and its gradient stay float32
    case = draw_case(_seed("f64 extensions"), "tanh", "tanh", "mse", depth=2, batch=5)
    rounded = [tuple(q.astype(np.float32).astype(np.float64) for q in p) for p in case["params"]]
    X32 = case["X"].astype(np.float32)
    act = _Tanh64("tanh64", np.tanh, lambda z: 1.0 - np.tanh(z) ** 2)
    layers = [cr.Dense(W.shape[0], W.shape[1], act, init=(W, b)) for W, b in rounded]
    net = cr.Network(layers, loss=_MSE64(), dtype=np.float32)
    net.backward(X32, case["Y"])
    auto = oracle_grad(rounded, X32.astype(np.float64), case["Y"], ["tanh", "tanh"], "mse")
    for l, (layer, (gW, gb)) in enumerate(zip(net.layers, auto), start=1):
        assert layer.dW.dtype == layer.db.dtype == np.float32
        assert_close(layer.dW, gW, rtol=1e-4, label=f"dW{l} vs autograd")
        assert_close(layer.db, gb, rtol=1e-4, label=f"db{l} vs autograd")
    history = net.fit(X32, case["Y"], optimizer=cr.SGD(0.1), epochs=3, batch_size=2, progress=False)
    assert net.theta.dtype == np.float32 and np.isfinite(history.loss).all()


@pytest.mark.parametrize("output, loss", OUTPUT_LOSS)
def test_backward_twice_gives_identical_gradients(output, loss):
    hidden = HIDDEN[(OUTPUT_LOSS.index((output, loss)) + 3) % len(HIDDEN)]
    case = draw_case(_seed("twice", output, loss), hidden, output, loss, depth=3, batch=4)
    rng = np.random.default_rng(_seed("other", output, loss))
    X_other = rng.normal(0.0, 1.0, (7, case["sizes"][0]))
    y_other, _ = draw_targets(rng, loss, 7, case["sizes"][-1])
    net = build_net(case, loss, l2=0.5)
    first_value = net.backward(case["X"], case["y"])
    first = library_gradients(net)
    # the same batch again, another batch, the same batch: nothing may carry over
    for X, y in [(case["X"], case["y"]), (X_other, y_other), (case["X"], case["y"])]:
        net.backward(X, y)
    again_value = net.backward(case["X"], case["y"])
    assert again_value == first_value
    for (dW, db), (dW2, db2) in zip(first, library_gradients(net)):
        assert np.array_equal(dW, dW2) and np.array_equal(db, db2), "backward accumulated or kept state"
    # and the weights themselves are untouched by backward
    for (W, b), layer in zip(case["params"], net.layers):
        assert np.array_equal(layer.W, W) and np.array_equal(layer.b, b)


def _target_forms(case, loss):
    y, Y = case["y"], case["Y"]
    forms = [y, Y]
    if loss == "cross_entropy":
        forms.append(y.reshape(-1, 1))  # labels as a column
        forms.append(y.astype(np.float64))  # float-valued labels
    if Y.shape[1] == 1:
        forms.append(Y[:, 0])
    if loss == "bce":
        forms.append(Y.astype(np.int64))
    return forms


@pytest.mark.parametrize("output, loss", OUTPUT_LOSS)
def test_backward_does_not_modify_inputs(output, loss):
    hidden = HIDDEN[(OUTPUT_LOSS.index((output, loss)) + 1) % len(HIDDEN)]
    case = draw_case(_seed("const", output, loss), hidden, output, loss, depth=2, batch=5)
    for X in (case["X"], case["X"].astype(np.float32), np.asfortranarray(case["X"])):
        for y in _target_forms(case, loss):
            for dtype in (np.float64, np.float32):
                net = build_net(case, loss, l2=0.1, dtype=dtype)
                X_copy, y_copy = X.copy(order="K"), y.copy(order="K")
                net.backward(X, y)
                net.loss_value(X, y)
                net.predict(X)
                assert X.dtype == X_copy.dtype and np.array_equal(X, X_copy), "backward modified X"
                assert y.dtype == y_copy.dtype and np.array_equal(y, y_copy), "backward modified y"
                # nor may a later backward on other data change the caller's arrays through the cache
                net.backward(X + 1.0, y)
                assert np.array_equal(X, X_copy) and np.array_equal(y, y_copy)


def test_every_registered_activation_and_loss_is_exercised():
    """Fails when a new activation or loss is registered without an oracle here."""
    X = np.ones((2, 3))
    for name in ACTIVATIONS:
        oracle_activation(name)(X)
    for loss in LOSSES:
        k = 2
        oracle_loss([(np.full((3, k), 0.1), np.zeros(k))], X, np.array([[1.0, 0.0], [0.0, 1.0]]), ["sigmoid"], loss)
    assert set(itertools.chain.from_iterable(OUTPUT_LOSS)) == set(ACTIVATIONS) | set(LOSSES)
