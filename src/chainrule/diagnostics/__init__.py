"""Diagnostics: why training fails, found from measured signals, named in plain words, with a fix.

Before training, ``check_before`` looks at the data, the targets, the pairing of output activation
and loss, user-defined derivatives and the initial weights. While ``fit`` trains, the ``Diagnostics``
callback records per-layer statistics (``history.diagnostics``, on a few batches per epoch, so that
it stays cheap) and ``check_epoch`` reads them: vanishing and exploding gradients, dead ReLU units, saturated
sigmoid/tanh units, a learning rate too high or too low, a plateau; a NaN or inf stops training
and ``locate_nonfinite`` names the first quantity of the pass that went non-finite.

Every problem is a ``Finding`` with a stable ``code`` (the keys of ``CODES``), reported once per
run (per layer for the per-layer checks), kept in ``History.findings`` and shown once as a
``DiagnosticWarning`` (severity "warning" or "error"; "info" is only recorded). The thresholds
are constants (``thresholds``); docs/diagnostics.md says what was measured to choose each.

The modules: ``findings`` (Finding, the codes, the table), ``thresholds``, ``before_training``
(check_before), ``monitor`` (the Diagnostics callback ``fit`` adds), ``epoch_checks`` (the checks on
the recorded statistics) and ``nonfinite`` (locate_nonfinite).
"""

import warnings

from .before_training import check_before
from .epoch_checks import check_end, check_epoch
from .findings import CODES, SEVERITIES, DiagnosticWarning, Finding, format_findings
from .monitor import Diagnostics, Statistics, measured_epoch
from .nonfinite import locate_nonfinite

__all__ = [
    "CODES",
    "SEVERITIES",
    "DiagnosticWarning",
    "Diagnostics",
    "Finding",
    "Statistics",
    "check_before",
    "check_end",
    "check_epoch",
    "diagnose",
    "format_findings",
    "locate_nonfinite",
    "measured_epoch",
]


def diagnose(net, X, y, **fit_options):
    """Run the checks before training and, unless they found an error, a short training of ``net``
    (``net.fit`` with ``fit_options``, diagnostics on, no progress bar, warnings kept quiet). Returns
    (findings, history), history None when training was not run. The network is trained in
    place: pass ``net.copy()`` to keep yours."""
    X, Y = net.check_data(X, y)
    findings = check_before(net, X, Y, fit_options.get("batch_size"))
    if any(f.severity == "error" for f in findings):
        return findings, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)
        history = net.fit(X, Y, progress=False, diagnostics=True, **fit_options)
    return history.findings, history
