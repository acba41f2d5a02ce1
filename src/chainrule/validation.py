"""Checking the options a user passes: one ValueError that names the option, what it must be, and
what it got. Python and NumPy numbers are accepted alike; a bool is not a number here."""

import math
import numbers

import numpy as np

__all__ = ["number", "integer", "flag", "seed", "dtype", "numeric_array", "finite_array"]


def number(name, value, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a float, finite and within [low, high] (an end excluded when open)."""
    return _bounded(name, value, low, high, low_open, high_open, numbers.Real, "finite number", float)


def integer(name, value, low=None, high=None):
    """``value`` as an int within [low, high]."""
    if low == 1 and high is None:
        return _bounded(name, value, 1, None, False, False, numbers.Integral, "positive integer", int, "")
    return _bounded(name, value, low, high, False, False, numbers.Integral, "integer", int)


def _bounded(name, value, low, high, low_open, high_open, kind, noun, cast, bounds=None):
    ok = isinstance(value, kind) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)
    if ok:
        ok = (low is None or (value > low if low_open else value >= low)) and (
            high is None or (value < high if high_open else value <= high))
    if not ok:
        if bounds is None:
            bounds = _bounds(low, high, low_open, high_open)
        raise ValueError(f"{name} must be a{'n' if noun[0] in 'aeiou' else ''} {noun}{bounds}, got {value!r}")
    return cast(value)


def _bounds(low, high, low_open, high_open):
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '≥'} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '≤'} {high:g}"
    return ""


def flag(name, value):
    """``value`` as a bool: True or False (NumPy's too), nothing else."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def seed(value):
    """A seed for NumPy's generator: None (fresh entropy) or an integer ≥ 0."""
    return None if value is None else integer("seed", value, low=0)


def dtype(value):
    """float64 or float32, from anything ``np.dtype`` understands."""
    try:
        result = np.dtype(value)
    except TypeError:
        result = None
    if result not in (np.float64, np.float32):
        raise ValueError(f"dtype must be float64 or float32 (np.float64, np.float32, 'float64', 'float32'), got {value!r}")
    return result


def numeric_array(name, value, dtype):
    """``value`` as an array of ``dtype`` (float32 or float64), checked finite: from numbers or bools
    only (not strings, objects or complex numbers)."""
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or np.iscomplexobj(array):
        raise ValueError(f"{name} must be real numbers, got dtype {array.dtype}")
    with np.errstate(over="ignore"):  # a finite value beyond float32's range: finite_array names it
        converted = array.astype(dtype, copy=False)
    return finite_array(name, converted, array)


def finite_array(name, array, original=None):
    """``array``, after checking that it holds no NaN or inf; ``original`` is what it was converted
    from, so that a finite value too large for float32 is named as such. Σ array is finite exactly
    when every entry is (barring an overflow of the sum), so the common case costs one pass."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(array)):
            return array
    bad = ~np.isfinite(array)
    if not bad.any():
        return array
    rows = np.flatnonzero(bad.reshape(len(array), -1).any(axis=1)) if array.ndim else np.array([0])
    where = f"in {rows.size} row(s) (first: row {rows[0]})" if array.ndim else ""
    if original is not None and original.dtype != array.dtype and np.isfinite(original[bad]).all():
        limit = np.finfo(array.dtype).max
        raise ValueError(f"{name} has values beyond {array.dtype}'s range (±{limit:.3g}) {where}; "
                         f"rescale them (standardize the data) or use dtype=np.float64")
    raise ValueError(f"{name} contains NaN or inf {where}; remove or impute them before training")
