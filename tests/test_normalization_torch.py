"""BatchNorm and Residual blocks against PyTorch (nn.BatchNorm1d in training and evaluation mode, its
running statistics; a residual MLP of nn.Linear) on random networks in float64 to 1e-10: forward,
gradients, 50 optimizer steps (autograd, in test_normalization.py, where torch is not installed)."""

import numpy as np
import pytest

import chainrule as cr
from normalization_nets import data, random_net, trained

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


def flat(tensors):
    return np.concatenate([t.detach().numpy().ravel() for t in tensors])
