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
from .spec import label

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

    def finished(self, group_id):
        """The result of a group this folder holds, or None."""
        path = os.path.join(self.groups, f"{group_id}.json")
        if not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as f:
                result = json.load(f)
        except (OSError, ValueError):
            return None  # unreadable: run the group again
        result["curves"] = {int(k): v for k, v in result["curves"].items()}
        return result if result.get("id") == group_id else None

    def keep(self, result):
        files.write(os.path.join(self.groups, f"{result['id']}.json"), json.dumps(result, allow_nan=True))

    def write(self, spec, runs, summary, best, curves):
        path = self.path
        swept = list(spec.swept)
        files.write(os.path.join(path, "runs.csv"), _csv(runs, swept + ["seed"]))
        files.write(os.path.join(path, "summary.csv"), _csv(summary, swept + ["runs"]))
        results = {"format": FORMAT, "spec": spec.as_dict(), "swept": swept, "runs": runs, "summary": summary,
                   "best": best}
        files.write(os.path.join(path, "results.json"), json.dumps(_plain(results), indent=1) + "\n")
        try:
            from . import figures
            figures.draw(path, spec, summary, curves)
        except ImportError:
            pass  # matplotlib is optional: the tables are written without it


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
            entry["mean_final_loss"] = _finite(np.mean(losses))
            entry["std_final_loss"] = _finite(np.std(losses, ddof=1)) if len(losses) > 1 else 0.0
            for metric in ("accuracy", "r2", "val_loss", "val_accuracy", "val_r2"):
                if metric in group[0]:
                    entry[f"mean_{metric}"] = _finite(np.mean([r[metric] for r in group]))
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


def _finite(x):
    x = float(x)
    return x if math.isfinite(x) else None


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


def _plain(value):
    """NaN and inf as None: JSON has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
