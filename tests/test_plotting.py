"""Figures: drawn without pyplot, from what fit recorded; chainrule itself imports no matplotlib."""

import subprocess
import sys

import pytest

import chainrule as cr
from chainrule import datasets

pytest.importorskip("matplotlib")

from chainrule.plotting import plot_gradient_norms  # noqa: E402


def test_import_chainrule_needs_no_matplotlib():
    code = "import sys, chainrule, chainrule.plotting; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_gradient_norms_one_line_per_layer_on_a_log_scale(tmp_path):
    net = cr.Network([cr.Dense(2, 4, "sigmoid"), cr.Dense(4, 4, "sigmoid"), cr.Dense(4, 1, "sigmoid")], loss="bce", seed=0)
    # 30 epochs of a 3-layer XOR net sit on its early plateau: diagnostics would say so, rightly
    history = net.fit(*datasets.xor(), optimizer=cr.SGD(1.0), epochs=30, progress=False, diagnostics=False)
    fig = plot_gradient_norms(history, path=tmp_path / "norms.png")
    [ax] = fig.axes
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "epoch" and "‖∂L/∂W‖" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["layer 1 (W1)", "layer 2 (W2)", "layer 3 (W3)"]
    # epochs 1–20 record their norms, then every 2nd (22, 24, …, 30): the line skips the others
    recorded = list(range(1, 21)) + list(range(22, 31, 2))
    assert [e for e, norms in enumerate(history.grad_norms, start=1) if norms is not None] == recorded
    for l, line in enumerate(ax.get_lines()):
        assert list(line.get_xdata()) == recorded
        assert list(line.get_ydata()) == [history.grad_norms[e - 1][l] for e in recorded]
    assert (tmp_path / "norms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_draws_into_given_axes_and_rejects_an_empty_history():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    net = cr.Network([cr.Dense(2, 1, "sigmoid")], loss="bce", seed=0)
    assert plot_gradient_norms(net.fit(*datasets.xor(), epochs=2, progress=False), ax=ax) is fig
    with pytest.raises(ValueError, match="no gradient norms"):
        plot_gradient_norms(cr.History())
