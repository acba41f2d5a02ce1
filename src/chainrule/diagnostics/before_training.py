"""The checks before training: the data, the targets, the pairing of output activation and loss,
user-defined derivatives, the initial weights and the starting loss."""

import math

import numpy as np

from .. import initializers
from ..batches import batch_rows
from ..layers import numbered
from .findings import Finding
from .thresholds import DERIVATIVE_TOL, INIT_FACTOR, INITIAL_LOSS_FACTOR, INPUT_ROWS, INPUT_SCALE, INPUT_SPREAD


def check_before(net, X, Y, batch_size=128, baseline=None):
    """Findings about the data, targets, loss/activation pairing, derivatives and initial weights.

    ``X``, ``Y`` as ``net.check_data`` returns them (Y with shape (n_samples, n_out)). Nothing
    here changes the network or its random generator: training is the same with or without it.
    The starting loss is taken on one batch of ``batch_size`` rows spread over the data (all of
    them for None), in the network's workspace for that batch size (the one ``fit`` trains in), and
    compared with ``baseline`` (the loss of an uninformative output; computed here unless given).
    """
    return checks_and_start(net, X, Y, batch_size, baseline)[0]


def checks_and_start(net, X, Y, batch_size=128, baseline=None):
    """(check_before's findings, the starting loss): the loss before training on one batch, or None
    when an error found before it means a forward pass would raise or mean nothing."""
    batch_size = batch_rows(batch_size, len(X))
    with np.errstate(over="ignore", invalid="ignore"):  # absurd weights or data are findings, not warnings
        findings = _inputs(sample_rows(X, Y, INPUT_ROWS)[0]) + _target_range(net, Y) + _pairing(net, Y)
        findings += _derivatives(net) + _symmetry(net) + _init_scale(net)
        if any(f.severity == "error" for f in findings):
            return findings, None
        start = starting_loss(net, X, Y, batch_size)
    if baseline is None:
        baseline = net.loss.uninformative(sample_rows(X, Y)[1])
    return findings + _initial_loss(net, start, baseline), start


def _inputs(X):
    """Feature scales (on up to INPUT_ROWS evenly spaced rows: the check costs the same for 60,000
    rows as for 4,096). The RMS √mean(x²) of a feature counts both a large mean and a large spread.

    max_j rms_j > INPUT_SCALE = 10: the first layer's z is an order of magnitude too large for the
    initializers' assumption of unit inputs. Else max rms / min non-zero rms > INPUT_SPREAD = 10⁴:
    four orders of magnitude, where the small features' weights learn far more slowly.
    The data sets' scales behind both thresholds: docs/diagnostics.md.
    """
    # Σ x² per feature in X's own dtype; in float64 only where float32's overflowed (|x| ≳ 1e19)
    squares = np.einsum("ij,ij->j", X, X)
    if not np.isfinite(squares).all():
        squares = np.einsum("ij,ij->j", X, X, dtype=np.float64)
    rms = np.sqrt(squares.astype(np.float64) / len(X))
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


def _target_range(net, Y):
    """Regression targets outside the output activation's range (σ: (0, 1), tanh: (−1, 1), ReLU:
    [0, ∞)): the loss can never reach 0, the output saturates chasing them. Threshold 0 targets
    outside: one is already unreachable. (Targets invalid for bce, cross_entropy or hinge are a
    ValueError from ``check_data``, before this runs.)"""
    act = net.layers[-1].activation
    low, high = act.output_range
    if net.loss.classification or (low == -math.inf and high == math.inf):
        return []
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
    """Output activation and loss that do not go together, judged from the output's range and
    what the loss assumes of it:

    softmax (an activation that couples its outputs) over one unit, always 1 — error; a loss that
    needs probabilities (bce) on an output not confined to [0, 1] — error; a regression loss
    (mse, half_sse) on 0/1 targets with a (0, 1) output (classification: the gradient
    (ŷ − y)·f′(z) vanishes as the output saturates; use bce or cross_entropy) — warning; a loss
    that takes the outputs as logits (cross_entropy) on a bounded output it does not fuse with
    (logits squeezed into a small range) — warning; a margin loss (hinge, y·ŷ ≥ 1) on an output
    that cannot reach −1 — warning.
    """
    out, loss = net.layers[-1], net.loss
    act = out.activation
    low, high = act.output_range
    said = None
    if not act.elementwise and out.n_out == 1:
        said = ("error", f"the output layer is a {act.name} over a single unit, whose output is always 1",
                "give the output layer one unit per class with softmax, or use sigmoid with loss='bce' for two classes.")
    elif loss.needs_probabilities and not (low >= 0 and high <= 1):
        said = ("error", f"loss {loss.name!r} needs probabilities in [0, 1], but the output activation {act.name!r} "
                         "does not produce them",
                f"use a sigmoid output layer with loss={loss.name!r}.")
    elif not loss.classification and (low, high) == (0, 1) and np.isin(Y, (0.0, 1.0)).all():
        said = ("warning", f"a {act.name} output trained with {loss.name} on 0/1 class targets: the gradient "
                           f"(ŷ − y)·f′(z) vanishes when the {act.name} saturates on a wrong answer",
                "use loss='bce' with a sigmoid output (two classes) or loss='cross_entropy' with softmax "
                "(K classes).")
    elif loss.takes_logits and not net.fused and math.isfinite(high - low):
        said = ("warning", f"a {act.name} output with {loss.name}: the loss applies softmax to the outputs, "
                           f"so its logits are squeezed into ({low:g}, {high:g}) and the predictions can never be "
                           "confident",
                f"use a softmax (or linear) output layer with loss={loss.name!r}.")
    elif loss.kink_margin is not None and low > -loss.kink_margin:
        said = ("warning", f"a {act.name} output with {loss.name} loss cannot reach the margin y·ŷ ≥ "
                           f"{loss.kink_margin:g} for y = −1",
                f"use a linear or tanh output layer with loss={loss.name!r}.")
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
    for l, layer in numbered(net.layers):  # a block's layers too
        act = layer.activation
        if act.trusted or id(act) in seen:
            continue
        seen.add(id(act))
        z = np.linspace(-6.0, 6.0, 48)
        with np.errstate(all="ignore"):
            numeric = (np.asarray(act.f(z + h), np.float64) - np.asarray(act.f(z - h), np.float64)) / (2 * h)
            analytic = np.asarray(act.df(z), np.float64)
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
    is an error, some of them a warning. Random initialization never produces exact copies.
    Checked between consecutive layers with weight matrices (Dense → Dense)."""
    findings = []
    for l, (layer, nxt) in enumerate(zip(net.layers, net.layers[1:]), start=1):
        if not (layer.weight_matrix and nxt.weight_matrix):
            continue
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


def _init_scale(net):
    """std(W) against the std He (ReLU) or Glorot (others) derive to keep the variance of z and δ
    constant from layer to layer. A factor r per layer multiplies the signal by about r per
    layer. Threshold: off by more than INIT_FACTOR = 10 either way (the ratios measured for the
    default and the small and standard normal initializers: docs/diagnostics.md). Layers with
    all-zero weights are left to symmetric_init.
    The scale is measured as the root mean square √mean(W²), the std of a zero-mean initializer:
    unlike the sample std it does not collapse when a small layer's few weights happen to be
    close to each other (two weights drawn from N(0, 1) have a std below 0.07 one time in 12, an
    RMS below 0.07 one time in 200).
    Only initial weights are judged (``net.initial_weights``): weights that training or a file gave
    have the scale training made them, and re-initializing them would throw that away."""
    findings = []
    if not net.initial_weights:
        return findings
    for l, layer in numbered(net.layers):  # every weight matrix, a block's too
        if not layer.weight_matrix or layer.W.size < 2:
            continue
        std = math.sqrt(float(np.vdot(layer.W, layer.W)) / layer.W.size)  # RMS, without a copy of W
        if not math.isfinite(std):  # weights so large that their squares overflow: scale them first
            top = float(np.max(np.abs(layer.W)))
            std = top * math.sqrt(float(np.mean(np.square(layer.W / top))))
        if std == 0:
            continue
        name = layer.activation.init  # the initializer that suits the activation
        want = initializers.std(name, layer.n_in, layer.n_out)
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
            f"use init='{name}' (the default) for this layer.",
            layer=l))
    return findings


def sample_rows(X, Y, rows=128):
    """At most ``rows`` evenly spaced rows (no random draw: the network's generator is untouched)."""
    step = -(-len(X) // rows)  # ⌈n / rows⌉: the sample spans the whole data
    return X[::step], Y[::step]


def starting_loss(net, X, Y, m):
    """The data loss before training on exactly m rows spread over the data, ⌊i·n/m⌋ for
    i = 0 … m − 1 (all of X when m ≥ n): a batch of training's size, so that its forward pass runs
    in the workspace training will use; the workspace does not keep the gathered rows. In training
    mode, as the first step sees it (a BatchNorm normalizes by the batch), the running statistics
    left as they were."""
    n = len(X)
    if m < n:
        rows = np.arange(m, dtype=np.intp) * n // m
        X, Y = X[rows], Y[rows]
    ws, running = net.workspace(m), net.running.copy()
    with np.errstate(all="ignore"):
        net.propagate(X, ws, training=min(m, n) >= net.min_rows)
        loss = float(net.data_loss(Y, ws))
    net.running[...] = running
    ws.release()
    return loss


def _initial_loss(net, loss, baseline):
    """For classification, the loss before any update against the loss of an uninformative output
    (ln K, ln 2, 1 for hinge). At initialization the logits are small, so the first loss is close to
    it; above INITIAL_LOSS_FACTOR times it the network starts confidently wrong (randn weights,
    unscaled inputs), and its first epochs only undo that. Regression is left out: with standardized
    targets a default network's first mse is a few times mean y² (its output variance adds to it),
    a normal start. (The measurements behind INITIAL_LOSS_FACTOR = 5: docs/diagnostics.md.)"""
    if not net.loss.classification or not baseline > 0 or not loss > INITIAL_LOSS_FACTOR * baseline:
        return []
    name = f", {net.loss.uninformative_name}" if net.loss.uninformative_name else ""
    return [Finding(
        "initial_loss", "warning", loss / baseline, INITIAL_LOSS_FACTOR,
        f"the loss before training is {loss:.4g}, {loss / baseline:.3g}× that of an uninformative output "
        f"({baseline:.4g}{name}): the network starts confidently wrong because its initial outputs are too large.",
        "standardize the inputs and use the default initializers (He for ReLU, Glorot otherwise).")]
