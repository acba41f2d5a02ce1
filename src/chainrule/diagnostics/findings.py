"""What a check reports: a ``Finding`` with a stable code, shown once as a ``DiagnosticWarning``;
``format_findings`` prints them as a table."""

import dataclasses

import numpy as np


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
    "constant_feature": "a feature a BatchNorm layer normalizes is constant over the batch (x̂ = 0)",
}
SEVERITIES = ("info", "warning", "error")


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
