"""The vanishing gradient problem: in a deep network each layer multiplies the error signal by
f′(z) and by its weights on the way back, δ(l) = (δ(l+1) W(l+1)ᵀ) ⊙ f′(z(l)); with σ′ ≤ 0.25 the
product shrinks geometrically (a 5-layer sigmoid network with gradient 1.0 at the output keeps at
most 0.25⁴ ≈ 0.004 of it at the input, weights aside).

Measured on the engine: per-layer gradient norms ‖∂L/∂W(l)‖ of 5- and 10-layer networks
(sigmoid, tanh, ReLU hidden layers; sigmoid output; binary cross-entropy on the moons) at
initialization and, from ``History.grad_norms``, during training; Xavier (Glorot) against He
initialization for a 20-layer ReLU network; and the usual remedy for exploding gradients,
clipping (``SGD(clip_norm=…)``), on a deep ReLU regression with a step too large to survive.
Then the other textbook remedies (``gradient_remedies``): batch normalization
and residual connections on 20-layer sigmoid and tanh networks, and the exploding case with
clipping, careful initialization and a learning-rate schedule side by side.
"""

import numpy as np

from .. import datasets, plotting
from ..layers import Dense
from ..network import Network
from ..optimizers import SGD
from . import gradient_remedies
from .context import Results

TITLE = ("Vanishing and exploding gradients: sigmoid vs tanh vs ReLU, Xavier vs He, gradient clipping, batch "
         "normalization and residual connections")

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


def network(activation, depth, seed, init=None, n_in=2, output=("sigmoid", "bce"), width=WIDTH, lr_scales=None):
    """``depth`` Dense layers: n_in → width → … → width → 1, ``activation`` in the hidden layers (with
    ``init``, default the library's: He for ReLU, Glorot otherwise) and a Glorot ``output`` layer.
    ``lr_scales``, one a layer, multiply each layer's learning rate (default 1)."""
    sizes = [n_in] + [width] * (depth - 1)
    scales = [1.0] * depth if lr_scales is None else lr_scales
    hidden = [Dense(a, b, activation, init=init, lr_scale=r) for a, b, r in zip(sizes, sizes[1:], scales)]
    out_act, loss = output
    last = Dense(width, 1, out_act, init="glorot_uniform", lr_scale=scales[-1])
    return Network(hidden + [last], loss=loss, seed=seed)


def at_init(net, X, y):
    """One backward pass on the whole data: per layer ‖∂L/∂W(l)‖, ‖δ(l)‖ and the std of a(l)."""
    net.backward(X, y)
    return {
        "grad_W": [float(np.linalg.norm(layer.dW)) for layer in net.layers],
        "delta": [float(np.linalg.norm(layer.delta)) for layer in net.layers],
        "activation_std": [float(layer.A.std()) for layer in net.layers],
    }


def first_to_last(grad_W):
    """‖∂L/∂W(1)‖ / ‖∂L/∂W(L)‖: how much of the last layer's gradient reaches the first."""
    return grad_W[0] / grad_W[-1]


# ---- compute ------------------------------------------------------------------------------------


def compute(ctx):
    s = ctx.pick(FULL, QUICK)
    X, y = datasets.moons(s["n"], noise=0.2, seed=ctx.seed)
    X, _, _ = datasets.standardize(X)
    numbers, runs = _by_depth(ctx, s, X, y)
    numbers["initialization"], runs["initialization"] = _initializations(ctx, s, X, y)
    numbers["clipping"], runs["clipping"] = _clipping(ctx, s)
    remedies = ctx.pick(gradient_remedies.FULL, gradient_remedies.QUICK)
    numbers["remedies"], runs["remedies"] = gradient_remedies.compute_remedies(ctx, remedies)
    numbers["exploding_remedies"], runs["exploding_remedies"] = gradient_remedies.compute_exploding(ctx, remedies)
    return Results(numbers, runs)


def _by_depth(ctx, s, X, y):
    """Every activation at every depth: the gradient norms at initialization, then trained by gradient
    descent. Returns the numbers and {"histories": {depth: {activation: History}}}."""
    init_norms, ratios, histories = {}, {}, {}
    for depth in DEPTHS:
        init_norms[depth], ratios[depth], histories[depth] = {}, {}, {}
        for act in ACTIVATIONS:
            net = network(act, depth, ctx.seed)
            init_norms[depth][act] = at_init(net, X, y)["grad_W"]
            ratios[depth][act] = first_to_last(init_norms[depth][act])
            histories[depth][act] = ctx.fit(net, X, y, f"{act} {depth} layers", optimizer=SGD(lr=LR),
                                            epochs=s["epochs"])
    deep = max(DEPTHS)
    numbers = {
        "depths": list(DEPTHS),
        "grad_norm_ratio_first_to_last": ratios[deep],
        "grad_norm_ratio_first_to_last_by_depth": ratios,
        "grad_norm_ratio_first_to_last_trained": {a: first_to_last(h.grad_norms[-1]) for a, h in histories[deep].items()},
        "sigmoid_bound_ratio": {depth: SIGMOID_BOUND ** (depth - 1) for depth in DEPTHS},
        "grad_norms_at_init": init_norms,
        "final_loss": {d: {a: h.loss[-1] for a, h in histories[d].items()} for d in DEPTHS},
        "final_accuracy": {d: {a: h.accuracy[-1] for a, h in histories[d].items()} for d in DEPTHS},
        "grad_norms_training": {a: h.grad_norms for a, h in histories[deep].items()},
    }
    return numbers, {"histories": histories}


def _initializations(ctx, s, X, y):
    """Xavier vs He for a deep ReLU network: forward activations, backward deltas, training.
    Returns the numbers and {initialization: History}."""
    depth = INIT["depth"]
    nets = {label: network("relu", depth, ctx.seed, init=init) for label, init in INITS.items()}
    stats = {label: at_init(net, X, y) for label, net in nets.items()}
    runs = {label: ctx.fit(net, X, y, f"relu {depth} layers, {label}", optimizer=SGD(lr=INIT["lr"]),
                           epochs=s["init_epochs"]) for label, net in nets.items()}
    ratio_by_init = {label: {act: first_to_last(at_init(network(act, max(DEPTHS), ctx.seed, init=init), X, y)["grad_W"])
                             for act in ACTIVATIONS} for label, init in INITS.items()}
    numbers = {
        "depth": depth, "activation": "relu",
        "activation_std": {k: v["activation_std"] for k, v in stats.items()},
        "delta_norms": {k: v["delta"] for k, v in stats.items()},
        "grad_norms": {k: v["grad_W"] for k, v in stats.items()},
        "final_loss": {k: h.loss[-1] for k, h in runs.items()},
        "final_accuracy": {k: h.accuracy[-1] for k, h in runs.items()},
        f"grad_norm_ratio_first_to_last_{max(DEPTHS)}_layers": ratio_by_init,
    }
    return numbers, runs


def _clipping(ctx, s):
    """Exploding updates: a deep ReLU regression with a too-large step, with and without clipping.
    Returns the numbers and {label: History}."""
    c = CLIP
    X, y = datasets.sine(c["n"])
    start = network("relu", c["depth"], ctx.seed, n_in=1, output=("linear", "mse"))
    runs = {}
    for label, clip in (("no clipping", None), (f"clip_norm = {c['clip_norm']:g}", c["clip_norm"])):
        runs[label] = ctx.fit(start.copy(), X, y, f"clipping: {label}", optimizer=SGD(lr=c["lr"], clip_norm=clip),
                              epochs=s["clip_epochs"])
    numbers = {
        "depth": c["depth"], "lr": c["lr"], "clip_norm": c["clip_norm"], "epochs": s["clip_epochs"],
        "diverged": {k: h.stop_reason is not None for k, h in runs.items()},
        "epochs_run": {k: h.epochs for k, h in runs.items()},
        "initial_loss": {k: h.loss[0] for k, h in runs.items()},
        "final_loss": {k: h.loss[-1] for k, h in runs.items()},
        "max_layer_grad_norm": {k: [max(n) for n in h.grad_norms] for k, h in runs.items()},
    }
    return numbers, runs


# ---- report -------------------------------------------------------------------------------------


def report(ctx, results):
    r, s = results.numbers, ctx.pick(FULL, QUICK)
    ctx.setup(
        f"{s['n']} moons (noise 0.2, standardized). Networks of {' and '.join(map(str, DEPTHS))} Dense layers: "
        f"2 → {WIDTH} → … → {WIDTH} → 1, the hidden layers sigmoid, tanh or ReLU with the library's default "
        "initialization (Glorot uniform for sigmoid and tanh, He normal for ReLU), a sigmoid output and binary "
        f"cross-entropy, seed {ctx.seed}. The gradient norms ‖∂L/∂W(l)‖ are measured by one backward pass over all "
        f"rows at initialization, then every epoch of full-batch gradient descent (η = {LR:g}, {s['epochs']} "
        "epochs) from `History.grad_norms`."
    )
    ratios = r["grad_norm_ratio_first_to_last_by_depth"]
    ctx.table(
        "‖∂L/∂W(1)‖ / ‖∂L/∂W(L)‖ at initialization, against the sigmoid-derivative bound 0.25^(L−1)",
        ["layers L", *ACTIVATIONS, "0.25^(L−1)"],
        [[d, *(ratios[d][a] for a in ACTIVATIONS), SIGMOID_BOUND ** (d - 1)] for d in DEPTHS],
    )
    ctx.table(
        f"After {s['epochs']} epochs: final training loss and accuracy",
        ["layers L", *(f"{a} loss" for a in ACTIVATIONS), *(f"{a} accuracy" for a in ACTIVATIONS)],
        [[d, *(r["final_loss"][d][a] for a in ACTIVATIONS), *(r["final_accuracy"][d][a] for a in ACTIVATIONS)]
         for d in DEPTHS],
    )
    _draw_by_depth(ctx, r["grad_norms_at_init"], results.runs["histories"])
    _observe_by_depth(ctx, s, ratios, results.runs["histories"][max(DEPTHS)])
    _report_initializations(ctx, s, r["initialization"], results.runs["initialization"])
    _report_clipping(ctx, s, r["clipping"], results.runs["clipping"])
    gradient_remedies.report_remedies(ctx, r["remedies"])
    gradient_remedies.report_exploding(ctx, r["exploding_remedies"], results.runs["exploding_remedies"])


def _draw_by_depth(ctx, grad_norms_at_init, histories):
    deep = max(DEPTHS)
    with ctx.figure("grad_norms_at_init.png", "Per-layer gradient norms at initialization (log scale), with the "
                    "0.25-per-layer sigmoid bound drawn from the sigmoid network's last layer", size=(11, 4.2)) as fig:
        for ax, depth in zip(fig.subplots(1, len(DEPTHS)), DEPTHS):
            _draw_at_init(ax, depth, grad_norms_at_init[depth])
    with ctx.figure("grad_norms_training.png", f"Per-layer gradient norms during training of the {deep}-layer "
                    "networks, and the training loss of every network (log scales)", size=(11, 8)) as fig:
        axes = fig.subplots(2, 2, gridspec_kw={"hspace": 0.35}).ravel()
        for ax, act in zip(axes, ACTIVATIONS):
            plotting.plot_gradient_norms(histories[deep][act], ax=ax, title=f"{act}, {deep} layers")
        plotting.curves(axes[-1], {f"{a}, {d} layers": h.loss for d in DEPTHS for a, h in histories[d].items()},
                        f"Training loss, η = {LR:g}", ylabel="binary cross-entropy", log=True)


def _observe_by_depth(ctx, s, ratios, h):
    """``h``: the deepest networks' Histories, by activation."""
    deep, shallow = max(DEPTHS), min(DEPTHS)
    sig, relu = ratios[deep]["sigmoid"], ratios[deep]["relu"]
    ctx.observe(
        f"At initialization the sigmoid networks' first layer gets {ratios[shallow]['sigmoid']:.1e} of the last "
        f"layer's gradient with {shallow} layers and {sig:.1e} with {deep}: the same order as the bound 0.25^(L−1) = "
        f"{SIGMOID_BOUND ** (shallow - 1):.1e} and {SIGMOID_BOUND ** (deep - 1):.1e}: each layer multiplies δ by "
        "σ′ ≤ 0.25 (close to 0.25 here, z starts near 0) and by its weights (Glorot: a gain of about 1), so the bound on "
        "σ′ alone is not a strict bound on these ratios, but it sets their scale. "
        f"tanh (tanh′(0) = 1) keeps {ratios[deep]['tanh']:.2g} and ReLU (derivative 1 where active) {relu:.2g}."
    )
    ctx.observe(
        f"Trained for {s['epochs']} epochs with η = {LR:g}, the {deep}-layer sigmoid network's loss goes from "
        f"{h['sigmoid'].loss[0]:.3f} to {h['sigmoid'].loss[-1]:.3f}: it only learns to output about 0.5 everywhere "
        f"(ln 2 = 0.693; its accuracy {h['sigmoid'].accuracy[-1]:.2f} is which side of 0.5 a tiny output falls on) while "
        f"its early layers barely move; tanh reaches {h['tanh'].loss[-1]:.3f} and ReLU {h['relu'].loss[-1]:.3f}."
    )


def _report_initializations(ctx, s, r, runs):
    depth, lr = r["depth"], INIT["lr"]
    ctx.setup(
        f"Initialization: a {depth}-layer ReLU network (same data, same sizes) with Xavier (Glorot uniform, "
        f"Var W = 2/(n_in + n_out)) or He (normal, Var W = 2/n_in) weights: the std of every layer's activations "
        f"and ‖δ(l)‖ at initialization, then {s['init_epochs']} epochs of gradient descent with η = {lr:g}."
    )
    std, delta = r["activation_std"], r["delta_norms"]
    ctx.table(f"{depth}-layer ReLU network, Xavier vs He", ["initialization", "std of a(1)", f"std of a({depth - 1})",
              "‖δ(1)‖", f"‖δ({depth})‖", "final loss", "final accuracy"],
              [[k, std[k][0], std[k][-2], delta[k][0], delta[k][-1], runs[k].loss[-1], runs[k].accuracy[-1]]
               for k in INITS])
    ratio_by_init = r[f"grad_norm_ratio_first_to_last_{max(DEPTHS)}_layers"]
    ctx.table(f"‖∂L/∂W(1)‖ / ‖∂L/∂W(L)‖ at initialization, {max(DEPTHS)} layers, by initialization",
              ["initialization", *ACTIVATIONS], [[k, *(v[a] for a in ACTIVATIONS)] for k, v in ratio_by_init.items()])
    with ctx.figure("xavier_vs_he.png", f"Xavier vs He initialization of a {depth}-layer ReLU network: the spread of "
                    "the activations going forward, the error signal going back, and training",
                    size=(15, 4.2)) as fig:
        _draw_initializations(fig, depth, std, delta, runs)
    x, he = INITS  # the two labels
    ctx.observe(
        f"Xavier's variance 2/(n_in + n_out) = 1/{WIDTH} is half what ReLU needs (it zeroes half of z), so in the "
        f"{depth}-layer ReLU network the activations shrink by about 1/√2 a layer (std {std[x][0]:.2g} → "
        f"{std[x][-2]:.2g}) and so does δ on the way back ({delta[x][-1]:.2g} → {delta[x][0]:.2g}); "
        f"He's 2/n_in keeps both level (std {std[he][0]:.2g} → {std[he][-2]:.2g}, δ "
        f"{delta[he][-1]:.2g} → {delta[he][0]:.2g}). After {s['init_epochs']} epochs the loss is "
        + " and ".join(f"{runs[k].loss[-1]:.3f} with {k}" for k in INITS) + "."
    )


def _draw_initializations(fig, depth, std, delta, runs):
    ax1, ax2, ax3 = fig.subplots(1, 3)
    layers = np.arange(1, depth + 1)
    for label in INITS:
        ax1.plot(layers[:-1], std[label][:-1], "o-", label=label)
        ax2.plot(layers, delta[label], "o-", label=label)
    for ax, title, ylabel in ((ax1, "Forward, at initialization", "std of a(l)"),
                              (ax2, "Backward, at initialization", "‖δ(l)‖ = ‖∂L/∂z(l)‖")):
        ax.set(yscale="log", title=title, xlabel="layer l", ylabel=ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
    plotting.curves(ax3, {k: h.loss for k, h in runs.items()}, f"Training loss, η = {INIT['lr']:g}",
                    ylabel="binary cross-entropy", log=True)


def _report_clipping(ctx, s, r, runs):
    ctx.setup(
        f"Exploding: y = sin x at {CLIP['n']} points on [−π, π], a {r['depth']}-layer ReLU network (1 → {WIDTH} → … → "
        f"1, He weights, linear output, mean squared error), full-batch gradient descent with η = {r['lr']:g} for "
        f"{r['epochs']} epochs from the same initial weights, without and with clipping of the global gradient "
        f"norm at {r['clip_norm']:g} (`SGD(lr, clip_norm=…)`: if ‖g‖ > c, g ← g·c/‖g‖). A run whose loss becomes "
        "non-finite is stopped there."
    )
    ctx.table("Gradient clipping on the exploding setup", ["run", "epochs run", "first loss", "final loss", "diverged"],
              [[k, h.epochs, h.loss[0], h.loss[-1], "yes" if h.stop_reason else "no"] for k, h in runs.items()])
    with ctx.figure("clipping.png", f"A {r['depth']}-layer ReLU network with η = {r['lr']:g}: without clipping the "
                    "updates explode, with clipping it trains (log scales)", size=(11, 4.2)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        plotting.curves(ax1, {k + (f" (drawn up to {LOSS_CAP:.0e})" if h.stop_reason else ""):
                              np.minimum(h.loss, LOSS_CAP) for k, h in runs.items()},
                        "Training loss", ylabel="mean squared error", log=True)
        plotting.curves(ax2, {k: np.minimum(v, LOSS_CAP) for k, v in r["max_layer_grad_norm"].items()},
                        "Largest per-layer gradient norm (before clipping, drawn up to 1e6)", ylabel="max_l ‖∂L/∂W(l)‖",
                        log=True)
    plain, clipped = runs.values()
    outcome = (f"the loss explodes from {plain.loss[0]:.3g} to {plain.loss[-1]:.3g} and becomes non-finite at epoch "
               f"{plain.epochs + 1}" if plain.stop_reason else f"the loss ends at {plain.loss[-1]:.3g}")
    ctx.observe(
        f"Without clipping, η = {r['lr']:g} on the {r['depth']}-layer ReLU network: {outcome}. Clipping the gradient "
        f"norm at {r['clip_norm']:g} bounds every step by η·{r['clip_norm']:g}, and from the same weights the loss "
        f"falls from {clipped.loss[0]:.3g} to {clipped.loss[-1]:.3g} in {clipped.epochs} epochs."
    )


def _draw_at_init(ax, depth, grad_W):
    """``grad_W``: {activation: ‖∂L/∂W(l)‖ for every layer l}."""
    layers = np.arange(1, depth + 1)
    for act, v in grad_W.items():
        ax.plot(layers, v, "o-", label=act)
    last = grad_W["sigmoid"][-1]
    ax.plot(layers, last * SIGMOID_BOUND ** (depth - layers), "k--", label="sigmoid bound ‖g(L)‖·0.25^(L−l)")
    ax.set(yscale="log", title=f"{depth} layers, at initialization", xlabel="layer l", ylabel="‖∂L/∂W(l)‖")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
