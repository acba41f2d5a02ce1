"""gradcheck: passes on the engine, and catches the bugs learners plant — each named by layer,
parameter and, where the error is a constant factor, the factor and its usual cause."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.activations import Tanh

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


def test_missing_one_over_m_is_named(monkeypatch):
    net = net_bce()
    monkeypatch.setattr(type(net.loss), "fused_delta", lambda self, a, y, out=None: np.subtract(a, y, out=out))
    report = cr.gradcheck(net, X, Y_CLASS)
    assert not report.passed and len(report.failures) == 4
    for c in report.failures:
        assert c.factor == pytest.approx(6.0, rel=1e-6)
        assert "1/m of the mean over the batch is missing" in c.problem


def test_sign_flip_is_named(monkeypatch):
    net = cr.Network([cr.Dense(3, 4, "tanh"), cr.Dense(4, 2)], loss="mse", seed=1)
    grad = type(net.loss).grad
    monkeypatch.setattr(type(net.loss), "grad", lambda self, a, y, out=None: np.negative(grad(self, a, y, out), out=out))
    report = cr.gradcheck(net, X, Y_REG)
    assert {c.label for c in report.failures} == {"W1", "b1", "W2", "b2"}
    assert all(c.factor == pytest.approx(-1.0) and "sign error" in c.problem for c in report.failures)


def test_dropped_half_is_named(monkeypatch):
    net = cr.Network([cr.Dense(3, 2)], loss="half_sse", seed=1)
    monkeypatch.setattr(type(net.loss), "grad", lambda self, a, y, out=None: np.multiply(a - y, 2 / len(a), out=out))
    report = cr.gradcheck(net, X, Y_REG)
    assert all(c.factor == pytest.approx(2.0) and "½" in c.problem for c in report.failures)


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
