"""What if the learning rate were very small, or very large? Answered on one problem: y = sin x on
[−π, π] by a 1-16-1 network (tanh hidden, linear output, mean squared error), full-batch gradient
descent from the same initial weights with a too small, a good and a too large η, then a sweep of η.

A sigmoid output saturates instead of blowing up, so a too large step there stalls rather than
diverges; with a linear output an overshooting step grows geometrically, and the engine stops the
run at the first non-finite loss.
"""

import numpy as np

from .. import datasets, plotting
from ..layers import Dense
from ..network import Network
from ..optimizers import SGD
from .context import Results

TITLE = "Learning rate: too small crawls, a good one converges, too large diverges"

RATES = {"too small": 0.001, "good": 0.05, "too large": 0.5}
FULL = {"epochs": 2000, "sweep": np.geomspace(1e-3, 1.0, 13)}
QUICK = {"epochs": 300, "sweep": np.geomspace(1e-3, 1.0, 7)}
N = 100  # points on [−π, π]
CLIP = 1e6  # the loss-curve figure stops there


# ---- compute ------------------------------------------------------------------------------------


def compute(ctx):
    """The three rates of RATES, then the sweep, all from copies of the same weights. ``runs``: the three
    runs' Histories and trained networks, and the data."""
    s = ctx.pick(FULL, QUICK)
    X, y = datasets.sine(N)
    start = Network([Dense(1, 16, "tanh"), Dense(16, 1, "linear")], loss="mse", seed=ctx.seed)
    histories, nets = {}, {}
    for kind, lr in RATES.items():
        nets[kind] = start.copy()
        histories[kind] = ctx.fit(nets[kind], X, y, f"η={lr:g} ({kind})", optimizer=SGD(lr=lr), epochs=s["epochs"])
    sweep = [float(lr) for lr in s["sweep"]]
    final, diverged = [], []
    for lr in sweep:
        h = ctx.fit(start.copy(), X, y, f"sweep η={lr:.3g}", optimizer=SGD(lr=lr), epochs=s["epochs"])
        final.append(h.loss[-1])
        diverged.append(h.stop_reason is not None)
    numbers = {
        "learning_rates": dict(RATES),
        "final_loss": {kind: h.loss[-1] for kind, h in histories.items()},
        "diverged": {kind: h.stop_reason is not None for kind, h in histories.items()},
        "epochs_run": {kind: h.epochs for kind, h in histories.items()},
        "loss_curves": {kind: h.loss for kind, h in histories.items()},
        "sweep": {"lr": sweep, "final_loss": final, "diverged": diverged},
    }
    return Results(numbers, {"histories": histories, "nets": nets})


# ---- report -------------------------------------------------------------------------------------


def report(ctx, results):
    r, s = results.numbers, ctx.pick(FULL, QUICK)
    runs, nets = results.runs["histories"], results.runs["nets"]
    ctx.setup(
        f"y = sin x at {N} evenly spaced points on [−π, π]. Network 1-16-1, tanh hidden, linear output, mean "
        f"squared error, Glorot-uniform weights (seed {ctx.seed}); full-batch gradient descent for {s['epochs']} "
        f"epochs from the same initial weights with η = {', '.join(f'{lr:g} ({k})' for k, lr in RATES.items())}. "
        "A run whose loss becomes non-finite is stopped there (the engine keeps the last finite weights)."
    )
    ctx.table("The three runs", ["", "η", "epochs run", "final loss", "diverged"],
              [[kind, f"{RATES[kind]:g}", h.epochs, h.loss[-1], "yes" if h.stop_reason else "no"]
               for kind, h in runs.items()])
    with ctx.figure("loss_curves.png", "Loss curves of the three learning rates, and what the two stable runs fit",
                    size=(11, 4.2)) as fig:
        _draw_runs(fig, s, runs, nets)
    with ctx.figure("sweep.png", f"Final loss after {s['epochs']} epochs against η (crosses: diverged)") as fig:
        _draw_sweep(fig.subplots(), r["sweep"])
    _observe(ctx, runs, r["sweep"])


def _draw_runs(fig, s, runs, nets):
    ax1, ax2 = fig.subplots(1, 2)
    # a diverging curve reaches 1e300; drawn up to CLIP, so that the scale stays readable
    plotting.curves(ax1, {f"η = {RATES[k]:g} ({k})" + (f", clipped at {CLIP:.0e}" if h.stop_reason else ""):
                          np.minimum(h.loss, CLIP) for k, h in runs.items()},
                    "Training loss (log scale)", ylabel="mean squared error", log=True)
    grid = np.linspace(-np.pi, np.pi, 200).reshape(-1, 1)
    ax2.plot(grid[:, 0], np.sin(grid[:, 0]), "k--", label="sin x")
    for kind, h in runs.items():
        if h.stop_reason is None:
            ax2.plot(grid[:, 0], nets[kind].predict(grid)[:, 0], label=f"η = {RATES[kind]:g} ({kind})")
    ax2.set(title=f"Prediction after {s['epochs']} epochs", xlabel="x", ylabel="y")
    ax2.legend()


def _draw_sweep(ax, sweep):
    lr, final, diverged = np.array(sweep["lr"]), sweep["final_loss"], sweep["diverged"]
    ok = ~np.array(diverged)
    ax.plot(lr[ok], np.array(final)[ok], "o-", label="converging or slow")
    top = max(f for f, d in zip(final, diverged) if not d) if ok.any() else 1.0
    ax.plot(lr[~ok], [top * 2] * int((~ok).sum()), "rx", markersize=10, label="diverged (loss → ∞)")
    ax.set(xscale="log", yscale="log", title="Learning-rate sweep", xlabel="learning rate η",
           ylabel="final mean squared error")
    ax.grid(alpha=0.3)
    ax.legend()


def _observe(ctx, runs, sweep):
    small, good, large = (runs[k] for k in RATES)
    ctx.observe(
        f"Too small (η = {RATES['too small']:g}) every step is safe but tiny: after {small.epochs} epochs the loss is "
        f"still {small.loss[-1]:.3g}. A good rate (η = {RATES['good']:g}) reaches {good.loss[-1]:.3g} in the same epochs."
    )
    if large.stop_reason:
        ctx.observe(
            f"Too large (η = {RATES['too large']:g}) each step overshoots the minimum by more than it corrects, the "
            f"error grows geometrically and the loss overflows at epoch {large.epochs + 1}; training stops there."
        )
    else:
        ctx.observe(f"Too large (η = {RATES['too large']:g}) ends at loss {large.loss[-1]:.3g}, far above the good rate.")
    stable = [lr for lr, d in zip(sweep["lr"], sweep["diverged"]) if not d]
    if stable and any(sweep["diverged"]):
        ctx.observe(
            f"In the sweep the largest stable η is {max(stable):.3g}; every η from "
            f"{min(lr for lr, d in zip(sweep['lr'], sweep['diverged']) if d):.3g} up diverges."
        )
