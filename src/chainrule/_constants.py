"""Constant arrays the hot loop reuses instead of making them again at every step."""

import numpy as np

_MADE = {}


def _frozen(shape, value, dtype):
    """np.full(shape, value, dtype), read-only, made the first time it is asked for."""
    key = (shape, value, dtype)
    a = _MADE.get(key)
    if a is None:
        a = _MADE[key] = np.full(shape, value, dtype)
        a.flags.writeable = False
    return a


def const(value, dtype):
    """``value`` as a 0-d array of ``dtype``.

    Why: NumPy converts a Python number operand (the 0 in max(z, 0)) on every ufunc call,
    about 0.4 µs — as long as the whole operation takes on a small batch (W3's XOR step has a
    dozen of them). A 0-d array of the operand's own dtype skips that conversion and keeps
    float32 arithmetic float32. The results are the same numbers.
    """
    return _frozen((), value, dtype)


def ones(m, dtype):
    """A vector of m ones in ``dtype``, so that Σ_rows δ = 1ᵀ δ runs as one BLAS product:
    about half the time of np.add.reduce on a batch's δ."""
    return _frozen((m,), 1, dtype)
