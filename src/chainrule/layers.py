"""The fully connected layer: forward z = a_prev W + b, a = f(z); backward dW, db and δ Wᵀ."""

import numbers

import numpy as np

from .activations import get_activation
from .initializers import default_init, initialize

__all__ = ["Dense"]


class Dense:
    """A fully connected layer of ``n_out`` neurons fed by ``n_in`` inputs.

    ``W`` has shape (n_in, n_out): row i holds the weights from input i, column j the
    weights into neuron j, so that Z = A_prev @ W + b for a batch whose samples are rows.
    ``b`` has shape (n_out,). After ``Network.backward``, ``dW`` and ``db`` hold ∂L/∂W and
    ∂L/∂b, and ``Z``, ``A``, ``delta`` the batch's pre-activations, activations and δ = ∂L/∂z.

    ``init`` is an initializer name (see ``chainrule.initializers.INITIALIZERS``; default He
    for ReLU-family activations, Glorot uniform otherwise), an array W of shape (n_in, n_out),
    or a pair (W, b). ``lr_scale`` multiplies the optimizer's learning rate for this layer.
    ``bias=False`` leaves b at zero and out of training.
    """

    def __init__(self, n_in, n_out, activation="linear", init=None, lr_scale=1.0, bias=True):
        for name, n in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Dense {name} must be a positive integer, got {n!r}")
        if not np.isfinite(lr_scale) or lr_scale < 0:
            raise ValueError(f"Dense lr_scale must be a finite number ≥ 0, got {lr_scale!r}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.activation = get_activation(activation)
        self.lr_scale = float(lr_scale)
        self.bias = bool(bias)
        self.W = self.b = None
        self.dW = self.db = None
        self.A_prev = self.Z = self.A = self.delta = None
        if init is None:
            init = default_init(self.activation.name)
        if isinstance(init, str):
            self.init = init
        else:
            self.init = "explicit"
            W, b = init if isinstance(init, tuple) else (init, None)
            self.W = self._explicit("W", W, (self.n_in, self.n_out))
            if b is not None:
                if not self.bias:
                    raise ValueError("Dense got an explicit bias b but bias=False; drop b or set bias=True")
                self.b = self._explicit("b", b, (self.n_out,))

    def __repr__(self):
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation.name!r})"

    @staticmethod
    def _explicit(name, value, shape):
        arr = np.array(value, dtype=np.float64)
        if arr.shape != shape:
            raise ValueError(f"Dense explicit {name} has shape {arr.shape}, expected {shape} (n_in, n_out layout)")
        if not np.isfinite(arr).all():
            raise ValueError(f"Dense explicit {name} contains NaN or inf")
        return arr

    def build(self, rng, dtype):
        """Draw W (unless given), set b = 0 (unless given), in the network's dtype."""
        if self.W is None:
            self.W = initialize(self.init, rng, self.n_in, self.n_out)
        self.W = self.W.astype(dtype)
        self.b = np.zeros(self.n_out, dtype) if self.b is None else self.b.astype(dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)

    def params(self):
        """(name, parameter, gradient) for each trained array: W, and b when the layer has a bias."""
        yield "W", self.W, self.dW
        if self.bias:
            yield "b", self.b, self.db

    def forward(self, A_prev):
        """z = a_prev W + b;  a = f(z). Caches a_prev, z and a for the backward pass."""
        self.A_prev = A_prev
        self.Z = A_prev @ self.W
        if self.bias:
            self.Z += self.b
        self.A = self.activation.forward(self.Z)
        return self.A

    def backward(self, delta, input_grad=True):
        """Given δ = ∂L/∂z of this layer (1/N already inside):

        ∂L/∂W = a_prevᵀ δ,   ∂L/∂b = Σ_rows δ,   and returns ∂L/∂a_prev = δ Wᵀ
        (skipped for the first layer, where nobody needs it).
        """
        self.delta = delta
        self.dW = self.A_prev.T @ delta
        self.db = delta.sum(axis=0) if self.bias else np.zeros_like(self.b)
        return delta @ self.W.T if input_grad else None
