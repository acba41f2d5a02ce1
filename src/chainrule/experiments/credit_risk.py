"""Seed 002's credit-risk tutorial: a 7-8-1 network (ReLU hidden, sigmoid output, binary
cross-entropy) on the synthetic borrowers, full-batch gradient descent with η = 0.01 for 200
epochs (the tutorial's ``train_model`` defaults).

Forward-only (the loss computed every epoch, no backward pass, no update) against forward +
backpropagation from the same initial weights; η = 0.001, 0.01, 0.1 from those weights again;
the tutorial's finite-difference check of W1[0, 0], then chainrule's check of every parameter.
"""

from .. import datasets, plotting
from ..gradcheck import gradcheck
from ..layers import Dense
from ..network import Network
from ..optimizers import SGD
from ..training import evaluate

TITLE = "Credit risk: forward-only vs backpropagation, three learning rates, and the gradient check"

FULL = {"n": 1000, "epochs": 200}
QUICK = {"n": 400, "epochs": 100}
LR = 0.01
LEARNING_RATES = (0.001, 0.01, 0.1)
EPS = 1e-5  # the tutorial's ε
CHECK_ROWS = 32  # the batch the gradient checks use


def run(ctx):
    s = ctx.pick(FULL, QUICK)
    X, y = datasets.credit_risk(s["n"], seed=ctx.seed)
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_size=0.25, seed=ctx.seed)
    X_train, X_test, _ = datasets.standardize(X_train, X_test)
    layers = [Dense(7, 8, "relu", init="glorot_uniform"), Dense(8, 1, "sigmoid", init="glorot_uniform")]
    start = Network(layers, loss="bce", seed=ctx.seed)  # every run below starts from copies of these weights
    ctx.setup(
        f"{s['n']} synthetic borrowers (`datasets.credit_risk`, {y.mean():.0%} defaults), 75% to train, 25% held "
        "out, features standardized with the training rows' mean and std. Network 7-8-1, ReLU hidden, sigmoid "
        f"output, binary cross-entropy, Glorot-uniform weights (seed {ctx.seed}), full-batch gradient descent "
        f"for {s['epochs']} epochs."
    )

    # forward only: the same epochs, the loss and accuracy computed, the weights never touched
    frozen = start.copy()
    data = frozen.check_data(X_train, y_train)
    fo_loss, fo_acc = map(list, zip(*(evaluate(frozen, *data) for _ in range(s["epochs"]))))
    backprop = start.copy()
    history = ctx.fit(backprop, X_train, y_train, f"backprop η={LR:g}", optimizer=SGD(lr=LR), epochs=s["epochs"])
    bp_loss, bp_acc = history.loss, history.accuracy  # each before that epoch's update
    end_loss, end_acc = evaluate(backprop, *data)  # after the last update
    ctx.results.update({
        "forward_only_final_loss": fo_loss[-1], "backprop_final_loss": end_loss,
        "forward_only_accuracy": fo_acc[-1], "backprop_accuracy": end_acc,
        "forward_only_test_accuracy": evaluate(frozen, *frozen.check_data(X_test, y_test))[1],
        "backprop_test_accuracy": evaluate(backprop, *backprop.check_data(X_test, y_test))[1],
    })
    ctx.setup(
        f"Forward-only: every epoch a forward pass and the loss, no backward pass and no update. Backprop: "
        f"forward, backward and a gradient-descent step with η = {LR:g} every epoch. Both start from the same weights."
    )
    with ctx.figure("forward_vs_backprop.png", "Training loss and accuracy: forward-only vs forward + backprop",
                    size=(11, 4.2)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        plotting.curves(ax1, {"forward only (no updates)": fo_loss, f"forward + backprop (η = {LR:g})": bp_loss},
                        "Training loss", ylabel="binary cross-entropy")
        plotting.curves(ax2, {"forward only (no updates)": fo_acc, f"forward + backprop (η = {LR:g})": bp_acc},
                        "Training accuracy", ylabel="accuracy")

    curves = {LR: bp_loss}  # the backprop run above is the η = 0.01 one
    for lr in LEARNING_RATES:
        if lr not in curves:
            curves[lr] = ctx.fit(start.copy(), X_train, y_train, f"η={lr:g}", optimizer=SGD(lr=lr),
                                 epochs=s["epochs"]).loss
    curves = {lr: curves[lr] for lr in LEARNING_RATES}
    ctx.results["lr_final_loss"] = {lr: c[-1] for lr, c in curves.items()}
    ctx.results["lr_loss_curves"] = curves
    with ctx.figure("learning_rates.png", "Training loss for three learning rates from the same initial weights") as fig:
        plotting.curves(fig.subplots(), {f"η = {lr:g}": c for lr, c in curves.items()},
                        "Credit risk, 7-8-1: learning rates", ylabel="binary cross-entropy")
    ctx.table("Final training loss by learning rate", ["η", "final loss"], [[f"{lr:g}", c[-1]] for lr, c in curves.items()])

    ctx.observe(
        f"Without backpropagation the weights never change, so the loss stays at {fo_loss[-1]:.3f} and the accuracy at "
        f"{fo_acc[-1]:.3f} (the tutorial: flat near 0.69, the loss of ŷ = 0.5 everywhere, and 0.53; these "
        f"Glorot weights start a little further from ŷ = 0.5); with it the loss falls to {end_loss:.3f} and the "
        f"accuracy rises to {end_acc:.3f} in {s['epochs']} epochs."
    )
    order = sorted(curves, key=lambda lr: curves[lr][-1])
    ctx.observe(
        f"The larger the step the faster the loss falls here: final loss {', '.join(f'{curves[lr][-1]:.3f}' for lr in LEARNING_RATES)} "
        f"for η = {', '.join(f'{lr:g}' for lr in LEARNING_RATES)}" + (" — none of them is large enough to overshoot."
                                                                   if order == sorted(LEARNING_RATES, reverse=True) else ".")
    )
    _gradient_checks(ctx, backprop, X_train[:CHECK_ROWS], y_train[:CHECK_ROWS])


def _gradient_checks(ctx, net, X, y, i=0, j=0):
    """The tutorial's check of one weight, W1[i, j], by hand; then gradcheck of every parameter."""
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
    ctx.results.update({
        "w1_00_check": {"analytic": analytic, "numeric": numeric, "rel_error": rel},
        "gradcheck_max_rel_error": report.max_rel_error,
        "gradcheck_passed": report.passed,
        "gradcheck_checked": sum(c.checked for c in report.checks),
        "gradcheck_skipped": sum(c.skipped for c in report.checks),
    })
    ctx.setup(
        f"Gradient checks on the trained network and the first {len(X)} training rows, with central differences "
        f"(ε = {EPS:g}): W1[{i + 1}, {j + 1}] (the tutorial's `W1[{i}, {j}]`) by hand, then `chainrule.gradcheck` "
        "of every weight and bias."
    )
    ctx.table("Gradient checks", ["what", "analytic", "numeric", "relative error"],
              [[f"W1[{i + 1}, {j + 1}]", analytic, numeric, rel],
               *[[c.label + " (worst entry)", c.analytic, c.numeric, c.max_rel_error] for c in report.checks]])
    ctx.observe(
        f"Backpropagation's gradient agrees with the finite difference: W1[{i + 1}, {j + 1}] to a relative error "
        f"of {rel:.1e}, every parameter to at most {report.max_rel_error:.1e} "
        f"({'passed' if report.passed else 'FAILED'})."
    )
