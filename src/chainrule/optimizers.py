"""Optimizers: PyTorch's update equations and defaults, applied in place to every parameter.

Each ``step(net)`` reads the gradients ``Network.backward`` left in the layers and updates
the parameters: the learning rate is multiplied by the layer's ``lr_scale``, and when
``clip_norm`` is set the step uses the gradients rescaled so that their global norm
‖g‖ = √(Σ over all parameters of Σ g²) is at most ``clip_norm`` ("if ‖g‖ > c: g ← g · c/‖g‖",
the moons experiment's remedy for exploding gradients). The gradients the layers hold
(``dW``, ``db``) stay ∂L/∂W and ∂L/∂b: the rescaled copy is the optimizer's own.

A step that would make a parameter NaN or inf is not applied: ``step`` raises ``NonFiniteStep``
with θ as it was. (A step whose s·s is finite has every |sᵢ| below √M, M the largest number of the
dtype, which is far less than half the spacing of the floats near M: θ − s then rounds to a finite
number whatever the finite θ, and is applied in place; any other step is applied only after θ − s
has been checked.)
"""

import math
import weakref

import numpy as np

from .layers import label
from .validation import flag, number

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "OPTIMIZERS", "NonFiniteStep", "get_optimizer"]


class NonFiniteStep(ArithmeticError):
    """An update that would have made a parameter NaN or inf; the parameters were left unchanged."""


class Optimizer:
    """Base class: global-norm clipping, per-layer learning rates, per-network state.

    ``step`` updates the network's whole parameter vector θ at once from its gradient vector g
    (the layers' W, b, dW, db are views into them); ``update`` holds one optimizer's equations.
    """

    def __init__(self, lr, clip_norm=None):
        name = type(self).__name__
        self.lr = number(f"{name} lr", lr, low=0, low_open=True)
        self.clip_norm = None if clip_norm is None else number(f"{name} clip_norm", clip_norm, low=0, low_open=True)
        self.state = weakref.WeakKeyDictionary()

    def step(self, net):
        """θ ← θ − s for the gradients g of the last backward pass, s the optimizer's step. Raises
        ``NonFiniteStep``, θ unchanged, when θ − s is not finite (the optimizer then forgets its
        state for this network: its moving averages have taken in the non-finite step)."""
        g = net.grad
        state = self.state.get(net)
        if state is None:
            state = self.state[net] = {"tmp": np.empty_like(g)}
        if self.clip_norm is not None:
            # ‖g‖ = √Σ g²; if ‖g‖ > c: g ← g · c/‖g‖ (a copy: dW, db keep the true gradient)
            norm = math.sqrt(np.vdot(g, g))
            if norm > self.clip_norm:
                g = np.multiply(g, self.clip_norm / norm, out=state.setdefault("clipped", np.empty_like(g)))
        # η per entry: the optimizer's rate times the layer's lr_scale
        s = self.update(g, self.lr * net.lr_scales(), state)
        if math.isfinite(np.vdot(s, s)):
            # every |sᵢ| < √M (M the dtype's largest number), far below half the spacing of the floats
            # near M (2²⁹² in float64, 2¹⁰³ in float32): θ − s rounds to a finite number for any finite θ
            net.theta -= s
            return
        new = np.subtract(net.theta, s, out=s)  # θ − s into the step's own buffer, checked before it is applied
        if not _finite(new):
            del self.state[net]
            raise NonFiniteStep(f"the {type(self).__name__} update made {_first_nonfinite(net, new)}")
        net.theta[...] = new

    def update(self, g, lr, state):
        """The step s (in ``state["tmp"]``) of θ ← θ − s for gradient g, per-entry learning rate lr;
        updates the optimizer's moving averages in ``state``."""
        raise NotImplementedError


def _first_nonfinite(net, new):
    """Which parameter the candidate θ ``new`` first makes non-finite, and how: "W2 overflow to inf"
    (every parameter is a view of θ: its place in θ is its offset from θ's first byte)."""
    i = int(np.flatnonzero(~np.isfinite(new))[0])
    name = "θ"
    for l, pname, p, _, _ in net.parameters():
        start = (p.__array_interface__["data"][0] - net.theta.__array_interface__["data"][0]) // net.theta.itemsize
        if start <= i < start + p.size:
            name = label(pname, l + 1)
            break
    return f"{name} " + ("NaN" if np.isnan(new[i]) else "overflow to inf")


def _finite(x):
    """Whether every entry of x is finite: x·x (one BLAS call) is finite when they are, unless it
    overflows (entries beyond √max, 1e154 in float64, 1e19 in float32), which the entrywise test
    then settles."""
    return math.isfinite(np.vdot(x, x)) or bool(np.isfinite(x).all())


class SGD(Optimizer):
    """Stochastic gradient descent (torch.optim.SGD, dampening 0).

    momentum μ > 0:  b ← μ b + g (b = g at the first step);  g ← g + μ b (Nesterov) or g ← b.
    Then  p ← p − η g.
    """

    def __init__(self, lr=1e-3, momentum=0.0, nesterov=False, clip_norm=None):
        super().__init__(lr, clip_norm)
        self.momentum = number("SGD momentum", momentum, low=0)
        self.nesterov = flag("SGD nesterov", nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0, e.g. SGD(lr, momentum=0.9, nesterov=True)")

    def update(self, g, lr, state):
        mu, step = self.momentum, state["tmp"]
        if mu:
            if "b" not in state:
                state["b"] = g.copy()
            else:
                state["b"] *= mu
                state["b"] += g
            if self.nesterov:
                np.multiply(state["b"], mu, out=step)
                step += g  # g + μ b
                g = step
            else:
                g = state["b"]
        return np.multiply(g, lr, out=step)  # s = η g


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop): v ← α v + (1 − α) g²;  p ← p − η g / (√v + ε).

    ``centered`` divides by √(v − ḡ²) + ε with ḡ ← α ḡ + (1 − α) g; ``momentum`` μ keeps
    b ← μ b + g/(√v + ε) and steps p ← p − η b.
    """

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, clip_norm=None):
        super().__init__(lr, clip_norm)
        self.alpha = number("RMSprop alpha", alpha, low=0, high=1, high_open=True)
        self.eps = number("RMSprop eps", eps, low=0)
        self.momentum = number("RMSprop momentum", momentum, low=0)
        self.centered = flag("RMSprop centered", centered)

    def update(self, g, lr, state):
        a, tmp = self.alpha, state["tmp"]
        v = state.setdefault("v", np.zeros_like(g))
        v *= a
        np.multiply(g, g, out=tmp)
        tmp *= 1 - a
        v += tmp
        if self.centered:
            gbar = state.setdefault("gbar", np.zeros_like(g))
            gbar *= a
            np.multiply(g, 1 - a, out=tmp)
            gbar += tmp
            np.multiply(gbar, gbar, out=tmp)
            np.subtract(v, tmp, out=tmp)
            # v − ḡ² ≥ 0 in exact arithmetic; rounding can take it below 0 after many steps of a constant
            # gradient, where √ would be NaN (PyTorch's too): clamp it at 0
            np.maximum(tmp, 0, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(v, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)  # g / (√v + ε)
        if self.momentum:
            b = state.setdefault("b", np.zeros_like(g))
            b *= self.momentum
            b += tmp
            return np.multiply(b, lr, out=tmp)  # s = η b
        tmp *= lr  # s = η g / (√v + ε)
        return tmp


class Adam(Optimizer):
    """Adam (torch.optim.Adam): m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²;

    p ← p − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, clip_norm=None):
        super().__init__(lr, clip_norm)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam betas must be a pair (β₁, β₂), e.g. (0.9, 0.999), got {betas!r}")
        self.beta1 = number("Adam betas[0]", betas[0], low=0, high=1, high_open=True)
        self.beta2 = number("Adam betas[1]", betas[1], low=0, high=1, high_open=True)
        self.eps = number("Adam eps", eps, low=0)

    def update(self, g, lr, state):
        b1, b2, tmp = self.beta1, self.beta2, state["tmp"]
        t = state["t"] = state.get("t", 0) + 1
        m = state.setdefault("m", np.zeros_like(g))
        v = state.setdefault("v", np.zeros_like(g))
        m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - b2**t)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= lr
        tmp *= 1 / (1 - b1**t)  # s = (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
        return tmp


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get_optimizer(spec):
    """An optimizer from a registered name (with its defaults) or an ``Optimizer`` instance."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str) and spec in OPTIMIZERS:
        return OPTIMIZERS[spec]()
    raise ValueError(f"unknown optimizer {spec!r}; use one of {', '.join(OPTIMIZERS)} or an Optimizer instance")
