"""Constant arrays the hot loop reuses instead of making them again at every step."""

import numpy as np

_CONSTANTS = {}


def const(value, dtype):
    """``value`` as a 0-d array of ``dtype``, made once and reused.

    Why: NumPy converts a Python number operand (the 0 in max(z, 0)) on every ufunc call,
    about 0.4 µs — as long as the whole operation takes on a small batch (W3's XOR step has a
    dozen of them). A 0-d array of the operand's own dtype skips that conversion and keeps
    float32 arithmetic float32. The results are the same numbers.
    """
    key = (value, dtype)
    c = _CONSTANTS.get(key)
    if c is None:
        c = _CONSTANTS[key] = np.array(value, dtype)
        c.flags.writeable = False
    return c


_ONES = {}


def ones(m, dtype):
    """A read-only vector of m ones in ``dtype``, made once per length, so that Σ_rows δ = 1ᵀ δ
    runs as one BLAS product: about half the time of np.add.reduce on a batch's δ."""
    key = (m, dtype)
    v = _ONES.get(key)
    if v is None:
        v = _ONES[key] = np.ones(m, dtype)
        v.flags.writeable = False
    return v

