"""Network: construction, bad input, predict, save/load, determinism, float32."""

import json
import zipfile

import numpy as np
import pytest

import chainrule as cr

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


def small_net(**kw):
    return cr.Network([cr.Dense(2, 4, "tanh"), cr.Dense(4, 1, "sigmoid")], loss="bce", seed=3, **kw)


def test_layer_shapes_follow_the_row_convention():
    net = cr.Network([cr.Dense(3, 5, "relu"), cr.Dense(5, 2)], seed=0)
    assert net.layers[0].W.shape == (3, 5) and net.layers[0].b.shape == (5,)
    X = np.arange(12.0).reshape(4, 3)
    # Z = A_prev @ W + b, written out here
    z1 = X @ net.layers[0].W + net.layers[0].b
    np.testing.assert_allclose(net.forward(X), np.maximum(z1, 0) @ net.layers[1].W + net.layers[1].b)
    net.backward(X, np.zeros((4, 2)))
    assert net.layers[0].dW.shape == (3, 5) and net.layers[1].db.shape == (2,)


@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.ones((4, 3)), XOR_Y, r"X has 3 feature\(s\) per sample but the first layer expects 2"),
        (np.ones((4, 2)), np.array([0, 1, 1]), "X has 4 samples but y has 3"),
        (np.ones((0, 2)), np.array([]), "X is empty"),
        (np.array([[0.0, np.nan], [1, 1]]), np.array([0, 1]), r"X contains NaN or inf in 1 row\(s\) \(first: row 0\)"),
        (np.array([[0.0, np.inf], [1, 1]]), np.array([0, 1]), "X contains NaN or inf"),
        (np.ones((2, 2)), np.array([0.0, np.nan]), "y contains NaN or inf"),
        (np.ones(2), np.array([1]), r"for one sample use X.reshape\(1, -1\)"),
        (np.array([["a", "b"]]), np.array([1]), "X must be real numbers"),
    ],
)
def test_bad_inputs_say_what_and_how_to_fix(X, y, message):
    net = small_net()
    with pytest.raises(ValueError, match=message):
        net.backward(X, y)
    with pytest.raises(ValueError, match=message):
        net.fit(X, y, epochs=1)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: cr.Network([cr.Dense(2, 3), cr.Dense(4, 1)]), "layer 1 has 3 outputs but layer 2 expects 4"),
        (lambda: cr.Network([]), "non-empty list"),
        (lambda: cr.Network([cr.Dense(2, 1)], loss="l1"), "unknown loss"),
        (lambda: cr.Network([cr.Dense(2, 1)], dtype=np.int64), "dtype must be float64 or float32"),
        (lambda: cr.Dense(0, 3), "n_in must be a positive integer"),
        (lambda: cr.Dense(2, 3, init="lecun"), None),
        (lambda: cr.Dense(2, 3, init=np.ones((3, 2))), r"explicit W has shape \(3, 2\); expected an array of numbers of shape \(2, 3\)"),
        (lambda: cr.Network([cr.Dense(2, 1)], l2=-1), "l2 must be"),
    ],
)
def test_bad_configuration(make, message):
    if message is None:  # an unknown initializer is reported when the weights are drawn
        with pytest.raises(ValueError, match="unknown initializer 'lecun'"):
            cr.Network([make()])
        return
    with pytest.raises(ValueError, match=message):
        make()


def test_fit_argument_errors():
    net = small_net()
    for kw, message in [
        (dict(epochs=0), "epochs must be a positive integer"),
        (dict(batch_size=0), "batch_size must be None"),
        (dict(optimizer="adagrad"), "unknown optimizer"),
        (dict(validation_data=XOR_X), r"validation_data must be a pair"),
        (dict(early_stopping="yes"), "early_stopping must be"),
    ]:
        with pytest.raises(ValueError, match=message):
            net.fit(XOR_X, XOR_Y, **kw)


def test_predict_returns_probabilities():
    net = cr.Network([cr.Dense(2, 3, "linear")], loss="cross_entropy", seed=0)
    p = net.predict(XOR_X)
    z = net.forward(XOR_X)
    np.testing.assert_allclose(p, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True))
    net = cr.Network([cr.Dense(2, 3, "softmax")], loss="cross_entropy", seed=0)
    np.testing.assert_allclose(net.predict(XOR_X).sum(axis=1), 1.0)
    np.testing.assert_array_equal(net.predict(XOR_X), net.forward(XOR_X))


def test_save_load_round_trip_is_exact(tmp_path):
    net = cr.Network(
        [cr.Dense(2, 5, cr.leaky_relu(0.2), lr_scale=0.5), cr.Dense(5, 3, "tanh", bias=False), cr.Dense(3, 1, "sigmoid")],
        loss="bce",
        seed=11,
        l2=0.01,
    )
    net.fit(XOR_X, XOR_Y, optimizer=cr.Adam(0.05), epochs=20, progress=False)
    path = tmp_path / "model.npz"
    net.save(path)
    back = cr.load(path)
    np.testing.assert_array_equal(back.predict(XOR_X), net.predict(XOR_X))
    assert [layer.activation.name for layer in back.layers] == ["leaky_relu", "tanh", "sigmoid"]
    assert back.layers[0].activation.slope == 0.2 and back.layers[0].lr_scale == 0.5
    assert not back.layers[1].bias and back.l2 == 0.01 and back.loss.name == "bce"
    with zipfile.ZipFile(path) as z:  # one .npz of plain arrays: architecture JSON + weights
        assert sorted(z.namelist()) == ["W1.npy", "W2.npy", "W3.npy", "architecture.npy", "b1.npy", "b3.npy"]


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    net = small_net()
    path = tmp_path / "m.npz"
    net.save(path)
    first = path.read_bytes()
    net.layers[0].W += 1
    net.save(path)
    assert path.read_bytes() != first
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_float32_round_trip(tmp_path):
    net = small_net(dtype=np.float32)
    net.save(tmp_path / "m.npz")
    back = cr.load(tmp_path / "m.npz")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back.forward(XOR_X), net.forward(XOR_X))


def test_custom_activation_must_be_given_back(tmp_path):
    f = cr.Activation("xtanh_user", lambda z: z * np.tanh(z), lambda z: np.tanh(z) + z * (1 - np.tanh(z) ** 2))
    net = cr.Network([cr.Dense(2, 3, f), cr.Dense(3, 1)], seed=0)
    net.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="activations=\\{'xtanh_user'"):
        cr.load(tmp_path / "m.npz")
    back = cr.load(tmp_path / "m.npz", activations={"xtanh_user": f})
    np.testing.assert_array_equal(back.forward(XOR_X), net.forward(XOR_X))


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda p: p.write_bytes(b"not a zip file at all"),
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
        lambda p: np.savez(p, W1=np.ones((2, 4))),
        lambda p: np.savez(p, architecture=np.array(json.dumps({"format": "other"}))),
    ],
)
def test_corrupted_file_gives_a_clear_error(tmp_path, corrupt):
    path = tmp_path / "m.npz"
    small_net().save(path)
    corrupt(path)
    with pytest.raises(ValueError, match="is not a readable chainrule model file"):
        cr.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no model file"):
        cr.load(tmp_path / "nope.npz")


def test_load_never_unpickles(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, architecture=np.array([{"format": "chainrule-model"}], dtype=object))
    with pytest.raises(ValueError, match="not a readable chainrule model file"):
        cr.load(path)


def test_same_seed_is_bit_identical():
    def run():
        net = cr.Network([cr.Dense(2, 8, "relu"), cr.Dense(8, 1, "sigmoid")], loss="bce", seed=42)
        rng = np.random.default_rng(0)
        X = rng.normal(size=(64, 2))
        y = (X[:, 0] * X[:, 1] > 0).astype(int)
        h = net.fit(X, y, optimizer=cr.SGD(0.1, momentum=0.9), epochs=5, batch_size=8, progress=False)
        return net, h

    (a, ha), (b, hb) = run(), run()
    assert ha.loss == hb.loss
    for (_, _, p, _, _), (_, _, q, _, _) in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q)


def test_float32_end_to_end():
    net = cr.Network([cr.Dense(2, 4, "tanh"), cr.Dense(4, 3, "softmax")], loss="cross_entropy", seed=0, dtype=np.float32)
    X = np.random.default_rng(0).normal(size=(10, 2))
    y = np.arange(10) % 3
    net.fit(X, y, epochs=3, batch_size=4, progress=False)
    assert net.forward(X).dtype == np.float32
    net.backward(X, y)
    for layer in net.layers:
        assert layer.W.dtype == layer.dW.dtype == layer.db.dtype == layer.Z.dtype == np.float32


def test_a_layer_belongs_to_one_network():
    layer = cr.Dense(2, 1)
    net = cr.Network([layer], seed=0)
    with pytest.raises(ValueError, match="already belongs to a network"):
        cr.Network([layer])
    other = net.copy()
    other.layers[0].W += 1  # a copy has its own parameters
    assert not np.array_equal(other.layers[0].W, net.layers[0].W)


def test_assigning_weights_writes_into_the_network():
    net = small_net()
    net.layers[0].W = np.ones((2, 4))
    np.testing.assert_array_equal(net.theta[:8], 1.0)
    with pytest.raises(ValueError, match=r"Dense.W must have shape \(2, 4\)"):
        net.layers[0].W = np.ones((4, 2))


def test_forward_results_are_not_overwritten_by_the_next_call():
    net = small_net()
    a = net.forward(XOR_X)
    kept = a.copy()
    net.forward(XOR_X[::-1])
    net.fit(XOR_X, XOR_Y, epochs=2, progress=False)
    np.testing.assert_array_equal(a, kept)


@pytest.mark.parametrize("out, k", [("softmax", 3), ("sigmoid", 1)])
def test_a_softmax_or_sigmoid_layer_keeps_log_a_from_its_logits(out, k):
    # log a, which the fused loss reads, taken on the way to a: log of a where a is representable,
    # and still the exact log (−z + …, not −inf) where a underflows to 0
    W = np.array([[1.0, -1.0, 0.5][:k]])
    net = cr.Network([cr.Dense(1, k, out, init=W)], loss="cross_entropy" if k > 1 else "bce")
    net.forward(np.array([[0.3], [-2.0], [1e4], [-1e4]]))
    layer = net.layers[0]
    z = layer.Z.astype(np.float64)
    if k > 1:
        exact = z - z.max(axis=1, keepdims=True) - np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True))
    else:
        exact = -np.log1p(np.exp(-np.maximum(z, -700))) + np.minimum(z + 700, 0)  # −log(1 + e^−z)
    np.testing.assert_allclose(layer.log_A, exact, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.exp(layer.log_A), layer.A, rtol=1e-14, atol=0)
    assert layer.A.min() == 0 and np.isfinite(layer.log_A).all()
