"""Training runs whose results were recorded by the first, unoptimized engine (commit 3ce42ff),
in tests/data/reference_training.npz: test_reference.py checks that every later engine — with its
buffers, in-place derivatives and fused kernels — reproduces them to 1e-12.

Run ``python tests/reference_runs.py`` only to record them again after a deliberate change of the
numbers (never to make a failing optimization pass)."""

import numpy as np

import chainrule as cr


def data(seed, n, d, k, kind):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if kind == "labels":
        return X, rng.integers(0, k, size=n)
    if kind == "binary":
        return X, rng.integers(0, 2, size=(n, k))
    if kind == "signs":
        return X, 2.0 * rng.integers(0, 2, size=(n, k)) - 1
    return X, rng.normal(size=(n, k))


RUNS = {
    "relu_softmax_ce_sgd": (([5, 16, 8, 3], ["relu", "relu", "softmax"], "cross_entropy", {}),
                            (0, 50, 5, 3, "labels"), lambda: cr.SGD(0.1), dict(epochs=4, batch_size=8)),
    "sigmoid_bce_full": (([3, 4, 1], ["sigmoid", "sigmoid"], "bce", {}), (1, 20, 3, 1, "binary"),
                         lambda: cr.SGD(1.0), dict(epochs=30)),
    "tanh_mse_momentum_l2": (([4, 6, 2], ["tanh", "linear"], "mse", {"l2": 0.1}), (2, 30, 4, 2, "real"),
                             lambda: cr.SGD(0.05, momentum=0.9, nesterov=True), dict(epochs=5, batch_size=7)),
    "leaky_xtanh_half_sse_adam": (([3, 5, 4, 2], ["leaky_relu", "xtanh", "linear"], "half_sse", {}),
                                  (3, 25, 3, 2, "real"), lambda: cr.Adam(0.01), dict(epochs=5, batch_size=1)),
    "softmax_mse_rmsprop_clip": (([4, 5, 3], ["tanh", "softmax"], "mse", {}), (4, 24, 4, 3, "real"),
                                 lambda: cr.RMSprop(0.01, momentum=0.5, clip_norm=0.05), dict(epochs=4, batch_size=5)),
    "hinge_linear_float32": (([3, 4, 1], ["relu", "linear"], "hinge", {"dtype": np.float32}),
                             (5, 40, 3, 1, "signs"), lambda: cr.SGD(0.1), dict(epochs=3, batch_size=16)),
}


def run(name):
    (sizes, acts, loss, kw), spec, make_opt, fit_kw = RUNS[name]
    layers = [cr.Dense(a, b, act, lr_scale=0.5 if i == 0 else 1.0) for i, (a, b, act) in
              enumerate(zip(sizes, sizes[1:], acts))]
    net = cr.Network(layers, loss=loss, seed=7, **kw)
    X, y = data(*spec)
    history = net.fit(X, y, optimizer=make_opt(), progress=False, **fit_kw)
    arrays = {f"{name}/loss": np.array(history.loss)}
    for l, layer in enumerate(net.layers, start=1):
        arrays[f"{name}/W{l}"], arrays[f"{name}/b{l}"] = layer.W, layer.b
    net.backward(X, y)
    for l, layer in enumerate(net.layers, start=1):
        arrays[f"{name}/dW{l}"], arrays[f"{name}/db{l}"] = layer.dW, layer.db
    return arrays


if __name__ == "__main__":
    import pathlib

    out = {}
    for name in RUNS:
        out.update(run(name))
    np.savez(pathlib.Path(__file__).parent / "data" / "reference_training.npz", **out)
