"""Worked solutions with batch normalization and residual layers: the 2-feature, 3-row batch-norm
example checked by hand, every intermediate written out; gradients against central differences of
the trace's own loss; the spec's new keys refused when wrong."""

import copy
import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.tracing.derivation import Table
from test_trace import CASES, _evaluate, random_spec

# z[1] = x (W1 = I, linear): the batch normalization of the 2-feature, 3-row batch by hand
BN_SPEC = {
    "network": {"layers": [2, 2, 1], "activations": ["linear", "sigmoid"], "batch_norm": [1], "eps": 1e-12},
    "weights": {"W1": [[1, 0], [0, 1]], "W2": [[0.5], [-0.25]], "gamma1": [2, 0.5], "beta1": [1, -1]},
    "train": {"x": [[1, 2], [2, 2], [3, 5]], "target": [1, 0, 1], "loss": "bce", "learning_rate": 0.5},
}
RESIDUAL_SPEC = {
    "network": {"layers": [2, 2, 2, 1], "activations": ["linear", "tanh", "sigmoid"], "batch_norm": [1],
                "residual": [2], "eps": 1e-12},
    "weights": {"W1": [[1, 0], [0, 1]], "W2": [[0.3, -0.2], [0.1, 0.4]], "W3": [[0.5], [-0.25]],
                "gamma1": [2, 0.5], "beta1": [1, -1]},
    "train": {"x": [[1, 2], [2, 2], [3, 5]], "target": [1, 0, 1], "loss": "bce", "learning_rate": 0.5},
}


def test_batch_norm_forward_worked_by_hand():
    """x = [[1, 2], [2, 2], [3, 5]], γ = (2, 0.5), β = (1, −1), ε ≈ 0:

    mean[1] = (2, 3);  z − mean = [[−1, −1], [0, −1], [1, 2]]
    var[1] = ((1 + 0 + 1)/3, (1 + 1 + 4)/3) = (2/3, 2);  √var = (0.816497, 1.414214)
    xhat = [[−1.224745, −0.707107], [0, −0.707107], [1.224745, 1.414214]]
    y = γ·xhat + β = [[−1.449490, −1.353553], [1, −1.353553], [3.449490, −0.292893]]
    a[1] = y (linear)
    """
    v = cr.trace(BN_SPEC).values()
    assert v["mean[1][1]"] == pytest.approx(2) and v["mean[1][2]"] == pytest.approx(3)
    assert v["var[1][1]"] == pytest.approx(2 / 3) and v["var[1][2]"] == pytest.approx(2)
    xhat = [[-1.2247449, -0.7071068], [0, -0.7071068], [1.2247449, 1.4142136]]
    y = [[-1.4494897, -1.3535534], [1, -1.3535534], [3.4494897, -0.2928932]]
    for n in range(3):
        for j in range(2):
            at = f"sample{n + 1}.{{}}[1][{j + 1}]"
            assert v[at.format("xhat")] == pytest.approx(xhat[n][j], abs=1e-7)
            assert v[at.format("y")] == pytest.approx(y[n][j], abs=1e-7)
            assert v[at.format("a")] == pytest.approx(y[n][j], abs=1e-7)


def test_batch_norm_backward_follows_the_compact_form():
    """From the trace's own dy and xhat, written out here: dgamma = Σₙ dy·xhat, dbeta = Σₙ dy, and
    delta = (γ/√(var + ε))·(dy − dbeta/N − xhat·dgamma/N); γ and β move by −η times theirs."""
    v = cr.trace(BN_SPEC).values()
    gamma, N = [2, 0.5], 3
    for j in (1, 2):
        dy = [v[f"sample{n}.dy[1][{j}]"] for n in (1, 2, 3)]
        xhat = [v[f"sample{n}.xhat[1][{j}]"] for n in (1, 2, 3)]
        dgamma, dbeta = sum(d * x for d, x in zip(dy, xhat)), sum(dy)
        assert v[f"dgamma[1][{j}]"] == pytest.approx(dgamma, abs=1e-12)
        assert v[f"dbeta[1][{j}]"] == pytest.approx(dbeta, abs=1e-12)
        scale = gamma[j - 1] / np.sqrt(v[f"var[1][{j}]"] + 1e-12)
        for n in (1, 2, 3):
            expected = scale * (dy[n - 1] - dbeta / N - xhat[n - 1] * dgamma / N)
            assert v[f"sample{n}.delta[1][{j}]"] == pytest.approx(expected, abs=1e-12)
        assert v[f"gamma_new[1][{j}]"] == pytest.approx(gamma[j - 1] - 0.5 * dgamma, abs=1e-12)


def _loss(spec, key, index, h):
    """The trace's loss with weights.key[index] moved by h."""
    spec = copy.deepcopy(spec)
    target = spec["weights"][key]
    if isinstance(index, tuple):
        target[index[0]][index[1]] += h
    else:
        target[index] += h
    return cr.trace(spec).steps[0].loss


@pytest.mark.parametrize("spec", [BN_SPEC, RESIDUAL_SPEC], ids=["batch_norm", "residual"])
def test_gradients_against_central_differences_of_the_trace_loss(spec):
    """Every dW, dgamma, dbeta of the worked solution against (L(w + h) − L(w − h))/2h of traces of
    the spec with that number moved: through the batch statistics, and through the skip."""
    v, h = cr.trace(spec).values(), 1e-6
    checked = 0
    for key, value in spec["weights"].items():
        arr = np.array(value, dtype=float)
        for index in np.ndindex(*arr.shape):
            name = {"gamma": "dgamma", "beta": "dbeta"}.get(key.rstrip("0123456789"), "dW")
            at = "".join(f"[{i + 1}]" for i in index)
            label = f"{name}[{key[-1]}]{at}"
            numeric = (_loss(spec, key, index if len(index) > 1 else index[0], h)
                       - _loss(spec, key, index if len(index) > 1 else index[0], -h)) / (2 * h)
            assert v[label] == pytest.approx(numeric, abs=1e-7), label
            checked += 1
    assert checked == sum(np.array(w).size for w in spec["weights"].values())


def test_residual_layer_adds_its_input_and_passes_grad_a_back():
    v = cr.trace(RESIDUAL_SPEC).values()
    for n in (1, 2, 3):
        for j in (1, 2):
            s = f"sample{n}."
            assert v[f"{s}a[2][{j}]"] == pytest.approx(v[f"{s}a[1][{j}]"] + np.tanh(v[f"{s}z[2][{j}]"]), abs=1e-12)
            # the skip: ∂L/∂a[1] = Σₖ delta[2][k]·W2[j][k] + grad_a[2][j], and a[1] = y[1] (linear)
            W2 = RESIDUAL_SPEC["weights"]["W2"]
            upstream = sum(v[f"{s}delta[2][{k}]"] * W2[j - 1][k - 1] for k in (1, 2)) + v[f"{s}grad_a[2][{j}]"]
            assert v[f"{s}dy[1][{j}]"] == pytest.approx(upstream, abs=1e-12)


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "json"])
def test_every_format_renders(fmt):
    out = cr.trace(RESIDUAL_SPEC).render(fmt)
    if fmt == "json":
        layer = json.loads(out)["steps"][0]["layers"][0]
        assert {"mean", "var", "xhat", "y", "dy", "dgamma", "dbeta", "gamma_new", "beta_new"} <= set(layer)
        assert "grad_a" in json.loads(out)["steps"][0]["layers"][1]
    elif fmt == "latex":
        assert r"\hat{x}" in out and r"\mu" in out and r"\partial a" in out
    else:
        assert "xhat" in out and "grad_a" in out


def test_answers_are_checked_by_name():
    report = cr.trace(BN_SPEC).check({"mean[1][1]": 2, "var[1][2]": 2, "sample1.xhat[1][1]": -1.2247,
                                      "sample3.y[1][2]": -0.2929})
    assert report


@pytest.mark.parametrize("change, message", [
    (lambda s: s["network"].update(batch_norm=[2]), "network.batch_norm = \\[2\\] is not valid"),
    (lambda s: s["network"].update(batch_norm="yes"), "network.batch_norm = 'yes' is not valid"),
    (lambda s: s["network"].update(eps=0), "network.eps = 0 is not valid"),
    (lambda s: s["network"].update(batch_norm=False), "network.eps is given but no layer has batch_norm"),
    (lambda s: s["network"].update(layers=[2, 3, 1], residual=[1]), "layer 1 has 3 neurons but 2 inputs"),
    (lambda s: s["weights"].update(gamma1=[1, 2, 3]), "weights.gamma1 has 3 numbers"),
    (lambda s: s["weights"].update(gamma2=[1]), "unknown key 'gamma2' in \\[weights\\]"),
    (lambda s: s["network"].update(activations=["softmax", "sigmoid"]), "couples its outputs"),
    (lambda s: s["train"].update(x=[1, 2], target=[1]), "needs a batch of at least 2 samples"),
])
def test_bad_batch_norm_and_residual_keys(change, message):
    spec = copy.deepcopy(BN_SPEC)
    change(spec)
    with pytest.raises(ValueError, match=message):
        cr.trace(spec)


def test_hand_calculation_is_refused_with_batch_norm():
    with pytest.raises(ValueError, match="hand covers networks of plain layers"):
        cr.trace(BN_SPEC, hand=4)


@pytest.mark.parametrize("spec", [BN_SPEC, RESIDUAL_SPEC], ids=["batch_norm", "residual"])
def test_each_formula_with_its_numbers_gives_its_value(spec):
    """What a reader sees substituted into each line (the batch statistics, x̂, y, the skip's
    a[l−1] + f(…), grad_a, dy, the compact δ, γ and β's updates) computes the value shown."""
    lines = [line for block in cr.trace(spec).worked() if isinstance(block, Table) for line in block.lines]
    assert {"mean[1][1]", "sample2.xhat[1][2]", "dgamma[1][1]", "gamma_new[1][2]"} <= {line.key for line in lines}
    for line in lines:
        assert math.isclose(_evaluate(line), line.value, rel_tol=1e-9, abs_tol=1e-12), (line.key, line.template)


@pytest.mark.parametrize("hidden, output, loss, bias, layout, n, steps",
                         [c for c in CASES[::3] if c[0] != "softmax"])
@pytest.mark.parametrize("blocks", [{"batch_norm": True}, {"residual": [1]}, {"batch_norm": True, "residual": [1]}])
def test_random_specs_with_blocks(hidden, output, loss, bias, layout, n, steps, blocks):
    """Random 2-2-2 networks over the trace's cases (3 samples where batch-normalized): every
    formula computes its value, and the traced gradients and new weights are the engine's own."""
    rng = np.random.default_rng(len(CASES) + n + steps)
    n = 3 if "batch_norm" in blocks else n
    spec, _ = random_spec(rng, hidden, output, loss, bias, layout, n, steps, sizes=(2, 2, 2))
    spec["network"].update(blocks)
    tr = cr.trace(spec)
    lines = [line for block in tr.worked() if isinstance(block, Table) for line in block.lines]
    for line in lines:
        assert math.isclose(_evaluate(line), line.value, rel_tol=1e-9, abs_tol=1e-12), (line.key, line.template)
    # the first step's gradients of W1[1][1] (and γ1[1]) against central differences of the loss
    v, h = tr.values(), 1e-6
    checks = [("W1", (0, 0), "dW[1][1][1]")] + ([("gamma1", 0, "dgamma[1][1]")] if "batch_norm" in blocks else [])
    for key, index, label in checks:
        if key == "gamma1":
            spec["weights"]["gamma1"] = [1.0, 1.0]
            v = cr.trace(spec).values()
        numeric = (_loss(spec, key, index, h) - _loss(spec, key, index, -h)) / (2 * h)
        assert v[label] == pytest.approx(numeric, rel=1e-5, abs=1e-7), label


def test_a_softmax_layer_below_a_residual_one_gets_the_skip_too():
    """grad_a of a softmax hidden layer (shown, computed for the display) includes what the residual
    layer above sends back through its skip: every formula still computes its value."""
    spec = copy.deepcopy(RESIDUAL_SPEC)
    spec["network"].update(activations=["softmax", "tanh", "sigmoid"], batch_norm=False)
    del spec["network"]["eps"], spec["weights"]["gamma1"], spec["weights"]["beta1"]
    lines = [line for block in cr.trace(spec).worked() if isinstance(block, Table) for line in block.lines]
    assert any(line.key == "sample1.grad_a[1][1]" for line in lines)
    for line in lines:
        assert math.isclose(_evaluate(line), line.value, rel_tol=1e-9, abs_tol=1e-12), (line.key, line.template)
