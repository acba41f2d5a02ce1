"""The sweep spec: which data, and a grid over the network and its training, read from TOML or a dict.

    [data]
    name = "xor"                      # a built-in data set, or path = "file.csv" with target = "column"
    # test_size = 0.25                # optional: rows held out for validation (default 0.25; 0 for xor)
    # standardize = true              # optional (default: as ``chainrule train``)
    # impute = "median"               # a CSV file, optional, as chainrule train's --impute, --drop-missing,
    # drop_missing = false            #   --drop and --task: the file is prepared as train prepares it
    # drop = ["id"]                   #   (text columns one-hot encoded, a regression target standardized
    # task = "classification"         #   with the features, class labels as 0 … K−1)
    [network]
    hidden = [[2], [4], [8, 8]]       # each entry one architecture's hidden sizes ([4]: one architecture)
    activation = ["tanh", "sigmoid"]  # a value, or a list of values to sweep
    loss = "bce"                      # optional: from the targets, as ``chainrule train``
    output = "sigmoid"                # optional: the activation the loss pairs with, else linear
    batch_norm = [false, true]        # optional: BatchNorm after each hidden Dense (default false)
    residual = false                  # optional: hidden layers after the first as residual blocks
    [train]
    optimizer = "sgd"                 # sgd, rmsprop or adam (default adam)
    lr = [0.1, 0.5, 1.0]              # default: the optimizer's own (PyTorch's)
    momentum = 0.0                    # sgd and rmsprop
    l2 = 0.0
    batch_size = "full"               # or a number
    epochs = 1000                     # at most 1,000,000
    seeds = 50                        # seeds 0 … 49, or an explicit list
    success = { metric = "accuracy", at_least = 1.0 }   # optional: what counts as a success
    [sweep]
    max_runs = 100000                 # optional: the most runs (configurations × seeds) a sweep may have

Every key of [network] and [train] but ``seeds`` and ``success`` takes a value or a list to sweep; a
key given as a list is a swept key (a column of runs.csv), ``hidden`` as a list of lists. Instead of a
grid, a list of configurations: [[configs]] tables, each of [network] and [train] keys with one value
each, over the single values of [network] and [train]; the swept keys are then those that differ.
The networks are ``chainrule.network.mlp_layers``'s, as ``chainrule train`` builds them (batch_norm and
residual as its --batch-norm and --residual).
"""

import difflib
import itertools
import json
import math
import numbers
import os

from ..activations import ACTIVATIONS
from ..losses import LOSSES
from ..optimizers import OPTIMIZERS
from ..tracing.spec import check_document, read_document
from ..validation import integer, number

__all__ = ["SweepSpec", "read", "label", "KEYS", "MAX_RUNS"]

MAX_RUNS = 100_000
MAX_SEEDS = 100_000
MAX_EPOCHS = 1_000_000  # a run keeps its loss of every epoch: a bound on its History as on its time
# The swept keys, in the order of runs.csv's columns and of the grid.
KEYS = ("hidden", "activation", "output", "batch_norm", "residual", "loss", "optimizer", "lr", "momentum", "l2",
        "batch_size", "epochs")
SECTIONS = {
    "data": ("name", "path", "target", "test_size", "standardize", "task", "impute", "drop_missing", "drop"),
    "network": ("hidden", "activation", "output", "batch_norm", "residual", "loss"),
    "train": ("optimizer", "lr", "momentum", "l2", "batch_size", "epochs", "seeds", "success"),
    "sweep": ("max_runs",),
}
METRICS = ("final_loss", "accuracy", "r2", "val_loss", "val_accuracy", "val_r2")
STANDARDIZED_BY_DEFAULT = ("moons", "circles", "breast_cancer")
TABLE_KEYS = ("task", "impute", "drop_missing", "drop")  # how a CSV file is prepared (``tabular.prepare``)


class SweepSpec:
    """A checked spec: ``data`` (the [data] table with its defaults), ``values`` (key → the list of its
    values), ``swept`` (the keys given as lists), ``seeds``, ``success`` (or None) and ``max_runs``."""

    def __init__(self, data, values, swept, seeds, success, max_runs, listed=None):
        self.data, self.values, self.swept = data, values, swept
        self.seeds, self.success, self.max_runs, self.listed = seeds, success, max_runs, listed

    def configs(self):
        """Every configuration, a dict of KEYS: the [[configs]] list, or the grid in its order (the last key
        fastest)."""
        if self.listed is not None:
            return [dict(config) for config in self.listed]
        return [dict(zip(KEYS, combo)) for combo in itertools.product(*(self.values[key] for key in KEYS))]

    def as_dict(self):
        """The spec as results.json keeps it (every default filled in)."""
        return {"data": self.data, "values": self.values, "swept": list(self.swept), "seeds": self.seeds,
                "success": self.success, "configs": self.listed}


def read(source):
    """A ``SweepSpec`` from a TOML (or .json) path or a dict; ValueError naming the key otherwise."""
    if isinstance(source, SweepSpec):
        return source
    if isinstance(source, dict):
        check_document(source, "the sweep spec")
        document = source
    elif isinstance(source, (str, bytes, os.PathLike)):
        document = read_document(source, "sweep spec")
    else:
        raise ValueError(f"the sweep spec must be a path of a TOML file or a dict, got {type(source).__name__}")
    return parse(document)


def parse(document):
    _known(document, (*SECTIONS, "configs"), "the sweep spec")
    tables = {}
    for name in SECTIONS:
        table = document.get(name, {})
        if not isinstance(table, dict):
            raise ValueError(f"[{name}] must be a table of keys, got {table!r}")
        _known(table, SECTIONS[name], f"[{name}]")
        tables[name] = table
    data = _data(tables["data"])
    train = tables["train"]
    values, swept = _grid(tables["network"], train)
    listed = None
    if "configs" in document:
        if swept:
            raise ValueError(f"with [[configs]], [network] and [train] give one value per key (the base that each "
                             f"entry changes), but {', '.join(swept)} is a list; sweep it in the entries instead")
        listed = _listed(document["configs"], {key: v[0] for key, v in values.items()})
        swept = [key for key in KEYS if len({json.dumps(c[key]) for c in listed}) > 1]
        values = {key: list({json.dumps(c[key]): c[key] for c in listed}.values()) for key in KEYS}
    else:
        _check_pairs(values)
    seeds = _seeds(train.get("seeds", 1))
    max_runs = integer("[sweep] max_runs", tables["sweep"].get("max_runs", MAX_RUNS), low=1)
    configs = len(listed) if listed is not None else math.prod(len(values[key]) for key in KEYS)
    if configs * len(seeds) > max_runs:
        raise ValueError(f"the sweep has {configs:,} configurations × {len(seeds):,} seeds = {configs * len(seeds):,} "
                         f"runs, more than the limit of {max_runs:,}; sweep fewer values, or raise [sweep] max_runs")
    return SweepSpec(data, values, swept, seeds, _success(train.get("success")), max_runs, listed)


def _grid(network, train):
    """({key: its values}, the keys given as lists) from the [network] and [train] tables."""
    values, swept = {}, []
    for key, (table, check, default) in _CHECKS.items():
        raw = (network if key in SECTIONS["network"] else train).get(key, default)
        listed = isinstance(raw, list) and (key != "hidden" or any(isinstance(v, list) for v in raw))
        if listed and not raw:
            raise ValueError(f"[{table}] {key} is an empty list; give a value or a list of values to sweep")
        values[key] = [check(f"[{table}] {key}", v) for v in (raw if listed else [raw])]
        if listed:
            swept.append(key)
    return values, swept


def _listed(entries, base):
    """The configurations of a [[configs]] list: each entry's keys over the base of [network] and [train]."""
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise ValueError("[[configs]] must be a list of tables of [network] and [train] keys, e.g. "
                         "[[configs]] hidden = [4]  lr = 0.5")
    configs = []
    for i, entry in enumerate(entries, start=1):
        _known(entry, KEYS, f"[[configs]] entry {i}")
        config = dict(base)
        for key, value in entry.items():
            config[key] = _CHECKS[key][1](f"[[configs]] entry {i} {key}", value)
        _check_pairs({key: [v] for key, v in config.items()})
        configs.append(config)
    return configs


def _known(table, keys, where):
    for key in table:
        if key not in keys:
            close = difflib.get_close_matches(str(key), keys, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{where} has no key {key!r}{hint}; its keys are {', '.join(keys)}")


def _data(table):
    from .. import datasets

    if ("name" in table) == ("path" in table):
        raise ValueError('[data] needs name = "xor" (a built-in data set) or path = "file.csv" with target = "column"')
    if "name" in table:
        name = table["name"]
        if name not in datasets.DATASETS:
            raise ValueError(f"[data] name {name!r} is not a built-in data set; use one of "
                             f"{', '.join(datasets.DATASETS)}, or path = \"file.csv\" with target = \"column\"")
        if "target" in table:
            raise ValueError(f"[data] target is for CSV files; the {name} data set has its own target")
        for key in TABLE_KEYS:
            if key in table:
                raise ValueError(f"[data] {key} is for CSV files; the {name} data set is numbers without missing cells")
    else:
        if not isinstance(table["path"], str) or not isinstance(table.get("target"), str):
            raise ValueError('[data] path and target must be strings: path = "file.csv", target = "column"')
        name = "csv"
    test_size = number("[data] test_size", table.get("test_size", 0.0 if name == "xor" else 0.25), low=0, high=1,
                       high_open=True)
    standardize = _boolean("[data] standardize",
                           table.get("standardize", name in STANDARDIZED_BY_DEFAULT or name == "csv"))
    checked = {**{k: table[k] for k in ("name", "path", "target") if k in table}, "test_size": test_size,
               "standardize": standardize}
    return checked if name != "csv" else {**checked, **_table_keys(table)}


def _table_keys(table):
    """A CSV file's preparation, as ``chainrule train``'s flags of the same names: task, impute,
    drop_missing (not with impute) and drop."""
    from ..tabular import IMPUTE, TASKS

    keys = {"task": table.get("task"), "impute": table.get("impute"),
            "drop_missing": _boolean("[data] drop_missing", table.get("drop_missing", False)),
            "drop": table.get("drop", [])}
    for key, choices in (("task", TASKS), ("impute", IMPUTE)):
        if keys[key] is not None and keys[key] not in choices:
            raise ValueError(f"[data] {key} must be one of {', '.join(map(repr, choices))}, got {keys[key]!r}")
    if keys["impute"] is not None and keys["drop_missing"]:
        raise ValueError("[data] impute and drop_missing = true exclude each other: fill the missing cells or "
                         "drop their rows")
    drop = keys["drop"]
    if not isinstance(drop, list) or not all(isinstance(name, str) for name in drop):
        raise ValueError(f'[data] drop must be a list of column names like ["id", "notes"], got {drop!r}')
    return keys


def _hidden(name, value):
    if not isinstance(value, list) or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
                                              for v in value):
        raise ValueError(f"{name} must be a list of layer sizes like [4] or [8, 8] ([] for none), or a list of such "
                         f"lists to sweep, got {value!r}")
    return [int(v) for v in value]


def _boolean(name, value):
    """A TOML boolean (Python's bool): 1 or "yes" is refused rather than read as true."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _choice(options, what):
    def check(name, value):
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"{name} must be {what}: one of {', '.join(options)}, got {value!r}")
        return value
    return check


def _optional(check):
    return lambda name, value: None if value is None else check(name, value)


def _batch_size(name, value):
    if value == "full":
        return value
    try:
        return integer(name, value, low=1)
    except ValueError:
        raise ValueError(f'{name} must be "full" or a positive integer, got {value!r}') from None


def _epochs(name, value):
    try:
        return integer(name, value, low=1, high=MAX_EPOCHS)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, at most {MAX_EPOCHS:,}, got {value!r:.80}") from None


_CHECKS = {  # key → (its table, its check, its default)
    "hidden": ("network", _hidden, [4]),
    "activation": ("network", _choice(list(ACTIVATIONS), "an activation"), "tanh"),
    "output": ("network", _optional(_choice(list(ACTIVATIONS), "an activation")), None),
    "batch_norm": ("network", _boolean, False),
    "residual": ("network", _boolean, False),
    "loss": ("network", _optional(_choice(list(LOSSES), "a loss")), None),
    "optimizer": ("train", _choice(list(OPTIMIZERS), "an optimizer"), "adam"),
    "lr": ("train", _optional(lambda name, v: number(name, v, low=0, low_open=True)), None),
    "momentum": ("train", lambda name, v: number(name, v, low=0), 0.0),
    "l2": ("train", lambda name, v: number(name, v, low=0), 0.0),
    "batch_size": ("train", _batch_size, "full"),
    "epochs": ("train", _epochs, 100),
}


def _check_pairs(values):
    if "adam" in values["optimizer"] and any(values["momentum"]):
        raise ValueError("[train] momentum is for sgd and rmsprop; adam has none: drop momentum or sweep adam "
                         "in a spec of its own")


def _seeds(value):
    if isinstance(value, list):
        if not value:
            raise ValueError("[train] seeds is an empty list; give a number of seeds (0 … N−1) or a list of seeds")
        seeds = [integer("[train] seeds[]", s, low=0) for s in value]
        if len(set(seeds)) != len(seeds):
            raise ValueError("[train] seeds lists a seed twice; list each seed once")
        return seeds
    return list(range(integer("[train] seeds (a count, or a list of seeds)", value, low=1, high=MAX_SEEDS)))


def _success(value):
    if value is None:
        return None
    if not isinstance(value, dict) or "metric" not in value or len(value) != 2 or \
            not ({"at_least", "at_most"} & set(value)):
        raise ValueError('[train] success must be a table like { metric = "accuracy", at_least = 1.0 } '
                         "(or at_most, for a loss)")
    metric = _choice(METRICS, "a column of runs.csv")("[train] success metric", value["metric"])
    bound = "at_least" if "at_least" in value else "at_most"
    return {"metric": metric, bound: number(f"[train] success {bound}", value[bound])}


def label(value):
    """A swept value as a short text: [8, 8] → 8-8, 0.5 → 0.5."""
    if isinstance(value, list):
        return "-".join(map(str, value)) or "none"
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
