"""A sweep's runs as groups: the runs that share an architecture (and optimizer class, batch size and
epochs) train together in one stack (``chainrule.stacked``), or, for networks the stacked engine does
not take (BatchNorm layers, residual blocks), one after another with ``fit``; each group is one task,
whatever runs it, and seeds decide everything it computes."""

import hashlib
import json
import math
import os
import re
import time
import warnings

import numpy as np

from .. import datasets, memory
from ..datasets.table import read_csv
from ..batches import batch_rows
from ..layers import walk
from ..losses import get_loss
from ..network import Network, mlp_layers
from ..optimizers import OPTIMIZERS
from ..stacked import fit_stacked, signature
from ..tabular import prepare
from ..training import Diverged, evaluate, fit
from .spec import SECTIONS

__all__ = ["Group", "load_data", "plan", "check", "memory_needed", "run_group", "network", "stackable", "CURVE_POINTS",
           "GROUP_SIZE"]

GROUP_SIZE = 1024  # the most runs in one stack: a group's memory is this many networks' at most
CURVE_POINTS = 200  # a configuration's mean loss curve keeps at most this many epochs
MAX_CSV_MB = 100  # as ``chainrule train``'s --max-csv-mb
# What one run of a group holds while the group trains and is scored, in bytes (float64 throughout). Per
# parameter: its network's θ and gradient, the stack's copy of both, its optimizer's state (the step, and
# Adam's two moments), and the copy of a layer's weights side by side that a full batch's product makes
# (at most all of them). Per epoch: its loss in the stack's record (and the record stacked), in its
# History a Python float (24 bytes and a list slot) and list slots for the epoch's time, gradient norm and
# accuracy, and its configuration's mean curve (the padded losses and their mean). Per unit of a layer
# and row: z, a, δ, log a, scratch and BatchNorm's x̂, for the rows of the workspaces a network keeps
# (a batch and a shorter last one, and evaluation's: every training row, every held-out row).
PARAMETER_BYTES = 8 * 8
EPOCH_BYTES = 2 * 8 + 32 + 3 * 8 + 2 * 8
UNIT_BYTES = 6 * 8


class Group:
    """Runs trained in one stack: ``members``, a list of (configuration index, configuration, seed);
    ``id``, a digest of the data and the members' configurations and seeds, which names the group's
    file in the output folder. The indices are not in it: they are the spec's, and another spec may
    hold the same configurations at other ones (``output.Folder.finished`` relabels a kept file)."""

    def __init__(self, members, data):
        self.members = members
        text = json.dumps({"data": data, "runs": [[config, seed] for _, config, seed in members]}, sort_keys=True)
        self.id = hashlib.sha256(text.encode()).hexdigest()[:20]

    def __len__(self):
        return len(self.members)


def plan(spec, data, group_size=GROUP_SIZE):
    """The groups of a checked ``SweepSpec`` on ``data`` (``load_data``'s arrays, whose digest is part of
    each group's id: a changed CSV file is trained again): configurations that share what a stack must
    share (the whole [network] table, the optimizer class, batch size and epochs), with all their seeds,
    in chunks of at most ``group_size`` runs."""
    digest = hashlib.sha256()
    for array in data:
        digest.update(np.ascontiguousarray(array).tobytes())
    described = {**spec.data, "digest": digest.hexdigest()}
    shared = {}
    for index, config in enumerate(spec.configs()):
        key = json.dumps([config[k] for k in (*SECTIONS["network"], "optimizer", "batch_size", "epochs")])
        shared.setdefault(key, []).extend((index, config, seed) for seed in spec.seeds)
    return [Group(members[start : start + group_size], described)
            for members in shared.values() for start in range(0, len(members), group_size)]


def load_data(data, seed=0):
    """(X_train, y_train, X_val, y_val) for a [data] table: a built-in data set, split (``test_size``, the
    split seeded by ``seed``) and standardized with the training rows' statistics when asked; or a CSV
    file prepared as ``chainrule train`` prepares it (``tabular.prepare``)."""
    if "path" in data:
        prepared = _prepare_csv(data, seed)
        return prepared.X_train, prepared.y_train, prepared.X_test, prepared.y_test
    X, y = datasets.DATASETS[data["name"]]()
    X_train, X_val, y_train, y_val = datasets.train_test_split(X, y, test_size=data["test_size"], seed=seed)
    if data["standardize"]:
        X_train, X_val, _ = datasets.standardize(X_train, X_val if len(X_val) else None)
        if X_val is None:
            X_val = X_train[:0]
    return X_train, y_train, X_val, y_val


def _prepare_csv(data, seed):
    try:
        size = os.stat(data["path"]).st_size
    except OSError:
        size = 0  # read_csv says what is wrong with the path
    if size > MAX_CSV_MB * 2**20:
        raise ValueError(f"[data] path {data['path']!r} is larger than {MAX_CSV_MB} MiB, the limit of a CSV file")
    table = read_csv(data["path"])
    table.check_column(data["target"])
    try:
        return prepare(table, data["target"], task=data["task"], test_size=data["test_size"], seed=seed,
                       impute=data["impute"], drop_missing=data["drop_missing"], drop=data["drop"],
                       standardize=data["standardize"])
    except ValueError as e:
        if "--" not in str(e):
            raise
        # advice that names chainrule train's flags: say what they are in a spec
        raise ValueError(f"{e} (in a sweep spec: the [data] keys task, impute, drop_missing, drop)") from None


def network(config, n_in, y, seed=None):
    """The network of a configuration for n_in features and targets y, built as ``chainrule train``
    builds it (``mlp_layers``, with batch_norm and residual; the loss's default from y: bce for 0/1
    labels, cross_entropy for other integer labels, mse otherwise)."""
    layers, loss = _layers(config, n_in, y)
    return Network(layers, loss=loss, seed=seed, l2=config["l2"])


def _layers(config, n_in, y):
    """``network``'s layers, not yet built (no arrays: their sizes only), and its loss."""
    loss = config["loss"]
    if loss is None:
        integer = np.issubdtype(np.asarray(y).dtype, np.integer)
        loss = ("bce" if set(np.unique(y).tolist()) <= {0, 1} else "cross_entropy") if integer else "mse"
    loss = get_loss(loss)
    n_out = int(np.max(y)) + 1 if loss.one_unit_per_class else (1 if np.ndim(y) == 1 else np.shape(y)[1])
    output = config["output"] or (loss.fuses.name if loss.fuses else "linear")
    layers = mlp_layers([n_in, *config["hidden"], n_out], config["activation"], output,
                        batch_norm=config["batch_norm"], residual=config["residual"])
    return layers, loss


def stackable(net):
    """Whether the stacked engine trains networks like ``net`` (its ``signature`` refuses the others):
    the one place a sweep decides between a stack and ``fit`` one network at a time."""
    try:
        signature(net)
    except ValueError:
        return False
    return True


def check(group, data):
    """ValueError, before anything trains, when a group's network cannot be trained on ``data``: targets
    its loss refuses, or a last batch too small for its BatchNorm layers (one row has no variance); and,
    before any network is built, when the group needs more memory than this machine has."""
    X, y = data[0], data[1]
    _, config, seed = group.members[0]
    parameters = sum(layer.size for layer in _layers(config, X.shape[1], y)[0])
    memory.require(memory_needed(group, data), f"training {len(group):,} runs together (networks of {parameters:,} "
                   f"parameters, {config['epochs']:,} epochs)", "sweep fewer seeds, smaller networks or fewer epochs, "
                   "or give chainrule.sweep a smaller group_size (the most runs trained together)")
    net = network(config, X.shape[1], y, seed)
    net.check_data(X, y)
    k = batch_rows(_batch_size(config), len(X))
    net.check_rows(len(X) % k or k, f"with batch_size = {config['batch_size']}, the last training batch")


def memory_needed(group, data):
    """About the most bytes ``run_group`` holds at once for ``group`` on ``data``, from the sizes of its
    networks (none is built): PARAMETER_BYTES, EPOCH_BYTES and UNIT_BYTES for each run."""
    X, y = data[0], data[1]
    _, config, _ = group.members[0]
    layers = _layers(config, X.shape[1], y)[0]
    k = batch_rows(_batch_size(config), len(X))
    rows = k + len(X) % k + len(X) + len(data[2])
    per_run = (PARAMETER_BYTES * sum(layer.size for layer in layers) + EPOCH_BYTES * config["epochs"]
               + UNIT_BYTES * rows * sum(layer.n_out for layer in walk(layers)))
    return len(group) * per_run


def optimizer(config):
    cls = OPTIMIZERS[config["optimizer"]]
    options = {} if config["lr"] is None else {"lr": config["lr"]}
    if config["momentum"]:
        options["momentum"] = config["momentum"]
    return cls(**options)


def run_group(group, data):
    """Train a group's runs on ``data`` (``load_data``'s four arrays): in one stack, or one after another
    with ``fit`` when the stacked engine does not take its networks (``stackable``); returns
    {"id", "rows": one dict per run, "curves": {configuration index: mean training loss curve}}."""
    X, y, X_val, y_val = data
    start = time.perf_counter()
    nets = [network(config, X.shape[1], y, seed) for _, config, seed in group.members]
    _, config, _ = group.members[0]
    train = fit_stacked if stackable(nets[0]) else _fit_each
    histories = train(nets, X, y, [optimizer(c) for _, c, _ in group.members], epochs=config["epochs"],
                      batch_size=_batch_size(config))
    seconds = (time.perf_counter() - start) / len(group)
    rows = [dict(config=index, seed=seed, **_scores(net, X, y, X_val, y_val), epochs=len(history.loss),
                 seconds=seconds)
            for (index, _, seed), net, history in zip(group.members, nets, histories)]
    return {"id": group.id, "rows": rows, "curves": _curves(group, histories)}


def _batch_size(config):
    return None if config["batch_size"] == "full" else config["batch_size"]


def _fit_each(nets, X, y, optimizers, epochs, batch_size):
    """``fit_stacked``'s work and Historys, network by network: each trained by ``fit`` as the stack
    would (diagnostics off, accuracy taken at the last epoch only). A run that diverges is told by its
    epochs, as in a stack, not by fit's warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*" + re.escape(Diverged.advice), category=UserWarning)
        return [fit(net, X, y, optimizer=opt, epochs=epochs, batch_size=batch_size, record=epochs, progress=False,
                    diagnostics=False) for net, opt in zip(nets, optimizers)]


def _scores(net, X, y, X_val, y_val):
    """final_loss and accuracy or r2 on the training rows, and val_… on the held-out rows when there are any."""
    scores = {}
    for prefix, (A, b) in (("", (X, y)), ("val_", (X_val, y_val))):
        if not len(A):
            continue
        A, B = net.check_data(A, b)
        loss, accuracy = evaluate(net, A, B)
        scores["final_loss" if not prefix else "val_loss"] = float(loss)
        if net.loss.classification:
            scores[prefix + "accuracy"] = float(accuracy)
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                residual = float(np.sum((B - net.forward(A)) ** 2))
            total = float(np.sum((B - B.mean(axis=0)) ** 2))
            scores[prefix + "r2"] = 1 - residual / total if total > 0 else math.nan
    return scores


def _curves(group, histories):
    """Each configuration's mean training loss over its seeds, epoch by epoch (a run that stopped early
    counts until it stopped), at most CURVE_POINTS epochs of it."""
    by_config = {}
    for (index, _, _), history in zip(group.members, histories):
        by_config.setdefault(index, []).append(history.loss)
    curves = {}
    for index, losses in by_config.items():
        length = max(len(loss) for loss in losses)
        padded = np.full((len(losses), length), np.nan)
        for row, loss in zip(padded, losses):
            row[: len(loss)] = loss
        step = max(1, -(-length // CURVE_POINTS))
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(padded[:, ::step], axis=0) if length else np.array([])
        curves[index] = {"epoch": list(range(1, length + 1, step)), "loss": [float(v) for v in mean]}
    return curves
