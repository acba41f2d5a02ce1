"""The training loop: batches, shuffling, History, early stopping and a progress bar."""

import math
import os
import sys
import time

import numpy as np

from .optimizers import Adam, get_optimizer

__all__ = ["fit", "History", "EarlyStopping"]


class History:
    """What ``fit`` measured, one entry per epoch (Keras's History, as plain lists).

    ``loss`` (training loss, the mean over the epoch's batches before each update),
    ``accuracy`` (classification losses only), ``val_loss`` and ``val_accuracy`` (with
    ``validation_data``), ``grad_norms`` (per epoch, each layer's mean ‖∂L/∂W‖ over the
    batches), ``time`` (seconds per epoch). ``stop_reason`` says why training ended early,
    ``findings`` holds what the diagnostics found.
    """

    KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "grad_norms", "time")

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


class _Progress:
    """A one-line progress bar on a terminal's stderr; silent elsewhere (CI logs, files, pipes)."""

    def __init__(self, epochs, enabled):
        self.stream = sys.stderr
        self.enabled = bool(enabled) and self.stream.isatty() and not os.environ.get("CI")
        self.epochs, self.start, self.last = epochs, time.perf_counter(), 0.0

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

    def close(self):
        if self.enabled:
            self.stream.write("\n")


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
):
    """Train ``net`` on (X, y) and return a ``History``.

    ``optimizer``: an Optimizer, or "sgd"/"rmsprop"/"adam" with their defaults (default Adam()).
    ``batch_size``: None for full batch, 1 for stochastic, k for mini-batches of k rows.
    ``shuffle``: reshuffle the rows every epoch (from the network's seeded generator).
    ``validation_data``: (X_val, y_val), evaluated after every epoch.
    ``early_stopping``: an EarlyStopping, or an int patience.
    ``progress``: show a progress bar when stderr is a terminal (never in CI or in logs).
    """
    optimizer = Adam() if optimizer is None else get_optimizer(optimizer)
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    X, Y = net.check_data(X, y)
    n = len(X)
    if batch_size is None:
        batch_size = n
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be None (full batch) or a positive integer, got {batch_size!r}")
    batch_size = min(batch_size, n)
    val = None if validation_data is None else net.check_data(*_pair(validation_data))
    if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
        early_stopping = EarlyStopping(patience=early_stopping)
    elif early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise ValueError("early_stopping must be None, an int patience, or chainrule.EarlyStopping(...)")
    monitor = None
    if early_stopping is not None:
        monitor = early_stopping.monitor or ("val_loss" if val is not None else "loss")
        if monitor == "val_loss" and val is None:
            raise ValueError("EarlyStopping(monitor='val_loss') needs validation_data=(X_val, y_val)")
    best, best_epoch, best_weights = math.inf, 0, None

    history = History()
    bar = _Progress(epochs, progress)
    n_layers = len(net.layers)
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            order = net.rng.permutation(n) if shuffle and batch_size < n else None
            total_loss, total_correct, norms = 0.0, 0.0, np.zeros(n_layers)
            n_batches = 0
            for start in range(0, n, batch_size):
                rows = slice(start, start + batch_size) if order is None else order[start : start + batch_size]
                Xb, Yb = X[rows], Y[rows]
                loss = net._backward(Xb, Yb)
                batch_norms = [math.sqrt(np.vdot(layer.dW, layer.dW)) for layer in net.layers]
                if not math.isfinite(loss + sum(batch_norms)):
                    what = "loss" if not math.isfinite(loss) else "gradient"
                    history.stop_reason = (
                        f"the {what} became non-finite at epoch {epoch}; training stopped before applying it, "
                        "keeping the last finite weights (try a smaller learning rate, gradient clipping, "
                        "or standardized inputs)"
                    )
                    break
                m = len(Xb)
                total_loss += loss * m
                if net.loss.classification:
                    total_correct += net.loss.accuracy(net.layers[-1].A, Yb) * m
                norms += batch_norms
                n_batches += 1
                optimizer.step(net)
            if history.stop_reason:
                break
            history.loss.append(total_loss / n)
            if net.loss.classification:
                history.accuracy.append(total_correct / n)
            history.grad_norms.append((norms / n_batches).tolist())
            if val is not None:
                v_loss, v_acc = evaluate(net, *val)
                history.val_loss.append(v_loss)
                if v_acc is not None:
                    history.val_accuracy.append(v_acc)
            history.time.append(time.perf_counter() - t0)
            bar.update(epoch, history)
            if early_stopping is not None:
                current = getattr(history, monitor)[-1]
                if current < best - early_stopping.min_delta:
                    best, best_epoch = current, epoch
                    if early_stopping.restore_best:
                        best_weights = [(p.copy(), p) for *_, p, _, _ in net.parameters()]
                elif epoch - best_epoch >= early_stopping.patience:
                    history.stop_reason = (
                        f"early stopping: {monitor} did not improve for {early_stopping.patience} epochs "
                        f"(best {best:.6g} at epoch {best_epoch})"
                    )
                    if best_weights is not None:
                        for saved, p in best_weights:
                            p[...] = saved
                    break
    finally:
        bar.close()
    return history


def _pair(validation_data):
    try:
        X_val, y_val = validation_data
    except (TypeError, ValueError):
        raise ValueError("validation_data must be a pair (X_val, y_val)") from None
    return X_val, y_val


def evaluate(net, X, Y):
    """(loss, accuracy or None) of ``net`` on already-checked data X, Y."""
    net._forward(X)
    loss = net._loss_from_output(Y)
    acc = net.loss.accuracy(net.layers[-1].A, Y) if net.loss.classification else None
    return loss, acc
