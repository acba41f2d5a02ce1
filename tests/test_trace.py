"""chainrule.trace: every number of the worked solution against an independent float64 oracle.

The oracle (``reference``) is plain NumPy written here from the textbook equations — forward
z = a_prev W + b, a = f(z); the loss; δ(L) = ∂L/∂a(L) · ∂a/∂z (the softmax Jacobian in full);
δ(l) = (δ(l+1) W(l+1)ᵀ) ⊙ f′(z(l)); dW = a_prevᵀ δ; W ← W − η dW — and shares no code with the
engine. It names every number as the trace does, so the two dictionaries are compared key by key.
"""

import itertools
import math
import re
import zlib

import numpy as np
import pytest

import chainrule as cr
from chainrule.tracing.derivation import Table

RTOL = 1e-9


# ---- the oracle -------------------------------------------------------------------------------


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# f and f′ as functions of z; softmax's Jacobian is applied separately
F = {
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "relu": (lambda z: np.where(z > 0, z, 0.0), lambda z: np.where(z > 0, 1.0, 0.0)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "linear": (lambda z: z, lambda z: np.ones_like(z)),
    "xtanh": (lambda z: z * np.tanh(z), lambda z: np.tanh(z) + z / np.cosh(z) ** 2),
    "softmax": (_softmax, None),
}


def loss_and_grad(loss, out_act, z, a, Y):
    """(L, ∂L/∂a) as each loss is defined (a mean; cross_entropy on the logits: z for a softmax
    output, a otherwise)."""
    N, K = Y.shape
    if loss == "mse":
        return ((a - Y) ** 2).sum() / (N * K), 2 * (a - Y) / (N * K)
    if loss == "half_sse":
        return 0.5 * ((a - Y) ** 2).sum() / N, (a - Y) / N
    if loss == "bce":
        L = -(Y * np.log(a) + (1 - Y) * np.log(1 - a)).sum() / (N * K)
        return L, (a - Y) / (a * (1 - a)) / (N * K)
    if loss == "hinge":
        return np.maximum(0, 1 - Y * a).sum() / (N * K), np.where(Y * a < 1, -Y, 0.0) / (N * K)
    assert loss == "cross_entropy"
    logits = z if out_act == "softmax" else a
    p = _softmax(logits)
    L = -(Y * np.log(p)).sum() / N
    # ∂L/∂logits = (p − y)/N; for a softmax output the logits are z, so ∂L/∂a is not needed
    return L, (p - Y) / N


def reference(Ws, bs, acts, loss, X, Y, lr, steps, layout, l2=0.0):
    """{name: value} for ``steps`` steps of gradient descent, named as the trace names them; with
    ``l2`` = λ the loss adds λ/(2N)·Σ W² and each ∂L/∂W adds (λ/N)·W."""
    Ws, bs = [W.copy() for W in Ws], [None if b is None else b.copy() for b in bs]
    N, L = len(X), len(Ws)
    out = {}
    for s in range(1, steps + 1):
        step = f"step{s}." if s > 1 else ""

        def per(n, name):
            return step + (f"sample{n + 1}." if N > 1 else "") + name

        Zs, As, a = [], [], X
        for W, b, act in zip(Ws, bs, acts):
            z = a @ W + (0 if b is None else b)
            a = F[act][0](z)
            Zs.append(z)
            As.append(a)
        value, g = loss_and_grad(loss, acts[-1], Zs[-1], As[-1], Y)
        penalty = l2 / (2 * N) * sum((W**2).sum() for W in Ws)
        out[step + "loss"] = value + penalty
        if l2:
            out[step + "data_loss"], out[step + "penalty"] = value, penalty
        for n, k in np.ndindex(*Y.shape):
            out[per(n, f"error[{k + 1}]")] = Y[n, k] - As[-1][n, k]
        deltas = [None] * L
        for l in range(L - 1, -1, -1):
            if l < L - 1:
                g = deltas[l + 1] @ Ws[l + 1].T  # ∂L/∂a(l) = δ(l+1) W(l+1)ᵀ
            if acts[l] == "softmax":
                if l == L - 1 and loss == "cross_entropy":
                    d = g  # ∂L/∂z directly
                else:
                    A = As[l]  # δ = J g, J[k][m] = a_k ([k = m] − a_m), per sample
                    d = np.stack([(np.diag(A[n]) - np.outer(A[n], A[n])) @ g[n] for n in range(N)])
                    for n, j in np.ndindex(*g.shape):
                        out[per(n, f"grad_a[{l + 1}][{j + 1}]")] = g[n, j]
            else:
                d = g * F[acts[l]][1](Zs[l])
            deltas[l] = d
        for l in range(L):
            for n, j in np.ndindex(*Zs[l].shape):
                at = f"[{l + 1}][{j + 1}]"
                out[per(n, "z" + at)], out[per(n, "a" + at)] = Zs[l][n, j], As[l][n, j]
                out[per(n, "delta" + at)] = deltas[l][n, j]
            a_prev = X if l == 0 else As[l - 1]
            dW = a_prev.T @ deltas[l] + l2 / N * Ws[l]
            for i, j in np.ndindex(*dW.shape):
                at = f"[{l + 1}][{i + 1}][{j + 1}]" if layout == "in_out" else f"[{l + 1}][{j + 1}][{i + 1}]"
                out[step + "dW" + at] = dW[i, j]
                out[step + "update_W" + at] = -lr * dW[i, j]
                out[step + "W_new" + at] = Ws[l][i, j] - lr * dW[i, j]
            if bs[l] is not None:
                db = deltas[l].sum(axis=0)
                for j in range(len(db)):
                    at = f"[{l + 1}][{j + 1}]"
                    out[step + "db" + at], out[step + "update_b" + at] = db[j], -lr * db[j]
                    out[step + "b_new" + at] = bs[l][j] - lr * db[j]
                bs[l] = bs[l] - lr * db
            Ws[l] = Ws[l] - lr * dW
    return out


def assert_matches(tr, expected):
    got = tr.values()
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert math.isclose(got[name], value, rel_tol=RTOL, abs_tol=1e-13), (name, got[name], value)


# ---- specs -----------------------------------------------------------------------------------

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax", "xtanh"]
LOSSES = ["mse", "half_sse", "bce", "cross_entropy", "hinge"]
LAB = "examples/trace/lab-2-2-1.toml"
NOTEBOOK = "examples/trace/notebook-exercise.toml"


def random_spec(rng, hidden, output, loss, bias, layout, n, steps, sizes=(3, 2, 2), l2=0.0):
    """A spec dict and its parts in the engine's (n_in, n_out) layout; ``l2`` > 0 goes into [train]."""
    Ws = [rng.normal(0, 0.8, (i, o)) for i, o in zip(sizes, sizes[1:])]
    bs = [rng.normal(0, 0.5, o) if bias else None for o in sizes[1:]]
    X = rng.normal(size=(n, sizes[0]))
    K = sizes[-1]
    Y = {"cross_entropy": np.eye(K)[rng.integers(0, K, n)],
         "bce": rng.integers(0, 2, (n, K)).astype(float),
         "hinge": rng.choice([-1.0, 1.0], (n, K))}.get(loss, rng.normal(size=(n, K)))
    weights = {f"W{l}": (W if layout == "in_out" else W.T).tolist() for l, W in enumerate(Ws, 1)}
    weights.update({f"b{l}": b.tolist() for l, b in enumerate(bs, 1) if b is not None})
    spec = {
        "network": {"layers": list(sizes), "activations": [hidden, output], "bias": bias, "layout": layout},
        "weights": weights,
        "train": {"x": (X[0] if n == 1 else X).tolist(), "target": (Y[0] if n == 1 else Y).tolist(),
                  "loss": loss, "learning_rate": 0.3, "steps": steps} | ({"l2": l2} if l2 else {}),
    }
    return spec, (Ws, bs, [hidden, output], loss, X, Y, 0.3, steps, layout, l2)


def cases():
    """Every activation as hidden and as output layer, every loss, both layouts, with and without
    biases, 1 and 3 samples, 1 and 3 steps: every pair covered, the rest drawn."""
    rng = np.random.default_rng(4)
    out = []
    for i, (hidden, output, loss) in enumerate(itertools.product(ACTIVATIONS, ACTIVATIONS, LOSSES)):
        if loss == "bce" and output not in ("sigmoid", "softmax"):
            continue  # bce needs probabilities
        if rng.random() < 0.55 and hidden not in (output,) and i % 3:
            continue
        out.append((hidden, output, loss, bool(i % 2), ("in_out", "out_in")[i // 2 % 2], (1, 3)[i // 4 % 2],
                    (1, 3)[i // 8 % 2]))
    return out


CASES = cases()


def test_the_cases_cover_everything():
    for column, values in zip(zip(*CASES), (ACTIVATIONS, ACTIVATIONS, LOSSES, (False, True), ("in_out", "out_in"),
                                            (1, 3), (1, 3))):
        assert set(column) == set(values)


@pytest.mark.parametrize("hidden, output, loss, bias, layout, n, steps", CASES)
def test_every_number_equals_the_oracle(hidden, output, loss, bias, layout, n, steps):
    rng = np.random.default_rng(zlib.crc32(repr((hidden, output, loss, bias, layout, n, steps)).encode()))
    spec, parts = random_spec(rng, hidden, output, loss, bias, layout, n, steps)
    tr = cr.trace(spec)
    assert len(tr.steps) == steps
    assert_matches(tr, reference(*parts))


@pytest.mark.parametrize("hidden, output, loss, bias, layout, n, steps", CASES[::3])
def test_with_l2_every_number_equals_the_oracle(hidden, output, loss, bias, layout, n, steps):
    """The L2 penalty λ/(2N)·Σ W² in the loss and (λ/N)·W in every dW, for every activation and loss."""
    rng = np.random.default_rng(zlib.crc32(repr((hidden, output, loss, bias, layout, n, steps)).encode()))
    spec, parts = random_spec(rng, hidden, output, loss, bias, layout, n, steps, l2=0.7)
    assert_matches(cr.trace(spec), reference(*parts))


@pytest.mark.parametrize("hidden, output, loss, bias, layout, n, steps", CASES[::3])
def test_json_has_every_layer_in_the_spec_layout(hidden, output, loss, bias, layout, n, steps):
    rng = np.random.default_rng(7)
    spec, parts = random_spec(rng, hidden, output, loss, bias, layout, n, steps)
    expected = reference(*parts)
    doc = cr.trace(spec).as_dict()
    assert len(doc["steps"]) == steps
    for s, step in enumerate(doc["steps"], start=1):
        prefix = f"step{s}." if s > 1 else ""
        assert math.isclose(step["loss"], expected[prefix + "loss"], rel_tol=RTOL)
        for l, layer in enumerate(step["layers"], start=1):
            assert set(layer) == {"z", "a", "delta", "dW", "db", "W_new", "b_new"}
            z = np.array(layer["z"])
            assert z.shape == ((2,) if n == 1 else (n, 2))  # a vector for one sample, a row per sample
            assert math.isclose(z.flat[-1], expected[prefix + (f"sample{n}." if n > 1 else "") + f"z[{l}][2]"],
                                rel_tol=RTOL)
            W_new = np.array(layer["W_new"])
            n_in = 3 if l == 1 else 2
            assert W_new.shape == ((n_in, 2) if layout == "in_out" else (2, n_in))
            for r, c in np.ndindex(*W_new.shape):
                assert math.isclose(W_new[r, c], expected[f"{prefix}W_new[{l}][{r + 1}][{c + 1}]"], rel_tol=RTOL)
            assert (layer["db"] is None) == (not bias)


# ---- against the engine ------------------------------------------------------------------------


@pytest.mark.parametrize("hidden, output, loss, bias, layout, n, steps", CASES[::4])
def test_gradients_and_new_weights_are_the_engines(hidden, output, loss, bias, layout, n, steps):
    rng = np.random.default_rng(11)
    spec, (Ws, bs, acts, _, X, Y, lr, _, _, _) = random_spec(rng, hidden, output, loss, bias, layout, n, 1)
    layers = [cr.Dense(W.shape[0], W.shape[1], act, init=W if b is None else (W, b), bias=b is not None)
              for W, b, act in zip(Ws, bs, acts)]
    net = cr.Network(layers, loss=loss)
    tr = cr.trace(spec)
    assert tr.steps[0].loss == net.backward(X, Y)
    for layer, traced in zip(net.layers, tr.steps[0].layers):
        np.testing.assert_array_equal(traced.dW, layer.dW)
        if bias:
            np.testing.assert_array_equal(traced.db, layer.db)
    cr.SGD(lr=lr).step(net)
    for layer, traced in zip(net.layers, tr.steps[0].layers):
        np.testing.assert_array_equal(traced.W_new, layer.W)
        if bias:
            np.testing.assert_array_equal(traced.b_new, layer.b)


def _evaluate(line):
    """A line's 'with the numbers' text, at full precision, evaluated as Python."""
    text = line.template.format(**{k: f"({float(v)!r})" for k, v in line.numbers.items()})
    text = re.sub(r"tanh²\(", "tanh2(", text)
    for a, b in (("·", "*"), ("−", "-"), ("²", "**2"), ("½", "0.5"), ("σ", "sig"), ("√", "sqrt"), ("[", "("),
                 ("]", ")")):
        text = text.replace(a, b)
    names = {"sig": lambda z: 1 / (1 + math.exp(-z)), "tanh": math.tanh, "tanh2": lambda z: math.tanh(z) ** 2,
             "exp": math.exp, "log": math.log, "max": max, "sqrt": math.sqrt}
    return float(eval(text, names))  # noqa: S307 — our own formula text, in a test


@pytest.mark.parametrize("hidden, output, loss, bias, layout, n, steps", CASES[::2])
def test_each_formula_with_its_numbers_gives_its_value(hidden, output, loss, bias, layout, n, steps):
    """What a reader sees substituted into each formula really computes the value shown (with the
    L2 penalty in every other case)."""
    rng = np.random.default_rng(13)
    l2 = 0.4 if CASES.index((hidden, output, loss, bias, layout, n, steps)) % 4 else 0.0
    spec, _ = random_spec(rng, hidden, output, loss, bias, layout, n, steps, l2=l2)
    lines = [line for block in cr.trace(spec).worked() if isinstance(block, Table) for line in block.lines]
    for line in lines:
        assert math.isclose(_evaluate(line), line.value, rel_tol=1e-9, abs_tol=1e-14), (line.key, line.template)


# ---- the two examples ------------------------------------------------------------------------------


def test_lab_example_by_hand():
    """Lab 02's 2-2-1 network, every number worked out here with a calculator's formulas."""
    v = cr.trace(LAB).values()
    s = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    assert v["z[1][1]"] == pytest.approx(0.2 * 0.35 + 0.2 * 0.7) == pytest.approx(0.21)
    assert v["z[1][2]"] == pytest.approx(0.315)
    assert v["a[1][1]"] == pytest.approx(0.5523079096, abs=1e-10) == pytest.approx(s(0.21))
    assert v["a[1][2]"] == pytest.approx(0.5781052329, abs=1e-10)
    assert v["z[2][1]"] == pytest.approx(0.3 * 0.5523079096 + 0.9 * 0.5781052329, abs=1e-9)
    assert v["z[2][1]"] == pytest.approx(0.6859870825, abs=1e-10)
    assert v["a[2][1]"] == pytest.approx(0.6650736395, abs=1e-10)
    assert v["error[1]"] == pytest.approx(-0.1650736395, abs=1e-10)
    assert v["loss"] == pytest.approx(0.5 * 0.1650736395**2, abs=1e-10)
    # delta = ∂L/∂z = (y − t)·y(1 − y): the lab's δ5 = y(1 − y)(t − y) with the opposite sign
    assert v["delta[2][1]"] == pytest.approx(0.1650736395 * 0.6650736395 * 0.3349263605, abs=1e-10)
    assert v["delta[2][1]"] == pytest.approx(0.0367702677, abs=1e-10)
    assert v["delta[1][1]"] == pytest.approx(0.0367702677 * 0.3 * 0.5523079096 * 0.4476920904, abs=1e-10)
    assert v["delta[1][1]"] == pytest.approx(0.0027275877, abs=1e-10)
    assert v["delta[1][2]"] == pytest.approx(0.0080714273, abs=1e-10)
    assert v["W_new[2][1][1]"] == pytest.approx(0.3 - 0.5523079096 * 0.0367702677, abs=1e-10)  # w_{1,3}
    assert v["W_new[2][2][1]"] == pytest.approx(0.8787429158, abs=1e-10)  # w_{2,3}
    assert v["W_new[1][1][1]"] == pytest.approx(0.2 - 0.35 * 0.0027275877, abs=1e-10)  # w_{1,1}
    assert v["W_new[1][2][1]"] == pytest.approx(0.2 - 0.7 * 0.0027275877, abs=1e-10)  # w_{2,1}
    assert v["W_new[1][1][2]"] == pytest.approx(0.3 - 0.35 * 0.0080714273, abs=1e-10)  # w_{1,2}
    assert v["W_new[1][2][2]"] == pytest.approx(0.2943500009, abs=1e-10)  # w_{2,2}
    # and the whole trace against the oracle
    W1, W2 = np.array([[0.2, 0.3], [0.2, 0.3]]), np.array([[0.3], [0.9]])
    assert_matches(cr.trace(LAB), reference([W1, W2], [None, None], ["sigmoid"] * 2, "half_sse",
                                            np.array([[0.35, 0.7]]), np.array([[0.5]]), 1.0, 1, "in_out"))


def test_notebook_exercise_in_its_own_layout():
    """Seed 003's exercise: z = W x + b with W given one row per neuron (out_in)."""
    v = cr.trace(NOTEBOOK).values()
    assert v["z[1][1]"] == pytest.approx(0.5 * 1 + 0.3 * 2 + 0.1)  # row 1 of W₁ feeds neuron 1
    assert v["z[1][2]"] == pytest.approx(0.2 * 1 + 0.8 * 2 + 0.4)
    assert v["a[1][1]"] == pytest.approx(0.7685247835, abs=1e-10)
    assert v["a[1][2]"] == pytest.approx(0.9002495109, abs=1e-10)
    assert v["z[2][1]"] == pytest.approx(0.9 * 0.7685247835 + 0.7 * 0.9002495109 + 0.2, abs=1e-9)
    assert v["loss"] == pytest.approx((v["a[2][1]"] - 0.8) ** 2)  # MSE, one output, one sample
    d2 = 2 * (v["a[2][1]"] - 0.8) * v["a[2][1]"] * (1 - v["a[2][1]"])
    assert v["delta[2][1]"] == pytest.approx(d2)
    assert v["W_new[1][1][2]"] == pytest.approx(0.3 - 0.1 * 2 * d2 * 0.9 * 0.7685247835 * (1 - 0.7685247835))
    assert v["b_new[2][1]"] == pytest.approx(0.2 - 0.1 * d2)
    W1 = np.array([[0.5, 0.3], [0.2, 0.8]]).T
    W2 = np.array([[0.9, 0.7]]).T
    assert_matches(cr.trace(NOTEBOOK), reference([W1, W2], [np.array([0.1, 0.4]), np.array([0.2])],
                                                 ["sigmoid"] * 2, "mse", np.array([[1.0, 2.0]]),
                                                 np.array([[0.8]]), 0.1, 1, "out_in"))


def test_json_spec_reads_as_the_toml(tmp_path):
    import json

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    with open(NOTEBOOK, "rb") as f:
        data = tomllib.load(f)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data))
    assert cr.trace(path).values() == cr.trace(NOTEBOOK).values()
    assert cr.trace(data).values() == cr.trace(NOTEBOOK).values()


def test_three_steps_continue_from_the_new_weights():
    tr = cr.trace(LAB, steps=3)
    v = tr.values()
    assert v["step2.W_new[2][1][1]"] == pytest.approx(v["W_new[2][1][1]"] + v["step2.update_W[2][1][1]"])
    assert tr.steps[0].loss > tr.steps[1].loss > tr.steps[2].loss > tr.after_loss


# ---- display and hand calculation ---------------------------------------------------------------


def test_decimals_only_round_what_is_shown():
    tr = cr.trace(LAB)
    before = tr.values()
    text = tr.render("text", decimals=3)
    assert "= σ(0.21)" in text and "0.552" in text and "0.552308" not in text
    assert tr.values() == before
    assert "0.552308" in tr.render("text")
    with pytest.raises(ValueError, match="json always gives every number in full precision"):
        tr.render("json", decimals=3)
    with pytest.raises(ValueError, match="unknown format 'html'"):
        tr.render("html")


def test_renderers_show_formulas_numbers_and_notes():
    tr = cr.trace(LAB)
    md = tr.render("markdown")
    assert "| `z[1][1]` | `W[1][1][1]·x[1] + W[1][2][1]·x[2]` | `0.2·0.35 + 0.2·0.7` | 0.21 |" in md
    for title in ("The sign of the error", "Why f′(z) multiplies", "Why a bigger outgoing weight gets more blame",
                  "Why some updates are small"):
        assert title in md
    latex = tr.render("latex")
    assert latex.startswith(r"\documentclass") and r"\sigma" in latex and latex.rstrip().endswith(r"\end{document}")
    assert "z[1][1]  = W[1][1][1]·x[1] + W[1][2][1]·x[2]" in tr.render("text")


def test_hand_calculation_rounds_each_intermediate():
    hand = cr.trace(LAB, hand=2).values()
    # rounded honestly, σ(0.21) and σ(0.315) are 0.55 and 0.58 (the lab prints 0.56 and 0.59)
    assert (hand["a[1][1]"], hand["a[1][2]"]) == (0.55, 0.58)
    assert hand["z[2][1]"] == round(0.3 * 0.55 + 0.9 * 0.58, 2)
    assert "Drift" in cr.trace(LAB, hand=2).render("markdown")
    fine, exact = cr.trace(LAB, hand=12).values(), cr.trace(LAB).values()
    assert all(abs(fine[k] - exact[k]) < 1e-10 for k in exact)
    with pytest.raises(ValueError, match="hand = -1 is not valid"):
        cr.trace(LAB, hand=-1)


# ---- --check ---------------------------------------------------------------------------------------


def test_check_accepts_right_answers_and_finds_a_planted_wrong_one():
    tr = cr.trace(LAB)
    exact = tr.values()
    answers = {k: round(v, 4) for k, v in exact.items()}
    assert tr.check(answers | {"tolerance": 1e-4}).passed
    planted = answers | {"delta[1][2]": 0.0819, "tolerance": 1e-4}  # the lab's slip
    report = tr.check(planted)
    assert not report.passed and report.first_wrong[0].key == "delta[1][2]"
    text = report.render()
    assert "wrong  delta[1][2]" in text and f"{len(answers) - 1} of {len(answers)} right" in text
    assert "delta[1][2] = delta[2][1]·W[2][2][1]·a[1][2]·(1 − a[1][2])" in text and "0.00807143" in text


def test_check_without_tolerance_uses_the_decimals_written():
    tr = cr.trace(LAB)
    assert tr.check({"a[1][1]": 0.55, "delta[1][1]": 0.0027}).passed
    report = tr.check({"a[1][1]": 0.56})
    assert not report.passed
    sign = tr.check({"delta[2][1]": -0.0368})
    assert "opposite sign" in sign.render()
    assert tr.check({"a[1][1]": 0.56, "tolerance": 0.01}).passed


def test_check_names_per_step_and_sample():
    rng = np.random.default_rng(3)
    spec, _ = random_spec(rng, "tanh", "linear", "mse", True, "in_out", 2, 2)
    tr = cr.trace(spec)
    v = tr.values()
    assert tr.check({"step2": {"sample2": {"z[1][1]": v["step2.sample2.z[1][1]"]}}, "tolerance": 0}).passed
    with pytest.raises(ValueError, match="name the sample"):
        tr.check({"z[1][1]": 0.1})
    with pytest.raises(ValueError, match="has no quantity 'q\\[1\\]'"):
        tr.check({"q[1]": 0.1})
    with pytest.raises(ValueError, match="step 5"):
        tr.check({"step5.z[1][1]": 0.1})


# ---- bad specs ---------------------------------------------------------------------------------------


def _lab():
    return {
        "network": {"layers": [2, 2, 1], "activation": "sigmoid", "bias": False, "layout": "in_out"},
        "weights": {"W1": [[0.2, 0.3], [0.2, 0.3]], "W2": [[0.3], [0.9]]},
        "train": {"x": [0.35, 0.7], "target": [0.5], "loss": "half_sse", "learning_rate": 1.0, "steps": 1},
    }


def _set(section, key, value):
    def change(spec):
        if value is None:
            del spec[section][key]
        else:
            spec[section][key] = value
    return change


BAD_SPECS = {
    "unknown key": (_set("train", "learning_rat", 0.1),
                    "unknown key 'learning_rat' in [train] (did you mean 'learning_rate'?)"),
    "unknown section": (lambda s: s.update(extra={}), "unknown key 'extra' in the spec"),
    "wrong shape for the layout": (_set("network", "layout", "out_in"),
                                   "weights.W2 is 2×1; expected a 1×2 matrix for layer 2 (2 inputs → 1 neurons) "
                                   "in layout 'out_in'"),
    "missing weights": (_set("weights", "W2", None), "weights.W2 is missing; expected a 2×1 matrix"),
    "unknown activation": (_set("network", "activation", "sigmod"),
                           "network.activation = 'sigmod' is not valid; expected one of sigmoid, tanh"),
    "unknown loss": (_set("train", "loss", "l2"), "train.loss = 'l2' is not valid; expected one of mse, half_sse"),
    "bad layout": (_set("network", "layout", "rows"), "network.layout = 'rows' is not valid"),
    "bias without b": (_set("network", "bias", True), "weights.b1 is missing"),
    "b without bias": (_set("weights", "b1", [0.0, 0.0]), "weights.b1 is given but network.bias = false"),
    "sample size": (_set("train", "x", [0.35]), "train.x has samples of 1 numbers"),
    "target size": (_set("train", "target", [0.5, 0.1]), "train.target does not match"),
    "learning rate": (_set("train", "learning_rate", -1), "train.learning_rate = -1 is not valid"),
    "steps": (_set("train", "steps", 0), "train.steps = 0 is not valid"),
    "no section": (lambda s: s.pop("train"), "the spec has no [train] section"),
    "both activation keys": (_set("network", "activations", ["tanh", "sigmoid"]), "exactly one of activation"),
    "ragged matrix": (_set("weights", "W1", [[0.2, 0.3], [0.2]]), "weights.W1 = [[0.2, 0.3], [0.2]] is not"),
}


@pytest.mark.parametrize("case", BAD_SPECS)
def test_bad_specs_name_the_key_and_what_was_expected(case):
    change, message = BAD_SPECS[case]
    spec = _lab()
    change(spec)
    with pytest.raises(ValueError, match=re.escape(message)):
        cr.trace(spec)
