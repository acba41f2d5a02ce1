"""Where a pass went NaN or inf: the first non-finite quantity, in the order the pass computed it."""

import math
import re

import numpy as np

from ..layers import label


def _state(x):
    return "became NaN" if np.isnan(x).any() else "overflowed to inf"


def _finite(x):
    with np.errstate(all="ignore"):
        return x is None or bool(np.isfinite(np.sum(x))) or bool(np.isfinite(x).all())


def _largest(name, x):
    with np.errstate(all="ignore"):
        return f"|{name}| ≤ {float(np.max(np.abs(x))):.3g}"


def locate_nonfinite(net, loss_finite=True):
    """Where the last forward and backward pass first went non-finite, in the order it computed:
    for each layer z (a_prev W + b for a Dense), then a = f(z); the loss; then δ and the parameter
    gradients from the last layer back to the first. Returns a phrase, e.g. "z of layer 2 (the
    product a1 @ W2 + b2) overflowed to inf, from finite inputs (|a1| ≤ 3e+160, |W2| ≤ 2e+150)"."""
    layers = net.layers
    for l, layer in enumerate(layers, start=1):
        found = _forward(l, layer)
        if found:
            return found
    L = len(layers)
    if not loss_finite:
        return f"the loss function ({net.loss.name}) itself overflowed on finite outputs ({_largest(f'a{L}', layers[-1].A)})"
    for l in range(L, 0, -1):
        found = _backward(l, layers)
        if found:
            return found
    for l, layer in enumerate(layers, start=1):
        for name, _, g in layer.params():
            with np.errstate(all="ignore"):
                if g is not None and not math.isfinite(np.vdot(g, g)):
                    return (f"the norm ‖∂L/∂{label(name, l)}‖ of layer {l} overflowed: its entries are finite but "
                            f"reach {float(np.max(np.abs(g))):.3g}, whose squares overflow")
    return "no value of the last pass is non-finite now"


def _forward(l, layer):
    """The first non-finite quantity of layer l's forward pass (parameters, z, a), or None."""
    prev = "X" if l == 1 else f"a{l - 1}"
    for name, p, _ in layer.params():
        if not _finite(p):
            return f"the weights {label(name, l)} of layer {l} are not finite"
    if layer.Z is None:
        return "the loss"
    if not _finite(layer.Z):
        inputs = _largest(prev, layer.A_prev)
        if layer.weight_matrix:
            return (f"z of layer {l} (the product {prev} @ W{l} + b{l}) {_state(layer.Z)}, from finite inputs "
                    f"({inputs}, {_largest(f'W{l}', layer.W)})")
        return f"z of layer {l} (a {layer.kind} layer) {_state(layer.Z)}, from finite inputs ({inputs})"
    if not _finite(layer.A):
        return (f"a of layer {l} (the activation {layer.activation.name}(z{l})) {_state(layer.A)}, "
                f"from finite z ({_largest(f'z{l}', layer.Z)})")
    return None


def _backward(l, layers):
    """The first non-finite quantity of layer l's backward pass (δ, then its gradients), or None."""
    layer, L = layers[l - 1], len(layers)
    if layer.delta is not None and not _finite(layer.delta):
        if l == L:
            return (f"the loss or its output delta δ{L} = ∂L/∂z{L} {_state(layer.delta)}, from finite outputs "
                    f"({_largest(f'a{L}', layer.A)})")
        nxt = layers[l]
        factors = _largest(f"δ{l + 1}", nxt.delta)
        if nxt.weight_matrix:
            factors += f", {_largest(f'W{l + 1}', nxt.W)}"
        return (f"δ{l} = ({nxt.backward_text.format(l=l + 1)}) ⊙ f′(z{l}) of layer {l} {_state(layer.delta)}, "
                f"from finite δ{l + 1} ({factors})")
    prev = "X" if l == 1 else f"a{l - 1}"
    for name, _, g in layer.params():
        if g is not None and not _finite(g):
            if layer.weight_matrix and name == "W":
                return (f"∂L/∂W{l} = {prev}ᵀ δ{l} of layer {l} {_state(g)}, from finite factors "
                        f"({_largest(prev, layer.A_prev)}, {_largest(f'δ{l}', layer.delta)})")
            return (f"∂L/∂{label(name, l)} of layer {l} ({layer.gradient_text.format(l=l, p=prev)}) {_state(g)}, "
                    f"from finite δ{l} ({_largest(f'δ{l}', layer.delta)})")
    return None


def layer_of(where):
    """The 1-based layer a locate_nonfinite phrase names, or None (the loss)."""
    m = re.search(r"of layer (\d+)", where)
    return int(m.group(1)) if m else None
