"""The fully connected layer: forward z = a_prev W + b, a = f(z); backward dW, db and δ Wᵀ."""

import numbers

import numpy as np

from ._constants import ONES
from .activations import get_activation
from .initializers import default_init, initialize

__all__ = ["Dense"]


class Dense:
    """A fully connected layer of ``n_out`` neurons fed by ``n_in`` inputs.

    ``W`` has shape (n_in, n_out): row i holds the weights from input i, column j the
    weights into neuron j, so that Z = A_prev @ W + b for a batch whose samples are rows.
    ``b`` has shape (n_out,). After ``Network.backward``, ``dW`` and ``db`` hold ∂L/∂W and
    ∂L/∂b, and ``Z``, ``A``, ``delta`` the batch's pre-activations, activations and δ = ∂L/∂z
    (a sigmoid or softmax layer also ``log_A`` = log a, until the backward pass reuses it).
    These are buffers that the next pass overwrites: copy what you keep.

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
        self._W = self._b = None
        self.dW = self.db = None
        self.A_prev = self.Z = self.A = self.log_A = self.delta = None
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

    @property
    def W(self):
        return self._W

    @W.setter
    def W(self, value):
        self._W = self._assign(self._W, value, (self.n_in, self.n_out), "W")

    @property
    def b(self):
        return self._b

    @b.setter
    def b(self, value):
        self._b = self._assign(self._b, value, (self.n_out,), "b")

    @staticmethod
    def _assign(current, value, shape, name):
        """Once the layer belongs to a network, W and b are views into its parameter vector:
        assigning writes the values in place, so the network and its optimizer see them."""
        if current is None or value is None:
            return value
        value = np.asarray(value)
        if value.shape != shape:
            raise ValueError(f"Dense.{name} must have shape {shape}, got {value.shape}")
        current[...] = value
        return current

    def build(self, rng, theta, grad):
        """Draw W (unless given) and set b = 0 (unless given) into ``theta``, this layer's slice of
        the network's parameter vector; ``dW``, ``db`` become views of its slice of the gradient."""
        if self.dW is not None:
            raise ValueError(f"{self!r} already belongs to a network; create a new Dense, or use net.copy()")
        W = self._W if self._W is not None else initialize(self.init, rng, self.n_in, self.n_out)
        b = self._b if self._b is not None else np.zeros(self.n_out)
        k = W.size
        self._W, self._b = theta[:k].reshape(W.shape), theta[k:].reshape(b.shape)
        self._W[...], self._b[...] = W, b
        self.dW, self.db = grad[:k].reshape(W.shape), grad[k:].reshape(b.shape)

    @property
    def size(self):
        """Number of parameters, W and b."""
        return self.n_in * self.n_out + self.n_out

    def params(self):
        """(name, parameter, gradient) for each trained array: W, and b when the layer has a bias."""
        yield "W", self.W, self.dW
        if self.bias:
            yield "b", self.b, self.db

    def forward(self, A_prev, buf):
        """z = a_prev W + b;  a = f(z), into the batch's buffers ``buf.Z``, ``buf.A`` (and log a into ``buf.S``).
        Caches a_prev, z and a for the backward pass."""
        self.A_prev = A_prev
        self.Z = _product(A_prev, self.W, buf.Z)
        if self.bias:
            self.Z += self.b
        if self.activation.has_log:
            # log a from the logits, on the way to a: what the fused loss reads (into the scratch buffer)
            self.A = self.activation.forward(self.Z, out=buf.A, log_out=buf.S)
            self.log_A = buf.S
        else:
            self.A = self.activation.forward(self.Z, out=buf.A)
        return self.A

    def backward(self, delta, grad_out=None):
        """Given δ = ∂L/∂z of this layer (1/N already inside):

        ∂L/∂W = a_prevᵀ δ,   ∂L/∂b = Σ_rows δ,   and returns ∂L/∂a_prev = δ Wᵀ into ``grad_out``
        (the previous layer's delta buffer; None for the first layer, where nobody needs it).
        """
        self.delta = delta
        _product(self.A_prev.T, delta, self.dW)
        if self.bias:
            # Σ_rows δ = 1ᵀ δ: as a BLAS product it takes about half the time of np.add.reduce
            _product(ONES[len(delta), delta.dtype], delta, self.db)
        return None if grad_out is None else _product(delta, self.W.T, grad_out)


def _product(a, b, out):
    """out ← a b by ``np.dot``: the BLAS product of ``a @ b`` without the matmul ufunc's dispatch,
    about 1 µs less per call (a 4×2 by 2×4 product: 1.1 µs against 2.4 µs), which on a small
    network's step is as much as the arithmetic. ``np.dot`` writes only into an ``out`` of its
    result's dtype; an operand of another dtype (from a user's activation or loss that returns one)
    goes through ``np.matmul``, which casts into ``out``."""
    try:
        return np.dot(a, b, out=out)
    except ValueError:
        return np.matmul(a, b, out=out)
