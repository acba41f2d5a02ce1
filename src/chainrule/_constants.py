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
# Why: NumPy converts a Python number operand (the 0 in max(z, 0)) on every ufunc call, about
# 0.4 µs — as long as the whole operation takes on a small batch (W3's XOR step has a dozen of
# them). A 0-d array of the operand's own dtype skips that conversion and keeps float32
# arithmetic float32; a dict lookup finds it in about 0.1 µs. The results are the same numbers.
CONST = _Made(lambda value, dtype: np.full((), value, dtype))

# ONES[m, dtype]: a vector of m ones, so that Σ_rows δ = 1ᵀ δ runs as one BLAS product: about
# half the time of np.add.reduce on a batch's δ.
ONES = _Made(lambda m, dtype: np.ones(m, dtype))
