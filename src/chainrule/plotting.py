"""The figures: loss curves, decision boundaries, gradient norms, and the saving of PNGs.

matplotlib (``pip install "chainrule[plots]"``) is imported on first use, so ``import chainrule``
needs NumPy alone. Figures are drawn on matplotlib's Agg canvas without pyplot: they never open a
window or change a notebook's backend. Every drawing function draws into an ``Axes`` the caller
made, so that one figure can hold a grid of them.
"""

import struct

import numpy as np

from . import files

__all__ = ["require", "figure", "save", "is_chainrule_png", "curves", "decision_boundary", "loss_figure",
           "boundary_figure", "plot_gradient_norms"]

SOFTWARE = "chainrule"  # what the Software text of our PNGs starts with


def require():
    """matplotlib's Figure and Agg canvas classes, or an ImportError that says how to install it."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            'the figures need matplotlib, which is not installed; install it with: pip install "chainrule[plots]"'
        ) from None
    return Figure, FigureCanvasAgg


def figure(size=(6.4, 4.4)):
    """A new figure of ``size`` inches on the Agg canvas (add axes with ``fig.subplots(...)``)."""
    Figure, FigureCanvasAgg = require()
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def save(fig, path):
    """Write ``fig`` to ``path`` as a PNG through ``chainrule.files.write`` (atomic, never through a
    symbolic link). The PNG's Software text says chainrule wrote it: see ``is_chainrule_png``."""
    from . import __version__  # here: the package's __init__ sets it after its own imports

    files.write(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight",
                                            metadata={"Software": f"{SOFTWARE} {__version__}"}))


def is_chainrule_png(path):
    """Whether ``path`` is a PNG that ``save`` wrote: its Software text chunk, which comes before the
    image data (matplotlib writes it second, after the header chunk), starts with "chainrule". Reads
    the first few chunks only (the command line asks before it overwrites a figure)."""
    try:
        with files.open_regular(path, "PNG file") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                return False
            for _ in range(8):
                length, kind = struct.unpack(">I4s", f.read(8))
                if kind == b"IDAT" or length > 4096:
                    return False
                data = f.read(length + 4)[:length]  # the chunk and its CRC
                if kind == b"tEXt" and data.startswith(b"Software\0"):
                    return data[len(b"Software\0"):].startswith(SOFTWARE.encode())
        return False
    except (ValueError, OSError, struct.error):
        return False


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
    fig = figure((6.4, 4.4))
    curves(fig.subplots(), lines, title, **options)
    save(fig, path)


def boundary_figure(path, net, X, y, title, **options):
    """A PNG at ``path`` with one Axes of ``decision_boundary(ax, net, X, y, title, **options)``."""
    fig = figure((6.4, 5.2))
    decision_boundary(fig.subplots(), net, X, y, title, **options)
    save(fig, path)


def plot_gradient_norms(history, ax=None, path=None, title="Gradient norm per layer"):
    """Each layer's gradient norm ‖∂L/∂W(l)‖ (its mean over the epoch's batches, History.grad_norms)
    against the epoch, on a log scale: vanishing gradients show as the first layers' lines far below
    the last's, exploding ones as lines climbing by orders of magnitude.

    ``ax``: draw into these matplotlib axes (default: a new figure). ``path``: also save the figure
    there as a PNG. Returns the figure. The first layer is drawn dark, the last light. Epochs that did
    not record their norms (see ``fit``'s ``record``) are left out.
    """
    recorded = [(e, n) for e, n in enumerate(history.grad_norms, start=1) if n is not None]
    if not recorded:
        raise ValueError("the history has no gradient norms to plot; train with fit() for at least one epoch")
    epochs, norms = np.array([e for e, _ in recorded]), np.array([n for _, n in recorded], dtype=float)
    if ax is None:
        ax = figure((6.4, 4.0)).subplots()
    from matplotlib import colormaps

    colours = colormaps["viridis"](np.linspace(0, 0.9, norms.shape[1]))
    for l in range(norms.shape[1]):
        ax.plot(epochs, norms[:, l], color=colours[l], label=f"layer {l + 1} (W{l + 1})")
    ax.set_yscale("log")
    ax.set(title=title, xlabel="epoch", ylabel="‖∂L/∂W‖, mean over the epoch's batches")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small" if norms.shape[1] <= 5 else "x-small", ncol=1 if norms.shape[1] <= 5 else 2)
    if path is not None:
        save(ax.figure, path)
    return ax.figure
