"""Activation functions a = f(z) and their derivatives f′, one registry of names.

An activation turns the upstream gradient ∂L/∂a into the layer's delta

    δ = ∂L/∂z = ∂L/∂a ⊙ f′(z)

using what the forward pass cached (z, or a when that is cheaper: σ′ = a(1 − a),
tanh′ = 1 − a²). Softmax couples its outputs, so its backward is the
Jacobian-vector product δ = a ⊙ (g − Σ_k g_k a_k) instead of an elementwise f′.
"""

import numpy as np

from ._constants import CONST, ONES

__all__ = ["Activation", "ACTIVATIONS", "get_activation", "leaky_relu"]


class Activation:
    """A named activation f with its derivative.

    ``Activation(name, f, df)`` defines your own: ``f(z)`` and ``df(z)`` take and
    return arrays of the same shape. A user-defined ``df`` is checked against central
    finite differences of ``f`` the first time the activation is used; a wrong one
    raises ``ValueError`` naming the activation and a point where they disagree.

    ``forward`` and ``backward`` take an optional ``out`` array (and ``backward`` a
    ``scratch`` array of the same shape) so that training reuses buffers instead of
    allocating; ``out`` may be ``grad_a`` itself. An activation with ``has_log`` (sigmoid,
    softmax) can also leave log f(z) in ``forward``'s ``log_out`` buffer, from the logits: its
    fused loss reads it there, with no second exp and no log of an a that underflowed to 0.
    """

    # Points where f is not differentiable (the finite-difference gradient check
    # skips perturbations that cross one of them).
    kinks = ()
    # Built-in activations can be saved by name; user-defined ones need their
    # definition passed to ``chainrule.load``.
    builtin = False
    # forward(z, out, log_out) also writes log f(z) into log_out
    has_log = False

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

    def forward(self, z, out=None):
        """a = f(z)."""
        if not self._verified:
            self.verify()
        return _into(out, self._f(z))

    def backward(self, grad_a, z, a, out=None, scratch=None):
        """δ = ∂L/∂a ⊙ f′(z)."""
        return np.multiply(grad_a, self._df(z), out=out)

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


def _into(out, value):
    """value, written into out when a buffer is given."""
    if out is None:
        return value
    out[...] = value
    return out


class _Builtin(Activation):
    """A built-in activation: f and f′ written below with in-place NumPy, checked by the test suite."""

    builtin = True

    def __init__(self):
        super().__init__(self.name, self.forward, lambda z: self.backward(np.ones_like(z), z, self.forward(z)))
        self._verified = True

    def forward(self, z, out=None):
        raise NotImplementedError

    def backward(self, grad_a, z, a, out=None, scratch=None):
        raise NotImplementedError


class Sigmoid(_Builtin):
    name = "sigmoid"
    has_log = True

    def forward(self, z, out=None, log_out=None):
        """σ(z) = 1/(1 + e^−z), computed as exp(log σ(z)) with log σ(z) = −log(1 + e^−z), so that
        e^−z never overflows; log σ(z) is left in ``log_out`` when it is given."""
        log_a = np.negative(z, out=out if log_out is None else log_out)
        np.logaddexp(CONST[0, z.dtype], log_a, out=log_a)
        np.negative(log_a, out=log_a)
        return np.exp(log_a, out=log_a if log_out is None else out)

    def backward(self, grad_a, z, a, out=None, scratch=None):
        """δ = ∂L/∂a ⊙ σ′(z), σ′(z) = a(1 − a)."""
        d = np.subtract(CONST[1, a.dtype], a, out=scratch)
        d *= a
        return np.multiply(grad_a, d, out=out)


class Tanh(_Builtin):
    name = "tanh"

    def forward(self, z, out=None):
        """a = tanh z."""
        return np.tanh(z, out=out)

    def backward(self, grad_a, z, a, out=None, scratch=None):
        """δ = ∂L/∂a ⊙ (1 − a²)."""
        d = np.multiply(a, a, out=scratch)
        np.subtract(CONST[1, a.dtype], d, out=d)
        return np.multiply(grad_a, d, out=out)


class ReLU(_Builtin):
    name = "relu"
    kinks = (0.0,)

    def forward(self, z, out=None):
        """a = max(z, 0)."""
        return np.maximum(z, CONST[0, z.dtype], out=out)

    def backward(self, grad_a, z, a, out=None, scratch=None):
        """δ = ∂L/∂a ⊙ [z > 0]."""
        d = np.greater(z, CONST[0, z.dtype], out=scratch) if scratch is not None else (z > 0)
        return np.multiply(grad_a, d, out=out)


class LeakyReLU(_Builtin):
    name = "leaky_relu"
    kinks = (0.0,)

    def __init__(self, slope=0.01):
        slope = float(slope)
        if not 0 <= slope < 1:
            raise ValueError(f"leaky_relu slope must be in [0, 1), got {slope}")
        self.slope = slope
        super().__init__()

    def config(self):
        return {"name": self.name, "slope": self.slope}

    def forward(self, z, out=None):
        """a = z for z > 0, slope·z otherwise."""
        out = np.multiply(z, self.slope, out=out)
        return np.maximum(z, out, out=out)

    def backward(self, grad_a, z, a, out=None, scratch=None):
        """δ = ∂L/∂a ⊙ f′(z), f′ = 1 for z > 0, slope otherwise: slope + (1 − slope)[z > 0]."""
        d = np.greater(z, 0, out=scratch) if scratch is not None else (z > 0).astype(z.dtype)
        d *= 1 - self.slope
        d += self.slope
        return np.multiply(grad_a, d, out=out)


class Linear(_Builtin):
    name = "linear"

    def forward(self, z, out=None):
        """a = z (the layer keeps a as z itself, no copy)."""
        return z

    def backward(self, grad_a, z, a, out=None, scratch=None):
        """δ = ∂L/∂a."""
        return grad_a if out is None or out is grad_a else _into(out, grad_a)


class Softmax(_Builtin):
    name = "softmax"
    has_log = True

    def forward(self, z, out=None, log_out=None):
        """softmax(z)_k = e^(s_k) / Σ_j e^(s_j) with s = z − max z, row by row; when ``log_out`` is
        given, also log softmax(z) = s − log Σ_j e^(s_j) into it."""
        # the row max as z at the row's argmax, and Σ_j as a product with a ones vector: on a
        # batch's few columns these take half the time of max(axis=1) and sum(axis=1)
        z_max = z[np.arange(len(z)), z.argmax(axis=1)]
        s = np.subtract(z, z_max[:, None], out=out if log_out is None else log_out)
        out = np.exp(s, out=s if log_out is None else out)
        total = np.dot(out, ONES[z.shape[1], z.dtype])  # Σ_j e^(s_j) ≥ 1: e^0 is one of its terms
        out /= total[:, None]
        if log_out is not None:
            log_out -= np.log(total)[:, None]
        return out

    def backward(self, grad_a, z, a, out=None, scratch=None):
        """δ_k = a_k (g_k − Σ_j g_j a_j): the softmax Jacobian times g = ∂L/∂a, per row."""
        ga = np.multiply(grad_a, a, out=scratch)
        out = np.subtract(grad_a, ga.sum(axis=1, keepdims=True), out=out)
        out *= a
        return out


class XTanh(_Builtin):
    name = "xtanh"

    def forward(self, z, out=None):
        """a = z tanh z."""
        out = np.tanh(z, out=out)
        out *= z
        return out

    def backward(self, grad_a, z, a, out=None, scratch=None):
        """δ = ∂L/∂a ⊙ (tanh z + z (1 − tanh² z))."""
        t = np.tanh(z, out=scratch)
        d = z * (1 - t * t)
        d += t
        return np.multiply(grad_a, d, out=out)


def leaky_relu(slope=0.01):
    """LeakyReLU: f(z) = z for z > 0, slope·z otherwise (PyTorch's default slope 0.01)."""
    return LeakyReLU(slope)


ACTIVATIONS = {cls.name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Linear, Softmax, XTanh)}


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
