"""The textbook engine: backpropagation in plain NumPy, one equation a line.

Read it next to the derivation. Layer l = 1 … L has weights W(l) of shape (n_in, n_out) and bias
b(l) of shape (n_out,); a(0) = X holds the batch, one sample a row, so each equation below is
written once for the whole batch:

    forward     z(l) = a(l−1) W(l) + b(l),   a(l) = f(z(l))
    output      δ(L) = ∂L/∂a(L) ⊙ f′(z(L))                       (δ(l) is ∂L/∂z(l))
    recurrence  δ(l) = (δ(l+1) W(l+1)ᵀ) ⊙ f′(z(l))
    gradients   ∂L/∂W(l) = a(l−1)ᵀ δ(l),   ∂L/∂b(l) = Σ_rows δ(l)
    update      W ← W − η ∂L/∂W,   b ← b − η ∂L/∂b

The loss is a mean over the batch and its 1/N is already inside δ(L) (``loss.grad`` returns ∂L/∂a
with it), so ∂L/∂W and ∂L/∂b are plain sums over the rows. The network's L2 penalty λ/(2m)·Σ‖W‖²
(m the batch size, weights only) adds (λ/m)·W to each ∂L/∂W. In the code, ``net.layers[i]`` is
layer l = i + 1, ``zs[i]`` is its z(l), ``as_[i]`` its input a(l−1) and ``as_[i + 1]`` its a(l).

f, f′ and the loss are the network's own activation and loss objects (the one place the library
defines them); everything else is here, with new arrays at every step: no buffers, no ``out=``, no
in-place updates, no output delta fused with the loss. The fast engine, ``Network.backprop``,
computes the same numbers with preallocated buffers, fused output deltas and in-place operations;
``tests/test_textbook.py`` holds the two equal on random networks, and this module equal to central
differences of its own loss. Fusing is also what keeps the fast engine exact where the output
saturates: for bce on a sigmoid output the plain chain rule here, ∂L/∂a ⊙ σ′(z), equals (a − y)/N,
but once a = σ(z) is within rounding of 1 (z above about 17 in float32, 37 in float64) 1 − a has
lost its digits, and so have this L and δ(L); the fast engine computes both from the logits z.

Data go in as ``net.check_data`` returns them:

    X, Y = net.check_data(X, y)                  # Y: one-hot rows for class labels
    loss, grads = backprop(net, X, Y)            # grads[i] = (∂L/∂W, ∂L/∂b or None) of layer i + 1
    loss = sgd_step(net, X, Y, lr=0.1)           # one plain gradient-descent step (no lr_scale)

It writes out Dense layers only: a network with BatchNorm layers or residual blocks is refused
(their equations are written out in ``chainrule/normalization.py`` and ``chainrule/residual.py``,
and checked against PyTorch in ``tests/test_normalization.py``); this screen stays the plain MLP.
"""

import numpy as np

__all__ = ["forward", "backprop", "sgd_step"]


def forward(net, X):
    """(zs, as_): zs = [z(1), …, z(L)] and as_ = [a(0) = X, a(1), …, a(L)] for a batch X."""
    other = [layer.kind for layer in net.layers if not layer.weight_matrix]
    if other:
        raise ValueError(f"the textbook engine writes out Dense layers only; this network has {other[0]} layers: "
                         "run it on the network's own passes (net.backward, net.fit)")
    zs, as_ = [], [X]
    for layer in net.layers:
        z = as_[-1] @ layer.W  # z(l) = a(l−1) W(l) + b(l)
        if layer.bias:  # a layer without bias keeps b = 0
            z = z + layer.b
        zs.append(z)
        as_.append(layer.activation.f(z))  # a(l) = f(z(l))
    return zs, as_


def backprop(net, X, Y, w=None):
    """(L, grads) for a batch: L the loss with the L2 penalty, grads[i] = (∂L/∂W, ∂L/∂b) of
    layer l = i + 1, ∂L/∂b None for a layer without bias. With row weights w (sample_weight), the
    loss's mean over rows is weighted, L = Σ wₙℓₙ / Σ wₙ, and m is Σ wₙ."""
    layers, m = net.layers, len(X) if w is None else float(np.sum(w))
    zs, as_ = forward(net, X)
    weights = {} if w is None else {"w": w}  # w=None is the loss's default; a user's loss may not take w
    loss, delta = _loss_and_output_delta(net.loss, layers[-1].activation, zs[-1], as_[-1], Y, weights)
    loss += net.l2 / (2 * m) * sum(float(np.sum(layer.W**2)) for layer in layers)  # L += λ/(2m) Σ‖W‖²
    grads = [None] * len(layers)
    for i in reversed(range(len(layers))):  # l = L, L−1, …, 1; delta holds δ(l)
        layer = layers[i]
        dW = as_[i].T @ delta  # ∂L/∂W(l) = a(l−1)ᵀ δ(l)
        dW = dW + net.l2 / m * layer.W  # ∂L/∂W(l) += (λ/m) W(l)
        db = delta.sum(axis=0) if layer.bias else None  # ∂L/∂b(l) = Σ_rows δ(l)
        grads[i] = (dW, db)
        if i > 0:  # δ(l−1) = (δ(l) W(l)ᵀ) ⊙ f′(z(l−1))
            delta = _times_derivative(layers[i - 1].activation, delta @ layer.W.T, zs[i - 1], as_[i])
    return loss, grads


def _loss_and_output_delta(loss, activation, z, a, Y, weights):
    """(L without the penalty, δ(L)) for the output layer's z(L), a(L) = f(z(L)) and targets Y;
    ``weights`` {"w": the rows' weights} or {}."""
    if loss.takes_logits and loss.fuses_with(activation):
        # cross_entropy is defined on the logits, L = −(1/N) Σ y ⊙ log softmax(z): it applies the
        # softmax itself, so the output layer's softmax is inside L, and ∂L/∂z(L) is the chain rule
        # through the softmax, worked out once in the loss: (softmax(z) − y)/N.
        return loss.value(z, Y, **weights), loss.grad(z, Y, **weights)  # δ(L) = ∂L/∂z(L)
    grad_a = loss.grad(a, Y, **weights)  # ∂L/∂a(L), the 1/N (or wₙ/Σw) of the mean inside
    return loss.value(a, Y, **weights), _times_derivative(activation, grad_a, z, a)  # δ(L) = ∂L/∂a(L) ⊙ f′(z(L))


def _times_derivative(activation, grad_a, z, a):
    """δ = ∂L/∂z from g = ∂L/∂a: g ⊙ f′(z) for an elementwise f."""
    if activation.elementwise:
        return grad_a * activation.df(z)  # δ = ∂L/∂a ⊙ f′(z)
    # softmax couples a layer's outputs (each a_k depends on every z_j), so there is no elementwise
    # f′: δ = Jᵀ ∂L/∂a with J = ∂a/∂z, the Jacobian-vector product the activation computes
    return activation.backward(grad_a, z, a)


def sgd_step(net, X, Y, lr):
    """One step of plain gradient descent on the batch (X, Y), written into the network's
    parameters; returns the loss L before the step."""
    loss, grads = backprop(net, X, Y)
    for layer, (dW, db) in zip(net.layers, grads):
        layer.W = layer.W - lr * dW  # W ← W − η ∂L/∂W
        if db is not None:
            layer.b = layer.b - lr * db  # b ← b − η ∂L/∂b
    return loss
