"""What an experiment is given and what it leaves behind: the Context, results.json and report.md."""

import contextlib
import inspect
import json
import math
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import files, plotting
from ..jsonsafe import json_safe
from ..training import fit

__all__ = ["Context", "Results", "is_output"]

COMMAND = "chainrule experiment"  # how the command that made a report starts
MAX_RESULTS_BYTES = 64 << 20


@dataclass
class Results:
    """What an experiment's ``compute`` measured: everything its ``report`` reads.

    ``numbers``: what results.json keeps (numbers, lists and dicts of them, in the order the report lists
    them). ``runs``: what the figures and sentences read besides, which results.json does not keep: the
    trained networks, their Histories (whole curves, diagnostic findings), the data and what it holds.
    """

    numbers: dict
    runs: dict = field(default_factory=dict)


class Context:
    """One run of one experiment: where it writes, how big it is, and what it has found so far.

    ``out`` the folder (created), ``quick`` the small version for tests, ``seed`` seeds the data
    and the weights. The experiment's ``compute`` trains through ``fit``, so that the report can say
    which diagnostic findings appeared; ``results`` (→ results.json) holds the numbers it measured.
    Its ``report`` describes them with ``setup`` (what was run), ``figure`` (a PNG and its caption),
    ``table`` (a table of numbers) and ``observe`` (what the numbers show).
    """

    def __init__(self, name, title, out, quick=False, seed=0):
        self.name, self.title, self.out = name, title, os.fspath(out)
        self.quick, self.seed = bool(quick), int(seed)
        self.results = {}
        self.figures = []  # (file name, caption)
        self.setups, self.tables, self.observations = [], [], []
        self.runs = []  # (label, History) of every training run, for the diagnostics line
        self.seconds = None

    def pick(self, full, quick):
        """``quick`` in --quick mode, ``full`` otherwise: ``epochs = ctx.pick(10000, 1000)``."""
        return quick if self.quick else full

    # ---- what the experiment says ------------------------------------------------------------

    def setup(self, text):
        """A paragraph of the report's "What was run"."""
        self.setups.append(text)

    def observe(self, text):
        """A sentence or two of the report's "What it shows"."""
        self.observations.append(text)

    def table(self, caption, header, rows):
        """A table of the report's "Numbers": ``header`` a list of column names, ``rows`` lists of cells
        (floats are shown to 4 significant digits)."""
        self.tables.append((caption, list(header), [list(row) for row in rows]))

    @contextlib.contextmanager
    def figure(self, filename, caption, size=(6.4, 4.4)):
        """``with ctx.figure("loss.png", "What it shows") as fig: ax = fig.subplots()`` — the figure
        is written to out/filename when the block ends and embedded in the report with its caption."""
        if not filename.endswith(".png") or os.sep in filename or filename in (f for f, _ in self.figures):
            raise ValueError(f"figure {filename!r}: expected a new file name ending in .png, without a folder")
        fig = plotting.figure(size)
        yield fig
        plotting.save(fig, os.path.join(self.out, filename))
        self.figures.append((filename, caption))

    # ---- training ------------------------------------------------------------------------

    def fit(self, net, X, y, label, **options):
        """``net.fit(X, y, **options)`` without a progress bar, with every epoch's accuracy and
        gradient norms (the experiments draw them), recorded under ``label`` for the diagnostics
        line; a run that diverges is expected here, so its warning is kept in
        ``history.stop_reason`` instead of being shown."""
        options.setdefault("progress", False)
        options.setdefault("record", 1)
        if "diagnostics" in inspect.signature(fit).parameters:  # once fit can run them, it does here
            options.setdefault("diagnostics", True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            history = net.fit(X, y, **options)
        self.track(history, label)
        return history

    def fit_stacked(self, nets, X, y, labels, optimizers, **options):
        """Networks of one architecture trained together (``chainrule.stacked.fit_stacked``: each as ``fit``
        trains it alone, to rounding), each History recorded under its label. Their diagnostics are the
        checks before training, on each network's initial weights: the checks during training need
        ``fit``'s statistics of one network, which a stack does not take."""
        from ..batches import batch_rows
        from ..diagnostics.before_training import check_before
        from ..stacked import fit_stacked

        found = []
        for net in nets:
            Xc, Yc = net.check_data(X, y)
            unique = {}  # each finding once per code, layer and severity, as the Diagnostics report them
            for finding in check_before(net, Xc, Yc, batch_rows(options.get("batch_size"), len(Xc))):
                unique.setdefault((finding.code, finding.layer, finding.severity), finding)
            found.append(list(unique.values()))
        histories = fit_stacked(nets, X, y, optimizers, **options)
        for history, findings, label in zip(histories, found, labels):
            history.findings = findings
            self.track(history, label)
        return histories

    def track(self, history, label):
        """Count a History trained some other way in the diagnostics line."""
        self.runs.append((label, history))

    def findings(self):
        """{finding code: {"severity": …, "runs": [labels of the runs where it appeared]}}, codes sorted."""
        found = {}
        for label, history in self.runs:
            for finding in getattr(history, "findings", []):
                code = str(getattr(finding, "code", finding))
                severity = getattr(finding, "severity", None)
                severity = None if severity is None else str(getattr(severity, "value", severity))
                entry = found.setdefault(code, {"severity": severity, "runs": []})
                if label not in entry["runs"]:
                    entry["runs"].append(label)
        return dict(sorted(found.items()))

    def diagnostics_line(self):
        """"Diagnostics: …", the codes of the findings that appeared and in which runs."""
        n = len(self.runs)
        runs = f"{n} training run{'' if n == 1 else 's'}"
        found = self.findings()
        if not found:
            return f"Diagnostics: no findings in the {runs}."
        parts = [
            code + (f" ({f['severity']})" if f["severity"] else "") + f" in {', '.join(f['runs'])}"
            for code, f in found.items()
        ]
        return f"Diagnostics: {'; '.join(parts)} (of {runs})."

    # ---- what it leaves behind -------------------------------------------------------------

    @property
    def report_path(self):
        return os.path.join(self.out, "report.md")

    @property
    def results_path(self):
        return os.path.join(self.out, "results.json")

    def write(self, command):
        """Write results.json and report.md (each atomically); ``command`` reproduces the run."""
        results = dict(self.results)
        results["diagnostics"] = {"runs": len(self.runs), "findings": self.findings()}
        files.write(self.results_path, json.dumps(json_safe(results), indent=2, allow_nan=False) + "\n")
        files.write(self.report_path, self._report(command))

    def _report(self, command):
        lines = [f"# {self.title}", "", f"`{command}` — {'quick version, ' if self.quick else ''}"
                 f"seed {self.seed}" + (f", {self.seconds:.1f} s" if self.seconds is not None else "") + ".", ""]
        lines += ["## What was run", ""] + [p + "\n" for p in self.setups]
        if self.figures:
            lines += ["## Figures", ""]
            for filename, caption in self.figures:
                lines += [f"![{caption}]({filename})", "", f"*{filename}: {caption}*", ""]
        lines += ["## Numbers", ""]
        for caption, header, rows in self.tables:
            lines += [f"{caption}:", "", _markdown_table(header, rows), ""]
        scalars = [(k, v) for k, v in self.results.items() if _is_scalar(v)]
        if scalars:
            lines += ["In results.json:", "", _markdown_table(["key", "value"], scalars), ""]
        curves = [k for k, v in self.results.items() if not _is_scalar(v)]
        if curves:
            lines += [f"Also in results.json: {', '.join(f'`{k}`' for k in curves)}.", ""]
        if self.observations:
            lines += ["## What it shows", "", " ".join(self.observations), ""]
        lines += ["## Diagnostics", "", self.diagnostics_line(), ""]
        return "\n".join(lines)


def _is_scalar(value):
    return isinstance(value, (str, bool, int, float, np.generic)) or value is None


def _cell(value):
    if isinstance(value, (float, np.floating)):
        return "—" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def _markdown_table(header, rows):
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def is_output(path):
    """Whether ``path`` is a report.md, index.md or results.json that an experiment wrote — what the
    command line asks before it overwrites one. A report or an index has the command that made it on
    its third line (`chainrule experiment …`); a results file is a JSON object with the "diagnostics"
    entry that ``Context.write`` adds (read only when under MAX_RESULTS_BYTES)."""
    try:
        with files.open_regular(path, "experiment file", max_bytes=MAX_RESULTS_BYTES) as f:
            if os.fspath(path).endswith(".md"):
                lines = f.read(4096).decode("utf-8").splitlines()
                return len(lines) > 2 and lines[2].startswith(f"`{COMMAND} ")
            results = json.loads(f.read())
    except (ValueError, OSError, RecursionError):
        return False
    return isinstance(results, dict) and isinstance(results.get("diagnostics"), dict)
