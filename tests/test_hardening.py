"""Hostile and careless input to the engine: option values of every type, extreme finite numbers,
updates that overflow. Each gives a result or one ValueError that names the problem, never another
exception, never a NaN or inf in the weights."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule import datasets
from chainrule.activations import ACTIVATIONS, get_activation
from chainrule.losses import LOSSES, get_loss

# ---- options ------------------------------------------------------------------------------------

ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5), st.lists(st.integers(), max_size=3), st.tuples(st.floats(), st.floats()),
    st.sampled_from([np.int64(3), np.float32(0.5), np.float64("nan"), np.bool_(True), np.array([1.0]), object()]),
)

OPTIONS = {
    "SGD": (lambda v: cr.SGD(**v), ["lr", "momentum", "nesterov", "clip_norm"]),
    "RMSprop": (lambda v: cr.RMSprop(**v), ["lr", "alpha", "eps", "momentum", "centered", "clip_norm"]),
    "Adam": (lambda v: cr.Adam(**v), ["lr", "betas", "eps", "clip_norm"]),
    "Dense": (lambda v: cr.Dense(**{"n_in": 2, "n_out": 3, **v}), ["n_in", "n_out", "activation", "init", "lr_scale", "bias"]),
    "Network": (lambda v: cr.Network([cr.Dense(2, 1)], **v), ["loss", "seed", "dtype", "l2"]),
    "EarlyStopping": (lambda v: cr.EarlyStopping(**v), ["patience", "min_delta", "monitor", "restore_best"]),
    "StepLR": (lambda v: cr.StepLR(**{"step_size": 2, **v}), ["step_size", "gamma"]),
    "CosineAnnealingLR": (lambda v: cr.CosineAnnealingLR(**{"T_max": 2, **v}), ["T_max", "eta_min"]),
}

FIT_OPTIONS = ["epochs", "batch_size", "shuffle", "validation_split", "early_stopping", "callbacks", "record",
               "progress", "diagnostics", "optimizer"]


@pytest.mark.parametrize("owner", sorted(OPTIONS))
@given(data=st.data())
def test_any_option_value_gives_an_object_or_a_value_error(owner, data):
    make, names = OPTIONS[owner]
    name = data.draw(st.sampled_from(names))
    value = data.draw(ANY_VALUE)
    try:
        make({name: value})
    except ValueError as e:
        assert str(e) and "\n" not in str(e)


@given(name=st.sampled_from(FIT_OPTIONS), value=ANY_VALUE)
def test_any_fit_option_value_trains_or_gives_a_value_error(name, value):
    if name == "epochs" and isinstance(value, (int, np.integer)) and value > 50:
        value = 50  # a valid request for many epochs is honoured: keep the run short
    net = cr.Network([cr.Dense(2, 2, "tanh"), cr.Dense(2, 1, "sigmoid")], loss="bce", seed=0)
    X, y = datasets.xor()
    options = {"epochs": 2, "progress": False, "diagnostics": False, name: value}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cr.DiagnosticWarning)
            net.fit(X, y, **options)
    except ValueError as e:
        assert str(e) and "\n" not in str(e)
    assert np.isfinite(net.theta).all()


@pytest.mark.parametrize("make, message", [
    (lambda: cr.Network([cr.Dense(2, 1)], seed=2.5), "seed must be an integer ≥ 0, got 2.5"),
    (lambda: cr.Network([cr.Dense(2, 1)], dtype="foo"), "dtype must be float64 or float32"),
    (lambda: cr.Network([cr.Dense(2, 1)], dtype=np.int32), "dtype must be float64 or float32"),
    (lambda: cr.Network([cr.Dense(2, 1)], l2="0.1"), "l2 must be a finite number ≥ 0"),
    (lambda: cr.Dense(2, 3, bias="no"), "Dense bias must be True or False, got 'no'"),
    (lambda: cr.Dense(2.0, 3), "Dense n_in must be a positive integer, got 2.0"),
    (lambda: cr.leaky_relu("0.1"), "leaky_relu slope must be a finite number in"),
    (lambda: cr.EarlyStopping(patience=0), "patience must be a positive integer"),
])
def test_wrong_option_types_name_the_option(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_numpy_scalars_are_accepted_wherever_python_numbers_are():
    net = cr.Network([cr.Dense(np.int64(2), np.int32(4), "tanh", lr_scale=np.float32(1)), cr.Dense(4, 1, "sigmoid")],
                     loss="bce", seed=np.int64(3), l2=np.float64(0.0))
    opt = cr.SGD(lr=np.float32(0.5), momentum=np.float64(0.5), nesterov=np.bool_(True))
    h = net.fit(*datasets.xor(), optimizer=opt, epochs=np.int64(5), batch_size=np.int16(2),
                early_stopping=np.int64(3), progress=np.bool_(False), diagnostics=False)
    assert h.epochs == 5
    assert isinstance(opt.lr, float) and opt.lr == pytest.approx(0.5)


# ---- numbers at the edge of the float range ---------------------------------------------------


def test_a_finite_value_too_large_for_float32_is_named_as_such():
    net = cr.Network([cr.Dense(2, 1)], dtype=np.float32)
    X = np.array([[1.0, 2.0], [1e39, 0.0]])
    with pytest.raises(ValueError, match=r"X has values beyond float32's range \(±3.4e\+38\) in 1 row\(s\) \(first: row 1\)"):
        net.forward(X)
    with pytest.raises(ValueError, match="y has values beyond float32's range"):
        net.backward(X[:1], np.array([-1e40]))
    with pytest.raises(ValueError, match="X contains NaN or inf in 1 row"):
        net.forward(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="X must be real numbers"):
        net.forward(np.array([[1 + 2j, 0]]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_are_finite_for_every_finite_input(name, dtype):
    big = np.finfo(dtype).max
    z = np.array([[big, -big, 0.0, 1.0], [-big, -big, -big, -big], [big, big, big, big]], dtype)
    act = get_activation(name)
    with np.errstate(over="ignore"):  # z − max z overflows to −∞ on the way: e^−∞ = 0 is the exact answer
        a = act.forward(z.copy(), **({"log_out": np.empty_like(z)} if act.has_log else {}))
    assert np.isfinite(a).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss, output", [("bce", "sigmoid"), ("cross_entropy", "softmax"),
                                          ("cross_entropy", "linear"), ("hinge", "linear")])
def test_losses_on_logits_at_the_float_limit_are_finite_not_nan(loss, output, dtype):
    """Finite logits of ±the largest float: the loss is finite (it saturates below the float limit)."""
    big = np.finfo(dtype).max
    W = np.array([[big, -big, 0.0], [big, big, big]]) if output != "sigmoid" else np.array([[big], [-big]])
    k = W.shape[1]
    net = cr.Network([cr.Dense(2, k, output, init=W.astype(dtype), bias=False)], loss=loss, dtype=dtype)
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    y = {"bce": [0, 1, 1], "cross_entropy": [1, 1, 2], "hinge": -np.ones((3, k))}[loss]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = net.loss_value(X, y)
    assert math.isfinite(value) and value > 0


# ---- updates that overflow --------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", [lambda: cr.SGD(1e308), lambda: cr.RMSprop(1e308)])
def test_an_update_that_overflows_is_refused_and_named_a_learning_rate_problem(optimizer):
    X, y = datasets.xor()[0], np.full(4, 1000.0)  # gradients of order 10³: η·g is beyond the float range
    net = cr.Network([cr.Dense(2, 4, "tanh"), cr.Dense(4, 1)], loss="mse", seed=0)
    before = net.theta.copy()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        h = net.fit(X, y, optimizer=optimizer(), epochs=20, progress=False)
    assert np.isfinite(net.theta).all() and h.epochs < 20
    assert "update" in h.stop_reason and "keeping the last finite weights" in h.stop_reason
    [finding] = [f for f in h.findings if f.severity == "error"]
    assert finding.code == "lr_too_high" and "divide the learning rate" in finding.fix
    assert any("lr_too_high" in str(w.message) for w in shown)
    if h.epochs == 0:
        np.testing.assert_array_equal(net.theta, before)


def test_weights_that_overflow_the_next_pass_stop_training_with_the_last_finite_ones():
    """Adam's first step is about η: 1e308, finite; the next forward pass overflows, and stops."""
    X, y = datasets.xor()[0], np.full(4, 1000.0)
    net = cr.Network([cr.Dense(2, 4, "tanh"), cr.Dense(4, 1)], loss="mse", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cr.DiagnosticWarning)
        h = net.fit(X, y, optimizer=cr.Adam(1e308), epochs=20, progress=False)
    assert np.isfinite(net.theta).all() and h.epochs < 20
    assert [f.code for f in h.findings if f.severity == "error"] == ["nan_loss"]


def test_a_refused_step_leaves_the_parameters_and_forgets_the_optimizer_state():
    net = cr.Network([cr.Dense(2, 1)], loss="mse", seed=0)
    opt = cr.SGD(1e-3, momentum=0.9)
    X, y = datasets.xor()
    net.backward(X, y)
    opt.step(net)
    assert net in opt.state
    before = net.theta.copy()
    net.grad[0] = 1e308
    opt.lr = 1e10
    with np.errstate(over="ignore"), pytest.raises(cr.optimizers.NonFiniteStep, match="overflow to inf"):
        opt.step(net)
    np.testing.assert_array_equal(net.theta, before)
    assert net not in opt.state


def test_a_step_below_the_square_root_of_the_largest_float_never_overflows_a_parameter():
    """|s| < √M (M the largest float) is far below half the spacing of the floats near M, so θ − s
    stays finite even for θ at the largest float itself; the in-place step relies on it."""
    for dtype in (np.float64, np.float32):
        M, root = np.finfo(dtype).max, np.sqrt(np.finfo(dtype).max) * np.array(0.45, dtype)  # 4·0.45² M < M
        theta = np.array([M, -M, M, 1.0], dtype)
        s = np.array([-root, root, root, -root], dtype)
        assert np.isfinite(np.vdot(s, s))
        with np.errstate(over="raise"):
            np.testing.assert_array_equal(theta - s, [M, -M, M, 1.0 + root])


def test_centered_rmsprop_stays_finite_under_a_constant_gradient():
    """v − ḡ² is 0 in exact arithmetic for a constant gradient; rounding takes it below 0 after
    many steps (in float32 for these gradients), where √ gives NaN (PyTorch's RMSprop does). Here
    it is clamped at 0."""
    g = np.array([0.54032516, 2.6796645e-04, 2.3375544e-06, 0.078095302], np.float32)  # ∂L/∂W, ∂L/∂b
    net = cr.Network([cr.Dense(3, 1)], loss="mse", seed=0, dtype=np.float32)
    opt = cr.RMSprop(1e-6, centered=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3000):
            net.grad[...] = g
            opt.step(net)
    assert np.isfinite(net.theta).all()


def test_clipping_steps_with_the_clipped_gradient_and_leaves_dW_the_true_one():
    X, y = datasets.xor()
    net = cr.Network([cr.Dense(2, 3, "tanh"), cr.Dense(3, 1)], loss="mse", seed=0, )
    net.backward(X, 10 * y)
    true = net.grad.copy()
    norm = np.linalg.norm(true)
    start = net.theta.copy()
    cr.SGD(0.1, clip_norm=norm / 4).step(net)
    np.testing.assert_array_equal(net.grad, true)  # dW, db are views of net.grad: unchanged
    np.testing.assert_allclose(net.theta, start - 0.1 * true / 4, rtol=1e-13)


def test_a_blow_up_against_the_starting_loss_names_the_learning_rate():
    """A first epoch whose loss is orders of magnitude above the loss before training (then dead
    ReLUs): lr_too_high, whatever else is found."""
    X, y = datasets.digits()
    net = cr.Network([cr.Dense(64, 32, "relu"), cr.Dense(32, 10, "softmax")], loss="cross_entropy", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = net.fit(16 * X, y, optimizer=cr.SGD(50.0), epochs=3, batch_size=64, progress=False)
    [f] = [f for f in h.findings if f.code == "lr_too_high"]
    assert f.epoch == 1 and "before training" in f.message and f.value > 10


def test_a_network_or_one_hot_target_beyond_memory_is_refused_before_allocating(monkeypatch):
    from chainrule import memory

    monkeypatch.setattr(memory, "available", lambda: 2**30)  # 1 GiB
    with pytest.raises(ValueError, match=r"a network of 100,020,001 parameters needs about 1.5 GiB, and this "
                                         r"machine has 1.0 GiB available; use fewer or smaller layers"):
        cr.Network([cr.Dense(10_000, 10_000), cr.Dense(10_000, 1)], dtype=np.float32)
    net = cr.Network([cr.Dense(2, 20_000, "softmax")], loss="cross_entropy")
    with pytest.raises(ValueError, match=r"one-hot targets of 10,000 rows × 20,000 classes needs about 1.5 GiB"):
        net.check_data(np.zeros((10_000, 2)), np.zeros(10_000, int))
