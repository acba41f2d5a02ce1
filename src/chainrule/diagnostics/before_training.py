"""The checks before training: the data, the targets, the pairing of output activation and loss,
user-defined derivatives, the initial weights and the starting loss."""

import math

import numpy as np

from .findings import Finding
from .thresholds import DERIVATIVE_TOL, INIT_FACTOR, INITIAL_LOSS_FACTOR, INPUT_ROWS, INPUT_SCALE, INPUT_SPREAD


def check_before(net, X, Y, batch_size=128, baseline=None):
    """Findings about the data, targets, loss/activation pairing, derivatives and initial weights.

    ``X``, ``Y`` as ``net.check_data`` returns them (Y with shape (n_samples, n_out)). Nothing
    here changes the network or its random generator: training is the same with or without it.
    The starting loss is taken on one batch of ``batch_size`` evenly spaced rows (all of them for
    None), through the network's buffers for that batch size (the ones ``fit`` trains in), and
    compared with ``baseline`` (``uninformative_loss``; computed here unless the caller has it).
    """
    from ..training import batch_rows

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
    hidden layers of 128; the loss on one batch of the training batch size, as ``check_before``
    takes it) the median ratio is 1.0–1.4, the largest 3.6 (logistic regression on breast_cancer,
    whose 30 features are correlated). Above INITIAL_LOSS_FACTOR = 5 the network
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
