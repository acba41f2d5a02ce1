"""The ``chainrule`` command: parses the flags, calls the library, prints what it did.

    chainrule demo                                  two small networks, trained in seconds
    chainrule train --data moons --hidden 16,8      train on a built-in dataset or a CSV file
    chainrule predict --model m.npz --data new.csv  predictions of a saved model for new rows
    chainrule gradcheck --data xor --hidden 4       check backpropagation against finite differences
    chainrule trace SPEC.toml --format markdown     the worked solution of one step, every number
    chainrule experiment xor --out DIR              one of the experiments: figures, results, report
    chainrule doctor --data moons --lr 5            train briefly and report what goes wrong, and why
    chainrule playground                            a page on this machine that shows training as it happens
    chainrule sweep SPEC.toml --out DIR             a grid of networks × seeds, trained in stacks (or on Dask)

A user error (an unknown dataset, a missing file, a bad flag value, an invalid network) is
one line on stderr, ``chainrule: error: …``, and exit status 2; never a traceback.
"""

import argparse
import csv
import errno
import io
import os
import sys
import warnings
from types import SimpleNamespace

import numpy as np

from . import __version__, datasets, experiments, files, memory, metrics, modelfile, plotting
from .activations import ACTIVATIONS
from .datasets.table import Table, read_csv
from .diagnostics import DiagnosticWarning, diagnose, format_findings
from .experiments.context import is_output as is_experiment_output
from .gradcheck import gradcheck
from .layers import Dense
from .losses import LOSSES, get_loss
from .network import Network, load, mlp_layers
from .optimizers import OPTIMIZERS
from .tabular import IMPUTE, MAX_CATEGORIES, MAX_CLASSES, TASKS, Model, Preprocessor, prepare
from .tabular import codes as class_codes
from .tracing import trace as trace_spec
from .tracing.render import FORMATS
from .training import evaluate

__all__ = ["main"]

# What the demo trains: a 2-4-1 XOR network, then a moons classifier. Both settings were
# checked over many seeds: XOR learned for every one of 100 seeds, moons ≥ 0.95 test accuracy
# for every one of 30.
XOR_DEMO = {"lr": 1.0, "epochs": 2000}
MOONS_DEMO = {"n": 500, "noise": 0.2, "hidden": 16, "lr": 0.02, "epochs": 500, "test_size": 0.25}

DEFAULT_LR = {"sgd": 0.1, "rmsprop": 0.01, "adam": 0.01}
STANDARDIZED_BY_DEFAULT = ("moons", "circles", "breast_cancer", "csv")
EXPERIMENT_DIR = "experiment-results"  # where `chainrule experiment` writes without --out
DEMO_FIGURES = ("xor_loss.png", "moons_boundary.png")

# Limits, each raisable by a flag: a CSV file's size (parsing holds every field as a Python string,
# about 15 bytes of memory a byte of file) and the classes of a cross_entropy target (one output each)
MAX_CSV_MB = 100
# Vectors of θ's size that training keeps: θ, its gradient, the optimizer's state (Adam: two
# moments), early stopping's best weights, and a spare for the step's temporaries
COPIES_OF_THETA = 6


def main(argv=None):
    """Run the ``chainrule`` command with ``argv`` (default: sys.argv[1:]); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a flag argparse rejected (status 2)
        return e.code
    held = []  # NumPy's RuntimeWarnings: shown after the command's output, and not before an error
    try:
        with warnings.catch_warnings():
            warnings.showwarning = lambda message, category, *_, **__: _show_warning(message, category, held)
            status = args.command(args)
    except (ValueError, ImportError) as e:
        return _error(str(e))
    except OSError as e:
        return _error(_os_error(e))
    except MemoryError as e:
        return _error(f"out of memory ({str(e) or 'MemoryError'}); use a smaller network (--hidden), a smaller "
                      "--batch-size or fewer rows")
    except RecursionError:
        return _error("the input is nested too deeply for Python to read (its recursion limit); flatten it")
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130
    for text in dict.fromkeys(held):
        print(f"chainrule: warning: {text}", file=sys.stderr)
    return status


def _error(message):
    """Print the one line of a user error; return its exit status, 2."""
    print(f"chainrule: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def _os_error(e):
    """An OSError as one line: the path, what went wrong, and what to do ("[Errno 17] File exists:
    'out'" becomes "'out': file exists; a file is in the way; remove it or choose another path")."""
    fixes = {errno.EEXIST: "a file is in the way; remove it or choose another path",
             errno.ENOTDIR: "a file is in the way where a folder should be; choose another path",
             errno.EACCES: "check its permissions, or choose another path",
             errno.EPERM: "check its permissions, or choose another path",
             errno.EROFS: "the file system is read-only; choose another path",
             errno.ENOSPC: "the disk is full; free some space or choose another path"}
    if not e.strerror:
        return str(e)
    where = f"{e.filename!r}: " if e.filename else ""
    return f"{where}{e.strerror.lower()}" + (f"; {fixes[e.errno]}" if e.errno in fixes else "")


def _show_warning(message, category, held):
    """A warning (a diagnostic finding, a stopped run) as one line on stderr, without the Python
    file and source line that mean nothing on the command line; NumPy's RuntimeWarnings (overflow,
    invalid value) are ``held`` for the end of the command, so that none comes before an error."""
    text = " ".join(str(message).split())
    if issubclass(category, RuntimeWarning):
        held.append(text)
    # a diagnostic finding's text starts with its severity ("warning [code] …")
    elif isinstance(message, DiagnosticWarning):
        print(f"chainrule: {text}", file=sys.stderr)
    else:
        print(f"chainrule: warning: {text}", file=sys.stderr)


# ---- the commands ---------------------------------------------------------------------------


def train(args):
    if args.save:
        _check_save(args)  # before anything is trained
    test_size = args.test_size if args.test_size is not None else (0.0 if args.data == "xor" else 0.25)
    data = _data(args, test_size)
    X_train, y_train = data.X_train, data.y_train
    net = _network(args, X_train.shape[1], data.preprocessor.target,
                   rows=min(args.batch_size or len(X_train), len(X_train)))
    optimizer, lr = _optimizer(args)
    say = (lambda *a: None) if args.quiet else print
    for note in data.notes:
        say(note)
    say(f"data: {data.name}, {data.rows} rows × {X_train.shape[1]} features; {len(X_train)} to train, "
        f"{len(data.X_test)} to test" + ("; standardized with the training rows' mean and std" if data.standardized else ""))
    say(f"network: {net}")
    batch = "full" if args.batch_size is None else args.batch_size
    say(f"training: {args.optimizer} (lr {lr:g}), {args.epochs} epochs, batch size {batch}, seed {args.seed}")

    history = net.fit(X_train, _loss_targets(net, y_train), optimizer=optimizer, epochs=args.epochs,
                      batch_size=args.batch_size, progress=not args.quiet)

    if history.stop_reason:
        print(f"stopped: {history.stop_reason}")
    model = Model(net, data.preprocessor)
    details = _report(model, "train", X_train, y_train)
    if len(data.X_test):
        details = _report(model, "test", data.X_test, data.y_test)
    else:
        print(f"test:  none (--test-size 0): the train scores are on all {len(X_train)} rows")
    for line in details:
        print(line)
    if history.diverged:  # the weights are the last finite ones, of a run that did not converge
        if args.save:
            print(f"not saved: training diverged, so {args.save} was left as it was")
        return 1
    if args.save:
        model.save(args.save)
        print(f"saved: {args.save} (the network and its preprocessing: chainrule predict --model {args.save} "
              "--data NEW.csv)")
    return 0


def predict(args):
    """Predictions for the rows of a CSV file, from a model saved by ``train --save``."""
    model = Model.load(args.model)
    if args.proba and model.target.task == "regression":
        raise ValueError(f"--proba needs a classifier; {args.model!r} predicts the number {model.target.name!r} "
                         "(leave out --proba)")
    if args.out:
        _check_predictions_out(args)  # before the data is read
    table = _read_csv(args)
    X = model.preprocessor.transform(table)
    outputs = model.network.predict(X)
    target = model.target
    header, columns = [target.name], [model.decode(outputs)]
    if args.proba:
        header += [f"P({label})" for label in target.classes]
        columns += list(model.probabilities(outputs).T)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*[[_cell(v) for v in column] for column in columns]))
    if not args.out:
        sys.stdout.write(text.getvalue())
        return 0
    files.write(args.out, text.getvalue())
    print(f"predictions: {args.out}, {len(table)} rows ({target.task} of {target.name!r})")
    if target.name in table.names:  # the answers are there: how good the predictions are
        _score_predictions(model, table, X)
    return 0


def _score_predictions(model, table, X):
    """Print the scores of the predictions for X against the target column of ``table``, on the rows
    that have a target; a label the model does not know is said, not scored."""
    name = model.target.name
    rows = np.flatnonzero(~table.missing(name))
    try:
        y = model.target.encode(table.take(rows))
    except ValueError as e:
        print(f"not scored against {name!r}: {e}")
        return
    against = f"{name!r} in {table.source}" + (f", {len(rows):,} rows with a value" if len(rows) < len(table) else "")
    if len(rows):
        for line in _report(model, "scores", X[rows], y, against=against):
            print(line)


def check(args):
    net, saved = _saved(args)
    # standardized over all rows (or as the model's preprocessing says): the check needs inputs of a sane
    # scale, not a fair test
    data = _data(args, 0.0, saved)
    X, y, name = data.X_train, data.y_train, data.name
    net = net or _network(args, X.shape[1], data.preprocessor.target, rows=min(args.samples, len(X)))
    X, y = X[: args.samples], _loss_targets(net, y[: args.samples])
    print(f"gradient check of {net} on {len(X)} rows of {name}:")
    # without the flag, the library's own default (every entry, or a sample of a large network)
    report = gradcheck(net, X, y, **({} if args.max_entries is None else {"max_entries": args.max_entries}))
    print(report)
    return 0 if report.passed else 1


def demo(args):
    seed = args.seed
    if args.out:  # before anything is trained
        _check_out(args.out, [os.path.join(args.out, name) for name in DEMO_FIGURES], args.force)
    print("chainrule demo: two small networks trained from scratch by backpropagation.\n")

    X, y = datasets.xor()
    net = Network([Dense(2, 4, "sigmoid"), Dense(4, 1, "sigmoid")], loss="bce", seed=seed)
    xor_history = net.fit(X, y, optimizer=OPTIMIZERS["sgd"](lr=XOR_DEMO["lr"]), epochs=XOR_DEMO["epochs"],
                          progress=False)
    p = net.predict(X)[:, 0]
    right = int(np.sum((p > 0.5) == (y == 1)))
    print("1. XOR: a 2-4-1 network, sigmoid in both layers, binary cross-entropy,")
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
        xor_png, moons_png = (os.path.join(args.out, name) for name in DEMO_FIGURES)
        plotting.loss_figure(xor_png, {"2-4-1 sigmoid, bce": xor_history.loss}, "XOR: training loss (log scale)",
                             ylabel="binary cross-entropy", log=True)
        plotting.boundary_figure(moons_png, net, X_train, y_train, f"Two moons: test accuracy {test_acc:.3f}",
                                 X_test=X_test, y_test=y_test)
        print(f"Figures: {xor_png}, {moons_png}\n")
    print("Next: chainrule demo --out figures                          (these two networks' figures)")
    print("      chainrule train --data moons --hidden 16,8")
    print("      chainrule gradcheck --data xor --hidden 4")
    print("      chainrule trace examples/trace/lab-2-2-1.toml            (a 2-2-1 step, every number)")
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


def playground(args):
    from .playground import serve

    serve(host=args.host, port=args.port, open_browser=not args.no_browser)
    return 0


def experiment(args):
    if args.name == "all":
        out = args.out or EXPERIMENT_DIR
        _check_out(out, [experiments.index_path(out)], args.force)
        for name in experiments.NAMES:
            _check_out(os.path.join(out, name), _experiment_files(os.path.join(out, name)), args.force, given=out)
        experiments.run_all(out, quick=args.quick, seed=args.seed, done=_print_experiment)
        print(f"index: {experiments.index_path(out)}")
    else:
        experiments.title(args.name)  # an unknown name is refused before the folder is looked at
        out = args.out or os.path.join(EXPERIMENT_DIR, args.name)
        _check_out(out, _experiment_files(out), args.force)
        _print_experiment(experiments.run(args.name, out, quick=args.quick, seed=args.seed))
    return 0


def sweep(args):
    from .sweeps import sweep as run_sweep

    runs = run_sweep(args.spec, scheduler=args.scheduler, out=args.out)
    print(f"{len(runs)} runs: {os.path.join(args.out, 'runs.csv')}, summary.csv, results.json and figures in {args.out}")
    return 0


def _print_experiment(ctx):
    files = ["results.json"] + [name for name, _ in ctx.figures]
    print(f"{ctx.name} ({ctx.seconds:.1f} s): {ctx.report_path}, with {', '.join(files)}")


def doctor(args):
    """Train briefly with diagnostics and print the findings; exit 1 when one is an error."""
    net, saved = _saved(args)
    data = _data(args, 0.0, saved)  # standardized over all rows: the doctor trains on all of them
    X, y, name, standardized = data.X_train, data.y_train, data.name, data.standardized
    net = net or _network(args, X.shape[1], data.preprocessor.target, rows=min(args.batch_size or len(X), len(X)))
    y = _loss_targets(net, y)
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


def _saved(args):
    """(network, its preprocessing or None) of --model; (None, None) without the flag."""
    if not args.model:
        return None, None
    _, _, section = modelfile.read(args.model, preprocessing=True)
    return load(args.model), None if section is None else Preprocessor.from_dict(section)


def _data(args, test_size, saved=None):
    """What --data gives a command: X_train, y_train, X_test, y_test, the fitted ``preprocessor`` and
    ``notes`` (lines that say what was decided). --data is read as a table (a CSV file, or a built-in
    dataset as columns x1 … xD and 'target') and prepared by ``tabular.prepare``; or, with a ``saved``
    model's preprocessing, all its rows are prepared by that."""
    if saved is not None:
        return _saved_data(args, saved)
    table, target, name = _table(args)
    standardized = _standardize(args)
    prepared = prepare(table, target, task=_task(args), test_size=test_size, seed=args.seed, impute=args.impute,
                       drop_missing=args.drop_missing, drop=args.drop, standardize=standardized,
                       max_classes=args.max_classes, max_categories=args.max_categories)
    return SimpleNamespace(**vars(prepared), name=name, standardized=standardized)


def _saved_data(args, pre):
    table, target_name, name = _table(args, pre.target.name)
    if args.drop_missing:
        table, _ = table.drop_missing([*pre.columns, target_name])
    X, y = pre.transform(table), pre.target.encode(table)
    return SimpleNamespace(X_train=X, y_train=y, X_test=X[:0], y_test=y[:0], preprocessor=pre, name=name,
                           rows=len(table), standardized=pre.mean is not None,
                           notes=[f"prepared as the model {args.model} prepares its rows"])


def _table(args, target=None):
    """(Table, target column, name) of --data; ``target``: the column when --target is not given."""
    if args.data in datasets.DATASETS:
        if args.target:
            raise ValueError(f"--target is for CSV files; the {args.data} dataset has its own target")
        X, y = datasets.DATASETS[args.data]()
        columns = {f"x{j + 1}": X[:, j] for j in range(X.shape[1])}
        return Table({**columns, "target": y.astype(np.float64)}, args.data), "target", args.data
    if not args.data.lower().endswith(".csv") and not os.path.exists(args.data):
        raise ValueError(
            f"unknown dataset {args.data!r}; use one of {', '.join(datasets.DATASETS)} or the path of a .csv file"
        )
    target = args.target or target
    if not target:
        raise ValueError(f"--data {args.data} needs --target COLUMN, the name of the column to predict")
    table = _read_csv(args)
    table.check_column(target)
    return table, target, f"{args.data} (target {target!r})"


def _read_csv(args):
    """The Table of the CSV file --data, refused over --max-csv-mb."""
    try:
        size = os.stat(args.data).st_size
    except OSError:
        size = 0  # read_csv says what is wrong with the path
    if size > args.max_csv_mb * 2**20:
        raise ValueError(f"{args.data!r} has {memory.size(size)}, more than the {memory.size(args.max_csv_mb * 2**20)} "
                         f"a CSV file may have (reading it takes about 15 times its size in memory); raise the "
                         f"limit with --max-csv-mb {size // 2**20 + 1}")
    return read_csv(args.data, delimiter=args.delimiter)


def _task(args):
    """--task, or the task --loss implies; refused when the two disagree."""
    if args.loss is None:
        return args.task
    implied = "classification" if get_loss(args.loss).classification else "regression"
    if args.task not in (None, implied):
        raise ValueError(f"--loss {args.loss} is a {implied} loss but --task is {args.task}; drop one of them")
    return implied


def _loss_targets(net, y):
    """The targets the loss takes: hinge's are −1 and +1 (class codes 1 and 0); the others', y itself."""
    if net.loss.name != "hinge":
        return y
    return 2 * y - 1


def _standardize(args):
    if args.standardize is not None:
        return args.standardize
    return (args.data if args.data in datasets.DATASETS else "csv") in STANDARDIZED_BY_DEFAULT


def _network(args, n_in, target, rows):
    """The network the flags describe, sized for n_in features and the ``target`` (a
    chainrule.tabular.Target), after checking that training it on batches of ``rows`` rows fits in
    this machine's memory.

    Default loss: bce for two classes, cross_entropy (one output per class) for more, mse for a
    number to predict.
    """
    classes = target.classes or []
    loss = get_loss(args.loss or ("mse" if target.task == "regression" else
                                  "bce" if len(classes) == 2 else "cross_entropy"))
    if loss.classification and not loss.one_unit_per_class and len(classes) > 2:
        raise ValueError(f"--loss {loss.name} separates two classes; the target has {len(classes)} "
                         "(use --loss cross_entropy)")
    n_out = len(classes) if loss.one_unit_per_class else 1
    sizes = [n_in, *args.hidden, n_out]
    _check_memory(sizes, rows)
    # the output the loss pairs with (sigmoid for bce, softmax for cross_entropy), linear otherwise
    output = args.output or (loss.fuses.name if loss.fuses else "linear")
    layers = mlp_layers(sizes, args.activation, output, batch_norm=args.batch_norm, residual=args.residual)
    return Network(layers, loss=loss, seed=args.seed, l2=args.l2)


def _check_memory(sizes, rows, itemsize=8):
    """Refuse a network that would not fit in the memory available: COPIES_OF_THETA vectors of its
    parameters, and a batch's z, a, δ and scratch buffers in every layer."""
    params = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    memory.require(itemsize * (COPIES_OF_THETA * params + 4 * rows * sum(sizes[1:])),
                   f"the network {'-'.join(map(str, sizes))} has {params:,} parameters: training it on batches of "
                   f"{rows:,} rows", "use fewer or smaller hidden layers (--hidden) or a smaller --batch-size")


def _check_save(args):
    """--save PATH: refuse, before anything is trained, a path that cannot be written, the input data,
    or (without --force) a file there that is not a chainrule model."""
    path = args.save
    try:
        files.check_writable(path)
    except ValueError as e:
        raise ValueError(f"--save {path}: {e}") from None
    if not os.path.exists(path):
        return
    if args.data not in datasets.DATASETS and os.path.exists(args.data) and os.path.samefile(path, args.data):
        raise ValueError(f"--save {path}: that is the input data file --data; save the model under another name")
    if not args.force and not modelfile.is_model_file(path):
        raise ValueError(f"--save {path}: a file that is not a chainrule model is there; choose another path, "
                         "or pass --force to overwrite it")


def _check_out(folder, paths, force, given=None):
    """--out DIR: refuse, before any work, a folder that cannot be created or written, or (without
    --force) one of ``paths`` there that chainrule did not write. ``given``: the --out the user
    typed, when ``folder`` is inside it."""
    flag = f"--out {given or folder}"
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise ValueError(f"{flag}: {folder!r} is a file, not a folder; give a folder (it is created if missing)")
    try:
        files.check_folder(folder, missing_ok=True)
    except ValueError as e:
        raise ValueError(f"{flag}: {e}") from None
    for path in paths:
        if os.path.islink(path) or os.path.isdir(path):  # what files.write refuses, --force or not
            raise ValueError(f"{flag}: {path!r} is a symbolic link or a folder, where chainrule writes a file; "
                             "remove it or choose another folder")
        if not force and os.path.lexists(path) and not _ours(path):
            raise ValueError(f"{flag}: {path!r} is there and chainrule did not write it; choose another folder, "
                             "or pass --force to overwrite it")


def _ours(path):
    """Whether the file at ``path`` is one chainrule writes: a figure, an experiment's report or results."""
    return plotting.is_chainrule_png(path) if path.endswith(".png") else is_experiment_output(path)


def _experiment_files(folder):
    """What an experiment may overwrite in ``folder``: its results.json and report.md, and any PNG
    there (its figures' names are known only once it runs)."""
    try:
        pngs = sorted(entry.path for entry in os.scandir(folder) if entry.name.endswith(".png"))
    except OSError:
        pngs = []  # no folder yet; _check_out reports one that cannot be created
    return [os.path.join(folder, "results.json"), os.path.join(folder, "report.md"), *pngs]


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


def _report(model, label, X, y, against=None):
    """Print the line "label: loss …, accuracy …" (classes) or "label: loss …, R² …, RMSE …, …"
    (numbers) of ``model`` on the prepared rows (X, y); return the lines of its details (each class's
    precision, recall and F1, the confusion matrix) for the caller to print."""
    net, target = model.network, model.target
    loss, _ = _evaluate(net, X, _loss_targets(net, y))
    outputs = net.predict(X)
    where = f" (against {against})" if against else ""
    if target.task == "regression":
        scores = metrics.regression(target.decode(y), model.decode(outputs), target.mean)
        print(f"{label + ':':<6} loss {loss:.4g}, {metrics.format_regression(scores)}{where}")
        return []
    scores = metrics.classification(y, class_codes(outputs, net.loss.name), len(target.classes))
    print(f"{label + ':':<6} loss {loss:.4g}, accuracy {scores['accuracy']:.3f}{where}")
    return [f"{label}, by class:", *metrics.format_classification(scores, target.classes)]


def _check_predictions_out(args):
    """--out PATH of predict: refuse, before the data is read, a path that cannot be written, the
    input files, or (without --force) a file that is there."""
    path = args.out
    try:
        files.check_writable(path)
    except ValueError as e:
        raise ValueError(f"--out {path}: {e}") from None
    if not os.path.exists(path):
        return
    for flag, given in (("--data", args.data), ("--model", args.model)):
        if os.path.exists(given) and os.path.samefile(path, given):
            raise ValueError(f"--out {path}: that is the {flag} file; write the predictions under another name")
    if not args.force:
        raise ValueError(f"--out {path}: a file is there; choose another path, or pass --force to overwrite it")


def _cell(value):
    """A prediction as CSV text: a label as it is, a number in as many digits as it takes to read back."""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value.item() if isinstance(value, np.generic) else value)


# ---- the parser -----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, like the library's (exit status 2)."""

    def error(self, message):
        self.exit(2, f"chainrule: error: {message} (see '{self.prog} --help')\n")

    def parse_args(self, args=None, namespace=None):
        """As argparse's, but a flag the command does not know points at that command's help."""
        known, extras = self.parse_known_args(args, namespace)
        if extras:
            self.exit(2, f"chainrule: error: unrecognized arguments: {' '.join(extras)} "
                         f"(see '{self.prog} {known.subcommand} --help')\n")
        return known


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


def _positive_float(text):
    try:
        x = float(text)
    except ValueError:
        x = 0.0
    if not 0 < x < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return x


def _data_flags():
    """The parent parser of the flags that choose the data: train, gradcheck and doctor share it."""
    data = _Parser(add_help=False)
    data.add_argument("--data", required=True, metavar="xor|moons|circles|digits|breast_cancer|PATH.csv",
                      help="a built-in dataset, or a CSV file with a header row")
    data.add_argument("--target", metavar="COLUMN", help="the column to predict (CSV files only; required there)")
    data.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=None,
                      help="scale each feature to mean 0, std 1 using the training rows "
                           "(default: on for CSV files, moons, circles and breast_cancer)")
    data.add_argument("--seed", type=int, default=0, help="seeds the weights, the shuffling and the split (default 0)")
    _csv_flags(data)
    data.add_argument("--task", choices=TASKS, help="what the target is (default: classification for text or at "
                                                    "most 20 distinct whole numbers, regression otherwise)")
    missing = data.add_mutually_exclusive_group()  # fill the missing cells, or drop their rows: one of the two
    missing.add_argument("--impute", choices=IMPUTE, help="fill missing cells with the training rows' mean, median "
                                                          "or most frequent value of the column (text columns: the "
                                                          "most frequent); default: missing cells are an error")
    missing.add_argument("--drop-missing", action="store_true", help="leave out the rows with a missing cell")
    data.add_argument("--drop", type=_columns, action="extend", default=[], metavar="COL[,COL…]",
                      help="leave out these columns (repeatable)")
    data.add_argument("--max-categories", type=_positive_int, default=MAX_CATEGORIES, metavar="K",
                      help=f"refuse a text column with more distinct values than this (one input each; "
                           f"default {MAX_CATEGORIES})")
    return data


def _csv_flags(parser):
    parser.add_argument("--delimiter", type=_delimiter, metavar="CHAR",
                        help="the character between a CSV file's cells (default: found from the file among , ; tab |)")
    parser.add_argument("--max-csv-mb", type=_positive_float, default=MAX_CSV_MB, metavar="MB",
                        help=f"refuse a CSV file larger than this (default {MAX_CSV_MB} MiB)")


def _delimiter(text):
    """One character, or 'tab' (a tab is awkward to type in a shell)."""
    text = "\t" if text.lower() in ("tab", "\\t") else text
    if len(text) != 1 or text in "\"\r\n" or text.isalnum():
        raise argparse.ArgumentTypeError(f"{text!r} is not a delimiter; give one character such as , ; | or tab")
    return text


def _columns(text):
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of column names; use e.g. id or id,notes")
    return names


def _network_flags():
    """The parent parser of the flags that describe the network: train, gradcheck and doctor share it."""
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
    net.add_argument("--batch-norm", action="store_true",
                     help="batch-normalize every hidden layer's z before its activation (BatchNorm layers)")
    net.add_argument("--residual", action="store_true",
                     help="make every hidden layer after the first a residual block a + F(a)")
    net.add_argument("--max-classes", type=_positive_int, default=MAX_CLASSES, metavar="K",
                     help=f"refuse a classification target with more classes than this (default {MAX_CLASSES})")
    return net


def _parser():
    data, net = _data_flags(), _network_flags()
    parser = _Parser(prog="chainrule", description="Train and check neural networks written with chainrule.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(title="commands", dest="subcommand", required=True,
                                     metavar="{demo,train,predict,gradcheck,doctor,trace,experiment,sweep,playground}")

    p = commands.add_parser("demo", help="train two small networks (XOR, moons) and show what they learned")
    p.add_argument("--seed", type=int, default=0, help="seeds the weights and the split (default 0)")
    p.add_argument("--out", metavar="DIR", help="also draw the XOR loss curve and the moons decision boundary "
                                                "as PNG files in DIR (needs matplotlib)")
    p.add_argument("--force", action="store_true", help="overwrite files in DIR that chainrule did not write")
    p.set_defaults(command=demo)

    _experiment_parser(commands)
    p = commands.add_parser("train", parents=[data, net, _training_flags(epochs=200)],
                            help="train a network and report its loss and accuracy")
    p.add_argument("--test-size", type=float, metavar="FRACTION",
                   help="fraction of the rows held out for testing (default 0.25; 0 for xor: all 4 rows train)")
    p.add_argument("--save", metavar="PATH.npz", help="write the trained network to this file (a chainrule model "
                                                      "file there is replaced; any other file only with --force)")
    p.add_argument("--force", action="store_true", help="let --save overwrite a file that is not a chainrule model")
    p.add_argument("--quiet", action="store_true", help="no progress bar; print only the results")
    p.set_defaults(command=train)

    _predict_parser(commands)
    p = commands.add_parser("gradcheck", parents=[data, net],
                            help="compare backpropagation's gradients with finite differences")
    p.add_argument("--model", metavar="PATH.npz",
                   help="check a saved network (the architecture flags are then ignored)")
    p.add_argument("--samples", type=_positive_int, default=8, metavar="N", help="rows in the batch (default 8)")
    p.add_argument("--max-entries", type=_positive_int, metavar="N",
                   help="check a random sample of N entries of each parameter (default: the library's, "
                        "chainrule.gradcheck's max_entries)")
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

    p = commands.add_parser("doctor", parents=[data, net, _training_flags(epochs=20)],
                            help="train briefly and report what goes wrong and why (exit 1 on an error finding)")
    p.add_argument("--model", metavar="PATH.npz", help="diagnose a saved network (the architecture flags are then ignored)")
    p.set_defaults(command=doctor)
    _sweep_parser(commands)
    _playground_parser(commands)
    return parser


def _experiment_parser(commands):
    p = commands.add_parser("experiment", help="run one of the experiments (or all): figures, results, report")
    p.add_argument("name", metavar="NAME", help="the experiment, or all (see the README's Experiments section)")
    p.add_argument("--out", metavar="DIR", help=f"the folder to write into (default {EXPERIMENT_DIR}/NAME, "
                                                f"or {EXPERIMENT_DIR} for all)")
    p.add_argument("--quick", action="store_true", help="a smaller version, seconds instead of minutes")
    p.add_argument("--seed", type=int, default=0, help="seeds the data and the weights (default 0)")
    p.add_argument("--force", action="store_true", help="overwrite files in DIR that chainrule did not write")
    p.set_defaults(command=experiment)


def _predict_parser(commands):
    p = commands.add_parser("predict", help="predict with a model saved by train --save, for the rows of a CSV file")
    p.add_argument("--model", required=True, metavar="PATH.npz", help="a model file written by chainrule train --save")
    p.add_argument("--data", required=True, metavar="PATH.csv",
                   help="the rows: a CSV file with the training columns (others are ignored)")
    p.add_argument("--out", metavar="PATH.csv", help="write the predictions here (default: to standard output); "
                                                     "with the target column in --data, also print the scores")
    p.add_argument("--proba", action="store_true", help="also each class's probability, a column each")
    p.add_argument("--force", action="store_true", help="let --out overwrite a file that is there")
    _csv_flags(p)
    p.set_defaults(command=predict)


def _playground_parser(commands):
    p = commands.add_parser("playground", help="serve a page on this machine that shows a network training, "
                                               "and the numbers behind every weight")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="(default 8765)")
    p.add_argument("--no-browser", action="store_true", help="do not open the page in the browser")
    p.set_defaults(command=playground)


def _sweep_parser(commands):
    p = commands.add_parser("sweep", help="train a grid of configurations × seeds, stacked, here or on Dask")
    p.add_argument("spec", metavar="SPEC", help="a TOML (or .json) file: [data], [network], [train] (see the README)")
    p.add_argument("--out", metavar="DIR", required=True,
                   help="write runs.csv, summary.csv, results.json and figures here; a rerun skips finished runs")
    p.add_argument("--scheduler", default="local", metavar="local|processes|ADDRESS",
                   help="local (default: this process), processes (a Dask cluster on this machine's cores), "
                        "or a Dask scheduler's address, tcp://host:8786")
    p.set_defaults(command=sweep)


def _training_flags(epochs):
    """The parent parser of a training run's flags, which train and doctor share; ``epochs`` is the
    command's default (a parser of its own for each: argparse's set_defaults would change the
    default of the flag object both commands hold)."""
    training = _Parser(add_help=False)
    training.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS), help="(default adam)")
    training.add_argument("--lr", type=float, help="learning rate η (default 0.1 for sgd, 0.01 for rmsprop and adam)")
    training.add_argument("--momentum", type=float, help="momentum μ for sgd or rmsprop (default 0)")
    training.add_argument("--epochs", type=_positive_int, default=epochs, help=f"(default {epochs})")
    training.add_argument("--batch-size", type=_batch_size, default=32, metavar="N|full", help="(default 32)")
    return training
