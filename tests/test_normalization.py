"""BatchNorm and Residual blocks against PyTorch (nn.BatchNorm1d in training and evaluation mode, its
running statistics; a residual MLP of nn.Linear) on random networks in float64 to 1e-10: forward,
gradients, 50 optimizer steps. Plus a batch-norm pass worked by hand, the degenerate batches, and the
modes."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

TORCH_ACTS = {"linear": lambda x: x, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}


class TorchLayer(torch.nn.Module):
    """The torch counterpart of one chainrule layer (weights copied), then its activation."""

    def __init__(self, layer, dtype):
        super().__init__()
        self.act = TORCH_ACTS[layer.activation.name]
        self.kind = layer.kind
        if layer.kind == "dense":
            self.mod = torch.nn.Linear(layer.n_in, layer.n_out, bias=layer.bias, dtype=dtype)
            with torch.no_grad():
                self.mod.weight.copy_(torch.tensor(layer.W.T))
                if layer.bias:
                    self.mod.bias.copy_(torch.tensor(layer.b))
        elif layer.kind == "batch_norm":
            self.mod = torch.nn.BatchNorm1d(layer.n_out, eps=layer.eps, momentum=layer.momentum, dtype=dtype)
            with torch.no_grad():
                self.mod.weight.copy_(torch.tensor(layer.gamma))
                self.mod.bias.copy_(torch.tensor(layer.beta))
        else:
            self.branch = torch.nn.Sequential(*[TorchLayer(inner, dtype) for inner in layer.layers])
            self.proj = None
            if layer.projection is not None:
                self.proj = torch.nn.Linear(layer.n_in, layer.n_out, bias=False, dtype=dtype)
                with torch.no_grad():
                    self.proj.weight.copy_(torch.tensor(layer.projection.W.T))

    def forward(self, x):
        if self.kind == "residual":
            return self.act((x if self.proj is None else self.proj(x)) + self.branch(x))
        return self.act(self.mod(x))

    def grads(self):
        """The gradients in chainrule's order and layout (W as (n_in, n_out))."""
        if self.kind == "dense":
            return [self.mod.weight.grad.T] + ([self.mod.bias.grad] if self.mod.bias is not None else [])
        if self.kind == "batch_norm":
            return [self.mod.weight.grad, self.mod.bias.grad]
        inner = [g for layer in self.branch for g in layer.grads()]
        return inner + ([self.proj.weight.grad.T] if self.proj is not None else [])

    def running(self):
        if self.kind == "batch_norm":
            return [self.mod.running_mean, self.mod.running_var]
        if self.kind == "residual":
            return [r for layer in self.branch for r in layer.running()]
        return []


def torch_twin(net):
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    return torch.nn.Sequential(*[TorchLayer(layer, dtype) for layer in net.layers])


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


def flat(tensors):
    return np.concatenate([t.detach().numpy().ravel() for t in tensors])


def trained(net, gradients=False):
    """Every trained array of ``net`` (or its gradient), in order, as one vector (θ also holds the
    zero bias of a layer without one, which torch does not have)."""
    return np.concatenate([(g if gradients else p).ravel() for _, _, p, g, _ in net.parameters()])


@pytest.mark.parametrize("seed", range(5))
def test_forward_and_gradients_match_torch(seed):
    net = random_net(seed)
    X, Y = data(seed)
    model = torch_twin(net)
    model.train()
    out = model(torch.tensor(X))
    torch.nn.MSELoss()(out, torch.tensor(Y)).backward()
    loss = net.backward(X, Y)  # training mode, as torch's train()
    assert loss == pytest.approx(torch.nn.MSELoss()(out, torch.tensor(Y)).item(), rel=1e-12)
    np.testing.assert_allclose(net.layers[-1].A, out.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(trained(net, gradients=True), flat([g for layer in model for g in layer.grads()]), rtol=0, atol=1e-10)
    # one training pass updated the running statistics as torch's did
    np.testing.assert_allclose(net.running, flat([r for layer in model for r in layer.running()]), rtol=0, atol=1e-12)
    # evaluation mode: the running statistics, in forward and predict
    model.eval()
    np.testing.assert_allclose(net.forward(X), model(torch.tensor(X)).detach().numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("name, make", [("sgd", lambda: (cr.SGD(lr=0.05, momentum=0.9), torch.optim.SGD, dict(lr=0.05, momentum=0.9))),
                                        ("adam", lambda: (cr.Adam(lr=0.01), torch.optim.Adam, dict(lr=0.01)))])
def test_fifty_steps_match_torch(name, make):
    """50 steps of fit (batches of 5 of 20 rows, in order) against the same steps in torch: weights,
    running statistics, and the evaluation-mode output after."""
    net = random_net(7)
    X, Y = data(7, m=20)
    model = torch_twin(net)
    ours, torch_optimizer, kw = make()
    topt = torch_optimizer(model.parameters(), **kw)
    model.train()
    for step in range(50):
        rows = slice(5 * (step % 4), 5 * (step % 4) + 5)
        topt.zero_grad()
        torch.nn.MSELoss()(model(torch.tensor(X[rows])), torch.tensor(Y[rows])).backward()
        topt.step()
    net.fit(X, Y, optimizer=ours, epochs=50 // 4 + 1, batch_size=5, shuffle=False, diagnostics=False,
            callbacks=[StopAfter(50)])
    torch_theta = flat([p for layer in model for p in _params(layer)])
    np.testing.assert_allclose(trained(net), torch_theta, rtol=0, atol=1e-10)
    np.testing.assert_allclose(net.running, flat([r for layer in model for r in layer.running()]), rtol=0, atol=1e-10)
    model.eval()
    np.testing.assert_allclose(net.predict(X), model(torch.tensor(X)).detach().numpy(), rtol=0, atol=1e-10)


def _params(layer):
    """A torch twin's parameters in chainrule's θ order and layout."""
    if layer.kind == "dense":
        return [layer.mod.weight.T] + ([layer.mod.bias] if layer.mod.bias is not None else [])
    if layer.kind == "batch_norm":
        return [layer.mod.weight, layer.mod.bias]
    return [p for inner in layer.branch for p in _params(inner)] + ([layer.proj.weight.T] if layer.proj else [])


class StopAfter(cr.Callback):
    def __init__(self, steps):
        self.steps = steps

    def on_batch_end(self, trainer, batch, loss):
        self.steps -= 1
        if self.steps == 0:
            trainer.stop("50 steps")


def test_float32_matches_torch():
    net = random_net(3, dtype=np.float32)
    X, Y = data(3, dtype=np.float32)
    model = torch_twin(net)
    torch.nn.MSELoss()(model(torch.tensor(X)), torch.tensor(Y)).backward()
    net.backward(X, Y)
    assert net.grad.dtype == np.float32 and net.running.dtype == np.float32
    np.testing.assert_allclose(trained(net, gradients=True), flat([g for layer in model for g in layer.grads()]), rtol=0, atol=2e-5)


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
    with pytest.raises(ValueError, match="at least 2 rows"):
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
