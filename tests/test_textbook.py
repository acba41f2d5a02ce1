"""The textbook engine (chainrule.textbook) as one more oracle for the fast engine.

* On random networks — depth 1–4, widths 1–7, every registered activation in the hidden layers,
  every loss with the outputs it is used with, batches of 1–8 rows, bias on and off, λ = 0 and
  λ > 0 — the fast engine's ``Network.backward`` (buffers, fused output deltas, in-place products)
  gives the textbook's loss, ∂L/∂W and ∂L/∂b to 1e-12 relative in float64, and to float32 rounding
  in float32.
* ``fit`` with plain SGD on the full batch takes the same steps as the textbook's ``sgd_step``.
* So that the textbook is not only checked against the fast engine: its gradients equal central
  differences of its own loss.
"""

import numpy as np
import pytest

import chainrule as cr
from chainrule import textbook
from chainrule.activations import ACTIVATIONS
from chainrule.losses import LOSSES

# loss → the output activations it is tested with (softmax + mse: the output's Jacobian-vector product)
OUTPUTS = {
    "bce": ["sigmoid"],
    "cross_entropy": ["softmax", "linear"],
    "mse": ["linear", "tanh", "sigmoid", "softmax"],
    "half_sse": ["linear", "tanh", "sigmoid"],
    "hinge": ["linear", "tanh"],
}
N_RANDOM = 240


def random_targets(rng, loss, m, k):
    """y as a user passes it for this loss: labels for cross_entropy, 0/1 for bce, ±1 for hinge."""
    if loss == "cross_entropy":
        return rng.integers(0, k, m)
    if loss == "bce":
        return rng.integers(0, 2, (m, k)).astype(float)
    if loss == "hinge":
        return rng.choice([-1.0, 1.0], (m, k))
    return rng.normal(0.0, 1.0, (m, k))


def random_network(rng, dtype=np.float64, loss=None):
    """(net, X, y, description) drawn from ``rng``: a random architecture, weights, data and targets."""
    loss = loss or str(rng.choice(sorted(OUTPUTS)))
    depth = int(rng.integers(1, 5))
    acts = [str(rng.choice(sorted(ACTIVATIONS))) for _ in range(depth - 1)] + [str(rng.choice(OUTPUTS[loss]))]
    several = acts[-1] == "softmax" or loss == "cross_entropy"
    sizes = [int(rng.integers(1, 8)) for _ in range(depth)] + [int(rng.integers(2 if several else 1, 8))]
    layers = []
    for n_in, n_out, act in zip(sizes, sizes[1:], acts):
        W = rng.normal(0.0, 1.5 / np.sqrt(n_in), (n_in, n_out))
        bias = bool(rng.integers(0, 2))
        activation = cr.leaky_relu(rng.uniform(0.0, 0.5)) if act == "leaky_relu" else act
        init = (W, rng.normal(0.0, 0.5, n_out)) if bias else W
        layers.append(cr.Dense(n_in, n_out, activation, init=init, bias=bias))
    l2 = float(rng.choice([0.0, rng.uniform(0.01, 1.0)]))
    net = cr.Network(layers, loss=loss, l2=l2, dtype=dtype)
    m = int(rng.integers(1, 9))
    X = rng.normal(0.0, 1.0, (m, sizes[0]))
    y = random_targets(rng, loss, m, sizes[-1])
    biases = [layer.bias for layer in layers]
    return net, X, y, f"{net!r} bias={biases} l2={l2:.3g} m={m} {np.dtype(dtype).name}"


def unsaturated_network(rng, dtype=np.float64):
    """A random network whose bce output a = σ(z) stays 1e-3 away from 0 and 1: nearer, 1 − a (or a)
    keeps few digits of a, and bce on probabilities (the textbook's plain L and chain rule) loses
    those that the fast engine, working from the logits, keeps."""
    while True:
        net, X, y, description = random_network(rng, dtype)
        a = textbook.forward(net, net.check_X(X))[1][-1]
        if net.loss.name != "bce" or np.minimum(a, 1 - a).min() > 1e-3:
            return net, X, y, description


def assert_same(actual, expected, rtol, label):
    """Each entry within rtol of the expected one, or within rtol of the array's largest entry
    (a sum over the batch that cancels to near 0 keeps only that absolute accuracy)."""
    expected = np.asarray(expected, np.float64)
    scale = float(np.abs(expected).max(initial=0.0))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=label)


def fast_engine(net, X, y):
    """The fast engine's loss and [(dW, db)] after ``net.backward``, copied."""
    loss = net.backward(X, y)
    return loss, [(layer.dW.copy(), layer.db.copy()) for layer in net.layers]


def assert_engines_agree(net, X, y, rtol, description):
    loss, grads = fast_engine(net, X, y)
    book_loss, book_grads = textbook.backprop(net, *net.check_data(X, y))
    assert_same(loss, book_loss, rtol, f"loss of {description}")
    for l, ((dW, db), (book_dW, book_db)) in enumerate(zip(grads, book_grads), start=1):
        assert book_dW.dtype == net.dtype
        assert_same(dW, book_dW, rtol, f"dW{l} of {description}")
        if net.layers[l - 1].bias:
            assert_same(db, book_db, rtol, f"db{l} of {description}")
        else:
            assert book_db is None and not db.any(), f"layer {l} has no bias: no db ({description})"


@pytest.mark.parametrize("seed", range(N_RANDOM))
def test_fast_engine_equals_the_textbook_on_random_networks(seed):
    net, X, y, description = unsaturated_network(np.random.default_rng(seed))
    assert_engines_agree(net, X, y, 1e-12, description)


@pytest.mark.parametrize("seed", range(60))
def test_fast_engine_equals_the_textbook_with_sample_weights(seed):
    rng = np.random.default_rng(30_000 + seed)
    net, X, y, description = unsaturated_network(rng)
    w = rng.uniform(0.0, 3.0, len(X)) + 0.01
    loss = net.backward(X, y, sample_weight=w)
    book_loss, book_grads = textbook.backprop(net, *net.check_data(X, y), w=w)
    assert_same(loss, book_loss, 1e-12, f"weighted loss of {description}")
    for l, (layer, (book_dW, book_db)) in enumerate(zip(net.layers, book_grads), start=1):
        assert_same(layer.dW, book_dW, 1e-12, f"weighted dW{l} of {description}")
        if layer.bias:
            assert_same(layer.db, book_db, 1e-12, f"weighted db{l} of {description}")


@pytest.mark.parametrize("seed", range(40))
def test_fast_engine_equals_the_textbook_in_float32(seed):
    net, X, y, description = unsaturated_network(np.random.default_rng(10_000 + seed), dtype=np.float32)
    assert_engines_agree(net, X, y, 1e-4, description)


@pytest.mark.parametrize("seed", range(30))
def test_fit_with_sgd_takes_the_textbooks_steps(seed):
    rng = np.random.default_rng(20_000 + seed)
    net, X, y, description = unsaturated_network(rng)
    book = net.copy()
    lr, epochs = float(rng.uniform(0.01, 0.2)), int(rng.integers(1, 5))
    history = net.fit(X, y, optimizer=cr.SGD(lr), epochs=epochs, batch_size=None, shuffle=False,
                      progress=False, diagnostics=False)
    X, Y = book.check_data(X, y)
    losses = [textbook.sgd_step(book, X, Y, lr) for _ in range(epochs)]
    assert_same(history.loss, losses, 1e-12, f"losses of {description}")
    for l, (layer, book_layer) in enumerate(zip(net.layers, book.layers), start=1):
        assert_same(layer.W, book_layer.W, 1e-12, f"W{l} after {epochs} steps of {description}")
        assert_same(layer.b, book_layer.b, 1e-12, f"b{l} after {epochs} steps of {description}")


def central_differences(loss_of, p, eps=1e-6):
    """∂L/∂p by (L(p + ε) − L(p − ε)) / 2ε, one entry of p at a time (p is changed and restored)."""
    g = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        old = p[i]
        p[i] = old + eps
        up = loss_of()
        p[i] = old - eps
        g[i] = (up - loss_of()) / (2 * eps)
        p[i] = old
    return g


def away_from_kinks(net, X, Y, gap=1e-3):
    """No kinked pre-activation (ReLU's z = 0) and no hinge margin y·a = 1 within ``gap`` of its kink,
    so that no ε-step of a central difference crosses one."""
    zs, as_ = textbook.forward(net, X)
    near = [np.abs(z - k).min() < gap for layer, z in zip(net.layers, zs) for k in layer.activation.kinks]
    if net.loss.kink_margin is not None:
        near.append(np.abs(Y * as_[-1] - net.loss.kink_margin).min() < gap)
    return not any(near)


@pytest.mark.parametrize("seed", range(24))
def test_textbook_gradients_equal_central_differences(seed):
    rng = np.random.default_rng(30_000 + seed)
    loss = sorted(OUTPUTS)[seed % len(OUTPUTS)]  # every loss, with each of its outputs in turn
    while True:
        net, X, y, description = random_network(rng, loss=loss)
        X, Y = net.check_data(X, y)
        if away_from_kinks(net, X, Y):
            break
    _, grads = textbook.backprop(net, X, Y)
    loss_of = lambda: textbook.backprop(net, X, Y)[0]  # noqa: E731
    for l, (layer, (dW, db)) in enumerate(zip(net.layers, grads), start=1):
        assert_same(dW, central_differences(loss_of, layer.W), 1e-6, f"dW{l} of {description}")
        if layer.bias:
            assert_same(db, central_differences(loss_of, layer.b), 1e-6, f"db{l} of {description}")


def test_sgd_step_moves_against_the_gradient_and_keeps_absent_biases_at_zero():
    """W ← W − η ∂L/∂W, worked for one linear layer with mse: ∂L/∂W = 2 Xᵀ(XW − y)/N."""
    net = cr.Network([cr.Dense(2, 1, "linear", init=np.array([[1.0], [-1.0]]), bias=False)], loss="mse")
    X, Y = net.check_data(np.array([[1.0, 2.0], [3.0, 1.0]]), np.array([0.0, 1.0]))
    # XW = (−1, 2), XW − y = (−1, 1), ∂L/∂W = 2·Xᵀ(−1, 1)/2 = (2, −1); W − 0.5·(2, −1) = (0, −0.5)
    assert textbook.sgd_step(net, X, Y, 0.5) == pytest.approx(1.0)  # L = ((−1)² + 1²)/2
    np.testing.assert_allclose(net.layers[0].W, [[0.0], [-0.5]], atol=1e-15)
    assert not net.layers[0].b.any()


def test_every_registered_loss_is_drawn():
    """Fails when a loss is registered without the outputs it is tested with here."""
    assert set(OUTPUTS) == set(LOSSES)
    assert set().union(*OUTPUTS.values()) <= set(ACTIVATIONS)
