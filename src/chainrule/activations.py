"""Activation functions a = f(z) and their derivatives f′: one class per activation, one registry.

An activation turns the upstream gradient ∂L/∂a into the layer's delta

    δ = ∂L/∂z = ∂L/∂a ⊙ f′(z)

using what the forward pass left (z, or a when that is cheaper: σ′ = a(1 − a), tanh′ = 1 − a²).
Softmax couples its outputs, so its backward pass is the Jacobian-vector product
δ = a ⊙ (g − Σ_k g_k a_k) instead of an elementwise f′.

Everything the library knows about one activation lives on its class: f and f′, its output
range, the initializer that suits it, when it saturates, whether its units can die, how the
trace writes it. Adding an activation is one class and one ``register`` line.
"""

import math

import numpy as np

from ._constants import CONST, ONES
from .registry import registrar
from .validation import number

__all__ = ["Activation", "ACTIVATIONS", "get_activation", "leaky_relu", "register"]


ACTIVATIONS = {}


class Activation:
    """An activation f with its derivative f′.

    Define your own in one of two ways:

    - ``Activation(name, f, df)``: ``f(z)`` and ``df(z)`` take and return arrays of z's shape;
    - a subclass with a class attribute ``name`` and methods ``f(self, z)`` and ``df(self, z)``
      (and any of the attributes below), registered with ``chainrule.activations.register`` so
      that the CLI, trace specs and saved models know it by name.

    A derivative that is not the library's own is checked against central differences of f the
    first time the activation is used; a wrong one raises ``ValueError`` naming the activation
    and a point where they disagree.

    ``forward(z, out)`` and ``backward(grad_a, z, a, out, scratch)`` are what the engine calls:
    they write into the buffers given (``out`` may be ``grad_a`` itself), so that training does
    not allocate. The built-in activations implement them in place; the defaults here call ``f``
    and ``df``. An activation with ``has_log`` takes ``forward(z, out, log_out)``, one with
    ``uses_scratch`` also ``scratch``.
    """

    name = None
    # The range of a = f(z): what targets a regression output can reach, what a loss may assume.
    output_range = (-math.inf, math.inf)
    # The initializer that keeps the variance of z and δ from layer to layer (He for ReLU-like f).
    init = "glorot_uniform"
    # Points where f is not differentiable: gradcheck skips perturbations that cross one.
    kinks = ()
    # f′(z) is 0 wherever z ≤ 0, so a unit that is never active never learns again (ReLU).
    can_die = False
    # Whether f′ = df(z) holds elementwise (softmax's Jacobian couples a layer's outputs).
    elementwise = True
    # forward(z, out, log_out) also writes log f(z) into log_out, from the logits (sigmoid, softmax).
    has_log = False
    # forward(z, out, …, scratch) may use scratch, a buffer like z (neither z nor out), to compute f(z).
    uses_scratch = False
    # f′ tends to 0 on both sides, where ``saturated(a)`` says it is a few % of its peak (σ 4%, tanh 2%).
    saturates = False
    # The bound on f′ that makes deep stacks of it lose their gradient, when there is one.
    derivative_bound = None
    # How the trace writes f and f′: templates in {z} and {a} (``derivative_formula`` None when f′ = 1);
    # ``definition`` one sentence, ``slope_note`` what f′ does to the error passing back. An activation
    # that does not say gets them from its name: "name(z)", "name′(z)".
    formula = derivative_formula = definition = slope_note = None
    # The library's own derivatives are tested; a user's df is checked on first use.
    trusted = False

    def __init__(self, name=None, f=None, df=None, output_range=None):
        if name is not None or type(self) is Activation:
            if not isinstance(name, str) or not name:
                raise ValueError("Activation name must be a non-empty string, e.g. Activation('xtanh', f, df)")
            self.name = name
        if type(self) is Activation or f is not None or df is not None:
            if not callable(f) or not callable(df):
                raise ValueError(f"Activation {self.name!r}: f and df must be callables taking and returning arrays")
            self.f, self.df = f, df  # instance attributes: they stand in for the methods below
        if output_range is not None:
            low, high = (float(v) for v in output_range)
            if not low < high:
                raise ValueError(f"Activation {self.name!r}: output_range must be (low, high) with low < high")
            self.output_range = (low, high)
        self.verified = self.trusted

    def __repr__(self):
        return f"Activation({self.name!r})"

    def trace_forms(self):
        """(f, f′, definition, slope note) as the trace writes them, with defaults from the name."""
        said = self.formula is not None  # an activation that writes f writes f′ too (None: f′ = 1)
        return (self.formula if said else f"{self.name}({{z}})",
                self.derivative_formula if said else f"{self.name}′({{z}})",
                self.definition or f"{self.name}(z) and its derivative {self.name}′(z) as the activation defines them",
                self.slope_note or f"for {self.name}, f′(z) is what the activation's derivative gives at z")

    def f(self, z):
        """a = f(z), a new array."""
        raise NotImplementedError(f"activation {self.name!r} defines no f(z)")

    def df(self, z):
        """f′(z), a new array."""
        raise NotImplementedError(f"activation {self.name!r} defines no df(z)")

    @property
    def registered(self):
        """True when ``ACTIVATIONS`` maps this activation's name to its class: it is saved by name."""
        return ACTIVATIONS.get(self.name) is type(self)

    def config(self):
        """What ``save`` writes to rebuild this activation (one that is not registered is marked custom)."""
        return {"name": self.name} if self.registered else {"name": self.name, "custom": True}

    def forward(self, z, out=None):
        """a = f(z)."""
        if not self.verified:
            self.verify()
        return _into(out, self.f(z))

    def backward(self, grad_a, z, a, out=None, scratch=None):
        """δ = ∂L/∂a ⊙ f′(z)."""
        return np.multiply(grad_a, self.df(z), out=out)

    def saturated(self, a):
        """Where f′ is a few % of its peak or less, as a boolean array (for activations that ``saturates``)."""
        raise NotImplementedError(f"activation {self.name!r} does not saturate")

    def verify(self, points=None, rtol=1e-5, atol=1e-7):
        """Check df against central differences of f at a few points; raise if they disagree."""
        z = np.array([-2.7, -1.3, -0.45, 0.35, 1.1, 2.3] if points is None else points, dtype=np.float64)
        h = 1e-6
        numeric = (np.asarray(self.f(z + h), np.float64) - np.asarray(self.f(z - h), np.float64)) / (2 * h)
        analytic = np.asarray(self.df(z), np.float64)
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
        self.verified = True


register = registrar(ACTIVATIONS, Activation)


def _into(out, value):
    """value, written into out when a buffer is given."""
    if out is None:
        return value
    out[...] = value
    return out


class _Builtin(Activation):
    """A built-in activation: forward and backward written below with in-place NumPy (the test suite
    checks them against formulas of its own); f and df are those, on new arrays."""

    trusted = True

    def f(self, z):
        return self.forward(np.asarray(z))

    def df(self, z):
        z = np.asarray(z)
        return self.backward(np.ones_like(z), z, self.forward(z))


@register
class Sigmoid(_Builtin):
    name = "sigmoid"
    output_range = (0.0, 1.0)
    has_log = True
    uses_scratch = True
    saturates = True
    derivative_bound = "σ′ ≤ ¼"
    formula, derivative_formula = "σ({z})", "{a}·(1 − {a})"
    definition = "σ(z) = 1/(1 + exp(−z)), σ′(z) = a·(1 − a)"
    slope_note = "for the sigmoid, f′ = a·(1 − a) is at most 0.25 (at a = 0.5) and close to 0 when a is close to 0 or 1"

    def forward(self, z, out=None, log_out=None, scratch=None):
        """σ(z) = 1/(1 + e^−z) in one of two forms, neither of which lets e^−z overflow.

        When ``log_out`` is given (a fused loss reads log σ), or on a few entries: exp(log σ(z)) with
        log σ(z) = −log(1 + e^−z), left in ``log_out``; within (1 + |z|) ulps, since e^x turns the
        rounding of x ≈ z into a relative error |z| times as large. Otherwise, given a ``scratch``
        buffer (neither z nor out): max(e, sign z)/(1 + e) with e = e^−|z|, that is e/(1 + e) for
        z < 0 and 1/(1 + e) for z ≥ 0; within 2 ulps, and one exponential where the other form takes
        an exponential and a logarithm, for three more calls of a cheap operation (the better trade
        from 128 entries).
        The stacked engine passes a scratch buffer (its sigmoid layers without log σ take the second
        form from 128 entries of the stack); a single network's layers (``Layer.activate``) pass
        none and keep the first, the one its recorded runs and experiments were computed with
        (chaotic runs among them move with the last bit of any activation)."""
        if log_out is None and scratch is not None and z.size >= 128:
            e = np.abs(z, out=scratch)
            np.negative(e, out=e)
            np.exp(e, out=e)
            num = np.maximum(e, np.sign(z, out=out), out=out)
            e += CONST[1, z.dtype]
            return np.divide(num, e, out=num)
        log_a = np.negative(z, out=out if log_out is None else log_out)
        np.logaddexp(CONST[0, z.dtype], log_a, out=log_a)
        np.negative(log_a, out=log_a)
        return np.exp(log_a, out=log_a if log_out is None else out)

    def backward(self, grad_a, z, a, out=None, scratch=None):
        """δ = ∂L/∂a ⊙ σ′(z), σ′(z) = a(1 − a)."""
        d = np.subtract(CONST[1, a.dtype], a, out=scratch)
        d *= a
        return np.multiply(grad_a, d, out=out)

    def saturated(self, a):
        """σ′ = a(1 − a) < 0.0099 (4% of its peak ¼) ⇔ |a − ½| > 0.49."""
        return np.abs(a - 0.5) > 0.49


@register
class Tanh(_Builtin):
    name = "tanh"
    output_range = (-1.0, 1.0)
    saturates = True
    formula, derivative_formula = "tanh({z})", "(1 − {a}²)"
    definition = "tanh′(z) = 1 − a²"
    slope_note = "for tanh, f′ = 1 − a² is at most 1 (at a = 0) and close to 0 when a is close to ±1"

    def forward(self, z, out=None):
        """a = tanh z."""
        return np.tanh(z, out=out)

    def backward(self, grad_a, z, a, out=None, scratch=None):
        """δ = ∂L/∂a ⊙ (1 − a²)."""
        d = np.multiply(a, a, out=scratch)
        np.subtract(CONST[1, a.dtype], d, out=d)
        return np.multiply(grad_a, d, out=out)

    def saturated(self, a):
        """tanh′ = 1 − a² < 0.0199 (about 2% of its peak 1) ⇔ |a| > 0.99."""
        return np.abs(a) > 0.99


@register
class ReLU(_Builtin):
    name = "relu"
    output_range = (0.0, math.inf)
    init = "he_normal"
    kinks = (0.0,)
    can_die = True
    formula, derivative_formula = "max(0, {z})", "[{z} > 0]"
    definition = "relu(z) = max(0, z), relu′(z) = [z > 0] (1 if z > 0, else 0)"
    slope_note = "for relu, f′ is 1 where z > 0 and 0 elsewhere: a neuron with z < 0 passes nothing back"

    def forward(self, z, out=None):
        """a = max(z, 0)."""
        return np.maximum(z, CONST[0, z.dtype], out=out)

    def backward(self, grad_a, z, a, out=None, scratch=None):
        """δ = ∂L/∂a ⊙ [z > 0]."""
        d = np.greater(z, CONST[0, z.dtype], out=scratch) if scratch is not None else (z > 0)
        return np.multiply(grad_a, d, out=out)


@register
class LeakyReLU(_Builtin):
    name = "leaky_relu"
    init = "he_normal"
    kinks = (0.0,)

    def __init__(self, slope=0.01):
        self.slope = slope = number("leaky_relu slope", slope, low=0, high=1, high_open=True)
        super().__init__()
        s, rest = f"{slope:g}", f"{1 - slope:g}"
        self.formula, self.derivative_formula = f"max({{z}}, {s}·{{z}})", f"({s} + {rest}·[{{z}} > 0])"
        self.definition = f"leaky_relu(z) = max(z, {s}·z), leaky_relu′(z) = 1 if z > 0, else {s}"
        self.slope_note = f"for leaky_relu, f′ is 1 where z > 0 and {s} elsewhere"

    def config(self):
        return {**super().config(), "slope": self.slope}

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


@register
class Linear(_Builtin):
    name = "linear"
    formula = "{z}"
    definition = "linear: a = z, f′ = 1"
    slope_note = "for a linear neuron f′ = 1: the error passes unchanged"

    def forward(self, z, out=None):
        """a = z (the layer keeps a as z itself, no copy)."""
        return z

    def backward(self, grad_a, z, a, out=None, scratch=None):
        """δ = ∂L/∂a."""
        return grad_a if out is None or out is grad_a else _into(out, grad_a)


@register
class Softmax(_Builtin):
    name = "softmax"
    output_range = (0.0, 1.0)
    elementwise = False
    has_log = True
    definition = ("softmax(z)[k] = exp(z[k])/Σⱼ exp(z[j]); it couples its outputs, "
                  "delta[l][k] = a[l][k]·(grad_a[l][k] − Σₘ grad_a[l][m]·a[l][m])")
    slope_note = "for softmax, ∂a[k]/∂z[k] = a[k]·(1 − a[k]) is close to 0 when a[k] is close to 0 or 1"

    def forward(self, z, out=None, log_out=None):
        """softmax(z)_k = e^(s_k) / Σ_j e^(s_j) with s = z − max z, row by row; when ``log_out`` is
        given, also log softmax(z) = s − log Σ_j e^(s_j) into it."""
        # the row max as z at the row's argmax, and Σ_j as a product with a ones vector: on a
        # batch's few columns these cost less than max(axis=1) and sum(axis=1)
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

    def df(self, z):
        raise ValueError("softmax has no elementwise derivative: its Jacobian couples the outputs; "
                         "use backward(grad_a, z, a), the Jacobian-vector product")

    def coupled_formula(self, j, width):
        """How the trace writes a[j], a template in the layer's {z0}, {z1}, …: exp(z[j])/Σₘ exp(z[m])."""
        return f"exp({{z{j}}})/(" + " + ".join(f"exp({{z{m}}})" for m in range(width)) + ")"


@register
class XTanh(_Builtin):
    name = "xtanh"
    output_range = (0.0, math.inf)
    formula, derivative_formula = "{z}·tanh({z})", "(tanh({z}) + {z}·(1 − tanh²({z})))"
    definition = "xtanh(z) = z·tanh(z), xtanh′(z) = tanh(z) + z·(1 − tanh²(z))"
    slope_note = "for x·tanh x, f′ = tanh z + z·(1 − tanh² z) tends to ±1 for large |z|: it does not saturate"

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
