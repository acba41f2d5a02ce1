"""Batch normalization: z = γ x̂ + β with x̂ = (x − μ)/σ, μ and σ² the batch's mean and variance of
each feature (training) or their running averages (evaluation); a = f(z).

Forward, in training mode, for a batch x of m rows (every operation per feature, i.e. per column):

    μ  = (1/m) Σ x                      the batch mean
    σ² = (1/m) Σ (x − μ)²               the batch variance (biased: what normalizes the batch)
    σ  = √(σ² + ε)
    x̂  = (x − μ) / σ
    z  = γ ⊙ x̂ + β
    running_mean ← (1 − momentum) running_mean + momentum μ
    running_var  ← (1 − momentum) running_var + momentum σ² m/(m − 1)   (unbiased, as PyTorch)

In evaluation mode μ and σ² are the running ones and nothing is updated. Backward, given δ = ∂L/∂z:

    ∂L/∂γ = Σ_rows δ ⊙ x̂
    ∂L/∂β = Σ_rows δ
    ∂L/∂x = (1/m) (γ/σ) (m δ − Σ_rows δ − x̂ Σ_rows(δ ⊙ x̂))      (training: μ and σ depend on x)
    ∂L/∂x = (γ/σ) δ                                                (evaluation: they do not)

The training line is the chain rule through x̂, σ² and μ collected into one line: with
∂L/∂x̂ = γ δ, ∂L/∂σ² = −½ Σ ∂L/∂x̂ (x − μ) σ⁻³ and ∂L/∂μ = −Σ ∂L/∂x̂ / σ (its σ² term is zero,
since Σ (x − μ) = 0), ∂L/∂x = ∂L/∂x̂ / σ + ∂L/∂σ² · 2(x − μ)/m + ∂L/∂μ / m, which is the line above.
"""

import numpy as np

from ._constants import ONES
from .activations import get_activation
from .layers import Layer, LayerBuffers
from . import validation
from .validation import integer, number

__all__ = ["BatchNorm"]


class BatchNormBuffers(LayerBuffers):
    """A BatchNorm's arrays for one batch: LayerBuffers' (z, a, δ, …) and ``xhat`` x̂ (m, n), the
    per-feature ``mean`` μ, ``var`` σ² and ``inv_std`` 1/σ the pass used, and ``training``,
    whether they were the batch's."""

    __slots__ = ("xhat", "mean", "var", "inv_std", "training")

    def __init__(self, m, n, dtype, has_log):
        super().__init__(m, n, dtype, has_log)
        self.xhat = np.empty((m, n), dtype)
        self.mean, self.var, self.inv_std = (np.empty(n, dtype) for _ in range(3))
        self.training = False


class BatchNorm(Layer):
    """Batch normalization of ``n`` features (``nn.BatchNorm1d``'s equations and defaults), then
    the activation f (linear by default): stack it after a Dense of ``n`` outputs, before or
    after that Dense's activation as you choose — ``Dense(4, 8), BatchNorm(8, "relu")`` normalizes
    z, ``Dense(4, 8, "relu"), BatchNorm(8)`` normalizes a.

    γ (``gamma``, initially 1) and β (``beta``, 0) are trained; ``running_mean`` (0) and
    ``running_var`` (1) are not: ``fit`` updates them at each step with PyTorch's convention
    r ← (1 − momentum) r + momentum · (batch value), the variance the unbiased one. ``eps`` is
    added to the variance before its square root. Training mode (``fit``, ``Network.backward``)
    normalizes with the batch's statistics; evaluation mode (``predict``, ``forward``,
    ``loss_value``) with the running ones. A training batch needs at least 2 rows.
    """

    kind = "batch_norm"
    statistics = ("batch_std",)
    min_rows = 2
    backward_text = "(γ{l}/σ{l})(δ{l} − mean δ{l} − x̂{l} mean(δ{l} ⊙ x̂{l}))"
    gradient_text = "∂L/∂γ{l} = Σ_rows δ{l} ⊙ x̂{l}, ∂L/∂β{l} = Σ_rows δ{l}"

    def __init__(self, n, activation="linear", momentum=0.1, eps=1e-5, gamma=None, beta=None,
                 running_mean=None, running_var=None, lr_scale=1.0):
        self.n_in = self.n_out = integer("BatchNorm n", n, low=1)
        self.activation = get_activation(activation)
        self.momentum = number("BatchNorm momentum", momentum, low=0, high=1)
        self.eps = number("BatchNorm eps", eps, low=0, low_open=True)
        self.lr_scale = number("BatchNorm lr_scale", lr_scale, low=0)
        # the initial values (γ = 1, β = 0, running mean 0 and variance 1 unless given), until build
        self._initial = {name: self._vector(name, value, default)
                         for name, value, default in (("gamma", gamma, 1.0), ("beta", beta, 0.0),
                                                      ("running_mean", running_mean, 0.0),
                                                      ("running_var", running_var, 1.0))}
        if np.any(self._initial["running_var"] < 0):
            raise ValueError("BatchNorm running_var must be ≥ 0 (a variance)")
        self.gamma = self.beta = self.dgamma = self.dbeta = self.running_mean = self.running_var = None

    def __repr__(self):
        return f"BatchNorm({self.n_out}, activation={self.activation.name!r})"

    def _vector(self, name, value, default):
        if value is None:
            return np.full(self.n_out, default)
        arr = validation.numeric_array(f"BatchNorm {name}", value, np.float64)
        if arr.shape != (self.n_out,):
            raise ValueError(f"BatchNorm {name} has shape {arr.shape}; expected ({self.n_out},), one value a feature")
        return arr

    @property
    def size(self):
        """Number of trained parameters: γ and β."""
        return 2 * self.n_out

    @property
    def running_size(self):
        """Number of running statistics: the mean and the variance of each feature."""
        return 2 * self.n_out

    def build(self, rng, theta, grad, running):
        """γ, β become views of ``theta`` (∂L/∂γ, ∂L/∂β of ``grad``), the running mean and variance
        views of ``running``, all set to their initial values."""
        if self.gamma is not None:
            raise ValueError(f"{self!r} already belongs to a network; create a new BatchNorm, or use net.copy()")
        if not theta.dtype.type(self.eps) > 0:  # σ = √(σ² + ε) must not be 0 for a constant feature
            raise ValueError(f"BatchNorm eps={self.eps:g} is 0 in {theta.dtype.name}, so a constant feature would "
                             f"divide by 0; use eps ≥ {float(np.finfo(theta.dtype).tiny):g} (the default 1e-5 is safe)")
        n = self.n_out
        self.gamma, self.beta = theta[:n], theta[n:]
        self.dgamma, self.dbeta = grad[:n], grad[n:]
        self.running_mean, self.running_var = running[:n], running[n:]
        for name, value in self._initial.items():
            getattr(self, name)[...] = value

    def params(self):
        yield "gamma", self.gamma, self.dgamma
        yield "beta", self.beta, self.dbeta

    def running(self):
        yield "running_mean", self.running_mean
        yield "running_var", self.running_var

    def weights(self):
        return ((self.gamma, self.dgamma),)

    def new_buffers(self, m, dtype):
        return BatchNormBuffers(m, self.n_out, dtype, self.activation.has_log)

    def measure(self):
        """The smallest standard deviation σ of a feature in the last pass (a feature the batch
        holds constant has σ = √ε: its x̂ is 0 and it carries nothing forward)."""
        return (float(1 / self.buffers.inv_std.max()),)

    def problems(self, l):
        """constant_feature: a feature the training batch held constant (variance below 10⁻³ ε, so
        σ = √ε): its x̂ is 0, it carries nothing forward, and its γ gets no gradient."""
        buf = self.buffers
        if not buf.training:
            return ()
        constant = np.flatnonzero(buf.var <= 1e-3 * self.eps)
        if not constant.size:
            return ()
        j = int(constant[0])
        return (("constant_feature", float(constant.size), 0,
                 f"{constant.size} of the {self.n_out} features layer {l}'s BatchNorm normalizes (the first: feature "
                 f"{j + 1}) are constant over the batch: their variance is 0, so x̂ = 0 and they carry nothing "
                 "forward (γ gets no gradient from them).",
                 "remove input columns that never vary, or the units feeding them; a batch of more varied rows "
                 "(shuffle) if only some batches are constant."),)

    def config(self):
        return {"kind": self.kind, "n_in": self.n_in, "n_out": self.n_out, "activation": self.activation.config(),
                "momentum": self.momentum, "eps": self.eps, "lr_scale": self.lr_scale}

    def arrays(self):
        return {"gamma": self.gamma, "beta": self.beta, "running_mean": self.running_mean,
                "running_var": self.running_var}

    @classmethod
    def from_config(cls, spec, arrays, activation, make_layer=None):
        return cls(spec["n_out"], activation, momentum=spec["momentum"], eps=spec["eps"], lr_scale=spec["lr_scale"],
                   **{name: arrays[name] for name in ("gamma", "beta", "running_mean", "running_var")})

    def copy(self):
        built = self.gamma is not None
        return BatchNorm(self.n_out, self.activation, self.momentum, self.eps, lr_scale=self.lr_scale,
                         **(self.arrays() if built else self._initial))

    def forward(self, a_prev, buf, training=False):
        """z = γ x̂ + β, a = f(z), x̂ normalized by the batch's statistics in training mode (which
        also updates the running ones), by the running statistics otherwise."""
        buf.a_prev, buf.training, m = a_prev, training, len(a_prev)
        mean, var, inv_std, xhat = buf.mean, buf.var, buf.inv_std, buf.xhat
        if training:
            if m < 2:
                raise ValueError("a BatchNorm layer in training mode needs a batch of at least 2 rows (one row has no "
                                 "variance); use batch_size ≥ 2 and a data size that leaves no last batch of one row")
            np.dot(ONES[m, xhat.dtype], a_prev, out=mean)  # μ = (1/m) Σ x
            mean /= m
            np.subtract(a_prev, mean, out=xhat)  # x − μ
            np.multiply(xhat, xhat, out=buf.scratch)
            np.dot(ONES[m, xhat.dtype], buf.scratch, out=var)  # σ² = (1/m) Σ (x − μ)²
            var /= m
            self._update_running(mean, var, m)
        else:
            mean[...], var[...] = self.running_mean, self.running_var
            np.subtract(a_prev, mean, out=xhat)
        np.add(var, self.eps, out=inv_std)
        np.sqrt(inv_std, out=inv_std)
        np.divide(1, inv_std, out=inv_std)  # 1/σ = 1/√(σ² + ε)
        xhat *= inv_std  # x̂ = (x − μ)/σ
        np.multiply(xhat, self.gamma, out=buf.z)
        buf.z += self.beta  # z = γ x̂ + β
        return self.activate(buf.z, buf)

    def _update_running(self, mean, var, m):
        """r ← (1 − momentum) r + momentum · batch value; the variance's batch value unbiased, σ² m/(m − 1).
        A batch whose statistics are not finite leaves them as they were (its loss is not finite
        either); a batch whose step training refuses gets them put back by the training loop."""
        if not (np.isfinite(mean).all() and np.isfinite(var).all()):
            return
        k = self.momentum
        self.running_mean *= 1 - k
        self.running_mean += k * mean
        self.running_var *= 1 - k
        self.running_var += (k * m / (m - 1)) * var

    def backward(self, delta, grad_out=None):
        """Given δ = ∂L/∂z: ∂L/∂γ, ∂L/∂β, and ∂L/∂x (x this layer's input) into ``grad_out``."""
        buf, self.delta = self.buffers, delta
        m, xhat, tmp = len(delta), buf.xhat, buf.scratch
        ones = ONES[m, delta.dtype]
        np.multiply(delta, xhat, out=tmp)
        np.dot(ones, tmp, out=self.dgamma)  # ∂L/∂γ = Σ_rows δ ⊙ x̂
        np.dot(ones, delta, out=self.dbeta)  # ∂L/∂β = Σ_rows δ
        if grad_out is None:
            return None
        scale = self.gamma * buf.inv_std  # γ/σ
        if not buf.training:
            return np.multiply(delta, scale, out=grad_out)  # ∂L/∂x = (γ/σ) δ
        # ∂L/∂x = (1/m)(γ/σ)(m δ − Σ δ − x̂ Σ(δ ⊙ x̂)) = (γ/σ)(δ − ∂L/∂β/m − x̂ ∂L/∂γ/m)
        np.multiply(xhat, self.dgamma / m, out=grad_out)
        np.subtract(delta, grad_out, out=grad_out)
        grad_out -= self.dbeta / m
        grad_out *= scale
        return grad_out
