"""Five common pitfalls of backpropagation, each made on purpose and shown:

1. the wrong activation derivative — caught by ``Activation``'s check on first use, and by the
   gradient check when that check is switched off or cannot see the mistake;
2. a bias-gradient bug — a planted bug in a ``Dense`` subclass, caught by the gradient check;
3. softmax with squared error instead of cross-entropy;
4. one learning rate for every layer instead of per-layer rates (``Dense(lr_scale=…)``);
5. unnormalized inputs.

The planted bugs live in this file, in classes named for what they break; the library's own
layers and activations are untouched.
"""

import numpy as np

from .. import datasets, plotting
from ..activations import Activation
from ..datasets.synthetic import CREDIT_FEATURES
from ..gradcheck import gradcheck
from ..layers import Dense
from ..network import Network
from ..optimizers import SGD
from . import credit_risk, moons, vanishing_gradients
from .common import accuracy
from .context import Results

TITLE = "The five common pitfalls of backpropagation, made on purpose: what goes wrong and what catches it"

FULL = {"epochs": 2000, "digits_rows": None, "digits_epochs": 30, "deep_epochs": 1000, "credit_n": 1000,
        "credit_epochs": 200}
QUICK = {"epochs": 400, "digits_rows": 600, "digits_epochs": 15, "deep_epochs": 200, "credit_n": 400,
         "credit_epochs": 100}
LR = 0.5  # the moons networks of pitfalls 1 and 2
TOL = 1e-5  # gradcheck's default tolerance
PARAMETERS = ("W1", "b1", "W2", "b2")  # the 2-8-1 networks of pitfalls 1 and 2
CUT = 3.0  # the subtle wrong derivative is zero beyond |z| ≥ CUT
BIAS_CHECK_ROWS = 64  # pitfall 2's gradient check
DIGITS = {"classes": 10, "lr": 0.1, "batch": 32}  # pitfall 3: 64-32-10 on the digits, SGD
CHECKPOINTS = 10  # pitfall 3: held-out accuracy measured this many times during training
LOGIT_GAPS = np.linspace(-6, 20, 80)  # pitfall 3: a wrong class's logit minus the true class's
DEEP = {"depth": 5, "width": 16, "lr": 1.0, "sweep": (2.0, 4.0, 8.0, 16.0)}  # pitfall 4: sigmoid network, GD
CREDIT_LR = 0.1  # pitfall 5


# ---- planted bugs -------------------------------------------------------------------------------


class UncheckedActivation(Activation):
    """PLANTED BUG (pitfall 1): an activation whose first-use check of df is switched off, as in an
    engine that has none."""

    def verify(self, points=None, rtol=1e-5, atol=1e-7):
        pass


class BiasTimesInputs(Dense):
    """PLANTED BUG (pitfall 2): ∂L/∂b computed like ∂L/∂W, multiplied by the previous activations,
    db_j = Σ_n Σ_i a_prev[n, i] δ[n, j], instead of db_j = Σ_n δ[n, j]."""

    def backward(self, delta, grad_out=None):
        out = super().backward(delta, grad_out)
        self.db[...] = (self.A_prev.T @ delta).sum(axis=0)
        return out


class BiasMeanTwice(Dense):
    """PLANTED BUG (pitfall 2): ∂L/∂b divided by the batch size although δ already holds the 1/m of
    the mean, db = (1/m) Σ_n δ[n]: the biases learn m times too slowly."""

    def backward(self, delta, grad_out=None):
        out = super().backward(delta, grad_out)
        self.db /= len(delta)
        return out


def tanh_derivative_wrong(z):
    """σ′ written as a(1 − a), applied to the tanh output a = tanh z: the derivative of a different
    activation (pitfall 1)."""
    a = np.tanh(z)
    return a * (1 - a)


def tanh_derivative(z):
    """tanh′(z) = 1 − tanh² z."""
    a = np.tanh(z)
    return 1 - a * a


def tanh_derivative_cut(z):
    """1 − tanh² z for |z| < 3 and 0 beyond ("saturated anyway"): right at the six points the
    first-use check samples (all inside ±2.7), wrong wherever the data pushes |z| past 3."""
    return np.where(np.abs(z) < CUT, tanh_derivative(z), 0.0)


# ---- compute ------------------------------------------------------------------------------------


def compute(ctx):
    s = ctx.pick(FULL, QUICK)
    X, y = moons.points(ctx.seed)
    parts = [_wrong_derivative(ctx, s, X, y), _bias_gradient(ctx, s, X, y), _softmax_loss(ctx, s),
             _per_layer_rates(ctx, s, X, y), _normalization(ctx, s)]
    numbers, runs = {}, {}
    for part_numbers, part_runs in parts:
        numbers.update(part_numbers)
        runs.update(part_runs)
    return Results(numbers, runs)


def _check_summary(report):
    return {
        "passed": report.passed,
        "max_rel_error": report.max_rel_error,
        "failed": [c.label for c in report.failures],
        "parameters": {c.label: {"max_rel_error": c.max_rel_error, "passed": c.passed, "factor": c.factor,
                                 "problem": c.problem} for c in report.checks},
    }


def _wrong_derivative(ctx, s, X, y):
    """Pitfall 1: tanh with three derivatives, checked on first use, by gradcheck, and trained."""
    def network(activation):  # 2-8-1, weights W ~ N(0, 1)
        return moons.network(8, activation, ctx.seed, init="standard_normal")

    try:
        network(Activation("tanh with σ′ = a(1 − a)", np.tanh, tanh_derivative_wrong)).forward(X)
        raised = None
    except ValueError as e:
        raised = str(e)
    nets = {
        "correct: 1 − tanh² z": network(Activation("tanh, correct", np.tanh, tanh_derivative)),
        "wrong: a(1 − a), check off": network(UncheckedActivation("tanh, σ′ formula", np.tanh, tanh_derivative_wrong)),
        f"subtle: 0 beyond |z| ≥ {CUT:g}": network(Activation("tanh, cut derivative", np.tanh, tanh_derivative_cut)),
    }
    checks = {k: _check_summary(gradcheck(net, X, y, tol=TOL)) for k, net in nets.items()}
    *_, subtle = nets.values()
    subtle.forward(X)  # where the data put z: the share of it beyond the cut
    beyond = float((np.abs(subtle.layers[0].Z) >= CUT).mean())
    curves = {k: ctx.fit(net, X, y, f"derivative {k}", optimizer=SGD(lr=LR), epochs=s["epochs"]).loss
              for k, net in nets.items()}
    c, w, t = checks.values()
    numbers = {
        "wrong_derivative": {
            "first_use_check_raised": raised is not None, "first_use_message": raised,
            "gradcheck": checks, "subtle_passed_first_use_check": True, "subtle_fraction_of_z_beyond_cut": beyond,
            "final_loss": {k: v[-1] for k, v in curves.items()},
        },
        "wrong_derivative_caught": raised is not None and not w["passed"] and not t["passed"] and c["passed"],
    }
    return numbers, {"wrong_derivative": curves}


def _bias_gradient(ctx, s, X, y):
    """Pitfall 2: the correct Dense and two planted bias-gradient bugs, checked by gradcheck and trained."""
    layers = {"correct": Dense, "db multiplied by a_prev": BiasTimesInputs, "db divided by m twice": BiasMeanTwice}
    nets = {k: Network([cls(2, 8, "tanh"), cls(8, 1, "sigmoid")], loss="bce", seed=ctx.seed) for k, cls in layers.items()}
    m = BIAS_CHECK_ROWS
    checks = {k: _check_summary(gradcheck(net, X[:m], y[:m], tol=TOL)) for k, net in nets.items()}
    runs = {k: ctx.fit(net, X, y, f"bias {k}", optimizer=SGD(lr=LR), epochs=s["epochs"]) for k, net in nets.items()}
    numbers = {
        "bias_gradient": {"gradcheck": checks, "gradcheck_rows": m,
                          "final_loss": {k: h.loss[-1] for k, h in runs.items()},
                          "final_accuracy": {k: h.accuracy[-1] for k, h in runs.items()},
                          "biases_after_training": {k: net.layers[0].b for k, net in nets.items()}},
        # caught: every bug fails the check on the biases alone, and the correct layer passes
        "bias_bug_caught": all(not checks[k]["passed"] and set(checks[k]["failed"]) <= {"b1", "b2"}
                               for k in layers if k != "correct") and checks["correct"]["passed"],
    }
    return numbers, {"bias_gradient": {"curves": {k: h.loss for k, h in runs.items()}, "rows": len(X)}}


def _softmax_loss(ctx, s):
    """Pitfall 3: softmax trained with cross-entropy, with squared error, and with squared error at K/2 × η."""
    X, y = datasets.digits()
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_size=0.25, seed=ctx.seed)
    if s["digits_rows"]:
        X_train, y_train = X_train[: s["digits_rows"]], y_train[: s["digits_rows"]]
    X_train, X_test, _ = datasets.standardize(X_train, X_test)
    K, lr = DIGITS["classes"], DIGITS["lr"]
    start = Network([Dense(64, 32, "relu"), Dense(32, K, "softmax")], loss="cross_entropy", seed=ctx.seed)
    setups = {f"cross_entropy, η = {lr:g}": ("cross_entropy", lr), f"mse, η = {lr:g}": ("mse", lr),
              f"mse, η = {lr * K / 2:g} (× K/2)": ("mse", lr * K / 2)}
    chunk = max(1, s["digits_epochs"] // CHECKPOINTS)
    epochs = list(range(chunk, s["digits_epochs"] + 1, chunk))
    losses, curves = {}, {}
    for label, (loss, eta) in setups.items():
        net = Network([Dense(64, 32, "relu", init=start.layers[0].W), Dense(32, K, "softmax", init=start.layers[1].W)],
                      loss=loss, seed=ctx.seed)
        target = y_train if loss == "cross_entropy" else np.eye(K)[y_train]  # mse wants one-hot rows
        losses[label], curves[label] = _train_in_chunks(ctx, net, (X_train, target, X_test, y_test),
                                                        f"softmax + {label}", eta, chunk, len(epochs))
    p_true, deltas = _output_deltas(K)
    acc = {k: c[-1] for k, c in curves.items()}
    ce, mse, _ = acc.values()
    numbers = {
        "softmax_loss": {"test_accuracy": acc, "test_accuracy_curves": {"epoch": epochs, **curves},
                         "final_loss": {k: v[-1] for k, v in losses.items()},
                         "output_delta": {"p_true": p_true, **deltas}},
        "cross_entropy_beats_mse": ce > mse,
    }
    return numbers, {"softmax_loss": {"rows": (len(X_train), len(X_test))}}


def _train_in_chunks(ctx, net, data, label, lr, chunk, chunks):
    """mse is not a classification loss, so fit records no accuracy for it: train ``chunks`` times ``chunk``
    epochs and measure the held-out accuracy after each (plain SGD keeps no state between calls, so the
    chunks are one run). Returns the loss of every epoch and the accuracy after every chunk."""
    X_train, target, X_test, y_test = data
    losses, accuracies = [], []
    for _ in range(chunks):
        h = ctx.fit(net, X_train, target, label, optimizer=SGD(lr=lr), epochs=chunk, batch_size=DIGITS["batch"])
        losses += h.loss
        accuracies.append(float((net.predict(X_test).argmax(axis=1) == y_test).mean()))
    return losses, accuracies


def _output_deltas(K, gaps=LOGIT_GAPS):
    """‖δ(L)‖ of one sample with true class 0, as one wrong class's logit rises ``gap`` above the true
    one's (logits: true −gap/2, wrong +gap/2, the rest 0), from the engine's backward pass of a
    one-layer softmax network whose biases are those logits."""
    p_true, deltas = [], {"cross_entropy": [], "mse": []}
    x = np.zeros((1, 1))
    for gap in gaps:
        logits = np.zeros(K)
        logits[0], logits[1] = -gap / 2, gap / 2
        for loss, target in (("cross_entropy", np.array([0])), ("mse", np.eye(K)[:1])):
            net = Network([Dense(1, K, "softmax", init=(np.zeros((1, K)), logits))], loss=loss)
            net.backward(x, target)
            deltas[loss].append(float(np.linalg.norm(net.layers[0].delta)))
        p_true.append(float(net.layers[0].A[0, 0]))
    return p_true, deltas


def _per_layer_rates(ctx, s, X, y):
    """Pitfall 4: a deep sigmoid network with one η, with η scaled per layer two ways, and a sweep of one η."""
    X, _, _ = datasets.standardize(X)
    depth, lr = DEEP["depth"], DEEP["lr"]

    def network(scales):
        return vanishing_gradients.network("sigmoid", depth, ctx.seed, width=DEEP["width"], lr_scales=scales)

    norms = np.array(vanishing_gradients.at_init(network([1.0] * depth), X, y)["grad_W"])
    scales = {
        "one η for all layers": [1.0] * depth,
        "per layer: ‖g(L)‖/‖g(l)‖ at the start": list(norms[-1] / norms),  # larger steps where the gradient vanished
        "per layer: early layers smaller (0.1 → 1)": list(np.geomspace(0.1, 1.0, depth)),
    }
    runs = {k: ctx.fit(network(v), X, y, f"lr {k}", optimizer=SGD(lr=lr), epochs=s["deep_epochs"])
            for k, v in scales.items()}
    sweep = {eta: ctx.fit(network([1.0] * depth), X, y, f"lr one η = {eta:g}", optimizer=SGD(lr=eta),
                          epochs=s["deep_epochs"]).loss[-1] for eta in DEEP["sweep"]}
    sweep[lr] = runs["one η for all layers"].loss[-1]
    numbers = {"per_layer_lr": {
        "depth": depth, "lr": lr, "lr_scale": scales, "grad_norms_at_start": norms,
        "final_loss": {k: h.loss[-1] for k, h in runs.items()},
        "final_accuracy": {k: h.accuracy[-1] for k, h in runs.items()},
        "uniform_sweep_final_loss": dict(sorted(sweep.items())), "best_uniform_lr": min(sweep, key=sweep.get),
    }}
    return numbers, {"per_layer_lr": {k: h.loss for k, h in runs.items()}}


def _normalization(ctx, s):
    """Pitfall 5: the credit-risk network on raw and on standardized features, from the same weights."""
    X, y = datasets.credit_risk(s["credit_n"], seed=ctx.seed)
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_size=0.25, seed=ctx.seed)
    S_train, S_test, _ = datasets.standardize(X_train, X_test)
    start = credit_risk.network(ctx.seed)
    data = {"raw inputs": (X_train, X_test), "standardized inputs": (S_train, S_test)}
    runs, test_acc, dead = {}, {}, {}
    for kind, (A, B) in data.items():
        net = start.copy()
        runs[kind] = ctx.fit(net, A, y_train, kind, optimizer=SGD(lr=CREDIT_LR), epochs=s["credit_epochs"])
        test_acc[kind] = accuracy(net, B, y_test)
        net.forward(A)
        dead[kind] = float((net.layers[0].A <= 0).all(axis=0).mean())  # hidden units never active on any row
    raw, std = runs.values()
    numbers = {
        "normalization": {
            "feature_std": X_train.std(axis=0), "lr": CREDIT_LR,
            "initial_loss": {k: h.loss[0] for k, h in runs.items()},
            "final_loss": {k: h.loss[-1] for k, h in runs.items()},
            "test_accuracy": test_acc, "majority_class_accuracy": float(max(y_test.mean(), 1 - y_test.mean())),
            "first_layer_grad_norm_epoch_1": {k: h.grad_norms[0][0] for k, h in runs.items()},
            "dead_relu_fraction": dead,
            "loss_curves": {k: h.loss for k, h in runs.items()},
        },
        "normalized_trains_better": std.loss[-1] < raw.loss[-1] and test_acc["standardized inputs"] > test_acc[
            "raw inputs"],
    }
    return numbers, {}


# ---- report -------------------------------------------------------------------------------------


def report(ctx, results):
    r, runs, s = results.numbers, results.runs, ctx.pick(FULL, QUICK)
    ctx.setup(
        "Pitfalls 1, 2 and 4 use the moons (200 points, noise 0.2); 3 uses scikit-learn's digits and 5 the "
        f"credit-risk borrowers (`datasets.credit_risk`). Seed {ctx.seed} throughout."
    )
    _report_wrong_derivative(ctx, s, r["wrong_derivative"], runs["wrong_derivative"])
    _report_bias_gradient(ctx, s, r["bias_gradient"], runs["bias_gradient"])
    _report_softmax_loss(ctx, s, r["softmax_loss"], runs["softmax_loss"])
    _report_per_layer_rates(ctx, s, r["per_layer_lr"], runs["per_layer_lr"])
    _report_normalization(ctx, s, r["normalization"])


def _check_row(name, check):
    """A table row: the variant, each parameter's worst relative error, and the verdict."""
    return [name, *(check["parameters"][p]["max_rel_error"] for p in PARAMETERS),
            "passed" if check["passed"] else "FAILED: " + ", ".join(check["failed"])]


def _report_wrong_derivative(ctx, s, r, curves):
    checks, raised, beyond = r["gradcheck"], r["first_use_message"], r["subtle_fraction_of_z_beyond_cut"]
    ctx.setup(
        "1 · Wrong activation derivative. A 2-8-1 network (tanh hidden, sigmoid output, binary cross-entropy, "
        "weights W ~ N(0, 1)) whose tanh is defined by the user with `chainrule.Activation(name, f, df)` three ways: "
        "df = 1 − tanh² z (correct); df = a(1 − a), the sigmoid's derivative formula applied to the tanh output (the "
        "derivative of a different activation); and df = 1 − tanh² z cut to 0 beyond |z| ≥ 3. The second is "
        "built first as it stands, then as a planted bug with the first-use check switched off (a subclass whose "
        "`verify` does nothing). `chainrule.gradcheck` on all 200 points, tolerance 1e-5; then "
        f"{s['epochs']} epochs of gradient descent, η = {LR:g}."
    )
    ctx.table("1 · Gradient check of each derivative (max relative error of each parameter's worst entry)",
              ["df", *PARAMETERS, "verdict", "final loss"], [[*_check_row(k, v), curves[k][-1]] for k, v in checks.items()])
    with ctx.figure("1_wrong_derivative.png", "Pitfall 1: the gradient check of each derivative, and training with it",
                    size=(11, 4.2)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        _draw_gradcheck(ax1, checks, "Gradient check, by parameter")
        plotting.curves(ax2, curves, f"Training loss, η = {LR:g}", ylabel="binary cross-entropy", log=True)
    _, w, t = checks.values()
    correct_key, _, subtle_key = checks
    ctx.observe(
        "1 · As written, the wrong derivative never gets to train: on first use `Activation` compares df with finite "
        + (f"differences of f and raises ValueError: \"{raised}\"" if raised else "differences of f — and this time it "
           "did NOT raise.")
        + f" With that check switched off (the planted bug), the gradient check fails on "
        f"{', '.join(w['failed'])} (max relative error {w['max_rel_error']:.2g}) while W2 and b2, above the tanh layer, "
        f"pass — it names the layer at fault. The subtle derivative passes the first-use check, which samples six "
        f"points inside ±2.7, but {beyond:.1%} of the hidden pre-activations on these data lie beyond ±{CUT:g}, and "
        f"the gradient check catches it there: {', '.join(t['failed'])} fail (max relative error "
        f"{t['max_rel_error']:.2g}). A gradient check only tests the derivative where the data put z, so run it on "
        "real batches. Final training losses: " + ", ".join(f"{k.split(':')[0]} {curves[k][-1]:.3f}" for k in curves)
        + (" — a wrong derivative can still train, and the subtle one (wrong only where few pre-activations go) "
           "trains about as well as the right one: the loss curve does not reveal it; the gradient check does."
           if abs(curves[subtle_key][-1] - curves[correct_key][-1]) < 0.05 * curves[correct_key][-1] else
           " — a wrong derivative can still train, only worse: the loss curve alone does not say why; the gradient "
           "check does.")
    )


def _report_bias_gradient(ctx, s, r, runs):
    checks, m = r["gradcheck"], r["gradcheck_rows"]
    ctx.setup(
        "2 · Bias gradient. A 2-8-1 network (tanh, sigmoid output, binary cross-entropy, Glorot weights) built from "
        "`Dense` or from one of two Dense subclasses with a planted bug in `backward`, after the correct ∂L/∂W: "
        "∂L/∂b computed like a weight's, multiplied by the previous activations (a bias has no input to multiply: "
        "∂z/∂b = 1), or divided by the batch size once too often. Gradient check on "
        f"{m} points, then {s['epochs']} epochs with η = {LR:g}."
    )
    ctx.table("2 · Gradient check of each bias gradient (max relative error of each parameter's worst entry)",
              ["∂L/∂b", *PARAMETERS, "verdict", "final loss", "final accuracy"],
              [[*_check_row(k, v), r["final_loss"][k], r["final_accuracy"][k]] for k, v in checks.items()])
    with ctx.figure("2_bias_gradient.png", "Pitfall 2: the gradient check of each bias gradient, and training with it",
                    size=(11, 4.2)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        _draw_gradcheck(ax1, checks, "Gradient check, by parameter")
        plotting.curves(ax2, runs["curves"], f"Training loss, η = {LR:g}", ylabel="binary cross-entropy", log=True)
    bug, twice = checks["db multiplied by a_prev"], checks["db divided by m twice"]
    explained = twice["parameters"]["b1"]["problem"] or ""
    ctx.observe(
        f"2 · The gradient check passes every weight and fails exactly the biases: {', '.join(bug['failed'])} for db "
        f"multiplied by a_prev (max relative error {bug['max_rel_error']:.2g}) and {', '.join(twice['failed'])} for db "
        "divided by m twice"
        + (f", where it also names the cause: \"{explained.split(': ', 2)[-1]}\"" if "1/m" in explained else "")
        + ". Final training losses: "
        + ", ".join(f"{k} {loss:.3f}" for k, loss in r["final_loss"].items())
        + f"; divided by m twice, the biases move m = {runs['rows']} times too slowly (full batch)."
    )


def _report_softmax_loss(ctx, s, r, runs):
    K, (n_train, n_test) = DIGITS["classes"], runs["rows"]
    ctx.setup(
        f"3 · Softmax output with squared error. Digits (8×8 images, 10 classes; {n_train} to train, "
        f"{n_test} held out, standardized): 64-32-10, ReLU hidden, softmax output, from the same initial weights, "
        f"trained with cross-entropy (the matching loss: δ = (p − y)/m) or with mean squared error on one-hot targets, "
        f"SGD with mini-batches of {DIGITS['batch']} for {s['digits_epochs']} epochs. The mean squared error averages "
        f"over the K = {K} outputs, which scales its gradient by 2/K; a third run gives it η × K/2 to undo that. Then the "
        "output delta ‖δ(L)‖ of one sample as the softmax grows confidently wrong (one wrong class's logit rising "
        "above the true one's), from the engine's backward pass."
    )
    acc = r["test_accuracy"]
    ctx.table("3 · Held-out accuracy after training", ["loss", "held-out accuracy", "final training loss"],
              [[k, acc[k], loss] for k, loss in r["final_loss"].items()])
    curves = dict(r["test_accuracy_curves"])
    epochs = curves.pop("epoch")
    p_true, deltas = r["output_delta"]["p_true"], {k: v for k, v in r["output_delta"].items() if k != "p_true"}
    with ctx.figure("3_softmax_loss.png", "Pitfall 3: softmax with cross-entropy vs squared error",
                    size=(11, 4.2)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        plotting.curves(ax1, curves, "Held-out accuracy", ylabel="accuracy", x=epochs)
        for k, v in deltas.items():
            ax2.plot(p_true, v, label=f"softmax + {k}")
        ax2.set(xscale="log", yscale="log", title="Output delta of one sample", xlabel="p(true class)",
                ylabel="‖δ(L)‖ = ‖∂L/∂z(L)‖")
        ax2.invert_xaxis()
        ax2.grid(alpha=0.3)
        ax2.legend()
    ce, mse, mse_big = acc.values()
    ce_d, mse_d = deltas["cross_entropy"], deltas["mse"]
    ctx.observe(
        f"3 · With the same η, cross-entropy reaches {ce:.3f} held-out accuracy and squared error {mse:.3f}. Part of "
        f"the gap is squared error's 2/K scale: with η × K/2 it reaches {mse_big:.3f}. The rest is the softmax: the "
        f"squared error's delta passes through the softmax Jacobian, which flattens as the output saturates. As one "
        f"sample's true-class probability falls from {p_true[0]:.2g} to {p_true[-1]:.0e}, cross-entropy's ‖δ‖ grows "
        f"from {ce_d[0]:.2g} to {ce_d[-1]:.2g}, while squared error's never exceeds {max(mse_d):.2g} and falls to "
        f"{mse_d[-1]:.0e} as a wrong class's probability approaches 1: the more confidently wrong the network, the "
        "less squared error corrects it."
    )


def _report_per_layer_rates(ctx, s, r, curves):
    depth, lr, scales, final = r["depth"], r["lr"], r["lr_scale"], r["final_loss"]
    ctx.setup(
        f"4 · One learning rate vs per-layer rates. A {depth}-layer sigmoid network (2 → {DEEP['width']} → … → 1, "
        f"Glorot weights, binary cross-entropy) on the standardized moons, full-batch gradient descent with η = {lr:g} "
        f"for {s['deep_epochs']} epochs, with `Dense(lr_scale=…)` multiplying η per layer: 1 everywhere; "
        "‖∂L/∂W(L)‖/‖∂L/∂W(l)‖ measured at the start (larger steps where the gradient has vanished); and an often-"
        "given suggestion, smaller steps for the early layers (0.1 rising to 1). Then one η for all layers from 2 to 16."
    )
    ctx.table("4 · Learning-rate scale of each layer and the final loss",
              ["rates", *(f"layer {l + 1}" for l in range(depth)), "final loss", "final accuracy"],
              [[k, *v, final[k], r["final_accuracy"][k]] for k, v in scales.items()])
    sweep = r["uniform_sweep_final_loss"]
    ctx.table("4 · One η for all layers", ["η", "final loss"], [[f"{eta:g}", v] for eta, v in sweep.items()])
    with ctx.figure("4_per_layer_rates.png", "Pitfall 4: one learning rate vs per-layer learning rates",
                    size=(11, 4.2)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        plotting.curves(ax1, curves, f"Training loss, η = {lr:g}", ylabel="binary cross-entropy", log=True)
        for k, v in scales.items():
            ax2.plot(np.arange(1, depth + 1), v, "o-", label=k)
        ax2.set(yscale="log", title="lr_scale by layer", xlabel="layer l", ylabel="η(l) / η")
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize="small")
    norms, best = r["grad_norms_at_start"], r["best_uniform_lr"]
    larger = sorted(eta for eta in sweep if eta > best)
    uniform, balanced, smaller = final.values()
    ctx.observe(
        f"4 · In this {depth}-layer sigmoid network the gradient of layer 1 starts {norms[-1] / norms[0]:.0f} times "
        f"smaller than the last layer's. One η = {lr:g} for all ends at loss {uniform:.3f}; the best single η of the "
        f"sweep ({best:g}) at {sweep[best]:.3f}"
        + (f", and η = {larger[0]:g} already fails ({sweep[larger[0]]:.3g})" if larger else "")
        + f". Scaling each layer's η by ‖g(L)‖/‖g(l)‖ reaches {balanced:.3f}. The suggested direction, smaller steps for "
        f"early layers, ends at {smaller:.3f} here: it is meant to preserve features that are already useful, not to "
        "move layers whose gradient has vanished. One learning rate is a compromise between layers whose gradients "
        "differ by orders of magnitude: small enough for the last layers, it leaves the first ones nearly still."
    )


def _report_normalization(ctx, s, r):
    ctx.setup(
        f"5 · Unnormalized inputs. {s['credit_n']} credit-risk borrowers (features from 0/1 home ownership to annual "
        f"incomes of tens of thousands), 75% to train: the credit-risk experiment's 7-8-1 network (ReLU, sigmoid output, "
        f"binary cross-entropy, Glorot weights) trained from the same weights for {s['credit_epochs']} epochs with η = "
        f"{r['lr']:g} on the raw features and on the features standardized with the training rows' mean and std."
    )
    first, final, grad = r["initial_loss"], r["final_loss"], r["first_layer_grad_norm_epoch_1"]
    dead, test_acc = r["dead_relu_fraction"], r["test_accuracy"]
    ctx.table("5 · Raw vs standardized inputs", ["inputs", "first loss", "final loss", "‖∂L/∂W(1)‖, epoch 1",
                                                "dead ReLU units", "held-out accuracy"],
              [[k, first[k], final[k], grad[k], f"{dead[k]:.0%}", test_acc[k]] for k in first])
    with ctx.figure("5_normalization.png", "Pitfall 5: raw vs standardized inputs", size=(11, 4.2)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        plotting.curves(ax1, r["loss_curves"], f"Training loss, η = {r['lr']:g}", ylabel="binary cross-entropy", log=True)
        names = CREDIT_FEATURES
        ax2.bar(np.arange(len(names)), r["feature_std"], label="raw")
        ax2.axhline(1.0, color="tab:orange", label="standardized (std 1)")
        ax2.set_xticks(np.arange(len(names)), names, rotation=30, ha="right")
        ax2.set(yscale="log", title="Spread of each input feature", ylabel="std on the training rows")
        ax2.legend()
    raw, std = "raw inputs", "standardized inputs"
    ctx.observe(
        f"5 · On the raw features the income column (std {r['feature_std'][1]:.3g}) drives every pre-activation: the "
        f"first loss is {first[raw]:.3g} and the first layer's gradient {grad[raw]:.3g} (standardized: "
        f"{first[std]:.3g} and {grad[std]:.3g}). One step of that size throws the ReLU units where "
        f"{dead[raw]:.0%} of them are never active again, and the network ends at loss {final[raw]:.3f}, "
        f"held-out accuracy {test_acc[raw]:.3f} (always predicting the majority class gives "
        f"{r['majority_class_accuracy']:.3f}). Standardized, the same network reaches {final[std]:.3f} and "
        f"{test_acc[std]:.3f}."
    )


def _draw_gradcheck(ax, checks, title):
    """Grouped bars: each parameter's worst relative error, one group per parameter, one bar per variant."""
    width = 0.8 / len(checks)
    for j, (k, v) in enumerate(checks.items()):
        errors = [max(v["parameters"][p]["max_rel_error"], 1e-16) for p in PARAMETERS]
        ax.bar(np.arange(len(PARAMETERS)) + (j - (len(checks) - 1) / 2) * width, errors, width=width, label=k)
    ax.axhline(TOL, color="k", linestyle="--", linewidth=1, label=f"tolerance {TOL:g}")
    ax.set_xticks(np.arange(len(PARAMETERS)), PARAMETERS)
    ax.set(yscale="log", title=title, xlabel="parameter", ylabel="max relative error (analytic vs numeric)")
    ax.legend(fontsize="small")
