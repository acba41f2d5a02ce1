"""Values made ready for JSON, which has neither NaN, infinities nor NumPy types: what the experiments'
results.json, the sweeps' tables and the playground's messages send through ``json.dumps``."""

import math

import numpy as np

__all__ = ["json_safe"]


def json_safe(value):
    """``value`` with NumPy scalars and arrays as Python numbers and lists, tuples as lists,
    dict keys as strings (a float key 0.001 → "0.001") and NaN or ±inf as None (JSON has neither)."""
    if isinstance(value, dict):
        return {_key(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _key(k):
    if isinstance(k, (float, np.floating)):
        return repr(float(k))
    return str(k)
