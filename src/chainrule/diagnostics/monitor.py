"""``Diagnostics``, the callback ``fit`` adds with diagnostics on: the checks before training, per-layer
statistics on a few batches of the measured epochs, and the checks run on them."""

import math
import os
import sys
import warnings

import numpy as np

from ..callbacks import Callback
from ..epochs import thinned, thinned_epochs
from .before_training import checks_and_start, sample_rows
from .epoch_checks import check_end, check_epoch
from .findings import DiagnosticWarning, Finding
from .nonfinite import layer_of, locate_nonfinite
from .thresholds import DENSE_EPOCHS, RISE, SAMPLED_ROWS, UPDATE_SAMPLE

__all__ = ["Diagnostics", "Statistics", "measured_epoch"]


class Statistics:
    """The diagnostics' per-epoch statistics, one tuple per epoch with one value per layer (None where
    the statistic does not apply, and on the epochs that were not measured):

    ``dead_fraction``       ReLU layers: the fraction of units never active on the sampled rows
    ``saturated_fraction``  sigmoid/tanh hidden layers: the fraction of activations where f′ < 4% (σ) or 2% (tanh) of its peak
    ``update_ratio``        ‖ΔW‖/‖W‖ of the epoch's first step (a BatchNorm's γ, a block's first W)
    ``layer_statistics``    the layer kinds' own statistics on the epoch's first batch, {name: value}
                            for each layer whose kind names some (``Layer.statistics``): a BatchNorm's
                            smallest feature std ``batch_std`` (√ε: a feature the batch holds constant),
                            a residual block's ``branch_ratio`` ‖F(a)‖/‖skip‖
    """

    KEYS = ("dead_fraction", "saturated_fraction", "update_ratio", "layer_statistics")

    def __init__(self):
        for key in self.KEYS:
            setattr(self, key, [])

    def as_dict(self):
        return {key: list(getattr(self, key)) for key in self.KEYS}


class Diagnostics(Callback):
    """The diagnostics of a ``fit``: findings go to ``history.findings`` (each shown once as a
    ``DiagnosticWarning``), statistics to ``history.diagnostics`` (a ``Statistics``).

    The unit statistics are taken on the epoch's first batch and then every ``stride``-th, so on
    about SAMPLED_ROWS rows per epoch, on the epochs of ``measured_epoch``'s schedule (and on the
    epoch after an unmeasured one where the loss climbed back sharply); the checks run on the
    measured epochs, and at the end on the whole run.
    """

    def on_train_begin(self, trainer):
        net, X, Y = trainer.net, trainer.X, trainer.Y
        self.net, self.history, self.optimizer = net, trainer.history, trainer.optimizer
        self.stats = self.history.diagnostics = Statistics()
        n_batches, wanted = -(-len(X) // trainer.batch_size), -(-SAMPLED_ROWS // trainer.batch_size)
        self.stride = -(-n_batches // wanted)  # steps 0, stride, 2·stride, …: about `wanted` batches
        layers = net.layers
        self.dying = [l for l, layer in enumerate(layers) if layer.activation.can_die]
        self.saturating = [l for l, layer in enumerate(layers[:-1]) if layer.activation.saturates]
        self.seen = set()
        self.best = math.inf  # the lowest loss so far
        self.schedule = set(thinned_epochs(trainer.epochs, DENSE_EPOCHS))  # the epochs measured, and
        self.measuring = True  # epoch 1 is; so is one after an unmeasured epoch where the loss climbed
        self.none_row = (None,) * len(layers)  # the row of an epoch not measured (shared: a tuple)
        self.checked, self.checked_best = 0, math.inf  # the last epoch checked, the lowest loss up to it
        self.zmax = {l: np.empty(layers[l].n_out) for l in self.dying}  # max z per unit over the sampled rows
        # ‖ΔW‖/‖W‖ on every k-th weight, at most UPDATE_SAMPLE of them per layer (all of a small layer):
        # a copy of those before the epoch's first step, not of the whole network
        self.watched = [W.reshape(-1)[::_stride(W)] for W in (layer.weights()[0][0] for layer in layers)]
        self.kinds = [l for l, layer in enumerate(layers) if layer.statistics]  # layers with statistics of their own
        self.kind_row = [None] * len(layers)
        self.W_before = [np.empty_like(w) for w in self.watched]
        self._reset()
        # the checks before training, against the loss of an output that knows nothing
        self.baseline = net.loss.uninformative(sample_rows(X, Y)[1])
        findings, self.start = checks_and_start(net, X, Y, trainer.batch_size, self.baseline)
        self.rise = RISE * self.baseline if self.baseline else math.inf  # a climb that calls for a look
        self._report(findings)

    def _reset(self):
        """Zero the epoch's accumulators."""
        self.rows, self.first_step = 0, False
        for zmax in self.zmax.values():
            zmax.fill(-np.inf)
        self.saturated = {l: 0 for l in self.saturating}
        self.ratio = [0.0] * len(self.net.layers)

    def on_epoch_begin(self, trainer, epoch):
        """A measured epoch needs the epoch's gradient norms: ask the loop to record them."""
        if self.measuring:
            trainer.recording = True

    def on_gradients(self, trainer, batch):
        """On a measured epoch's sampled batches: unit statistics from the batch's forward pass; W
        before the epoch's first update (its change is measured before the next one)."""
        if not self.measuring:
            return
        if self.first_step:
            self._update_ratio()
        if batch % self.stride:
            return
        layers = self.net.layers
        self.rows += len(layers[0].Z)
        for l in self.dying:
            np.maximum(self.zmax[l], layers[l].Z.max(axis=0), out=self.zmax[l])
        for l in self.saturating:
            self.saturated[l] += np.count_nonzero(layers[l].activation.saturated(layers[l].A))
        if batch == 0:
            for l in self.kinds:
                self.kind_row[l] = dict(zip(layers[l].statistics, layers[l].measure()))
                self._report([Finding(code, "warning", value, threshold, cause, fix, epoch=trainer.epoch, layer=l + 1)
                              for code, value, threshold, cause, fix in layers[l].problems(l + 1)])
            for before, w in zip(self.W_before, self.watched):
                np.copyto(before, w)
            self.first_step = True

    def _update_ratio(self):
        """‖ΔW‖/‖W‖ per layer of the epoch's first step (on the watched weights)."""
        for l, (before, w) in enumerate(zip(self.W_before, self.watched)):
            np.subtract(w, before, out=before)
            norm = math.sqrt(np.vdot(w, w))
            self.ratio[l] = math.sqrt(np.vdot(before, before)) / norm if norm else 0.0
        self.first_step = False

    def on_epoch_end(self, trainer, epoch, logs):
        """On a measured epoch record its statistics and run the checks; follow the lowest loss;
        decide whether the next epoch is measured."""
        loss, measured = logs["loss"], self.measuring
        if measured:
            if self.first_step:  # an epoch of one batch: its step is done now
                self._update_ratio()
            self._measured(epoch)
        # a climb of the loss large enough for lr_too_high, on an epoch that was not checked, is
        # looked at on the very next epoch (one on a measured epoch has just been checked)
        climbing = not measured and loss - self.best > self.rise
        if loss < self.best:
            self.best = loss
        self.measuring = climbing or epoch + 1 in self.schedule

    def _measured(self, epoch):
        """The measured epoch's row of statistics (after None rows for the epochs before it that
        were not measured), then the checks."""
        stats, layers = self.stats, self.net.layers
        self._unmeasured(epoch - 1)
        dead = [None] * len(layers)
        for l in self.dying:
            dead[l] = float(np.mean(self.zmax[l] <= 0))
        saturated = [None] * len(layers)
        for l in self.saturating:
            saturated[l] = self.saturated[l] / (self.rows * layers[l].n_out)
        stats.dead_fraction.append(tuple(dead))
        stats.saturated_fraction.append(tuple(saturated))
        stats.update_ratio.append(tuple(self.ratio))
        stats.layer_statistics.append(tuple(self.kind_row))
        self._reset()
        self._report(check_epoch(self.history, stats, self.net, epoch, self.baseline, self.start, self.best,
                                 self._climb(epoch), self._clipping()))
        if ("lr_too_high", None, "warning") in self.seen:
            self.rise = math.inf  # once reported, the schedule is enough
        self.checked, self.checked_best = epoch, min(self.best, self.history.loss[-1])

    def _climb(self, epoch):
        """(lowest loss before, loss) of the largest rise of the loss over the epochs since the last
        check, up to ``epoch`` (read from the History here, not followed epoch by epoch)."""
        best, climb = self.checked_best, (0.0, 0.0)
        for value in self.history.loss[self.checked : epoch]:
            if value - best > climb[1] - climb[0]:
                climb = (best, value)
            best = min(best, value)
        return climb

    def _unmeasured(self, epochs):
        """A row of None per layer in each statistic for the epochs up to ``epochs`` not yet recorded:
        written when the next measured epoch or the end comes, one shared tuple for all of them."""
        for key in Statistics.KEYS:
            rows = getattr(self.stats, key)
            rows.extend([self.none_row] * (epochs - len(rows)))

    def on_train_end(self, trainer):
        """A run stopped by a NaN or inf: where it went non-finite, as the nan_loss finding (an update
        that overflowed: lr_too_high). Otherwise the checks that judge the whole run."""
        self._unmeasured(self.history.epochs)
        if trainer.diverged is not None:
            self._diverged(trainer.diverged)
        else:
            self._report(check_end(self.history, self.stats, self.net, self.baseline))

    def _diverged(self, diverged):
        epoch, clip = diverged.epoch, "" if self._clipping() else ", clip the gradients (e.g. SGD(lr, clip_norm=1.0))"
        if diverged.what == "update":
            self._report([Finding(
                "lr_too_high", "error", None, None,
                f"at epoch {epoch} {diverged.args[0]}: the step η·(update) is too large for the weights to hold.",
                f"training stopped before applying that step, keeping the last finite weights; divide the learning "
                f"rate by 10 or more{clip}.", epoch=epoch)])
            return
        where = diverged.where = locate_nonfinite(self.net, loss_finite=diverged.what != "loss")
        self._report([Finding(
            "nan_loss", "error", None, None, f"{diverged.args[0]} at epoch {epoch}: {where}.",
            f"training stopped before applying that step, keeping the last finite weights; lower the learning "
            f"rate{clip}, or standardize the inputs.", epoch=epoch, layer=layer_of(where))])

    def _clipping(self):
        return getattr(self.optimizer, "clip_norm", None) is not None

    def _report(self, findings):
        """Keep each new finding (once per code, layer and severity) and show it once."""
        for f in findings:
            key = (f.code, f.layer, f.severity)
            if key in self.seen:
                continue
            self.seen.add(key)
            self.history.findings.append(f)
            if f.severity != "info":
                warnings.warn(DiagnosticWarning(str(f)), stacklevel=_caller_level())


def _stride(W):
    """Every k-th weight of W, flattened, so that at most UPDATE_SAMPLE are watched; k prime to
    W's row length, so the watched weights fall into every output unit's column, not a few."""
    k = -(-W.size // UPDATE_SAMPLE)
    while k > 1 and math.gcd(k, W.shape[-1]) != 1:
        k += 1
    return k


def measured_epoch(epoch):
    """Whether the statistics are taken and the checks run at ``epoch`` (1-based): every epoch up
    to 2·DENSE_EPOCHS, then about DENSE_EPOCHS per doubling of the run (``chainrule.epochs.thinned``)."""
    return thinned(epoch, DENSE_EPOCHS)


def _caller_level():
    """The stacklevel that points a warning at the first frame outside chainrule (the user's call)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # chainrule/, not diagnostics/
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level
