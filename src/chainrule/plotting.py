"""Figures from what training recorded. matplotlib is imported inside each function (``pip install
"chainrule[plots]"``), so ``import chainrule`` needs NumPy alone; figures are drawn with the Agg
canvas, without pyplot, so they never open a window or change a notebook's backend."""

import numpy as np

__all__ = ["plot_gradient_norms"]


def _axes(ax):
    """(figure, axes): the given axes' figure, or a new Agg figure with one axes."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('plotting needs matplotlib, which is not installed; install it with: '
                          'pip install "chainrule[plots]"') from None
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def plot_gradient_norms(history, ax=None, path=None):
    """Each layer's gradient norm ‖∂L/∂W(l)‖ (its mean over the epoch's batches, History.grad_norms)
    against the epoch, on a log scale: vanishing gradients show as the first layers' lines far below
    the last's, exploding ones as lines climbing by orders of magnitude.

    ``ax``: draw into these matplotlib axes (default: a new figure). ``path``: also save the figure
    there (the format from the extension). Returns the figure.
    """
    norms = np.asarray(history.grad_norms, dtype=float)
    if norms.ndim != 2 or not norms.size:
        raise ValueError("the history has no gradient norms to plot; train with fit() for at least one epoch")
    fig, ax = _axes(ax)
    epochs = np.arange(1, len(norms) + 1)
    for l in range(norms.shape[1]):
        ax.plot(epochs, norms[:, l], label=f"layer {l + 1} (W{l + 1})")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("‖∂L/∂W‖, mean over the epoch's batches")
    ax.set_title("Gradient norm per layer")
    ax.legend()
    if path is not None:
        fig.savefig(path)
    return fig
