"""Constant arrays the hot loop reuses instead of making them again at every step."""

import numpy as np


class _Made(dict):
    """``made[key]``: the read-only array ``make(*key)``, made the first time the key is asked for."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        a = self[key] = self.make(*key)
        a.flags.writeable = False
        return a


# CONST[value, dtype]: ``value`` as a 0-d array of ``dtype``.
# Why: NumPy converts a Python scalar operand (the 0 in max(z, 0), the 1 in 1 − a) into an array
# at every ufunc call, which on a small batch is a sizeable part of the operation. A 0-d array of
# the operand's own dtype skips that conversion and keeps float32 arithmetic float32; the results
# are the same numbers.
CONST = _Made(lambda value, dtype: np.full((), value, dtype))

# ONES[m, dtype]: a vector of m ones, so that a sum along an axis is a product with it — Σ_rows δ
# = 1ᵀδ for db, Σ_j e^(s_j) = e^s 1 in the softmax — one BLAS call (np.dot) instead of a reduction.
ONES = _Made(lambda m, dtype: np.ones(m, dtype))
