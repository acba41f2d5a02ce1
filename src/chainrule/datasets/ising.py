"""Real 2D Ising configurations by Monte Carlo, labelled by phase.

The model: spins s = ±1 on an L × L square lattice with periodic boundaries and energy
E = −J Σ_⟨ij⟩ s_i s_j (J = 1, each nearest-neighbour pair once). Onsager's exact critical
temperature is Tc = 2 / ln(1 + √2) ≈ 2.269: below it the lattice orders (|m| → 1), above it
the spins disorder (m → 0).

Sampling is Metropolis with a checkerboard update: all spins of one colour flip at once, since
none of them neighbours another, each with probability min(1, e^(−β ΔE)), ΔE = 2 s_i Σ_nbrs s_j.
Every returned configuration is the end of its own chain (independent samples): the chains of
all temperatures run side by side as one array, start ordered with a random sign, and are
equilibrated for ``sweeps`` sweeps (one sweep = one update attempt per spin).
"""

import math

import numpy as np

__all__ = ["TC", "ising", "metropolis"]

TC = 2.0 / math.log(1.0 + math.sqrt(2.0))


def _neighbour_sum(s):
    """Σ of the four nearest neighbours of every spin, periodic boundaries; s has shape (R, L, L)."""
    return np.roll(s, 1, 1) + np.roll(s, -1, 1) + np.roll(s, 1, 2) + np.roll(s, -1, 2)


def metropolis(spins, temperatures, sweeps, rng):
    """Run ``sweeps`` checkerboard Metropolis sweeps in place on ``spins`` (R, L, L) of ±1, chain r
    at temperature ``temperatures[r]``; returns ``spins``."""
    L = spins.shape[1]
    beta = 1.0 / np.asarray(temperatures, dtype=np.float64)[:, None, None]
    # acceptance e^(−β ΔE) for the two uphill moves, ΔE = 4 and ΔE = 8 (ΔE ≤ 0 always flips)
    accept4, accept8 = np.exp(-4 * beta), np.exp(-8 * beta)
    i, j = np.indices((L, L))
    colours = [(i + j) % 2 == c for c in (0, 1)]
    for _ in range(sweeps):
        for colour in colours:
            dE = 2 * spins * _neighbour_sum(spins)
            p = np.where(dE <= 0, 1.0, np.where(dE == 4, accept4, accept8))
            flip = colour & (rng.random(spins.shape) < p)
            spins[flip] *= -1
    return spins


def ising(L=16, temperatures=None, n_per_T=100, seed=0, sweeps=None):
    """Ising configurations: X (n, L·L) of ±1, y = 0 ordered (T < Tc) / 1 disordered, and T (n,).

    ``temperatures`` defaults to 16 values from 1.0 to 3.5; ``n_per_T`` independent samples are
    drawn at each. ``sweeps`` (default 40·L, ≥ 400) equilibrates each chain; near Tc, where the
    dynamics slow down, more sweeps give more faithful samples.
    """
    if not isinstance(L, int) or L < 2:
        raise ValueError(f"ising: L must be an integer ≥ 2, got {L!r}")
    if not isinstance(n_per_T, int) or n_per_T < 1:
        raise ValueError(f"ising: n_per_T must be a positive integer, got {n_per_T!r}")
    T = np.linspace(1.0, 3.5, 16) if temperatures is None else np.asarray(temperatures, dtype=np.float64).ravel()
    if T.size == 0 or not np.isfinite(T).all() or (T <= 0).any():
        raise ValueError("ising: temperatures must be a non-empty list of positive numbers")
    sweeps = max(400, 40 * L) if sweeps is None else sweeps
    if not isinstance(sweeps, int) or sweeps < 0:
        raise ValueError(f"ising: sweeps must be a non-negative integer, got {sweeps!r}")
    rng = np.random.default_rng(seed)
    chain_T = np.repeat(T, n_per_T)
    signs = rng.choice([-1, 1], size=(chain_T.size, 1, 1))
    spins = np.broadcast_to(signs, (chain_T.size, L, L)).astype(np.int8)
    metropolis(spins, chain_T, sweeps, rng)
    X = spins.reshape(chain_T.size, L * L).astype(np.float64)
    y = (chain_T >= TC).astype(np.int64)
    return X, y, chain_T
