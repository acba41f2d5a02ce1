"""The residual block: z = s(a_prev) + F(a_prev), a = f(z), where F is one or more layers (the
branch) and s the skip: a_prev itself when F keeps the width, a_prev P (a projection, a linear
layer without bias) when it does not.

Backward, given δ = ∂L/∂z of the block: the gradient reaches a_prev along two paths and adds up,

    ∂L/∂a_prev = δ                  (the skip: ∂z/∂a_prev = I)        or δ Pᵀ with a projection
               + δ through F        (the branch's own recurrence: its last layer's δ = δ ⊙ f′(its z))

so even when the branch's factors shrink δ to nothing, the skip term passes δ on unchanged: the
textbook remedy for vanishing gradients.
"""

import numpy as np

from .activations import get_activation
from .layers import Dense, Layer, LayerBuffers, backward_through
from .validation import number

__all__ = ["Residual"]


class ResidualBuffers(LayerBuffers):
    """A block's arrays for one batch: LayerBuffers' (z = skip + branch, a, δ, …), the branch's
    layers' buffers ``inner``, the projection's ``skip`` (None without one), and ``branch_grad``
    (m, n_in), ∂L/∂a_prev through the branch."""

    __slots__ = ("inner", "skip", "branch_grad")

    def __init__(self, block, m, dtype):
        super().__init__(m, block.n_out, dtype, block.activation.has_log)
        self.inner = [layer.new_buffers(m, dtype) for layer in block.layers]
        self.skip = None if block.projection is None else block.projection.new_buffers(m, dtype)
        self.branch_grad = np.empty((m, block.n_in), dtype)

    def release(self):
        super().release()
        for buf in self.inner + ([self.skip] if self.skip is not None else []):
            buf.release()


class Residual(Layer):
    """The block a_prev ↦ f(s(a_prev) + F(a_prev)): ``layers`` are F's layers (Dense, BatchNorm, or
    blocks), F's input width that of a_prev. When F's output width differs from its input width,
    the skip is a projection P, a linear Dense without bias (``projection``: None makes one when
    needed; or pass your own ``Dense(n_in, n_out, bias=False)``). ``activation`` f is applied
    after the sum (linear by default; ResNet's blocks use relu).

    Its parameters are its layers' (named W.1, b.1 for the branch's first layer, and so on: W3.1
    in layer 3) and P's.
    """

    kind = "residual"
    statistics = ("branch_ratio",)
    backward_text = "δ{l} + δ{l} through the branch of block {l}"
    gradient_text = "the branch's gradients, each layer's by its own rule"

    def __init__(self, layers, projection=None, activation="linear", lr_scale=1.0):
        layers = list(layers)
        if not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise ValueError("Residual needs a non-empty list of layers (chainrule.Dense, BatchNorm or Residual)")
        for i, (prev, nxt) in enumerate(zip(layers, layers[1:]), start=1):
            if prev.n_out != nxt.n_in:
                raise ValueError(f"in the residual block, layer {i} has {prev.n_out} outputs but layer {i + 1} "
                                 f"expects {nxt.n_in} inputs")
        self.layers = layers
        self.n_in, self.n_out = layers[0].n_in, layers[-1].n_out
        self.activation = get_activation(activation)
        self.lr_scale = number("Residual lr_scale", lr_scale, low=0)
        if projection is None and self.n_in != self.n_out:
            projection = Dense(self.n_in, self.n_out, bias=False)
        if projection is not None and not (isinstance(projection, Dense) and not projection.bias
                                           and (projection.n_in, projection.n_out) == (self.n_in, self.n_out)
                                           and projection.activation.name == "linear"):
            raise ValueError(f"a residual block's projection must be a linear Dense({self.n_in}, {self.n_out}, "
                             "bias=False)")
        self.projection = projection

    def __repr__(self):
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Residual([{inner}], activation={self.activation.name!r})"

    def sublayers(self):
        return self.layers + ([self.projection] if self.projection is not None else [])

    @property
    def size(self):
        return sum(layer.size for layer in self.sublayers())

    @property
    def running_size(self):
        return sum(layer.running_size for layer in self.layers)

    def build(self, rng, theta, grad, running):
        """Each sublayer built on its slice of the block's slices of θ, ∂L/∂θ and the running statistics."""
        at = ran = 0
        for layer in self.sublayers():
            part, stats = slice(at, at + layer.size), slice(ran, ran + layer.running_size)
            layer.build(rng, theta[part], grad[part], running[stats])
            at, ran = at + layer.size, ran + layer.running_size

    def _named(self, method):
        """(name, …) of the sublayers' ``method()``, names marked with the sublayer: W.1, b.1, …; P."""
        for i, layer in enumerate(self.layers, start=1):
            for name, *rest in getattr(layer, method)():
                base, dot, inner = name.partition(".")
                yield (f"{base}.{i}{dot}{inner}", *rest)
        if self.projection is not None and method != "running":
            yield ("P", *next(iter(getattr(self.projection, method)()))[1:])

    def params(self):
        return self._named("params")

    def running(self):
        return self._named("running")

    def arrays(self):
        return {name: value for name, value, *_ in self._named("params")} | dict(self._named("running"))

    def weights(self):
        return [pair for layer in self.sublayers() for pair in layer.weights()]

    def new_buffers(self, m, dtype):
        return ResidualBuffers(self, m, dtype)

    def measure(self):
        """‖F(a_prev)‖/‖s(a_prev)‖ of the last pass: how much the block changes its input (0: the
        branch adds nothing; ≫ 1: the skip is drowned)."""
        buf = self.buffers
        skip = buf.a_prev if buf.skip is None else buf.skip.a
        branch, norm = buf.inner[-1].a, float(np.linalg.norm(skip))
        return (float(np.linalg.norm(branch)) / norm if norm else 0.0,)

    def config(self):
        return {"kind": self.kind, "n_in": self.n_in, "n_out": self.n_out, "activation": self.activation.config(),
                "lr_scale": self.lr_scale, "projection": self.projection is not None,
                "layers": [layer.config() for layer in self.layers]}

    @classmethod
    def from_config(cls, spec, arrays, activation, make_layer):
        """``make_layer(spec, arrays, i)`` builds the branch's i-th layer from its config and arrays."""
        layers = [make_layer(inner, _prefixed(arrays, i), i) for i, inner in enumerate(spec["layers"], start=1)]
        projection = Dense(spec["n_in"], spec["n_out"], init=arrays["P"], bias=False) if spec["projection"] else None
        return cls(layers, projection, activation, lr_scale=spec["lr_scale"])

    def copy(self):
        return Residual([layer.copy() for layer in self.layers],
                        None if self.projection is None else self.projection.copy(), self.activation, self.lr_scale)

    def forward(self, a_prev, buf, training=False):
        """z = s(a_prev) + F(a_prev), a = f(z): the branch's layers in turn, then the sum."""
        buf.a_prev = h = a_prev
        for layer, inner in zip(self.layers, buf.inner):
            h = layer.forward(h, inner, training)
        skip = a_prev if self.projection is None else self.projection.forward(a_prev, buf.skip)
        np.add(skip, h, out=buf.z)  # z = s(a_prev) + F(a_prev)
        return self.activate(buf.z, buf)

    def backward(self, delta, grad_out=None):
        """Given δ = ∂L/∂z of the block: the branch's gradients (its recurrence from its last layer's
        δ = δ ⊙ f′(z of that layer)) and P's, and ∂L/∂a_prev = δ (or δ Pᵀ) + δ through the branch."""
        self.delta, buf = delta, self.buffers
        last, out = self.layers[-1], buf.inner[-1]
        branch = last.activation.backward(delta, out.z, out.a, out=out.delta, scratch=out.scratch)
        g = backward_through(self.layers, buf.inner, branch, None if grad_out is None else buf.branch_grad)
        if self.projection is None:
            return None if grad_out is None else np.add(delta, g, out=grad_out)  # δ + δ through F
        skip = self.projection.backward(delta, grad_out)  # ∂L/∂P = a_prevᵀ δ; δ Pᵀ
        return None if grad_out is None else np.add(skip, g, out=grad_out)


def _prefixed(arrays, i):
    """The arrays of the branch's i-th layer, their names without the ".i" mark: W.1 → W, W.1.2 → W.2."""
    picked = {}
    for name, value in arrays.items():
        base, _, rest = name.partition(".")
        first, dot, more = rest.partition(".")
        if first == str(i):
            picked[f"{base}{dot}{more}"] = value
    return picked
