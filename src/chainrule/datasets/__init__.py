"""Datasets: the XOR table, scikit-learn's toy and real sets, synthetic data for the experiments
(credit risk, sine, environment), real Ising configurations, CSV and IDX (MNIST) readers, and
the two steps every experiment takes before training — a train/test split and standardization.

Every loader returns ``X`` of shape (n_samples, n_features), samples as rows, and ``y`` of
shape (n_samples,). scikit-learn (``pip install "chainrule[datasets]"``) is imported only by
the loaders that need it, so ``import chainrule`` needs NumPy alone.
"""

import math

import numpy as np

from .idx import load_idx, read_idx
from .ising import TC, ising
from .synthetic import credit_risk, environment, sine
from .table import Table, read_csv

__all__ = [
    "DATASETS",
    "Standardizer",
    "TC",
    "Table",
    "breast_cancer",
    "circles",
    "credit_risk",
    "digits",
    "environment",
    "ising",
    "load_csv",
    "load_idx",
    "moons",
    "read_csv",
    "read_idx",
    "sine",
    "standardize",
    "train_test_split",
    "xor",
]


def xor():
    """The XOR truth table: X = [[0,0],[0,1],[1,0],[1,1]] (float), y = x1 XOR x2 = [0,1,1,0]."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([0, 1, 1, 0])
    return X, y


def _sklearn_datasets(loader):
    """``sklearn.datasets``, or an ImportError that says how to install it."""
    try:
        from sklearn import datasets
    except ImportError:
        raise ImportError(
            f"chainrule.datasets.{loader}() needs scikit-learn, which is not installed; "
            'install it with: pip install "chainrule[datasets]"'
        ) from None
    return datasets


def moons(n=200, noise=0.2, seed=42):
    """Two interleaving half circles (scikit-learn's make_moons): X (n, 2), y in {0, 1}.

    ``noise`` is the standard deviation of the Gaussian noise added to each point.
    """
    X, y = _sklearn_datasets("moons").make_moons(n_samples=n, noise=noise, random_state=seed)
    return X, y.astype(np.int64)


def circles(n=200, noise=0.1, factor=0.5, seed=42):
    """A circle inside a circle (scikit-learn's make_circles): X (n, 2), y = 1 on the inner one.

    ``factor`` is the inner radius over the outer one (0 < factor < 1).
    """
    X, y = _sklearn_datasets("circles").make_circles(n_samples=n, noise=noise, factor=factor, random_state=seed)
    return X, y.astype(np.int64)


def digits():
    """8×8 images of handwritten digits (scikit-learn's load_digits): X (1797, 64), y in 0 … 9.

    The pixels are counts 0 … 16; X = pixels / 16 puts them in [0, 1].
    """
    X, y = _sklearn_datasets("digits").load_digits(return_X_y=True)
    return X / 16.0, y.astype(np.int64)


def breast_cancer():
    """The Wisconsin breast-cancer measurements (scikit-learn's load_breast_cancer): X (569, 30)
    in their own units (unstandardized), y = 1 for benign, 0 for malignant."""
    X, y = _sklearn_datasets("breast_cancer").load_breast_cancer(return_X_y=True)
    return X, y.astype(np.int64)


DATASETS = {"xor": xor, "moons": moons, "circles": circles, "digits": digits, "breast_cancer": breast_cancer}


# ---- CSV files ------------------------------------------------------------------------------


def load_csv(path, target, delimiter=None):
    """Read a CSV file with a header row (its delimiter sniffed unless given: see ``read_csv``);
    ``target`` names the column to predict.

    Returns ``(X, y, feature_names)``: X (float64) holds every other column, in file order.
    A numeric target becomes int64 when every value is a whole number, float64 otherwise;
    a non-numeric one (class names) becomes the codes 0 … K−1 of its sorted unique values.
    Raises ValueError, naming the place, for what ``read_csv`` refuses, an unknown target column, an
    infinite feature value, a missing cell or a feature value that is not a number. For text features,
    missing cells to fill and class names kept, use ``chainrule.tabular.prepare`` on ``read_csv(path)``.
    """
    table = read_csv(path, delimiter)
    table.check_column(target)
    names = [name for name in table.names if name != target]
    if not names:
        raise ValueError(f"{table.source} has only the target column {target!r}; there are no features to learn from")
    missing = np.flatnonzero(table.missing(target))
    if missing.size:
        raise ValueError(f"{table.source} {table.where(missing[0])} has no value in the target column {target!r}")
    where = table.describe_missing(names)
    if where:
        raise ValueError(f"missing cells in {table.source}: {where}; features must be numbers")
    X = np.column_stack([table.numbers(name) for name in names])
    return X, _target_values(table.strings(target).tolist()), names


def _target_values(values):
    """Numbers (int64 when all whole and at most 2⁵³ in size, else float64), or class codes 0 … K−1 for names."""
    try:
        y = np.array([float(v) for v in values])
    except ValueError:
        classes = sorted(set(values))
        code = {name: k for k, name in enumerate(classes)}
        return np.array([code[v] for v in values], dtype=np.int64)
    # whole numbers up to 2⁵³, where every integer is a float64 exactly (and far inside int64)
    if np.isfinite(y).all() and (y == np.round(y)).all() and (np.abs(y) <= 2.0**53).all():
        return y.astype(np.int64)
    return y


# ---- splitting and standardizing ------------------------------------------------------------


def train_test_split(X, y, test_size=0.3, seed=0):
    """Shuffle the rows with a seeded permutation; the first ⌈test_size · n⌉ become the test set.

    Returns ``X_train, X_test, y_train, y_test`` (scikit-learn's order). ``test_size=0``
    keeps every row for training and returns empty test arrays.
    """
    X, y = np.asarray(X), np.asarray(y)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X has {n} rows but y has {len(y)}; they must have one target per row of X")
    if not (isinstance(test_size, (int, float)) and 0 <= test_size < 1):
        raise ValueError(f"test_size must be a fraction in [0, 1), got {test_size!r}")
    n_test = math.ceil(test_size * n)
    if test_size > 0 and n_test >= n:
        raise ValueError(f"test_size={test_size} of {n} rows leaves no row to train on; use a smaller test_size")
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


class Standardizer:
    """x′ = (x − μ) / σ per feature, with μ and σ measured on the rows given to ``fit``.

    A constant feature (σ = 0) gets σ = 1, so it becomes 0 instead of NaN.
    """

    def __init__(self):
        self.mean = self.std = None

    def fit(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) == 0:
            raise ValueError(
                f"Standardizer.fit needs a non-empty 2-D array (n_samples, n_features), got shape {X.shape}"
            )
        self.mean = X.mean(axis=0)
        std = X.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X):
        if self.mean is None:
            raise ValueError("Standardizer.transform was called before fit; fit it on the training rows first")
        return (np.asarray(X, dtype=np.float64) - self.mean) / self.std


def standardize(X_train, X_test=None):
    """Fit a Standardizer on ``X_train`` only and apply it to both sets.

    Returns ``(X_train′, X_test′, standardizer)``; X_test′ is None when X_test is. The test rows
    are scaled with the training rows' μ and σ, so nothing about them leaks into training.
    """
    scaler = Standardizer().fit(X_train)
    return scaler.transform(X_train), None if X_test is None else scaler.transform(X_test), scaler
