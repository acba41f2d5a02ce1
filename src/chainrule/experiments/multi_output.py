"""Multi-output regression: [temperature, humidity, pressure, wind speed] → [PM2.5, ozone, NO₂], and
how to handle outputs of different scales.

One network, 4 → 32 (tanh) → 3 (linear), mean squared error over the three outputs, trained twice
from the same initial weights with the same steps: on the raw targets (PM2.5 and NO₂ in tens,
ozone in hundredths of a ppm), and on targets standardized with the training rows' mean and
std (the predictions mapped back to the original units). Every output's error is measured
relative to its own scale: RMSE / std of that output on the test rows (1 = no better than
predicting the mean).
"""

import numpy as np

from .. import datasets
from ..datasets.synthetic import ENVIRONMENT_OUTPUTS
from ..layers import Dense
from ..network import Network
from ..optimizers import SGD
from .common import seeded_copy, split_standardized
from .context import Results

TITLE = "Multi-output regression: raw targets of very different scales vs standardized targets"

FULL = {"n": 1000, "epochs": 1000}
QUICK = {"n": 400, "epochs": 150}
HIDDEN = 32
LR = 0.01
BATCH = 32
UNITS = {"pm25_ugm3": "µg/m³", "ozone_ppm": "ppm", "no2_ppb": "ppb"}
LABELS = {"pm25_ugm3": "PM2.5", "ozone_ppm": "ozone", "no2_ppb": "NO₂"}
KINDS = ("raw targets", "standardized targets")


def relative_rmse(P, Y):
    """Per output: the RMSE divided by that output's standard deviation."""
    return np.sqrt(((P - Y) ** 2).mean(axis=0)) / Y.std(axis=0)


def _per_output(values):
    """{output name: value} for one value per output, in ENVIRONMENT_OUTPUTS' order."""
    return dict(zip(ENVIRONMENT_OUTPUTS, values))


def compute(ctx):
    """Both runs from the same weights; ``runs``: each run's held-out predictions in the outputs' units,
    the held-out truth, and the Histories."""
    s = ctx.pick(FULL, QUICK)
    X, Y = datasets.environment(s["n"], seed=ctx.seed)
    X_train, X_test, Y_train, Y_test = split_standardized(X, Y, ctx.seed)
    target_scaler = datasets.Standardizer().fit(Y_train)
    start = Network([Dense(4, HIDDEN, "tanh"), Dense(HIDDEN, 3, "linear")], loss="mse", seed=ctx.seed)
    targets = {"raw targets": (Y_train, None), "standardized targets": (target_scaler.transform(Y_train), target_scaler)}
    histories, predictions, moved = {}, {}, {}
    for kind, (T, scaler) in targets.items():
        net = seeded_copy(start, ctx.seed)  # the same shuffling in both runs
        histories[kind] = ctx.fit(net, X_train, T, kind, optimizer=SGD(lr=LR), epochs=s["epochs"], batch_size=BATCH)
        # how far training moved each output's column of weights W2[:, k]
        moved[kind] = np.linalg.norm(net.layers[-1].W - start.layers[-1].W, axis=0)
        P = net.predict(X_test)
        predictions[kind] = P if scaler is None else P * scaler.std + scaler.mean  # back to units: y = σ·ŷ + μ
    rmse = {k: np.sqrt(((P - Y_test) ** 2).mean(axis=0)) for k, P in predictions.items()}
    rel = {k: relative_rmse(P, Y_test) for k, P in predictions.items()}
    # each output's share of the raw mean squared error: RMSE_k² / Σ_j RMSE_j²
    share = (rmse["raw targets"] ** 2) / (rmse["raw targets"] ** 2).sum()
    numbers = {
        "outputs": list(ENVIRONMENT_OUTPUTS),
        "target_std": _per_output(Y_train.std(axis=0)),
        "rmse": {k: _per_output(v) for k, v in rmse.items()},
        "relative_rmse": {k: _per_output(v) for k, v in rel.items()},
        "r2": {k: _per_output(1 - v ** 2) for k, v in rel.items()},
        "relative_rmse_spread": {k: float(v.max() / v.min()) for k, v in rel.items()},
        "raw_loss_share": _per_output(share),
        "output_weights_moved": {k: _per_output(v) for k, v in moved.items()},
        "loss_curves": {k: h.loss for k, h in histories.items()},
    }
    return Results(numbers, {"predictions": predictions, "truth": Y_test, "histories": histories})


def report(ctx, results):
    r, s = results.numbers, ctx.pick(FULL, QUICK)
    ctx.setup(
        f"{s['n']} rows of `datasets.environment` (75% to train, 25% held out); inputs standardized with the training "
        f"rows' mean and std. Network 4-{HIDDEN}-3, tanh hidden, linear output, mean squared error averaged over the "
        f"three outputs, Glorot weights (seed {ctx.seed}); SGD with η = {LR:g}, mini-batches of {BATCH}, "
        f"{s['epochs']} epochs, both runs from the same initial weights and in the same batch order. Run 1 fits the raw "
        "targets; run 2 fits (y − μ)/σ per output (μ, σ of the training rows) and maps its predictions back by "
        "y = σ·ŷ + μ. Errors are on the held-out rows, in each output's units and relative to its std."
    )
    rmse, rel, std = r["rmse"], r["relative_rmse"], r["target_std"]
    ctx.table(
        "Held-out error per output: RMSE in its units, and relative RMSE = RMSE / std (R² = 1 − relative²)",
        ["output", "unit", "std (train)", "RMSE, raw", "relative, raw", "RMSE, standardized", "relative, standardized"],
        [[LABELS[k], UNITS[k], std[k], rmse["raw targets"][k], rel["raw targets"][k],
          rmse["standardized targets"][k], rel["standardized targets"][k]] for k in ENVIRONMENT_OUTPUTS],
    )
    with ctx.figure("relative_error.png", "Held-out RMSE of each output relative to its std, raw vs standardized "
                    "targets (1 = predicting the mean)") as fig:
        _draw_relative_error(fig.subplots(), rel, std)
    names = [LABELS[k] for k in ENVIRONMENT_OUTPUTS]
    predictions, truth = results.runs["predictions"], results.runs["truth"]
    with ctx.figure("predictions.png", "Predicted vs true values on the held-out rows, each output in its units",
                    size=(12, 7.5)) as fig:
        axes = fig.subplots(2, 3, gridspec_kw={"hspace": 0.4})
        for row, kind in zip(axes, KINDS):
            for i, ax in enumerate(row):
                _draw_predicted_vs_true(ax, truth[:, i], predictions[kind][:, i],
                                        f"{names[i]}, {kind}", UNITS[ENVIRONMENT_OUTPUTS[i]])
    _observe(ctx, r, predictions["raw targets"], truth)


def _draw_relative_error(ax, rel, std):
    x = np.arange(len(ENVIRONMENT_OUTPUTS))
    for j, kind in enumerate(KINDS):
        values = [rel[kind][k] for k in ENVIRONMENT_OUTPUTS]
        bars = ax.bar(x + (j - 0.5) * 0.38, values, width=0.38, label=kind)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize="small")
    ax.axhline(1.0, color="k", linestyle="--", linewidth=1, label="predicting the mean")
    ax.set_xticks(x, [f"{LABELS[k]} ({UNITS[k]}, std {std[k]:.2g})" for k in ENVIRONMENT_OUTPUTS])
    ax.set(title="Per-output error relative to the output's scale", ylabel="RMSE / std")
    ax.legend()


def _observe(ctx, r, raw_predictions, truth):
    names = [LABELS[k] for k in ENVIRONMENT_OUTPUTS]
    raw, std = (list(r["relative_rmse"][kind].values()) for kind in KINDS)
    share, moved = list(r["raw_loss_share"].values()), list(r["output_weights_moved"]["raw targets"].values())
    spread = r["relative_rmse_spread"]
    worst = int(np.argmax(raw))
    key = ENVIRONMENT_OUTPUTS[worst]
    ctx.observe(
        f"On the raw targets the mean squared error is dominated by the outputs measured in tens: at the end "
        f"{', '.join(f'{names[i]} makes {100 * share[i]:.2g}%' for i in range(3))} of it. The gradient of each "
        "output's error is proportional to that error, so the steps serve the large outputs and the shared hidden "
        f"features are shaped for them (training moved the output weights of {', '.join(f'{names[i]} by {m:.2g}' for i, m in enumerate(moved))}); "
        f"{names[worst]} (std {r['target_std'][key]:.2g} {UNITS[key]}) ends with a relative "
        f"error of {raw[worst]:.2f}"
        + (" — worse than predicting its mean" if raw[worst] > 1 else "")
        + f" (its predictions average {raw_predictions[:, worst].mean():.3g}, the truth "
        f"{truth[:, worst].mean():.3g})."
        + f" Relative errors raw: {', '.join(f'{names[i]} {raw[i]:.2f}' for i in range(3))} (worst/best "
        f"{spread['raw targets']:.1f}×)."
    )
    ctx.observe(
        f"With standardized targets every output weighs the same in the loss (it is the raw loss with output k "
        f"weighted by 1/σ_k²): {', '.join(f'{names[i]} {std[i]:.2f}' for i in range(3))} (worst/best "
        f"{spread['standardized targets']:.1f}×). So outputs of different scales want one scale: standardize them, "
        "or weight each output's error explicitly by how much it matters."
    )


def _draw_predicted_vs_true(ax, truth, predicted, title, unit):
    lo, hi = float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))
    ax.scatter(truth, predicted, s=8, alpha=0.6, label="held-out rows")
    ax.plot([lo, hi], [lo, hi], "k--", linewidth=1, label="prediction = truth")
    ax.set(title=title, xlabel=f"true ({unit})", ylabel=f"predicted ({unit})")
    ax.legend(fontsize="small")
