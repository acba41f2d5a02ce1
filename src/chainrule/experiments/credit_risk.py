"""The credit-risk example: a 7-8-1 network (ReLU hidden, sigmoid output, binary cross-entropy) on
the synthetic borrowers of ``datasets.credit_risk``, full-batch gradient descent with η = 0.01 for
200 epochs.

Forward-only (the loss computed every epoch, no backward pass, no update) against forward +
backpropagation from the same initial weights; η = 0.001, 0.01, 0.1 from those weights again;
a finite-difference check of W1[0, 0] by hand, then chainrule's check of every parameter.
"""

from .. import datasets, plotting
from ..gradcheck import gradcheck
from ..layers import Dense
from ..network import Network
from ..optimizers import SGD
from ..training import evaluate
from .common import accuracy, split_standardized
from .context import Results

TITLE = "Credit risk: forward-only vs backpropagation, three learning rates, and the gradient check"

FULL = {"n": 1000, "epochs": 200}
QUICK = {"n": 400, "epochs": 100}
LR = 0.01
LEARNING_RATES = (0.001, 0.01, 0.1)
EPS = 1e-5  # the central differences' step: (L(w + ε) − L(w − ε)) / 2ε
CHECK_ROWS = 32  # the batch the gradient checks use


def network(seed):
    """7-8-1: ReLU hidden layer, sigmoid output, binary cross-entropy, Glorot-uniform weights."""
    layers = [Dense(7, 8, "relu", init="glorot_uniform"), Dense(8, 1, "sigmoid", init="glorot_uniform")]
    return Network(layers, loss="bce", seed=seed)


# ---- compute ------------------------------------------------------------------------------------


def compute(ctx):
    s = ctx.pick(FULL, QUICK)
    X, y = datasets.credit_risk(s["n"], seed=ctx.seed)
    X_train, X_test, y_train, y_test = split_standardized(X, y, ctx.seed)
    start = network(ctx.seed)  # every run below starts from copies of these weights
    numbers, runs = _forward_vs_backprop(ctx, s, start, X_train, X_test, y_train, y_test)
    curves = {LR: runs["backprop_curves"]["loss"]}  # the backprop run is the η = 0.01 one
    for lr in LEARNING_RATES:
        if lr not in curves:
            curves[lr] = ctx.fit(start.copy(), X_train, y_train, f"η={lr:g}", optimizer=SGD(lr=lr),
                                 epochs=s["epochs"]).loss
    curves = {lr: curves[lr] for lr in LEARNING_RATES}
    numbers["lr_final_loss"] = {lr: c[-1] for lr, c in curves.items()}
    numbers["lr_loss_curves"] = curves
    checks, runs["gradcheck"] = _gradient_checks(runs["backprop"], X_train[:CHECK_ROWS], y_train[:CHECK_ROWS])
    numbers.update(checks)
    runs["default_rate"] = y.mean()
    return Results(numbers, runs)


def _forward_vs_backprop(ctx, s, start, X_train, X_test, y_train, y_test):
    """Forward-only: the same epochs, the loss and accuracy computed, the weights never touched;
    backprop: forward, backward and a step every epoch. Both from copies of ``start``."""
    frozen = start.copy()
    data = frozen.check_data(X_train, y_train)
    fo_loss, fo_acc = map(list, zip(*(evaluate(frozen, *data) for _ in range(s["epochs"]))))
    backprop = start.copy()
    history = ctx.fit(backprop, X_train, y_train, f"backprop η={LR:g}", optimizer=SGD(lr=LR), epochs=s["epochs"])
    end_loss, end_acc = evaluate(backprop, *data)  # after the last update; history.loss is before each epoch's
    numbers = {
        "forward_only_final_loss": fo_loss[-1], "backprop_final_loss": end_loss,
        "forward_only_accuracy": fo_acc[-1], "backprop_accuracy": end_acc,
        "forward_only_test_accuracy": accuracy(frozen, X_test, y_test),
        "backprop_test_accuracy": accuracy(backprop, X_test, y_test),
    }
    runs = {"backprop": backprop, "forward_only_curves": {"loss": fo_loss, "accuracy": fo_acc},
            "backprop_curves": {"loss": history.loss, "accuracy": history.accuracy}}
    return numbers, runs


def _gradient_checks(net, X, y, i=0, j=0):
    """One weight, W1[i, j], checked by hand with central differences; then gradcheck of every parameter.
    Returns the numbers and gradcheck's report."""
    net.backward(X, y)
    analytic = float(net.layers[0].dW[i, j])
    W = net.layers[0].W
    original = W[i, j]
    W[i, j] = original + EPS
    loss_plus = net.loss_value(X, y)
    W[i, j] = original - EPS
    loss_minus = net.loss_value(X, y)
    W[i, j] = original
    numeric = (loss_plus - loss_minus) / (2 * EPS)
    rel = abs(analytic - numeric) / max(abs(analytic), abs(numeric), 1e-8)
    report = gradcheck(net, X, y, eps=EPS)
    return {
        "w1_00_check": {"analytic": analytic, "numeric": numeric, "rel_error": rel},
        "gradcheck_max_rel_error": report.max_rel_error,
        "gradcheck_passed": report.passed,
        "gradcheck_checked": sum(c.checked for c in report.checks),
        "gradcheck_skipped": sum(c.skipped for c in report.checks),
    }, report


# ---- report -------------------------------------------------------------------------------------


def report(ctx, results):
    r, runs, s = results.numbers, results.runs, ctx.pick(FULL, QUICK)
    ctx.setup(
        f"{s['n']} synthetic borrowers (`datasets.credit_risk`, {runs['default_rate']:.0%} defaults), 75% to train, "
        "25% held out, features standardized with the training rows' mean and std. Network 7-8-1, ReLU hidden, sigmoid "
        f"output, binary cross-entropy, Glorot-uniform weights (seed {ctx.seed}), full-batch gradient descent "
        f"for {s['epochs']} epochs."
    )
    ctx.setup(
        f"Forward-only: every epoch a forward pass and the loss, no backward pass and no update. Backprop: "
        f"forward, backward and a gradient-descent step with η = {LR:g} every epoch. Both start from the same weights."
    )
    fo, bp = runs["forward_only_curves"], runs["backprop_curves"]
    with ctx.figure("forward_vs_backprop.png", "Training loss and accuracy: forward-only vs forward + backprop",
                    size=(11, 4.2)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        plotting.curves(ax1, {"forward only (no updates)": fo["loss"], f"forward + backprop (η = {LR:g})": bp["loss"]},
                        "Training loss", ylabel="binary cross-entropy")
        plotting.curves(ax2, {"forward only (no updates)": fo["accuracy"],
                              f"forward + backprop (η = {LR:g})": bp["accuracy"]},
                        "Training accuracy", ylabel="accuracy")
    curves = r["lr_loss_curves"]
    with ctx.figure("learning_rates.png", "Training loss for three learning rates from the same initial weights") as fig:
        plotting.curves(fig.subplots(), {f"η = {lr:g}": c for lr, c in curves.items()},
                        "Credit risk, 7-8-1: learning rates", ylabel="binary cross-entropy")
    ctx.table("Final training loss by learning rate", ["η", "final loss"], [[f"{lr:g}", c[-1]] for lr, c in curves.items()])
    ctx.observe(
        f"Without backpropagation the weights never change, so the loss stays at {r['forward_only_final_loss']:.3f} "
        f"and the accuracy at {r['forward_only_accuracy']:.3f} (ln 2 = 0.69 would be the loss of ŷ = 0.5 "
        f"everywhere; these Glorot weights start a little further from ŷ = 0.5); with it the loss falls to "
        f"{r['backprop_final_loss']:.3f} and the accuracy rises to {r['backprop_accuracy']:.3f} in {s['epochs']} epochs."
    )
    order = sorted(curves, key=lambda lr: curves[lr][-1])
    ctx.observe(
        f"The larger the step the faster the loss falls here: final loss {', '.join(f'{curves[lr][-1]:.3f}' for lr in LEARNING_RATES)} "
        f"for η = {', '.join(f'{lr:g}' for lr in LEARNING_RATES)}" + (" — none of them is large enough to overshoot."
                                                                   if order == sorted(LEARNING_RATES, reverse=True) else ".")
    )
    _report_gradient_checks(ctx, r, runs["gradcheck"])


def _report_gradient_checks(ctx, r, gradcheck_report, i=0, j=0):
    check = r["w1_00_check"]
    ctx.setup(
        f"Gradient checks on the trained network and the first {CHECK_ROWS} training rows, with central differences "
        f"(ε = {EPS:g}): W1[{i + 1}, {j + 1}] (NumPy's `W1[{i}, {j}]`) by hand, then `chainrule.gradcheck` "
        "of every weight and bias."
    )
    ctx.table("Gradient checks", ["what", "analytic", "numeric", "relative error"],
              [[f"W1[{i + 1}, {j + 1}]", check["analytic"], check["numeric"], check["rel_error"]],
               *[[c.label + " (worst entry)", c.analytic, c.numeric, c.max_rel_error] for c in gradcheck_report.checks]])
    ctx.observe(
        f"Backpropagation's gradient agrees with the finite difference: W1[{i + 1}, {j + 1}] to a relative error "
        f"of {check['rel_error']:.1e}, every parameter to at most {r['gradcheck_max_rel_error']:.1e} "
        f"({'passed' if r['gradcheck_passed'] else 'FAILED'})."
    )
