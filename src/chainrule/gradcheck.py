"""Gradient checking: every analytic ∂L/∂θ from ``Network.backward`` against central differences

    ∂L/∂θ ≈ (L(θ + ε) − L(θ − ε)) / 2ε

in float64, with one line per parameter and one diagnosis for the whole check. The backward
pass builds every gradient from the output delta δ(L) down the recurrence
δ(l) = (δ(l+1) W(l+1)ᵀ) ⊙ f′(z(l)), then ∂L/∂W(l) = a(l−1)ᵀ δ(l) and ∂L/∂b(l) = Σ_rows δ(l),
so where an error enters decides which gradients it reaches, and the diagnosis reads it back:

- every parameter off by one factor: the loss's gradient or δ(L) (a missing 1/m, the ½ of
  ½Σ(ŷ − y)², a sign);
- layers 1..k off, the layers above right: δ(k), that is f′ of layer k's activation or that
  step of the recurrence;
- one layer off, the layers below right: that layer's own ∂L/∂W, ∂L/∂b;
- only the biases (only the weights): Σ_rows δ (a(l−1)ᵀ δ), the other being built from the
  same δ and right.

Factors that differ per parameter, or ratios that are not constant, are reported as such.
"""

from types import SimpleNamespace

import numpy as np

from .layers import label, walk
from .validation import integer, number

__all__ = ["gradcheck", "GradcheckReport", "ParameterCheck"]

# analytic/numeric counts as one constant factor when it varies by at most this, relatively
FACTOR_RTOL = 1e-3
# The default check's work: each entry costs two forward passes, 2·m·(P + U) numbers computed
# for m rows, P parameters and U units. Every entry is checked while the total stays within
# this; beyond, a seeded sample of each parameter (a 1M-parameter network on 4 rows: about 100).
DEFAULT_WORK = 10**9
# ...never fewer entries of one parameter than this (all of it, when it is smaller)
MIN_PER_PARAMETER = 10


class ParameterCheck:
    """The check of one parameter array (``layer`` is 1-based, ``name`` "W" or "b", "gamma", "beta",
    "W.1" for the W of a block's first layer, "P" for its projection).

    ``checked`` entries of ``size`` were compared (``skipped`` more crossed a kink).
    ``max_rel_error`` is the largest |a − n| / max(|a|, |n|) over the ``rel_checked`` entries
    where the relative tolerance decides, tol·max(|a|, |n|) > atol, and over every failing
    entry; it is 0.0 when there is none (every value within atol/tol, so the absolute
    tolerance judged them all). ``worst_index`` is the entry furthest beyond its bound.
    """

    def __init__(self, layer, name, shape):
        self.layer, self.name, self.shape = layer, name, shape
        self.size = int(np.prod(shape))
        self.checked = self.skipped = self.rel_checked = 0
        self.max_abs_error = self.max_rel_error = 0.0
        self.worst_index = None
        self.analytic = self.numeric = None  # values at the worst index
        self.factor = None  # analytic/numeric, when it is one constant other than 1 on a failing parameter
        self.problem = None  # a sentence, when the parameter fails
        self.passed = True

    @property
    def label(self):
        return label(self.name, self.layer)

    def as_dict(self):
        return {
            k: getattr(self, k)
            for k in ("layer", "name", "size", "checked", "skipped", "rel_checked", "max_abs_error", "max_rel_error",
                      "worst_index", "analytic", "numeric", "factor", "problem", "passed")
        }


class GradcheckReport:
    """Per-parameter checks, the overall verdict and ``diagnosis`` (one paragraph on where the
    failures point, None when all pass); ``str(report)`` is a readable table.
    ``per_parameter`` is the most entries checked of each parameter (None: every entry);
    ``running`` the number of running statistics (BatchNorm's), which are not checked."""

    def __init__(self, checks, eps, tol, atol, per_parameter, seed, diagnosis, running=0):
        self.checks, self.eps, self.tol, self.atol = checks, eps, tol, atol
        self.per_parameter, self.seed, self.diagnosis, self.running = per_parameter, seed, diagnosis, running
        self.passed = all(c.passed for c in checks)

    @property
    def failures(self):
        return [c for c in self.checks if not c.passed]

    @property
    def max_rel_error(self):
        """The largest ``max_rel_error`` of any parameter (0.0 when none was measured)."""
        return max(c.max_rel_error for c in self.checks)

    @property
    def sampled(self):
        """True when some parameter was checked in a sample of its entries, not all of them."""
        return self.per_parameter is not None and any(c.size > self.per_parameter for c in self.checks)

    def __bool__(self):
        return self.passed

    def __str__(self):
        w = max(6, *(len(c.label) for c in self.checks))  # the parameter column: W1, gamma3.2, …
        lines = [
            f"{'param':<{w}} {'layer':>5} {'checked':>8} {'of':>9} {'skipped':>8} {'max abs err':>12} {'max rel err':>12}"
            "  worst (1-based)"
        ]
        for c in self.checks:
            worst = "" if c.worst_index is None else f"{c.label}[{', '.join(str(j + 1) for j in c.worst_index)}]"
            rel = f"{c.max_rel_error:>12.3e}" if c.rel_checked else f"{'—':>12}"
            lines.append(
                f"{c.label:<{w}} {c.layer:>5} {c.checked:>8} {c.size:>9} {c.skipped:>8} {c.max_abs_error:>12.3e} "
                f"{rel}  {worst}{'' if c.passed else '  FAIL'}"
            )
        if self.passed:
            lines.append(
                f"gradient check passed: every |analytic − numeric| ≤ {self.tol:g}·max(|analytic|, |numeric|)"
                f" + {self.atol:.1e} (ε = {self.eps:g})"
            )
        else:
            lines.append("gradient check FAILED:")
            lines += [f"  {c.label} (layer {c.layer}, parameter {c.name}): {c.problem}" for c in self.failures]
            lines.append(f"diagnosis: {self.diagnosis}")
        return "\n".join(lines + self._notes())

    def _notes(self):
        notes = []
        if self.sampled:
            checked, size = sum(c.checked + c.skipped for c in self.checks), sum(c.size for c in self.checks)
            notes.append(
                f"sampled {checked:,} of {size:,} entries: at most {self.per_parameter:,} of each parameter, "
                f"chosen with seed {self.seed} (max_entries=N checks up to N of each)"
            )
        if any(c.checked and not c.rel_checked for c in self.checks):
            notes.append(
                f"—: |analytic| and |numeric| are at most atol/tol = {self.atol / self.tol:.1e} at every entry of "
                "that parameter; there the absolute tolerance decides, and no relative error is reported"
            )
        skipped = sum(c.skipped for c in self.checks)
        if skipped:
            notes.append(
                f"{skipped} entr{'y' if skipped == 1 else 'ies'} skipped: ±ε crossed a kink (ReLU at 0, hinge margin 1)"
            )
        if self.running:
            notes.append(f"the {self.running} running statistics (BatchNorm's running mean and variance) are not "
                         "checked: no gradient trains them; γ and β were checked in training mode")
        return notes


def gradcheck(net, X, y, eps=1e-5, tol=1e-5, max_entries=None, seed=0):
    """Compare the analytic gradients of ``net`` on (X, y) with central differences, entry by entry.

    An entry passes when |analytic − numeric| ≤ tol·max(|analytic|, |numeric|) + atol, with
    atol = 1e-9·max(1, |L|) covering the rounding of the differences themselves. The reported
    relative error |a − n| / max(|a|, |n|) is taken only over entries where tol·max(|a|, |n|)
    exceeds atol (there the relative bound decides: a passing report's relative errors are
    below 2·tol) and over failing entries; a parameter with no such entry reports 0.0 and the
    table shows "—".

    A float64 network is checked in place (each parameter is restored exactly); a float32 one
    through a float64 copy. Every trained array is checked: W and b, a BatchNorm's γ and β, the
    weights inside residual blocks (W3.1 is the W of block 3's first layer), in training mode (a
    BatchNorm normalizes by the batch, whose mean and variance depend on θ). A BatchNorm's running
    mean and variance are not checked: no gradient trains them (the check restores them after). ``max_entries``: at most this many entries of each parameter, a
    random sample chosen with ``seed`` (an int ≥ 0). By default (None) every entry while the
    whole check costs at most ``DEFAULT_WORK`` (10⁹) numbers computed in forward passes (each
    entry costs two passes over X), and beyond it a sample sized to that budget, at least
    ``MIN_PER_PARAMETER`` of each parameter: seconds for a million parameters on a small X
    (the work grows with the rows of X: pass a few). Entries whose ±ε perturbation crosses a
    kink are skipped, not failed. ``report.diagnosis`` says where the failures point.
    """
    eps, tol = number("gradcheck eps", eps, low=0, low_open=True), number("gradcheck tol", tol, low=0, low_open=True)
    if max_entries is not None:  # None, or the most entries checked of each parameter
        max_entries = integer("gradcheck max_entries", max_entries, low=1)
    seed = integer("gradcheck seed", seed, low=0)  # the seed of the sample of entries
    if net.dtype != np.float64:
        net = net.copy(dtype=np.float64)
    X, Y = net.check_data(X, y)
    net.check_rows(len(X), "X")
    ws, running = net.workspace(len(X)), net.running.copy()
    loss = net.backprop(X, Y, ws, training=True)
    # central differences carry rounding of about 1e-16·|L|/ε; errors far below that are noise
    atol = 1e-9 * max(1.0, abs(loss))
    analytic = [(l, name, p, g.copy()) for l, name, p, g, _ in net.parameters()]
    per_parameter = max_entries if max_entries is not None else _default_per_parameter(net, len(X))
    base = _kink_pattern(net, Y)
    rng = np.random.default_rng(seed)
    about = SimpleNamespace(m=len(X), k=net.n_out, loss=net.loss.name, l2=net.l2, n_layers=len(net.layers),
                            activations=[layer.activation.name for layer in net.layers])

    def loss_at(p, idx, value):
        p[idx] = value
        net.propagate(X, ws, training=True)
        return net.data_loss(Y, ws) + net.penalty(len(Y)), _kink_pattern(net, Y)

    checks = []
    try:
        for l, name, p, g in analytic:
            check = ParameterCheck(l + 1, name, p.shape)
            checks.append(check)
            if g.shape != p.shape:
                _wrong_shape(check, g.shape)
                continue
            a, n, where = _differences(check, p, g, _entries(p.size, per_parameter, rng), loss_at, base, eps)
            _judge(check, a, n, where, tol, atol, about)
    finally:  # the running statistics as they were, even when interrupted
        net.running[...] = running
    return GradcheckReport(checks, eps, tol, atol, per_parameter, seed, _diagnose(checks, about), net.running.size)


def _entries(size, per_parameter, rng):
    """The flat indices of a parameter's entries to check: all, or a sorted random sample of ``per_parameter``."""
    if per_parameter is None or size <= per_parameter:
        return np.arange(size)
    return np.sort(rng.choice(size, size=per_parameter, replace=False))


def _default_per_parameter(net, m):
    """None (every entry) when checking all of them costs at most DEFAULT_WORK, else the count n
    of each parameter that keeps the total within it: Σ min(size, n) ≤ budget, filled from the
    smallest parameter up (those smaller than n are checked in full), n ≥ MIN_PER_PARAMETER."""
    sizes = sorted(p.size for _, _, p, _, _ in net.parameters())
    units = sum(layer.n_out for layer in walk(net.layers))
    budget = DEFAULT_WORK // (2 * m * (sum(sizes) + units))
    left = len(sizes)
    for size in sizes:
        if size * left > budget:
            return max(budget // left, MIN_PER_PARAMETER)
        budget, left = budget - size, left - 1
    return None


def _differences(check, p, g, flat, loss_at, base, eps):
    """(analytic, numeric, indices) at the flat indices whose ±ε keeps every kink on its side."""
    a_vals, n_vals, where = [], [], []
    for k in flat:
        idx = np.unravel_index(k, p.shape)
        theta = p[idx]
        try:
            up, pattern_up = loss_at(p, idx, theta + eps)
            down, pattern_down = loss_at(p, idx, theta - eps)
        finally:  # the parameter as it was, even when interrupted
            p[idx] = theta
        if not (_same(pattern_up, base) and _same(pattern_down, base)):
            check.skipped += 1
            continue
        a_vals.append(g[idx])
        n_vals.append((up - down) / (2 * eps))
        where.append(idx)
    return np.array(a_vals), np.array(n_vals), where


def _wrong_shape(check, shape):
    check.passed = False
    check.problem = (
        f"the gradient has shape {shape} but the parameter has shape {check.shape}"
        + (": the bias gradient must sum δ over the batch rows (axis 0), giving one entry per neuron"
           if check.name == "b" else "")
    )


def _judge(check, a, n, where, tol, atol, about):
    """An entry fails when |a − n| > tol·max(|a|, |n|) + atol; the worst entry is the one
    furthest beyond that bound. The relative error is measured where tol·max(|a|, |n|) > atol
    (the relative bound decides there) and on failing entries."""
    check.checked = a.size
    if a.size == 0:
        return
    abs_err = np.abs(a - n)
    scale = np.maximum(np.abs(a), np.abs(n))
    bound = tol * scale + atol
    fails = abs_err > bound
    measured = (tol * scale > atol) | fails  # scale > 0 on both: no division by zero
    check.rel_checked = int(measured.sum())
    if check.rel_checked:
        check.max_rel_error = float((abs_err[measured] / scale[measured]).max())
    i = int(np.argmax(abs_err / bound))
    check.max_abs_error = float(abs_err.max())
    check.worst_index = tuple(int(j) for j in where[i])
    check.analytic, check.numeric = float(a[i]), float(n[i])
    if not fails.any():
        return
    check.passed = False
    at = f"[{', '.join(str(j + 1) for j in check.worst_index)}] (1-based)"
    check.problem = (
        f"relative error {abs_err[i] / scale[i]:.3g} at {check.label}{at}: "
        f"analytic {check.analytic:.8g} vs numeric {check.numeric:.8g}"
    )
    factor = _constant_factor(a, n)
    if factor is not None and abs(factor - 1) > FACTOR_RTOL:
        check.factor = factor
        check.problem += f"; the same factor across the whole parameter: {_factor_text(factor, about)}"


def _constant_factor(a, n):
    """The ratio a/n when it is one constant (within FACTOR_RTOL) over the entries with a clear gradient."""
    big = np.abs(n) > 1e-6 * np.abs(n).max() if n.size and np.abs(n).max() > 0 else np.zeros(n.shape, bool)
    if big.sum() < 1 or (np.abs(a[~big]) > 1e-6 * np.abs(a).max()).any():
        return None
    r = a[big] / n[big]
    med = float(np.median(r))
    if med == 0 or np.abs(r - med).max() > FACTOR_RTOL * abs(med):
        return None
    return med


# ---- the diagnosis: which parameters fail, and by what ------------------------------------------


def _close(f, value):
    return abs(f - value) <= FACTOR_RTOL * abs(value)


def _factor_text(f, about):
    """'analytic = f × numeric', with what the factor is when it is a familiar one (K, the number of
    outputs, enters only through the loss's mean: _loss_causes names it)."""
    m = about.m
    named = [(-1.0, "the wrong sign"), (2.0, "twice the true gradient"), (0.5, "half the true gradient")]
    if m > 1:
        named += [(m, f"m = {m} times the true gradient, m the batch size"),
                  (1 / m, f"1/m = 1/{m} of the true gradient, m the batch size"), (-m, f"−m = −{m} times it")]
    what = next((text for value, text in named if _close(f, value)), None)
    return f"analytic = {f:.6g} × numeric" + (f" ({what})" if what else "")


def _loss_causes(f, about):
    """The slips in the loss or the output delta that scale every gradient by f."""
    m, k, loss = about.m, about.k, about.loss
    causes = [(-1.0, "a sign error: the gradient of y − ŷ where ŷ − y belongs")]
    if loss == "half_sse":
        causes += [(2.0, "the ½ of ½Σ(ŷ − y)² dropped: 2(ŷ − y) where its gradient is ŷ − y"),
                   (0.5, "a ½ too many: the ½ of ½Σ(ŷ − y)² cancels the 2 of the square, its gradient is ŷ − y")]
    elif loss == "mse":
        causes += [(2.0, "an extra factor 2: the gradient of the mean of (ŷ − y)² has one 2, 2(ŷ − y)/(mK)"),
                   (0.5, "the 2 from the square of (ŷ − y)² missing")]
    else:
        causes += [(2.0, "an extra factor 2 in the loss's gradient or the output delta"),
                   (0.5, "a factor ½ in the loss's gradient or the output delta")]
    if m > 1:
        causes += [(m, f"the 1/m of the mean over the batch missing (m = {m})"),
                   (1 / m, f"the mean over the batch divided by m = {m} twice"),
                   (-m, f"a sign error and a missing 1/m (m = {m})")]
    if k > 1:
        causes += [(k, f"the 1/K of the mean over the K = {k} outputs missing"),
                   (1 / k, f"a division by the K = {k} outputs once too often")]
    found = [text for value, text in causes if _close(f, value)]
    return "; or ".join(found) or "a missing or extra scale factor in the loss's gradient or the output delta"


def _how(failed, factor, differ, about):
    """How the failing parameters are off: by one factor, by factors that differ, or not by a factor."""
    if factor is not None:
        return f"all by the same factor, {_factor_text(factor, about)}"
    parts = [f"{c.label} " + ("a gradient of the wrong shape" if not c.checked else
                              f"×{c.factor:.6g}" if c.factor is not None else "no constant factor") for c in failed]
    if differ:
        return "by factors that differ per parameter (" + ", ".join(parts) + ")"
    return "not by one constant factor (analytic/numeric: " + ", ".join(parts) + ")"


def _shared_factor(failed):
    """The factor every failing parameter is off by, when they share one."""
    factors = [c.factor for c in failed]
    if any(f is None for f in factors):
        return None
    f = float(np.median(factors))
    return f if all(_close(g, f) for g in factors) else None


def _diagnose(checks, about):
    """Where the failures point, read from which parameters fail and by what factor; None if none fails."""
    compared = [c for c in checks if c.checked or not c.passed]
    failed = [c for c in compared if not c.passed]
    if not failed:
        return None
    factor = _shared_factor(failed)
    # every failing parameter off by a constant factor, but not all by the same one
    differ = factor is None and all(c.checked and c.factor is not None for c in failed)
    facts = SimpleNamespace(compared=compared, failed=failed, factor=factor, differ=differ,
                            how=_how(failed, factor, differ, about), names=", ".join(c.label for c in failed))
    for pattern in (_every_layer, _one_kind, _layers_from_input, _one_layer):
        text = pattern(facts, about)
        if text:
            return text
    return (
        f"{facts.names} fail, {facts.how}: not every parameter, not the layers from the input up to one layer, "
        "not one layer alone, not only the biases or only the weights, so no single place in the backward pass "
        "explains it; read each parameter's line above"
    )


def _every_layer(facts, about):
    """Every parameter fails: one factor points at the loss; otherwise say only that."""
    if len(facts.failed) < len(facts.compared):
        return None
    start = (f"every parameter of every layer fails, {facts.how}. Every gradient is built from the output delta "
             "δ(L) = ∂L/∂a(L) ⊙ f′(z(L)) (the fused (ŷ − y)/m for σ with bce, softmax with cross_entropy)")
    if facts.factor is None:
        return (start + "; a slip in the loss (a missing 1/m, the ½, a sign) would scale them all by one constant, "
                "so this is not one: compare the loss's gradient, δ(L) and f′ of the output layer with their "
                "derivation, and look for more than one error")
    return (start + f", so one factor in all of them points there. Likely: {_loss_causes(facts.factor, about)}; "
            f"the same factor in f′ of the output layer's activation ({about.activations[-1]}) would do the same")


def _one_kind(facts, about):
    """Only biases, or only weights, fail while the other kind passes: the error is in that gradient, not in δ."""
    kinds = {c.name for c in facts.failed}
    other = {"b": "W", "W": "b"}[next(iter(kinds))]
    if len(kinds) > 1 or not any(c.name == other and c.passed for c in facts.compared):
        return None
    if kinds == {"b"}:
        return (f"only the biases fail ({facts.names}), {facts.how}, while every weight passes. The weight gradient "
                "∂L/∂W(l) = a(l−1)ᵀ δ(l) is built from the same δ(l), so δ is right and the error is in the bias "
                "gradient ∂L/∂b(l) = Σ_rows δ(l) (a sum over the batch rows, axis 0)")
    return (f"only the weights fail ({facts.names}), {facts.how}, while every bias passes. The bias gradient "
            "∂L/∂b(l) = Σ_rows δ(l) is built from the same δ(l), so δ is right and the error is in the weight gradient "
            "∂L/∂W(l) = a(l−1)ᵀ δ(l)" + (", or in the L2 term (λ/m)·W(l) added to it" if about.l2 else ""))


def _layers_from_input(facts, about):
    """Layers 1..k fail whole, layers k+1..L pass: the error enters at δ(k)."""
    k, n = max(c.layer for c in facts.failed), about.n_layers
    if k == n or any(c.passed for c in facts.compared if c.layer <= k):
        return None
    if {c.layer for c in facts.failed} != set(range(1, k + 1)):
        return None
    fail = "layer 1 fails" if k == 1 else f"layers 1–{k} fail"
    above = f"layer {n} passes" if k + 1 == n else f"layers {k + 1}–{n} pass"
    text = (f"{fail} ({facts.names}), {facts.how}, while {above}. δ({k + 1}), from which layer {k + 1}'s gradients are "
            f"built, is right, so the error enters at layer {k}: in δ({k}) = (δ({k + 1}) W({k + 1})ᵀ) ⊙ f′(z({k})), "
            f"the derivative f′ of layer {k}'s activation ({about.activations[k - 1]}) or that step of the recurrence")
    if k == 1:
        return text + ", or in layer 1's own gradients ∂L/∂W(1) = Xᵀ δ(1), ∂L/∂b(1) = Σ_rows δ(1)"
    if facts.factor is not None:
        return text + f"; one factor in layers 1–{k} fits one error there, carried down by the recurrence"
    if facts.differ:
        return text + ("; one error there would scale the layers below by one factor of its own, so factors "
                       "that differ mean more than one error")
    return text


def _one_layer(facts, about):
    """One layer above the first fails whole, the layers below pass: that layer's own gradients."""
    layers = {c.layer for c in facts.failed}
    k = min(layers)
    if len(layers) > 1 or k == 1 or any(c.passed for c in facts.compared if c.layer == k):
        return None
    return (f"only layer {k} fails ({facts.names}), {facts.how}, while the layers below it pass, so the δ({k}) "
            f"that reaches them through δ({k}) W({k})ᵀ is right: the error is in layer {k}'s own gradients "
            f"∂L/∂W({k}) = a({k - 1})ᵀ δ({k}), ∂L/∂b({k}) = Σ_rows δ({k})")


def _kink_pattern(net, Y):
    """Which side of each kink every pre-activation (and the hinge margin) lies on."""
    pattern = [layer.Z > k for layer in walk(net.layers) for k in layer.activation.kinks]
    margin = net.loss.kink_margin
    if margin is not None:
        pattern.append(Y * net.layers[-1].A < margin)
    return pattern


def _same(p, q):
    return all(np.array_equal(u, v) for u, v in zip(p, q))
