"""Gradient checking: every analytic ∂L/∂θ from ``Network.backward`` against central differences

    ∂L/∂θ ≈ (L(θ + ε) − L(θ − ε)) / 2ε

in float64, with a per-parameter report that names the layer and parameter at fault and,
when the analytic/numeric ratio is one constant across a parameter, the factor and the
bug it usually means (a missing 1/m, a factor 2 from the ½ in the loss, a sign error).
"""

import numpy as np

__all__ = ["gradcheck", "GradcheckReport", "ParameterCheck"]


class ParameterCheck:
    """The check of one parameter array (``layer`` is 1-based, ``name`` "W" or "b")."""

    def __init__(self, layer, name, shape):
        self.layer, self.name, self.shape = layer, name, shape
        self.checked = self.skipped = 0
        self.max_abs_error = self.max_rel_error = 0.0
        self.worst_index = None
        self.analytic = self.numeric = None  # values at the worst index
        self.factor = None
        self.problem = None  # a sentence, when the parameter fails
        self.passed = True

    @property
    def label(self):
        return f"{self.name}{self.layer}"

    def as_dict(self):
        return {
            k: getattr(self, k)
            for k in ("layer", "name", "checked", "skipped", "max_abs_error", "max_rel_error", "worst_index",
                      "analytic", "numeric", "factor", "problem", "passed")
        }


class GradcheckReport:
    """Per-parameter checks and the overall verdict; ``str(report)`` is a readable table."""

    def __init__(self, checks, eps, tol, atol):
        self.checks, self.eps, self.tol, self.atol = checks, eps, tol, atol
        self.passed = all(c.passed for c in checks)

    @property
    def failures(self):
        return [c for c in self.checks if not c.passed]

    @property
    def max_rel_error(self):
        return max(c.max_rel_error for c in self.checks)

    def __bool__(self):
        return self.passed

    def __str__(self):
        lines = [
            f"{'param':<6} {'layer':>5} {'checked':>8} {'skipped':>8} {'max abs err':>12} {'max rel err':>12}"
            "  worst (1-based)"
        ]
        for c in self.checks:
            worst = "" if c.worst_index is None else f"{c.label}[{', '.join(str(j + 1) for j in c.worst_index)}]"
            lines.append(
                f"{c.label:<6} {c.layer:>5} {c.checked:>8} {c.skipped:>8} {c.max_abs_error:>12.3e} "
                f"{c.max_rel_error:>12.3e}  {worst}{'' if c.passed else '  FAIL'}"
            )
        if self.passed:
            lines.append(
                f"gradient check passed: every |analytic − numeric| ≤ {self.tol:g}·max(|analytic|, |numeric|)"
                f" + {self.atol:.1e} (ε = {self.eps:g})"
            )
        else:
            lines.append("gradient check FAILED:")
            lines += [f"  {c.label} (layer {c.layer}, parameter {c.name}): {c.problem}" for c in self.failures]
        skipped = sum(c.skipped for c in self.checks)
        if skipped:
            lines.append(f"{skipped} entr{'y' if skipped == 1 else 'ies'} skipped: ±ε crossed a kink (ReLU at 0, hinge margin 1)")
        return "\n".join(lines)


def gradcheck(net, X, y, eps=1e-5, tol=1e-5, max_entries=None, seed=0):
    """Compare every analytic gradient of ``net`` on (X, y) with central differences.

    An entry passes when |analytic − numeric| ≤ tol·max(|analytic|, |numeric|) + atol, with
    atol = 1e-9·max(1, |L|) covering the rounding of the differences themselves.

    A float64 network is checked in place (each parameter is restored exactly); a
    float32 one through a float64 copy. ``tol`` bounds the relative error
    |a − n| / max(|a|, |n|, 1e-8). ``max_entries`` checks a random subset of each
    parameter (chosen with ``seed``) for large networks; by default every entry.
    ``max_rel_error`` reports the relative error of each parameter's worst entry.
    Entries whose ±ε perturbation crosses a kink are skipped, not failed.
    """
    if not (eps > 0 and tol > 0):
        raise ValueError(f"gradcheck needs eps > 0 and tol > 0, got eps={eps}, tol={tol}")
    if net.dtype != np.float64:
        net = net.copy(dtype=np.float64)
    X, Y = net.check_data(X, y)
    ws = net.workspace(len(X))
    loss = net.backprop(X, Y, ws)
    # central differences carry rounding of about 1e-16·|L|/ε; errors far below that are noise
    atol = 1e-9 * max(1.0, abs(loss))
    analytic = [(l, name, p, g.copy()) for l, name, p, g, _ in net.parameters()]
    base = _kink_pattern(net, Y)
    rng = np.random.default_rng(seed)

    def loss_at(p, idx, value):
        p[idx] = value
        net.propagate(X, ws)
        return net.data_loss(Y, ws) + net.penalty(len(Y)), _kink_pattern(net, Y)

    checks = []
    for l, name, p, g in analytic:
        check = ParameterCheck(l + 1, name, p.shape)
        checks.append(check)
        if g.shape != p.shape:
            check.passed = False
            check.problem = (
                f"the gradient has shape {g.shape} but the parameter has shape {p.shape}"
                + (": the bias gradient must sum δ over the batch rows (axis 0), giving one entry per neuron"
                   if name == "b" else "")
            )
            continue
        flat = np.arange(p.size)
        if max_entries is not None and p.size > max_entries:
            flat = np.sort(rng.choice(p.size, size=max_entries, replace=False))
        a_vals, n_vals, where = [], [], []
        for k in flat:
            idx = np.unravel_index(k, p.shape)
            theta = p[idx]
            up, pattern_up = loss_at(p, idx, theta + eps)
            down, pattern_down = loss_at(p, idx, theta - eps)
            p[idx] = theta
            if not (_same(pattern_up, base) and _same(pattern_down, base)):
                check.skipped += 1
                continue
            a_vals.append(g[idx])
            n_vals.append((up - down) / (2 * eps))
            where.append(idx)
        _judge(check, np.array(a_vals), np.array(n_vals), where, tol, atol, len(X), net.n_out)
    return GradcheckReport(checks, eps, tol, atol)


def _judge(check, a, n, where, tol, atol, m, k):
    """An entry fails when |a − n| > tol·max(|a|, |n|) + atol; the worst entry is the one
    furthest beyond that bound."""
    check.checked = a.size
    if a.size == 0:
        return
    abs_err = np.abs(a - n)
    scale = np.maximum(np.abs(a), np.abs(n))
    rel_err = abs_err / np.maximum(scale, 1e-300)
    excess = abs_err / (tol * scale + atol)
    i = int(np.argmax(excess))
    check.max_abs_error, check.max_rel_error = float(abs_err.max()), float(rel_err[i])
    check.worst_index = tuple(int(j) for j in where[i])
    check.analytic, check.numeric = float(a[i]), float(n[i])
    if excess[i] <= 1:
        return
    check.passed = False
    at = f"[{', '.join(str(j + 1) for j in check.worst_index)}] (1-based)"
    check.problem = (
        f"max relative error {check.max_rel_error:.3g} at {check.label}{at}: "
        f"analytic {check.analytic:.8g} vs numeric {check.numeric:.8g}"
    )
    factor = _constant_factor(a, n)
    if factor is not None and abs(factor - 1) > 1e-3:
        check.factor = factor
        check.problem += f". analytic = {check.factor:.6g} × numeric across the whole parameter: " + _explain(
            check.factor, m, k
        )


def _constant_factor(a, n):
    """The ratio a/n when it is one constant (within 1e-3) over the entries with a clear gradient."""
    big = np.abs(n) > 1e-6 * np.abs(n).max() if n.size and np.abs(n).max() > 0 else np.zeros(n.shape, bool)
    if big.sum() < 1 or (np.abs(a[~big]) > 1e-6 * np.abs(a).max()).any():
        return None
    r = a[big] / n[big]
    med = float(np.median(r))
    if med == 0 or np.abs(r - med).max() > 1e-3 * abs(med):
        return None
    return med


def _explain(f, m, k):
    candidates = [
        (-1.0, "a sign error (the gradient of y − ŷ used where ŷ − y belongs, or an update with the wrong sign)"),
        (2.0, "twice the true gradient: the ½ of ½Σ(ŷ − y)² was dropped (or 2(ŷ − y) used with half_sse)"),
        (0.5, "half the true gradient: the 2 from the square of (ŷ − y)² is missing"),
    ]
    if m > 1:
        candidates += [
            (float(m), f"m = {m} times too large: the 1/m of the mean over the batch is missing"),
            (1.0 / m, f"1/m = 1/{m} of the true gradient: the mean over the batch was divided by m twice"),
            (-float(m), f"−m: a sign error and a missing 1/m (m = {m})"),
        ]
    if k > 1:
        candidates += [
            (float(k), f"K = {k} times too large: the 1/K of the mean over the {k} outputs is missing"),
            (1.0 / k, f"1/K = 1/{k} of the true gradient: divided by the number of outputs once too often"),
        ]
    for value, text in candidates:
        if abs(f - value) <= 1e-3 * abs(value):
            return text
    return f"a constant factor {f:.6g}: look for a missing or extra scale factor in the loss or the output delta"


def _kink_pattern(net, Y):
    """Which side of each kink every pre-activation (and the hinge margin) lies on."""
    pattern = [layer.Z > k for layer in net.layers for k in layer.activation.kinks]
    margin = net.loss.kink_margin
    if margin is not None:
        pattern.append(Y * net.layers[-1].A < margin)
    return pattern


def _same(p, q):
    return all(np.array_equal(u, v) for u, v in zip(p, q))
