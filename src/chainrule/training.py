"""The training loop: batches, shuffling, History, early stopping and a progress bar."""

import math
import os
import sys
import time
import warnings

import numpy as np

from .diagnostics import Monitor
from .optimizers import Adam, get_optimizer

__all__ = ["fit", "History", "EarlyStopping"]


class History:
    """What ``fit`` measured, one entry per epoch (Keras's History, as plain lists).

    ``loss`` (training loss, the mean over the epoch's batches before each update),
    ``accuracy`` (classification losses only), ``val_loss`` and ``val_accuracy`` (with
    ``validation_data``), ``grad_norms`` (per epoch, each layer's mean ‖∂L/∂W‖ over the
    batches), ``time`` (seconds per epoch). With diagnostics on (the default) also, per epoch and
    per layer (None where it does not apply), measured on a few sampled batches:
    ``dead_fraction`` (ReLU layers: fraction of units never active), ``saturated_fraction``
    (hidden sigmoid/tanh layers: fraction of activations where f′ < 4% of its peak) and
    ``update_ratio`` (‖ΔW‖/‖W‖ of a step), each row a tuple — on the epochs of
    ``diagnostics.measured_epoch``'s schedule, a tuple of None on the others. ``stop_reason``
    says why training ended early, ``findings`` holds what the diagnostics found (a list of
    ``diagnostics.Finding``).
    """

    KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "grad_norms", "time",
            "dead_fraction", "saturated_fraction", "update_ratio")

    def __init__(self):
        for key in self.KEYS:
            setattr(self, key, [])
        self.stop_reason = None
        self.findings = []

    @property
    def epochs(self):
        return len(self.loss)

    def as_dict(self):
        d = {key: list(getattr(self, key)) for key in self.KEYS}
        d["stop_reason"] = self.stop_reason
        d["findings"] = [f.as_dict() for f in self.findings]
        return d

    def __repr__(self):
        last = f", loss={self.loss[-1]:.6g}" if self.loss else ""
        return f"History(epochs={self.epochs}{last})"


class EarlyStopping:
    """Stop when ``monitor`` ("val_loss" when there is validation data, else "loss") has not
    improved by more than ``min_delta`` for ``patience`` epochs; ``restore_best`` puts back
    the weights of the best epoch."""

    def __init__(self, patience=10, min_delta=0.0, monitor=None, restore_best=True):
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping patience must be a positive integer, got {patience!r}")
        if monitor not in (None, "loss", "val_loss"):
            raise ValueError(f"EarlyStopping monitor must be 'loss' or 'val_loss', got {monitor!r}")
        self.patience, self.min_delta, self.monitor, self.restore_best = patience, float(min_delta), monitor, restore_best

    def start(self, has_validation):
        self.watch = self.monitor or ("val_loss" if has_validation else "loss")
        if self.watch == "val_loss" and not has_validation:
            raise ValueError("EarlyStopping(monitor='val_loss') needs validation_data=(X_val, y_val)")
        self.best, self.best_epoch, self.best_weights = math.inf, 0, None

    def should_stop(self, net, history):
        """Record the epoch; True (with the best weights restored) once patience has run out."""
        current, epoch = getattr(history, self.watch)[-1], history.epochs
        if current < self.best - self.min_delta:
            self.best, self.best_epoch = current, epoch
            if self.restore_best:
                self.best_weights = [p.copy() for _, _, p, _, _ in net.parameters()]
            return False
        if epoch - self.best_epoch < self.patience:
            return False
        history.stop_reason = (
            f"early stopping: {self.watch} did not improve for {self.patience} epochs "
            f"(best {self.best:.6g} at epoch {self.best_epoch})"
        )
        if self.best_weights is not None:
            for saved, (_, _, p, _, _) in zip(self.best_weights, net.parameters()):
                p[...] = saved
        return True


class _Progress:
    """A one-line progress bar on a terminal's stderr; silent elsewhere (CI logs, files, pipes)."""

    def __init__(self, epochs, enabled):
        self.stream = sys.stderr
        self.enabled = bool(enabled) and self.stream.isatty() and not os.environ.get("CI")
        self.epochs, self.start, self.last = epochs, time.perf_counter(), 0.0
        self.on_line = False

    def update(self, epoch, history):
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last < 0.1 and epoch < self.epochs:
            return
        self.last = now
        done = epoch / self.epochs
        eta = (now - self.start) * (1 - done) / done
        bar = "█" * int(24 * done) + "·" * (24 - int(24 * done))
        text = f"\repoch {epoch}/{self.epochs} {bar} loss {history.loss[-1]:.4g}"
        if history.accuracy:
            text += f" acc {history.accuracy[-1]:.3f}"
        if history.val_loss:
            text += f" val_loss {history.val_loss[-1]:.4g}"
        self.stream.write(text + f" ETA {eta:.0f}s ")
        self.stream.flush()
        self.on_line = True

    def newline(self):
        """End the bar's line, so that a warning printed now starts on a line of its own."""
        if self.on_line:
            self.stream.write("\n")
            self.on_line = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.newline()


def fit(
    net,
    X,
    y,
    optimizer=None,
    epochs=100,
    batch_size=None,
    shuffle=True,
    validation_data=None,
    early_stopping=None,
    progress=True,
    diagnostics=True,
):
    """Train ``net`` on (X, y) and return a ``History``.

    ``optimizer``: an Optimizer, or "sgd"/"rmsprop"/"adam" with their defaults (default Adam()).
    ``batch_size``: None for full batch, 1 for stochastic, k for mini-batches of k rows.
    ``shuffle``: reshuffle the rows every epoch (from the network's seeded generator).
    ``validation_data``: (X_val, y_val), evaluated after every epoch.
    ``early_stopping``: an EarlyStopping, or an int patience.
    ``progress``: show a progress bar when stderr is a terminal (never in CI or in logs).
    ``diagnostics``: check the data and network before training and per-layer statistics while
    training (``chainrule.diagnostics``); each problem found is kept in ``history.findings`` and
    shown once as a ``DiagnosticWarning``. False turns this off.
    """
    optimizer = Adam() if optimizer is None else get_optimizer(optimizer)
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    X, Y = net.check_data(X, y)
    n = len(X)
    batch_size = batch_rows(batch_size, n)
    val = None if validation_data is None else net.check_data(*_pair(validation_data))
    if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
        early_stopping = EarlyStopping(patience=early_stopping)
    elif early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise ValueError("early_stopping must be None, an int patience, or chainrule.EarlyStopping(...)")
    if early_stopping is not None:
        early_stopping.start(val is not None)

    history = History()
    # a diverging run overflows: that is reported once, as stop_reason, not as a stream of warnings
    with np.errstate(over="ignore", invalid="ignore"), _Progress(epochs, progress) as bar:
        monitor = Monitor(net, X, Y, history, optimizer, batch_size, bar.newline) if diagnostics else None
        watched = monitor.watch(optimizer) if monitor else None
        if monitor:
            monitor.start()
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            order = net.rng.permutation(n) if shuffle and batch_size < n else None
            stepper = watched if monitor and monitor.measuring else optimizer  # unmeasured epochs: no wrapper
            try:
                loss, correct, norms = _epoch(net, stepper, X, Y, batch_size, order)
            except _Diverged as e:
                where = f": {monitor.diverged(epoch, e)}" if monitor else ""
                history.stop_reason = f"{e} at epoch {epoch}{where}; " + _Diverged.advice
                if not monitor:  # the monitor has shown it as its nan_loss finding
                    warnings.warn(history.stop_reason, stacklevel=3)
                break
            history.loss.append(loss)
            if net.loss.classification:
                history.accuracy.append(correct)
            history.grad_norms.append(norms)
            if val is not None:
                v_loss, v_acc = evaluate(net, *val, batch_size)
                history.val_loss.append(v_loss)
                if v_acc is not None:
                    history.val_accuracy.append(v_acc)
            history.time.append(time.perf_counter() - t0)
            if monitor:
                monitor.end_epoch(epoch)
            bar.update(epoch, history)
            if early_stopping is not None and early_stopping.should_stop(net, history):
                break
        if monitor:
            monitor.finish()
    return history


def batch_rows(batch_size, n):
    """The rows of a batch for ``batch_size`` on n rows: n for None (full batch), else the positive
    integer given, at most n; ValueError otherwise."""
    if batch_size is None:
        return n
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be None (full batch) or a positive integer, got {batch_size!r}")
    return min(batch_size, n)


class _Diverged(ArithmeticError):
    advice = (
        "training stopped before applying that step, keeping the last finite weights "
        "(try a smaller learning rate, gradient clipping, or standardized inputs)"
    )


def _epoch(net, optimizer, X, Y, batch_size, order):
    """One pass over the data: backward and step per batch. Returns the epoch's mean loss,
    accuracy (classification) and per-layer mean gradient norms, all from before each update."""
    n = len(X)
    layers = net.layers
    accuracy = net.loss.accuracy if net.loss.classification else None
    total_loss = total_correct = 0.0
    norms = [0.0] * len(layers)
    for Xb, Yb in _batches(net, X, Y, batch_size, order):
        loss = net._backward(Xb, Yb)
        if not math.isfinite(loss):
            raise _Diverged(f"the loss became non-finite ({loss})")
        m = len(Xb)
        total_loss += loss * m
        if accuracy is not None:
            total_correct += accuracy(layers[-1].A, Yb) * m
        for l, layer in enumerate(layers):
            norms[l] += math.sqrt(np.vdot(layer.dW, layer.dW))  # ‖∂L/∂W(l)‖
        if not math.isfinite(sum(norms)):
            raise _Diverged("the gradient became non-finite")
        optimizer.step(net)
    n_batches = -(-n // batch_size)
    return total_loss / n, total_correct / n, [v / n_batches for v in norms]


def _batches(net, X, Y, batch_size, order=None):
    """(X_b, Y_b) for each batch: slices of X, Y in their order, or — shuffled — the rows of
    ``order`` gathered into buffers reused from batch to batch (no copy of the whole data set)."""
    if batch_size >= len(X) and order is None:
        return ((X, Y),)  # one full batch: no slicing, no generator (W3's 1000 epochs feel it)
    return _minibatches(net, X, Y, batch_size, order)


def _minibatches(net, X, Y, batch_size, order):
    n = len(X)
    if order is not None:
        buffers = net._workspaces.get("batch")
        if buffers is None or buffers[0].shape[0] < batch_size or buffers[0].shape[1:] != X.shape[1:]:
            buffers = net._workspaces["batch"] = (np.empty((batch_size,) + X.shape[1:], X.dtype),
                                                  np.empty((batch_size,) + Y.shape[1:], Y.dtype))
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        if order is None:
            yield X[start:stop], Y[start:stop]
        else:
            rows, m = order[start:stop], stop - start
            yield (np.take(X, rows, axis=0, out=buffers[0][:m], mode="clip"),
                   np.take(Y, rows, axis=0, out=buffers[1][:m], mode="clip"))


def _pair(validation_data):
    try:
        X_val, y_val = validation_data
    except (TypeError, ValueError):
        raise ValueError("validation_data must be a pair (X_val, y_val)") from None
    return X_val, y_val


def evaluate(net, X, Y, batch_size=None):
    """(loss, accuracy or None) of ``net`` on already-checked data X, Y, computed in chunks of
    ``batch_size`` rows (every loss is a mean over rows, so the chunks' means weight by rows)."""
    n = len(X)
    total_loss = total_correct = 0.0
    for Xb, Yb in _batches(net, X, Y, batch_size or n):
        net._forward(Xb)
        total_loss += net._data_loss(Yb) * len(Xb)
        if net.loss.classification:
            total_correct += net.loss.accuracy(net.layers[-1].A, Yb) * len(Xb)
    return total_loss / n + net.penalty(n), (total_correct / n if net.loss.classification else None)
