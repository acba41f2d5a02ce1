"""The ``Monitor`` that ``fit`` calls with diagnostics on: per-layer statistics on a few batches of the
measured epochs, recorded in the History, and the checks run on them."""

import math
import os
import sys
import warnings

import numpy as np

from .before_training import _sample, check_before, uninformative_loss
from .epoch_checks import check_end, check_epoch
from .findings import DiagnosticWarning, Finding
from .nonfinite import _layer_of, locate_nonfinite
from .thresholds import DENSE_EPOCHS, RISE, SAMPLED_ROWS, UPDATE_SAMPLE


class Monitor:
    """What ``fit`` calls when diagnostics are on:

    ``start()`` before the first epoch (the checks before training), ``watch(optimizer)`` gives
    the optimizer the loop steps with (it records unit statistics on a few batches per epoch),
    ``end_epoch(epoch)`` after each epoch's History entries, ``diverged(epoch, reason)`` when the
    loss or a gradient went non-finite, ``finish()`` at the end.

    History keys it fills, one entry per epoch, each a tuple with one value per layer (None
    where the statistic does not apply): ``dead_fraction`` (ReLU layers: fraction of units never
    active on the sampled rows), ``saturated_fraction`` (sigmoid/tanh layers: fraction of
    activations where f′ < 4% of its peak), ``update_ratio`` (‖ΔW‖/‖W‖ of the epoch's first
    step). The unit statistics are taken on the epoch's first batch and then every ``stride``-th,
    so on about SAMPLED_ROWS rows per epoch, and on the epochs of ``measured_epoch``'s schedule
    (and the epoch after an unmeasured one where the loss climbed back sharply); the epochs between
    hold a tuple of None, written when the next measured epoch comes (the rows are complete after
    ``finish()``), and the checks run on the measured epochs.
    """

    def __init__(self, net, X, Y, history, optimizer, batch_size, newline=None):
        self.net, self.X, self.Y, self.history = net, X, Y, history
        self.optimizer, self.batch_size = optimizer, batch_size
        self.newline = newline or (lambda: None)
        n_batches, wanted = -(-len(X) // batch_size), -(-SAMPLED_ROWS // batch_size)
        self.stride = -(-n_batches // wanted)  # steps 0, stride, 2·stride, …: about `wanted` batches
        layers = net.layers
        self.relu = [l for l, layer in enumerate(layers) if layer.activation.builtin and layer.activation.name == "relu"]
        self.squash = [l for l, layer in enumerate(layers[:-1])
                       if layer.activation.builtin and layer.activation.name in ("sigmoid", "tanh")]
        self.seen = set()
        self.baseline, self.best = None, math.inf  # the uninformative loss; the lowest loss so far
        self.rise = math.inf  # a climb of the loss that calls for a look at the next epoch (set by start)
        self.measuring = True  # epoch 1 is measured
        self.none_row = (None,) * len(layers)  # the row of an epoch not measured (shared: a tuple)
        self.checked, self.checked_best = 0, math.inf  # the last epoch checked, the lowest loss up to it
        self.zmax = {l: np.empty(layers[l].n_out) for l in self.relu}  # max z per unit over the sampled rows
        # ‖ΔW‖/‖W‖ on every k-th weight, at most UPDATE_SAMPLE of them per layer (all of a small layer):
        # a copy of those before the step, not of the whole network
        self.watched = [layer.W.reshape(-1)[::_stride(layer.W)] for layer in layers]
        self.W_before = [np.empty_like(w) for w in self.watched]
        self._reset()

    def _reset(self):
        """Zero the epoch's accumulators."""
        self.i = self.rows = 0
        for zmax in self.zmax.values():
            zmax.fill(-np.inf)
        self.saturated = {l: 0 for l in self.squash}
        self.ratio = [0.0] * len(self.net.layers)

    # -- the hooks --

    def start(self):
        """Run the checks before training; report what they find."""
        self.baseline = uninformative_loss(self.net, _sample(self.X, self.Y)[1])
        findings = check_before(self.net, self.X, self.Y, self.batch_size, self.baseline)
        if self.baseline:  # all-zero targets give no scale to judge a climb by
            self.rise = RISE * self.baseline
        self._report(findings)
        return findings

    def watch(self, optimizer):
        """The optimizer ``fit`` steps with: the same updates, plus statistics on sampled steps."""
        return _Watched(optimizer, self)

    def before_step(self, net, first):
        """Unit statistics from the batch's forward pass; W before the epoch's first update."""
        self.rows += len(net.layers[0].Z)
        for l in self.relu:
            np.maximum(self.zmax[l], net.layers[l].Z.max(axis=0), out=self.zmax[l])
        for l in self.squash:
            A = net.layers[l].A
            if net.layers[l].activation.name == "sigmoid":  # σ′ = a(1 − a) < 0.0099 ⇔ |a − ½| > 0.49
                self.saturated[l] += np.count_nonzero(np.abs(A - 0.5) > 0.49)
            else:  # tanh′ = 1 − a² < 0.0199 ⇔ |a| > 0.99
                self.saturated[l] += np.count_nonzero(np.abs(A) > 0.99)
        if first:
            for before, w in zip(self.W_before, self.watched):
                np.copyto(before, w)

    def after_first_step(self, net):
        """‖ΔW‖/‖W‖ per layer of the epoch's first step (on the watched weights)."""
        for l, (before, w) in enumerate(zip(self.W_before, self.watched)):
            np.subtract(w, before, out=before)
            norm = math.sqrt(np.vdot(w, w))
            self.ratio[l] = math.sqrt(np.vdot(before, before)) / norm if norm else 0.0

    def end_epoch(self, epoch):
        """After each epoch: on a measured epoch record its statistics in the History and run the
        checks; follow the lowest loss; decide whether the next epoch is measured."""
        loss, measured = self.history.loss[-1], self.measuring
        if measured:
            self._measured(epoch)
        # a climb of the loss large enough for lr_too_high, on an epoch that was not checked, is
        # looked at on the very next epoch (one on a measured epoch has just been checked)
        climbing = not measured and loss - self.best > self.rise
        self.best = min(self.best, loss)
        self.measuring = climbing or measured_epoch(epoch + 1)

    def _measured(self, epoch):
        """The measured epoch's row of statistics (after None rows for the epochs before it that
        were not measured), then the checks."""
        h, layers = self.history, self.net.layers
        self._unmeasured(epoch - 1)
        dead = [None] * len(layers)
        for l in self.relu:
            dead[l] = float(np.mean(self.zmax[l] <= 0))
        saturated = [None] * len(layers)
        for l in self.squash:
            saturated[l] = self.saturated[l] / (self.rows * layers[l].n_out)
        h.dead_fraction.append(tuple(dead))
        h.saturated_fraction.append(tuple(saturated))
        h.update_ratio.append(tuple(self.ratio))
        self._reset()
        self._report(check_epoch(h, self.net, epoch, self.baseline, self.best, self._climb(epoch), self._clipping()))
        if ("lr_too_high", None) in self.seen:
            self.rise = math.inf  # once reported, the schedule is enough
        self.checked, self.checked_best = epoch, min(self.best, h.loss[-1])

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
        written when the next measured epoch or the end comes, not at every epoch, and one shared
        tuple rather than new lists (a long run of tiny epochs otherwise spends more on them than
        on the measurements)."""
        for key in ("dead_fraction", "saturated_fraction", "update_ratio"):
            rows = getattr(self.history, key)
            rows.extend([self.none_row] * (epochs - len(rows)))

    def diverged(self, epoch, reason):
        """The nan_loss finding for a loss or gradient that went non-finite; returns where."""
        where = locate_nonfinite(self.net, loss_finite="loss" not in str(reason))
        clip = "" if self._clipping() else ", clip the gradients (e.g. SGD(lr, clip_norm=1.0))"
        self._report([Finding(
            "nan_loss", "error", None, None,
            f"{reason} at epoch {epoch}: {where}.",
            f"training stopped before applying that step, keeping the last finite weights; lower the learning "
            f"rate{clip}, or standardize the inputs.", epoch=epoch, layer=_layer_of(where))])
        return where

    def finish(self):
        """Checks that judge the whole run (saturation, the plateau), unless it diverged."""
        self._unmeasured(self.history.epochs)
        if any(f.code == "nan_loss" for f in self.history.findings):
            return
        self._report(check_end(self.history, self.net, self.baseline))

    # -- helpers --

    def _clipping(self):
        return getattr(self.optimizer, "clip_norm", None) is not None

    def _report(self, findings):
        """Keep each new finding (once per code and layer) and show it once."""
        for f in findings:
            key = (f.code, f.layer)
            if key in self.seen:
                continue
            self.seen.add(key)
            self.history.findings.append(f)
            if f.severity != "info":
                self.newline()
                warnings.warn(DiagnosticWarning(str(f)), stacklevel=_caller_level())


def _stride(W):
    """Every k-th weight of W, flattened, so that at most UPDATE_SAMPLE are watched; k prime to
    W's row length, so the watched weights fall into every output unit's column, not a few."""
    k = -(-W.size // UPDATE_SAMPLE)
    while k > 1 and math.gcd(k, W.shape[1]) != 1:
        k += 1
    return k


def measured_epoch(epoch):
    """Whether the statistics are taken and the checks run at ``epoch`` (1-based): every epoch up
    to 2·DENSE_EPOCHS, then every 2nd up to 4·DENSE_EPOCHS, every 4th up to 8·DENSE_EPOCHS, …
    — about DENSE_EPOCHS measured epochs per doubling of the run. A run of many tiny epochs (XOR:
    one step of 4 rows each, about 0.1 ms) then pays for about 80 measurements in 1,000 epochs
    instead of 1,000, while every problem that lasts is still seen within a few percent of the run."""
    stride = 1 << max(0, (epoch // DENSE_EPOCHS).bit_length() - 1)
    return epoch % stride == 0


class _Watched:
    """An optimizer seen through the monitor, on the epochs it measures (``fit`` steps with the bare
    optimizer on the others): ``step`` is the optimizer's own, with the monitor taking statistics
    before and after it on every ``stride``-th step of the epoch."""

    def __init__(self, optimizer, monitor):
        self.optimizer, self.monitor = optimizer, monitor

    def step(self, net):
        m = self.monitor
        i, m.i = m.i, m.i + 1  # the step's index in the epoch
        if i % m.stride:
            return self.optimizer.step(net)
        m.before_step(net, first=i == 0)
        self.optimizer.step(net)
        if i == 0:
            m.after_first_step(net)

    def __getattr__(self, name):
        return getattr(self.optimizer, name)


def _caller_level():
    """The stacklevel that points a warning at the first frame outside chainrule (the user's call)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # chainrule/, not diagnostics/
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level
