"""Activation functions a = f(z) and their derivatives f′, one registry of names.

An activation turns the upstream gradient ∂L/∂a into the layer's delta

    δ = ∂L/∂z = ∂L/∂a ⊙ f′(z)

using what the forward pass cached (z, or a when that is cheaper: σ′ = a(1 − a),
tanh′ = 1 − a²). Softmax couples its outputs, so its backward is the
Jacobian-vector product δ = a ⊙ (g − Σ_k g_k a_k) instead of an elementwise f′.
"""

import numpy as np

__all__ = ["Activation", "ACTIVATIONS", "get_activation", "leaky_relu"]


class Activation:
    """A named activation f with its derivative.

    ``Activation(name, f, df)`` defines your own: ``f(z)`` and ``df(z)`` take and
    return arrays of the same shape. A user-defined ``df`` is checked against central
    finite differences of ``f`` the first time the activation is used; a wrong one
    raises ``ValueError`` naming the activation and a point where they disagree.
    """

    # Points where f is not differentiable (the finite-difference gradient check
    # skips perturbations that cross one of them).
    kinks = ()
    # Built-in activations can be saved by name; user-defined ones need their
    # definition passed to ``chainrule.load``.
    builtin = False

    def __init__(self, name, f, df):
        if not isinstance(name, str) or not name:
            raise ValueError("Activation name must be a non-empty string, e.g. Activation('xtanh', f, df)")
        if not callable(f) or not callable(df):
            raise ValueError(f"Activation {name!r}: f and df must be callables taking and returning arrays")
        self.name = name
        self._f = f
        self._df = df
        self._verified = False

    def __repr__(self):
        return f"Activation({self.name!r})"

    def config(self):
        """What ``save`` writes to rebuild this activation (a user-defined one is marked custom)."""
        return {"name": self.name} if self.builtin else {"name": self.name, "custom": True}

    def forward(self, z):
        """a = f(z)."""
        if not self._verified:
            self.verify()
        return self._f(z)

    def backward(self, grad_a, z, a):
        """δ = ∂L/∂a ⊙ f′(z)."""
        return grad_a * self._df(z)

    def verify(self, points=None, rtol=1e-5, atol=1e-7):
        """Check df against central differences of f at a few points; raise if they disagree."""
        z = np.array([-2.7, -1.3, -0.45, 0.35, 1.1, 2.3] if points is None else points, dtype=np.float64)
        h = 1e-6
        numeric = (np.asarray(self._f(z + h), np.float64) - np.asarray(self._f(z - h), np.float64)) / (2 * h)
        analytic = np.asarray(self._df(z), np.float64)
        if analytic.shape != z.shape:
            raise ValueError(
                f"Activation {self.name!r}: df returned shape {analytic.shape} for input shape {z.shape}; "
                "df must be elementwise, returning f′(z) with the shape of z"
            )
        bad = ~np.isclose(analytic, numeric, rtol=rtol, atol=atol)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"Activation {self.name!r}: its derivative df disagrees with finite differences of f "
                f"at z = {z[i]:g}: df(z) = {analytic[i]:.8g}, but (f(z+h) − f(z−h))/2h = {numeric[i]:.8g}. "
                "Fix df so that it returns f′(z)."
            )
        self._verified = True


class _Builtin(Activation):
    """A built-in activation: f and f′ written below, checked by the test suite."""

    builtin = True

    def __init__(self, name, f, df_za, kinks=()):
        super().__init__(name, f, lambda z: df_za(z, f(z)))
        self._df_za = df_za
        self.kinks = kinks
        self._verified = True

    def forward(self, z):
        return self._f(z)

    def backward(self, grad_a, z, a):
        """δ = ∂L/∂a ⊙ f′(z), with f′ written in terms of z and the cached a."""
        return grad_a * self._df_za(z, a)


def _sigmoid(z):
    """σ(z) = 1/(1 + e^−z), written as e^z/(1 + e^z) for z < 0 so e^−z never overflows."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def _softmax(z):
    """softmax(z)_k = e^(z_k − max z) / Σ_j e^(z_j − max z), row by row."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class _Softmax(_Builtin):
    def __init__(self):
        super().__init__("softmax", _softmax, None)

    def backward(self, grad_a, z, a):
        """δ_k = a_k (g_k − Σ_j g_j a_j): the softmax Jacobian times g = ∂L/∂a, per row."""
        return a * (grad_a - (grad_a * a).sum(axis=1, keepdims=True))


def leaky_relu(slope=0.01):
    """LeakyReLU: f(z) = z for z > 0, slope·z otherwise (PyTorch's default slope 0.01)."""
    slope = float(slope)
    if not 0 <= slope < 1:
        raise ValueError(f"leaky_relu slope must be in [0, 1), got {slope}")
    act = _Builtin(
        "leaky_relu",
        lambda z: np.where(z > 0, z, slope * z),
        lambda z, a: np.where(z > 0, 1.0, slope).astype(z.dtype, copy=False),
        kinks=(0.0,),
    )
    act.slope = slope
    act.config = lambda: {"name": "leaky_relu", "slope": slope}
    return act


def _one(z, a):
    return np.ones_like(z)


ACTIVATIONS = {
    # σ′(z) = σ(z)(1 − σ(z)) = a(1 − a)
    "sigmoid": lambda: _Builtin("sigmoid", _sigmoid, lambda z, a: a * (1 - a)),
    # tanh′(z) = 1 − tanh²(z) = 1 − a²
    "tanh": lambda: _Builtin("tanh", np.tanh, lambda z, a: 1 - a * a),
    # relu′(z) = 1 for z > 0, else 0
    "relu": lambda: _Builtin("relu", lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype), (0.0,)),
    "leaky_relu": leaky_relu,
    "linear": lambda: _Builtin("linear", lambda z: z, _one),
    "softmax": _Softmax,
    # (z tanh z)′ = tanh z + z (1 − tanh² z)
    "xtanh": lambda: _Builtin(
        "xtanh", lambda z: z * np.tanh(z), lambda z, a: np.tanh(z) + z * (1 - np.tanh(z) ** 2)
    ),
}


def get_activation(spec, **params):
    """An activation from a registered name (a new instance) or an ``Activation`` (returned as is)."""
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str) and spec in ACTIVATIONS:
        try:
            return ACTIVATIONS[spec](**params)
        except TypeError:
            raise ValueError(f"activation {spec!r} takes no parameters {sorted(params)}") from None
    raise ValueError(
        f"unknown activation {spec!r}; use one of {', '.join(ACTIVATIONS)} or chainrule.Activation(name, f, df)"
    )
