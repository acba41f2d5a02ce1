"""A new activation and a new loss, defined here, outside the package, and registered: the engine,
gradcheck, the diagnostics, the trace, saved models and the CLI take them by name with no other
change. The oracle is independent: autograd differentiates the same formulas written here."""

import json

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import chainrule as cr
from chainrule import activations, datasets, losses
from chainrule.cli import main


class Softsign(cr.Activation):
    """a = z / (1 + |z|), f′ = 1 / (1 + |z|)²: a range of (−1, 1), Glorot's initializer."""

    name = "softsign_test"
    output_range = (-1.0, 1.0)
    formula, derivative_formula = "{z}/(1 + |{z}|)", "1/(1 + |{z}|)²"
    definition = "softsign(z) = z/(1 + |z|), softsign′(z) = 1/(1 + |z|)²"
    slope_note = "for softsign, f′ = 1/(1 + |z|)² is 1 at z = 0 and falls off slowly"

    def f(self, z):
        return z / (1 + np.abs(z))

    def df(self, z):
        return 1 / (1 + np.abs(z)) ** 2


class LogCosh(losses.Loss):
    """L = mean over samples and outputs of log cosh(ŷ − y), ∂L/∂ŷ = tanh(ŷ − y)/(N·K)."""

    name = "log_cosh_test"
    term, term_grad = "log(cosh({a} − {t}))", "tanh({a} − {t})"
    definition = "log_cosh, L = (1/(N·K))·Σₙ Σₖ log cosh(a[L][k] − t[k])"

    def value(self, a, y):
        d = np.abs(a - y)
        return float(np.mean(d + np.log1p(np.exp(-2 * d)) - np.log(2)))  # log cosh d, stable

    def grad(self, a, y, out=None):
        return np.divide(np.tanh(a - y), a.size, out=out)


@pytest.fixture(autouse=True)
def registered():
    activations.register(Softsign)
    losses.register(LogCosh)
    yield
    del activations.ACTIVATIONS[Softsign.name], losses.LOSSES[LogCosh.name]


def oracle_loss(params, X, Y):
    """The same network and loss in autograd's NumPy: 2-3-1, softsign hidden, linear output."""
    (W1, b1), (W2, b2) = params
    h = (X @ W1 + b1) / (1 + anp.abs(X @ W1 + b1))
    d = h @ W2 + b2 - Y
    return anp.mean(anp.log(anp.cosh(d)))


def net_and_data():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=(5, 1))
    return cr.Network([cr.Dense(2, 3, "softsign_test"), cr.Dense(3, 1)], loss="log_cosh_test", seed=1), X, Y


def test_the_engine_and_gradcheck_take_them_by_name():
    net, X, Y = net_and_data()
    loss = net.backward(X, Y)
    params = [(layer.W.copy(), layer.b.copy()) for layer in net.layers]
    assert loss == pytest.approx(oracle_loss(params, X, Y), rel=1e-12)
    for (dW, db), layer in zip(grad(oracle_loss)(params, X, Y), net.layers):
        np.testing.assert_allclose(layer.dW, dW, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(layer.db, db, rtol=1e-10, atol=1e-14)
    assert cr.gradcheck(net, X, Y).passed
    assert net.layers[0].init == "glorot_uniform"  # the class's default initializer


def test_the_diagnostics_read_their_range_and_raise_no_false_alarm():
    X, y = datasets.sine(200)
    net = cr.Network([cr.Dense(1, 16, "softsign_test"), cr.Dense(16, 1)], loss="log_cosh_test", seed=0)
    findings, history = cr.diagnose(net, X, y, optimizer=cr.Adam(0.01), epochs=200)
    assert [f.code for f in findings] == [] and history.loss[-1] < 0.5 * history.loss[0]
    out_of_range = cr.Network([cr.Dense(1, 4), cr.Dense(4, 1, "softsign_test")], loss="log_cosh_test", seed=0)
    findings, _ = cr.diagnose(out_of_range, X, 3 * y)  # sin x · 3 reaches ±3: softsign cannot
    assert [f.code for f in findings] == ["target_range"] and "softsign_test output [-1, 1]" in findings[0].message


def test_the_trace_writes_them_with_their_formulas():
    spec = {"network": {"layers": [2, 2, 1], "activations": ["softsign_test", "linear"], "bias": True},
            "weights": {"W1": [[0.1, -0.2], [0.3, 0.4]], "b1": [0.0, 0.1], "W2": [[0.5], [-0.6]], "b2": [0.05]},
            "train": {"x": [1.0, 2.0], "target": [0.3], "loss": "log_cosh_test", "learning_rate": 0.5}}
    t = cr.trace(spec)
    text = t.render("text")
    assert "z[1][1]/(1 + |z[1][1]|)" in text and "log(cosh(" in text and "1/(1 + |z[1][2]|)²" in text
    assert "softsign(z) = z/(1 + |z|)" in text
    W1, b1 = np.array(spec["weights"]["W1"]), np.array(spec["weights"]["b1"])
    W2, b2 = np.array(spec["weights"]["W2"]), np.array(spec["weights"]["b2"])
    X, Y = np.array([[1.0, 2.0]]), np.array([[0.3]])
    dW1, db1 = grad(oracle_loss)([(W1, b1), (W2, b2)], X, Y)[0]
    values = json.loads(t.render("json"))["steps"][0]["layers"][0]
    np.testing.assert_allclose(values["dW"], dW1, rtol=1e-12)
    np.testing.assert_allclose(values["W_new"], W1 - 0.5 * dW1, rtol=1e-12)


def test_saved_models_keep_them_by_name(tmp_path):
    net, X, Y = net_and_data()
    net.save(tmp_path / "m.npz")
    back = cr.load(tmp_path / "m.npz")
    assert isinstance(back.layers[0].activation, Softsign) and isinstance(back.loss, LogCosh)
    np.testing.assert_array_equal(back.forward(X), net.forward(X))


def test_the_cli_takes_them_by_name(capsys, tmp_path):
    assert main(["train", "--data", "xor", "--hidden", "4", "--activation", "softsign_test", "--loss", "log_cosh_test",
                 "--epochs", "5"]) == 0
    out = capsys.readouterr().out
    assert "activations=[softsign_test, linear], loss='log_cosh_test'" in out
    spec = tmp_path / "s.toml"
    spec.write_text('[network]\nlayers = [1, 1, 1]\nactivations = ["softsign_test", "linear"]\nbias = true\n'
                    '[weights]\nW1 = [[0.5]]\nb1 = [0.0]\nW2 = [[1.0]]\nb2 = [0.0]\n'
                    '[train]\nx = [1.0]\ntarget = [0.0]\nloss = "log_cosh_test"\nlearning_rate = 0.1\n')
    assert main(["trace", str(spec)]) == 0
    assert "1/(1 + |z[1][1]|)²" in capsys.readouterr().out
