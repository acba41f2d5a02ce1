"""make_moons on one data set: a 2-4-1 network started from small weights, hidden sizes 1, 2, 4, 20,
50 and their decision boundaries, sigmoid vs tanh, L2 regularization of a 50-unit network, and
full-batch vs mini-batch vs stochastic gradient descent.

The data: ``make_moons(200, noise=0.2, random_state=42)``, 30% held out, the features as they come
(not standardized). The first network is started as from-scratch code often starts one — 2-4-1,
sigmoid in both layers, W = 0.01·N(0, 1), b = 0, mean binary cross-entropy, full-batch gradient
descent with η = 0.1 for 10,000 epochs. From such small weights it stays on the plateau of a nearly
linear boundary for all those epochs, so the comparisons that follow use Glorot-uniform weights and
Adam (η = 0.05, full batch), which leave that plateau in a few hundred epochs; the batch-size
comparison goes back to plain gradient descent, the one optimizer whose noise comes from the batch alone.
"""

import numpy as np

from .. import datasets, plotting
from ..layers import Dense
from ..network import Network
from ..optimizers import SGD, Adam
from .common import accuracy, first_epoch_below, seeded_copy
from .context import Results

TITLE = "Moons: decision boundaries by hidden size, sigmoid vs tanh, L2 regularization, batch vs stochastic"

DATA = {"n": 200, "noise": 0.2, "test_size": 0.3}
DATA_SEED = 42  # make_moons' random_state at seed 0; --seed S draws the data with 42 + S
FULL = {"epochs": 10_000, "batch_epochs": 200}
QUICK = {"epochs": 600, "batch_epochs": 40}
GD_LR = 0.1  # plain gradient descent's η
ADAM_LR = 0.05
SIZES = (1, 2, 4, 20, 50)
L2_HIDDEN = 50
LAMBDAS = (0.0, 0.003, 0.01, 0.1)  # λ in the penalty λ/(2m)·Σ‖W‖², m = the 140 training rows
BATCHES = {"full batch": None, "mini-batch (16)": 16, "stochastic (1)": 1}


def points(seed):
    """The moons, X (200, 2) and y (200,), drawn with random_state 42 + ``seed``."""
    return datasets.moons(DATA["n"], DATA["noise"], seed=DATA_SEED + seed)


def network(hidden, activation="sigmoid", seed=0, l2=0.0, init=None):
    """2-hidden-1, ``activation`` hidden layer, sigmoid output, binary cross-entropy."""
    layers = [Dense(2, hidden, activation, init=init), Dense(hidden, 1, "sigmoid", init=init)]
    return Network(layers, loss="bce", seed=seed, l2=l2)


def weight_norm(net):
    """√(Σ_l ‖W(l)‖²), the quantity the L2 penalty shrinks."""
    return float(np.sqrt(sum(np.vdot(layer.W, layer.W) for layer in net.layers)))


# ---- compute ------------------------------------------------------------------------------------


def compute(ctx):
    s = ctx.pick(FULL, QUICK)
    X, y = points(ctx.seed)
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_size=DATA["test_size"], seed=ctx.seed)
    data = (X_train, y_train, X_test, y_test)
    numbers, runs = {}, {"data": data}
    numbers["small_init_network"], runs["small_init_network"] = _small_start(ctx, s, data)
    numbers["hidden_sizes"], runs["hidden_sizes"] = _hidden_sizes(ctx, s, data)
    numbers["activations"], runs["activations"] = _activations(ctx, s, data, numbers["hidden_sizes"][4],
                                                               runs["hidden_sizes"])
    numbers["l2"], runs["l2"] = _l2(ctx, s, data)
    numbers["batch_sizes"], numbers["batch_loss_curves"] = _batch_sizes(ctx, s, X_train, y_train)
    return Results(numbers, runs)


def _train(ctx, net, data, label, **options):
    """Fit on the training rows; returns the History and the results row: final loss, train and test accuracy."""
    X_train, y_train, X_test, y_test = data
    history = ctx.fit(net, X_train, y_train, label, **options)
    row = {"final_loss": history.loss[-1], "train_accuracy": accuracy(net, X_train, y_train),
           "test_accuracy": accuracy(net, X_test, y_test)}
    return history, row


def _small_start(ctx, s, data):
    """2-4-1 from weights 0.01·N(0, 1), plain gradient descent: its row, and {"net", "history"}."""
    net = network(4, "sigmoid", ctx.seed, init="small_normal")
    history, row = _train(ctx, net, data, "2-4-1 small init", optimizer=SGD(lr=GD_LR), epochs=s["epochs"])
    return row, {"net": net, "history": history}


def _hidden_sizes(ctx, s, data):
    """2-h-1 for every h of SIZES, Glorot weights and Adam: {h: row}, and {h: (net, history)}."""
    rows, runs = {}, {}
    for hidden in SIZES:
        net = network(hidden, "sigmoid", ctx.seed)
        history, rows[hidden] = _train(ctx, net, data, f"2-{hidden}-1", optimizer=Adam(lr=ADAM_LR), epochs=s["epochs"])
        runs[hidden] = (net, history)
    return rows, runs


def _activations(ctx, s, data, sigmoid_row, hidden_runs):
    """The 2-4-1 sigmoid run of the hidden sizes against the same network with a tanh hidden layer:
    {activation: row with the first epoch of loss < 0.1}, and {activation: (net, history)}."""
    runs = {"sigmoid": hidden_runs[4]}
    net = network(4, "tanh", ctx.seed)
    history, tanh_row = _train(ctx, net, data, "2-4-1 tanh", optimizer=Adam(lr=ADAM_LR), epochs=s["epochs"])
    runs["tanh"] = (net, history)
    rows = {"sigmoid": dict(sigmoid_row), "tanh": tanh_row}
    for act, (_, h) in runs.items():
        rows[act]["epochs_to_loss_0.1"] = first_epoch_below(h.loss, 0.1)
    return rows, runs


def _l2(ctx, s, data):
    """The 2-50-1 network for every λ of LAMBDAS: {λ: row with ‖W‖ after training}, and {λ: net}."""
    nets, rows = {}, {}
    for lam in LAMBDAS:
        nets[lam] = network(L2_HIDDEN, "sigmoid", ctx.seed, l2=lam)
        _, rows[lam] = _train(ctx, nets[lam], data, f"2-{L2_HIDDEN}-1 λ={lam:g}", optimizer=Adam(lr=ADAM_LR),
                              epochs=s["epochs"])
        rows[lam]["weight_norm"] = weight_norm(nets[lam])
    return rows, nets


def _batch_sizes(ctx, s, X_train, y_train):
    """Gradient descent from the same weights, in the same shuffled order, for each batch size of BATCHES:
    {name: row}, and {name: the loss on all training rows after each epoch}."""
    start = network(4, "sigmoid", ctx.seed)
    curves, rows = {}, {}
    for name, batch in BATCHES.items():
        # validation on the training rows: the loss of the weights at the end of every epoch, on all of them
        history = ctx.fit(seeded_copy(start, ctx.seed), X_train, y_train, f"2-4-1 {name}", optimizer=SGD(lr=GD_LR),
                          epochs=s["batch_epochs"], batch_size=batch, validation_data=(X_train, y_train))
        curve = np.array(history.val_loss)
        change = np.diff(curve)
        rows[name] = {
            "updates_per_epoch": -(-len(X_train) // (batch or len(X_train))),  # ⌈n / batch⌉
            "final_loss": curve[-1],
            # the noise: how much the loss jumps from one epoch to the next, late in training
            "noise": float(np.std(change[len(change) // 2:])),
            "rises": float(np.mean(change > 0)),  # fraction of epochs after which the loss went up
        }
        curves[name] = list(curve)
    return rows, curves


# ---- report -------------------------------------------------------------------------------------


def report(ctx, results):
    r, runs, s = results.numbers, results.runs, ctx.pick(FULL, QUICK)
    data = runs["data"]
    ctx.setup(
        f"`datasets.moons({DATA['n']}, noise={DATA['noise']:g})` with random_state {DATA_SEED + ctx.seed} (42 at "
        f"seed 0), {len(data[0])} points to train and {len(data[2])} held out, features unstandardized. Every network "
        "is 2-h-1 with a sigmoid output and binary cross-entropy (the mean over the rows)."
    )
    _report_small_start(ctx, s, r["small_init_network"], runs["small_init_network"], data)
    _report_hidden_sizes(ctx, r["hidden_sizes"], runs["hidden_sizes"], data)
    _report_activations(ctx, r["activations"], runs["activations"], data)
    _report_l2(ctx, r["l2"], runs["l2"], data)
    _report_batch_sizes(ctx, s, r["batch_sizes"], r["batch_loss_curves"], len(data[0]))


def _boundary(ax, net, data, title):
    X_train, y_train, X_test, y_test = data
    plotting.decision_boundary(ax, net, X_train, y_train, title, resolution=100, X_test=X_test, y_test=y_test)


def _report_small_start(ctx, s, row, run, data):
    ctx.setup(
        f"First a 2-4-1 network started as from-scratch code often starts one: sigmoid hidden layer, W = 0.01·N(0, 1), "
        f"b = 0, full-batch gradient descent with η = {GD_LR:g} for {s['epochs']} epochs. Then, for every comparison, "
        f"Glorot-uniform weights and Adam (η = {ADAM_LR:g}, full batch) for {s['epochs']} epochs, seed {ctx.seed}."
    )
    with ctx.figure("small_init_network.png", "The 2-4-1 network from weights 0.01·N(0, 1): training loss and "
                    "decision boundary", size=(11, 4.4)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        plotting.curves(ax1, {f"2-4-1 sigmoid, GD η = {GD_LR:g}": run["history"].loss}, "Training loss",
                        ylabel="binary cross-entropy")
        _boundary(ax2, run["net"], data, f"train {row['train_accuracy']:.3f}, test {row['test_accuracy']:.3f}")
    ctx.observe(
        f"These settings end at loss {row['final_loss']:.3f} and train accuracy "
        f"{row['train_accuracy']:.3f} (test {row['test_accuracy']:.3f}) after {s['epochs']} epochs: from weights of "
        "size 0.01 every hidden unit starts near the same linear function, and gradient descent at η = 0.1 does not "
        "leave that plateau of an almost straight boundary in that time."
    )
    if any(f.code == "init_scale" for f in run["history"].findings):
        ctx.observe(
            "The diagnostics flag this network's initialization (init_scale): 0.01·N(0, 1) is far below Glorot's "
            "scale, so the four hidden units start almost linear and almost alike, and their gradients are tiny — "
            "the reason the comparisons below start from Glorot weights."
        )


def _report_hidden_sizes(ctx, rows, runs, data):
    ctx.table("Hidden sizes (sigmoid hidden layer, Adam)", ["hidden units", "final loss", "train accuracy", "test accuracy"],
              [[h, r["final_loss"], r["train_accuracy"], r["test_accuracy"]] for h, r in rows.items()])
    with ctx.figure("hidden_sizes.png", "Decision boundaries for 1, 2, 4, 20 and 50 hidden units (crosses: held-out points)",
                    size=(3.6 * len(SIZES), 3.8)) as fig:
        for ax, hidden in zip(fig.subplots(1, len(SIZES)), SIZES):
            r = rows[hidden]
            _boundary(ax, runs[hidden][0], data, f"{hidden} hidden: train {r['train_accuracy']:.2f}, test {r['test_accuracy']:.2f}")
    best = max(SIZES, key=lambda h: (rows[h]["test_accuracy"], -h))
    wide = rows[SIZES[-1]]
    overfit = wide["train_accuracy"] > rows[best]["train_accuracy"] and wide["test_accuracy"] < rows[best]["test_accuracy"]
    ctx.observe(
        f"One or two hidden units draw little more than a line (train accuracy {rows[1]['train_accuracy']:.3f} and "
        f"{rows[2]['train_accuracy']:.3f}); four bend the boundary around the moons (train {rows[4]['train_accuracy']:.3f}, "
        f"test {rows[4]['test_accuracy']:.3f}); 20 and 50 reach train accuracy {rows[20]['train_accuracy']:.3f} and "
        f"{wide['train_accuracy']:.3f}, test {rows[20]['test_accuracy']:.3f} and {wide['test_accuracy']:.3f}. The best "
        f"held-out accuracy is at {best} units. "
        + ("The 50-unit network fits the training points better but the held-out ones worse: it has begun to fit the noise."
           if overfit else
           f"With {len(data[0])} training points and this noise the 50-unit boundary is wigglier but not worse on the "
           "held-out points: no clear overfitting here (the L2 penalty below is the tool for it when it comes).")
    )


def _report_activations(ctx, rows, runs, data):
    first = {a: r["epochs_to_loss_0.1"] for a, r in rows.items()}
    ctx.table("Sigmoid vs tanh hidden layer (2-4-1, same initial weights' seed, Adam)",
              ["hidden activation", "final loss", "first epoch with loss < 0.1", "train accuracy", "test accuracy"],
              [[a, r["final_loss"], "never" if first[a] is None else first[a], r["train_accuracy"], r["test_accuracy"]]
               for a, r in rows.items()])
    with ctx.figure("sigmoid_vs_tanh.png", "Sigmoid vs tanh hidden layer: training loss and decision boundaries",
                    size=(15, 4.4)) as fig:
        ax1, ax2, ax3 = fig.subplots(1, 3)
        plotting.curves(ax1, {f"{a} hidden": h.loss for a, (_, h) in runs.items()}, "Training loss (log scale)",
                        ylabel="binary cross-entropy", log=True)
        for ax, act in ((ax2, "sigmoid"), (ax3, "tanh")):
            r = rows[act]
            _boundary(ax, runs[act][0], data, f"{act}: train {r['train_accuracy']:.2f}, test {r['test_accuracy']:.2f}")
    sig, tan = rows["sigmoid"], rows["tanh"]
    when = {a: "never" if first[a] is None else f"at epoch {first[a]}" for a in first}
    faster = "tanh" if (first["tanh"] or np.inf) < (first["sigmoid"] or np.inf) else "sigmoid"
    ctx.observe(
        f"With tanh in the hidden layer the loss first falls below 0.1 {when['tanh']}, with sigmoid "
        f"{when['sigmoid']}; final loss {tan['final_loss']:.3g} vs {sig['final_loss']:.3g}, test accuracy "
        f"{tan['test_accuracy']:.3f} vs {sig['test_accuracy']:.3f}. "
        + ("tanh gets there first: it is zero-centred and its slope at 0 is 1 instead of sigmoid's 0.25, so the same steps "
           "move the hidden layer further. " if faster == "tanh" else "Here sigmoid got there first. ")
        + "Both draw the same kind of boundary once trained: the choice changes the speed more than the result."
    )


def _report_l2(ctx, rows, nets, data):
    ctx.setup(
        f"L2 regularization: the 2-{L2_HIDDEN}-1 network with `Network(l2=λ)`, the loss "
        f"L + λ/(2m)·(‖W1‖² + ‖W2‖²), λ = {', '.join(f'{lam:g}' for lam in LAMBDAS)}."
    )
    ctx.table(f"L2 regularization of the 2-{L2_HIDDEN}-1 network", ["λ", "‖W‖ after training", "train accuracy", "test accuracy"],
              [[f"{lam:g}", r["weight_norm"], r["train_accuracy"], r["test_accuracy"]] for lam, r in rows.items()])
    with ctx.figure("l2.png", f"Decision boundaries of the 2-{L2_HIDDEN}-1 network for growing λ",
                    size=(3.6 * len(LAMBDAS), 3.8)) as fig:
        for ax, lam in zip(fig.subplots(1, len(LAMBDAS)), LAMBDAS):
            r = rows[lam]
            _boundary(ax, nets[lam], data, f"λ = {lam:g}: ‖W‖ = {r['weight_norm']:.1f}, test {r['test_accuracy']:.2f}")
    norms = ", ".join(f"{rows[lam]['weight_norm']:.1f}" for lam in LAMBDAS)
    ctx.observe(
        f"L2 shrinks the weights — ‖W‖ = {norms} for λ = {', '.join(f'{lam:g}' for lam in LAMBDAS)} — and with them the "
        "boundary's curvature: small λ smooths it, and at the largest λ the sigmoid units are held in their nearly linear "
        f"middle and the boundary is almost straight again (train accuracy {rows[LAMBDAS[-1]]['train_accuracy']:.3f})."
    )


def _report_batch_sizes(ctx, s, rows, curves, n_train):
    ctx.setup(
        f"Batch size: the 2-4-1 sigmoid network from the same Glorot weights, plain gradient descent with "
        f"η = {GD_LR:g} for {s['batch_epochs']} epochs on all {n_train} rows at once, in shuffled mini-batches of 16, "
        "and one row at a time. The curve is the loss on all training rows after each epoch; its noise is the standard "
        "deviation of the epoch-to-epoch change over the second half of the epochs."
    )
    ctx.table("Full batch vs mini-batch vs stochastic gradient descent",
              ["", "updates per epoch", "final loss", "noise (std of Δloss)", "epochs with a rise"],
              [[k, r["updates_per_epoch"], r["final_loss"], r["noise"], f"{r['rises']:.0%}"] for k, r in rows.items()])
    with ctx.figure("batch_sizes.png", "Training loss after each epoch: full batch, mini-batches of 16, one row at a time") as fig:
        plotting.curves(fig.subplots(), {f"{k} ({r['updates_per_epoch']} updates/epoch)": curves[k] for k, r in rows.items()},
                        f"Gradient descent, η = {GD_LR:g}", ylabel="binary cross-entropy (all training rows)", log=True)
    full, sgd = rows["full batch"], rows["stochastic (1)"]
    ratio = sgd["noise"] / full["noise"] if full["noise"] > 0 else float("inf")
    ctx.observe(
        f"One row at a time the loss falls furthest per epoch ({sgd['updates_per_epoch']} updates against 1; final loss "
        f"{sgd['final_loss']:.3g} vs {full['final_loss']:.3g}) but it is much noisier: the epoch-to-epoch change has a "
        f"standard deviation {ratio:.0f} times the full batch's and the loss rose after {sgd['rises']:.0%} of the epochs "
        f"(full batch: {full['rises']:.0%}) — each step follows one point's gradient, not the average. Mini-batches sit in "
        "between."
    )
