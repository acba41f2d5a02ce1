"""The random networks of every layer kind, and their data, that test_normalization.py and
test_normalization_torch.py check."""

import numpy as np

import chainrule as cr


def random_net(seed, dtype=np.float64, act="tanh"):
    """A random network with every kind: Dense → BatchNorm(f) → block(Dense, BatchNorm, Dense) with a
    projection → block of the same width → BatchNorm after an activation → Dense."""
    rng = np.random.default_rng(seed)
    # the first Dense has no bias: a bias straight before a BatchNorm gets a gradient of exactly 0 in
    # exact arithmetic (normalization subtracts it again), rounding noise here, which Adam's g/√v
    # would blow up to steps of size lr in both libraries, differently
    layers = [cr.Dense(3, 5, bias=False), cr.BatchNorm(5, act, momentum=rng.uniform(0.05, 0.5)),
              cr.Residual([cr.Dense(5, 4, act), cr.BatchNorm(4), cr.Dense(4, 6)], activation=act),
              cr.Residual([cr.Dense(6, 6, act), cr.Dense(6, 6)]),
              cr.Dense(6, 4, act), cr.BatchNorm(4, eps=rng.uniform(1e-5, 1e-2)), cr.Dense(4, 2)]
    net = cr.Network(layers, loss="mse", seed=seed, dtype=dtype)
    for _, _, p, _, _ in net.parameters():  # γ, β away from 1, 0 too
        p[...] = rng.normal(0, 0.7, p.shape)
    return net


def data(seed, m=7, dtype=np.float64):
    rng = np.random.default_rng(seed + 100)
    return rng.normal(1.0, 2.0, (m, 3)).astype(dtype), rng.normal(size=(m, 2)).astype(dtype)


def trained(net, gradients=False):
    """Every trained array of ``net`` (or its gradient), in order, as one vector (θ also holds the
    zero bias of a layer without one, which torch does not have)."""
    return np.concatenate([(g if gradients else p).ravel() for _, _, p, g, _ in net.parameters()])
