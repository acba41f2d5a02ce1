"""gradcheck: passes on the engine, and catches the bugs learners plant — each named by layer,
parameter and, where the error is a constant factor, the factor and its usual cause."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.activations import Tanh
from chainrule.losses import BCE, MSE

RNG = np.random.default_rng(5)
X = RNG.normal(size=(6, 3))
Y_CLASS = np.array([0, 1, 1, 0, 1, 0])
Y_REG = RNG.normal(size=(6, 2))


def net_bce():
    return cr.Network([cr.Dense(3, 4, "tanh"), cr.Dense(4, 1, "sigmoid")], loss="bce", seed=1)


@pytest.mark.parametrize(
    "make, y",
    [
        (net_bce, Y_CLASS),
        (lambda: cr.Network([cr.Dense(3, 5, "relu"), cr.Dense(5, 3, "softmax")], loss="cross_entropy", seed=2),
         np.array([0, 2, 1, 1, 0, 2])),
        (lambda: cr.Network([cr.Dense(3, 4, "xtanh"), cr.Dense(4, 2)], loss="half_sse", seed=3, l2=0.3), Y_REG),
        (lambda: cr.Network([cr.Dense(3, 4, "sigmoid"), cr.Dense(4, 1, "tanh")], loss="hinge", seed=4),
         2 * Y_CLASS - 1),
    ],
)
def test_passes_on_correct_gradients(make, y):
    report = cr.gradcheck(make(), X, y)
    assert report.passed, str(report)
    assert report.max_rel_error < 1e-6
    assert "passed" in str(report)


def test_float32_network_is_checked_in_float64():
    net = cr.Network([cr.Dense(3, 4, "tanh"), cr.Dense(4, 1, "sigmoid")], loss="bce", seed=1, dtype=np.float32)
    report = cr.gradcheck(net, X, Y_CLASS)
    assert report.passed and net.layers[0].W.dtype == np.float32


def test_parameters_are_restored_exactly():
    net = net_bce()
    before = [p.copy() for _, _, p, _, _ in net.parameters()]
    cr.gradcheck(net, X, Y_CLASS)
    for b, (_, _, p, _, _) in zip(before, net.parameters()):
        np.testing.assert_array_equal(b, p)


def test_wrong_activation_derivative_is_caught_in_its_layer():
    class WrongTanh(Tanh):
        def backward(self, grad_a, z, a, out=None, scratch=None):
            return np.multiply(grad_a, 1 - z * z, out=out)  # the bug: 1 − z² instead of 1 − a²

    net = net_bce()
    net.layers[0].activation = WrongTanh()
    report = cr.gradcheck(net, X, Y_CLASS)
    assert not report.passed
    assert {(c.layer, c.name) for c in report.failures} == {(1, "W"), (1, "b")}
    assert "W1 (layer 1, parameter W)" in str(report)
    assert "layer 1 fails" in report.diagnosis and "f′ of layer 1's activation (tanh)" in report.diagnosis
    assert "not by one constant factor" in report.diagnosis and "Likely" not in report.diagnosis


def test_missing_one_over_m_is_named(monkeypatch):
    net = net_bce()
    monkeypatch.setattr(type(net.loss), "fused_delta", lambda self, a, y, out=None: np.subtract(a, y, out=out))
    report = cr.gradcheck(net, X, Y_CLASS)
    assert not report.passed and len(report.failures) == 4
    assert all(c.factor == pytest.approx(6.0, rel=1e-6) for c in report.failures)
    assert report.diagnosis.startswith("every parameter of every layer fails")
    assert "the 1/m of the mean over the batch missing (m = 6)" in report.diagnosis


def test_sign_flip_is_named(monkeypatch):
    net = cr.Network([cr.Dense(3, 4, "tanh"), cr.Dense(4, 2)], loss="mse", seed=1)
    grad = type(net.loss).grad
    monkeypatch.setattr(type(net.loss), "grad", lambda self, a, y, out=None: np.negative(grad(self, a, y, out), out=out))
    report = cr.gradcheck(net, X, Y_REG)
    assert {c.label for c in report.failures} == {"W1", "b1", "W2", "b2"}
    assert all(c.factor == pytest.approx(-1.0) for c in report.failures)
    assert "every parameter of every layer" in report.diagnosis and "sign error" in report.diagnosis


def test_dropped_half_is_named(monkeypatch):
    net = cr.Network([cr.Dense(3, 2)], loss="half_sse", seed=1)
    monkeypatch.setattr(type(net.loss), "grad", lambda self, a, y, out=None: np.multiply(a - y, 2 / len(a), out=out))
    report = cr.gradcheck(net, X, Y_REG)
    assert all(c.factor == pytest.approx(2.0) for c in report.failures)
    assert "the ½ of ½Σ(ŷ − y)² dropped" in report.diagnosis


def test_bias_gradient_summed_over_the_wrong_axis(monkeypatch):
    net = net_bce()
    backward = cr.Dense.backward

    def buggy(self, delta, *args, **kwargs):
        out = backward(self, delta, *args, **kwargs)
        self.db = delta.sum(axis=1)  # the bug: a sum per sample instead of per neuron
        return out

    monkeypatch.setattr(cr.Dense, "backward", buggy)
    report = cr.gradcheck(net, X, Y_CLASS)
    assert {c.label for c in report.failures} == {"b1", "b2"}
    assert all("sum δ over the batch rows (axis 0)" in c.problem for c in report.failures)


def test_bias_gradient_wrong_axis_with_square_shapes(monkeypatch):
    """When batch size equals the layer width the shapes agree; the values still fail."""
    net = cr.Network([cr.Dense(3, 6, "tanh"), cr.Dense(6, 1, "sigmoid")], loss="bce", seed=1)
    backward = cr.Dense.backward

    def buggy(self, delta, *args, **kwargs):
        out = backward(self, delta, *args, **kwargs)
        if delta.shape[1] == 6:
            self.db = delta.sum(axis=1)
        return out

    monkeypatch.setattr(cr.Dense, "backward", buggy)
    report = cr.gradcheck(net, X, Y_CLASS)
    assert [c.label for c in report.failures] == ["b1"]


def test_relu_kinks_are_skipped_not_failed():
    net = cr.Network([cr.Dense(2, 3, "relu", init=np.array([[1.0, 0.5, -1.0], [0.0, 1.0, 1.0]])),
                      cr.Dense(3, 1)], loss="mse", seed=0)
    Xk = np.array([[0.0, 0.0], [1.0, -1.0], [2.0, 1.0]])  # sample 0 sits on every kink (z = 0)
    report = cr.gradcheck(net, Xk, np.array([1.0, 0.0, 2.0]))
    assert report.passed, str(report)
    assert sum(c.skipped for c in report.checks) > 0
    assert "skipped" in str(report)


def test_subset_of_entries_for_large_networks():
    net = cr.Network([cr.Dense(3, 40, "tanh"), cr.Dense(40, 1)], loss="mse", seed=0)
    report = cr.gradcheck(net, X, Y_REG[:, :1], max_entries=10)
    assert report.passed and report.checks[0].checked == 10


# ---- the diagnosis follows which parameters fail, and by what ------------------------------------
# Networks whose gradients are wrong on purpose, built from outside the library: an activation with
# a scaled derivative, a loss whose gradient is doubled, a layer whose bias or weight gradient is
# scaled. Each diagnosis must name the place the bug is in, and not a place it is not.

Y_ONE = RNG.normal(size=(6, 1))  # one output: no factor can be read as the 1/K of a mean over outputs


class UncheckedActivation(cr.Activation):
    """An activation whose first-use check of df is off, so that a wrong df reaches the backward pass."""

    def verify(self, points=None, rtol=1e-5, atol=1e-7):
        pass


def tanh_with_derivative_times(c):
    return UncheckedActivation(f"tanh, f′ ×{c:g}", np.tanh, lambda z: c * (1 - np.tanh(z) ** 2))


def net3(first="tanh", second="tanh", loss="mse", l2=0.0, n_out=1):
    return cr.Network([cr.Dense(3, 4, first), cr.Dense(4, 5, second), cr.Dense(5, n_out)], loss=loss, seed=1, l2=l2)


def scale_in_backward(monkeypatch, dW=1.0, db=1.0, layer=None):
    """Dense.backward, then dW and db scaled (in every layer, or in the one given)."""
    backward = cr.Dense.backward

    def scaled(self, delta, *args, **kwargs):
        out = backward(self, delta, *args, **kwargs)
        if layer is None or self is layer:
            self.dW, self.db = dW * self.dW, db * self.db
        return out

    monkeypatch.setattr(cr.Dense, "backward", scaled)


LOSS_LEVEL = ("every parameter of every layer", "Likely", "½", "1/m", "output delta")


def assert_names(report, failing, present, absent):
    assert {c.label for c in report.failures} == set(failing), str(report)
    for text in present:
        assert text in report.diagnosis, report.diagnosis
    for text in absent:
        assert text not in report.diagnosis, report.diagnosis
    assert str(report).count(report.diagnosis) == 1  # stated once, in the report as a whole


def test_doubled_derivative_in_layer_1_points_at_layer_1_not_at_the_loss():
    report = cr.gradcheck(net3(first=tanh_with_derivative_times(2)), X, Y_ONE)
    assert all(c.factor == pytest.approx(2.0) for c in report.failures)
    assert_names(report, {"W1", "b1"},
                 ["layer 1 fails", "layers 2–3 pass", "f′ of layer 1's activation (tanh, f′ ×2)",
                  "δ(1) = (δ(2) W(2)ᵀ) ⊙ f′(z(1))", "twice the true gradient"],
                 LOSS_LEVEL)


def test_doubled_derivative_in_layer_2_points_at_layer_2_and_the_recurrence():
    report = cr.gradcheck(net3(second=tanh_with_derivative_times(2)), X, Y_ONE)
    assert_names(report, {"W1", "b1", "W2", "b2"},
                 ["layers 1–2 fail", "layer 3 passes", "f′ of layer 2's activation", "δ(2) = (δ(3) W(3)ᵀ) ⊙ f′(z(2))",
                  "one factor in layers 1–2 fits one error there"],
                 LOSS_LEVEL + ("layer 1's activation",))


def test_factors_that_differ_per_layer_are_reported_without_a_cause():
    # f′ ×3 in layer 2 scales δ(2) by 3, f′ ×2 in layer 1 then scales δ(1) by 6
    report = cr.gradcheck(net3(tanh_with_derivative_times(2), tanh_with_derivative_times(3)), X, Y_ONE)
    assert [c.factor for c in report.failures] == pytest.approx([6.0, 6.0, 3.0, 3.0])
    assert_names(report, {"W1", "b1", "W2", "b2"},
                 ["factors that differ per parameter (W1 ×6, b1 ×6, W2 ×3, b2 ×3)", "more than one error"],
                 LOSS_LEVEL + ("all by the same factor",))


def test_a_loss_whose_gradient_is_doubled_scales_every_layer_and_is_named():
    class DoubledMSE(MSE):
        def grad(self, a, y, out=None):
            return np.multiply(super().grad(a, y, out), 2, out=out)

    report = cr.gradcheck(net3(loss=DoubledMSE()), X, Y_ONE)
    assert all(c.factor == pytest.approx(2.0) for c in report.failures)
    assert_names(report, {"W1", "b1", "W2", "b2", "W3", "b3"},
                 ["every parameter of every layer fails", "all by the same factor", "an extra factor 2",
                  "the output delta δ(L)"],
                 ("layer 1 fails", "layers 1–", "only the", "f′ of layer"))


def test_a_doubled_fused_delta_is_not_blamed_on_a_square_the_loss_does_not_have():
    class DoubledBCE(BCE):
        def fused_delta(self, a, y, out=None):
            return np.multiply(super().fused_delta(a, y, out), 2, out=out)

    net = cr.Network([cr.Dense(3, 4, "tanh"), cr.Dense(4, 1, "sigmoid")], loss=DoubledBCE(), seed=1)
    report = cr.gradcheck(net, X, Y_CLASS)
    assert_names(report, {"W1", "b1", "W2", "b2"},
                 ["every parameter of every layer fails", "an extra factor 2 in the loss's gradient or the output delta"],
                 ("½", "(ŷ − y)²", "layer 1 fails"))


@pytest.mark.parametrize("n_out", [1, 3])
def test_a_scaled_bias_gradient_points_at_the_bias_gradient(monkeypatch, n_out):
    """×3 with 3 outputs is not read as K = 3: the number of outputs enters only through the loss."""
    scale_in_backward(monkeypatch, db=3.0)
    report = cr.gradcheck(net3(n_out=n_out), X, RNG.normal(size=(6, n_out)))
    assert all(c.factor == pytest.approx(3.0) for c in report.failures)
    assert_names(report, {"b1", "b2", "b3"},
                 ["only the biases fail (b1, b2, b3)", "every weight passes", "∂L/∂b(l) = Σ_rows δ(l)"],
                 LOSS_LEVEL + ("activation", "layer 1 fails", "K"))


@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_a_scaled_weight_gradient_points_at_the_weight_gradient(monkeypatch, l2):
    scale_in_backward(monkeypatch, dW=2.0)
    report = cr.gradcheck(net3(l2=l2), X, Y_ONE)
    assert_names(report, {"W1", "W2", "W3"},
                 ["only the weights fail (W1, W2, W3)", "every bias passes", "∂L/∂W(l) = a(l−1)ᵀ δ(l)"]
                 + (["the L2 term"] if l2 else []),
                 LOSS_LEVEL + ("activation",) + (() if l2 else ("L2",)))


def test_one_layer_s_own_gradients_are_located(monkeypatch):
    net = net3()
    scale_in_backward(monkeypatch, dW=2.0, db=2.0, layer=net.layers[1])
    report = cr.gradcheck(net, X, Y_ONE)
    assert_names(report, {"W2", "b2"},
                 ["only layer 2 fails", "the layers below it pass", "layer 2's own gradients", "∂L/∂W(2) = a(1)ᵀ δ(2)"],
                 LOSS_LEVEL + ("activation",))


def test_failures_that_fit_no_single_place_say_so(monkeypatch):
    net = net3()
    scale_in_backward(monkeypatch, dW=2.0, layer=net.layers[1])
    scale_in_backward(monkeypatch, db=2.0, layer=net.layers[2])
    report = cr.gradcheck(net, X, Y_ONE)
    assert_names(report, {"W2", "b3"}, ["no single place in the backward pass explains it"],
                 LOSS_LEVEL + ("activation", "only the biases fail", "only the weights fail", "only layer", "layers 1–"))


def test_a_passing_check_has_no_diagnosis():
    report = cr.gradcheck(net3(), X, Y_ONE)
    assert report.passed and report.diagnosis is None and "diagnosis" not in str(report)


# ---- the relative error is reported only where it decides ---------------------------------------


@pytest.mark.parametrize("scale", [22.0, 25.0])
def test_gradients_inside_the_absolute_tolerance_show_no_relative_error(scale):
    """Saturated sigmoids: ∂L/∂W(1) is about σ′(±scale) ~ 1e-11, the central difference rounds to a
    value of that size or to 0; the relative error of two such numbers (up to 1.0) says nothing."""
    Xs = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]])
    net = cr.Network([cr.Dense(2, 2, "sigmoid", init=(scale * np.eye(2), np.zeros(2))), cr.Dense(2, 1, "sigmoid")],
                     loss="bce", seed=0)
    report = cr.gradcheck(net, Xs, np.array([1, 0, 1]))
    assert report.passed, str(report)
    first = report.checks[:2]
    assert all(0 < c.max_abs_error < 1e-10 for c in first)  # they were compared, by absolute error
    assert [(c.rel_checked, c.max_rel_error) for c in first] == [(0, 0.0), (0, 0.0)]
    assert report.max_rel_error < 2 * report.tol
    table = str(report)
    assert "—" in table and "the absolute tolerance decides" in table and "1.000e+00" not in table


def test_a_failing_parameter_with_small_gradients_still_shows_its_relative_error(monkeypatch):
    """Residuals of 1e-6: every gradient is below atol/tol, yet a doubled gradient fails and says by how much."""
    net = cr.Network([cr.Dense(3, 1)], loss="half_sse", seed=1)
    y = net.forward(X) + 1e-6 * RNG.normal(size=(6, 1))
    grad = type(net.loss).grad
    monkeypatch.setattr(type(net.loss), "grad", lambda self, a, y, out=None: np.multiply(grad(self, a, y, out), 2, out=out))
    report = cr.gradcheck(net, X, y)
    assert {c.label for c in report.failures} == {"W1", "b1"}
    assert all(c.rel_checked == c.checked and c.max_rel_error == pytest.approx(0.5, rel=1e-3) for c in report.failures)


# ---- how many entries: all of a small network, a sample of a large one ----------------------------


def test_the_default_checks_every_entry_of_a_small_network():
    report = cr.gradcheck(net_bce(), X, Y_CLASS)
    assert not report.sampled and report.per_parameter is None
    assert all(c.checked == c.size for c in report.checks) and "sampled" not in str(report)


def test_the_default_samples_a_network_of_a_million_parameters():
    net = cr.Network([cr.Dense(1000, 1000), cr.Dense(1000, 1)], loss="mse", seed=0)
    Xb, yb = RNG.normal(size=(4, 1000)), RNG.normal(size=4)
    report = cr.gradcheck(net, Xb, yb)
    sizes = [c.size for c in report.checks]
    checked = [c.checked + c.skipped for c in report.checks]
    assert sizes == [1_000_000, 1000, 1000, 1] and report.passed
    assert sum(checked) <= 2000 and checked[-1] == 1  # bounded; the one bias of the output in full
    assert all(n >= 10 for n in checked[:3]) and report.sampled
    assert f"sampled {sum(checked):,} of 1,002,001 entries" in str(report)


def test_a_sample_is_the_same_for_the_same_seed():
    net = cr.Network([cr.Dense(3, 40, "tanh"), cr.Dense(40, 1)], loss="mse", seed=0)
    runs = [cr.gradcheck(net, X, Y_ONE, max_entries=5, seed=s) for s in (7, 7, 8)]
    worst = [[c.worst_index for c in r.checks] for r in runs]
    assert worst[0] == worst[1] != worst[2]


@pytest.mark.parametrize(
    "option, value",
    [("eps", 0), ("eps", -1e-5), ("eps", float("nan")), ("eps", float("inf")), ("eps", "1e-5"), ("eps", None),
     ("eps", True), ("tol", 0.0), ("tol", np.float64("nan")), ("tol", "0.1"), ("tol", False),
     ("max_entries", 0), ("max_entries", -3), ("max_entries", 2.5), ("max_entries", "10"), ("max_entries", True),
     ("max_entries", np.float64(10.0)), ("seed", -1), ("seed", 2.5), ("seed", "0"), ("seed", True), ("seed", None)],
)
def test_bad_options_are_refused_by_name(option, value):
    with pytest.raises(ValueError, match=f"gradcheck {option} must be"):
        cr.gradcheck(net_bce(), X, Y_CLASS, **{option: value})


def test_numpy_scalars_are_accepted_as_options():
    report = cr.gradcheck(net_bce(), X, Y_CLASS, eps=np.float32(1e-5), tol=np.float64(1e-5),
                          max_entries=np.int64(3), seed=np.int32(4))
    assert report.passed and report.per_parameter == 3 and report.checks[0].checked == 3
