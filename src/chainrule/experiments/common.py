"""What more than one experiment measures the same way: held-out splits, accuracy, the first epoch
below a loss, and copies of a network that shuffle alike."""

import numpy as np

from .. import datasets
from ..training import evaluate

__all__ = ["accuracy", "first_epoch_below", "seeded_copy", "split_standardized"]


def split_standardized(X, y, seed, test_size=0.25):
    """(X_train, X_test, y_train, y_test): ``test_size`` of the rows held out, the features standardized
    with the training rows' mean and std (the held-out rows must not leak into them)."""
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_size=test_size, seed=seed)
    X_train, X_test, _ = datasets.standardize(X_train, X_test)
    return X_train, X_test, y_train, y_test


def accuracy(net, X, y):
    """The fraction of rows of X the network classifies right (its loss decides what right is)."""
    return evaluate(net, *net.check_data(X, y))[1]


def first_epoch_below(loss, level):
    """The first epoch (1-based) whose loss is below ``level``; None if none is."""
    below = np.flatnonzero(np.asarray(loss) < level)
    return int(below[0]) + 1 if below.size else None


def seeded_copy(net, seed):
    """A copy of ``net``'s weights whose mini-batches are shuffled from ``seed``: ``Network.copy`` draws an
    unseeded generator, so two copies would see the rows in different orders and the run would not repeat."""
    copy = net.copy()
    copy.rng = np.random.default_rng(seed)
    return copy
