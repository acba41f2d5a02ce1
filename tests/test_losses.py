"""Losses: values written out by hand, PyTorch's losses when torch is installed, stability, target checks."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.losses import LOSSES, get_loss

A = np.array([[0.2, 0.7], [0.9, 0.4], [0.5, 0.1]])
Y = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def test_mse_and_half_sse_by_hand():
    d2 = (A - Y) ** 2
    # mse: mean of all N·K squared errors; half_sse: ½ Σ over outputs, mean over N samples
    assert get_loss("mse").value(A, Y) == pytest.approx(d2.sum() / 6, rel=1e-15)
    assert get_loss("half_sse").value(A, Y) == pytest.approx(0.5 * d2.sum() / 3, rel=1e-15)
    # one sample, the lab's numbers: ½ (0.5 − 0.67)² = 0.01445
    assert get_loss("half_sse").value(np.array([[0.67]]), np.array([[0.5]])) == pytest.approx(0.01445)


def test_bce_by_hand():
    expected = -(np.log(0.8) + np.log(0.7) + np.log(0.9) + np.log(0.6) + np.log(0.5) + np.log(0.1)) / 6
    assert get_loss("bce").value(A, Y) == pytest.approx(expected, rel=1e-14)


def test_cross_entropy_by_hand():
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    labels = np.array([2, 0])
    lse = np.log(np.exp(1) + np.exp(2) + np.exp(3))
    expected = ((lse - 3.0) + np.log(3.0)) / 2
    loss = get_loss("cross_entropy")
    Yoh = loss.prepare_targets(labels, 3, np.float64)
    np.testing.assert_array_equal(Yoh, [[0, 0, 1], [1, 0, 0]])
    assert loss.value(logits, Yoh) == pytest.approx(expected, rel=1e-14)


def test_hinge_by_hand():
    a = np.array([[0.5], [-2.0], [3.0]])
    y = np.array([[1.0], [-1.0], [-1.0]])
    assert get_loss("hinge").value(a, y) == pytest.approx((0.5 + 0.0 + 4.0) / 3)


@pytest.mark.parametrize("name", ["mse", "bce", "cross_entropy"])
def test_equal_to_pytorch_default_reduction(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(5, 3))
    if name == "mse":
        y = rng.normal(size=(5, 3))
        ours = get_loss(name).value(logits, y)
        ref = torch.nn.MSELoss()(torch.tensor(logits), torch.tensor(y)).item()
    elif name == "bce":
        p = 1 / (1 + np.exp(-logits))
        y = rng.integers(0, 2, size=(5, 3)).astype(float)
        ours = get_loss(name).value(p, y)
        ref = torch.nn.BCELoss()(torch.tensor(p), torch.tensor(y)).item()
    else:
        labels = rng.integers(0, 3, size=5)
        loss = get_loss(name)
        ours = loss.value(logits, loss.prepare_targets(labels, 3, np.float64))
        ref = torch.nn.CrossEntropyLoss()(torch.tensor(logits), torch.tensor(labels)).item()
    assert ours == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("out, loss", [("sigmoid", "bce"), ("softmax", "cross_entropy")])
def test_saturated_outputs_give_finite_loss_and_gradients(out, loss):
    k = 1 if out == "sigmoid" else 3
    W = np.array([[1.0] * k]) * np.array([[1.0, -1.0, 0.5][:k]])
    net = cr.Network([cr.Dense(1, k, out, init=W)], loss=loss)
    X = np.array([[1e4], [-1e4], [3e3]])
    y = np.array([0, 1, 1]) if k == 1 else np.array([1, 0, 2])
    value = net.backward(X, y)
    assert np.isfinite(value) and value > 100  # confidently wrong: large, but exact and finite
    assert np.isfinite(net.layers[0].dW).all() and np.isfinite(net.layers[0].db).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
def test_the_forward_pass_leaves_log_softmax_and_log_sigmoid(scale, dtype):
    # log a on the way to a, for the fused losses: scipy's log_softmax and −log(1 + e^−z), finite
    # where a itself underflows to 0 (scale 1e4); the loss from it is the loss from the logits alone
    from scipy.special import log_softmax

    rng = np.random.default_rng(3)
    z = (rng.normal(size=(16, 5)) * scale).astype(dtype)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=2e-6, atol=2e-6)
    log_a = np.empty_like(z)
    a = cr.activations.get_activation("softmax").forward(z, log_out=log_a)
    exact = log_softmax(z.astype(np.float64), axis=1)
    np.testing.assert_allclose(log_a, exact, **tol)
    np.testing.assert_allclose(a, np.exp(exact), **tol)
    loss = get_loss("cross_entropy")
    y = loss.prepare_targets(rng.integers(0, 5, 16), 5, dtype)
    assert loss.fused_value(z, y, log_a) == pytest.approx(-np.sum(y * exact) / 16, rel=tol["rtol"], abs=tol["atol"])

    a = cr.activations.get_activation("sigmoid").forward(z, log_out=log_a)
    z64 = z.astype(np.float64)  # −log(1 + e^−z), and z − log(1 + e^z) ≈ z − e^z where e^−z would overflow
    exact = np.where(z64 < -30, z64 - np.exp(np.minimum(z64, 0)), -np.log1p(np.exp(-np.maximum(z64, -30))))
    np.testing.assert_allclose(log_a, exact, **tol)
    np.testing.assert_allclose(a, np.exp(exact), **tol)
    loss, y = get_loss("bce"), rng.integers(0, 2, (16, 5)).astype(dtype)
    expected = -np.mean(y * exact + (1 - y) * -np.logaddexp(0, z.astype(np.float64)))
    assert loss.fused_value(z, y, log_a) == pytest.approx(expected, rel=tol["rtol"], abs=tol["atol"])
    assert loss.fused_value(z, y) == loss.fused_value(z, y, log_a)


@pytest.mark.parametrize("loss", ["bce", "cross_entropy"])
def test_fused_delta_is_prediction_minus_target_over_n(loss):
    k = 1 if loss == "bce" else 3
    out = "sigmoid" if loss == "bce" else "softmax"
    rng = np.random.default_rng(0)
    net = cr.Network([cr.Dense(2, k, out)], loss=loss, seed=0)
    X = rng.normal(size=(4, 2))
    y = np.array([0, 1, 1, 0]) if k == 1 else np.array([0, 2, 1, 2])
    net.backward(X, y)
    p = net.predict(X)
    Yt = np.eye(3)[y] if k == 3 else y.reshape(-1, 1)
    # bce averages N·K = 4·1 terms, cross_entropy N = 4 samples
    np.testing.assert_allclose(net.layers[0].delta, (p - Yt) / 4, rtol=1e-13)


@pytest.mark.parametrize(
    "loss, y, message",
    [
        ("bce", [0, 2, 1], r"bce targets must lie in \[0, 1\]"),
        ("hinge", [0, 1, 1], "hinge targets must be −1 or \\+1"),
        ("cross_entropy", [0, 3, 1], r"labels must be integers in 0 … 2"),
        ("cross_entropy", [0, 1.5, 1], r"labels must be integers"),
        ("cross_entropy", [[1, 0, 0], [0, 1, 1], [0, 0, 1]], "one-hot"),
        ("mse", [[0, 1], [1, 0], [1, 1]], r"y has shape \(3, 2\) but the network has 3 output"),
    ],
)
def test_targets_outside_the_loss_range(loss, y, message):
    k = 1 if loss in ("bce", "hinge") else 3
    net = cr.Network([cr.Dense(2, k, "sigmoid" if loss == "bce" else "linear")], loss=loss, seed=0)
    with pytest.raises(ValueError, match=message):
        net.backward(np.ones((3, 2)), np.array(y))


def test_bce_rejects_outputs_that_are_not_probabilities():
    net = cr.Network([cr.Dense(1, 1, "linear", init=np.array([[3.0]]))], loss="bce")
    with pytest.raises(ValueError, match="sigmoid output"):
        net.backward(np.array([[1.0]]), np.array([1]))


def test_registry():
    assert set(LOSSES) == {"mse", "half_sse", "bce", "cross_entropy", "hinge"}
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        get_loss("l1")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_cross_entropy_of_confident_right_outputs_keeps_its_digits(offset, dtype):
    # logits 10 apart, the target on the largest: each row's loss is log(1 + 4e^-10) ≈ 1.8e-4, a
    # small difference of large numbers unless it is formed row by row (z − max z − log Σ e^(z − max z) ≤ 0)
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 5, 1000)
    z = np.full((1000, 5), offset) + 10.0 * np.eye(5)[labels]
    exact = np.mean(np.log1p(4 * np.exp(-10.0)))
    loss = get_loss("cross_entropy")
    zd = z.astype(dtype)
    log_a = np.empty_like(zd)
    cr.activations.get_activation("softmax").forward(zd, log_out=log_a)
    value = loss.fused_value(zd, loss.prepare_targets(labels, 5, dtype), log_a)
    assert value >= 0
    assert value == pytest.approx(exact, rel=1e-9 if dtype == np.float64 else 1e-3)  # float32: a_max ≈ 1 − 1.8e-4 to 6e-8


@pytest.mark.parametrize("loss, Y", [
    ("bce", np.array([[0.0], [1.0], [0.3]])),
    ("cross_entropy", np.eye(4)[[0, 3, 1, 1, 2]]),
    ("cross_entropy", np.array([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]])),
    ("mse", np.array([[1.0, -2.0], [0.5, 0.0]])),
    ("hinge", np.array([[1.0], [-1.0]])),
])
def test_the_uninformative_loss_is_the_loss_of_an_output_that_knows_nothing(loss, Y):
    """ln 2 for bce (ŷ = ½), ln K for cross_entropy (equal logits), mean y² for mse, 1 for hinge:
    the values written out here, against the loss computed on that output."""
    expected = {"bce": np.log(2), "cross_entropy": np.log(Y.shape[1]), "mse": np.mean(Y**2), "hinge": 1.0}[loss]
    assert get_loss(loss).uninformative(Y) == pytest.approx(expected, rel=1e-12)
