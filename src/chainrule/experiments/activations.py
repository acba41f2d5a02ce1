"""Seed 003's Exercise 4, a custom activation: f(x) = x·tanh x.

(a) f′(x) = tanh x + x·(1 − tanh² x), (b) backpropagation through a layer using it — defined here
as a user would, ``chainrule.Activation("x·tanh x", f, df)`` (the engine checks df against finite
differences on first use), next to the library's built-in ``xtanh``; (c) its properties: f ≥ 0,
even (so not monotonic), f(x) ≈ x² near 0 with f′(0) = 0, f(x) ≈ |x| for large |x| with
f′ → ±1; (d) against ReLU, tanh and sigmoid on one task: the notebook's moons (make_moons,
200 points, noise 0.2, 70/30 split) with its 2-4-1 network, sigmoid output, binary
cross-entropy and full-batch gradient descent, η = 0.1 for 10,000 epochs, over several seeds.
"""

import numpy as np

from .. import datasets, plotting
from ..activations import Activation, get_activation
from ..layers import Dense
from ..network import Network
from ..optimizers import SGD

TITLE = "A custom activation, x·tanh x, against ReLU, tanh and sigmoid"

FULL = {"lr": 0.1, "epochs": 10_000, "seeds": 5}
QUICK = {"lr": 0.5, "epochs": 1_000, "seeds": 2}
HIDDEN = 4  # the notebook's 2-4-1 network
DATA_SEED = 42  # the notebook's make_moons(random_state=42) and train_test_split(random_state=42)
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
    """The notebook's 2-4-1 network with ``activation`` in the hidden layer."""
    return Network([Dense(2, HIDDEN, activation, init=init), Dense(HIDDEN, 1, "sigmoid", init=init)], loss="bce",
                   seed=seed)


def run(ctx):
    s = ctx.pick(FULL, QUICK)
    X, y = datasets.moons(200, noise=0.2, seed=DATA_SEED + ctx.seed)
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_size=0.3, seed=DATA_SEED + ctx.seed)
    seeds = list(range(ctx.seed, ctx.seed + s["seeds"]))
    ctx.setup(
        f"The notebook's moons: 200 points, noise 0.2, 140 to train and 60 held out (data seed {DATA_SEED + ctx.seed}). "
        f"Network 2-{HIDDEN}-1: the hidden activation varies, sigmoid output, binary cross-entropy, Glorot-uniform "
        f"weights (He normal for ReLU), full-batch gradient descent with η = {s['lr']:g} for {s['epochs']} epochs, "
        f"from {len(seeds)} seeds ({seeds[0]}–{seeds[-1]}) each. x·tanh x runs twice: defined by the user with "
        "`chainrule.Activation(name, f, df)` and as the built-in `xtanh`."
    )
    kinds = {USER: x_tanh_x, **{name: (lambda name=name: name) for name in COMPARED}}
    final, test_acc, curves, nets = {}, {}, {}, {}
    for kind, make in kinds.items():
        final[kind], test_acc[kind] = [], []
        for seed in seeds:
            net = network(make(), seed)
            h = ctx.fit(net, X_train, y_train, f"{kind} seed {seed}", optimizer=SGD(lr=s["lr"]), epochs=s["epochs"])
            final[kind].append(h.loss[-1])
            test_acc[kind].append(float(((net.predict(X_test)[:, 0] > 0.5) == (y_test == 1)).mean()))
            if seed == ctx.seed:
                curves[kind], nets[kind] = h.loss, net
    builtin = ctx.fit(network("xtanh", ctx.seed), X_train, y_train, f"xtanh (built-in) seed {ctx.seed}",
                      optimizer=SGD(lr=s["lr"]), epochs=s["epochs"]).loss
    same = float(np.max(np.abs(np.array(curves[USER]) - np.array(builtin))))
    step = max(1, s["epochs"] // CURVE_POINTS)
    ctx.results.update({
        "seeds": seeds,
        "final_loss": final,
        "test_accuracy": test_acc,
        "mean_final_loss": {k: float(np.mean(v)) for k, v in final.items()},
        "mean_test_accuracy": {k: float(np.mean(v)) for k, v in test_acc.items()},
        "initial_loss": {k: c[0] for k, c in curves.items()},
        "user_vs_builtin_max_loss_difference": same,
        "loss_curves": {"epoch": list(range(1, s["epochs"] + 1, step)), **{k: c[::step] for k, c in curves.items()}},
    })
    ctx.table(f"Over {len(seeds)} seeds", ["hidden activation", "final training loss (mean)", "min", "max",
                                           "held-out accuracy (mean)"],
              [[k, np.mean(final[k]), min(final[k]), max(final[k]), np.mean(test_acc[k])] for k in kinds])

    small = _small_initialization(ctx, s, X_train, y_train)
    with ctx.figure("activation_and_derivative.png", "x·tanh x, ReLU, tanh and sigmoid, and their derivatives as the "
                    "engine computes them (dots: finite differences of the user's f)", size=(11, 4.2)) as fig:
        _draw_functions(fig, x_tanh_x())
    with ctx.figure("loss_curves.png", f"Training loss of each hidden activation, seed {ctx.seed} (log scale); right: "
                    "from the notebook's small initial weights 0.01·N(0, 1)", size=(11, 4.2)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        plotting.curves(ax1, curves,
                        f"Glorot/He weights, η = {s['lr']:g}", ylabel="binary cross-entropy", log=True)
        plotting.curves(ax2, small["curves"], f"Weights 0.01·N(0, 1), η = {s['lr']:g}", ylabel="binary cross-entropy",
                        log=True)
    with ctx.figure("decision_boundaries.png", f"Decision boundaries after training, seed {ctx.seed} (crosses: "
                    "held-out points)", size=(11, 9)) as fig:
        for ax, kind in zip(fig.subplots(2, 2, gridspec_kw={"hspace": 0.3}).ravel(), kinds):
            plotting.decision_boundary(ax, nets[kind], X_train, y_train, f"{kind}: held-out accuracy "
                                       f"{test_acc[kind][seeds.index(ctx.seed)]:.2f}", resolution=120,
                                       X_test=X_test, y_test=y_test)

    m = ctx.results["mean_final_loss"]
    ctx.observe(
        f"x·tanh x trains: its loss falls from {curves[USER][0]:.3f} to {curves[USER][-1]:.3f} (seed {ctx.seed}); over "
        f"{len(seeds)} seeds its mean final loss is {m[USER]:.3f} against ReLU {m['relu']:.3f}, tanh {m['tanh']:.3f} and "
        f"sigmoid {m['sigmoid']:.3f}, held-out accuracy {np.mean(test_acc[USER]):.2f} against "
        f"{np.mean(test_acc['relu']):.2f}, {np.mean(test_acc['tanh']):.2f}, {np.mean(test_acc['sigmoid']):.2f}. "
        "With only four hidden units the result depends on the seed (min and max in the table)."
    )
    ctx.observe(
        f"The user's `Activation` and the built-in `xtanh` train identically from seed {ctx.seed} (largest difference "
        f"of the two loss curves: {same:.1e}): the engine uses the user's df exactly where it uses its own derivative."
    )
    reach = small["epochs_to_threshold"]
    ctx.observe(
        "Its derivative is the catch: f′(0) = 0 and f(z) ≈ z² near 0, so from the notebook's tiny initial weights "
        "every unit sits at a flat point and the gradient through the hidden layer is tiny: the loss stays near ln 2 = "
        f"0.693 for {_epochs_text(reach[USER], s['epochs'])} before falling below {SMALL_INIT_LOSS}, while tanh takes "
        f"{_epochs_text(reach['tanh'], s['epochs'])}. Away from 0 it behaves like a smooth |z| (f′ → ±1, bounded by "
        "about 1.2), so it neither saturates like sigmoid and tanh nor has ReLU's dead zone — but, being even, it "
        "maps z and −z to the same output."
    )


def _small_initialization(ctx, s, X, y):
    """The notebook's W = 0.01·N(0, 1): how long each activation takes to leave the start."""
    curves, reach = {}, {}
    for kind, act in ((USER, x_tanh_x()), ("relu", "relu"), ("tanh", "tanh"), ("sigmoid", "sigmoid")):
        h = ctx.fit(network(act, ctx.seed, init="small_normal"), X, y, f"{kind}, weights 0.01·N(0, 1)",
                    optimizer=SGD(lr=s["lr"]), epochs=s["epochs"])
        curves[kind] = h.loss
        below = np.flatnonzero(np.array(h.loss) < SMALL_INIT_LOSS)
        reach[kind] = int(below[0]) + 1 if below.size else None
    ctx.setup(
        f"Then the same network from the notebook's initial weights W = 0.01·N(0, 1) (seed {ctx.seed}): the epochs "
        f"until the training loss first falls below {SMALL_INIT_LOSS}."
    )
    ctx.table(f"From weights 0.01·N(0, 1): epochs until the loss < {SMALL_INIT_LOSS}", ["hidden activation", "epochs"],
              [[k, "never" if v is None else v] for k, v in reach.items()])
    ctx.results["small_init"] = {"epochs_to_threshold": reach, "threshold": SMALL_INIT_LOSS,
                                 "final_loss": {k: c[-1] for k, c in curves.items()}}
    return {"curves": curves, "epochs_to_threshold": reach}


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
