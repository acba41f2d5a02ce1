"""A sweep's figures: each configuration's mean loss curve, and a heatmap when two keys are swept."""

import os

import numpy as np

from .. import plotting
from .spec import label

__all__ = ["draw"]

MAX_CURVES = 40  # more curves than this on one plot are drawn without a legend
# A mean loss above this is a diverging run's, left out of the log-scale plot: matplotlib's margins and
# ticks of an axis that reaches toward 1e308 overflow.
MAX_DRAWN = 1e100


def draw(folder, spec, summary, curves):
    """loss_curves.png, and heatmap.png for exactly two swept keys (needs matplotlib: ImportError otherwise)."""
    plotting.require()
    _curves(os.path.join(folder, "loss_curves.png"), curves)
    if len(spec.swept) == 2 and summary:
        _heatmap(os.path.join(folder, "heatmap.png"), spec, summary)


def _curves(path, curves):
    fig = plotting.figure()
    ax = fig.subplots()
    for labels, curve in curves.items():
        loss = np.array(curve["loss"], float)
        drawn = np.where((loss > 0) & (loss <= MAX_DRAWN), loss, np.nan)
        ax.plot(curve["epoch"], drawn, label=", ".join(labels) or "the configuration")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (mean over seeds)")
    ax.set_title("Loss curves per configuration")
    if 0 < len(curves) <= MAX_CURVES:
        ax.legend(fontsize="x-small")
    plotting.save(fig, path)


def _heatmap(path, spec, summary):
    """The mean of what ranks the runs (success rate when ``success`` is given, else the mean metric
    or mean final loss) over the two swept keys; a configuration swept over other values is averaged."""
    key = "success_rate" if spec.success else next(
        (k for k in ("mean_val_accuracy", "mean_accuracy", "mean_val_r2", "mean_r2") if k in summary[0]),
        "mean_final_loss")
    rows, cols = spec.swept
    row_values, col_values = spec.values[rows], spec.values[cols]
    grid = np.full((len(row_values), len(col_values)), np.nan)
    for entry in summary:
        value = entry.get(key)
        if value is not None:
            grid[row_values.index(entry[rows]), col_values.index(entry[cols])] = value
    fig = plotting.figure()
    ax = fig.subplots()
    image = ax.imshow(grid, aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=ax, label=key)
    ax.set_yticks(range(len(row_values)), [label(v) for v in row_values])
    ax.set_xticks(range(len(col_values)), [label(v) for v in col_values])
    ax.set_ylabel(rows)
    ax.set_xlabel(cols)
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            light = image.norm(value) > 0.6  # viridis turns from blue to yellow: dark text on its light end
            ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="k" if light else "w", fontsize="small")
    ax.set_title(f"{key} by {rows} and {cols}")
    plotting.save(fig, path)
