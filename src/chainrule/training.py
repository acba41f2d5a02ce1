"""The training loop: epochs of batches, each a backward pass and an optimizer step, with callbacks
(the History, early stopping, the progress bar, the diagnostics, schedules, your own) at fixed points."""

import math
import numbers
import time
import warnings

import numpy as np

from .batches import Batches, batch_rows
from .callbacks import HOOKS, Callback, overriding
from .epochs import thinned_epochs
from .optimizers import Adam, NonFiniteStep, get_optimizer
from .validation import flag, integer, number

__all__ = ["fit", "evaluate", "History", "EarlyStopping", "Trainer"]


class History(Callback):
    """What ``fit`` measured, one entry per epoch (Keras's History, as plain lists).

    ``loss`` (training loss, the mean over the epoch's batches before each update),
    ``accuracy`` (classification losses only: the fraction right, over the epoch's batches before
    each update), ``val_loss`` and ``val_accuracy`` (with validation data), ``grad_norms`` (each
    layer's mean ‖∂L/∂W‖ over the epoch's batches), ``time`` (seconds per epoch). ``accuracy`` and
    ``grad_norms`` cost a little per batch: they are taken on the epochs ``fit``'s ``record`` asks
    for (by default every epoch of a short run and about 10 per doubling of a long one, and the
    last) and hold None on the others. ``stop_reason`` says why training ended early (``diverged``
    is True when it was a NaN or inf); ``findings`` holds what the diagnostics found
    (``chainrule.diagnostics.Finding``s) and ``diagnostics`` their per-epoch statistics
    (``chainrule.diagnostics.Statistics``), when they ran.

    ``as_dict()`` holds the per-epoch series only, every one as long as the run, so that
    ``pandas.DataFrame(history.as_dict())`` is a table of one row per epoch; ``stop_reason``,
    ``diverged``, ``findings`` and ``diagnostics`` are not per-epoch and stay attributes.
    """

    KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "grad_norms", "time")

    def __init__(self):
        for key in self.KEYS:
            setattr(self, key, [])
        self.stop_reason = None
        self.diverged = False  # True when a NaN or inf stopped training
        self.findings = []
        self.diagnostics = None

    @property
    def epochs(self):
        return len(self.loss)

    def on_epoch_end(self, trainer, epoch, logs):
        series = self.__dict__
        for key, value in logs.items():
            series[key].append(value)

    def as_dict(self):
        """{"epoch": [1, …, n], series: [n values]} for every series the run recorded (``accuracy``
        for classification losses, ``val_*`` with validation data): equal lengths, one per epoch."""
        d = {"epoch": list(range(1, self.epochs + 1))}
        d.update((key, list(getattr(self, key))) for key in self.KEYS if getattr(self, key))
        return d

    def __repr__(self):
        last = f", loss={self.loss[-1]:.6g}" if self.loss else ""
        return f"History(epochs={self.epochs}{last})"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs;
    ``restore_best`` puts back the weights (and running statistics) of the best epoch. ``monitor``: "loss", "val_loss",
    "accuracy" or "val_accuracy" (losses must fall, accuracies rise); default "val_loss" when
    there is validation data, else "loss"."""

    MONITORS = {"loss": 1, "val_loss": 1, "accuracy": -1, "val_accuracy": -1}  # +1: lower is better

    def __init__(self, patience=10, min_delta=0.0, monitor=None, restore_best=True):
        if monitor is not None and not (isinstance(monitor, str) and monitor in self.MONITORS):
            raise ValueError(f"EarlyStopping monitor must be one of {', '.join(self.MONITORS)}, got {monitor!r}")
        self.patience = integer("EarlyStopping patience", patience, low=1)
        self.min_delta = number("EarlyStopping min_delta", min_delta, low=0)
        self.monitor, self.restore_best = monitor, flag("EarlyStopping restore_best", restore_best)

    def on_train_begin(self, trainer):
        validation = trainer.validation is not None
        self.watch = self.monitor or ("val_loss" if validation else "loss")
        if self.watch.startswith("val_") and not validation:
            raise ValueError(f"EarlyStopping(monitor={self.watch!r}) needs validation_data=(X_val, y_val) "
                             "or validation_split")
        if self.watch.endswith("accuracy") and not trainer.net.loss.classification:
            raise ValueError(f"EarlyStopping(monitor={self.watch!r}) needs a classification loss; "
                             f"monitor {self.watch.replace('accuracy', 'loss')!r} instead")
        self.sign = self.MONITORS[self.watch]
        self.best, self.best_epoch, self.best_weights = math.inf, 0, None

    def on_epoch_begin(self, trainer, epoch):
        if self.watch == "accuracy":
            trainer.recording = True  # judged on every epoch

    def on_epoch_end(self, trainer, epoch, logs):
        score = self.sign * logs[self.watch]  # lower is better
        if score < self.best - self.min_delta:
            self.best, self.best_epoch = score, epoch
            if self.restore_best:
                self.best_weights = trainer.net.theta.copy(), trainer.net.running.copy()
        elif epoch - self.best_epoch >= self.patience:
            trainer.stop(f"early stopping: {self.watch} did not improve for {self.patience} epochs "
                         f"(best {self.sign * self.best:.6g} at epoch {self.best_epoch})")
            if self.best_weights is not None:
                trainer.net.theta[...], trainer.net.running[...] = self.best_weights


class Diverged(ArithmeticError):
    """The loss, a gradient or an update became NaN or inf (``what``: "loss", "gradient" or
    "update") at ``epoch``: the step was not applied. ``where`` may name the first quantity of the
    pass that went non-finite (the diagnostics find it)."""

    advice = ("training stopped before applying that step, keeping the last finite weights "
              "(try a smaller learning rate, gradient clipping, or standardized inputs)")

    def __init__(self, what, message):
        super().__init__(message)
        self.what, self.epoch, self.where = what, None, None

    def reason(self):
        """The History's stop_reason for it."""
        where = f": {self.where}" if self.where else ""
        return f"{self.args[0]} at epoch {self.epoch}{where}; {self.advice}"


class Trainer:
    """One run of ``fit``: the network, the optimizer, the checked data, the callbacks and where the
    loop is. Callbacks receive it (see ``chainrule.callbacks``)."""

    def __init__(self, net, optimizer, X, Y, epochs, batch_size, shuffle, validation, callbacks, record=None,
                 sample_weight=None):
        self.net, self.optimizer, self.X, self.Y, self.sample_weight = net, optimizer, X, Y, sample_weight
        self.epochs, self.batch_size, self.shuffle, self.validation = epochs, batch_size, shuffle, validation
        self.recorded = _recorded(record, epochs)  # the epochs that take accuracy and gradient norms
        self.recording = False  # whether this epoch does
        self.callbacks = list(callbacks)
        self.history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        self.hooks = {hook: overriding(self.callbacks, hook) for hook in HOOKS}
        self.batches = Batches(X, Y, batch_size, sample_weight)
        last = len(X) % batch_size or batch_size  # the last batch, the smallest
        net.check_rows(last, "a training batch" if last == batch_size
                       else f"the last training batch ({len(X)} rows in batches of {batch_size} leave {last})")
        # the running statistics (BatchNorm's) before the batch in training: a refused step puts them back
        self.running = net.running.copy() if net.running.size else None
        self.epoch = 0
        self.stop_reason = self.diverged = None

    def stop(self, reason):
        """End training after the current batch; ``reason`` becomes the History's stop_reason."""
        self.stop_reason = str(reason)

    def run(self):
        """The loop: every epoch's batches, logs and hooks; then on_train_end, however it ended."""
        hooks = self.hooks
        epoch_begin, epoch_end, recorded = hooks["on_epoch_begin"], hooks["on_epoch_end"], self.recorded
        # a diverging run overflows: that is reported once, as the stop reason, not as warnings
        with np.errstate(over="ignore", invalid="ignore"):
            try:
                for hook in hooks["on_train_begin"]:
                    hook(self)
                for epoch in range(1, self.epochs + 1):
                    self.epoch, self.recording = epoch, epoch in recorded
                    for hook in epoch_begin:  # a hook may set self.recording
                        hook(self, epoch)
                    logs = self._epoch()
                    if logs is None:
                        break
                    for hook in epoch_end:
                        hook(self, epoch, logs)
                    if self.stop_reason:
                        break
            finally:
                for hook in hooks["on_train_end"]:
                    hook(self)
                if self.diverged is not None:
                    self.stop_reason = self.diverged.reason()
                if self.history is not None:
                    self.history.stop_reason, self.history.diverged = self.stop_reason, self.diverged is not None

    def _epoch(self):
        """One pass over the data, a backward pass and a step per batch; the epoch's logs, all from
        before each update (accuracy and norms only when it records them), or None when a NaN or
        inf stopped it. Each batch counts by its rows, or its total weight with sample weights.
        One function, because a long run of tiny epochs feels every call."""
        t0 = time.perf_counter()
        net, optimizer, recording, hooks = self.net, self.optimizer, self.recording, self.hooks
        on_gradients, on_batch_end = hooks["on_gradients"], hooks["on_batch_end"]
        accuracy = net.loss.accuracy if recording and net.loss.classification else None
        n, k = len(self.X), self.batch_size
        total_loss = total_correct = total_weight = 0.0
        norms = [0.0] * len(net.layers) if recording else None
        stepped = 0
        try:
            for batch, (Xb, Yb, wb) in enumerate(self.batches(net.rng.permutation(n) if self.shuffle and k < n else None)):
                weight = len(Xb) if wb is None else float(np.add.reduce(wb))  # the rows, or their total weight
                if not weight:
                    continue  # every row of weight 0: L = Σwℓ/Σw is undefined, nothing to learn, no step
                ws = net.workspace(len(Xb))
                if self.running is not None:
                    np.copyto(self.running, net.running)
                loss = net.backprop(Xb, Yb, ws, wb, training=True)
                if not math.isfinite(loss):
                    raise Diverged("loss", f"the loss became non-finite ({loss})")
                total_loss += loss * weight
                total_weight += weight
                if recording:
                    if accuracy is not None:
                        a = ws.layers[-1].a
                        total_correct += (accuracy(a, Yb) if wb is None else accuracy(a, Yb, wb)) * weight
                    for l, layer in enumerate(net.layers):
                        norms[l] += layer.grad_norm()  # ‖∂L/∂W(l)‖ (a block's: all its weights)
                for hook in on_gradients:
                    hook(self, batch)
                try:
                    optimizer.step(net)
                except NonFiniteStep as e:
                    raise _non_finite(net.grad, e) from None
                net.initial_weights = False
                stepped += 1
                for hook in on_batch_end:
                    hook(self, batch, loss)
                if self.stop_reason:
                    break
        except Diverged as e:
            if self.running is not None:
                np.copyto(net.running, self.running)  # the last finite state, running statistics too
            e.epoch, self.diverged = self.epoch, e
            return None
        seen = total_weight or math.nan  # the rows (or weight) seen: fewer when a callback stopped early
        logs = {"loss": total_loss / seen}
        if net.loss.classification:
            logs["accuracy"] = total_correct / seen if recording else None
        logs["grad_norms"] = [v / max(stepped, 1) for v in norms] if recording else None
        if self.validation is not None:
            logs["val_loss"], logs["val_accuracy"] = evaluate(net, *self.validation, batch_size=k)
            if logs["val_accuracy"] is None:
                del logs["val_accuracy"]
        logs["time"] = time.perf_counter() - t0
        return logs


def _non_finite(grad, refused):
    """The Diverged for a refused step: the gradient itself was not finite, or the update was."""
    with np.errstate(over="ignore"):
        if math.isfinite(np.vdot(grad, grad)) or np.isfinite(grad).all():
            return Diverged("update", str(refused))
    return Diverged("gradient", "the gradient became non-finite")


def _recorded(record, epochs):
    """The epochs ``fit``'s ``record`` asks for, and the last: None, the thinning schedule; k, every k-th."""
    if record is None:
        return {*thinned_epochs(epochs), epochs}
    k = integer("record (None for the default, or k for every k-th epoch)", record, low=1)
    return range(k, epochs + 1, k) if epochs % k == 0 else {*range(k, epochs + 1, k), epochs}


def fit(
    net,
    X,
    y,
    optimizer=None,
    epochs=100,
    batch_size=None,
    shuffle=True,
    validation_data=None,
    validation_split=0.0,
    early_stopping=None,
    callbacks=(),
    record=None,
    progress=True,
    diagnostics=True,
    sample_weight=None,
):
    """Train ``net`` on (X, y) and return a ``History``.

    ``optimizer``: an Optimizer, or "sgd"/"rmsprop"/"adam" with their defaults (default Adam()).
    ``batch_size``: None for full batch, 1 for stochastic, k for mini-batches of k rows.
    ``shuffle``: reshuffle the rows every epoch (from the network's seeded generator).
    ``validation_data``: (X_val, y_val) or (X_val, y_val, sample_weight_val), evaluated after every
    epoch; or ``validation_split``, the fraction of the rows of (X, y) held out for it: the last rows,
    before any shuffling (as Keras), with their sample weights.
    ``early_stopping``: an EarlyStopping, or an int patience.
    ``callbacks``: your ``chainrule.callbacks.Callback``s (and schedules), called after the History
    and the diagnostics and before early stopping and the progress bar.
    ``record``: the epochs whose accuracy and gradient norms the History takes (they cost a little
    per batch): None, every epoch up to 20, then about 10 per doubling of the run, and the last
    (``chainrule.epochs.thinned``); k, every k-th epoch and the last (1: every epoch). Callbacks may
    ask for more (the diagnostics do on the epochs they measure). The others hold None.
    ``progress``: show a progress bar on a terminal or in Jupyter (never in CI or in logs).
    ``diagnostics``: check the data and network before training and per-layer statistics while
    training (``chainrule.diagnostics``); each problem found is kept in ``history.findings`` and
    shown once as a ``DiagnosticWarning``. False turns this off.
    ``sample_weight``: one weight ≥ 0 per row; the loss becomes the weighted mean
    L = Σₙ wₙ ℓₙ / Σₙ wₙ (a row of weight 2 counts as the row twice, in the L2 penalty's m too, but
    not in a BatchNorm's batch statistics, which count every row once), and the History's losses
    and accuracies are weighted the same way. Shuffling keeps each row's weight with it; a batch
    whose rows all weigh 0 is skipped (no loss to average, no step).
    """
    optimizer = Adam() if optimizer is None else get_optimizer(optimizer)
    epochs = integer("epochs", epochs, low=1)
    shuffle, progress, diagnostics = flag("shuffle", shuffle), flag("progress", progress), flag("diagnostics", diagnostics)
    X, Y = net.check_data(X, y)
    w = net.check_weights(sample_weight, len(X))
    X, Y, w, validation = _validation(net, X, Y, w, validation_data, validation_split)
    batch_size = batch_rows(batch_size, len(X))
    history = History()
    watchers = _watchers(history, diagnostics, callbacks, early_stopping, progress)
    trainer = Trainer(net, optimizer, X, Y, epochs, batch_size, shuffle, validation, watchers, record, w)
    trainer.run()
    if trainer.diverged and not diagnostics:  # the diagnostics report it as their nan_loss finding
        warnings.warn(history.stop_reason, stacklevel=3)
    return history


def _watchers(history, diagnostics, callbacks, early_stopping, progress):
    """The callbacks of a fit, in their order: the History, the diagnostics, the user's, early
    stopping, the progress bar."""
    watchers = [history]
    if diagnostics:
        from .diagnostics import Diagnostics

        watchers.append(Diagnostics())
    watchers += _user_callbacks(callbacks)
    stopper = _early_stopping(early_stopping)
    if stopper is not None:
        watchers.append(stopper)
    if progress:
        from .progress import ProgressBar

        watchers.append(ProgressBar())
    return watchers


def _validation(net, X, Y, w, validation_data, validation_split):
    """(X, Y, w, validation): the training rows, their weights, and the checked validation triple
    (X_val, Y_val, w_val or None), or None."""
    validation_split = number("validation_split, a fraction of the rows,", validation_split, low=0, high=1,
                              high_open=True)
    if validation_data is not None:
        if validation_split:
            raise ValueError("pass validation_data or validation_split, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be a pair (X_val, y_val) or a triple (X_val, y_val, sample_weight_val)")
        X_val, Y_val = net.check_data(*validation_data[:2])
        w_val = net.check_weights(validation_data[2], len(X_val)) if len(validation_data) == 3 else None
        return X, Y, w, (X_val, Y_val, w_val)
    if not validation_split:
        return X, Y, w, None
    keep = int(len(X) * (1 - validation_split))
    if not 1 <= keep < len(X):
        raise ValueError(f"validation_split={validation_split!r} of {len(X)} rows leaves no rows to "
                         f"{'train on' if keep < 1 else 'validate on'}; use a fraction that leaves both")
    if w is None:
        return X[:keep], Y[:keep], None, (X[keep:], Y[keep:], None)
    if not (w[:keep].any() and w[keep:].any()):
        raise ValueError(f"validation_split={validation_split!r} leaves a part whose sample weights are all 0; "
                         "shuffle the rows or pass validation_data")
    return X[:keep], Y[:keep], w[:keep], (X[keep:], Y[keep:], w[keep:])


def _user_callbacks(callbacks):
    callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else None
    if callbacks is None or not all(isinstance(cb, Callback) for cb in callbacks):
        raise ValueError("callbacks must be a list of chainrule.callbacks.Callback instances")
    return callbacks


def _early_stopping(early_stopping):
    if early_stopping is None or isinstance(early_stopping, EarlyStopping):
        return early_stopping
    if isinstance(early_stopping, numbers.Integral) and not isinstance(early_stopping, bool):
        return EarlyStopping(patience=early_stopping)
    raise ValueError("early_stopping must be None, an int patience, or chainrule.EarlyStopping(...)")


def evaluate(net, X, Y, w=None, batch_size=None):
    """(loss, accuracy or None) of ``net`` on already-checked data X, Y (and row weights w, as
    ``net.check_weights`` returns them, or None), computed in chunks of ``batch_size`` rows: every
    loss is a mean over rows, so the chunks' means count by their rows, or their total weight."""
    total_loss = total_correct = total_weight = 0.0
    loss = net.loss
    for Xb, Yb, wb in Batches(X, Y, batch_rows(batch_size, len(X)), w)():
        ws = net.workspace(len(Xb))
        weight = len(Xb) if wb is None else float(np.add.reduce(wb))
        if not weight:
            continue  # a chunk of rows of weight 0 counts for nothing
        with np.errstate(over="ignore", invalid="ignore"):  # weights that overflow give an inf loss, said as such
            net.propagate(Xb, ws)
            total_loss += net.data_loss(Yb, ws, wb) * weight
        if loss.classification:
            a = ws.layers[-1].a
            total_correct += (loss.accuracy(a, Yb) if wb is None else loss.accuracy(a, Yb, wb)) * weight
        total_weight += weight
    accuracy = total_correct / total_weight if loss.classification else None
    return total_loss / total_weight + net.penalty(total_weight), accuracy
