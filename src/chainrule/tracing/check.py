"""Checking a learner's answers against a trace.

ANSWERS is a TOML file (or a .json file, or a dict) of values by the trace's names — any subset —
with an optional absolute tolerance:

    tolerance = 1e-3             # right when |answer − value| ≤ tolerance (default: as written, below)
    "z[1][1]" = 0.21
    "a[1][1]" = 0.5523
    "delta[2][1]" = 0.0368
    [step2]                      # names without a step are step 1's; a table for each later step
    "W_new[2][1][1]" = 0.26
    [sample2]                    # several samples: per-sample quantities (z, a, error, delta, grad_a)
    "z[1][1]" = 0.4

Tables join with dots: [step2.sample1] "z[1][1]" is the key "step2.sample1.z[1][1]". The report
marks each answer right or wrong in the order of the computation (an early slip explains the later
ones) and, for the first wrong one, shows its formula with the numbers and the value it should
have had.

Without a tolerance, an answer is right when it is the exact value rounded to the decimals it is
written with: 0.55 for 0.5523 (|0.55 − 0.5523| ≤ 0.005), not 0.56; 0.0027 for 0.0027276. So a
small gradient is checked as finely as it is written, and a sign slip on it is caught. With
``tolerance`` every answer is right within that absolute distance (for hand calculations whose
rounded intermediates drift, e.g. tolerance = 1e-3).
"""

import numbers
import re
from decimal import Decimal

import numpy as np

from .derivation import Table, given
from .render import check_decimals, number, text_line
from .spec import check_document, is_finite, read_document, show

__all__ = ["check", "CheckReport"]

# stepS. and sampleN. prefixes (up to 9 digits: longer ones are names the trace does not have)
_PREFIXES = re.compile(r"(?:step(\d{1,9})\.)?(?:sample(\d{1,9})\.)?(.*)", re.DOTALL)


class CheckReport:
    """``results``: (line, answer, right) per answer in the order of the computation; ``passed``:
    all right; ``first_wrong``: the first (line, answer, right) that is wrong, or None."""

    def __init__(self, trace, results, tolerance):
        self.trace, self.results, self.tolerance = trace, results, tolerance  # tolerance None: as written
        self.passed = all(right for _, _, right in results)
        self.first_wrong = next((r for r in results if not r[2]), None)

    def __bool__(self):
        return self.passed

    def __str__(self):
        return self.render()

    def render(self, decimals=None):
        """The report as text; ``decimals`` as in ``Trace.render``."""
        decimals = check_decimals(decimals)
        trace = self.trace
        what = "exact values" if trace.hand is None else f"hand calculation to {trace.hand} decimals"
        of = f" of {trace.spec.name}" if trace.spec.name else ""
        rule = ("right when it is the exact value rounded to the decimals written" if self.tolerance is None
                else f"right within {number(self.tolerance)}")
        lines = [f"Checking {len(self.results)} answer(s) against the {what}{of} ({rule}):"]
        width = max(len(line.key) for line, _, _ in self.results)
        for line, answer, right in self.results:
            lines.append(f"  {'right' if right else 'wrong'}  {line.key.ljust(width)} = {given(answer)}")
        right = sum(r for _, _, r in self.results)
        lines.append(f"{right} of {len(self.results)} right.")
        if self.first_wrong:
            line, answer, _ = self.first_wrong
            lines += ["", f"The first wrong answer is {line.key} = {given(answer)}. It should be",
                      "  " + text_line(line, decimals),
                      f"(off by {number(abs(answer - line.value), decimals)})."]
            if _close(-answer, line.value, self.tolerance) and line.value != 0:
                lines.append("Your value has the right size and the opposite sign."
                             + (" Here delta is ∂L/∂z; a textbook δ = y(1 − y)(t − y) is −∂L/∂z."
                                if "delta[" in line.key else ""))
        return "\n".join(lines)


def check(trace, answers):
    """Compare ``answers`` (a mapping, or the path of a TOML/JSON file) with ``trace``; a ``CheckReport``.

    ValueError for a name the trace does not have, a value that is not a number, a bad tolerance.
    """
    if isinstance(answers, dict):
        check_document(answers, "answers")
    else:
        answers = read_document(answers, "answers file")
    answers = _flatten(answers)
    tolerance = answers.pop("tolerance", None)
    if tolerance is not None and (not is_finite(tolerance) or not tolerance >= 0):
        raise ValueError(f"answers: tolerance = {show(tolerance)} is not valid; expected a number ≥ 0 "
                         "(absolute: right when |answer − value| ≤ tolerance)")
    if not answers:
        raise ValueError('answers: no answers to check; give values by name, e.g. "z[1][1]" = 0.21')
    lines = {line.key: line for block in trace.worked() if isinstance(block, Table) for line in block.lines}
    values = {}
    for key, value in answers.items():
        name = _canonical(key, trace, lines)
        if not is_finite(value):
            raise ValueError(f"answers: {show(key)} = {show(value)} is not valid; expected a finite number")
        values[name] = _as_written(value)
    results = [(line, values[key], _close(values[key], line.value, tolerance))
               for key, line in lines.items() if key in values]
    return CheckReport(trace, results, tolerance)


def _as_written(value):
    """An answer as a Python int or float whose repr is the text it was written as: NumPy's str
    of a float32 0.55 is 0.55, its float() 0.550000011920929."""
    if isinstance(value, numbers.Integral):
        return int(value)
    return float(str(value)) if isinstance(value, np.floating) else float(value)


def _close(answer, value, tolerance):
    """|answer − value| ≤ tolerance, or by default ≤ half a unit of the answer's last written decimal."""
    if tolerance is None:
        # the shortest text that reads back as the answer is what was written (less trailing zeros)
        tolerance = 0.5 * 10.0 ** Decimal(repr(answer)).as_tuple().exponent * (1 + 1e-9)
    return abs(answer - value) <= tolerance


def _flatten(table, prefix=""):
    """{"step2": {"z[1][1]": 0.4}} → {"step2.z[1][1]": 0.4}."""
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _canonical(key, trace, lines):
    """The trace's name for an answer's key: without step1. and, for one sample, without sample1."""
    step, sample, name = _PREFIXES.fullmatch(key).groups()
    n_steps, n_samples = len(trace.steps), len(trace.spec.X)
    if step and not 1 <= int(step) <= n_steps:
        raise ValueError(f"answers: {show(key)} is about step {step}, but the trace has {n_steps} step(s); "
                         f"trace more with --steps {step}")
    if sample and not 1 <= int(sample) <= n_samples:
        raise ValueError(f"answers: {show(key)} is about sample {sample}, but the spec has {n_samples} sample(s)")
    at = f"step{step}." if step and step != "1" else ""
    canonical = at + (f"sample{sample}." if sample and n_samples > 1 else "") + name
    if canonical in lines:
        return canonical
    if not sample and f"{at}sample1.{name}" in lines:
        raise ValueError(f"answers: {show(key)} is one per sample and the spec has {n_samples} samples; "
                         f"name the sample: sample1.{name} … sample{n_samples}.{name}")
    if sample and at + name in lines:
        raise ValueError(f"answers: {show(key)}: {name} is summed over the batch, it has no sample; write {at + name}")
    kinds = {}
    for known in (k for k in lines if not k.startswith("step")):
        kinds.setdefault(re.sub(r"\[.*", "", known), known)
    raise ValueError(f"answers: the trace has no quantity {show(key)}; its names look like {', '.join(kinds.values())}")
