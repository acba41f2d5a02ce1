"""Networks pickle (and go through joblib and deepcopy) as their architecture and weights: the copy
predicts what the original predicts and trains on as it would have, carries no optimizer state or
buffers, and an activation made of lambdas is refused with a message that says how to fix it."""

import copy
import pickle

import joblib
import numpy as np
import pytest

import chainrule as cr
from chainrule.activations import ACTIVATIONS, Activation, register


def xtanh(z):
    return z * np.tanh(z)


def xtanh_prime(z):
    t = np.tanh(z)
    return t + z * (1 - t * t)


class Cube(Activation):
    """A user's activation as a registered class (registered only while the test that uses it runs):
    it pickles by name."""

    name = "test_pickle_cube"

    def f(self, z):
        return z**3 / 3

    def df(self, z):
        return z**2


def roundtrip(net):
    return pickle.loads(pickle.dumps(net))


def data(n_in=3, n=20, seed=0):
    return np.random.default_rng(seed).normal(size=(n, n_in))


def assert_same_network(a, b):
    assert a.architecture() == b.architecture()
    np.testing.assert_array_equal(a.theta, b.theta)
    X = data(a.layers[0].n_in)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


HIDDEN = [name for name in ACTIVATIONS if name != "softmax"]


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("loss, output", [("mse", "linear"), ("bce", "sigmoid"), ("cross_entropy", "softmax")])
def test_every_activation_and_loss_roundtrip(hidden, loss, output):
    net = cr.Network([cr.Dense(3, 4, hidden), cr.Dense(4, 2, output)], loss=loss, seed=1, l2=0.1)
    assert_same_network(net, roundtrip(net))


def test_dtype_bias_lr_scale_slope_and_the_initial_weights_flag_survive():
    net = cr.Network([cr.Dense(3, 4, cr.leaky_relu(0.2), bias=False, lr_scale=0.5), cr.Dense(4, 1, "linear")],
                     dtype=np.float32, seed=2)
    net.fit(data(), data(1)[:, 0], epochs=2, progress=False, diagnostics=False)
    copy_ = roundtrip(net)
    assert copy_.dtype == np.float32 and copy_.layers[0].activation.slope == 0.2
    assert copy_.initial_weights is False
    assert_same_network(net, copy_)


def test_training_continues_as_it_would_have():
    """The random generator's state travels with the weights: the copy shuffles as the original does."""
    X, y = data(), data(1)[:, 0]
    net = cr.Network([cr.Dense(3, 5, "tanh"), cr.Dense(5, 1)], seed=3)
    net.fit(X, y, epochs=3, batch_size=4, progress=False, diagnostics=False)
    twin = roundtrip(net)
    for n in (net, twin):
        n.fit(X, y, epochs=3, batch_size=4, progress=False, diagnostics=False)
    np.testing.assert_array_equal(net.theta, twin.theta)


def test_no_buffers_or_optimizer_state_travel():
    net = cr.Network([cr.Dense(30, 40, "relu"), cr.Dense(40, 1)], seed=0)
    net.fit(data(30, 2000), data(1, 2000)[:, 0], epochs=1, optimizer="adam", progress=False, diagnostics=False)
    # the full-batch workspace holds 2000 × (40 + 1) values per buffer; θ only 1281
    assert len(pickle.dumps(net)) < 2 * net.theta.nbytes + 8192


def test_joblib_and_deepcopy(tmp_path):
    net = cr.Network([cr.Dense(3, 4, "relu"), cr.Dense(4, 3, "softmax")], loss="cross_entropy", seed=4)
    joblib.dump(net, tmp_path / "net.joblib")
    assert_same_network(net, joblib.load(tmp_path / "net.joblib"))
    twin = copy.deepcopy(net)
    assert_same_network(net, twin)
    twin.theta[...] = 0  # a deep copy shares nothing
    assert net.theta.any()


@pytest.fixture
def cube():
    register(Cube)
    yield
    del ACTIVATIONS[Cube.name]


def test_users_activations_of_module_functions_and_registered_classes_pickle(cube):
    net = cr.Network([cr.Dense(3, 4, Activation("xtanh_fn", xtanh, xtanh_prime)), cr.Dense(4, 2, Cube()),
                      cr.Dense(2, 1)], seed=5)
    copy_ = roundtrip(net)
    assert copy_.layers[0].activation.f is xtanh and isinstance(copy_.layers[1].activation, Cube)
    assert_same_network(net, copy_)


def test_lambda_activation_is_refused_with_the_fix():
    act = Activation("squash", lambda z: z / (1 + abs(z)), lambda z: 1 / (1 + abs(z)) ** 2)
    net = cr.Network([cr.Dense(2, 3, "tanh"), cr.Dense(3, 1, act)], seed=0)
    with pytest.raises(ValueError, match="layer 2's activation 'squash' cannot be pickled.*register"):
        pickle.dumps(net)


def test_batch_norm_and_residual_blocks_pickle_with_their_running_statistics():
    net = cr.Network([cr.Dense(2, 6, bias=False), cr.BatchNorm(6, "relu"),
                      cr.Residual([cr.Dense(6, 4, "tanh"), cr.BatchNorm(4)]), cr.Dense(4, 1, "sigmoid")],
                     loss="bce", seed=3)
    X = np.random.default_rng(0).normal(size=(32, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(float)
    net.fit(X, y, epochs=3, batch_size=8, diagnostics=False)
    assert np.abs(net.running).sum() > 0  # the statistics moved: a copy that lost them would differ
    for copied in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert [type(layer) for layer in copied.layers] == [type(layer) for layer in net.layers]
        np.testing.assert_array_equal(copied.theta, net.theta)
        np.testing.assert_array_equal(copied.running, net.running)
        np.testing.assert_array_equal(copied.predict(X), net.predict(X))  # evaluation mode: the running ones
