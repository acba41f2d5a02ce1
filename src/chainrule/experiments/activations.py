"""A custom activation: f(x) = x·tanh x.

(a) f′(x) = tanh x + x·(1 − tanh² x), (b) backpropagation through a layer using it — defined here
as a user would, ``chainrule.Activation("x·tanh x", f, df)`` (the engine checks df against finite
differences on first use), next to the library's built-in ``xtanh``; (c) its properties: f ≥ 0,
even (so not monotonic), f(x) ≈ x² near 0 with f′(0) = 0, f(x) ≈ |x| for large |x| with
f′ → ±1; (d) against ReLU, tanh and sigmoid on one task: the moons experiment's data (make_moons,
200 points, noise 0.2, 70/30 split) and 2-4-1 network, sigmoid output, binary cross-entropy and
full-batch gradient descent, η = 0.1 for 10,000 epochs, over several seeds.
"""

import numpy as np

from .. import datasets, plotting
from ..activations import Activation, get_activation
from ..optimizers import SGD
from . import moons
from .common import accuracy, first_epoch_below
from .context import Results

TITLE = "A custom activation, x·tanh x, against ReLU, tanh and sigmoid"

FULL = {"lr": 0.1, "epochs": 10_000, "seeds": 5}
QUICK = {"lr": 0.5, "epochs": 1_000, "seeds": 2}
HIDDEN = 4  # the moons experiment's 2-4-1 network
DATA_SEED = moons.DATA_SEED  # the split is drawn with the data's random_state too
COMPARED = ("relu", "tanh", "sigmoid")
USER = "x·tanh x (user-defined)"
SMALL_INIT_LOSS = 0.6  # the small-initialization runs: epochs until the loss is below this
CURVE_POINTS = 500


def x_tanh_x():
    """x·tanh x as a user defines it: f and its derivative f′ = tanh x + x(1 − tanh² x)."""

    def f(z):
        return z * np.tanh(z)

    def df(z):
        t = np.tanh(z)
        return t + z * (1 - t * t)

    return Activation(USER, f, df)


def network(activation, seed, init=None):
    """The moons experiment's 2-4-1 network with ``activation`` in the hidden layer."""
    return moons.network(HIDDEN, activation, seed, init=init)


# ---- compute ------------------------------------------------------------------------------------


def compute(ctx):
    s = ctx.pick(FULL, QUICK)
    X, y = moons.points(ctx.seed)
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_size=0.3, seed=DATA_SEED + ctx.seed)
    seeds = list(range(ctx.seed, ctx.seed + s["seeds"]))
    final, test_acc, curves, nets = _over_seeds(ctx, s, seeds, (X_train, y_train, X_test, y_test))
    builtin = ctx.fit(network("xtanh", ctx.seed), X_train, y_train, f"xtanh (built-in) seed {ctx.seed}",
                      optimizer=SGD(lr=s["lr"]), epochs=s["epochs"]).loss
    step = max(1, s["epochs"] // CURVE_POINTS)
    numbers = {
        "seeds": seeds,
        "final_loss": final,
        "test_accuracy": test_acc,
        "mean_final_loss": {k: float(np.mean(v)) for k, v in final.items()},
        "mean_test_accuracy": {k: float(np.mean(v)) for k, v in test_acc.items()},
        "initial_loss": {k: c[0] for k, c in curves.items()},
        "user_vs_builtin_max_loss_difference": float(np.max(np.abs(np.array(curves[USER]) - np.array(builtin)))),
        "loss_curves": {"epoch": list(range(1, s["epochs"] + 1, step)), **{k: c[::step] for k, c in curves.items()}},
    }
    numbers["small_init"], small_curves = _small_initialization(ctx, s, X_train, y_train)
    runs = {"curves": curves, "small_init_curves": small_curves, "nets": nets,
            "data": (X_train, y_train, X_test, y_test)}
    return Results(numbers, runs)


def _kinds():
    """{name: a function that makes the hidden activation}: the user's x·tanh x and the compared built-ins."""
    return {USER: x_tanh_x, **{name: (lambda name=name: name) for name in COMPARED}}


def _over_seeds(ctx, s, seeds, data):
    """Every hidden activation from every seed: {kind: final losses}, {kind: held-out accuracies}, and
    the loss curve and trained network of seed ``ctx.seed``, {kind: curve}, {kind: net}."""
    X_train, y_train, X_test, y_test = data
    final, test_acc, curves, nets = {}, {}, {}, {}
    for kind, make in _kinds().items():
        final[kind], test_acc[kind] = [], []
        for seed in seeds:
            net = network(make(), seed)
            h = ctx.fit(net, X_train, y_train, f"{kind} seed {seed}", optimizer=SGD(lr=s["lr"]), epochs=s["epochs"])
            final[kind].append(h.loss[-1])
            test_acc[kind].append(accuracy(net, X_test, y_test))
            if seed == ctx.seed:
                curves[kind], nets[kind] = h.loss, net
    return final, test_acc, curves, nets


def _small_initialization(ctx, s, X, y):
    """The small start W = 0.01·N(0, 1): how long each activation takes to leave it. Returns the
    numbers and {kind: loss curve}."""
    curves, reach = {}, {}
    for kind, act in ((USER, x_tanh_x()), ("relu", "relu"), ("tanh", "tanh"), ("sigmoid", "sigmoid")):
        h = ctx.fit(network(act, ctx.seed, init="small_normal"), X, y, f"{kind}, weights 0.01·N(0, 1)",
                    optimizer=SGD(lr=s["lr"]), epochs=s["epochs"])
        curves[kind] = h.loss
        reach[kind] = first_epoch_below(h.loss, SMALL_INIT_LOSS)
    return {"epochs_to_threshold": reach, "threshold": SMALL_INIT_LOSS,
            "final_loss": {k: c[-1] for k, c in curves.items()}}, curves


# ---- report -------------------------------------------------------------------------------------


def report(ctx, results):
    r, runs, s = results.numbers, results.runs, ctx.pick(FULL, QUICK)
    seeds, final, test_acc = r["seeds"], r["final_loss"], r["test_accuracy"]
    ctx.setup(
        f"The moons: 200 points, noise 0.2, 140 to train and 60 held out (data seed {DATA_SEED + ctx.seed}). "
        f"Network 2-{HIDDEN}-1: the hidden activation varies, sigmoid output, binary cross-entropy, Glorot-uniform "
        f"weights (He normal for ReLU), full-batch gradient descent with η = {s['lr']:g} for {s['epochs']} epochs, "
        f"from {len(seeds)} seeds ({seeds[0]}–{seeds[-1]}) each. x·tanh x runs twice: defined by the user with "
        "`chainrule.Activation(name, f, df)` and as the built-in `xtanh`."
    )
    ctx.table(f"Over {len(seeds)} seeds", ["hidden activation", "final training loss (mean)", "min", "max",
                                           "held-out accuracy (mean)"],
              [[k, np.mean(final[k]), min(final[k]), max(final[k]), np.mean(test_acc[k])] for k in final])
    reach = r["small_init"]["epochs_to_threshold"]
    ctx.setup(
        f"Then the same network from small initial weights W = 0.01·N(0, 1) (seed {ctx.seed}): the epochs "
        f"until the training loss first falls below {SMALL_INIT_LOSS}."
    )
    ctx.table(f"From weights 0.01·N(0, 1): epochs until the loss < {SMALL_INIT_LOSS}", ["hidden activation", "epochs"],
              [[k, "never" if v is None else v] for k, v in reach.items()])
    _figures(ctx, s, r, runs)
    _observe(ctx, s, r, runs["curves"][USER])


def _figures(ctx, s, r, runs):
    with ctx.figure("activation_and_derivative.png", "x·tanh x, ReLU, tanh and sigmoid, and their derivatives as the "
                    "engine computes them (dots: finite differences of the user's f)", size=(11, 4.2)) as fig:
        _draw_functions(fig, x_tanh_x())
    with ctx.figure("loss_curves.png", f"Training loss of each hidden activation, seed {ctx.seed} (log scale); right: "
                    "from small initial weights 0.01·N(0, 1)", size=(11, 4.2)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        plotting.curves(ax1, runs["curves"],
                        f"Glorot/He weights, η = {s['lr']:g}", ylabel="binary cross-entropy", log=True)
        plotting.curves(ax2, runs["small_init_curves"], f"Weights 0.01·N(0, 1), η = {s['lr']:g}",
                        ylabel="binary cross-entropy", log=True)
    X_train, y_train, X_test, y_test = runs["data"]
    with ctx.figure("decision_boundaries.png", f"Decision boundaries after training, seed {ctx.seed} (crosses: "
                    "held-out points)", size=(11, 9)) as fig:
        for ax, (kind, net) in zip(fig.subplots(2, 2, gridspec_kw={"hspace": 0.3}).ravel(), runs["nets"].items()):
            plotting.decision_boundary(ax, net, X_train, y_train, f"{kind}: held-out accuracy "
                                       f"{r['test_accuracy'][kind][r['seeds'].index(ctx.seed)]:.2f}", resolution=120,
                                       X_test=X_test, y_test=y_test)


def _observe(ctx, s, r, user_curve):
    m, acc, seeds = r["mean_final_loss"], r["mean_test_accuracy"], r["seeds"]
    ctx.observe(
        f"x·tanh x trains: its loss falls from {user_curve[0]:.3f} to {user_curve[-1]:.3f} (seed {ctx.seed}); over "
        f"{len(seeds)} seeds its mean final loss is {m[USER]:.3f} against ReLU {m['relu']:.3f}, tanh {m['tanh']:.3f} and "
        f"sigmoid {m['sigmoid']:.3f}, held-out accuracy {acc[USER]:.2f} against "
        f"{acc['relu']:.2f}, {acc['tanh']:.2f}, {acc['sigmoid']:.2f}. "
        "With only four hidden units the result depends on the seed (min and max in the table)."
    )
    ctx.observe(
        f"The user's `Activation` and the built-in `xtanh` train identically from seed {ctx.seed} (largest difference "
        f"of the two loss curves: {r['user_vs_builtin_max_loss_difference']:.1e}): the engine uses the user's df exactly "
        "where it uses its own derivative."
    )
    reach = r["small_init"]["epochs_to_threshold"]
    ctx.observe(
        "Its derivative is the catch: f′(0) = 0 and f(z) ≈ z² near 0, so from tiny initial weights "
        "every unit sits at a flat point and the gradient through the hidden layer is tiny: the loss stays near ln 2 = "
        f"0.693 for {_epochs_text(reach[USER], s['epochs'])} before falling below {SMALL_INIT_LOSS}, while tanh takes "
        f"{_epochs_text(reach['tanh'], s['epochs'])}. Away from 0 it behaves like a smooth |z| (f′ → ±1, bounded by "
        "about 1.2), so it neither saturates like sigmoid and tanh nor has ReLU's dead zone — but, being even, it "
        "maps z and −z to the same output."
    )


def _epochs_text(epochs, total):
    return f"all {total} epochs" if epochs is None else f"{epochs} epochs"


def _draw_functions(fig, user):
    """f and f′ of each activation, from the engine's forward and backward (δ = 1 ⊙ f′(z))."""
    z = np.linspace(-4, 4, 401)
    ax1, ax2 = fig.subplots(1, 2)
    for act in (user, *(get_activation(name) for name in COMPARED)):
        a = act.forward(z.copy())
        ax1.plot(z, a, label=act.name)
        ax2.plot(z, act.backward(np.ones_like(z), z, a), label=act.name)
    h, zs = 1e-5, np.linspace(-4, 4, 17)
    ax2.plot(zs, (user.forward(zs + h) - user.forward(zs - h)) / (2 * h), "k.", label=f"{user.name}: finite differences")
    ax1.set(title="a = f(z)", xlabel="z", ylabel="f(z)", ylim=(-1.5, 4))
    ax2.set(title="f′(z)", xlabel="z", ylabel="f′(z)")
    for ax, corner in ((ax1, "lower right"), (ax2, "upper left")):
        ax.axhline(0, color="k", linewidth=0.5)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc=corner)
