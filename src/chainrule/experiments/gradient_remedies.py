"""The textbook remedies for vanishing and exploding gradients, measured (part of the
vanishing-gradients experiment).

Vanishing: 20-layer sigmoid and tanh networks on the same moons, plain, batch-normalized
(Dense → BatchNorm(f): z normalized per feature before f), residual (every hidden layer after the
first a block a + f(a W + b)), and both. What each does to the recurrence δ(l) = (δ(l+1) W(l+1)ᵀ) ⊙ f′(z(l)):

- batch normalization keeps every z at mean β and std γ (0 and 1 at first), where f′ is largest
  (σ′(0) = ¼, tanh′(0) = 1) instead of drifting into saturation, and its backward pass divides by
  σ: δ through a layer no longer shrinks with the scale of z;
- a residual block's input gradient is δ(out) + δ through F: the skip term carries δ back unchanged,
  so the product of factors below 1 is bypassed rather than repaired.

Exploding: a 10-layer ReLU regression whose step η is too large, side by side with the three
remedies: clipping the gradient norm, a smaller (Glorot) initialization, a warm-up schedule of η.
"""

import numpy as np

from .. import datasets, plotting
from ..callbacks import Callback
from ..layers import Dense, walk
from ..network import Network, mlp_layers
from ..optimizers import SGD
from ..schedules import LearningRateScheduler
from .common import accuracy

__all__ = ["compute_exploding", "compute_remedies", "report_exploding", "report_remedies"]

DEPTH = 20  # Dense layers, the sigmoid output included
WIDTH = 32
ACTIVATIONS = ("sigmoid", "tanh")
VARIANTS = {"plain": {}, "batch norm": {"batch_norm": True}, "residual": {"residual": True},
            "both": {"batch_norm": True, "residual": True}}
FULL = {"n": 500, "epochs": 60, "seeds": 4, "exploding_epochs": 300}
QUICK = {"n": 150, "epochs": 8, "seeds": 2, "exploding_epochs": 60}
LR, BATCH = 0.1, 32  # mini-batch SGD on the moons
EXPLODING = {"depth": 10, "lr": 0.1, "clip_norm": 1.0, "n": 200, "init": "glorot_uniform", "warmup": 50}


def dense_grad_norms(net):
    """‖∂L/∂W‖ of every Dense layer in the order of the forward pass (a block's inside it): the
    same 20 weight matrices in every variant, so that layer l means the same thing in each."""
    return [float(np.linalg.norm(layer.dW)) for layer in walk(net.layers) if layer.weight_matrix]


class DenseGradNorms(Callback):
    """``norms[e]``: the Dense layers' ‖∂L/∂W‖ on epoch e + 1's first batch."""

    def __init__(self):
        self.norms = []

    def on_gradients(self, trainer, batch):
        if batch == 0:
            self.norms.append(dense_grad_norms(trainer.net))


def remedied_network(activation, seed, batch_norm=False, residual=False):
    sizes = [2] + [WIDTH] * (DEPTH - 1) + [1]
    return Network(mlp_layers(sizes, activation, "sigmoid", batch_norm=batch_norm, residual=residual),
                   loss="bce", seed=seed)


def compute_remedies(ctx, s):
    """Every activation × variant: the Dense layers' gradient norms at initialization (one backward
    pass over the training rows, on a copy, so that the run starts from untouched running
    statistics), during training (first batch of each epoch), the loss curve and test accuracy."""
    X, y = datasets.moons(s["n"], noise=0.2, seed=ctx.seed)
    X_test, y_test = datasets.moons(s["n"], noise=0.2, seed=ctx.seed + 1)
    X, X_test, _ = datasets.standardize(X, X_test)
    numbers = {"depth": DEPTH, "width": WIDTH, "n": s["n"], "lr": LR, "batch_size": BATCH, "epochs": s["epochs"]}
    at_init, during, loss, test_accuracy, runs = {}, {}, {}, {}, {}
    for act in ACTIVATIONS:
        for variant, remedies in VARIANTS.items():
            key = f"{act}, {variant}"
            net = remedied_network(act, ctx.seed, **remedies)
            probe = net.copy()
            probe.backward(X, y)
            at_init[key] = dense_grad_norms(probe)
            recorder = DenseGradNorms()
            runs[key] = ctx.fit(net, X, y, key, optimizer=SGD(lr=LR), epochs=s["epochs"], batch_size=BATCH,
                                callbacks=[recorder])
            during[key], loss[key] = recorder.norms, runs[key].loss
            test_accuracy[key] = accuracy(net, X_test, y_test)
    numbers.update(grad_norms_at_init=at_init, grad_norms_training=during, loss=loss, test_accuracy=test_accuracy,
                   first_layer_gain_at_init=_gains({k: v[0] for k, v in at_init.items()}),
                   first_layer_gain_training=_gains({k: float(np.median([n[0] for n in v])) for k, v in during.items()}),
                   first_to_last_at_init={k: v[0] / v[-1] for k, v in at_init.items()})
    return numbers, runs


def _gains(first):
    """{key: the first layer's gradient norm over the plain network's of the same activation}."""
    return {key: value / first[f"{key.split(',')[0]}, plain"] for key, value in first.items()}


def compute_exploding(ctx, s):
    """The exploding setup from several seeds: no remedy, clipping, Glorot initialization, warm-up."""
    c = EXPLODING
    X, y = datasets.sine(c["n"])
    warmup = c["warmup"]
    remedies = {
        "no remedy": {},
        f"clipping (clip_norm {c['clip_norm']:g})": {"clip_norm": c["clip_norm"]},
        "careful initialization (Glorot uniform)": {"init": c["init"]},
        f"schedule (warm-up over {warmup} epochs)": {"warmup": warmup},
    }
    outcome, runs = {}, {}
    for label, remedy in remedies.items():
        outcome[label] = []
        for seed in range(ctx.seed, ctx.seed + s["seeds"]):
            sizes = [1] + [WIDTH] * (c["depth"] - 1)
            hidden = [Dense(a, b, "relu", init=remedy.get("init")) for a, b in zip(sizes, sizes[1:])]
            net = Network(hidden + [Dense(WIDTH, 1)], loss="mse", seed=seed)
            schedule = ([LearningRateScheduler(lambda e: c["lr"] * min(1.0, e / warmup))] if "warmup" in remedy
                        else [])
            h = ctx.fit(net, X, y, f"exploding, {label}, seed {seed}", epochs=s["exploding_epochs"], callbacks=schedule,
                        optimizer=SGD(lr=c["lr"], clip_norm=remedy.get("clip_norm")))
            runs.setdefault(label, h)  # the first seed's run, drawn
            outcome[label].append({"seed": seed, "diverged": h.stop_reason is not None, "epochs": h.epochs,
                                   "final_loss": h.loss[-1]})
    return {"setup": dict(c), "seeds": s["seeds"], "outcome": outcome}, runs



# ---- report -------------------------------------------------------------------------------------


def report_remedies(ctx, r):
    keys = [f"{a}, {v}" for a in ACTIVATIONS for v in VARIANTS]
    ctx.setup(
        f"Remedies for vanishing gradients: {DEPTH}-layer networks (2 → {WIDTH} → … → {WIDTH} → 1, sigmoid output, "
        f"binary cross-entropy) with sigmoid or tanh hidden layers on the same {r['n']} standardized moons, in four variants: plain; batch norm (each hidden layer Dense without bias → "
        "BatchNorm(f), z normalized before f); residual (every hidden layer after the first a block a + f(a W + b)); "
        f"both (a + BatchNorm(f)(a W)). Mini-batch SGD (η = {r['lr']:g}, batches of {r['batch_size']}, "
        f"{r['epochs']} epochs), seed {ctx.seed}; test accuracy on a second draw of the moons. "
        "Gradient norms ‖∂L/∂W‖ of the 20 Dense layers, in order (a block's weights at its place): at "
        "initialization by one backward pass over the training rows, during training on each epoch's first batch."
    )
    init, training = r["first_layer_gain_at_init"], r["first_layer_gain_training"]
    ctx.table("The first layer's gradient norm ‖∂L/∂W(1)‖ over the plain network's (same activation), its "
              "first-to-last ratio ‖∂L/∂W(1)‖/‖∂L/∂W(20)‖ at initialization, final loss and test accuracy",
              ["network", "gain at init", "gain in training (median)", "first/last at init", "final loss",
               "test accuracy"],
              [[k, init[k], training[k], r["first_to_last_at_init"][k], r["loss"][k][-1], r["test_accuracy"][k]]
               for k in keys])
    with ctx.figure("remedies.png", f"{DEPTH}-layer sigmoid and tanh networks, plain vs remedied: per-layer "
                    "gradient norms at initialization and (median over epochs) in training, and the loss (log scales)",
                    size=(15, 8)) as fig:
        axes = fig.subplots(2, 3, gridspec_kw={"hspace": 0.35})
        for row, act in zip(axes, ACTIVATIONS):
            _draw_norms(row[0], {v: r["grad_norms_at_init"][f"{act}, {v}"] for v in VARIANTS}, f"{act}, at initialization")
            _draw_norms(row[1], {v: np.median(r["grad_norms_training"][f"{act}, {v}"], axis=0) for v in VARIANTS},
                        f"{act}, in training (median over epochs)")
            plotting.curves(row[2], {v: r["loss"][f"{act}, {v}"] for v in VARIANTS}, f"{act}: training loss",
                            ylabel="binary cross-entropy", log=True)
    _observe_remedies(ctx, r, init, training)


def _draw_norms(ax, norms, title):
    for label, v in norms.items():
        ax.plot(np.arange(1, len(v) + 1), v, "o-", markersize=3, label=label)
    ax.set(yscale="log", title=title, xlabel="Dense layer l", ylabel="‖∂L/∂W(l)‖")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def _observe_remedies(ctx, r, init, training):
    acc, loss, ratio = r["test_accuracy"], r["loss"], r["first_to_last_at_init"]
    ctx.observe(
        f"Plain sigmoid: the first layer gets {ratio['sigmoid, plain']:.1e} of the last layer's gradient at "
        f"initialization, the product of {DEPTH - 1} factors σ′ ≤ ¼ (and W), and the network never leaves "
        f"ln 2 (final loss {loss['sigmoid, plain'][-1]:.3f}, test accuracy {acc['sigmoid, plain']:.2f}). "
        f"Batch normalization multiplies the first layer's gradient by {init['sigmoid, batch norm']:.1e} at "
        f"initialization ({training['sigmoid, batch norm']:.1e} in training): each z is brought back to mean β, "
        "std γ, where σ′ is near its peak, and δ through the normalization is divided by the batch's σ, so the "
        f"factors stop compounding (first/last {ratio['sigmoid, batch norm']:.2g}); the network learns "
        f"(loss {loss['sigmoid, batch norm'][-1]:.3f}, test accuracy {acc['sigmoid, batch norm']:.2f})."
    )
    ctx.observe(
        f"A residual block adds δ(out) itself to δ through F, so the first layer's gradient is "
        f"{init['sigmoid, residual']:.1e} times the plain sigmoid network's at initialization; but sigmoid "
        f"outputs are positive, and the sum a + σ(·) grows block by block: the loss starts at "
        f"{loss['sigmoid, residual'][0]:.3g} (confident, wrong logits) and ends at {loss['sigmoid, residual'][-1]:.3g} "
        f"(test accuracy {acc['sigmoid, residual']:.2f}). Both together: gain {init['sigmoid, both']:.1e}, "
        f"loss {loss['sigmoid, both'][-1]:.3g}, test accuracy {acc['sigmoid, both']:.2f}."
    )
    ctx.observe(
        f"tanh (tanh′(0) = 1, zero-centred) loses far less to begin with (plain first/last "
        f"{ratio['tanh, plain']:.2g}); the remedies change its first layer's gradient by "
        + ", ".join(f"{init[f'tanh, {v}']:.3g}× ({v})" for v in list(VARIANTS)[1:])
        + " at initialization, and the test accuracies are "
        + ", ".join(f"{acc[f'tanh, {v}']:.2f} ({v})" for v in VARIANTS) + "."
    )


def report_exploding(ctx, r, runs):
    c = r["setup"]
    ctx.setup(
        f"Remedies for exploding gradients, side by side: y = sin x at {c['n']} points, a {c['depth']}-layer ReLU "
        f"network (1 → {WIDTH} → … → 1, He weights unless said, linear output, mean squared error), full-batch "
        f"gradient descent with η = {c['lr']:g}, too large a step for it; from {r['seeds']} seeds each: no remedy; "
        f"clipping the gradient norm at {c['clip_norm']:g}; a smaller initialization (Glorot uniform, Var W = "
        f"2/(n_in + n_out), half of He's); a warm-up schedule η(e) = {c['lr']:g}·min(1, e/{c['warmup']}) "
        "(`LearningRateScheduler`)."
    )
    rows = []
    for label, outcomes in r["outcome"].items():
        survived = [o for o in outcomes if not o["diverged"]]
        rows.append([label, f"{len(survived)} of {len(outcomes)}",
                     float(np.median([o["final_loss"] for o in survived])) if survived else "—"])
    ctx.table("Exploding: the runs that stayed finite, and their median final loss",
              ["remedy", "finite runs", "median final loss"], rows)
    with ctx.figure("exploding_remedies.png", "Exploding: the training loss of the first seed's run with each remedy "
                    "(a diverged run drawn up to its last finite epoch)", size=(7, 4.4)) as fig:
        plotting.curves(fig.subplots(), {k: np.minimum(h.loss, 1e6) for k, h in runs.items()},
                        "Training loss", ylabel="mean squared error", log=True)
    out = {label: sum(not o["diverged"] for o in v) for label, v in r["outcome"].items()}
    none, clip, init, warm = out.values()
    n = r["seeds"]
    ctx.observe(
        f"With no remedy {n - none} of {n} runs blow up in the first epochs: each step makes W larger, the "
        "forward pass and δ(l) = (δ(l+1) W(l+1)ᵀ) ⊙ f′ grow by the weights' gain per layer, and the next step is "
        f"larger still. Clipping keeps {clip} of {n} finite: it bounds each step by η·{c['clip_norm']:g} whatever "
        f"‖g‖ is, so the feedback loop cannot start. The smaller initialization keeps {init} of {n}: with Var W "
        "halved, z and δ shrink by about 1/√2 a layer instead of holding level, so the first gradients and steps "
        f"are small. The warm-up keeps {warm} of {n}: it lets the first steps be small while the weights settle, "
        "but it only delays η's arrival at the value that was unstable, so it helps where the settled weights "
        "tolerate that step and not otherwise."
    )
