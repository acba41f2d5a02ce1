"""Synthetic data for the experiments: credit-risk borrowers, y = sin x, and environmental measurements.

Each generator is seeded and returns NumPy arrays with samples as rows.
"""

import numpy as np

__all__ = ["CREDIT_FEATURES", "ENVIRONMENT_INPUTS", "ENVIRONMENT_OUTPUTS", "credit_risk", "environment", "sine"]

CREDIT_FEATURES = (
    "age",
    "annual_income",
    "debt_to_income",
    "credit_history_years",
    "late_payments",
    "home_owner",
    "employment_years",
)


def credit_risk(n=1000, seed=0):
    """Synthetic borrowers: X (n, 7) in the units of ``CREDIT_FEATURES``, y = 1 for a default (the data
    of ``chainrule experiment credit-risk``).

    Age 21–75 years; income log-normal around 45,000 a year; debt-to-income 0.05–0.8;
    credit history up to age − 18 years; late payments Poisson (more for high debt); home
    ownership 0/1 (likelier with age); employment years up to age − 18. A hidden risk score —
    a weighted sum of the standardized features plus Gaussian noise — goes through a sigmoid to
    give the probability of default, and the label is a Bernoulli draw from it.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"credit_risk: n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    age = rng.uniform(21, 75, n)
    income = np.exp(rng.normal(np.log(45_000), 0.5, n))
    dti = np.clip(rng.beta(2, 5, n) * 0.9, 0.05, 0.8)
    history = rng.uniform(0, 1, n) * (age - 18)
    late = rng.poisson(0.5 + 4 * dti)
    owner = (rng.uniform(0, 1, n) < 0.2 + 0.6 * (age - 21) / 54).astype(np.float64)
    employment = rng.uniform(0, 1, n) * (age - 18)
    X = np.column_stack([age, income, dti, history, late, owner, employment])

    # risk = w · standardized features + noise; P(default) = σ(risk)
    z = (X - X.mean(axis=0)) / X.std(axis=0)
    w = np.array([-0.3, -0.8, 1.2, -0.5, 1.0, -0.4, -0.3])
    risk = z @ w - 0.3 + rng.normal(0, 0.5, n)
    p_default = 1 / (1 + np.exp(-risk))
    y = (rng.uniform(0, 1, n) < p_default).astype(np.int64)
    return X, y


def sine(n=100, noise=0.0, seed=0):
    """A one-dimensional regression: x evenly spaced on [−π, π], y = sin x (+ Gaussian noise); the data
    of ``chainrule experiment sine`` and ``learning-rate``.

    Returns X (n, 1) and y (n,).
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"sine: n must be an integer ≥ 2, got {n!r}")
    x = np.linspace(-np.pi, np.pi, n)
    y = np.sin(x) + (np.random.default_rng(seed).normal(0, noise, n) if noise else 0.0)
    return x.reshape(-1, 1), y


ENVIRONMENT_INPUTS = ("temperature_c", "humidity_pct", "pressure_hpa", "wind_speed_ms")
ENVIRONMENT_OUTPUTS = ("pm25_ugm3", "ozone_ppm", "no2_ppb")


def environment(n=500, seed=0):
    """A multi-output regression: X (n, 4) ``ENVIRONMENT_INPUTS`` → Y (n, 3) ``ENVIRONMENT_OUTPUTS`` (the
    data of ``chainrule experiment multi-output``).

    The outputs have very different scales on purpose — PM2.5 in µg/m³ (tens), ozone in ppm
    (hundredths), NO₂ in ppb (tens) — with smooth nonlinear dependence on the weather plus noise:
    PM2.5 builds up in calm, humid air; ozone grows with heat and sun; NO₂ is dispersed by wind.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"environment: n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    temp = rng.uniform(-5, 35, n)
    humidity = rng.uniform(20, 95, n)
    pressure = rng.normal(1013, 8, n)
    wind = rng.gamma(2.0, 2.0, n)
    pm25 = 12 + 40 * np.exp(-wind / 3) * (humidity / 100) + 0.4 * (pressure - 1013) + rng.normal(0, 3, n)
    ozone = 0.02 + 0.0015 * np.maximum(temp, 0) - 0.0002 * (humidity - 50) + rng.normal(0, 0.004, n)
    no2 = 8 + 30 / (1 + wind) + 0.2 * np.maximum(10 - temp, 0) + rng.normal(0, 2, n)
    X = np.column_stack([temp, humidity, pressure, wind])
    Y = np.column_stack([np.maximum(pm25, 0), np.maximum(ozone, 0), np.maximum(no2, 0)])
    return X, Y
