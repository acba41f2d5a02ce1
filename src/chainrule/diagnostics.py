"""Diagnostics: why training fails, found from measured signals, named in plain words, with a fix.

Before training, ``check_before`` looks at the data, the targets, the pairing of output activation
and loss, user-defined derivatives and the initial weights. While ``fit`` trains, a ``Monitor``
records per-layer statistics in the History (on a few batches per epoch, so that it stays cheap)
and ``check_epoch`` reads them: vanishing and exploding gradients, dead ReLU units, saturated
sigmoid/tanh units, a learning rate too high or too low, a plateau; a NaN or inf stops training
and ``locate_nonfinite`` names the first quantity of the pass that went non-finite.

Every problem is a ``Finding`` with a stable ``code`` (the keys of ``CODES``), reported once per
run (per layer for the per-layer checks), kept in ``History.findings`` and shown once as a
``DiagnosticWarning`` (severity "warning" or "error"; "info" is only recorded). The thresholds
are module constants; each check's docstring says what was measured to choose it.
"""

import dataclasses
import math
import os
import re
import sys
import warnings

import numpy as np

__all__ = [
    "CODES",
    "DiagnosticWarning",
    "Finding",
    "Monitor",
    "check_before",
    "check_epoch",
    "diagnose",
    "format_findings",
    "locate_nonfinite",
]

CODES = {
    "unnormalized_inputs": "input features far from unit scale, or scales differing by orders of magnitude",
    "target_range": "regression targets the output activation cannot reach",
    "loss_activation_mismatch": "an output activation that does not suit the loss",
    "bad_derivative": "a user-defined activation whose df disagrees with finite differences of f",
    "symmetric_init": "hidden units with identical weights: they get identical gradients forever",
    "init_scale": "initial weights far from the scale (He or Glorot) that suits the activation",
    "initial_loss": "a starting loss far above that of an uninformative output (ln K for K classes)",
    "vanishing_gradients": "the first layer's gradient orders of magnitude below the last layer's",
    "exploding_gradients": "gradient norms growing by orders of magnitude",
    "dead_relu": "ReLU units never active over an epoch",
    "saturation": "sigmoid/tanh units stuck where their derivative is almost 0",
    "lr_too_high": "the loss rising or oscillating, updates far above 1e-3 of the weights",
    "lr_too_low": "updates far below 1e-3 of the weights while the loss is still high",
    "nan_loss": "the loss or a gradient became NaN or inf; training stopped",
    "plateau": "the loss stuck near that of an uninformative output",
}
SEVERITIES = ("info", "warning", "error")

# ---- thresholds (the checks' docstrings say how they were chosen) ----------------------------
INPUT_SCALE = 10.0  # largest feature RMS √mean(x²)
INPUT_SPREAD = 1e4  # largest / smallest non-zero feature RMS
DERIVATIVE_TOL = 1e-4  # |df − numeric| ≤ tol · max(1, |numeric|)
INIT_FACTOR = 10.0  # std(W) / recommended std outside [1/10, 10]
INITIAL_LOSS_FACTOR = 5.0  # first loss / uninformative loss (classification)
VANISHING_RATIO = 1e-3  # ‖∂L/∂W(1)‖ / ‖∂L/∂W(L)‖ below
EXPLODING_RATIO = 1e3  # ‖∂L/∂W(1)‖ / ‖∂L/∂W(L)‖ above, or growth of a layer's norm since epoch 1
DEAD_FRACTION = 0.5  # fraction of a ReLU layer's units never active over the sampled rows
SATURATED_FRACTION = 0.5  # fraction of a hidden sigmoid/tanh layer's activations with f′ < 4% of its peak
UPDATE_HIGH = 0.1  # ‖ΔW‖ / ‖W‖ above (with the loss rising)
RISE = 0.2  # the loss back above its best by this fraction of the uninformative loss
UPDATE_LOW = 1e-5  # ‖ΔW‖ / ‖W‖ below (while the loss is still high)
STILL_HIGH = 0.5  # "the loss is still high": above this fraction of the uninformative loss
PLATEAU_WINDOW = 10  # epochs without 1% improvement …
PLATEAU_LEVEL = 0.9  # … while the loss is above this fraction of the uninformative loss
PLATEAU_CEILING = 2.0  # … and below this multiple of it (above, training has blown up, not stalled)
SAMPLED_ROWS = 256  # rows per epoch on which unit statistics are taken
INPUT_ROWS = 4096  # evenly spaced rows on which the feature scales are measured
UPDATE_SAMPLE = 4096  # weights per layer, evenly spaced, on which ‖ΔW‖/‖W‖ is measured
DENSE_EPOCHS = 10  # epochs measured one by one before the schedule thins out (see measured_epoch)


class DiagnosticWarning(UserWarning):
    """The category of the warnings diagnostics show: ``warnings.simplefilter("ignore",
    chainrule.DiagnosticWarning)`` silences them (the findings stay in History.findings)."""


@dataclasses.dataclass
class Finding:
    """One problem found: ``code`` (a key of CODES), ``severity`` ("info", "warning", "error"),
    the measured ``value`` and the ``threshold`` it crossed, ``message`` (the cause, one sentence),
    ``fix`` (what to try), and where: ``epoch`` (None before training) and ``layer`` (1-based, or
    None when the finding is about the whole network or the data)."""

    code: str
    severity: str
    value: float = None
    threshold: float = None
    message: str = ""
    fix: str = ""
    epoch: int = None
    layer: int = None

    def __post_init__(self):
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}; use one of {', '.join(CODES)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        for name in ("value", "threshold"):
            if getattr(self, name) is not None:
                setattr(self, name, float(getattr(self, name)))

    def as_dict(self):
        return dataclasses.asdict(self)

    def __str__(self):
        return f"{self.severity} [{self.code}] {self.message} Fix: {self.fix}"


# ---- before training -------------------------------------------------------------------------


def check_before(net, X, Y, batch_size=128, baseline=None):
    """Findings about the data, targets, loss/activation pairing, derivatives and initial weights.

    ``X``, ``Y`` as ``net.check_data`` returns them (Y with shape (n_samples, n_out)). Nothing
    here changes the network or its random generator: training is the same with or without it.
    The starting loss is taken on one batch of ``batch_size`` evenly spaced rows (all of them for
    None), through the network's buffers for that batch size (the ones ``fit`` trains in), and
    compared with ``baseline`` (``uninformative_loss``; computed here unless the caller has it).
    """
    from .training import batch_rows

    batch_size = batch_rows(batch_size, len(X))
    with np.errstate(over="ignore", invalid="ignore"):  # absurd weights or data are findings, not warnings
        findings = _inputs(_sample(X, Y, INPUT_ROWS)[0]) + _target_range(net, Y) + _pairing(net, Y)
        findings += _derivatives(net) + _symmetry(net) + _init_scale(net)
        if not any(f.severity == "error" for f in findings):  # a forward pass would raise or mean nothing
            findings += _initial_loss(net, *_batch_sample(X, Y, batch_size), baseline)
    return findings


def _inputs(X):
    """Feature scales (on up to INPUT_ROWS evenly spaced rows: the check costs the same for 60,000
    rows as for 4,096). The RMS √mean(x²) of a feature counts both a large mean and a large spread.

    Measured: the library's data sets as used (digits/16, moons, circles, XOR, Ising spins and
    every standardized set) have largest RMS ≤ 1.03; raw breast_cancer 1050, raw credit_risk
    58,000, raw environment 1013 (pressure in hPa), raw digits pixels 0–16: 12.9. Above
    INPUT_SCALE = 10 the first layer's z is an order of magnitude too large for the initializers'
    assumption of unit inputs. The spread (largest / smallest non-zero RMS) is 545 for digits/16
    (pixels that are almost always 0), 2·10⁵ for raw breast_cancer and credit_risk: INPUT_SPREAD =
    10⁴ flags four orders of magnitude, where the small features' weights learn far more slowly.
    """
    rms = np.sqrt(np.einsum("ij,ij->j", X, X, dtype=np.float64) / len(X))
    big = int(np.argmax(rms))
    nonzero = rms[rms > 0]
    spread = float(rms[big] / nonzero.min()) if nonzero.size else 1.0
    if rms[big] <= INPUT_SCALE and spread <= INPUT_SPREAD:
        return []
    mean, std = float(X[:, big].mean()), float(X[:, big].std())
    if rms[big] > INPUT_SCALE:
        value, threshold = float(rms[big]), INPUT_SCALE
        cause = (f"input feature {big} has values of size {rms[big]:.3g} (mean {mean:.3g}, std {std:.3g}), "
                 f"far above the unit scale the initial weights assume")
    else:
        small = int(np.argmin(np.where(rms > 0, rms, np.inf)))
        value, threshold = spread, INPUT_SPREAD
        cause = (f"input feature scales differ by a factor {spread:.3g} (feature {big}: {rms[big]:.3g}, "
                 f"feature {small}: {rms[small]:.3g}), so their weights learn at very different speeds")
    return [Finding("unnormalized_inputs", "warning", value, threshold, cause + ".",
                    "standardize each feature with the training rows' mean and std "
                    "(chainrule.datasets.standardize(X_train, X_test)).")]


_OUTPUT_RANGE = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, math.inf), "softmax": (0.0, 1.0)}


def _target_range(net, Y):
    """Regression targets outside the output activation's range (σ: (0, 1), tanh: (−1, 1), ReLU:
    [0, ∞)): the loss can never reach 0, the output saturates chasing them. Threshold 0 targets
    outside: one is already unreachable. (Targets invalid for bce, cross_entropy or hinge are a
    ValueError from ``check_data``, before this runs.)"""
    act = net.layers[-1].activation
    if net.loss.classification or not act.builtin or act.name not in _OUTPUT_RANGE:
        return []
    low, high = _OUTPUT_RANGE[act.name]
    outside = (Y < low) | (Y > high)
    count = int(np.count_nonzero(outside))
    if not count:
        return []
    return [Finding(
        "target_range", "error", count / Y.size, 0.0,
        f"{count} of {Y.size} targets lie outside the range of the {act.name} output "
        f"[{low:g}, {high:g}] (targets span [{Y.min():.3g}, {Y.max():.3g}]), so the loss can never reach 0.",
        "use a linear output layer for real-valued targets, or rescale the targets into the output's range.",
    )]


def _pairing(net, Y):
    """Output activation and loss that do not go together (seed 001, pitfall 3):

    softmax over one output (always 1) — error; relu/linear/tanh/… output with bce (not a
    probability: bce raises, or clamps log 0) — error; sigmoid/softmax output with mse or
    half_sse on 0/1 targets (classification: the gradient vanishes as σ saturates; use bce or
    cross_entropy) — warning; sigmoid output with multi-class cross_entropy (softmax of
    probabilities: logits squeezed into (0, 1)) — warning; a (0, 1) output with hinge (the
    margin y·ŷ ≥ 1 is out of reach) — warning.
    """
    out = net.layers[-1]
    act, loss = out.activation.name, net.loss.name
    said = None
    if act == "softmax" and out.n_out == 1:
        said = ("error", "the output layer is a softmax over a single unit, whose output is always 1",
                "give the output layer one unit per class with softmax, or use sigmoid with loss='bce' for two classes.")
    elif loss == "bce" and act not in ("sigmoid", "softmax"):
        said = ("error", f"loss 'bce' needs probabilities in [0, 1], but the output activation {act!r} does not "
                         "produce them",
                "use a sigmoid output layer with loss='bce'.")
    elif loss in ("mse", "half_sse") and act in ("sigmoid", "softmax") and np.isin(Y, (0.0, 1.0)).all():
        said = ("warning", f"a {act} output trained with {loss} on 0/1 class targets: the gradient "
                           f"(ŷ − y)·f′(z) vanishes when the {act} saturates on a wrong answer",
                "use loss='bce' with a sigmoid output (two classes) or loss='cross_entropy' with softmax "
                "(K classes).")
    elif loss == "cross_entropy" and act == "sigmoid":
        said = ("warning", "a sigmoid output with cross_entropy: the loss applies softmax to the outputs, "
                           "so its logits are squeezed into (0, 1) and the predictions can never be confident",
                "use a softmax (or linear) output layer with loss='cross_entropy'.")
    elif loss == "hinge" and act in ("sigmoid", "softmax", "relu"):
        said = ("warning", f"a {act} output with hinge loss cannot reach the margin y·ŷ ≥ 1 for y = −1",
                "use a linear or tanh output layer with loss='hinge'.")
    if said is None:
        return []
    severity, cause, fix = said
    return [Finding("loss_activation_mismatch", severity, None, None, cause + ".", fix, layer=len(net.layers))]


def _derivatives(net):
    """A user-defined ``Activation(name, f, df)`` whose df disagrees with central differences
    (f(z+h) − f(z−h))/2h, h = 1e-5, at 48 points in [−6, 6] (0 excluded). For smooth f the
    difference's error is about h²·|f‴| ≈ 1e-10 plus rounding 1e-11: the tolerance 1e-4 ·
    max(1, |f′|) leaves six orders of margin, and catches a derivative wrong in its 4th digit.
    (The activation itself checks 6 points when first used and raises; this checks more,
    including where |z| is large.)"""
    findings, seen = [], set()
    h = 1e-5
    for l, layer in enumerate(net.layers, start=1):
        act = layer.activation
        if act.builtin or id(act) in seen:
            continue
        seen.add(id(act))
        z = np.linspace(-6.0, 6.0, 48)
        with np.errstate(all="ignore"):
            numeric = (np.asarray(act._f(z + h), np.float64) - np.asarray(act._f(z - h), np.float64)) / (2 * h)
            analytic = np.asarray(act._df(z), np.float64)
            if analytic.shape != z.shape:
                analytic = np.broadcast_to(np.nan, z.shape)
            error = np.abs(analytic - numeric) / np.maximum(1.0, np.abs(numeric))
        error = np.where(np.isfinite(error), error, np.inf)
        i = int(np.argmax(error))
        if error[i] > DERIVATIVE_TOL:
            findings.append(Finding(
                "bad_derivative", "error", float(error[i]), DERIVATIVE_TOL,
                f"the derivative of activation {act.name!r} (layer {l}) disagrees with finite differences of f: "
                f"at z = {z[i]:.3g}, df(z) = {analytic[i]:.6g} but (f(z+h) − f(z−h))/2h = {numeric[i]:.6g}.",
                "fix df so that it returns f′(z) for every z; check it with chainrule.gradcheck.", layer=l))
    return findings


def _symmetry(net):
    """Hidden units that are exact copies: same incoming weights, same bias, same outgoing
    weights. Backpropagation gives copies identical gradients, so they stay copies forever
    (zero or constant initialization). Any copy is reported; all units of a layer copies of one
    is an error, some of them a warning. Random initialization never produces exact copies."""
    findings = []
    for l, (layer, nxt) in enumerate(zip(net.layers, net.layers[1:]), start=1):
        first = layer.W[0]  # copies share their weight from input 1: none when those are all distinct
        if len(set(first.tolist())) == layer.n_out and not np.isnan(first).any():
            continue
        units = np.column_stack([layer.W.T, layer.b, nxt.W])  # one row per unit of layer l
        distinct = len({row.tobytes() for row in units})
        if distinct < layer.n_out:
            severity = "error" if distinct == 1 else "warning"
            findings.append(Finding(
                "symmetric_init", severity, distinct, layer.n_out,
                f"only {distinct} of layer {l}'s {layer.n_out} units differ: units with equal weights in, bias "
                "and weights out get equal gradients, so the symmetry is never broken.",
                "initialize the weights randomly (the default He or Glorot initializers), not with a constant.",
                layer=l))
    return findings


def _recommended_std(layer):
    """He's √(2/fan_in) for the ReLU family, Glorot's √(2/(fan_in + fan_out)) otherwise."""
    if layer.activation.name in ("relu", "leaky_relu"):
        return math.sqrt(2.0 / layer.n_in), "He"
    return math.sqrt(2.0 / (layer.n_in + layer.n_out)), "Glorot"


def _init_scale(net):
    """std(W) against the std He (ReLU) or Glorot (others) derive to keep the variance of z and δ
    constant from layer to layer. A factor r per layer multiplies the signal by about r per
    layer. Threshold: off by more than INIT_FACTOR = 10 either way. The default initializers
    give ratios 0.8–1.25 on the healthy test runs (1 in expectation); the seeds' 0.01·randn gives
    0.01/√(2/(n_in+n_out)) — 0.06 for 64 → 128 — and is reported; the lab's randn on the 2-4-1
    XOR network gives 1.7 and is not. Layers with all-zero weights are left to symmetric_init.
    The scale is measured as the root mean square √mean(W²), the std of a zero-mean initializer:
    unlike the sample std it does not collapse when a small layer's few weights happen to be
    close to each other (two weights drawn from N(0, 1) have a std below 0.07 one time in 12, an
    RMS below 0.07 one time in 200)."""
    findings = []
    for l, layer in enumerate(net.layers, start=1):
        if layer.W.size < 2:
            continue
        std = math.sqrt(float(np.vdot(layer.W, layer.W)) / layer.W.size)  # RMS, without a copy of W
        if not math.isfinite(std):  # weights so large that their squares overflow: scale them first
            top = float(np.max(np.abs(layer.W)))
            std = top * math.sqrt(float(np.mean(np.square(layer.W / top))))
        if std == 0:
            continue
        want, name = _recommended_std(layer)
        ratio = std / want
        if 1 / INIT_FACTOR <= ratio <= INIT_FACTOR:
            continue
        way = "small" if ratio < 1 else "large"
        effect = ("the signal shrinks layer after layer and the gradients vanish" if way == "small"
                  else "z grows layer after layer: units saturate or the outputs and gradients explode")
        findings.append(Finding(
            "init_scale", "warning", ratio, INIT_FACTOR if ratio > 1 else 1 / INIT_FACTOR,
            f"layer {l}'s initial weights have std {std:.3g}, {max(ratio, 1 / ratio):.3g}× too {way} for its "
            f"{layer.activation.name} activation ({name}: {want:.3g}); {effect}.",
            f"use init='{'he_normal' if name == 'He' else 'glorot_uniform'}' (the default) for this layer.",
            layer=l))
    return findings


def _sample(X, Y, rows=128):
    """At most ``rows`` evenly spaced rows (no random draw: the network's generator is untouched)."""
    step = -(-len(X) // rows)  # ⌈n / rows⌉: the sample spans the whole data
    return X[::step], Y[::step]


def _batch_sample(X, Y, m):
    """Exactly m evenly spaced rows, ⌊i·n/m⌋ for i = 0 … m − 1 (all of X, not a copy, when m ≥ n):
    a batch of training's size, so that its forward pass runs in training's own buffers."""
    n = len(X)
    if m >= n:
        return X, Y
    rows = np.arange(m, dtype=np.intp) * n // m
    return X[rows], Y[rows]


def uninformative_loss(net, Y):
    """The loss of an output that knows nothing: logits 0 for cross_entropy (ln K), probability ½
    for bce (ln 2), 0 for mse, half_sse and hinge (mean y², ½ Σ_k mean y², 1)."""
    neutral = np.full_like(Y, 0.5 if net.loss.name == "bce" else 0.0)
    return float(net.loss.value(neutral, Y))


def _initial_loss(net, X, Y, baseline=None):
    """For classification, the loss before any update against ``uninformative_loss`` (ln K, ln 2,
    1 for hinge). At initialization the logits are small, so the first loss is close to it:
    over 30 seeds each of 9 default-initialized classifiers (XOR, moons, digits raw and
    standardized, breast_cancer and credit_risk standardized, from logistic regression to three
    hidden layers of 128) the median ratio is 1.0–1.4, the largest 3.6 (logistic regression on
    breast_cancer, whose 30 features are correlated). Above INITIAL_LOSS_FACTOR = 5 the network
    starts confidently wrong — randn weights give 18×, unscaled inputs 100× and more — and its
    first epochs only undo that. Regression is left out: with standardized targets a default
    network's first mse is 1–35 times mean y² (its output variance adds to it), a normal start."""
    if not net.loss.classification:
        return []
    with np.errstate(all="ignore"):
        net._forward(X)
        loss = float(net._data_loss(Y))
    net.layers[0].A_prev = None  # the first layer's cached input may be a gathered copy: not kept into training
    if baseline is None:
        baseline = uninformative_loss(net, Y)
    if not baseline > 0 or not loss > INITIAL_LOSS_FACTOR * baseline:
        return []
    return [Finding(
        "initial_loss", "warning", loss / baseline, INITIAL_LOSS_FACTOR,
        f"the loss before training is {loss:.4g}, {loss / baseline:.3g}× that of an uninformative output "
        f"({baseline:.4g}{', ln K' if net.loss.name == 'cross_entropy' else ''}): the network starts confidently "
        "wrong because its initial outputs are too large.",
        "standardize the inputs and use the default initializers (He for ReLU, Glorot otherwise).")]


# ---- during training -------------------------------------------------------------------------


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
        self._report(_saturation(self.history, self.net, self.baseline) + _plateau(self.history, self.baseline))

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
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def check_epoch(history, net, epoch, baseline, best, climb, clipping=False):
    """Findings from the History's per-layer statistics up to ``epoch`` (1-based): vanishing and
    exploding gradients, dead ReLU units, learning rate too high or too low (saturation and the
    plateau are judged at the end of training). Kept by
    the caller, so that a check costs the same at epoch 10 and at epoch 10,000: ``best``, the
    lowest loss of the epochs before; ``climb``, (lowest loss before, loss) of the largest rise of
    the loss since the previous check (it may have happened on an epoch that was not measured)."""
    e = epoch - 1
    return (_gradients(history, net, e, best) + _units(history, net, e)
            + _learning_rate(history, net, e, baseline, climb, clipping))


def _still_high(history, e, baseline):
    """The loss is still above STILL_HIGH of the uninformative loss: not converged, nothing learned yet."""
    return bool(baseline) and history.loss[e] > STILL_HIGH * baseline  # no baseline (all-zero targets): no verdict


def _gradients(history, net, e, best):
    """Gradient norms per layer (History.grad_norms, each layer's mean ‖∂L/∂W‖ over the epoch).

    vanishing: ‖∂L/∂W(1)‖/‖∂L/∂W(L)‖ < VANISHING_RATIO = 1e-3 (three orders of magnitude; seed
    003: σ′ ≤ ¼ per layer, so about 5 sigmoid layers). Measured on the healthy test runs: the
    smallest ratio over all epochs is 0.21 (XOR); seven sigmoid layers of 32 on digits: 1e-4. exploding: the same ratio above EXPLODING_RATIO = 1e3, or a
    layer's norm 1e3 times its first epoch's (healthy runs: norms fall as the loss falls; the
    largest growth measured is 3.6, XOR; a diverging SGD regression grows 2·10⁵-fold in 5 epochs) while
    the loss is not at its best so far (x·tanh x from 0.01·N(0, 1) weights: 10³-fold growth as it learns)."""
    findings, norms = [], history.grad_norms
    L = len(net.layers)
    sigmoid_bound = " (σ′ ≤ ¼)" if any(layer.activation.name == "sigmoid" for layer in net.layers[:-1]) else ""
    if L >= 2 and norms[e][-1] > 0:
        ratio = norms[e][0] / norms[e][-1]
        if ratio < VANISHING_RATIO:
            findings.append(Finding(
                "vanishing_gradients", "warning", ratio, VANISHING_RATIO,
                f"at epoch {e + 1} the first layer's gradient norm is {ratio:.2g} times the last layer's: the "
                f"error signal shrinks through the derivatives f′(z) of the {L - 1} hidden layer"
                f"{'s' if L > 2 else ''}{sigmoid_bound} before it reaches the first layers, which barely learn.",
                "use ReLU (or leaky_relu) hidden layers with He initialization, fewer layers, or a larger "
                "lr_scale for the first layers.", epoch=e + 1, layer=1))
        elif ratio > EXPLODING_RATIO:
            findings.append(Finding(
                "exploding_gradients", "warning", ratio, EXPLODING_RATIO,
                f"at epoch {e + 1} the first layer's gradient norm is {ratio:.3g} times the last layer's: the "
                "error signal grows through the layers' weights on its way back.",
                "clip the gradients (optimizer clip_norm=1.0), use smaller initial weights (the default "
                "initializers), or a smaller learning rate.", epoch=e + 1, layer=1))
    # growth counts only while the loss is not at a new best: gradients that grow from a tiny start while
    # the loss falls (weights leaving a flat region, e.g. 0.01·N(0, 1) with x·tanh x) are recovery
    improving = history.loss[e] <= best
    for l in range(L):
        first, now = norms[0][l], norms[e][l]
        if not improving and first > 0 and now / first > EXPLODING_RATIO:
            findings.append(Finding(
                "exploding_gradients", "warning", now / first, EXPLODING_RATIO,
                f"layer {l + 1}'s gradient norm grew {now / first:.3g}-fold since epoch 1 (from {first:.3g} to "
                f"{now:.3g}): the updates feed back into ever larger gradients.",
                "clip the gradients (optimizer clip_norm=1.0) and lower the learning rate.",
                epoch=e + 1, layer=l + 1))
            break
    return findings


def _units(history, net, e):
    """dead_relu: more than DEAD_FRACTION = ½ of a ReLU layer's units never active (z ≤ 0 on every
    sampled row of the epoch). The healthy test runs peak at 11% (digits 64-128-10) and 25% (4 of
    16 units, moons 2-16-16-1); SGD lr 3 on digits kills 94% within 2 epochs."""
    return [Finding(
        "dead_relu", "warning", dead, DEAD_FRACTION,
        f"{dead:.0%} of layer {l + 1}'s ReLU units were never active during epoch {e + 1} (z ≤ 0 for every "
        "sampled row): a dead unit's gradient is 0, so it never recovers.",
        "lower the learning rate, use He initialization and standardized inputs, or leaky_relu.",
        epoch=e + 1, layer=l + 1) for l, dead in _above(history.dead_fraction[e], DEAD_FRACTION)]


def _above(row, threshold):
    """(layer index, value) for each layer whose statistic in ``row`` (None where it does not apply)
    exceeds ``threshold``."""
    return [(l, v) for l, v in enumerate(row) if v is not None and v > threshold]


def _saturation(history, net, baseline):
    """saturation, at the end of training: on the last measured epoch more than SATURATED_FRACTION
    = ½ of a hidden sigmoid/tanh layer's activations sit where f′ is below 4% of its peak (σ
    outside (0.01, 0.99), |tanh| > 0.99) and the loss is still above half the uninformative one.
    The healthy runs peak at 35% (digits 64-32-32-10 tanh, late in training); unscaled inputs
    saturate 96–100% from the first epoch and stay there. Checked at the end, like the plateau:
    a network may pass through saturation and learn (the ising experiment's 256-8-1 sigmoid
    network is 54% saturated at epoch 20 with the loss at ln 2, and ends at 0.01), and one that
    has learned may saturate its hidden units on purpose — hence the condition on the loss."""
    rows = history.saturated_fraction
    e = next((e for e in reversed(range(len(rows))) if any(v is not None for v in rows[e])), None)  # last measured
    if e is None or not _still_high(history, len(history.loss) - 1, baseline):
        return []
    return [Finding(
        "saturation", "warning", sat, SATURATED_FRACTION,
        f"{sat:.0%} of layer {l + 1}'s {net.layers[l].activation.name} activations are saturated at epoch {e + 1}, "
        "where f′(z) is almost 0, so little gradient passes through them, and the loss is still high.",
        "standardize the inputs, use the default (Glorot) initialization, or ReLU hidden layers.",
        epoch=e + 1, layer=l + 1) for l, sat in _above(rows[e], SATURATED_FRACTION)]


def _learning_rate(history, net, e, baseline, climb, clipping):
    """The learning rate from the loss curve and the update-to-weight ratio ‖ΔW‖/‖W‖ (CS231n's rule
    of thumb: about 1e-3).

    lr_too_high: the loss climbs back above its best so far by more than RISE = 0.2 of the
    uninformative loss (rising, or oscillating with a large swing) while some layer's ratio is
    above UPDATE_HIGH = 0.1. Measured: the healthy test runs have ratios ≤ 0.061 in their first
    epochs and ≤ 0.017 later; they climb back by ≤ 0.007, except sine under full-batch Adam (0.13,
    at epoch 12, with ratios of 0.007). The 2-16-1 XOR nets of the CLI under full-batch Adam lr 0.1,
    which learn, have ratios 0.2–0.4 in their first epochs and climb back by up to 0.095: both
    conditions are needed. Moons under SGD lr 10–30 climbs back by 0.9–50 with ratios 0.3–1.
    lr_too_low: in the first 3 epochs every layer's ratio stayed below UPDATE_LOW = 1e-5 while
    the loss is still above half the uninformative one (the healthy runs' largest ratio in their
    first 3 epochs is 0.03–0.06; SGD lr 1e-5 on digits: 4e-6)."""
    findings = []
    loss, ratios = history.loss, history.update_ratio
    if e >= 1 and baseline:
        top, (best, peak) = max(ratios[e]), climb
        rise = (peak - best) / baseline
        if rise > RISE and top > UPDATE_HIGH:
            findings.append(Finding(
                "lr_too_high", "warning", top, UPDATE_HIGH,
                f"by epoch {e + 1} the loss climbed back from {best:.4g} to {peak:.4g}, and a step changes "
                f"the weights by {top:.2g} of their norm (about 1e-3 is typical): the steps overshoot the minimum.",
                "divide the learning rate by 10" + ("" if clipping else ", or clip the gradients (clip_norm=1.0)")
                + ".", epoch=e + 1))
    if e == 2:
        early = max(max(r) for r in ratios[: e + 1])
        if early < UPDATE_LOW and _still_high(history, e, baseline):
            findings.append(Finding(
                "lr_too_low", "warning", early, UPDATE_LOW,
                f"in the first {e + 1} epoch(s) no step changed any layer's weights by more than {early:.2g} of "
                f"their norm (about 1e-3 is typical), and the loss ({loss[e]:.4g}) is still high.",
                "multiply the learning rate by 10 to 100 (typical: SGD 0.01–0.1, Adam 1e-3).", epoch=e + 1))
    return findings


def _plateau(history, baseline):
    """The loss has not improved by 1% over the last PLATEAU_WINDOW = 10 epochs while it stays above
    PLATEAU_LEVEL = 0.9 of the uninformative loss: training is stuck where it started, at chance.
    Checked at the end of training, so that an early plateau the run escapes (the 2-4-1 XOR net
    sits near ln 2 for its first few hundred SGD steps) is not reported."""
    loss = history.loss
    if not baseline or len(loss) <= PLATEAU_WINDOW:  # all-zero targets give no scale to judge by
        return []
    before, now = loss[-PLATEAU_WINDOW - 1], loss[-1]
    # far above the uninformative loss the run has blown up, not stalled: that is lr_too_high's finding
    if now < PLATEAU_LEVEL * baseline or now < 0.99 * before or now > PLATEAU_CEILING * baseline:
        return []
    return [Finding(
        "plateau", "warning", now / baseline, PLATEAU_LEVEL,
        f"the loss ({now:.4g}) has not improved by 1% in the last {PLATEAU_WINDOW} epochs and is still "
        f"{now / baseline:.2f} of an uninformative output's ({baseline:.4g}): the network has learned next to nothing.",
        "check the other findings first; then try a larger learning rate, Adam, more epochs, or "
        "another initialization (seed).", epoch=len(loss))]


# ---- non-finite values -----------------------------------------------------------------------


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
    for each layer z = a_prev W + b, then a = f(z); the loss; then δ and ∂L/∂W from the last layer
    back to the first. Returns a phrase, e.g. "z of layer 2 (the product a1 @ W2 + b2) overflowed
    to inf, from finite inputs (|a1| ≤ 3e+160, |W2| ≤ 2e+150)"."""
    layers = net.layers
    for l, layer in enumerate(layers, start=1):
        prev = "X" if l == 1 else f"a{l - 1}"
        for name, p in (("W", layer.W), ("b", layer.b)):
            if not _finite(p):
                return f"the weights {name}{l} of layer {l} are not finite"
        if layer.Z is None:
            return "the loss"
        if not _finite(layer.Z):
            return (f"z of layer {l} (the product {prev} @ W{l} + b{l}) {_state(layer.Z)}, from finite inputs "
                    f"({_largest(prev, layer.A_prev)}, {_largest(f'W{l}', layer.W)})")
        if not _finite(layer.A):
            return (f"a of layer {l} (the activation {layer.activation.name}(z{l})) {_state(layer.A)}, "
                    f"from finite z ({_largest(f'z{l}', layer.Z)})")
    L = len(layers)
    if not loss_finite:
        return f"the loss function ({net.loss.name}) itself overflowed on finite outputs ({_largest(f'a{L}', layers[-1].A)})"
    for l in range(L, 0, -1):
        layer = layers[l - 1]
        if layer.delta is not None and not _finite(layer.delta):
            if l == L:
                return (f"the loss or its output delta δ{L} = ∂L/∂z{L} {_state(layer.delta)}, from finite outputs "
                        f"({_largest(f'a{L}', layer.A)})")
            return (f"δ{l} = (δ{l + 1} W{l + 1}ᵀ) ⊙ f′(z{l}) of layer {l} {_state(layer.delta)}, "
                    f"from finite δ{l + 1} ({_largest(f'δ{l + 1}', layers[l].delta)}, {_largest(f'W{l + 1}', layers[l].W)})")
        if layer.dW is not None and not _finite(layer.dW):
            prev = "X" if l == 1 else f"a{l - 1}"
            return (f"∂L/∂W{l} = {prev}ᵀ δ{l} of layer {l} {_state(layer.dW)}, from finite factors "
                    f"({_largest(prev, layer.A_prev)}, {_largest(f'δ{l}', layer.delta)})")
    for l, layer in enumerate(layers, start=1):
        with np.errstate(all="ignore"):
            if layer.dW is not None and not math.isfinite(np.vdot(layer.dW, layer.dW)):
                return (f"the norm ‖∂L/∂W{l}‖ of layer {l} overflowed: its entries are finite but reach "
                        f"{float(np.max(np.abs(layer.dW))):.3g}, whose squares overflow")
    return "no value of the last pass is non-finite now"


def _layer_of(where):
    """The 1-based layer a locate_nonfinite phrase names, or None (the loss)."""
    m = re.search(r"of layer (\d+)", where)
    return int(m.group(1)) if m else None


# ---- reports ---------------------------------------------------------------------------------


def diagnose(net, X, y, **fit_options):
    """Run the checks before training and, unless they found an error, a short training of ``net``
    (``fit`` with ``fit_options``, diagnostics on, no progress bar, warnings kept quiet). Returns
    (findings, history), history None when training was not run. The network is trained in
    place: pass ``net.copy()`` to keep yours."""
    from .training import fit

    X, Y = net.check_data(X, y)
    findings = check_before(net, X, Y, fit_options.get("batch_size"))
    if any(f.severity == "error" for f in findings):
        return findings, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)
        history = fit(net, X, Y, progress=False, diagnostics=True, **fit_options)
    return history.findings, history


def format_findings(findings, width=100):
    """The findings as a table: code, severity, layer, epoch, value, threshold, then the cause
    (message) and the fix on the lines below each row."""
    import textwrap

    if not findings:
        return "no findings: nothing looked wrong."
    head = f"{'code':<25} {'severity':<8} {'layer':>5} {'epoch':>5} {'value':>10} {'threshold':>10}"
    lines = [head, "-" * len(head)]
    for f in findings:
        lines.append(f"{f.code:<25} {f.severity:<8} {_cell(f.layer):>5} {_cell(f.epoch):>5} "
                     f"{_cell(f.value):>10} {_cell(f.threshold):>10}")
        for label, text in (("cause", f.message), ("fix", f.fix)):
            lines += textwrap.wrap(text, width, initial_indent=f"    {label + ':':<7}", subsequent_indent=" " * 11)
    return "\n".join(lines)


def _cell(x):
    if x is None:
        return "-"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x):.3g}"
