"""BatchNorm and Residual blocks: a batch-norm pass worked by hand, gradients against autograd (the
same equations written here from their definitions), the modes, degenerate batches, save/load,
gradcheck, the diagnostics, the command line. Against PyTorch: test_normalization_torch.py."""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import chainrule as cr
from normalization_nets import data, random_net, trained


AG_ACTS = {"linear": lambda x: x, "tanh": anp.tanh, "relu": lambda x: anp.maximum(x, 0),
           "sigmoid": lambda x: 1 / (1 + anp.exp(-x))}


def ag_layer(layer, x, params, training):
    """One layer of ``net`` in autograd's NumPy, from the definitions: consumes its arrays from
    ``params`` (an iterator over the trained arrays, in net.parameters() order)."""
    f = AG_ACTS[layer.activation.name]
    if layer.kind == "dense":
        z = x @ next(params)
        return f(z + next(params) if layer.bias else z)
    if layer.kind == "batch_norm":
        gamma, beta = next(params), next(params)
        if training:
            mean = anp.mean(x, axis=0)
            var = anp.mean((x - mean) ** 2, axis=0)
        else:
            mean, var = layer.running_mean, layer.running_var
        return f(gamma * (x - mean) / anp.sqrt(var + layer.eps) + beta)
    h = x
    for inner in layer.layers:
        h = ag_layer(inner, h, params, training)
    skip = x if layer.projection is None else x @ next(params)
    return f(skip + h)


def ag_loss(net, X, Y, training=True):
    def loss(flat_params):
        params = iter(flat_params)
        a = X
        for layer in net.layers:
            a = ag_layer(layer, a, params, training)
        return anp.mean((a - Y) ** 2)
    return loss


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
def test_gradients_match_autograd(seed, act):
    """The same network's loss written out in autograd's NumPy from the definitions (batch mean,
    biased variance, x̂, γ x̂ + β; a + F(a)): loss and every gradient to 1e-10, in training mode;
    the evaluation-mode output from the running statistics."""
    net = random_net(seed, act=act)
    X, Y = data(seed)
    params = [p.copy() for _, _, p, _, _ in net.parameters()]
    running = net.running.copy()
    loss = ag_loss(net, X, Y)
    expected = np.concatenate([g.ravel() for g in grad(loss)(params)])
    assert net.backward(X, Y) == pytest.approx(float(loss(params)), rel=1e-12)
    np.testing.assert_allclose(trained(net, gradients=True), expected, rtol=0, atol=1e-10)
    assert not np.array_equal(net.running, running)  # a training pass moved them
    np.testing.assert_allclose(net.loss_value(X, Y), float(ag_loss(net, X, Y, training=False)(params)), rtol=1e-12)


def test_batch_norm_worked_by_hand():
    """Two features, three rows, γ = (2, 0.5), β = (1, −1), ε = 0 — every intermediate written out.

    x = [[1, 2], [2, 2], [3, 5]]
    μ = (2, 3);  x − μ = [[−1, −1], [0, −1], [1, 2]]
    σ² = ((1 + 0 + 1)/3, (1 + 1 + 4)/3) = (2/3, 2);  σ = (√(2/3), √2) = (0.81650, 1.41421)
    x̂ = [[−1.22474, −0.70711], [0, −0.70711], [1.22474, 1.41421]]
    z = γ x̂ + β = [[−1.44949, −1.35355], [1, −1.35355], [3.44949, −0.29289]]
    running mean (momentum 0.1, from 0) = 0.1 μ = (0.2, 0.3)
    running var (from 1) = 0.9 + 0.1 σ² · 3/2 = (0.9 + 0.1, 0.9 + 0.3) = (1.0, 1.2)

    Backward with δ = [[1, 0], [0, 0], [0, 1]]:
    ∂L/∂β = Σ δ = (1, 1);  ∂L/∂γ = Σ δ x̂ = (−1.22474, 1.41421)
    ∂L/∂x = (γ/σ)(δ − Σδ/3 − x̂ Σ(δ x̂)/3):
      feature 1, γ/σ = 2/0.81650 = 2.44949: δ − 1/3 − x̂ (−1.22474)/3 = δ − 1/3 + 0.40825 x̂
        rows: 1 − 1/3 − 0.5 = 1/6,  0 − 1/3 + 0 = −1/3,  0 − 1/3 + 0.5 = 1/6  → (0.40825, −0.81650, 0.40825)
      feature 2, γ/σ = 0.5/1.41421 = 0.35355: δ − 1/3 − x̂ (1.41421)/3 = δ − 1/3 − 0.47140 x̂
        rows: 0 − 1/3 + 1/3 = 0,  0 − 1/3 + 1/3 = 0,  1 − 1/3 − 2/3 = 0  → (0, 0, 0)
    (feature 2's δ is exactly x̂'s pattern, which normalization removes: its input gets no gradient)
    """
    bn = cr.BatchNorm(2, eps=1e-300, gamma=[2, 0.5], beta=[1, -1])
    net = cr.Network([bn], seed=0)
    x = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 5.0]])
    buf = net.new_workspace(3).layers[0]
    z = bn.forward(x, buf, training=True)
    s1, s2 = np.sqrt(2 / 3), np.sqrt(2)
    np.testing.assert_allclose(buf.mean, [2, 3], atol=1e-12)
    np.testing.assert_allclose(buf.var, [2 / 3, 2], atol=1e-12)
    np.testing.assert_allclose(buf.xhat, [[-1 / s1, -1 / s2], [0, -1 / s2], [1 / s1, 2 / s2]], atol=1e-12)
    np.testing.assert_allclose(z, [[-1.4494897, -1.3535534], [1, -1.3535534], [3.4494897, -0.2928932]], atol=1e-7)
    np.testing.assert_allclose(bn.running_mean, [0.2, 0.3], atol=1e-12)
    np.testing.assert_allclose(bn.running_var, [1.0, 1.2], atol=1e-12)
    delta = np.array([[1.0, 0], [0, 0], [0, 1]])
    dx = bn.backward(delta, grad_out=np.empty((3, 2)))
    np.testing.assert_allclose(bn.dbeta, [1, 1], atol=1e-12)
    np.testing.assert_allclose(bn.dgamma, [-1.2247449, 1.4142136], atol=1e-7)
    np.testing.assert_allclose(dx, [[0.4082483, 0], [-0.8164966, 0], [0.4082483, 0]], atol=1e-7)


def test_residual_gradient_adds_the_skip_term():
    """δ(a_prev) = δ(out) + δ through F: with F's last weights zero, F passes nothing back and the
    block's input gradient is the skip term alone, δ of the block itself."""
    block = cr.Residual([cr.Dense(3, 3, "tanh"), cr.Dense(3, 3, init=np.zeros((3, 3)))])
    net = cr.Network([cr.Dense(2, 3), block, cr.Dense(3, 1)], seed=1)
    X, y = np.random.default_rng(0).normal(size=(4, 2)), np.arange(4.0)
    net.backward(X, y)
    np.testing.assert_allclose(net.layers[0].delta, block.delta, atol=1e-15)


def test_one_row_and_constant_feature():
    net = cr.Network([cr.Dense(2, 3), cr.BatchNorm(3, "relu"), cr.Dense(3, 1)], seed=0)
    with pytest.raises(ValueError, match="at least 2 rows"):
        net.backward([[1.0, 2.0]], [1.0])
    with pytest.raises(ValueError, match=r"the last training batch \(5 rows in batches of 2 leave 1\).*at least 2 rows"):
        net.fit(np.ones((5, 2)), np.ones(5), batch_size=2, epochs=1)  # a last batch of one row
    assert np.isfinite(net.predict([[1.0, 2.0]])).all()  # evaluation: the running statistics
    X = np.array([[1.0, 5.0], [1.0, 6.0], [1.0, 7.0]])
    net.layers[0].W = np.array([[1.0, 0, 1], [0, 0, 1]])  # features 1 and 2 of z constant
    loss = net.backward(X, [1.0, 2.0, 3.0])
    assert np.isfinite(loss) and np.isfinite(net.grad).all()
    np.testing.assert_allclose(net.layers[1].buffers.xhat[:, :2], 0, atol=1e-12)  # x − μ = 0 ⇒ x̂ = 0


def test_training_flag_decides_the_statistics():
    net = cr.Network([cr.Dense(2, 2), cr.BatchNorm(2)], seed=0)
    X = np.array([[0.0, 1.0], [2.0, 5.0], [4.0, 0.0]])
    before = net.running.copy()
    ws = net.new_workspace(3)
    net.propagate(net.check_X(X), ws)  # evaluation (the default): running statistics, unchanged
    np.testing.assert_array_equal(net.running, before)
    out = net.propagate(net.check_X(X), ws, training=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)  # the batch's own statistics
    assert not np.array_equal(net.running, before)


def test_save_load_keeps_running_statistics(tmp_path):
    net = random_net(2)
    X, Y = data(2, m=12)
    net.fit(X, Y, epochs=3, batch_size=4, diagnostics=False)
    net.save(tmp_path / "m.npz")
    back = cr.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.theta, net.theta)
    np.testing.assert_array_equal(back.running, net.running)
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    copy = net.copy()
    np.testing.assert_array_equal(copy.running, net.running)
    np.testing.assert_array_equal(copy.predict(X), net.predict(X))


def test_model_file_of_version_1_still_loads():
    """tests/data/model-v1-dense.npz was written by the chainrule before batch normalization (format
    version 1): a 3-4-3-2 tanh / leaky_relu(0.2), no bias / sigmoid network, bce, l2 0.01; its
    predictions were printed by that version."""
    net = cr.load("tests/data/model-v1-dense.npz")
    assert [layer.activation.name for layer in net.layers] == ["tanh", "leaky_relu", "sigmoid"]
    assert not net.layers[1].bias and net.layers[1].lr_scale == 0.5 and net.l2 == 0.01
    np.testing.assert_allclose(net.predict([[0.5, -1.0, 2.0], [-0.3, 0.8, 0.1]]),
                               [[0.48901376103143024, 0.6365655179644479], [0.29518798845106575, 0.543872139549348]],
                               rtol=1e-12)


def test_gradcheck_checks_gamma_beta_and_block_weights():
    net = random_net(4, act="relu")
    X, Y = data(4, m=6)
    before = net.running.copy()
    report = cr.gradcheck(net, X, Y)
    assert report.passed, str(report)
    labels = [c.label for c in report.checks]
    assert {"gamma2", "beta2", "W3.1", "gamma3.2", "P3", "W4.2", "gamma6"} <= set(labels)
    assert "running" not in " ".join(labels)
    assert "running statistics (BatchNorm's running mean and variance) are not checked" in str(report)
    np.testing.assert_array_equal(net.running, before)  # the check leaves them as they were


def test_gradcheck_catches_a_wrong_batch_norm_backward(monkeypatch):
    """The δ through the batch mean dropped (the most common mistake): γ, β pass (their δ is right),
    the layers below fail."""
    from chainrule.normalization import BatchNorm

    right = BatchNorm.backward

    def wrong(self, delta, grad_out=None):
        out = right(self, delta, grad_out)
        if out is not None:
            out += (self.gamma * self.buffers.inv_std) * (self.dbeta / len(delta))  # the − Σδ/m term undone
        return out

    monkeypatch.setattr(BatchNorm, "backward", wrong)
    net = cr.Network([cr.Dense(3, 4, "tanh"), cr.BatchNorm(4), cr.Dense(4, 2)], seed=0)
    X, Y = data(0, m=6)
    report = cr.gradcheck(net, X, Y)
    failed = {c.label for c in report.failures}
    assert "W1" in failed and not failed & {"gamma2", "beta2", "W3", "b3"}


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_no_diagnostics_findings_on_healthy_runs(act):
    """Moons with batch-normalized and residual hidden layers, trained well: no warnings."""
    X, y = cr.datasets.moons(400, noise=0.2, seed=1)
    net = cr.Network([cr.Dense(2, 16), cr.BatchNorm(16, act),
                      cr.Residual([cr.Dense(16, 16, act), cr.BatchNorm(16), cr.Dense(16, 16)], activation=act),
                      cr.Residual([cr.Dense(16, 16, act), cr.Dense(16, 16)], activation=act),
                      cr.Dense(16, 1, "sigmoid")], loss="bce", seed=2)
    history = net.fit(X, y, epochs=40, batch_size=32, optimizer=cr.Adam(0.01))
    assert [f for f in history.findings if f.severity != "info"] == []
    assert history.accuracy[-1] > 0.9
    row = history.diagnostics.layer_statistics[-1]
    assert row[0] is None and row[-1] is None
    assert 0 < row[1]["batch_std"] and 0 < row[2]["branch_ratio"] < 100


def test_a_non_finite_pass_is_located_in_a_batch_norm_layer():
    from chainrule.diagnostics.nonfinite import locate_nonfinite

    net = cr.Network([cr.Dense(2, 3), cr.BatchNorm(3), cr.Dense(3, 1)], seed=0)
    net.layers[1].gamma[0] = np.inf
    with np.errstate(all="ignore"):
        net.backward(np.ones((3, 2)) * [[1], [2], [3]], [1.0, 2.0, 3.0])
    assert locate_nonfinite(net) == "the weights gamma2 of layer 2 are not finite"


def test_l2_decays_every_weight_matrix_and_not_gamma():
    """λ/(2m) Σ‖W‖² over the Dense layers' W, a block's and its projection's included; γ, β and the
    biases are not decayed. Its gradient checked by central differences."""
    net = random_net(5)
    net.l2 = 0.3
    weights = [p for _, name, p, _, _ in net.parameters() if name.split(".")[0] in ("W", "P")]
    assert len(weights) == 8  # W1; W3.1, W3.3, P3; W4.1, W4.2; W5; W7
    assert net.penalty(4) == pytest.approx(0.3 / 8 * sum(float(np.sum(W ** 2)) for W in weights), rel=1e-12)
    X, Y = data(5, m=4)
    assert cr.gradcheck(net, X, Y).passed


def test_cli_train_and_doctor_with_batch_norm_and_residual(capsys, tmp_path):
    from chainrule.cli import main

    status = main(["train", "--data", "moons", "--hidden", "16,16,8", "--batch-norm", "--residual", "--epochs", "30",
                   "--quiet", "--save", str(tmp_path / "m.npz")])
    out, _ = capsys.readouterr()
    assert status == 0 and "test:" in out
    net = cr.load(tmp_path / "m.npz")
    kinds = [layer.kind for layer in net.layers]
    assert kinds == ["dense", "batch_norm", "residual", "residual", "dense"]
    assert net.layers[3].projection is not None  # 16 → 8
    assert not np.array_equal(net.running[:16], 0)  # the running mean was trained and saved
    status = main(["doctor", "--data", "moons", "--hidden", "16,16", "--batch-norm", "--residual", "--activation", "relu"])
    out, _ = capsys.readouterr()
    assert status == 0 and "no findings" in out


def test_cli_batch_of_one_row_is_one_line(capsys):
    from chainrule.cli import main

    status = main(["train", "--data", "moons", "--batch-norm", "--batch-size", "1", "--epochs", "1", "--quiet"])
    _, err = capsys.readouterr()
    assert status == 2 and err.count("\n") == 1 and err.startswith("chainrule: error:") and "at least 2 rows" in err


def test_textbook_engine_refuses_other_layer_kinds():
    from chainrule import textbook

    net = cr.Network([cr.Dense(2, 2), cr.BatchNorm(2), cr.Dense(2, 1)], seed=0)
    with pytest.raises(ValueError, match="Dense layers only; this network has batch_norm layers"):
        textbook.backprop(net, *net.check_data(np.ones((3, 2)), np.ones(3)))


def test_lr_scale_of_a_block_and_of_its_layers_multiply():
    inner = cr.Dense(2, 2, lr_scale=0.5)
    net = cr.Network([cr.Dense(2, 2, lr_scale=3.0), cr.Residual([inner, cr.BatchNorm(2)], lr_scale=0.1),
                      cr.Dense(2, 1)], seed=0)
    expected = [3.0] * 6 + [0.05] * 6 + [0.1] * 4 + [1.0] * 3
    np.testing.assert_allclose(net.lr_scales(), expected, rtol=1e-12)
    assert cr.Network([cr.BatchNorm(100_000)], seed=0).theta.size == 200_000  # no n² memory estimate


def _rewritten(path, out, change_arch=lambda arch: None, **arrays):
    """The model file at ``path`` with its architecture changed in place by ``change_arch`` and some
    arrays replaced, written to ``out`` as np.savez writes a model."""
    import json

    with np.load(path) as f:
        members = {name: f[name] for name in f.files}
    arch = json.loads(str(members.pop("architecture")))
    change_arch(arch)
    members.update(arrays)
    np.savez(out, architecture=np.array(json.dumps(arch)), **members)
    return out


@pytest.mark.parametrize("change, arrays, message", [
    (lambda a: a["layers"][1].update(kind="layer_norm"), {}, "layer 2 is of the unknown kind 'layer_norm'"),
    (lambda a: a["layers"][1].pop("momentum"), {}, "layer 2 lacks or mistypes 'momentum'"),
    (lambda a: a["layers"][1].update(momentum=2), {}, "BatchNorm momentum must be"),
    (lambda a: a["layers"][2].update(layers=[]), {}, "layer 3's 'layers' must be a non-empty list"),
    (lambda a: a["layers"][2]["layers"][0].update(n_in="4"), {}, "layer 3.1's 'n_in' must be a positive integer"),
    (lambda a: a["arrays"].update({"../x1": [2]}), {}, "array names are like W1"),
    (lambda a: a["arrays"].update({"gamma2": [3]}), {"gamma2": np.ones(3)}, "BatchNorm gamma has shape \\(3,\\)"),
    (lambda a: None, {"running_var2": -np.ones(4)}, "running_var must be ≥ 0"),
])
def test_a_bad_model_file_with_new_kinds_is_one_value_error(tmp_path, change, arrays, message):
    net = cr.Network([cr.Dense(2, 4), cr.BatchNorm(4), cr.Residual([cr.Dense(4, 4, "relu")]), cr.Dense(4, 1)], seed=0)
    net.save(tmp_path / "m.npz")
    bad = _rewritten(tmp_path / "m.npz", tmp_path / "bad.npz", change, **arrays)
    with pytest.raises(ValueError, match=message) as caught:
        cr.load(bad)
    assert "\n" not in str(caught.value)


def test_the_loss_before_training_is_the_first_steps_and_leaves_the_running_statistics():
    """Inputs of scale 1000: in evaluation mode (running variance 1 at first) the outputs would be
    huge and the loss look confidently wrong; the first step sees the batch-normalized loss."""
    from chainrule.diagnostics.before_training import starting_loss

    X, y = cr.datasets.moons(64, noise=0.2, seed=0)
    X = 1000 * X
    net = cr.Network([cr.Dense(2, 8, bias=False), cr.BatchNorm(8, "tanh"), cr.Dense(8, 1, "sigmoid")], loss="bce", seed=0)
    X, Y = net.check_data(X, y)
    before = net.running.copy()
    start = starting_loss(net, X, Y, 16)
    np.testing.assert_array_equal(net.running, before)
    first = net.copy().backward(X[::4], Y[::4])  # the same 16 rows, ⌊i·64/16⌋
    assert start == pytest.approx(first, rel=1e-12) and start < 2
    findings, _ = cr.diagnose(net.copy(), X / 1000, y, epochs=1, batch_size=16)
    assert not [f for f in findings if f.code == "initial_loss"]


def test_float32_end_to_end(tmp_path):
    """A float32 network of every kind trains, stays float32 (θ, running statistics, outputs), agrees
    with its float64 copy to float32's precision, and saves and loads as float32."""
    net = random_net(6, dtype=np.float32)
    X, Y = data(6, m=12, dtype=np.float32)
    wide = net.copy(dtype=np.float64)
    np.testing.assert_allclose(net.backward(X, Y), wide.backward(X.astype(np.float64), Y), rtol=1e-5)
    np.testing.assert_allclose(trained(net, gradients=True), trained(wide, gradients=True), rtol=0, atol=1e-4)
    net.fit(X, Y, epochs=5, batch_size=4, diagnostics=False, progress=False)
    assert net.theta.dtype == net.running.dtype == net.predict(X).dtype == np.float32
    assert cr.gradcheck(net, X, Y).passed  # through a float64 copy
    net.save(tmp_path / "m.npz")
    back = cr.load(tmp_path / "m.npz")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


def test_early_stopping_restores_the_running_statistics_of_the_best_epoch():
    """restore_best puts back θ and the running statistics of the same epoch: the restored network
    predicts exactly as it did after its best epoch."""

    class Snapshot(cr.Callback):
        def __init__(self):
            self.predictions = {}

        def on_epoch_end(self, trainer, epoch, logs):
            self.predictions[epoch] = trainer.net.predict(X_val)

    X, y = cr.datasets.moons(120, noise=0.3, seed=3)
    X_val, y_val = cr.datasets.moons(60, noise=0.3, seed=4)
    net = cr.Network([cr.Dense(2, 16, bias=False), cr.BatchNorm(16, "relu"), cr.Dense(16, 1, "sigmoid")],
                     loss="bce", seed=0)
    snapshot, stopper = Snapshot(), cr.EarlyStopping(patience=3)
    history = net.fit(X, y, optimizer=cr.Adam(0.05), epochs=200, batch_size=16, validation_data=(X_val, y_val),
                      early_stopping=stopper, callbacks=[snapshot], diagnostics=False, progress=False)
    assert history.stop_reason.startswith("early stopping") and stopper.best_epoch < history.epochs
    np.testing.assert_array_equal(net.predict(X_val), snapshot.predictions[stopper.best_epoch])


def test_a_non_finite_batch_leaves_the_running_statistics():
    """A batch that overflows: fit stops before its step, and the running statistics are those of
    the last finite step, so the network still predicts finite numbers."""
    X = np.random.default_rng(0).normal(size=(8, 2))
    X[4:] *= 1e300  # the second batch's z overflows
    net = cr.Network([cr.Dense(2, 3, init=np.full((2, 3), 1e10)), cr.BatchNorm(3), cr.Dense(3, 1)], seed=0)
    with pytest.warns(UserWarning, match="non-finite"):
        history = net.fit(X, np.ones(8), batch_size=4, epochs=1, shuffle=False, diagnostics=False, progress=False,
                          optimizer=cr.SGD(1e-30))
    assert history.diverged and np.isfinite(net.running).all()
    assert np.isfinite(net.predict(X[:4])).all()


def test_a_layer_without_bias_says_so():
    assert repr(cr.Dense(2, 16, bias=False)) == "Dense(2, 16, activation='linear', bias=False)"
    assert repr(cr.Dense(2, 16, "relu")) == "Dense(2, 16, activation='relu')"


def test_a_refused_step_leaves_the_running_statistics_as_they_were():
    net = cr.Network([cr.Dense(2, 3, bias=False), cr.BatchNorm(3), cr.Dense(3, 1, init=np.full((3, 1), 1e200))], seed=0)
    before_theta, before_running = net.theta.copy(), net.running.copy()
    X = np.random.default_rng(0).normal(size=(8, 2))
    with pytest.warns(cr.DiagnosticWarning):
        history = net.fit(X, np.ones(8), epochs=1, optimizer=cr.SGD(1.0))
    assert history.diverged is not None
    np.testing.assert_array_equal(net.theta, before_theta)
    np.testing.assert_array_equal(net.running, before_running)


def test_gradcheck_interrupted_leaves_the_weights_and_running_statistics_as_they_were(monkeypatch):
    net = cr.Network([cr.Dense(2, 3, bias=False), cr.BatchNorm(3, "tanh"), cr.Dense(3, 1)], seed=0)
    X, y = np.random.default_rng(1).normal(size=(6, 2)), np.arange(6.0)
    theta, running = net.theta.copy(), net.running.copy()
    calls = []

    def interrupted(self, *args, **kwargs):  # Ctrl-C in the third loss evaluation of the differences
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    original = cr.Network.propagate
    monkeypatch.setattr(cr.Network, "propagate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cr.gradcheck(net, X, y)
    np.testing.assert_array_equal(net.theta, theta)
    np.testing.assert_array_equal(net.running, running)


def test_an_eps_that_is_zero_in_float32_is_refused():
    with pytest.raises(ValueError, match=r"BatchNorm eps=1e-50 is 0 in float32.*use eps ≥"):
        cr.Network([cr.Dense(2, 3, bias=False), cr.BatchNorm(3, eps=1e-50), cr.Dense(3, 1)], dtype=np.float32)
    net = cr.Network([cr.Dense(2, 3, bias=False), cr.BatchNorm(3, eps=1e-50), cr.Dense(3, 1)])  # float64: fine
    X = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])  # every feature constant
    assert np.isfinite(net.backward(X, [0.0, 1.0, 2.0]))
