"""The fully connected layer: forward z = a_prev W + b, a = f(z); backward dW, db and δ Wᵀ."""

import numpy as np

from ._constants import ONES
from .activations import get_activation
from .initializers import initialize
from . import validation
from .validation import flag, integer, number

__all__ = ["Dense", "LayerBuffers"]


class LayerBuffers:
    """One layer's arrays for one batch of m rows, which every pass over such a batch overwrites:

    ``z``        (m, n_out) pre-activations z = a_prev W + b
    ``a``        activations a = f(z) (z itself for a linear layer)
    ``delta``    δ = ∂L/∂z; during the backward pass first ∂L/∂a = δ(next) W(next)ᵀ, then δ in place
    ``log_a``    log f(z), from the logits, for activations that leave it (sigmoid, softmax); else None
    ``scratch``  f′(z) and the other temporaries of the backward pass
    ``a_prev``   the input of the last forward pass (the batch X, or the previous layer's ``a``): a view
    """

    __slots__ = ("z", "a", "delta", "log_a", "scratch", "a_prev")

    def __init__(self, m, n_out, dtype, has_log):
        self.z, self.a, self.delta, self.scratch = (np.empty((m, n_out), dtype) for _ in range(4))
        self.log_a = np.empty((m, n_out), dtype) if has_log else None
        self.a_prev = None


class Dense:
    """A fully connected layer of ``n_out`` neurons fed by ``n_in`` inputs.

    ``W`` has shape (n_in, n_out): row i holds the weights from input i, column j the
    weights into neuron j, so that Z = A_prev @ W + b for a batch whose samples are rows.
    ``b`` has shape (n_out,). After ``Network.backward``, ``dW`` and ``db`` hold ∂L/∂W and
    ∂L/∂b and ``delta`` the batch's δ = ∂L/∂z; ``Z``, ``A`` (and ``log_A`` = log a for a sigmoid
    or softmax layer, ``A_prev`` the layer's input) are the last forward pass's, from ``buffers``,
    the ``LayerBuffers`` it wrote into. The next pass overwrites them: copy what you keep.

    ``init`` is an initializer name (see ``chainrule.initializers.INITIALIZERS``; default: the
    activation's own ``init``, He for the ReLU family, Glorot uniform otherwise), an array W of
    shape (n_in, n_out), or a pair (W, b). ``lr_scale`` multiplies the optimizer's learning rate
    for this layer. ``bias=False`` leaves b at zero and out of training.
    """

    def __init__(self, n_in, n_out, activation="linear", init=None, lr_scale=1.0, bias=True):
        self.n_in, self.n_out = integer("Dense n_in", n_in, low=1), integer("Dense n_out", n_out, low=1)
        self.activation = get_activation(activation)
        self.lr_scale = number("Dense lr_scale", lr_scale, low=0)
        self.bias = flag("Dense bias", bias)
        self._W = self._b = None
        self.dW = self.db = None
        self.buffers = None  # the LayerBuffers of the last forward pass
        self.delta = None  # δ of the last backward pass
        if init is None:
            init = self.activation.init
        if isinstance(init, str):
            self.init = init
        else:
            self.init = "explicit"
            if isinstance(init, tuple) and len(init) != 2:
                raise ValueError(f"Dense init as a tuple must be the pair (W, b), got {len(init)} items")
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
        expected = f"expected an array of numbers of shape {shape} (n_in, n_out layout)"
        try:
            arr = np.array(value)
        except (TypeError, ValueError):
            raise ValueError(f"Dense explicit {name} is not an array of numbers; {expected}") from None
        if arr.shape != shape:
            raise ValueError(f"Dense explicit {name} has shape {arr.shape}; {expected}")
        return validation.numeric_array(f"Dense explicit {name}", arr, np.float64)

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

    def new_buffers(self, m, dtype):
        """The arrays a batch of m rows needs in this layer."""
        return LayerBuffers(m, self.n_out, dtype, self.activation.has_log)

    def forward(self, a_prev, buf):
        """z = a_prev W + b;  a = f(z) — into ``buf`` (this layer's ``LayerBuffers``), which keeps
        a_prev, z and a (and log a) for the backward pass."""
        buf.a_prev = a_prev
        z = _product(a_prev, self.W, buf.z)
        if self.bias:
            z += self.b
        if self.activation.has_log:  # log a from the logits, on the way to a: what a fused loss reads
            buf.a = self.activation.forward(z, out=buf.a, log_out=buf.log_a)
        else:
            buf.a = self.activation.forward(z, out=buf.a)
        self.buffers = buf
        return buf.a

    def backward(self, delta, grad_out=None):
        """Given δ = ∂L/∂z of this layer (1/N already inside), for the batch of the last forward pass:

        ∂L/∂W = a_prevᵀ δ,   ∂L/∂b = Σ_rows δ,   and returns ∂L/∂a_prev = δ Wᵀ into ``grad_out``
        (the previous layer's delta buffer; None for the first layer, where nobody needs it).
        """
        self.delta = delta
        _product(self.buffers.a_prev.T, delta, self.dW)
        if self.bias:
            _product(ONES[len(delta), delta.dtype], delta, self.db)  # Σ_rows δ = 1ᵀ δ, as one BLAS product
        return None if grad_out is None else _product(delta, self.W.T, grad_out)

    # the last pass's arrays, by the names of the equations (None before any pass)

    @property
    def A_prev(self):
        return None if self.buffers is None else self.buffers.a_prev

    @property
    def Z(self):
        return None if self.buffers is None else self.buffers.z

    @property
    def A(self):
        return None if self.buffers is None else self.buffers.a

    @property
    def log_A(self):
        return None if self.buffers is None else self.buffers.log_a


def _product(a, b, out):
    """out ← a b by ``np.dot``: the BLAS product of ``a @ b`` without the matmul ufunc's dispatch,
    which on a small network's step costs as much as the arithmetic. ``np.dot`` writes only into an
    ``out`` of its result's dtype; an operand of another dtype (from a user's activation or loss
    that returns one) goes through ``np.matmul``, which casts into ``out``."""
    try:
        return np.dot(a, b, out=out)
    except ValueError:
        return np.matmul(a, b, out=out)
