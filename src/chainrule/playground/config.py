"""The playground's configuration: the page's URL query, read and checked in one place.

Every key is optional; a missing one takes its default. The page sends the query as it is in
its address bar (strings), and gets back the checked configuration, which it writes back into
the address bar, so a view can be shared and reloaded:

    data        xor, circles, moons, spiral, blobs, sine or csv (an uploaded file)   default xor
    classes     2 … 5, the Gaussian blobs' classes                                   3
    n           points generated, 20 … 2000                                          200
    noise       standard deviation of the Gaussian noise on the points, 0 … 1        0.1 (sine 0.1)
    ratio       the fraction of the points used for training, 0.1 … 0.9             0.5
    layers      hidden sizes, comma-separated ("4,4"); "" or none: no hidden layer    4,4
    activation  one hidden activation, or one per hidden layer ("tanh,relu")          tanh
    loss        bce, cross_entropy, mse, …  (default: bce for two classes, cross_entropy for more,
                mse for a number to predict)
    optimizer   sgd, rmsprop or adam                                                  sgd
    lr          the learning rate η, > 0 and ≤ 10                                     0.03
    schedule    none, step:S:γ (η·γ every S epochs), exponential:γ (η·γ each epoch)
                or cosine:T (half a cosine from η to η/1000 over T epochs, then back) none
    l2          λ of the L2 penalty, 0 … 10                                           0
    batch       rows per batch, 1 … 1000, or full                                     10
    seed        seeds the data, the split, the initial weights and the shuffling      0
    target, features, plane   for data=csv: the column to predict, the columns to train on
                (default all the others) and the two of them the plane shows (default the first two)

A value out of range or of the wrong kind is a ValueError naming the key, what it must be and
what it got; the page shows it and keeps the configuration it had.
"""

import dataclasses
import math

from ..activations import ACTIVATIONS
from ..losses import LOSSES
from ..optimizers import OPTIMIZERS
from ..schedules import CosineAnnealingLR, ExponentialLR, StepLR

__all__ = ["Config", "parse", "DATASETS", "ACTIVATION_CHOICES", "MAX_UNITS", "MAX_HIDDEN"]

DATASETS = ("xor", "circles", "moons", "spiral", "blobs", "sine", "csv")
# what a hidden layer may use: the elementwise activations a worked solution writes out
ACTIVATION_CHOICES = ("tanh", "sigmoid", "relu", "leaky_relu", "linear")
# a worked solution (chainrule.trace) writes out layers of at most 16 neurons, 8 layers of weights
MAX_UNITS = 16
MAX_HIDDEN = 6
MAX_POINTS = 2000
MAX_BATCH = 1000
MAX_QUERY_VALUE = 1000  # characters in one value: a column list of a wide CSV file fits


@dataclasses.dataclass(frozen=True)
class Config:
    data: str = "xor"
    classes: int = 3
    n: int = 200
    noise: float = 0.1
    ratio: float = 0.5
    layers: tuple = (4, 4)
    activation: tuple = ("tanh", "tanh")
    loss: str = None  # None: chosen from the targets
    optimizer: str = "sgd"
    lr: float = 0.03
    schedule: str = "none"
    l2: float = 0.0
    batch: int = 10  # None: the full batch
    seed: int = 0
    target: str = None
    features: tuple = None
    plane: tuple = None

    def query(self):
        """The configuration as URL query strings: the keys of the issue's contract always, the
        others where they differ from their defaults."""
        always = ("data", "layers", "activation", "lr", "batch", "seed", "noise", "optimizer")
        default, out = Config(), {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in always or (value is not None and value != getattr(default, field.name)):
                out[field.name] = _text(field.name, value)
        return out

    def make_schedule(self):
        """The learning-rate schedule callback, or None."""
        kind, *args = self.schedule.split(":")
        if kind == "step":
            return StepLR(int(args[0]), float(args[1]))
        if kind == "exponential":
            return ExponentialLR(float(args[0]))
        if kind == "cosine":
            return CosineAnnealingLR(int(args[0]), eta_min=self.lr / 1000)
        return None

    def make_optimizer(self):
        return OPTIMIZERS[self.optimizer](lr=self.lr)


def _text(name, value):
    if name == "batch" and value is None:
        return "full"
    if name == "activation" and len(set(value)) == 1:
        return value[0]  # one name for every layer
    if name == "layers" and not value:
        return "none"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def parse(query):
    """A checked ``Config`` from a mapping of query keys to strings; ValueError on the first bad key."""
    if not isinstance(query, dict):
        raise ValueError("the configuration must be a table of query keys, e.g. {\"data\": \"xor\"}")
    unknown = sorted(set(query) - {f.name for f in dataclasses.fields(Config)})
    if unknown:
        keys = ", ".join(f.name for f in dataclasses.fields(Config))
        raise ValueError(f"unknown configuration key {unknown[0]!r}; the keys are {keys}")
    for key, value in query.items():
        if not isinstance(value, str) or len(value) > MAX_QUERY_VALUE:
            raise ValueError(f"{key} must be a string of at most {MAX_QUERY_VALUE} characters (as in a URL query)")
    q = {key: value.strip() for key, value in query.items()}
    data = _choice(q, "data", DATASETS, "xor")
    layers = _layers(q.get("layers"))
    values = {
        "data": data,
        "classes": _integer(q, "classes", 3, 2, 5),
        "n": _integer(q, "n", 200, 20, MAX_POINTS),
        "noise": _number(q, "noise", 0.1, 0, 1),
        "ratio": _number(q, "ratio", 0.5, 0.1, 0.9),
        "layers": layers,
        "activation": _activations(q.get("activation"), len(layers)),
        "loss": _choice(q, "loss", tuple(LOSSES), None),
        "optimizer": _choice(q, "optimizer", tuple(OPTIMIZERS), "sgd"),
        "lr": _number(q, "lr", 0.03, 0, 10, low_open=True),
        "schedule": _schedule(q.get("schedule")),
        "l2": _number(q, "l2", 0.0, 0, 10),
        "batch": _batch(q.get("batch")),
        "seed": _integer(q, "seed", 0, 0, 2**32 - 1),
        "target": q.get("target") or None,
        "features": _names(q, "features"),
        "plane": _names(q, "plane"),
    }
    if data != "csv" and any(values[key] for key in ("target", "features", "plane")):
        raise ValueError("target, features and plane choose the columns of an uploaded CSV file (data=csv); "
                         f"the {data} data set has its own")
    plane = values["plane"]
    if plane is not None and (len(plane) != 2 or plane[0] == plane[1]):
        raise ValueError(f"plane must name two different feature columns (the plane's axes, e.g. plane=width,height), "
                         f"got {','.join(plane)!r}")
    return Config(**values)


def _choice(q, key, choices, default):
    value = q.get(key) or default
    if value is not None and value not in choices:
        raise ValueError(f"{key}={value!r} is not one of {', '.join(choices)}")
    return value


def _integer(q, key, default, low, high):
    text = q.get(key)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{key} must be a whole number from {low} to {high}, got {text!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{key} must be a whole number from {low} to {high}, got {value}")
    return value


def _number(q, key, default, low, high, low_open=False):
    text = q.get(key)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and (value > low if low_open else value >= low) and value <= high):
        bound = f"> {low:g} and ≤ {high:g}" if low_open else f"from {low:g} to {high:g}"
        raise ValueError(f"{key} must be a number {bound}, got {text!r}")
    return value


def _layers(text):
    """'4,4' → (4, 4); '' or 'none' → () (no hidden layer)."""
    if text is None:
        return Config.layers
    if text.lower() in ("", "none", "0"):
        return ()
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or not all(1 <= s <= MAX_UNITS for s in sizes) or len(sizes) > MAX_HIDDEN:
        raise ValueError(f"layers must be up to {MAX_HIDDEN} hidden sizes from 1 to {MAX_UNITS}, comma-separated "
                         f"(e.g. 4,4), or none; got {text!r}")
    return sizes


def _activations(text, n_layers):
    names = tuple(s.strip() for s in (text or "tanh").split(","))
    for name in names:
        if name not in ACTIVATION_CHOICES:
            known = "" if name in ACTIVATIONS else " (not an activation chainrule knows)"
            raise ValueError(f"activation {name!r}{known} is not one of {', '.join(ACTIVATION_CHOICES)}")
    if len(names) == 1:
        return names * n_layers
    if len(names) != n_layers:
        raise ValueError(f"activation lists {len(names)} activations for {n_layers} hidden layer(s); give one for "
                         "every layer, or one for all")
    return names


def _schedule(text):
    """'none', 'step:S:γ', 'exponential:γ' or 'cosine:T', checked by building the schedule."""
    if not text or text == "none":
        return "none"
    kind, *args = text.split(":")
    arity = {"step": 2, "exponential": 1, "cosine": 1}
    try:
        if kind not in arity or len(args) != arity[kind]:
            raise ValueError
        schedule = Config(schedule=text).make_schedule()
        if kind in ("step", "exponential") and not schedule.gamma <= 1:
            raise ValueError
    except ValueError:
        raise ValueError(f"schedule={text!r} is not one of none, step:S:γ (e.g. step:100:0.5), exponential:γ "
                         "(e.g. exponential:0.999) or cosine:T (e.g. cosine:1000), with S, T ≥ 1 and 0 < γ ≤ 1") from None
    return text


def _batch(text):
    if not text:
        return Config.batch
    if text == "full":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_BATCH:
        raise ValueError(f"batch must be a whole number from 1 to {MAX_BATCH}, or full, got {text!r}")
    return value


def _names(q, key):
    text = q.get(key)
    if not text:
        return None
    return tuple(name.strip() for name in text.split(","))
