"""Sample weights: L = Σₙ wₙ ℓₙ / Σₙ wₙ (and the L2 penalty's m = Σw), checked against

* autograd applied to that weighted mean, written here from the definitions (ℓₙ each loss's row
  term as in losses.py's docstrings) on random networks, for every loss with its usual output;
* the same rows repeated: integer weights give the loss, the gradients and a full-batch training
  run of the data set with each row written out w times.
"""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import chainrule as cr
from chainrule.batches import Batches
from chainrule.losses import MSE

# ---- the oracle: autograd on the weighted mean, chainrule not involved ----------------------


def _row_terms(z, a, Y, loss):
    """ℓₙ for every row n: each loss's per-row term, its mean over the K outputs where the loss is
    a mean over N·K (mse, bce, hinge), its sum where it is a mean over N (half_sse, cross_entropy)."""
    if loss == "mse":
        return anp.mean((a - Y) ** 2, axis=1)
    if loss == "half_sse":
        return 0.5 * anp.sum((a - Y) ** 2, axis=1)
    if loss == "bce":
        return -anp.mean(Y * anp.log(a) + (1 - Y) * anp.log(1 - a), axis=1)
    if loss == "cross_entropy":
        return -anp.sum(Y * (z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))), axis=1)
    if loss == "hinge":
        return anp.mean(anp.maximum(0.0, 1.0 - Y * a), axis=1)
    raise AssertionError(loss)


OUTPUT = {"mse": "linear", "half_sse": "tanh", "bce": "sigmoid", "cross_entropy": "softmax", "hinge": "tanh"}


def oracle_loss(params, X, Y, w, loss, l2):
    a = X
    for i, (W, b) in enumerate(params):
        z = anp.dot(a, W) + b
        last = i == len(params) - 1
        if not last or OUTPUT[loss] == "tanh":
            a = anp.tanh(z)
        elif OUTPUT[loss] == "sigmoid":
            a = 1 / (1 + anp.exp(-z))
        elif OUTPUT[loss] == "linear":
            a = z
        else:
            a = anp.exp(z) / anp.sum(anp.exp(z), axis=1, keepdims=True)
    total = anp.sum(w)
    return anp.sum(w * _row_terms(z, a, Y, loss)) / total + l2 / (2 * total) * sum(anp.sum(W**2) for W, _ in params)


def draw(seed, loss):
    """(sizes, params, X, y as passed to the library, Y dense, w) of a random 1–3 layer network."""
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(1, 5)) for _ in range(int(rng.integers(2, 5)))]
    if loss == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
    params = [(rng.normal(0, 1 / np.sqrt(i), (i, o)), rng.normal(0, 0.3, o)) for i, o in zip(sizes[:-1], sizes[1:])]
    m, k = int(rng.integers(1, 9)), sizes[-1]
    X = rng.normal(size=(m, sizes[0]))
    if loss == "cross_entropy":
        labels = rng.integers(0, k, m)
        y, Y = labels, np.eye(k)[labels]
    else:
        Y = {"bce": lambda: rng.integers(0, 2, (m, k)).astype(float), "hinge": lambda: rng.choice([-1.0, 1.0], (m, k))
             }.get(loss, lambda: rng.normal(size=(m, k)))()
        y = Y
    w = rng.uniform(0.0, 3.0, m)
    w[0] += 0.5  # a positive sum
    return sizes, params, X, y, Y, w


def network(sizes, params, loss, l2=0.0):
    acts = ["tanh"] * (len(sizes) - 2) + [OUTPUT[loss]]
    layers = [cr.Dense(W.shape[0], W.shape[1], act, init=(W.copy(), b.copy())) for (W, b), act in zip(params, acts)]
    return cr.Network(layers, loss=loss, l2=l2)


def close(a, e, rtol=1e-9):
    a, e = np.asarray(a, float), np.asarray(e, float)
    assert np.abs(a - e).max() <= rtol * max(np.abs(e).max(), 1e-12), (a, e)


@pytest.mark.parametrize("loss", list(OUTPUT))
@pytest.mark.parametrize("seed", range(12))
def test_weighted_loss_and_gradients_match_autograd(loss, seed):
    sizes, params, X, y, Y, w = draw(seed, loss)
    l2 = 0.1 * (seed % 3)
    net = network(sizes, params, loss, l2)
    value = net.backward(X, y, sample_weight=w)
    expected = oracle_grad(params, X, Y, w, loss, l2)
    close(value, oracle_loss(params, X, Y, w, loss, l2))
    close(net.loss_value(X, y, sample_weight=w), value, 1e-12)
    for layer, (dW, db) in zip(net.layers, expected):
        close(layer.dW, dW)
        close(layer.db, db)


oracle_grad = grad(oracle_loss)


# ---- integer weights are repeated rows ------------------------------------------------------


def repeated_case(loss, seed=3):
    sizes, params, X, y, Y, _ = draw(seed, loss)
    counts = np.arange(len(X)) % 3 + 1  # 1, 2, 3, 1, …
    counts[-1] = 0 if len(X) > 1 else 1  # a row of weight 0 is a row left out
    return sizes, params, X, y, counts


@pytest.mark.parametrize("loss", list(OUTPUT))
def test_integer_weights_equal_repeated_rows(loss):
    sizes, params, X, y, counts = repeated_case(loss)
    weighted, repeated = network(sizes, params, loss, l2=0.2), network(sizes, params, loss, l2=0.2)
    value = weighted.backward(X, y, sample_weight=counts)
    close(value, repeated.backward(np.repeat(X, counts, axis=0), np.repeat(y, counts, axis=0)), 1e-12)
    for a, b in zip(weighted.layers, repeated.layers):
        close(a.dW, b.dW, 1e-12)
        close(a.db, b.db, 1e-12)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy", "bce"])
def test_full_batch_training_with_integer_weights_equals_training_on_repeated_rows(loss):
    sizes, params, X, y, counts = repeated_case(loss, seed=5)
    weighted, repeated = network(sizes, params, loss, l2=0.05), network(sizes, params, loss, l2=0.05)
    kw = dict(epochs=15, optimizer=cr.Adam(lr=0.05), progress=False, diagnostics=False, record=1)
    h1 = weighted.fit(X, y, sample_weight=counts, **kw)
    h2 = repeated.fit(np.repeat(X, counts, axis=0), np.repeat(y, counts, axis=0), **kw)
    close(weighted.theta, repeated.theta, 1e-9)
    close(h1.loss, h2.loss, 1e-10)  # the History's losses are weighted means too
    if loss != "mse":
        close(h1.accuracy, h2.accuracy, 1e-12)


def test_uniform_weights_change_nothing():
    sizes, params, X, y, _, _ = draw(7, "mse")
    a, b = network(sizes, params, "mse", l2=0.3), network(sizes, params, "mse", l2=0.3)
    close(a.backward(X, y, sample_weight=np.ones(len(X))), b.backward(X, y), 1e-12)
    close(a.grad, b.grad, 1e-12)


# ---- weights in the loop: batches, History, validation --------------------------------------


def test_shuffled_batches_carry_each_rows_weight():
    X = np.arange(23.0)[:, None] * [1.0, -1.0]
    w = X[:, 0] * 10  # a row's weight names its row
    order = np.random.default_rng(0).permutation(23)
    seen = []
    for Xb, Yb, wb in Batches(X, X.copy(), 5, w)(order):
        np.testing.assert_array_equal(wb, Xb[:, 0] * 10)
        seen += list(wb)
    assert sorted(seen) == sorted(w)


def test_mini_batch_history_loss_is_the_weighted_mean_of_the_batches():
    """One SGD epoch at a learning rate far below the weights' rounding (1e-300) sees fixed weights: its logged loss is then the weighted loss of
    the whole set (each batch's weighted mean, counted by the batch's weight)."""
    sizes, params, X, y, _, w = draw(11, "cross_entropy")
    X, y, w = np.tile(X, (5, 1)), np.tile(y, 5), np.tile(w, 5)
    net = network(sizes, params, "cross_entropy")
    expected = net.loss_value(X, y, sample_weight=w)
    h = net.fit(X, y, sample_weight=w, epochs=1, batch_size=3, optimizer=cr.SGD(lr=1e-300), progress=False,
                diagnostics=False, validation_data=(X, y, w))
    close(h.loss[0], expected, 1e-10)
    close(h.val_loss[0], expected, 1e-10)
    hits = (net.predict(X).argmax(axis=1) == y).astype(float)
    close(h.val_accuracy[0], np.dot(w, hits) / w.sum(), 1e-12)


def test_validation_split_takes_the_rows_weights():
    sizes, params, X, y, _, w = draw(2, "mse")
    X, y, w = np.tile(X, (4, 1)), np.tile(y, (4, 1)), np.tile(w, 4)
    keep = int(len(X) * 0.75)
    net = network(sizes, params, "mse")
    h = net.fit(X, y, sample_weight=w, epochs=1, optimizer=cr.SGD(lr=1e-300), validation_split=0.25, progress=False,
                diagnostics=False)
    close(h.val_loss[0], net.loss_value(X[keep:], y[keep:], sample_weight=w[keep:]), 1e-10)
    close(h.loss[0], net.loss_value(X[:keep], y[:keep], sample_weight=w[:keep]), 1e-10)


# ---- bad weights ---------------------------------------------------------------------------


@pytest.mark.parametrize("w, message", [
    (np.ones(3), r"shape \(4,\); got shape \(3,\)"),
    (np.ones((4, 1)), r"got shape \(4, 1\)"),
    ([1, -1, 1, 1], "row 1 has weight -1"),
    ([0, 0, 0, 0], "sums to 0"),
    ([1, np.nan, 1, 1], "sample_weight"),
    ([1e308, 1e308, 1, 1], "sums to inf"),
    (["a", "b", "c", "d"], "sample_weight"),
])
def test_bad_sample_weights_are_refused_with_one_message(w, message):
    net = cr.Network([cr.Dense(2, 1)], seed=0)
    with pytest.raises(ValueError, match=message):
        net.fit(np.ones((4, 2)), np.ones(4), sample_weight=w, epochs=1, progress=False)


def test_validation_triple_is_checked():
    net = cr.Network([cr.Dense(2, 1)], seed=0)
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="shape \\(4,\\)"):
        net.fit(X, np.ones(4), validation_data=(X, np.ones(4), np.ones(2)), epochs=1, progress=False)
    with pytest.raises(ValueError, match="pair .* or a triple"):
        net.fit(X, np.ones(4), validation_data=(X,), epochs=1, progress=False)


def test_a_users_loss_without_weights_says_how_to_take_them():
    class Unweighted(MSE):
        name = "unweighted"

        def value(self, a, y):
            return super().value(a, y)

    net = cr.Network([cr.Dense(2, 1)], loss=Unweighted(), seed=0)
    net.fit(np.ones((4, 2)), np.ones(4), epochs=1, progress=False)  # unweighted still trains
    with pytest.raises(ValueError, match="w=None"):
        net.backward(np.ones((4, 2)), np.ones(4), sample_weight=np.ones(4))


def test_a_batch_whose_rows_all_weigh_zero_is_skipped():
    X, y = np.arange(12.0).reshape(6, 2) / 10, np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    w = np.array([0.0, 0.0, 1.0, 2.0, 1.0, 1.0])
    net = cr.Network([cr.Dense(2, 3, "tanh"), cr.Dense(3, 1)], seed=0)
    same = net.copy()
    history = net.fit(X, y, sample_weight=w, batch_size=2, shuffle=False, epochs=3, optimizer=cr.SGD(0.1),
                      diagnostics=False, validation_data=(X, y, w))
    # the same steps as training on the weighted batches alone: the first batch (weights 0, 0) gives none
    reference = same.fit(X[2:], y[2:], sample_weight=w[2:], batch_size=2, shuffle=False, epochs=3,
                         optimizer=cr.SGD(0.1), diagnostics=False)
    np.testing.assert_allclose(net.theta, same.theta, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(history.loss, reference.loss, rtol=1e-13)
    assert np.isfinite(history.val_loss).all()
