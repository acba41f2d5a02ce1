"""The trace spec: a small network, its weights and a sample (or a batch), read from TOML or JSON.

    [network]
    layers = [2, 2, 1]          # input size, hidden sizes…, output size
    activation = "sigmoid"      # or activations = ["tanh", "sigmoid"], one per layer
    bias = false                # true: biases b1, b2, … are given under [weights]
    layout = "in_out"           # default: W[i][j] from input i to neuron j (z = a W + b);
                                # "out_in": W[j][i], the textbook z = W x + b
    [weights]
    W1 = [[0.2, 0.3], [0.2, 0.3]]
    W2 = [[0.3], [0.9]]
    [train]
    x = [0.35, 0.7]             # one sample, or a list of samples
    target = [0.5]              # one target row per sample (a flat list when there is one output)
    loss = "half_sse"           # any name in chainrule.losses.LOSSES
    learning_rate = 1.0
    steps = 1                   # optional, default 1

``network.bias`` and ``network.layout`` are optional (default ``false`` and ``"in_out"``); every
other key is required. A spec that breaks a rule raises ``ValueError`` naming the key and what
was expected.
"""

import difflib
import json
import math
import numbers
import os
from dataclasses import dataclass

import numpy as np

from ..activations import ACTIVATIONS
from ..losses import LOSSES

__all__ = ["Spec", "read_spec", "read_document"]

LAYOUTS = {
    "in_out": "one row per input i, one column per neuron j: W[i][j]",
    "out_in": "one row per neuron j, one column per input i: W[j][i]",
}
KEYS = {
    "network": ("layers", "activation", "activations", "bias", "layout"),
    "weights": (),  # W1 … WL and b1 … bL, checked against the layer count
    "train": ("x", "target", "loss", "learning_rate", "steps"),
}


@dataclass(frozen=True)
class Spec:
    """A checked spec. Weights are kept in the engine's layout, ``W[l]`` of shape (n_in, n_out);
    ``X`` is (N, n_in) and ``Y`` (N, n_out) even for one sample (``single`` remembers that)."""

    sizes: tuple
    activations: tuple
    bias: bool
    layout: str
    weights: tuple
    biases: tuple  # one vector per layer, or None per layer without bias
    X: np.ndarray
    Y: np.ndarray
    single: bool
    loss: str
    learning_rate: float
    steps: int
    name: str = None

    def weight_index(self, i, j):
        """The 1-based [row][column] of the weight from input i to neuron j (0-based) in the spec's layout."""
        return f"[{i + 1}][{j + 1}]" if self.layout == "in_out" else f"[{j + 1}][{i + 1}]"

    def in_layout(self, W):
        """An (n_in, n_out) matrix written in the spec's layout."""
        return W if self.layout == "in_out" else W.T


def read_document(source, what):
    """The table in a TOML file (or a JSON file, by its .json suffix); ValueError if unreadable."""
    path = os.fspath(source)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ValueError(f"cannot read the {what} {path!r}: {e.strerror}") from None
    try:
        if path.lower().endswith(".json"):
            data = json.loads(raw)
        else:
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(raw.decode("utf-8"))
    except ValueError as e:  # JSONDecodeError, TOMLDecodeError and UnicodeDecodeError are ValueErrors
        kind = "JSON" if path.lower().endswith(".json") else "TOML"
        raise ValueError(f"the {what} {path!r} is not valid {kind}: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"the {what} {path!r} must hold a table of keys, got {type(data).__name__}")
    return data


def read_spec(source):
    """A ``Spec`` from a path (TOML, or JSON by its suffix) or from an already parsed mapping."""
    if isinstance(source, Spec):
        return source
    if isinstance(source, dict):
        return parse_spec(source)
    return parse_spec(read_document(source, "spec"), name=os.path.basename(os.fspath(source)))


def parse_spec(data, name=None):
    """Check every key of a parsed spec and build the ``Spec``."""
    _known(data, KEYS, "the spec", "[network], [weights] and [train]")
    network, weights, train = (_section(data, key) for key in KEYS)
    _known(network, KEYS["network"], "[network]")
    _known(train, KEYS["train"], "[train]")

    sizes = _sizes(_required(network, "network.layers", "a list like [2, 2, 1]: input size, hidden sizes…, output size"))
    activations = _activations(network, len(sizes) - 1)
    bias = network.get("bias", False)
    if not isinstance(bias, bool):
        raise _expected("network.bias", bias, "true or false")
    layout = network.get("layout", "in_out")
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise _expected("network.layout", layout, '"in_out" (W[i][j], z = a W + b) or "out_in" (W[j][i], z = W x + b)')
    Ws, bs = _weights(weights, sizes, bias, layout)

    X, single = _samples(train, sizes[0])
    loss = _required(train, "train.loss")
    if not isinstance(loss, str) or loss not in LOSSES:
        raise _expected("train.loss", loss, f"one of {', '.join(LOSSES)}")
    Y = _targets(train, sizes[-1], len(X), single, loss)
    lr = _required(train, "train.learning_rate")
    if not is_number(lr) or not lr > 0 or not math.isfinite(lr):
        raise _expected("train.learning_rate", lr, "a number > 0 (η in W ← W − η ∂L/∂W)")
    steps = check_steps(train.get("steps", 1), "train.steps")
    return Spec(tuple(sizes), activations, bias, layout, Ws, bs, X, Y, single, loss, float(lr), steps, name)


def check_steps(steps, key):
    """``steps`` as a positive int; ValueError naming ``key`` otherwise."""
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 1:
        raise _expected(key, steps, "a positive integer (the number of gradient-descent steps to trace)")
    return int(steps)


# ---- the parts ------------------------------------------------------------------------------


def _sizes(layers):
    ok = isinstance(layers, list) and len(layers) >= 2 and all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in layers
    )
    if not ok:
        raise _expected("network.layers", layers,
                        "a list of at least two positive integers: input size, hidden sizes…, output size")
    return layers


def _activations(network, n_layers):
    if ("activation" in network) == ("activations" in network):
        raise ValueError("[network] needs exactly one of activation = NAME (every layer) "
                         "or activations = [NAME, …] (one per layer)")
    names = network.get("activations", [network.get("activation")] * n_layers)
    key = "network.activations" if "activations" in network else "network.activation"
    if not isinstance(names, list) or len(names) != n_layers:
        raise _expected(key, names, f"a list of {n_layers} activation names, one per layer")
    for name in names:
        if not isinstance(name, str) or name not in ACTIVATIONS:
            raise _expected(key, name, f"one of {', '.join(ACTIVATIONS)}")
    return tuple(names)


def _weights(weights, sizes, bias, layout):
    """(W per layer in the engine's (n_in, n_out) layout, b per layer or None)."""
    n_layers = len(sizes) - 1
    allowed = [f"W{l}" for l in range(1, n_layers + 1)] + [f"b{l}" for l in range(1, n_layers + 1)]
    _known(weights, allowed, "[weights]",
           f"W1 … W{n_layers}" + (f" and b1 … b{n_layers}" if bias else "") + f" for {n_layers} layer(s)")
    Ws, bs = [], []
    for l, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        shape = (n_in, n_out) if layout == "in_out" else (n_out, n_in)
        expected = (f"a {shape[0]}×{shape[1]} matrix for layer {l} ({n_in} inputs → {n_out} neurons) "
                    f"in layout {layout!r} ({LAYOUTS[layout]})")
        W = _array(_required(weights, f"weights.W{l}", expected), f"weights.W{l}", 2, expected)
        if W.shape != shape:
            raise ValueError(f"weights.W{l} is {W.shape[0]}×{W.shape[1]}; expected {expected}")
        Ws.append(W if layout == "in_out" else W.T.copy())
        if not bias:
            if f"b{l}" in weights:
                raise ValueError(f"weights.b{l} is given but network.bias = false; set bias = true or remove b{l}")
            bs.append(None)
            continue
        expected = f"a list of {_numbers(n_out)}, the biases of layer {l}'s {n_out} neuron(s) (network.bias = true)"
        b = _array(_required(weights, f"weights.b{l}", expected), f"weights.b{l}", 1, expected)
        if b.shape != (n_out,):
            raise ValueError(f"weights.b{l} has {b.size} numbers; expected {expected}")
        bs.append(b)
    return tuple(Ws), tuple(bs)


def _samples(train, n_in):
    """(X of shape (N, n_in), whether x was one sample)."""
    expected = f"one sample (a list of {_numbers(n_in)}) or a list of samples, each a list of {_numbers(n_in)}"
    x = _required(train, "train.x", expected)
    single = isinstance(x, list) and not any(isinstance(v, list) for v in x)
    X = _array(x if not single else [x], "train.x", 2, expected)
    if X.shape[1] != n_in:
        raise ValueError(f"train.x has samples of {X.shape[1]} numbers; expected {expected} (network.layers[0])")
    return X, single


def _targets(train, n_out, n_samples, single, loss):
    expected = (f"a list of {_numbers(n_out)} (one target per output)" if single else
                f"{n_samples} target rows of {_numbers(n_out)}, one per sample"
                + (" (or a flat list of numbers)" if n_out == 1 else ""))
    t = _required(train, "train.target", expected)
    flat = isinstance(t, list) and not any(isinstance(v, list) for v in t)
    rows = [t] if single else ([[v] for v in t] if flat and n_out == 1 else t)
    Y = _array(rows, "train.target", 2, expected)
    if Y.shape != (n_samples, n_out):
        raise ValueError(f"train.target does not match; expected {expected}")
    try:
        LOSSES[loss]().prepare_targets(Y, n_out, np.float64)
    except ValueError as e:
        raise ValueError(f"train.target: {e}") from None
    return Y


# ---- small checks -----------------------------------------------------------------------------


def _numbers(n):
    return "1 number" if n == 1 else f"{n} numbers"


def is_number(v):
    """A real number that is not a bool (TOML's true is no number)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _array(value, key, ndim, expected):
    """value as a finite float array of ``ndim`` dimensions (rectangular lists of numbers)."""
    def ok(v, depth):
        if depth == 0:
            return is_number(v) and math.isfinite(v)
        return isinstance(v, list) and len(v) > 0 and all(ok(u, depth - 1) for u in v)

    if not ok(value, ndim) or (ndim == 2 and len({len(row) for row in value}) != 1):
        raise ValueError(f"{key} = {value!r} is not {expected} (finite numbers, rows of equal length)")
    return np.array(value, dtype=np.float64)


def _section(data, key):
    if key not in data:
        raise ValueError(f"the spec has no [{key}] section; expected [network], [weights] and [train]")
    if not isinstance(data[key], dict):
        raise ValueError(f"{key} must be a table ([{key}]), got {data[key]!r}")
    return data[key]


def _required(table, key, expected=None):
    name = key.rsplit(".", 1)[-1]
    if name not in table:
        raise ValueError(f"{key} is missing" + (f"; expected {expected}" if expected else ""))
    return table[name]


def _known(table, allowed, where, listing=None):
    """Raise on a key that ``where`` does not have, naming the keys it does have."""
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown key {key!r} in {where}{hint}; expected {listing or ', '.join(allowed)}")


def _expected(key, value, expected):
    return ValueError(f"{key} = {value!r} is not valid; expected {expected}")
