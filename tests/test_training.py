"""fit: networks learn (XOR, moons, digits); batching, History, validation, early stopping,
progress bar, non-finite losses."""

import io

import numpy as np
import pytest

import chainrule as cr
from chainrule import progress as progress_bar

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


def xor_net(seed):
    """The lab's 2-4-1 sigmoid network, with the README's settings."""
    return cr.Network([cr.Dense(2, 4, "sigmoid"), cr.Dense(4, 1, "sigmoid")], loss="bce", seed=seed)


def test_xor_learns_from_at_least_9_of_10_seeds():
    learned = 0
    for seed in range(10):
        net = xor_net(seed)
        net.fit(XOR_X, XOR_Y, optimizer=cr.SGD(lr=1.0), epochs=2000, progress=False)
        learned += bool(((net.predict(XOR_X).ravel() > 0.5) == XOR_Y).all())
    assert learned >= 9


def _split(X, y, seed=0, test=0.3):
    idx = np.random.default_rng(seed).permutation(len(X))
    k = int(len(X) * test)
    return X[idx[k:]], X[idx[:k]], y[idx[k:]], y[idx[:k]]


def test_moons_reaches_95_percent_test_accuracy():
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=500, noise=0.2, random_state=0)
    Xtr, Xte, ytr, yte = _split(X, y)
    mu, sd = Xtr.mean(0), Xtr.std(0)
    net = cr.Network([cr.Dense(2, 16, "tanh"), cr.Dense(16, 1, "sigmoid")], loss="bce", seed=0)
    net.fit((Xtr - mu) / sd, ytr, optimizer=cr.Adam(0.01), epochs=300, progress=False)
    acc = np.mean((net.predict((Xte - mu) / sd).ravel() > 0.5) == yte)
    assert acc >= 0.95


def test_digits_softmax_reaches_95_percent_test_accuracy():
    from sklearn.datasets import load_digits

    d = load_digits()
    Xtr, Xte, ytr, yte = _split(d.data / 16.0, d.target)
    net = cr.Network([cr.Dense(64, 64, "relu"), cr.Dense(64, 10, "softmax")], loss="cross_entropy", seed=0)
    h = net.fit(Xtr, ytr, optimizer=cr.Adam(1e-3), epochs=30, batch_size=32, validation_data=(Xte, yte), progress=False)
    acc = np.mean(net.predict(Xte).argmax(axis=1) == yte)
    assert acc >= 0.95
    assert h.val_accuracy[-1] == pytest.approx(acc)


@pytest.mark.parametrize("batch_size", [None, 1, 3])
def test_full_stochastic_and_minibatch_steps(batch_size):
    """One epoch of plain SGD equals the updates written out batch by batch (no shuffling)."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    net = cr.Network([cr.Dense(3, 4, "tanh"), cr.Dense(4, 2)], loss="mse", seed=1)
    ref = net.copy()
    net.fit(X, Y, optimizer=cr.SGD(0.1), epochs=1, batch_size=batch_size, shuffle=False, progress=False)
    k = 7 if batch_size is None else batch_size
    for start in range(0, 7, k):
        ref.backward(X[start : start + k], Y[start : start + k])
        for _, _, p, g, _ in ref.parameters():
            p -= 0.1 * g
    for (_, _, p, _, _), (_, _, q, _, _) in zip(net.parameters(), ref.parameters()):
        np.testing.assert_allclose(p, q, rtol=1e-13)


def test_history_records_every_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    net = cr.Network([cr.Dense(2, 3, "tanh"), cr.Dense(3, 1, "sigmoid")], loss="bce", seed=0)
    h = net.fit(X, y, optimizer=cr.SGD(0.5), epochs=6, batch_size=10, validation_data=(X[:10], y[:10]), progress=False)
    assert h.epochs == 6
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "grad_norms", "time"):
        assert len(getattr(h, key)) == 6, key
    assert all(len(n) == 2 and all(v > 0 for v in n) for n in h.grad_norms)
    assert h.loss[-1] < h.loss[0]
    assert set(h.as_dict()) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "grad_norms", "time"}
    # regression: no accuracy
    h = cr.Network([cr.Dense(2, 1)], loss="mse", seed=0).fit(X, X[:, :1], epochs=2, progress=False)
    assert h.accuracy == [] and len(h.loss) == 2


def test_epoch_loss_is_the_mean_of_the_batch_losses_before_each_update():
    X = np.arange(8.0).reshape(4, 2) / 8
    y = np.array([[0.1], [0.4], [0.3], [0.9]])
    net = cr.Network([cr.Dense(2, 1, "sigmoid")], loss="mse", seed=0)
    ref = net.copy()
    h = net.fit(X, y, optimizer=cr.SGD(0.5), epochs=1, batch_size=2, shuffle=False, progress=False)
    first = ref.backward(X[:2], y[:2])
    for _, _, p, g, _ in ref.parameters():
        p -= 0.5 * g
    second = ref.loss_value(X[2:], y[2:])
    assert h.loss[0] == pytest.approx((first + second) / 2, rel=1e-14)


def test_shuffling_changes_the_order_but_is_reproducible():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(20, 2)), rng.normal(size=(20, 1))

    def run(shuffle, seed=0):
        net = cr.Network([cr.Dense(2, 1)], loss="mse", seed=seed)
        net.fit(X, Y, optimizer=cr.SGD(0.1), epochs=2, batch_size=4, shuffle=shuffle, progress=False)
        return net.layers[0].W.copy()

    assert not np.array_equal(run(True), run(False))
    np.testing.assert_array_equal(run(True), run(True))


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = X @ np.array([[1.0], [-2.0]])
    Xv, yv = rng.normal(size=(10, 2)), rng.normal(size=(10, 1))  # unrelated: validation loss soon rises
    net = cr.Network([cr.Dense(2, 1)], loss="mse", seed=0)
    h = net.fit(X, y, optimizer=cr.SGD(0.05), epochs=500, validation_data=(Xv, yv),
                early_stopping=cr.EarlyStopping(patience=5), progress=False)
    assert h.epochs < 500 and "early stopping" in h.stop_reason
    best = int(np.argmin(h.val_loss))
    assert h.epochs == best + 1 + 5
    assert net.loss_value(Xv, yv) == pytest.approx(h.val_loss[best], rel=1e-12)


@pytest.mark.filterwarnings("ignore::chainrule.DiagnosticWarning")  # the other findings on these inputs
def test_non_finite_loss_stops_training_and_keeps_finite_weights():
    X = np.array([[1e3, -1e3], [2e3, 5e2]])
    y = np.array([[1.0], [-1.0]])
    net = cr.Network([cr.Dense(2, 8, "linear"), cr.Dense(8, 1)], loss="mse", seed=0)
    with pytest.warns(UserWarning, match="non-finite"):
        h = net.fit(X, y, optimizer=cr.SGD(1.0), epochs=50, progress=False)
    assert h.stop_reason and "non-finite" in h.stop_reason
    assert all(np.isfinite(p).all() for _, _, p, _, _ in net.parameters())
    assert h.epochs < 50


def test_progress_bar_only_on_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    for is_tty, ci, progress, shown in [(True, None, True, True), (True, "true", True, False),
                                        (False, None, True, False), (True, None, False, False)]:
        stream = Tty() if is_tty else io.StringIO()
        monkeypatch.setattr(progress_bar.sys, "stderr", stream)
        if ci:
            monkeypatch.setenv("CI", ci)
        else:
            monkeypatch.delenv("CI", raising=False)
        xor_net(0).fit(XOR_X, XOR_Y, epochs=3, progress=progress)
        assert ("epoch 3/3" in stream.getvalue()) == shown, (is_tty, ci, progress)


def test_history_as_dict_is_a_table_of_one_row_per_epoch():
    pd = pytest.importorskip("pandas")
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    net = cr.Network([cr.Dense(2, 3, "tanh"), cr.Dense(3, 1, "sigmoid")], loss="bce", seed=0)
    with pytest.warns(cr.DiagnosticWarning):
        h = net.fit(X, y, epochs=30, validation_split=0.25, early_stopping=cr.EarlyStopping(3, min_delta=1.0),
                    optimizer=cr.SGD(1e-6), progress=False)
    assert h.stop_reason and h.findings and h.epochs == 4  # a stop reason and findings, kept as attributes
    frame = pd.DataFrame(h.as_dict())
    assert list(frame["epoch"]) == list(range(1, h.epochs + 1)) and frame["loss"].tolist() == h.loss
    assert {"accuracy", "val_loss", "val_accuracy", "grad_norms", "time"} <= set(frame.columns)
    regression = cr.Network([cr.Dense(2, 1)], seed=0).fit(X, X[:, :1], epochs=3, progress=False).as_dict()
    assert set(regression) == {"epoch", "loss", "grad_norms", "time"}  # no empty series: no accuracy
    assert pd.DataFrame(regression).shape == (3, 4)
