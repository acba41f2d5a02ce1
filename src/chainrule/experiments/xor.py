"""XOR with the classic from-scratch network: 2-4-1, sigmoid in both layers, weights W ~ N(0, 1)
and zero biases (``np.random.randn``), ½-squared-error, full-batch gradient descent with η = 0.1
for 10,000 epochs — and how often such small networks get stuck, over many seeds.

A from-scratch update ``W += η · Xᵀ δ`` sums over the 4 rows (no 1/N): the gradient of
½ Σ_n (y − ŷ)². chainrule's ``half_sse`` is the mean over rows, so the same steps take
η = 4 × 0.1 = 0.4 here.
"""

import numpy as np

from .. import datasets, plotting
from ..layers import Dense
from ..network import Network
from ..optimizers import SGD
from .context import Results

TITLE = "XOR: the classic 2-4-1 sigmoid network, and how often small XOR networks get stuck"

SUMMED_LR = 0.1  # η on the loss summed over the 4 rows
ROWS = 4
FULL = {"lr": SUMMED_LR * ROWS, "epochs": 10_000, "seeds": 50}
QUICK = {"lr": 1.0 * ROWS, "epochs": 1_000, "seeds": 10}
SIZES = (2, 4)  # hidden sizes compared over the seeds
CURVE_POINTS = 500  # the loss curve in results.json keeps at most this many epochs


def network(hidden, seed):
    """The classic XOR network with ``hidden`` sigmoid units."""
    layers = [Dense(2, hidden, "sigmoid", init="standard_normal"), Dense(hidden, 1, "sigmoid", init="standard_normal")]
    return Network(layers, loss="half_sse", seed=seed)


def learned(net, X, y):
    """True when all four predictions are on the right side of 0.5."""
    return bool(np.all((net.predict(X)[:, 0] > 0.5) == (y == 1)))


# ---- compute ------------------------------------------------------------------------------------


def compute(ctx):
    """The 2-4-1 network from ``ctx.seed``, then 2-2-1 and 2-4-1 from every seed of the comparison."""
    s = ctx.pick(FULL, QUICK)
    X, y = datasets.xor()
    net = network(4, ctx.seed)
    history = ctx.fit(net, X, y, "2-4-1", optimizer=SGD(lr=s["lr"]), epochs=s["epochs"])
    p = net.predict(X)[:, 0]
    step = max(1, len(history.loss) // CURVE_POINTS)
    seeds = list(range(ctx.seed, ctx.seed + s["seeds"]))
    final, won = _over_seeds(ctx, s, X, y, seeds)
    numbers = {
        "lr": s["lr"], "epochs": s["epochs"], "final_loss": history.loss[-1], "learned": learned(net, X, y),
        "predictions": [{"x1": int(a), "x2": int(b), "target": int(t), "prediction": float(q)}
                        for (a, b), t, q in zip(X, y, p)],
        "loss_curve": {"epoch": list(range(1, len(history.loss) + 1, step)), "loss": history.loss[::step]},
        "seeds": seeds, "success_rate": {k: sum(v) / len(seeds) for k, v in won.items()},
        "final_losses": final, "learned_by_seed": won,
    }
    return Results(numbers, {"history": history})


def _over_seeds(ctx, s, X, y, seeds):
    """{"2-h-1": final loss of each seed}, {"2-h-1": whether each seed learned XOR}: the networks of one
    size trained together, stacked (each as fit trains it alone, to rounding: the final losses agree
    with one-by-one training to about 1e-15 relative, the order of the stacked products' sums)."""
    final, won = {}, {}
    for hidden in SIZES:
        label = f"2-{hidden}-1"
        nets = [network(hidden, seed) for seed in seeds]
        histories = ctx.fit_stacked(nets, X, y, [f"{label} seed {seed}" for seed in seeds],
                                    [SGD(lr=s["lr"]) for _ in seeds], epochs=s["epochs"])
        final[label] = [h.loss[-1] for h in histories]
        won[label] = [learned(net, X, y) for net in nets]
    return final, won


# ---- report -------------------------------------------------------------------------------------


def report(ctx, results):
    r, history = results.numbers, results.runs["history"]
    ctx.setup(
        f"The classic from-scratch XOR network: 2-4-1, sigmoid hidden and output layers, W ~ N(0, 1), b = 0, "
        f"loss ½(y − ŷ)² averaged over the 4 rows, plain gradient descent on all 4 rows for {r['epochs']} epochs "
        f"with η = {r['lr']:g} (η = {r['lr'] / ROWS:g} on the sum over the rows), seed {ctx.seed}."
    )
    rows = [[p["x1"], p["x2"], p["target"], p["prediction"], "yes" if (p["prediction"] > 0.5) == (p["target"] == 1)
             else "no"] for p in r["predictions"]]
    ctx.table("Predictions of the trained 2-4-1 network", ["x1", "x2", "target", "prediction", "right side of 0.5"], rows)
    with ctx.figure("loss_curve.png", f"Training loss of the 2-4-1 network, seed {ctx.seed} (log scale)") as fig:
        plotting.curves(fig.subplots(), {"2-4-1, ½-squared error": history.loss},
                        f"XOR, 2-4-1 sigmoid, η = {r['lr']:g}", ylabel="loss ½(y − ŷ)²", log=True)
    ok = "learned XOR" if r["learned"] else "did NOT learn XOR with this seed"
    ctx.observe(f"The 2-4-1 network {ok}: final loss {r['final_loss']:.3g}.")
    _report_seeds(ctx, r)
    ctx.observe(
        "The diagnostics flag this network's squared error with a sigmoid output for 0/1 labels "
        "(loss_activation_mismatch): it is kept here to reproduce the classic network, and it is one reason small XOR "
        "networks get stuck — near a saturated output the squared error's δ carries a factor σ′(z) that binary "
        "cross-entropy cancels, so a wrong, confident output learns slowly."
    )


def _report_seeds(ctx, r):
    seeds, success, final, won = r["seeds"], r["success_rate"], r["final_losses"], r["learned_by_seed"]
    ctx.setup(
        f"Then the same training from {len(seeds)} seeds ({seeds[0]}–{seeds[-1]}) for 2-2-1 and 2-4-1 networks; "
        "a run succeeds when all four predictions are on the right side of 0.5. The networks of one size are "
        "trained together, stacked (chainrule.stacked: each as fit trains it alone, to rounding); their "
        "diagnostics are the checks before training."
    )
    ctx.table("Success over the seeds", ["network", "learned XOR", "success rate"],
              [[k, f"{round(v * len(seeds))} of {len(seeds)}", v] for k, v in success.items()])
    with ctx.figure("success_rate.png", "How often XOR is learned, and the final loss of every seed",
                    size=(11, 4.2)) as fig:
        _draw_success(fig, success, final, len(seeds))
    ctx.observe(
        f"Over {len(seeds)} seeds the 2-2-1 network learned XOR in {success['2-2-1']:.0%} of the runs and the 2-4-1 "
        f"in {success['2-4-1']:.0%}."
    )
    stuck = sorted(loss for k in final for loss, ok in zip(final[k], won[k]) if not ok)
    if stuck:
        ctx.observe(
            f"The stuck runs end on plateaus (final losses {', '.join(f'{v:.3g}' for v in stuck)}), far above a "
            "learned run's: 0.0625 = ½(0.5² + 0.5²)/4 is two rows predicted 0.5, 0.125 one row wholly wrong. The "
            "gradient there is too small to climb out; with more hidden units there are more ways to separate the "
            "classes and fewer such plateaus."
        )


def _draw_success(fig, success, final, n_seeds):
    ax1, ax2 = fig.subplots(1, 2)
    labels = list(success)
    bars = ax1.bar(labels, [success[k] for k in labels], color=["tab:blue", "tab:orange"], label="success rate")
    ax1.bar_label(bars, labels=[f"{success[k]:.0%}" for k in labels])
    ax1.set(title=f"XOR learned, over {n_seeds} seeds", xlabel="network", ylabel="fraction of seeds", ylim=(0, 1.1))
    ax1.legend(loc="lower right")
    for i, k in enumerate(labels):
        jitter = np.random.default_rng(i).uniform(-0.15, 0.15, len(final[k]))
        ax2.scatter(i + jitter, final[k], s=14, color=["tab:blue", "tab:orange"][i], label=k)
    ax2.set_xticks(range(len(labels)), labels)
    ax2.set_yscale("log")
    ax2.set(title="Final loss of every seed", xlabel="network", ylabel="final loss ½(y − ŷ)²")
    ax2.legend()
