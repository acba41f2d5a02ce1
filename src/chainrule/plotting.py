"""The figures: loss curves, decision boundaries and the saving of PNGs.

matplotlib (``pip install "chainrule[plots]"``) is imported on first use, with the Agg backend
(files, no window), so ``import chainrule`` needs NumPy alone. Every function draws into an
``Axes`` the caller made, so that one figure can hold a grid of them.
"""

import os

import numpy as np

__all__ = ["pyplot", "save", "curves", "decision_boundary", "loss_figure", "boundary_figure"]


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend, or an ImportError that says how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            'the figures need matplotlib, which is not installed; install it with: pip install "chainrule[plots]"'
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path):
    """Write ``fig`` to ``path`` as a PNG (via a temporary file, so a reader never sees half of one)
    and close it."""
    path = os.fspath(path)
    tmp = f"{path}.tmp"
    try:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        pyplot().close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)


def curves(ax, lines, title, xlabel="epoch", ylabel="loss", log=False, x=None):
    """One line per ``{label: values}`` entry, against ``x`` (default 1, 2, …: epochs)."""
    for label, ys in lines.items():
        xs = np.arange(1, len(ys) + 1) if x is None else x
        ax.plot(xs, ys, label=label)
    if log:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()


def decision_boundary(ax, net, X, y, title, resolution=200, X_test=None, y_test=None):
    """The network's P(class 1) over the plane of X's two features, its 0.5 contour, and the
    points (test points, if given, as crosses)."""
    pad = 0.5
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    p = net.predict(np.column_stack([g0.ravel(), g1.ravel()]))[:, -1].reshape(g0.shape)
    ax.contourf(g0, g1, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.contour(g0, g1, p, levels=[0.5], colors="k", linewidths=1)
    for cls, colour in ((0, "tab:blue"), (1, "tab:red")):
        ax.scatter(*X[y == cls].T, s=12, c=colour, edgecolors="k", linewidths=0.3, label=f"class {cls}")
        if X_test is not None:
            ax.scatter(*X_test[y_test == cls].T, s=16, c=colour, marker="x", label=f"class {cls} (test)")
    ax.set(title=title, xlabel="x1", ylabel="x2")
    ax.legend(loc="lower right", fontsize="small")


def loss_figure(path, lines, title, **options):
    """A PNG at ``path`` with one Axes of ``curves(ax, lines, title, **options)``."""
    fig, ax = pyplot().subplots(figsize=(6.4, 4.4))
    curves(ax, lines, title, **options)
    save(fig, path)


def boundary_figure(path, net, X, y, title, **options):
    """A PNG at ``path`` with one Axes of ``decision_boundary(ax, net, X, y, title, **options)``."""
    fig, ax = pyplot().subplots(figsize=(6.4, 5.2))
    decision_boundary(ax, net, X, y, title, **options)
    save(fig, path)
