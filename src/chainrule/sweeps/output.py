"""What a sweep writes: runs.csv, summary.csv, results.json and the figures, from the finished groups.

Every file goes through ``chainrule.files.write`` (atomic: a reader, or a sweep stopped by Ctrl-C,
sees a whole file or the previous one). Each finished group is a file of its own, ``groups/ID.json``,
written as the group finishes: a rerun into the same folder reads them and skips those groups.
"""

import csv
import io
import json
import math
import os

import numpy as np

from .. import files
from ..jsonsafe import json_safe
from .spec import METRICS, label

__all__ = ["Folder", "tables", "FORMAT"]

FORMAT = "chainrule-sweep"
OUTPUTS = ("runs.csv", "summary.csv", "results.json", "loss_curves.png", "heatmap.png")


class Folder:
    """The output folder of a sweep: checked before any work (a file chainrule did not write is never
    replaced), the finished groups it holds, and the writing of each."""

    def __init__(self, path):
        self.path = os.fspath(path)
        if os.path.lexists(self.path) and not os.path.isdir(self.path):
            raise ValueError(f"the sweep's output folder {self.path!r} is a file; give a folder (it is created if missing)")
        files.check_folder(self.path, missing_ok=True)
        results = os.path.join(self.path, "results.json")
        if os.path.exists(results) and not _ours(results):
            raise ValueError(f"{results!r} is there and chainrule did not write it; choose another folder")
        for name in OUTPUTS:
            target = os.path.join(self.path, name)
            if os.path.islink(target) or os.path.isdir(target):
                raise ValueError(f"{target!r} is a symbolic link or a folder, where the sweep writes a file; "
                                 "remove it or choose another folder")
            if os.path.exists(target) and not os.path.exists(results):
                raise ValueError(f"{target!r} is there and chainrule did not write it; choose another folder")
        self.groups = os.path.join(self.path, "groups")
        os.makedirs(self.groups, exist_ok=True)

    def finished(self, group):
        """The result of ``group`` (a ``groups.Group``) if this folder holds it, else None. A file that is
        unreadable or not a whole result of this group (damaged, edited) is None too: the group is
        trained again and its file replaced."""
        path = os.path.join(self.groups, f"{group.id}.json")
        if not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as f:
                result = json.load(f)
        except (OSError, ValueError):
            return None  # unreadable: run the group again
        return _relabelled(result, group)

    def keep(self, result):
        files.write(os.path.join(self.groups, f"{result['id']}.json"), json.dumps(result, allow_nan=True))

    def write(self, spec, runs, summary, best, curves):
        path = self.path
        swept = list(spec.swept)
        files.write(os.path.join(path, "runs.csv"), _csv(runs, swept + ["seed"]))
        files.write(os.path.join(path, "summary.csv"), _csv(summary, swept + ["runs"]))
        results = {"format": FORMAT, "spec": spec.as_dict(), "swept": swept, "runs": runs, "summary": summary,
                   "best": best}
        files.write(os.path.join(path, "results.json"), json.dumps(json_safe(results), indent=1) + "\n")
        try:
            from . import figures
            figures.draw(path, spec, summary, curves)
        except ImportError:
            pass  # matplotlib is optional: the tables are written without it


ROW_KEYS = ("config", "seed", "final_loss", "epochs", "seconds")  # in every run's row; its other keys are METRICS


def _relabelled(result, group):
    """A kept group result with its configuration indices those of this sweep's spec, or None when its
    structure is not that of ``group``'s result. The group's id covers its configurations and seeds,
    not their indices in the spec, which change when the spec does: row i is run
    ``group.members[i]``, and a curve belongs to its rows' configuration."""
    if not isinstance(result, dict) or result.get("id") != group.id:
        return None
    rows, curves = result.get("rows"), result.get("curves")
    if not isinstance(rows, list) or len(rows) != len(group) or not isinstance(curves, dict):
        return None
    index = {}  # the file's configuration index → the spec's
    for row, (k, _, seed) in zip(rows, group.members):
        if not _is_row(row, rows[0]) or row["seed"] != seed or index.setdefault(row["config"], k) != k:
            return None
    if len(set(index.values())) != len(index) or set(curves) != {str(k) for k in index} or \
            not all(map(_is_curve, curves.values())):
        return None
    return {"id": group.id, "rows": [{**row, "config": k} for row, (k, _, _) in zip(rows, group.members)],
            "curves": {index[int(k)]: curve for k, curve in curves.items()}}


def _is_row(row, first):
    """Whether ``row`` is a run's row with the keys of ``first``: ROW_KEYS and metrics, all numbers."""
    return (isinstance(row, dict) and isinstance(first, dict) and row.keys() == first.keys()
            and set(ROW_KEYS) <= row.keys() <= {*ROW_KEYS, *METRICS} and all(map(_is_number, row.values()))
            and isinstance(row["config"], int) and isinstance(row["seed"], int))


def _is_curve(curve):
    """Whether ``curve`` is {"epoch": [...], "loss": [...]}, two lists of numbers of one length."""
    return (isinstance(curve, dict) and curve.keys() == {"epoch", "loss"}
            and all(isinstance(curve[k], list) and all(map(_is_number, curve[k])) for k in curve)
            and len(curve["epoch"]) == len(curve["loss"]))


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ours(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def tables(spec, results):
    """(runs, summary, best, curves) from the finished groups' results, runs ordered by configuration
    then seed."""
    configs = spec.configs()
    rows = sorted((row for result in results for row in result["rows"]), key=lambda r: (r["config"], r["seed"]))
    curves = {index: curve for result in results for index, curve in result["curves"].items()}
    runs = [{**{key: configs[row["config"]][key] for key in spec.swept},
             **{k: v for k, v in row.items() if k != "config"}} for row in rows]
    summary = _summary(spec, configs, rows)
    return runs, summary, _best(spec, summary), {tuple(_labels(spec, configs[i])): c for i, c in curves.items()}


def _summary(spec, configs, rows):
    by_config = {}
    for row in rows:
        by_config.setdefault(row["config"], []).append(row)
    summary = []
    for index, group in sorted(by_config.items()):
        entry = {key: configs[index][key] for key in spec.swept}
        entry["runs"] = len(group)
        losses = np.array([r["final_loss"] for r in group], float)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged run's huge loss: the statistic is None
            entry["mean_final_loss"] = json_safe(np.mean(losses))
            entry["std_final_loss"] = json_safe(np.std(losses, ddof=1)) if len(losses) > 1 else 0.0
            for metric in ("accuracy", "r2", "val_loss", "val_accuracy", "val_r2"):
                if metric in group[0]:
                    entry[f"mean_{metric}"] = json_safe(np.mean([r[metric] for r in group]))
        if spec.success:
            entry["success_rate"] = sum(bool(_succeeded(spec.success, r)) for r in group) / len(group)
        summary.append(entry)
    return summary


def _succeeded(success, row):
    value = row.get(success["metric"])
    if value is None or not math.isfinite(value):
        return False
    return value >= success["at_least"] if "at_least" in success else value <= success["at_most"]


def _best(spec, summary):
    """The configuration with the highest success rate (when ``success`` is given), then the lowest mean
    validation loss (or training loss without held-out rows)."""
    if not summary:
        return None
    loss = "mean_val_loss" if "mean_val_loss" in summary[0] else "mean_final_loss"

    def rank(entry):
        value = entry[loss] if entry[loss] is not None else math.inf
        return (-entry.get("success_rate", 0.0), value)

    return min(summary, key=rank)


def _labels(spec, config):
    return [f"{key}={label(config[key])}" for key in spec.swept]


def _csv(rows, first):
    """Rows of dicts as CSV text: the ``first`` columns, then the others in the rows' order."""
    columns = list(dict.fromkeys(first + [k for row in rows for k in row]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else json.dumps(row[c]) if isinstance(row[c], list)
                         else repr(row[c]) if isinstance(row[c], float) else row[c] for c in columns])
    return out.getvalue()
