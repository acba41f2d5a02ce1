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
    """The batches (X_b, Y_b, w_b) of checked data X, Y and row weights w (None: unweighted, and
    every w_b None), ``batch_size`` rows each (the last may be short): slices in their order, or,
    with an ``order`` of the rows, those rows gathered into buffers reused from batch to batch (no
    copy of the whole data set); a row's weight goes with it."""

    def __init__(self, X, Y, batch_size, w=None):
        self.X, self.Y, self.w, self.batch_size = X, Y, w, batch_size
        self.buffers = None  # made on the first shuffled epoch

    def __call__(self, order=None):
        X, Y, w, k = self.X, self.Y, self.w, self.batch_size
        if order is None and k >= len(X):
            return ((X, Y, w),)  # one full batch: no slicing
        return self._slices() if order is None else self._gathered(order)

    def _slices(self):
        X, Y, w, k = self.X, self.Y, self.w, self.batch_size
        for start in range(0, len(X), k):
            yield X[start : start + k], Y[start : start + k], None if w is None else w[start : start + k]

    def _gathered(self, order):
        X, Y, w, k = self.X, self.Y, self.w, self.batch_size
        if self.buffers is None:
            self.buffers = tuple(None if a is None else np.empty((k,) + a.shape[1:], a.dtype) for a in (X, Y, w))
        Xb, Yb, wb = self.buffers
        for start in range(0, len(X), k):
            rows = order[start : start + k]
            m = len(rows)
            yield (np.take(X, rows, axis=0, out=Xb[:m], mode="clip"),
                   np.take(Y, rows, axis=0, out=Yb[:m], mode="clip"),
                   None if w is None else np.take(w, rows, out=wb[:m], mode="clip"))
