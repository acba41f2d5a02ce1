"""How the rows of a data set become batches: the batch size, and batches in order or shuffled."""

import numpy as np

from .validation import integer

__all__ = ["batch_rows", "Batches"]


def batch_rows(batch_size, n):
    """The rows of a batch for ``batch_size`` on n rows: n for None (full batch), else the positive
    integer given, at most n; ValueError otherwise."""
    if batch_size is None:
        return n
    try:
        return min(integer("batch_size", batch_size, low=1), n)
    except ValueError:
        raise ValueError(f"batch_size must be None (full batch) or a positive integer, got {batch_size!r}") from None


class Batches:
    """The batches (X_b, Y_b) of checked data X, Y, ``batch_size`` rows each (the last may be short):
    slices of X and Y in their order, or, with an ``order`` of the rows, those rows gathered into
    two buffers reused from batch to batch (no copy of the whole data set)."""

    def __init__(self, X, Y, batch_size):
        self.X, self.Y, self.batch_size = X, Y, batch_size
        self.buffers = None  # made on the first shuffled epoch

    def __call__(self, order=None):
        X, Y, k = self.X, self.Y, self.batch_size
        if order is None and k >= len(X):
            return ((X, Y),)  # one full batch: no slicing
        return self._slices() if order is None else self._gathered(order)

    def _slices(self):
        X, Y, k = self.X, self.Y, self.batch_size
        for start in range(0, len(X), k):
            yield X[start : start + k], Y[start : start + k]

    def _gathered(self, order):
        X, Y, k = self.X, self.Y, self.batch_size
        if self.buffers is None:
            self.buffers = (np.empty((k,) + X.shape[1:], X.dtype), np.empty((k,) + Y.shape[1:], Y.dtype))
        Xb, Yb = self.buffers
        for start in range(0, len(X), k):
            rows = order[start : start + k]
            m = len(rows)
            yield (np.take(X, rows, axis=0, out=Xb[:m], mode="clip"),
                   np.take(Y, rows, axis=0, out=Yb[:m], mode="clip"))
