"""The checks on the statistics a ``Monitor`` recorded in the History: gradients, units, the learning
rate (on measured epochs), saturation and the plateau (at the end of training)."""

from .findings import Finding
from .thresholds import (BLOWUP, DEAD_FRACTION, EXPLODING_RATIO, PLATEAU_CEILING, PLATEAU_LEVEL, PLATEAU_WINDOW, RISE,
                         SATURATED_FRACTION, STILL_HIGH, UPDATE_HIGH, UPDATE_LOW, VANISHING_RATIO)


def check_epoch(history, stats, net, epoch, baseline, start, best, climb, clipping=False):
    """Findings from the History (loss, gradient norms) and the diagnostics' ``Statistics`` up to
    ``epoch`` (1-based): vanishing and exploding gradients, dead ReLU units, learning rate too high or
    too low (saturation and the plateau are judged at the end of training). ``start``: the loss
    before training (None when it could not be taken). Kept by the caller, so that a check costs
    the same at epoch 10 and at epoch 10,000: ``best``, the lowest loss of the epochs before;
    ``climb``, (lowest loss before, loss) of the largest rise of the loss since the previous check
    (it may have happened on an epoch that was not measured)."""
    e = epoch - 1
    return (_gradients(history, net, e, best) + _units(stats, e)
            + _learning_rate(history, stats, e, baseline, start, climb, clipping))


def check_end(history, stats, net, baseline):
    """Findings that judge the whole run, at the end of training: saturation and the plateau."""
    return _saturation(history, stats, net, baseline) + _plateau(history, baseline)


def _still_high(history, e, baseline):
    """The loss is still above STILL_HIGH of the uninformative loss: not converged, nothing learned yet."""
    return bool(baseline) and history.loss[e] > STILL_HIGH * baseline  # no baseline (all-zero targets): no verdict


def _gradients(history, net, e, best):
    """Gradient norms per layer (History.grad_norms, each layer's mean ‖∂L/∂W‖ over the epoch).

    vanishing: ‖∂L/∂W(1)‖/‖∂L/∂W(L)‖ < VANISHING_RATIO = 1e-3 (three orders of magnitude:
    σ′ ≤ ¼ per layer, so about 5 sigmoid layers). exploding: the same ratio above EXPLODING_RATIO
    = 1e3, or a layer's norm 1e3 times its first epoch's while the loss is not at its best so far
    (healthy runs' norms fall as the loss falls; norms that grow from a tiny start while the loss
    falls are recovery). The ratios and growths measured: docs/diagnostics.md."""
    findings, norms = [], history.grad_norms
    L = len(net.layers)
    bounds = dict.fromkeys(layer.activation.derivative_bound for layer in net.layers[:-1]
                           if layer.activation.derivative_bound)
    bound = f" ({', '.join(bounds)})" if bounds else ""
    if L >= 2 and norms[e][-1] > 0:
        ratio = norms[e][0] / norms[e][-1]
        if ratio < VANISHING_RATIO:
            findings.append(Finding(
                "vanishing_gradients", "warning", ratio, VANISHING_RATIO,
                f"at epoch {e + 1} the first layer's gradient norm is {ratio:.2g} times the last layer's: the "
                f"error signal shrinks through the derivatives f′(z) of the {L - 1} hidden layer"
                f"{'s' if L > 2 else ''}{bound} before it reaches the first layers, which barely learn.",
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


def _units(stats, e):
    """dead_relu: more than DEAD_FRACTION = ½ of a ReLU layer's units never active (z ≤ 0 on every
    sampled row of the epoch): a dead unit's gradient is 0, so it never recovers. The fractions
    measured on healthy and failing runs: docs/diagnostics.md."""
    return [Finding(
        "dead_relu", "warning", dead, DEAD_FRACTION,
        f"{dead:.0%} of layer {l + 1}'s ReLU units were never active during epoch {e + 1} (z ≤ 0 for every "
        "sampled row): a dead unit's gradient is 0, so it never recovers.",
        "lower the learning rate, use He initialization and standardized inputs, or leaky_relu.",
        epoch=e + 1, layer=l + 1) for l, dead in _above(stats.dead_fraction[e], DEAD_FRACTION)]


def _above(row, threshold):
    """(layer index, value) for each layer whose statistic in ``row`` (None where it does not apply)
    exceeds ``threshold``."""
    return [(l, v) for l, v in enumerate(row) if v is not None and v > threshold]


def _saturation(history, stats, net, baseline):
    """saturation, at the end of training: on the last measured epoch more than SATURATED_FRACTION
    = ½ of a hidden sigmoid/tanh layer's activations sit where f′ is almost 0 (σ outside
    (0.01, 0.99): σ′ < 4% of its peak ¼; |tanh| > 0.99: tanh′ < 2% of 1) and the loss is still
    above STILL_HIGH = ½ of the uninformative one. Checked at the end, like the plateau: a network
    may pass through saturation and learn, and one that has learned may saturate its hidden units
    on purpose — hence the condition on the loss. The fractions measured (and the ising
    experiment's network that passes through saturation): docs/diagnostics.md."""
    rows = stats.saturated_fraction
    e = next((e for e in reversed(range(len(rows))) if any(v is not None for v in rows[e])), None)  # last measured
    if e is None or not _still_high(history, len(history.loss) - 1, baseline):
        return []
    return [Finding(
        "saturation", "warning", sat, SATURATED_FRACTION,
        f"{sat:.0%} of layer {l + 1}'s {net.layers[l].activation.name} activations are saturated at epoch {e + 1}, "
        "where f′(z) is almost 0, so little gradient passes through them, and the loss is still high.",
        "standardize the inputs, use the default (Glorot) initialization, or ReLU hidden layers.",
        epoch=e + 1, layer=l + 1) for l, sat in _above(rows[e], SATURATED_FRACTION)]


def _learning_rate(history, stats, e, baseline, start, climb, clipping):
    """The learning rate from the loss curve and the update-to-weight ratio ‖ΔW‖/‖W‖ (CS231n's rule
    of thumb: about 1e-3).

    lr_too_high: the loss climbs back above its best so far by more than RISE = 0.2 of the
    uninformative loss (rising, or oscillating with a large swing) while some layer's ratio is
    above UPDATE_HIGH = 0.1: both are needed, since a healthy Adam run's first steps can exceed the
    ratio while it learns. A blow-up is lr_too_high too: an epoch's loss above BLOWUP = 10 times
    both the loss before training and the uninformative loss (a first epoch far worse than the
    start, after which ReLU units die).
    lr_too_low: in the first 3 epochs every layer's ratio stayed below UPDATE_LOW = 1e-5 while
    the loss is still above STILL_HIGH = ½ of the uninformative one.
    The ratios and climbs measured on healthy and failing runs: docs/diagnostics.md."""
    findings = []
    loss, ratios = history.loss, stats.update_ratio
    if start and loss[e] > BLOWUP * max(start, baseline):
        findings.append(Finding(
            "lr_too_high", "warning", loss[e] / start, BLOWUP,
            f"the loss rose from {start:.4g} before training to {loss[e]:.4g} at epoch {e + 1}, {loss[e] / start:.3g} "
            "times as much: the first steps threw the weights far from where they started.",
            "divide the learning rate by 10 or more" + ("" if clipping else ", or clip the gradients (clip_norm=1.0)")
            + ".", epoch=e + 1))
    elif e >= 1 and baseline:
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
