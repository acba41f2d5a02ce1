"""Weight initializers W ~ p(fan_in, fan_out), one registry of names.

Biases start at zero. Each initializer returns an array of shape (fan_in, fan_out).
"""

import numpy as np

__all__ = ["INITIALIZERS", "initialize", "std"]


def glorot_uniform(rng, fan_in, fan_out):
    """Glorot/Xavier uniform: W ~ U(−r, r), r = √(6/(fan_in + fan_out))."""
    r = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-r, r, size=(fan_in, fan_out))


def glorot_normal(rng, fan_in, fan_out):
    """Glorot/Xavier normal: W ~ N(0, σ²), σ = √(2/(fan_in + fan_out))."""
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))


def he_normal(rng, fan_in, fan_out):
    """He/Kaiming normal: W ~ N(0, σ²), σ = √(2/fan_in) — keeps ReLU activations' variance."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


def he_uniform(rng, fan_in, fan_out):
    """He/Kaiming uniform: W ~ U(−r, r), r = √(6/fan_in)."""
    r = np.sqrt(6.0 / fan_in)
    return rng.uniform(-r, r, size=(fan_in, fan_out))


def small_normal(rng, fan_in, fan_out):
    """W = 0.01 · N(0, 1) (NumPy's ``np.random.randn(...) * 0.01``)."""
    return 0.01 * rng.standard_normal(size=(fan_in, fan_out))


def standard_normal(rng, fan_in, fan_out):
    """W ~ N(0, 1) (NumPy's ``np.random.randn(...)``)."""
    return rng.standard_normal(size=(fan_in, fan_out))


INITIALIZERS = {
    f.__name__: f for f in (glorot_uniform, glorot_normal, he_normal, he_uniform, small_normal, standard_normal)
}


def std(name, fan_in, fan_out):
    """The standard deviation of the weights the named initializer draws: Glorot's
    √(2/(fan_in + fan_out)) keeps the variance of z and δ through a layer whose f′(0) = 1, He's
    √(2/fan_in) through a ReLU, which passes half of it."""
    if name not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; use one of {', '.join(INITIALIZERS)}")
    if name.startswith("glorot"):
        return float(np.sqrt(2.0 / (fan_in + fan_out)))
    if name.startswith("he"):
        return float(np.sqrt(2.0 / fan_in))
    return 0.01 if name == "small_normal" else 1.0


def initialize(name, rng, fan_in, fan_out):
    """W of shape (fan_in, fan_out) drawn by the named initializer."""
    if name not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; use one of {', '.join(INITIALIZERS)} or an array")
    return INITIALIZERS[name](rng, fan_in, fan_out)
