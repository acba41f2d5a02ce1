"""The L2 penalty in a trace, against numbers computed here: by hand-written NumPy arithmetic on the
notebook's 2-2-1 exercise, and by autograd on a loss written from its definition,

    L = data loss + λ/(2N)·Σ W²  (weights only, N the batch size),  ∂L/∂W = Σₙ a·δ + (λ/N)·W,

as chainrule.Network(l2=λ) defines it."""

import json
import math
import re

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import chainrule as cr

EXAMPLE = "examples/trace/notebook-exercise-l2.toml"
LAM, ETA, T = 0.1, 0.1, 0.8


def sig(z):
    return 1 / (1 + np.exp(-z))


def notebook_by_hand():
    """The notebook's exercise with λ = 0.1, in its own layout z = W x + b (row j: into neuron j)."""
    x = np.array([1.0, 2.0])
    W1, b1 = np.array([[0.5, 0.3], [0.2, 0.8]]), np.array([0.1, 0.4])
    W2, b2 = np.array([[0.9, 0.7]]), np.array([0.2])
    a1 = sig(W1 @ x + b1)
    a2 = sig(W2 @ a1 + b2)
    data = (a2[0] - T) ** 2  # mse, one output, one sample
    penalty = LAM / 2 * ((W1**2).sum() + (W2**2).sum())  # λ/(2m), m = 1
    d2 = 2 * (a2 - T) * a2 * (1 - a2)
    d1 = (W2.T @ d2) * a1 * (1 - a1)
    dW2, dW1 = np.outer(d2, a1) + LAM * W2, np.outer(d1, x) + LAM * W1  # + (λ/m)·W
    return dict(a1=a1, a2=a2, data=data, penalty=penalty, d1=d1, d2=d2, W1=W1, W2=W2, b1=b1, b2=b2,
                dW1=dW1, dW2=dW2)


def test_the_notebook_exercise_with_l2_by_hand():
    h = notebook_by_hand()
    v = cr.trace(EXAMPLE).values()
    assert h["penalty"] == pytest.approx(0.05 * (0.25 + 0.09 + 0.04 + 0.64 + 0.81 + 0.49)) == pytest.approx(0.116)
    assert v["penalty"] == pytest.approx(0.116, rel=1e-12)
    assert v["data_loss"] == pytest.approx(h["data"], rel=1e-12)
    assert v["data_loss"] == pytest.approx(0.000433068, rel=1e-6)
    assert v["loss"] == pytest.approx(h["data"] + 0.116, rel=1e-12)
    assert v["delta[2][1]"] == pytest.approx(h["d2"][0], rel=1e-12)  # the penalty does not reach δ
    for l in (1, 2):
        W, dW = h[f"W{l}"], h[f"dW{l}"]
        for j, i in np.ndindex(*W.shape):  # out_in: W[l][j][i]
            at = f"[{l}][{j + 1}][{i + 1}]"
            assert v["dW" + at] == pytest.approx(dW[j, i], rel=1e-12), at
            assert v["update_W" + at] == pytest.approx(-ETA * dW[j, i], rel=1e-12), at
            assert v["W_new" + at] == pytest.approx(W[j, i] - ETA * dW[j, i], rel=1e-12), at
        b, d = h[f"b{l}"], h[f"d{l}"]
        for j in range(len(b)):  # biases: no penalty
            assert v[f"db[{l}][{j + 1}]"] == pytest.approx(d[j], rel=1e-12)
            assert v[f"b_new[{l}][{j + 1}]"] == pytest.approx(b[j] - ETA * d[j], rel=1e-12)
    # W[2][1][1] = 0.9: the data's part 0.768525·δ, the penalty's 0.1·0.9 = 0.09
    assert v["dW[2][1][1]"] == pytest.approx(0.7685247835 * v["delta[2][1]"] + 0.09, rel=1e-9)


def test_l2_zero_is_the_trace_without_it():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    with open("examples/trace/notebook-exercise.toml", "rb") as f:
        spec = tomllib.load(f)
    spec["train"]["l2"] = 0
    plain = cr.trace("examples/trace/notebook-exercise.toml")
    assert cr.trace(spec).render("markdown").split("\n", 1)[1] == plain.render("markdown").split("\n", 1)[1]
    assert "penalty" not in plain.values() and "l2" not in plain.as_dict()


def cross_entropy_spec(rng, N=3):
    sizes = (3, 3, 2)
    Ws = [rng.normal(0, 0.8, (i, o)) for i, o in zip(sizes, sizes[1:])]
    bs = [rng.normal(0, 0.5, o) for o in sizes[1:]]
    X, Y = rng.normal(size=(N, 3)), np.eye(2)[rng.integers(0, 2, N)]
    spec = {
        "network": {"layers": list(sizes), "activations": ["tanh", "softmax"], "bias": True},
        "weights": {"W1": Ws[0].tolist(), "W2": Ws[1].tolist(), "b1": bs[0].tolist(), "b2": bs[1].tolist()},
        "train": {"x": X.tolist(), "target": Y.tolist(), "loss": "cross_entropy", "learning_rate": 0.5,
                  "l2": 0.7, "steps": 2},
    }
    return spec, Ws, bs, X, Y


def test_l2_gradients_over_two_steps_against_autograd():
    """A 3-3-2 tanh/softmax network on 3 samples: the trace's L, dW and db against autograd of
    −(1/N)·Σ t·log softmax(z) + λ/(2N)·Σ W², and the second step from autograd's own first update."""
    spec, Ws, bs, X, Y = cross_entropy_spec(np.random.default_rng(5))
    lam, eta, N = 0.7, 0.5, len(X)

    def loss(params):
        W1, b1, W2, b2 = params
        z = anp.dot(anp.tanh(anp.dot(X, W1) + b1), W2) + b2
        log_p = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
        return -anp.sum(Y * log_p) / N + lam / (2 * N) * (anp.sum(W1**2) + anp.sum(W2**2))

    tr = cr.trace(spec)
    params = [Ws[0], bs[0], Ws[1], bs[1]]
    for step in tr.steps:
        grads = grad(loss)(params)
        assert step.loss == pytest.approx(loss(params), rel=1e-12)
        assert step.penalty == pytest.approx(lam / (2 * N) * sum((W**2).sum() for W in params[::2]), rel=1e-12)
        for layer, dW, db in zip(step.layers, grads[::2], grads[1::2]):
            np.testing.assert_allclose(layer.dW, dW, rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(layer.db, db, rtol=1e-10, atol=1e-14)
        params = [p - eta * g for p, g in zip(params, grads)]
    assert tr.after_loss == pytest.approx(loss(params), rel=1e-12)


def test_every_format_shows_the_penalty_with_its_numbers():
    tr = cr.trace(EXAMPLE)
    h = notebook_by_hand()
    text = tr.render("text")
    assert re.search(r"penalty +\= \(λ/2\)·Σ W\[l\]\[r\]\[c\]² += \(0\.1/2\)·\(0\.5² \+ 0\.3² \+ 0\.2² \+ 0\.8² \+ "
                     r"0\.9² \+ 0\.7²\) += 0\.116\n", text)
    assert re.search(r"loss +\= data_loss \+ penalty += 0\.000433068 \+ 0\.116 += 0\.116433\n", text)
    assert re.search(r"dW\[2\]\[1\]\[1\] += a\[1\]\[1\]·delta\[2\]\[1\] \+ λ·W\[2\]\[1\]\[1\] += "
                     r"0\.768525·0\.00612\d* \+ 0\.1·0\.9 += 0\.0947046\n", text)
    assert "Why the weights shrink" in text and "1 − η·λ = 0.99" in text

    md = tr.render("markdown")
    assert "| `penalty` | `(λ/2)·Σ W[l][r][c]²` | `(0.1/2)·(0.5² + 0.3² + 0.2² + 0.8² + 0.9² + 0.7²)` | 0.116 |" in md
    assert "| `dW[1][1][2]` | `x[2]·delta[1][1] + λ·W[1][1][2]` |" in md

    latex = tr.render("latex")
    assert r"L_{\mathrm{L2}} &= (\lambda /2)\cdot \sum  {{W}^{[l]}_{r,c}}^2 \\ & = (0.1/2)\cdot (0.5^2 + " in latex
    assert r"L &= L_{\mathrm{data}} + L_{\mathrm{L2}} \\ & = 0.000433068 + 0.116 = 0.116433" in latex
    assert r"+ \lambda \cdot {{W}^{[2]}_{1,1}} \\ & = 0.768525\cdot " in latex
    assert not re.search(r"_\{[^{}]*\}\^\{?[^{}]*\}?_", latex)  # no double subscript or superscript

    doc = json.loads(tr.render("json"))
    step = doc["steps"][0]
    assert doc["l2"] == 0.1
    assert step["penalty"] == pytest.approx(0.116) and step["data_loss"] == pytest.approx(h["data"])
    assert step["loss"] == pytest.approx(h["data"] + 0.116)
    np.testing.assert_allclose(step["layers"][1]["dW"], h["dW2"], rtol=1e-12)  # in the spec's layout
    np.testing.assert_allclose(step["layers"][0]["dW"], h["dW1"], rtol=1e-12)


def test_a_batch_divides_lambda_by_its_size():
    spec, *_ = cross_entropy_spec(np.random.default_rng(1), N=2)
    spec["train"]["steps"] = 1
    text = cr.trace(spec).render("text")
    assert re.search(r"penalty +\= \(λ/4\)·Σ W\[l\]\[r\]\[c\]² += \(0\.7/4\)·\(", text)
    assert "Σₙ x[1]·delta[1][1] + (λ/2)·W[1][1][1]" in text
    assert "1 − η·(λ/2) = 0.825" in " ".join(text.split())  # 1 − 0.5·0.7/2, in a note wrapped to 100 columns


def test_the_hand_calculation_rounds_the_penalty_and_its_gradient():
    hand = cr.trace(EXAMPLE, hand=3).values()
    r = lambda v: round(v, 3)  # noqa: E731
    assert hand["penalty"] == 0.116
    assert hand["loss"] == pytest.approx(r(hand["data_loss"] + 0.116), abs=1e-12)
    # dW = a·δ + λ·W from the hand calculation's own rounded a and δ, rounded once
    assert hand["dW[2][1][1]"] == pytest.approx(r(hand["a[1][1]"] * hand["delta[2][1]"] + 0.1 * 0.9), abs=1e-12)
    assert hand["dW[1][2][2]"] == pytest.approx(r(2 * hand["delta[1][2]"] + 0.1 * 0.8), abs=1e-12)
    assert hand["W_new[1][2][2]"] == pytest.approx(r(0.8 + r(-0.1 * hand["dW[1][2][2]"])), abs=1e-12)
    assert hand["db[1][2]"] == hand["delta[1][2]"]  # no penalty on a bias
    fine, exact = cr.trace(EXAMPLE, hand=12).values(), cr.trace(EXAMPLE).values()
    assert set(fine) == set(exact) and all(math.isclose(fine[k], exact[k], abs_tol=1e-10) for k in exact)
    text = cr.trace(EXAMPLE, hand=3).render("text")
    assert "(0.1/2)·(0.5² + 0.3² + 0.2² + 0.8² + 0.9² + 0.7²)" in text and "Drift" in text


def test_check_marks_an_update_that_forgot_the_penalty():
    tr = cr.trace(EXAMPLE)
    v = tr.values()
    assert tr.check({"penalty": 0.116, "loss": 0.1164, "dW[2][1][1]": 0.0947}).passed
    forgot = v["dW[2][1][1]"] - 0.09  # a·δ alone
    report = tr.check({"penalty": 0.116, "dW[2][1][1]": round(forgot, 5), "tolerance": 1e-4})
    assert not report.passed and report.first_wrong[0].key == "dW[2][1][1]"
    assert "dW[2][1][1] = a[1][1]·delta[2][1] + λ·W[2][1][1] = 0.768525·" in report.render()
