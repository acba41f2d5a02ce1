"""The playground's data: the generated sets, an uploaded CSV file, the train/test split, and the
plane (or line) over which the page draws what the network computes.

The 2-D sets are centred on the origin, about [−1.5, 1.5] on each axis, so that the network sees
inputs of unit scale without standardization; an uploaded file's features are standardized with
the training rows' mean and deviation (``chainrule.datasets.Standardizer``).
"""

import csv
import dataclasses
import io
import os
import tempfile

import numpy as np

from .. import datasets

__all__ = ["Data", "make", "csv_columns", "MAX_UPLOAD_BYTES", "MAX_CSV_ROWS", "MAX_FEATURES"]

MAX_UPLOAD_BYTES = 2 * 2**20  # an upload is held in memory; 2 MiB is tens of thousands of rows
MAX_CSV_ROWS = 5000
MAX_FEATURES = 16  # the trace's limit on a layer's neurons, inputs included
MAX_CLASSES = 10  # a whole-number target with more distinct values is a number to predict


@dataclasses.dataclass
class Data:
    """Train and test rows, what the targets are, and the plane the page draws.

    ``classes``: the number of classes (targets 0 … K−1), or None for a number to predict.
    ``plane``: the columns of X on the page's axes (one for a line, two for a plane), ``bounds``
    their (low, high); the other columns are held at 0 there (the training rows' mean, standardized).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: int
    names: list
    plane: tuple
    bounds: list

    def grid(self, size):
        """Points covering the plane: (size², n_features) for two axes, (size, n_features) for one;
        row r·size + c has axis 0 at column c and axis 1 at row r (row 0 at the top: high values)."""
        axes = [np.linspace(low, high, size) for low, high in self.bounds]
        points = np.zeros((size ** len(axes), self.X_train.shape[1]))
        if len(axes) == 1:
            points[:, self.plane[0]] = axes[0]
        else:
            columns, rows = np.meshgrid(axes[0], axes[1][::-1])
            points[:, self.plane[0]], points[:, self.plane[1]] = columns.ravel(), rows.ravel()
        return points

    def describe(self):
        """JSON-ready: the points on the page's axes, their targets, the names and the bounds."""
        def points(X, y):
            return {"x": np.round(X[:, list(self.plane)], 5).tolist(), "y": np.round(y, 5).tolist()}

        return {"train": points(self.X_train, self.y_train), "test": points(self.X_test, self.y_test),
                "classes": self.classes, "features": self.names, "plane": [self.names[p] for p in self.plane],
                "bounds": self.bounds}


def make(config, upload=None):
    """The ``Data`` of a configuration; ``upload``: the bytes of the CSV file for data=csv."""
    rng = np.random.default_rng(config.seed)
    if config.data == "csv":
        X, y, names, classes = _from_csv(upload, config)
    elif config.data == "sine":
        X, y = datasets.sine(config.n, config.noise, config.seed)
        names, classes = ["x"], None
    else:
        X, y = GENERATORS[config.data](config.n, config.noise, rng, config.classes)
        names, classes = ["x1", "x2"], int(y.max()) + 1
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_size=_test_share(config.ratio), seed=config.seed)
    if config.data == "csv":
        scaler = datasets.Standardizer().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    plane = _plane(config, names)
    everything = np.concatenate([X_train, X_test])[:, list(plane)]
    low, high = everything.min(axis=0), everything.max(axis=0)
    margin = 0.1 * np.maximum(high - low, 1e-3)
    bounds = [[float(lo - m), float(hi + m)] for lo, hi, m in zip(low, high, margin)]
    return Data(X_train, y_train, X_test, y_test, classes, names, plane, bounds)


def _test_share(ratio):
    """1 − ratio, without the float error that would move one row: 1 − 0.7 is 0.30000000000000004,
    and the split takes ⌈test_size·n⌉ test rows (91 of 300 instead of 90)."""
    return round(1 - ratio, 12)


def _plane(config, names):
    if config.plane is None:
        return tuple(range(min(2, len(names))))
    return tuple(names.index(name) for name in config.plane)


# ---- generated sets -------------------------------------------------------------------------
# Each takes (n, noise, rng, classes) and returns X (n, 2) and integer labels y (n,).


def xor(n, noise, rng, classes=2):
    """Points in the square [−1, 1]², away from the axes; y = 1 where x1 and x2 have opposite signs."""
    X = rng.uniform(0.1, 1.0, (n, 2)) * rng.choice([-1.0, 1.0], (n, 2))
    y = (X[:, 0] * X[:, 1] < 0).astype(np.int64)
    return X + rng.normal(0, noise, X.shape), y


def spiral(n, noise, rng, classes=2):
    """Two interleaved spirals, r = t and angle 1.75·π·t (+ π for the second), t in (0, 1.5]."""
    y = np.arange(n) % 2
    t = rng.uniform(0.05, 1.5, n)
    angle = 1.75 * np.pi * t + np.pi * y
    X = np.column_stack([t * np.cos(angle), t * np.sin(angle)])
    return X + rng.normal(0, noise, X.shape), y.astype(np.int64)


def blobs(n, noise, rng, classes=3):
    """``classes`` Gaussian clouds of deviation 0.2 + noise, centred on a circle of radius 1."""
    y = np.arange(n) % classes
    angle = 2 * np.pi * y / classes
    centres = np.column_stack([np.cos(angle), np.sin(angle)])
    return centres + rng.normal(0, 0.2 + noise, (n, 2)), y.astype(np.int64)


def moons(n, noise, rng, classes=2):
    """scikit-learn's two half moons, centred (chainrule.datasets.moons)."""
    X, y = datasets.moons(n, noise, seed=int(rng.integers(2**31)))
    return X - [0.5, 0.25], y


def circles(n, noise, rng, classes=2):
    """A circle of radius 0.5 inside one of radius 1.2 (chainrule.datasets.circles, scaled)."""
    X, y = datasets.circles(n, noise, seed=int(rng.integers(2**31)))
    return 1.2 * X, y


GENERATORS = {"xor": xor, "circles": circles, "moons": moons, "spiral": spiral, "blobs": blobs}


# ---- an uploaded CSV file -------------------------------------------------------------------


def csv_columns(upload):
    """The column names of an uploaded CSV file's header row; ValueError when it has none."""
    check_upload(upload)
    try:
        header = next(csv.reader(io.StringIO(upload.decode("utf-8-sig"))), None)
    except (UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"the uploaded file is not a CSV file ({e})") from None
    names = [name.strip() for name in header or []]
    if len(names) < 2 or not all(names):
        raise ValueError("the uploaded file needs a header row naming two or more columns (the features and the target)")
    return names


def check_upload(upload):
    if upload is None:
        raise ValueError("data=csv needs a CSV file: upload one first")
    if len(upload) > MAX_UPLOAD_BYTES:
        raise ValueError(f"the uploaded file has {len(upload):,} bytes, more than the limit of {MAX_UPLOAD_BYTES:,}")


def _from_csv(upload, config):
    """(X, y, feature names, classes) of the uploaded file, read by chainrule.datasets.load_csv from
    a temporary folder of its own, removed afterwards: the browser names no path here."""
    names = csv_columns(upload)
    target = config.target or names[-1]
    with tempfile.TemporaryDirectory(prefix="chainrule-playground-") as folder:
        path = os.path.join(folder, "upload.csv")
        with open(path, "wb") as f:
            f.write(upload)
        try:
            X, y, features = datasets.load_csv(path, target)
        except ValueError as e:  # the message names the temporary file: the page knows it as the upload
            raise ValueError(str(e).replace(repr(path), "the uploaded file")) from None
    if len(X) > MAX_CSV_ROWS:
        raise ValueError(f"the uploaded file has {len(X):,} rows, more than the playground's limit of {MAX_CSV_ROWS:,}")
    if len(X) < 4:
        raise ValueError(f"the uploaded file has {len(X)} data rows; the playground needs at least 4 to split them")
    chosen = list(config.features or features)
    for name in chosen + list(config.plane or []):
        if name not in features:
            raise ValueError(f"the uploaded file has no feature column {name!r}; its features are {', '.join(features)}")
    if config.plane and not set(config.plane) <= set(chosen):
        raise ValueError("plane must name two of the columns trained on (features)")
    if len(chosen) > MAX_FEATURES:
        raise ValueError(f"{len(chosen)} feature columns are more than {MAX_FEATURES}, the most a worked solution "
                         "writes out; choose fewer with features")
    X = X[:, [features.index(name) for name in chosen]]
    integer = np.issubdtype(y.dtype, np.integer) and y.min() >= 0 and y.max() < MAX_CLASSES
    return X, y, chosen, (int(y.max()) + 1 if integer else None)
