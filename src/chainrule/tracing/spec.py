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
    l2 = 0.1                    # optional, default 0: λ of the penalty λ/(2N)·Σ W² on the weights
                                # (not the biases), N the batch size, as chainrule.Network(l2=λ)

Batch normalization and residual connections, on hidden layers (optional):

    [network]
    batch_norm = [1]            # or true (every hidden layer): z[l] normalized over the batch,
                                # y = γ·(z − mean)/√(var + eps) + β, then a = f(y) (chainrule.BatchNorm)
    eps = 1e-5                  # optional, default 1e-5
    residual = [2]              # a[l] = a[l−1] + f(…): the layer is a residual block (its width
                                # that of its input), its gradient reaches a[l−1] along both paths
    [weights]
    gamma1 = [1.0, 1.0]         # optional, default 1 (and beta1 default 0): γ and β of layer 1

``network.bias``, ``network.layout``, ``network.batch_norm``, ``network.residual``,
``network.eps``, ``train.steps`` and ``train.l2`` are optional (default ``false``, ``"in_out"``,
none, none, 1e-5, 1 and 0); every other key is required. A spec that breaks a rule raises
``ValueError`` naming the key and what was expected.

Limits. A worked solution shows every number, so it is for small networks that a person reads:
at most 8 layers of weights (``MAX_LAYERS``), 16 neurons a layer, inputs included
(``MAX_NEURONS``), 16 samples (``MAX_SAMPLES``), 1000 steps (``MAX_STEPS``) and 50,000 named
quantities in the whole solution (``MAX_QUANTITIES``, steps × the quantities of one step); a hand
calculation rounds to at most 15 decimals (``MAX_HAND``). A spec or answers file is read only when
it is a regular file of at most 256 KiB (``MAX_FILE_BYTES``) whose tables and lists nest at most 16
deep (``MAX_DEPTH``; a spec needs 4: the file, [train], the list of samples, a sample). Anything
beyond a limit is a ``ValueError`` that names the limit.
"""

import difflib
import json
import math
import numbers
import os
import re
import reprlib
import stat
from dataclasses import dataclass

import numpy as np

from ..activations import ACTIVATIONS, Softmax
from ..losses import LOSSES

__all__ = ["Spec", "read_spec", "read_document", "check_document", "check_size"]

MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 16
MAX_LAYERS = 8
MAX_NEURONS = 16
MAX_SAMPLES = 16
MAX_STEPS = 1000
MAX_QUANTITIES = 50_000
MAX_HAND = 15  # decimals of a hand calculation: float64 holds about 16 significant digits

LAYOUTS = {
    "in_out": "one row per input i, one column per neuron j: W[i][j]",
    "out_in": "one row per neuron j, one column per input i: W[j][i]",
}
KEYS = {
    "network": ("layers", "activation", "activations", "bias", "layout", "batch_norm", "residual", "eps"),
    "weights": (),  # W1 … WL, b1 … bL, gamma/beta of the batch-normalized layers, checked against the layers
    "train": ("x", "target", "loss", "learning_rate", "steps", "l2"),
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
    l2: float = 0.0  # λ of the penalty λ/(2N)·Σ W² on the weights
    batch_norm: tuple = ()  # the 1-based hidden layers whose z is batch-normalized
    residual: tuple = ()  # the 1-based hidden layers that are residual blocks
    eps: float = 1e-5  # the batch normalization's ε
    gammas: tuple = ()  # γ of each layer (None where not batch-normalized)
    betas: tuple = ()

    def weight_index(self, i, j):
        """The 1-based [row][column] of the weight from input i to neuron j (0-based) in the spec's layout."""
        return f"[{i + 1}][{j + 1}]" if self.layout == "in_out" else f"[{j + 1}][{i + 1}]"

    def in_layout(self, W):
        """An (n_in, n_out) matrix written in the spec's layout."""
        return W if self.layout == "in_out" else W.T


def read_document(source, what):
    """The table in a TOML file (or a JSON file, by its .json suffix); ValueError if unreadable,
    not a regular file, larger than ``MAX_FILE_BYTES`` or nested deeper than ``MAX_DEPTH``."""
    try:
        path = os.fsdecode(source)
    except TypeError:
        raise ValueError(f"the {what} must be the path of a TOML or JSON file, got {show(source)}") from None
    kind = "JSON" if path.lower().endswith(".json") else "TOML"
    where = f"the {what} {path!r}"
    raw = _read_bytes(path, what)
    if kind == "TOML" and _DOTTED_KEY.search(raw):
        raise ValueError(_too_deep(where))  # before tomllib spends time quadratic in the key's parts on it
    try:
        if kind == "JSON":
            data = json.loads(raw)
        else:
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(raw.decode("utf-8"))
    except RecursionError:  # the parsers recurse once per level: far deeper than MAX_DEPTH
        raise ValueError(_too_deep(where)) from None
    except ValueError as e:  # JSONDecodeError, TOMLDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{where} is not valid {kind}: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where} must hold a table of keys, got {type(data).__name__}")
    check_document(data, where)
    return data


def _read_bytes(path, what):
    """The file's bytes: a regular file (not a FIFO that blocks, nor /dev/zero that never ends) of
    at most MAX_FILE_BYTES."""
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
        if regular:
            with open(path, "rb") as f:
                raw = f.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as e:  # ValueError: a NUL character in the path
        raise ValueError(f"cannot read the {what} {path!r}: {getattr(e, 'strerror', None) or e}") from None
    if not regular:
        raise ValueError(f"the {what} {path!r} is not a regular file; give the path of a TOML or JSON file")
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"the {what} {path!r} is larger than {MAX_FILE_BYTES // 1024} KiB, the limit (the spec "
                         "of the largest network a trace takes, or the answers to it, fit in a tenth of that)")
    return raw


def check_document(data, where):
    """Raise ValueError unless the parsed ``data`` nests at most MAX_DEPTH tables and lists deep
    and every table's keys are strings; walked with an explicit stack, so no depth recurses."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH and isinstance(value, (dict, list, tuple)):
            raise ValueError(_too_deep(where))
        if isinstance(value, dict):
            for key in value:
                if not isinstance(key, str):
                    raise ValueError(f"{where}: the key {show(key)} is not a string; keys are names like "
                                     '"z[1][1]" or "train"')
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


# A TOML key of more than MAX_DEPTH dotted parts (a.b.c…, "a"."b"…, in a key or a [table] header)
# nests deeper than MAX_DEPTH, and tomllib joins its parts one by one, in time quadratic in their
# number. The look-behind starts a match only at the start of a part, so the search is linear.
_DOTTED_KEY = re.compile(rb"""(?<![\w"'-])(?:(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')[ \t]*\.[ \t]*){%d}"""
                         % MAX_DEPTH)


def _too_deep(where):
    return (f"{where} nests tables and lists more than {MAX_DEPTH} levels deep, the limit (a spec needs 4: "
            "the file, [train], the list of samples, a sample; answers 3: the file, [step2], [sample1])")


def read_spec(source):
    """A ``Spec`` from a path (TOML, or JSON by its suffix) or from an already parsed mapping."""
    if isinstance(source, Spec):
        return source
    if isinstance(source, dict):
        check_document(source, "the spec")
        return parse_spec(source)
    data = read_document(source, "spec")
    return parse_spec(data, name=os.path.basename(os.fsdecode(source)))


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
    batch_norm = _hidden_layers(network, "batch_norm", sizes, activations)
    residual = _hidden_layers(network, "residual", sizes, activations)
    eps = _eps(network, batch_norm)
    Ws, bs = _weights(weights, sizes, bias, layout, [f"{p}{l}" for l in batch_norm for p in ("gamma", "beta")])
    gammas, betas = _normalization(weights, sizes, batch_norm)

    X, single = _samples(train, sizes[0])
    if batch_norm and len(X) < 2:
        raise ValueError("network.batch_norm needs a batch of at least 2 samples in train.x: batch normalization "
                         "divides by the batch's variance, and one sample has none")
    loss = _required(train, "train.loss")
    if not isinstance(loss, str) or loss not in LOSSES:
        raise _expected("train.loss", loss, f"one of {', '.join(LOSSES)}")
    Y = _targets(train, sizes[-1], len(X), single, loss)
    lr = _required(train, "train.learning_rate")
    if not is_finite(lr) or not lr > 0:
        raise _expected("train.learning_rate", lr, "a number > 0 (η in W ← W − η ∂L/∂W)")
    l2 = train.get("l2", 0.0)
    if not is_finite(l2) or not l2 >= 0:
        raise _expected("train.l2", l2, "a number ≥ 0: λ of the penalty λ/(2N)·Σ W² on the weights, "
                                        "N the batch size, as chainrule.Network(l2=λ)")
    steps = check_steps(train.get("steps", 1), "train.steps")
    return Spec(tuple(sizes), activations, bias, layout, Ws, bs, X, Y, single, loss, float(lr), steps, name,
                float(l2), batch_norm, residual, eps, gammas, betas)


def check_steps(steps, key):
    """``steps`` as a positive int of at most MAX_STEPS; ValueError naming ``key`` otherwise."""
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or not 1 <= steps <= MAX_STEPS:
        raise _expected(key, steps, f"a positive integer of at most {MAX_STEPS} (the number of gradient-descent "
                                    "steps to trace: each step's every number is written out for a person to read)")
    return int(steps)


def check_size(spec, steps):
    """ValueError when ``steps`` steps of ``spec`` have more than MAX_QUANTITIES named quantities."""
    N, sizes = len(spec.X), spec.sizes
    neurons = sum(sizes[1:])
    # the grad_a of layers whose activation couples its outputs (softmax)
    softmax = sum(n for n, act in zip(sizes[1:], spec.activations) if not ACTIVATIONS[act].elementwise)
    parameters = sum(n_in * n_out for n_in, n_out in zip(sizes, sizes[1:])) + (neurons if spec.bias else 0)
    normalized = sum(sizes[l] for l in spec.batch_norm)
    # per sample z, a, delta of every neuron and the error of every output (x̂, y, ∂L/∂y of a normalized
    # one, ∂L/∂a of a residual one); per weight, bias, γ and β its gradient, update and new value, and
    # per normalized neuron its mean and variance; the loss (and its two parts with l2)
    per_step = (N * (3 * neurons + softmax + sizes[-1] + 3 * normalized + sum(sizes[l] for l in spec.residual))
                + 3 * parameters + 8 * normalized + 3)
    if steps * per_step > MAX_QUANTITIES:
        raise ValueError(
            f"{steps} step(s) of this network would have about {steps * per_step:,} numbers to show, more than the "
            f"limit of {MAX_QUANTITIES:,} (a worked solution is read by a person); trace at most "
            f"{max(1, MAX_QUANTITIES // per_step)} step(s) with --steps, or a smaller network or batch")


# ---- the parts ------------------------------------------------------------------------------


def _sizes(layers):
    ok = isinstance(layers, list) and len(layers) >= 2 and all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in layers
    )
    if not ok:
        raise _expected("network.layers", layers,
                        "a list of at least two positive integers: input size, hidden sizes…, output size")
    if len(layers) - 1 > MAX_LAYERS or max(layers) > MAX_NEURONS:
        raise _expected("network.layers", layers,
                        f"at most {MAX_LAYERS} layers of weights ({MAX_LAYERS + 1} sizes) of at most {MAX_NEURONS} "
                        "neurons (inputs included): a worked solution writes out every weighted sum, for a small "
                        "network that a person can follow")
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
        if not ACTIVATIONS[name].elementwise and not issubclass(ACTIVATIONS[name], Softmax):
            raise ValueError(f"{key}: the trace writes out elementwise activations and softmax; {name!r} couples "
                             "its outputs in a way it cannot write")
    return tuple(names)


def _hidden_layers(network, key, sizes, activations):
    """The 1-based hidden layers ``network.<key>`` names: true (all of them), false, or a list of
    layer numbers; a residual layer keeps its input's width; both need an elementwise activation."""
    value, hidden = network.get(key, False), range(1, len(sizes) - 1)
    what = ("true (every hidden layer), false, or a list of hidden layer numbers"
            f"{f' from 1 to {len(sizes) - 2}' if len(sizes) > 2 else ' (this network has none)'}")
    layers = list(hidden) if value is True else [] if value is False else value
    if not (isinstance(layers, list) and all(isinstance(l, int) and not isinstance(l, bool) and l in hidden
                                             for l in layers) and len(set(layers)) == len(layers)):
        raise _expected(f"network.{key}", value, what)
    for l in layers:
        if not ACTIVATIONS[activations[l - 1]].elementwise:
            raise ValueError(f"network.{key}: layer {l}'s activation {activations[l - 1]!r} couples its outputs; "
                             "the trace writes batch normalization and residual blocks with elementwise activations")
        if key == "residual" and sizes[l - 1] != sizes[l]:
            raise ValueError(f"network.residual: layer {l} has {sizes[l]} neurons but {sizes[l - 1]} inputs; a "
                             "residual layer a[l] = a[l−1] + f(…) needs as many neurons as inputs")
    return tuple(sorted(layers))


def _eps(network, batch_norm):
    eps = network.get("eps", 1e-5)
    if not is_finite(eps) or not eps > 0:
        raise _expected("network.eps", eps, "a number > 0 (the ε of batch normalization's √(var + ε))")
    if "eps" in network and not batch_norm:
        raise ValueError("network.eps is given but no layer has batch_norm; remove eps or set network.batch_norm")
    return float(eps)


def _normalization(weights, sizes, batch_norm):
    """(γ per layer, β per layer): the given vectors (default 1 and 0) of the batch-normalized
    layers, None elsewhere."""
    gammas, betas = [None] * (len(sizes) - 1), [None] * (len(sizes) - 1)
    for l in batch_norm:
        n = sizes[l]
        for name, default, into in (("gamma", 1.0, gammas), ("beta", 0.0, betas)):
            expected = f"a list of {_numbers(n)}, the {name} of layer {l}'s {n} neuron(s)"
            value = weights.get(f"{name}{l}")
            into[l - 1] = (np.full(n, default) if value is None else
                           _array(value, f"weights.{name}{l}", 1, expected))
            if into[l - 1].shape != (n,):
                raise ValueError(f"weights.{name}{l} has {into[l - 1].size} numbers; expected {expected}")
    return tuple(gammas), tuple(betas)


def _weights(weights, sizes, bias, layout, extra=()):
    """(W per layer in the engine's (n_in, n_out) layout, b per layer or None); ``extra`` names the
    other keys [weights] may have (γ and β of batch-normalized layers)."""
    n_layers = len(sizes) - 1
    allowed = [f"W{l}" for l in range(1, n_layers + 1)] + [f"b{l}" for l in range(1, n_layers + 1)] + list(extra)
    _known(weights, allowed, "[weights]",
           f"W1 … W{n_layers}" + (f" and b1 … b{n_layers}" if bias else "") + f" for {n_layers} layer(s)"
           + (f", and {', '.join(extra)}" if extra else ""))
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
    if not single and isinstance(x, list) and len(x) > MAX_SAMPLES:
        raise ValueError(f"train.x has {len(x)} samples, more than the limit of {MAX_SAMPLES}: a worked solution "
                         "writes out every sample's forward and backward pass for a person to read; give a smaller batch")
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


def is_finite(v):
    """A real number, not a bool, that is finite as a float64 (an int of 400 digits is not)."""
    try:
        return is_number(v) and math.isfinite(float(v))
    except OverflowError:
        return False


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlist = _SHORT.maxdict = 8


def show(value):
    """A short repr for a message: a few items and levels of a list or table, 80 characters of a string."""
    return _SHORT.repr(value)


def _array(value, key, ndim, expected):
    """value as a finite float array of ``ndim`` dimensions (rectangular lists of numbers)."""
    def ok(v, depth):
        if depth == 0:
            return is_finite(v)
        return isinstance(v, list) and len(v) > 0 and all(ok(u, depth - 1) for u in v)

    if not ok(value, ndim) or (ndim == 2 and len({len(row) for row in value}) != 1):
        raise ValueError(f"{key} = {show(value)} is not {expected} (finite numbers, rows of equal length)")
    return np.array(value, dtype=np.float64)


def _section(data, key):
    if key not in data:
        raise ValueError(f"the spec has no [{key}] section; expected [network], [weights] and [train]")
    if not isinstance(data[key], dict):
        raise ValueError(f"{key} must be a table ([{key}]), got {show(data[key])}")
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
            raise ValueError(f"unknown key {show(key)} in {where}{hint}; expected {listing or ', '.join(allowed)}")


def _expected(key, value, expected):
    return ValueError(f"{key} = {show(value)} is not valid; expected {expected}")
