"""The ``chainrule`` command: parses the flags, calls the library, prints what it did.

    chainrule demo                                  two small networks, trained in seconds
    chainrule train --data moons --hidden 16,8      train on a built-in dataset or a CSV file
    chainrule gradcheck --data xor --hidden 4       check backpropagation against finite differences
    chainrule trace SPEC.toml --format markdown     the worked solution of one step, every number
    chainrule experiment xor --out DIR              one of the seeds' experiments: figures, results, report
    chainrule doctor --data moons --lr 5            train briefly and report what goes wrong, and why

A user error (an unknown dataset, a missing file, a bad flag value, an invalid network) is
one line on stderr, ``chainrule: error: …``, and exit status 2; never a traceback.
"""

import argparse
import os
import sys
import warnings

import numpy as np

from . import __version__, datasets, experiments, plotting
from .activations import ACTIVATIONS
from .diagnostics import DiagnosticWarning, diagnose, format_findings
from .gradcheck import gradcheck
from .layers import Dense
from .losses import LOSSES
from .network import Network, load
from .optimizers import OPTIMIZERS
from .tracing import trace as trace_spec
from .tracing.render import FORMATS
from .training import evaluate

__all__ = ["main"]

# What the demo trains: the lab's XOR network, then a moons classifier. Both settings were
# checked over many seeds: XOR learned for every one of 100 seeds, moons ≥ 0.95 test accuracy
# for every one of 30.
XOR_DEMO = {"lr": 1.0, "epochs": 2000}
MOONS_DEMO = {"n": 500, "noise": 0.2, "hidden": 16, "lr": 0.02, "epochs": 500, "test_size": 0.25}

DEFAULT_LR = {"sgd": 0.1, "rmsprop": 0.01, "adam": 0.01}
OUTPUT_FOR_LOSS = {"bce": "sigmoid", "cross_entropy": "softmax"}
STANDARDIZED_BY_DEFAULT = ("moons", "circles", "breast_cancer", "csv")
EXPERIMENT_DIR = "experiment-results"  # where `chainrule experiment` writes without --out


def main(argv=None):
    """Run the ``chainrule`` command with ``argv`` (default: sys.argv[1:]); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a flag argparse rejected (status 2)
        return e.code
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.command(args)
    except (ValueError, OSError, ImportError) as e:
        print(f"chainrule: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A warning (a diagnostic finding, a stopped run) as one line on stderr, without the Python
    file and source line that mean nothing on the command line."""
    text = " ".join(str(message).split())
    # a diagnostic finding's text starts with its severity ("warning [code] …")
    print(f"chainrule: {text}" if isinstance(message, DiagnosticWarning) else f"chainrule: warning: {text}",
          file=sys.stderr)


# ---- the commands ---------------------------------------------------------------------------


def train(args):
    X, y, name = _data(args)
    test_size = args.test_size if args.test_size is not None else (0.0 if args.data == "xor" else 0.25)
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_size=test_size, seed=args.seed)
    standardized = _standardize(args)
    if standardized:
        X_train, X_test, _ = datasets.standardize(X_train, X_test)
    net = _network(args, X.shape[1], y)
    if args.save and not os.path.isdir(os.path.dirname(os.path.abspath(args.save))):
        raise ValueError(f"cannot save to {args.save!r}: its folder does not exist")
    optimizer, lr = _optimizer(args)
    say = (lambda *a: None) if args.quiet else print
    say(
        f"data: {name}, {len(X)} rows × {X.shape[1]} features; {len(X_train)} to train, {len(X_test)} to test"
        + ("; standardized with the training rows' mean and std" if standardized else "")
    )
    say(f"network: {net}")
    batch = "full" if args.batch_size is None else args.batch_size
    say(f"training: {args.optimizer} (lr {lr:g}), {args.epochs} epochs, batch size {batch}, seed {args.seed}")

    history = net.fit(X_train, y_train, optimizer=optimizer, epochs=args.epochs, batch_size=args.batch_size,
                      progress=not args.quiet)

    if history.stop_reason:
        print(f"stopped: {history.stop_reason}")
    print(f"train: {_scores(net, X_train, y_train)}")
    if len(X_test):
        print(f"test:  {_scores(net, X_test, y_test)}")
    else:
        print(f"test:  none (--test-size 0): the train scores are on all {len(X_train)} rows")
    if args.save:
        net.save(args.save)
        note = " (it expects inputs standardized with the training rows' mean and std)" if standardized else ""
        print(f"saved: {args.save}{note}")
    return 0


def check(args):
    X, y, name = _data(args)
    if _standardize(args):  # here over all rows: the check needs inputs of a sane scale, not a fair test
        X = datasets.standardize(X)[0]
    net = load(args.model) if args.model else _network(args, X.shape[1], y)
    X, y = X[: args.samples], y[: args.samples]
    print(f"gradient check of {net} on {len(X)} rows of {name}:")
    report = gradcheck(net, X, y)
    print(report)
    return 0 if report.passed else 1


def demo(args):
    seed = args.seed
    print("chainrule demo: two small networks trained from scratch by backpropagation.\n")

    X, y = datasets.xor()
    net = Network([Dense(2, 4, "sigmoid"), Dense(4, 1, "sigmoid")], loss="bce", seed=seed)
    xor_history = net.fit(X, y, optimizer=OPTIMIZERS["sgd"](lr=XOR_DEMO["lr"]), epochs=XOR_DEMO["epochs"],
                          progress=False)
    p = net.predict(X)[:, 0]
    right = int(np.sum((p > 0.5) == (y == 1)))
    print("1. XOR, the lab's network: 2-4-1, sigmoid in both layers, binary cross-entropy,")
    print(f"   plain gradient descent (SGD, lr {XOR_DEMO['lr']}) on all 4 rows, {XOR_DEMO['epochs']} epochs, "
          f"seed {seed}.\n")
    print("    x1  x2 | target | prediction")
    for (x1, x2), target, prediction in zip(X, y, p):
        print(f"    {x1:2.0f}  {x2:2.0f} | {target:6d} | {prediction:10.3f}")
    loss = net.loss_value(X, y)
    if right == 4:
        print(f"\n   It learned XOR: all 4 predictions on the right side of 0.5 (loss {loss:.3g}).\n")
    else:
        print(f"\n   Not learned yet: {right} of 4 right (loss {loss:.3g}); try another --seed.\n")

    m = MOONS_DEMO
    X, y = datasets.moons(n=m["n"], noise=m["noise"])
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_size=m["test_size"], seed=seed)
    X_train, X_test, _ = datasets.standardize(X_train, X_test)
    net = Network([Dense(2, m["hidden"], "tanh"), Dense(m["hidden"], 1, "sigmoid")], loss="bce", seed=seed)
    net.fit(X_train, y_train, optimizer=OPTIMIZERS["adam"](lr=m["lr"]), epochs=m["epochs"], progress=False)
    _, test_acc = _evaluate(net, X_test, y_test)
    _, train_acc = _evaluate(net, X_train, y_train)
    print(f"2. Two moons: {m['n']} noisy points (noise {m['noise']:g}), {len(X_train)} to train, "
          f"{len(X_test)} held out, standardized")
    print(f"   with the training points' mean and std. Network 2-{m['hidden']}-1, tanh hidden, sigmoid output,")
    print(f"   binary cross-entropy, Adam (lr {m['lr']:g}, full batch, {m['epochs']} epochs, seed {seed}).\n")
    print(f"   Test accuracy {test_acc:.3f} on the {len(X_test)} held-out points (train {train_acc:.3f}).\n")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        xor_png, moons_png = os.path.join(args.out, "xor_loss.png"), os.path.join(args.out, "moons_boundary.png")
        plotting.loss_figure(xor_png, {"2-4-1 sigmoid, bce": xor_history.loss}, "XOR: training loss (log scale)",
                             ylabel="binary cross-entropy", log=True)
        plotting.boundary_figure(moons_png, net, X_train, y_train, f"Two moons: test accuracy {test_acc:.3f}",
                                 X_test=X_test, y_test=y_test)
        print(f"Figures: {xor_png}, {moons_png}\n")
    print("Next: chainrule demo --out figures                          (these two networks' figures)")
    print("      chainrule train --data moons --hidden 16,8")
    print("      chainrule gradcheck --data xor --hidden 4")
    print("      chainrule trace examples/trace/lab-2-2-1.toml            (the lab's step, every number)")
    print("      chainrule doctor --data digits --hidden 32 --lr 5 --optimizer sgd")
    print("      chainrule experiment all --quick")
    return 0


def trace(args):
    worked = trace_spec(args.spec, steps=args.steps, hand=args.hand)
    if args.check is None:
        print(worked.render(args.format or "text", decimals=args.decimals), end="")
        return 0
    if args.format is not None:
        raise ValueError("--check prints a report of the answers, not the trace; drop --format")
    report = worked.check(args.check)
    print(report.render(decimals=args.decimals))
    return 0 if report.passed else 1


def experiment(args):
    if args.name == "all":
        out = args.out or EXPERIMENT_DIR
        experiments.run_all(out, quick=args.quick, seed=args.seed, done=_print_experiment)
        print(f"index: {experiments.index_path(out)}")
    else:
        _print_experiment(experiments.run(args.name, args.out or os.path.join(EXPERIMENT_DIR, args.name),
                                          quick=args.quick, seed=args.seed))
    return 0


def _print_experiment(ctx):
    files = ["results.json"] + [name for name, _ in ctx.figures]
    print(f"{ctx.name} ({ctx.seconds:.1f} s): {ctx.report_path}, with {', '.join(files)}")


def doctor(args):
    """Train briefly with diagnostics and print the findings; exit 1 when one is an error."""
    X, y, name = _data(args)
    standardized = _standardize(args)
    if standardized:  # over all rows: the doctor trains on all of them
        X = datasets.standardize(X)[0]
    net = load(args.model) if args.model else _network(args, X.shape[1], y)
    optimizer, lr = _optimizer(args)
    batch = "full" if args.batch_size is None else args.batch_size
    print(f"doctor: {net} on {name}, {len(X)} rows{' (standardized)' if standardized else ''}; "
          f"{args.optimizer} (lr {lr:g}), {args.epochs} epochs, batch size {batch}, seed {args.seed}")
    findings, history = diagnose(net, X, y, optimizer=optimizer, epochs=args.epochs, batch_size=args.batch_size)
    if history is None:
        print("not trained: the checks before training found errors")
    else:
        print(f"trained {history.epochs} epoch(s): loss {history.loss[0]:.4g} (epoch 1) → {history.loss[-1]:.4g}"
              if history.loss else "trained 0 epochs")
    print(format_findings(findings))
    return 1 if any(f.severity == "error" for f in findings) else 0


# ---- what the commands share ----------------------------------------------------------------


def _data(args):
    """(X, y, name) for --data: a built-in dataset or a CSV file with its --target column."""
    if args.data in datasets.DATASETS:
        if args.target:
            raise ValueError(f"--target is for CSV files; the {args.data} dataset has its own target")
        X, y = datasets.DATASETS[args.data]()
        return X, y, args.data
    if not args.data.lower().endswith(".csv") and not os.path.isfile(args.data):
        raise ValueError(
            f"unknown dataset {args.data!r}; use one of {', '.join(datasets.DATASETS)} or the path of a .csv file"
        )
    if not args.target:
        raise ValueError(f"--data {args.data} needs --target COLUMN, the name of the column to predict")
    X, y, _ = datasets.load_csv(args.data, args.target)
    return X, y, f"{args.data} (target {args.target!r})"


def _standardize(args):
    if args.standardize is not None:
        return args.standardize
    return (args.data if args.data in datasets.DATASETS else "csv") in STANDARDIZED_BY_DEFAULT


def _network(args, n_in, y):
    """The network the flags describe, sized for n_in features and the targets y.

    Default loss: bce for 0/1 labels, cross_entropy (one output per class 0 … max y) for
    other integer labels, mse for real-valued targets.
    """
    loss = args.loss
    if loss is None:
        integer = np.issubdtype(y.dtype, np.integer)
        loss = ("bce" if set(np.unique(y).tolist()) <= {0, 1} else "cross_entropy") if integer else "mse"
    n_out = int(np.max(y)) + 1 if loss == "cross_entropy" else 1
    sizes = [n_in, *args.hidden]
    layers = [Dense(a, b, args.activation) for a, b in zip(sizes, sizes[1:])]
    layers.append(Dense(sizes[-1], n_out, args.output or OUTPUT_FOR_LOSS.get(loss, "linear")))
    return Network(layers, loss=loss, seed=args.seed, l2=args.l2)


def _optimizer(args):
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    options = {"lr": lr}
    if args.momentum is not None:
        if args.optimizer == "adam":
            raise ValueError("--momentum applies to sgd and rmsprop; adam keeps its own moving averages (betas)")
        options["momentum"] = args.momentum
    return OPTIMIZERS[args.optimizer](**options), lr


def _evaluate(net, X, y):
    """(loss, accuracy or None) of the network on (X, y)."""
    return evaluate(net, *net.check_data(X, y))


def _scores(net, X, y):
    loss, accuracy = _evaluate(net, X, y)
    return f"loss {loss:.4g}" + ("" if accuracy is None else f", accuracy {accuracy:.3f}")


# ---- the parser -----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, like the library's (exit status 2)."""

    def error(self, message):
        self.exit(2, f"chainrule: error: {message} (see '{self.prog} --help')\n")


def _hidden(text):
    """'16,8' → [16, 8]; 'none' → [] (no hidden layer)."""
    if text.strip().lower() in ("none", "0", ""):
        return []
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of layer sizes; use e.g. 4, 16,8 or none (no hidden layer)"
        )
    return sizes


def _batch_size(text):
    if text == "full":
        return None
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer or 'full'") from None


def _positive_int(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return n


def _parser():
    data = _Parser(add_help=False)
    data.add_argument("--data", required=True, metavar="xor|moons|circles|digits|breast_cancer|PATH.csv",
                      help="a built-in dataset, or a CSV file with a header row")
    data.add_argument("--target", metavar="COLUMN", help="the column to predict (CSV files only; required there)")
    data.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=None,
                      help="scale each feature to mean 0, std 1 using the training rows "
                           "(default: on for CSV files, moons, circles and breast_cancer)")
    data.add_argument("--seed", type=int, default=0, help="seeds the weights, the shuffling and the split (default 0)")

    net = _Parser(add_help=False)
    net.add_argument("--hidden", type=_hidden, default=[16], metavar="SIZES",
                     help="hidden layer sizes: 4, or 16,8 for two layers, or none (default 16)")
    net.add_argument("--activation", default="tanh", choices=sorted(ACTIVATIONS),
                     help="hidden activation (default tanh)")
    net.add_argument("--output", choices=sorted(ACTIVATIONS),
                     help="output activation (default: sigmoid for bce, softmax for cross_entropy, linear otherwise)")
    net.add_argument("--loss", choices=sorted(LOSSES),
                     help="default: bce for 0/1 labels, cross_entropy for more classes, mse for real-valued targets")
    net.add_argument("--l2", type=float, default=0.0, help="L2 penalty λ on the weights (default 0)")

    parser = _Parser(prog="chainrule", description="Train and check neural networks written with chainrule.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="{demo,train,gradcheck,doctor,trace,experiment}")

    p = commands.add_parser("demo", help="train two small networks (XOR, moons) and show what they learned")
    p.add_argument("--seed", type=int, default=0, help="seeds the weights and the split (default 0)")
    p.add_argument("--out", metavar="DIR", help="also draw the XOR loss curve and the moons decision boundary "
                                                "as PNG files in DIR (needs matplotlib)")
    p.set_defaults(command=demo)

    p = commands.add_parser("experiment", help="run one of the seeds' experiments (or all): figures, results, report")
    p.add_argument("name", metavar="NAME", help="the experiment, or all (see the README's Experiments section)")
    p.add_argument("--out", metavar="DIR", help=f"the folder to write into (default {EXPERIMENT_DIR}/NAME, "
                                                f"or {EXPERIMENT_DIR} for all)")
    p.add_argument("--quick", action="store_true", help="a smaller version, seconds instead of minutes")
    p.add_argument("--seed", type=int, default=0, help="seeds the data and the weights (default 0)")
    p.set_defaults(command=experiment)

    p = commands.add_parser("train", parents=[data, net], help="train a network and report its loss and accuracy")
    p.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS), help="(default adam)")
    p.add_argument("--lr", type=float, help="learning rate η (default 0.1 for sgd, 0.01 for rmsprop and adam)")
    p.add_argument("--momentum", type=float, help="momentum μ for sgd or rmsprop (default 0)")
    p.add_argument("--epochs", type=_positive_int, default=200, help="(default 200)")
    p.add_argument("--batch-size", type=_batch_size, default=32, metavar="N|full", help="(default 32)")
    p.add_argument("--test-size", type=float, metavar="FRACTION",
                   help="fraction of the rows held out for testing (default 0.25; 0 for xor: all 4 rows train)")
    p.add_argument("--save", metavar="PATH.npz", help="write the trained network to this file")
    p.add_argument("--quiet", action="store_true", help="no progress bar; print only the results")
    p.set_defaults(command=train)

    p = commands.add_parser("gradcheck", parents=[data, net],
                            help="compare backpropagation's gradients with finite differences")
    p.add_argument("--model", metavar="PATH.npz",
                   help="check a saved network (the architecture flags are then ignored)")
    p.add_argument("--samples", type=_positive_int, default=8, metavar="N", help="rows in the batch (default 8)")
    p.set_defaults(command=check)

    p = commands.add_parser("trace", help="the worked solution of a small network's gradient-descent step")
    p.add_argument("spec", metavar="SPEC", help="a TOML (or .json) file: [network], [weights] and [train]")
    p.add_argument("--format", choices=FORMATS, help="text (default), markdown, latex or json")
    p.add_argument("--decimals", type=int, metavar="N",
                   help="decimal places shown (default: 6 significant digits); the arithmetic stays exact")
    p.add_argument("--steps", type=_positive_int, metavar="N", help="steps to trace (default: the spec's)")
    p.add_argument("--check", metavar="ANSWERS",
                   help="mark a learner's answers (a TOML file of values by name); exit status 1 if one is wrong")
    p.add_argument("--hand", type=int, metavar="DIGITS",
                   help="a hand calculation: round every intermediate to DIGITS decimals before using it")
    p.set_defaults(command=trace)

    p = commands.add_parser("doctor", parents=[data, net],
                            help="train briefly and report what goes wrong and why (exit 1 on an error finding)")
    p.add_argument("--model", metavar="PATH.npz", help="diagnose a saved network (the architecture flags are then ignored)")
    p.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS), help="(default adam)")
    p.add_argument("--lr", type=float, help="learning rate η (default 0.1 for sgd, 0.01 for rmsprop and adam)")
    p.add_argument("--momentum", type=float, help="momentum μ for sgd or rmsprop (default 0)")
    p.add_argument("--epochs", type=_positive_int, default=20, help="(default 20)")
    p.add_argument("--batch-size", type=_batch_size, default=32, metavar="N|full", help="(default 32)")
    p.set_defaults(command=doctor)
    return parser
