"""Optimizers: PyTorch's update equations and defaults, applied in place to every parameter.

Each ``step(net)`` reads the gradients ``Network.backward`` left in the layers and updates
the parameters: the learning rate is multiplied by the layer's ``lr_scale``, and when
``clip_norm`` is set the gradients are first rescaled so that their global norm
‖g‖ = √(Σ over all parameters of Σ g²) is at most ``clip_norm`` (seed 003:
"if ‖g‖ > threshold: g = g × threshold/‖g‖").
"""

import numpy as np

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "OPTIMIZERS", "get_optimizer"]


def _check(name, value, low=0.0, high=None, strict=False):
    ok = np.isfinite(value) and (value > low if strict else value >= low) and (high is None or value < high)
    if not ok:
        bound = f"> {low}" if strict else f"≥ {low}"
        raise ValueError(f"{name} must be {bound}" + (f" and < {high}" if high is not None else "") + f", got {value!r}")
    return float(value)


class Optimizer:
    """Base class: global-norm clipping, per-layer learning rates, per-parameter state."""

    def __init__(self, lr, clip_norm=None):
        self.lr = _check("lr", lr, strict=True)
        self.clip_norm = None if clip_norm is None else _check("clip_norm", clip_norm, strict=True)
        self.state = {}

    def step(self, net):
        """Update every parameter of ``net`` from the gradients of the last backward pass."""
        params = net.parameters()
        if self.clip_norm is not None:
            # ‖g‖ = √Σ g²; if ‖g‖ > c: g ← g · c/‖g‖
            norm = np.sqrt(sum(float(np.vdot(g, g)) for *_, g, _ in params))
            if norm > self.clip_norm:
                for *_, g, _ in params:
                    g *= self.clip_norm / norm
        for _, _, p, g, lr_scale in params:
            state = self.state.setdefault(id(p), {})
            self.update(p, g, self.lr * lr_scale, state)

    def update(self, p, g, lr, state):
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent (torch.optim.SGD, dampening 0).

    momentum μ > 0:  b ← μ b + g (b = g at the first step);  g ← g + μ b (Nesterov) or g ← b.
    Then  p ← p − η g.
    """

    def __init__(self, lr=1e-3, momentum=0.0, nesterov=False, clip_norm=None):
        super().__init__(lr, clip_norm)
        self.momentum = _check("momentum", momentum)
        if nesterov and self.momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0, e.g. SGD(lr, momentum=0.9, nesterov=True)")
        self.nesterov = bool(nesterov)

    def update(self, p, g, lr, state):
        if self.momentum:
            if "b" not in state:
                state["b"] = g.copy()
            else:
                state["b"] *= self.momentum
                state["b"] += g
            g = g + self.momentum * state["b"] if self.nesterov else state["b"]
        p -= lr * g


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop): v ← α v + (1 − α) g²;  p ← p − η g / (√v + ε).

    ``centered`` divides by √(v − ḡ²) + ε with ḡ ← α ḡ + (1 − α) g; ``momentum`` μ keeps
    b ← μ b + g/(√v + ε) and steps p ← p − η b.
    """

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, clip_norm=None):
        super().__init__(lr, clip_norm)
        self.alpha = _check("alpha", alpha, high=1.0)
        self.eps = _check("eps", eps)
        self.momentum = _check("momentum", momentum)
        self.centered = bool(centered)

    def update(self, p, g, lr, state):
        a = self.alpha
        v = state.setdefault("v", np.zeros_like(p))
        v *= a
        v += (1 - a) * g * g
        if self.centered:
            gbar = state.setdefault("gbar", np.zeros_like(p))
            gbar *= a
            gbar += (1 - a) * g
            denom = np.sqrt(v - gbar * gbar) + self.eps
        else:
            denom = np.sqrt(v) + self.eps
        if self.momentum:
            b = state.setdefault("b", np.zeros_like(p))
            b *= self.momentum
            b += g / denom
            p -= lr * b
        else:
            p -= lr * (g / denom)


class Adam(Optimizer):
    """Adam (torch.optim.Adam): m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²;

    p ← p − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, clip_norm=None):
        super().__init__(lr, clip_norm)
        self.beta1 = _check("betas[0]", betas[0], high=1.0)
        self.beta2 = _check("betas[1]", betas[1], high=1.0)
        self.eps = _check("eps", eps)

    def update(self, p, g, lr, state):
        b1, b2 = self.beta1, self.beta2
        t = state["t"] = state.get("t", 0) + 1
        m = state.setdefault("m", np.zeros_like(p))
        v = state.setdefault("v", np.zeros_like(p))
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        denom = np.sqrt(v) / np.sqrt(1 - b2**t) + self.eps
        p -= (lr / (1 - b1**t)) * (m / denom)


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get_optimizer(spec):
    """An optimizer from a registered name (with its defaults) or an ``Optimizer`` instance."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str) and spec in OPTIMIZERS:
        return OPTIMIZERS[spec]()
    raise ValueError(f"unknown optimizer {spec!r}; use one of {', '.join(OPTIMIZERS)} or an Optimizer instance")
