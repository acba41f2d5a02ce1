"""Activations: values and derivatives against formulas written here, stability, user-defined ones."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.activations import ACTIVATIONS, get_activation

Z = np.array([[-3.0, -0.5, 0.25, 2.0], [1.5, -1.25, 0.75, -2.5]])

# f and f′ written out independently of the library
REFERENCE = {
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (np.tanh, lambda z: 1 / np.cosh(z) ** 2),
    "relu": (lambda z: np.where(z > 0, z, 0.0), lambda z: np.where(z > 0, 1.0, 0.0)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "linear": (lambda z: z, lambda z: np.ones_like(z)),
    "xtanh": (lambda z: z * np.tanh(z), lambda z: np.tanh(z) + z / np.cosh(z) ** 2),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_elementwise_value_and_derivative(name):
    f, df = REFERENCE[name]
    act = get_activation(name)
    a = act.forward(Z)
    np.testing.assert_allclose(a, f(Z), rtol=1e-14, atol=1e-15)
    g = np.arange(1.0, 9.0).reshape(Z.shape)
    np.testing.assert_allclose(act.backward(g, Z, a), g * df(Z), rtol=1e-13, atol=1e-15)


def test_softmax_value_and_jacobian_vector_product():
    act = get_activation("softmax")
    a = act.forward(Z)
    e = np.exp(Z)
    p = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(a, p, rtol=1e-14)
    g = np.array([[0.3, -1.0, 2.0, 0.5], [1.0, 0.0, -0.5, 0.25]])
    for n in range(2):
        J = np.diag(p[n]) - np.outer(p[n], p[n])  # ∂softmax_k/∂z_j
        np.testing.assert_allclose(act.backward(g, Z, a)[n], J.T @ g[n], rtol=1e-13, atol=1e-16)


def test_every_registered_name_is_covered():
    assert set(ACTIVATIONS) == set(REFERENCE) | {"softmax"}


def test_leaky_relu_slope_parameter():
    act = cr.leaky_relu(0.2)
    np.testing.assert_allclose(act.forward(np.array([-2.0, 3.0])), [-0.4, 3.0])
    np.testing.assert_allclose(act.backward(np.ones(2), np.array([-2.0, 3.0]), None), [0.2, 1.0])
    with pytest.raises(ValueError, match="slope"):
        cr.leaky_relu(-1)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softmax", "xtanh"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_no_overflow_at_extreme_inputs(name, dtype):
    z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype)
    act = get_activation(name)
    a = act.forward(z)  # RuntimeWarnings are errors in this suite
    assert a.dtype == dtype and np.isfinite(a).all()
    d = act.backward(np.ones_like(z), z, a)
    assert np.isfinite(d).all()
    if name == "sigmoid":
        assert a[0, 0] == 0.0 and a[0, -1] == 1.0


def _exact_sigmoid(z):
    """σ(z) = 1/(1 + e^−z) in 60-digit decimal arithmetic, rounded once to float."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        return [float(1 / (1 + (-Decimal(float(v))).exp())) for v in z.ravel()]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_both_sigmoid_forms_against_the_exact_value(dtype):
    """Against σ in 60-digit arithmetic: the form with a scratch buffer (no log σ asked, ≥ 128
    entries) within 2 ulps; the log form, exp(log σ), within (1 + |z|) ulps, since e^x turns the
    rounding of x = log σ(z) ≈ z into a relative error of |z| times it; 0 and 1 where σ rounds to
    them, and results below the normal range within one of the smallest subnormals."""
    info = np.finfo(dtype)
    edge = float(np.log(info.max))  # e^−z overflows beyond it: the range both forms must get right
    z = np.concatenate([np.linspace(-1.05 * edge - 40, 1.05 * edge, 2000), [-0.0, 0.0, 1e-30, -1e-30, 36.0, 37.0]])
    z = np.sort(z).astype(dtype).reshape(-1, 2)
    exact = np.array(_exact_sigmoid(z), dtype=np.float64).reshape(z.shape)
    scratch = np.full_like(z, np.nan)
    fast = get_activation("sigmoid").forward(z, out=np.empty_like(z), scratch=scratch)
    assert not np.isnan(scratch).any()  # the exp form ran: it left 1 + e^−|z| there
    logged = get_activation("sigmoid").forward(z, out=np.empty_like(z), log_out=np.empty_like(z))
    normal = exact >= info.tiny
    for a, ulps in ((fast, 2.0), (logged, 1 + np.abs(z[normal]))):
        assert a.dtype == dtype
        error = np.abs(a.astype(np.float64) - exact)
        assert (error[normal] <= ulps * float(info.eps) * exact[normal]).all()
        assert (error[~normal] <= float(info.smallest_subnormal)).all()
    assert fast[0, 0] == 0.0 and fast[-1, -1] == 1.0


def test_user_activation_is_verified_on_first_use():
    good = cr.Activation("xtanh2", lambda z: z * np.tanh(z), lambda z: np.tanh(z) + z * (1 - np.tanh(z) ** 2))
    np.testing.assert_allclose(good.forward(Z), Z * np.tanh(Z))
    wrong = cr.Activation("cube", lambda z: z**3, lambda z: 2 * z**2)
    with pytest.raises(ValueError, match=r"'cube'.*z = -2.7"):
        wrong.forward(Z)


def test_user_activation_in_a_network_is_checked():
    wrong = cr.Activation("bad_tanh", np.tanh, lambda z: 1 - z**2)
    net = cr.Network([cr.Dense(2, 3, wrong), cr.Dense(3, 1)], seed=0)
    with pytest.raises(ValueError, match="bad_tanh"):
        net.forward(np.ones((2, 2)))


def test_bad_activation_specs():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        get_activation("swish")
    with pytest.raises(ValueError, match="non-empty string"):
        cr.Activation("", np.tanh, np.tanh)
    with pytest.raises(ValueError, match="shape"):
        cr.Activation("scalar", np.tanh, lambda z: 1.0).forward(Z)
