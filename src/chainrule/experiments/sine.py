"""Regression of y = sin x on [−π, π]: a linear output layer and mean squared error instead of a
classifier's sigmoid and cross-entropy; a sigmoid (or tanh) hidden layer, full-batch gradient
descent, η = 0.1, 10,000 epochs.

The training points are ``np.linspace(-π, π, 100)``; the test points are 200 other x drawn
uniformly from the same interval, so the test error measures the fit between the training
points. The figure also shows x beyond ±π, where no training point lies.
"""

import numpy as np

from .. import datasets, plotting
from ..layers import Dense
from ..network import Network
from ..optimizers import SGD
from .context import Results

TITLE = "Sine regression: y = sin x with a linear output and mean squared error"

N_TRAIN, N_TEST = 100, 200
HIDDEN = 16
LR = 0.1
FULL = {"epochs": 10_000}
QUICK = {"epochs": 2_000}
ACTIVATIONS = ("sigmoid", "tanh")  # the classic hidden layer, and the zero-centred one with 4× its slope at 0
OUTSIDE = 1.5  # the figure runs to ±1.5π


def mse(net, X, y):
    return float(np.mean((net.predict(X)[:, 0] - y) ** 2))


def compute(ctx):
    s = ctx.pick(FULL, QUICK)
    X, y = datasets.sine(N_TRAIN)
    x_test = np.random.default_rng(ctx.seed).uniform(-np.pi, np.pi, N_TEST).reshape(-1, 1)
    y_test = np.sin(x_test[:, 0])
    nets, histories, rows = {}, {}, {}
    for act in ACTIVATIONS:
        nets[act] = Network([Dense(1, HIDDEN, act), Dense(HIDDEN, 1, "linear")], loss="mse", seed=ctx.seed)
        histories[act] = ctx.fit(nets[act], X, y, f"1-{HIDDEN}-1 {act}", optimizer=SGD(lr=LR), epochs=s["epochs"])
        rows[act] = {"train_mse": mse(nets[act], X, y), "test_mse": mse(nets[act], x_test, y_test),
                     "max_abs_error": float(np.max(np.abs(nets[act].predict(x_test)[:, 0] - y_test)))}
    numbers = {"test_mse": rows["sigmoid"]["test_mse"], "train_mse": rows["sigmoid"]["train_mse"],
               "by_activation": rows, "variance_of_sin": float(np.var(y_test))}
    return Results(numbers, {"nets": nets, "histories": histories, "train": (X, y)})


def report(ctx, results):
    r, runs, s = results.numbers, results.runs, ctx.pick(FULL, QUICK)
    rows = r["by_activation"]
    ctx.setup(
        f"y = sin x at {N_TRAIN} evenly spaced x on [−π, π] (`datasets.sine`). Network "
        f"1-{HIDDEN}-1, hidden layer sigmoid or tanh, linear output, mean squared error, "
        f"Glorot-uniform weights (seed {ctx.seed}), full-batch gradient descent with η = {LR:g} for {s['epochs']} epochs. "
        f"Test error: the mean squared error at {N_TEST} x drawn uniformly from [−π, π] (seed {ctx.seed})."
    )
    ctx.table("Fit of y = sin x", ["hidden activation", "train MSE", "test MSE", "largest test error"],
              [[a, r["train_mse"], r["test_mse"], r["max_abs_error"]] for a, r in rows.items()])
    with ctx.figure("prediction.png", "The networks' predictions against sin x, and the training loss",
                    size=(11, 4.4)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        _draw_predictions(ax1, runs["nets"], rows, *runs["train"])
        plotting.curves(ax2, {f"{a} hidden": h.loss for a, h in runs["histories"].items()}, "Training loss (log scale)",
                        ylabel="mean squared error", log=True)
    sig, tan, var = rows["sigmoid"], rows["tanh"], r["variance_of_sin"]
    if any(f.code == "lr_too_high" for f in runs["histories"]["tanh"].findings):
        ctx.observe(
            "The diagnostics report lr_too_high for the tanh network, rightly: at η = 0.1 its loss climbs back up by "
            "orders of magnitude now and then (the spikes of the log-scale curve) — tanh′ peaks at 1, four times the "
            "sigmoid's ¼, so the same η is a larger step — which is why it ends with the larger error."
        )
    ctx.observe(
        f"The sigmoid network (sigmoid hidden, linear output) fits sin x with a test MSE of {sig['test_mse']:.2g} "
        f"(the variance of sin x is {var:.2f}, so it explains {1 - sig['test_mse'] / var:.2%} of it) "
        f"and a largest test error of {sig['max_abs_error']:.2g}; the tanh network reaches {tan['test_mse']:.2g}. "
        + (f"The test MSE is within {sig['test_mse'] / sig['train_mse'] - 1:.0%} of the training MSE: between the training "
           "points the fit is as good as on them. " if sig["test_mse"] < 1.5 * sig["train_mse"] else
           f"The test MSE is {sig['test_mse'] / sig['train_mse']:.1f} times the training MSE. ")
        + "Outside [−π, π] "
        "neither network knows sin x continues — the sigmoid or tanh units saturate and the prediction flattens."
    )


def _draw_predictions(ax, nets, rows, X, y):
    """sin x and each network's prediction on ±1.5π, the region beyond the training points shaded."""
    grid = np.linspace(-OUTSIDE * np.pi, OUTSIDE * np.pi, 400).reshape(-1, 1)
    ax.axvspan(-OUTSIDE * np.pi, -np.pi, color="0.9")
    ax.axvspan(np.pi, OUTSIDE * np.pi, color="0.9", label="outside the training range")
    ax.plot(grid[:, 0], np.sin(grid[:, 0]), "k--", label="sin x (truth)")
    ax.scatter(X[::4, 0], y[::4], s=10, c="k", label="training points (every 4th)")
    for act in ACTIVATIONS:
        ax.plot(grid[:, 0], nets[act].predict(grid)[:, 0], label=f"{act} hidden, test MSE {rows[act]['test_mse']:.2g}")
    ax.set(title="Prediction vs truth", xlabel="x", ylabel="y", ylim=(-1.8, 1.8))
    ax.legend(fontsize="small")
