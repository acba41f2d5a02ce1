"""Seed 003's "Vanishing Gradient Problem": in a deep network each layer multiplies the error
signal by f′(z) and by its weights on the way back, δ(l) = (δ(l+1) W(l+1)ᵀ) ⊙ f′(z(l)); with
σ′ ≤ 0.25 the product shrinks geometrically (the notebook's Exercise 2: a 5-layer sigmoid
network, gradient 1.0 at the output — what is left at the input?).

Measured on the engine: per-layer gradient norms ‖∂L/∂W(l)‖ of 5- and 10-layer networks
(sigmoid, tanh, ReLU hidden layers; sigmoid output; binary cross-entropy on the moons) at
initialization and, from ``History.grad_norms``, during training; Xavier (Glorot) against He
initialization for a 20-layer ReLU network; and the notebook's remedy for exploding gradients,
clipping (``SGD(clip_norm=…)``), on a deep ReLU regression with a step too large to survive.
"""

import numpy as np

from .. import datasets, plotting
from ..layers import Dense
from ..network import Network
from ..optimizers import SGD

TITLE = "Vanishing and exploding gradients: sigmoid vs tanh vs ReLU, Xavier vs He, and gradient clipping"

ACTIVATIONS = ("sigmoid", "tanh", "relu")
DEPTHS = (5, 10)  # Dense layers, the sigmoid output included
WIDTH = 32
SIGMOID_BOUND = 0.25  # max σ′(z) = σ′(0)
FULL = {"n": 500, "epochs": 1000, "init_epochs": 300, "clip_epochs": 1000}
QUICK = {"n": 150, "epochs": 60, "init_epochs": 60, "clip_epochs": 100}
LR = 0.1  # full-batch gradient descent on the moons
INIT = {"depth": 20, "lr": 0.02}  # Xavier vs He: a deeper ReLU network, a smaller step
INITS = {"Xavier (Glorot uniform)": "glorot_uniform", "He (normal)": "he_normal"}
CLIP = {"depth": 10, "lr": 0.3, "clip_norm": 1.0, "n": 200}  # the exploding setup: deep ReLU, y = sin x
LOSS_CAP = 1e6  # a diverging loss curve is drawn up to here


def network(activation, depth, seed, init=None, n_in=2, output=("sigmoid", "bce")):
    """``depth`` Dense layers: n_in → 32 → … → 32 → 1, ``activation`` in the hidden layers (with
    ``init``, default the library's: He for ReLU, Glorot otherwise) and a Glorot ``output`` layer."""
    sizes = [n_in] + [WIDTH] * (depth - 1)
    hidden = [Dense(a, b, activation, init=init) for a, b in zip(sizes, sizes[1:])]
    out_act, loss = output
    return Network(hidden + [Dense(WIDTH, 1, out_act, init="glorot_uniform")], loss=loss, seed=seed)


def at_init(net, X, y):
    """One backward pass on the whole data: per layer ‖∂L/∂W(l)‖, ‖δ(l)‖ and the std of a(l)."""
    net.backward(X, y)
    return {
        "grad_W": [float(np.linalg.norm(layer.dW)) for layer in net.layers],
        "delta": [float(np.linalg.norm(layer.delta)) for layer in net.layers],
        "activation_std": [float(layer.A.std()) for layer in net.layers],
    }


def run(ctx):
    s = ctx.pick(FULL, QUICK)
    X, y = datasets.moons(s["n"], noise=0.2, seed=ctx.seed)
    X, _, _ = datasets.standardize(X)
    ctx.setup(
        f"{s['n']} moons (noise 0.2, standardized). Networks of {' and '.join(map(str, DEPTHS))} Dense layers: "
        f"2 → {WIDTH} → … → {WIDTH} → 1, the hidden layers sigmoid, tanh or ReLU with the library's default "
        "initialization (Glorot uniform for sigmoid and tanh, He normal for ReLU), a sigmoid output and binary "
        f"cross-entropy, seed {ctx.seed}. The gradient norms ‖∂L/∂W(l)‖ are measured by one backward pass over all "
        f"rows at initialization, then every epoch of full-batch gradient descent (η = {LR:g}, {s['epochs']} "
        "epochs) from `History.grad_norms`."
    )

    # ---- at initialization, and while training ------------------------------------------
    init_norms, ratios, histories = {}, {}, {}
    for depth in DEPTHS:
        init_norms[depth], ratios[depth], histories[depth] = {}, {}, {}
        for act in ACTIVATIONS:
            net = network(act, depth, ctx.seed)
            init_norms[depth][act] = at_init(net, X, y)
            g = init_norms[depth][act]["grad_W"]
            ratios[depth][act] = g[0] / g[-1]
            histories[depth][act] = ctx.fit(net, X, y, f"{act} {depth} layers", optimizer=SGD(lr=LR),
                                            epochs=s["epochs"])
    deep = max(DEPTHS)
    trained_ratio = {act: h.grad_norms[-1][0] / h.grad_norms[-1][-1] for act, h in histories[deep].items()}
    ctx.results.update({
        "depths": list(DEPTHS),
        "grad_norm_ratio_first_to_last": ratios[deep],
        "grad_norm_ratio_first_to_last_by_depth": ratios,
        "grad_norm_ratio_first_to_last_trained": trained_ratio,
        "sigmoid_bound_ratio": {depth: SIGMOID_BOUND ** (depth - 1) for depth in DEPTHS},
        "grad_norms_at_init": {d: {a: v["grad_W"] for a, v in init_norms[d].items()} for d in DEPTHS},
        "final_loss": {d: {a: h.loss[-1] for a, h in histories[d].items()} for d in DEPTHS},
        "final_accuracy": {d: {a: h.accuracy[-1] for a, h in histories[d].items()} for d in DEPTHS},
        "grad_norms_training": {a: h.grad_norms for a, h in histories[deep].items()},
    })
    ctx.table(
        "‖∂L/∂W(1)‖ / ‖∂L/∂W(L)‖ at initialization, against the sigmoid-derivative bound 0.25^(L−1)",
        ["layers L", *ACTIVATIONS, "0.25^(L−1)"],
        [[d, *(ratios[d][a] for a in ACTIVATIONS), SIGMOID_BOUND ** (d - 1)] for d in DEPTHS],
    )
    ctx.table(
        f"After {s['epochs']} epochs: final training loss and accuracy",
        ["layers L", *(f"{a} loss" for a in ACTIVATIONS), *(f"{a} accuracy" for a in ACTIVATIONS)],
        [[d, *(histories[d][a].loss[-1] for a in ACTIVATIONS), *(histories[d][a].accuracy[-1] for a in ACTIVATIONS)]
         for d in DEPTHS],
    )
    with ctx.figure("grad_norms_at_init.png", "Per-layer gradient norms at initialization (log scale), with the "
                    "0.25-per-layer sigmoid bound drawn from the sigmoid network's last layer", size=(11, 4.2)) as fig:
        for ax, depth in zip(fig.subplots(1, len(DEPTHS)), DEPTHS):
            _draw_at_init(ax, depth, init_norms[depth])
    with ctx.figure("grad_norms_training.png", f"Per-layer gradient norms during training of the {deep}-layer "
                    "networks, and the training loss of every network (log scales)", size=(11, 8)) as fig:
        axes = fig.subplots(2, 2, gridspec_kw={"hspace": 0.35}).ravel()
        for ax, act in zip(axes, ACTIVATIONS):
            plotting.plot_gradient_norms(histories[deep][act], ax=ax, title=f"{act}, {deep} layers")
        plotting.curves(axes[-1], {f"{a}, {d} layers": h.loss for d in DEPTHS for a, h in histories[d].items()},
                        f"Training loss, η = {LR:g}", ylabel="binary cross-entropy", log=True)

    sig, relu = ratios[deep]["sigmoid"], ratios[deep]["relu"]
    ctx.observe(
        f"At initialization the sigmoid networks' first layer gets {ratios[min(DEPTHS)]['sigmoid']:.1e} of the last "
        f"layer's gradient with {min(DEPTHS)} layers and {sig:.1e} with {deep}: the same order as the bound 0.25^(L−1) = "
        f"{SIGMOID_BOUND ** (min(DEPTHS) - 1):.1e} and {SIGMOID_BOUND ** (deep - 1):.1e}: each layer multiplies δ by "
        "σ′ ≤ 0.25 (close to 0.25 here, z starts near 0) and by its weights (Glorot: a gain of about 1), so the bound on "
        "σ′ alone is not a strict bound on these ratios, but it sets their scale. "
        f"tanh (tanh′(0) = 1) keeps {ratios[deep]['tanh']:.2g} and ReLU (derivative 1 where active) {relu:.2g}."
    )
    h = histories[deep]
    ctx.observe(
        f"Trained for {s['epochs']} epochs with η = {LR:g}, the {deep}-layer sigmoid network's loss goes from "
        f"{h['sigmoid'].loss[0]:.3f} to {h['sigmoid'].loss[-1]:.3f}: it only learns to output about 0.5 everywhere "
        f"(ln 2 = 0.693; its accuracy {h['sigmoid'].accuracy[-1]:.2f} is which side of 0.5 a tiny output falls on) while "
        f"its early layers barely move; tanh reaches {h['tanh'].loss[-1]:.3f} and ReLU {h['relu'].loss[-1]:.3f}."
    )

    _initializations(ctx, s, X, y)
    _clipping(ctx, s)


def _initializations(ctx, s, X, y):
    """Xavier vs He for a deep ReLU network: forward activations, backward deltas, training."""
    depth, lr = INIT["depth"], INIT["lr"]
    nets = {label: network("relu", depth, ctx.seed, init=init) for label, init in INITS.items()}
    stats = {label: at_init(net, X, y) for label, net in nets.items()}
    runs = {label: ctx.fit(net, X, y, f"relu {depth} layers, {label}", optimizer=SGD(lr=lr),
                           epochs=s["init_epochs"]) for label, net in nets.items()}
    ratio_by_init = {}
    for label, init in INITS.items():
        ratio_by_init[label] = {}
        for act in ACTIVATIONS:
            g = at_init(network(act, max(DEPTHS), ctx.seed, init=init), X, y)["grad_W"]
            ratio_by_init[label][act] = g[0] / g[-1]
    ctx.results["initialization"] = {
        "depth": depth, "activation": "relu",
        "activation_std": {k: v["activation_std"] for k, v in stats.items()},
        "delta_norms": {k: v["delta"] for k, v in stats.items()},
        "grad_norms": {k: v["grad_W"] for k, v in stats.items()},
        "final_loss": {k: h.loss[-1] for k, h in runs.items()},
        "final_accuracy": {k: h.accuracy[-1] for k, h in runs.items()},
        f"grad_norm_ratio_first_to_last_{max(DEPTHS)}_layers": ratio_by_init,
    }
    ctx.setup(
        f"Initialization: a {depth}-layer ReLU network (same data, same sizes) with Xavier (Glorot uniform, "
        f"Var W = 2/(n_in + n_out)) or He (normal, Var W = 2/n_in) weights: the std of every layer's activations "
        f"and ‖δ(l)‖ at initialization, then {s['init_epochs']} epochs of gradient descent with η = {lr:g}."
    )
    ctx.table(f"{depth}-layer ReLU network, Xavier vs He", ["initialization", "std of a(1)", f"std of a({depth - 1})",
              "‖δ(1)‖", f"‖δ({depth})‖", "final loss", "final accuracy"],
              [[k, v["activation_std"][0], v["activation_std"][-2], v["delta"][0], v["delta"][-1], runs[k].loss[-1],
                runs[k].accuracy[-1]] for k, v in stats.items()])
    ctx.table(f"‖∂L/∂W(1)‖ / ‖∂L/∂W(L)‖ at initialization, {max(DEPTHS)} layers, by initialization",
              ["initialization", *ACTIVATIONS], [[k, *(v[a] for a in ACTIVATIONS)] for k, v in ratio_by_init.items()])
    with ctx.figure("xavier_vs_he.png", f"Xavier vs He initialization of a {depth}-layer ReLU network: the spread of "
                    "the activations going forward, the error signal going back, and training",
                    size=(15, 4.2)) as fig:
        ax1, ax2, ax3 = fig.subplots(1, 3)
        layers = np.arange(1, depth + 1)
        for label, v in stats.items():
            ax1.plot(layers[:-1], v["activation_std"][:-1], "o-", label=label)
            ax2.plot(layers, v["delta"], "o-", label=label)
        for ax, title, ylabel in ((ax1, "Forward, at initialization", "std of a(l)"),
                                  (ax2, "Backward, at initialization", "‖δ(l)‖ = ‖∂L/∂z(l)‖")):
            ax.set(yscale="log", title=title, xlabel="layer l", ylabel=ylabel)
            ax.grid(alpha=0.3)
            ax.legend()
        plotting.curves(ax3, {k: h.loss for k, h in runs.items()}, f"Training loss, η = {lr:g}",
                        ylabel="binary cross-entropy", log=True)
    x, he = (stats[k] for k in INITS)
    ctx.observe(
        f"Xavier's variance 2/(n_in + n_out) = 1/{WIDTH} is half what ReLU needs (it zeroes half of z), so in the "
        f"{depth}-layer ReLU network the activations shrink by about 1/√2 a layer (std {x['activation_std'][0]:.2g} → "
        f"{x['activation_std'][-2]:.2g}) and so does δ on the way back ({x['delta'][-1]:.2g} → {x['delta'][0]:.2g}); "
        f"He's 2/n_in keeps both level (std {he['activation_std'][0]:.2g} → {he['activation_std'][-2]:.2g}, δ "
        f"{he['delta'][-1]:.2g} → {he['delta'][0]:.2g}). After {s['init_epochs']} epochs the loss is "
        + " and ".join(f"{runs[k].loss[-1]:.3f} with {k}" for k in INITS) + "."
    )


def _clipping(ctx, s):
    """Exploding updates: a deep ReLU regression with a too-large step, with and without clipping."""
    c = CLIP
    X, y = datasets.sine(c["n"])
    start = network("relu", c["depth"], ctx.seed, n_in=1, output=("linear", "mse"))
    runs = {}
    for label, clip in (("no clipping", None), (f"clip_norm = {c['clip_norm']:g}", c["clip_norm"])):
        runs[label] = ctx.fit(start.copy(), X, y, f"clipping: {label}", optimizer=SGD(lr=c["lr"], clip_norm=clip),
                              epochs=s["clip_epochs"])
    plain, clipped = runs.values()
    ctx.results["clipping"] = {
        "depth": c["depth"], "lr": c["lr"], "clip_norm": c["clip_norm"], "epochs": s["clip_epochs"],
        "diverged": {k: h.stop_reason is not None for k, h in runs.items()},
        "epochs_run": {k: h.epochs for k, h in runs.items()},
        "initial_loss": {k: h.loss[0] for k, h in runs.items()},
        "final_loss": {k: h.loss[-1] for k, h in runs.items()},
        "max_layer_grad_norm": {k: [max(n) for n in h.grad_norms] for k, h in runs.items()},
    }
    ctx.setup(
        f"Exploding: y = sin x at {c['n']} points on [−π, π], a {c['depth']}-layer ReLU network (1 → {WIDTH} → … → 1, "
        f"He weights, linear output, mean squared error), full-batch gradient descent with η = {c['lr']:g} for "
        f"{s['clip_epochs']} epochs from the same initial weights, without and with clipping of the global gradient "
        f"norm at {c['clip_norm']:g} (`SGD(lr, clip_norm=…)`: if ‖g‖ > c, g ← g·c/‖g‖). A run whose loss becomes "
        "non-finite is stopped there."
    )
    ctx.table("Gradient clipping on the exploding setup", ["run", "epochs run", "first loss", "final loss", "diverged"],
              [[k, h.epochs, h.loss[0], h.loss[-1], "yes" if h.stop_reason else "no"] for k, h in runs.items()])
    with ctx.figure("clipping.png", f"A {c['depth']}-layer ReLU network with η = {c['lr']:g}: without clipping the "
                    "updates explode, with clipping it trains (log scales)", size=(11, 4.2)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        plotting.curves(ax1, {k + (f" (drawn up to {LOSS_CAP:.0e})" if h.stop_reason else ""):
                              np.minimum(h.loss, LOSS_CAP) for k, h in runs.items()},
                        "Training loss", ylabel="mean squared error", log=True)
        plotting.curves(ax2, {k: np.minimum([max(n) for n in h.grad_norms], LOSS_CAP) for k, h in runs.items()},
                        "Largest per-layer gradient norm (before clipping, drawn up to 1e6)", ylabel="max_l ‖∂L/∂W(l)‖", log=True)
    outcome = (f"the loss explodes from {plain.loss[0]:.3g} to {plain.loss[-1]:.3g} and becomes non-finite at epoch "
               f"{plain.epochs + 1}" if plain.stop_reason else f"the loss ends at {plain.loss[-1]:.3g}")
    ctx.observe(
        f"Without clipping, η = {c['lr']:g} on the {c['depth']}-layer ReLU network: {outcome}. Clipping the gradient "
        f"norm at {c['clip_norm']:g} bounds every step by η·{c['clip_norm']:g}, and from the same weights the loss "
        f"falls from {clipped.loss[0]:.3g} to {clipped.loss[-1]:.3g} in {clipped.epochs} epochs."
    )


def _draw_at_init(ax, depth, norms):
    layers = np.arange(1, depth + 1)
    for act, v in norms.items():
        ax.plot(layers, v["grad_W"], "o-", label=act)
    last = norms["sigmoid"]["grad_W"][-1]
    ax.plot(layers, last * SIGMOID_BOUND ** (depth - layers), "k--", label="sigmoid bound ‖g(L)‖·0.25^(L−l)")
    ax.set(yscale="log", title=f"{depth} layers, at initialization", xlabel="layer l", ylabel="‖∂L/∂W(l)‖")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")

