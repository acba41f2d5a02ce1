"""The layer protocol every layer kind follows, and the fully connected layer: forward
z = a_prev W + b, a = f(z); backward dW, db and δ Wᵀ.

A network is a sequence of layers, and its backward pass one loop over them (``backward_through``)
with no case per kind: every kind (``Dense`` here, ``chainrule.BatchNorm``, ``chainrule.Residual``)
offers the same few methods, with Dense's as the model:

``forward(a_prev, buf, training)``  z from the input a_prev, then a = f(z), into ``buf`` (its
                                   ``LayerBuffers`` in the workspace); returns a. ``training``
                                   says which statistics a BatchNorm uses (the batch's, or its
                                   running ones); a Dense ignores it.
``backward(delta, grad_out)``      given δ = ∂L/∂z of the last forward pass: fills the layer's
                                   parameter gradients and returns ∂L/∂a_prev into ``grad_out``
                                   (None when nobody needs it: the network's first layer).
``activation``                     f, which the recurrence applies between two layers:
                                   δ = ∂L/∂a ⊙ f′(z).
``size``, ``running_size``, ``build(rng, theta, grad, running)``
                                   how many parameters (and running statistics) it has, and its
                                   parameters made views of its slice of the network's θ (gradients
                                   of ∂L/∂θ, statistics of the network's ``running`` vector).
``params()``, ``running()``, ``weights()``, ``sublayers()``
                                   (name, parameter, gradient) of each trained array; (name, array)
                                   of each running statistic; (W, ∂L/∂W) of its weights, whose
                                   gradient norm the History records; the layers inside a block.
``config()``, ``arrays()``, ``from_config(...)``, ``copy()``
                                   what a model file stores and how it is read back; an unbuilt
                                   copy with the same values.
"""

import math

import numpy as np

from ._constants import ONES
from .activations import get_activation
from .initializers import initialize
from . import validation
from .validation import flag, integer, number

__all__ = ["Layer", "Dense", "LayerBuffers", "backward_through", "label", "numbered", "walk"]


class LayerBuffers:
    """One layer's arrays for one batch of m rows, which every pass over such a batch overwrites:

    ``z``        (m, n_out) pre-activations (z = a_prev W + b for a Dense)
    ``a``        activations a = f(z) (z itself for a linear layer)
    ``delta``    δ = ∂L/∂z; during the backward pass first ∂L/∂a = δ(next) W(next)ᵀ, then δ in place
    ``log_a``    log f(z), from the logits, for activations that leave it (sigmoid, softmax); else None
    ``scratch``  f′(z) and the other temporaries of the backward pass
    ``a_prev``   the input of the last forward pass (the batch X, or the previous layer's ``a``): a view

    Layer kinds that keep more (a BatchNorm's x̂ and batch statistics, a block's inner layers'
    buffers) subclass it.
    """

    __slots__ = ("z", "a", "delta", "log_a", "scratch", "a_prev")

    def __init__(self, m, n_out, dtype, has_log):
        self.z, self.a, self.delta, self.scratch = (np.empty((m, n_out), dtype) for _ in range(4))
        self.log_a = np.empty((m, n_out), dtype) if has_log else None
        self.a_prev = None

    def release(self):
        """Forget the input of the last pass, so that the buffers keep no data alive."""
        self.a_prev = None


def backward_through(layers, bufs, delta, grad_out=None):
    """The delta recurrence through ``layers`` (their ``bufs`` hold the last forward pass), from
    δ = ∂L/∂z of the last of them down to the first:

        g = ∂L/∂a(l−1) = what layer l's backward sends back (δ(l) W(l)ᵀ for a Dense)
        δ(l−1) = g ⊙ f′(z(l−1))

    each layer filling its own parameter gradients on the way; returns ∂L/∂(the first layer's
    input) in ``grad_out`` (None: not needed). ``Network.backprop`` and a residual block's branch
    both step through here."""
    for l in range(len(layers) - 1, 0, -1):
        prev = bufs[l - 1]
        g = layers[l].backward(delta, grad_out=prev.delta)
        delta = layers[l - 1].activation.backward(g, prev.z, prev.a, out=prev.delta, scratch=prev.scratch)
    return layers[0].backward(delta, grad_out)


def walk(layers):
    """Every layer of ``layers``, the layers inside blocks included, in the order of the forward pass."""
    for layer in layers:
        yield layer
        yield from walk(layer.sublayers())


def numbered(layers):
    """(l, layer) for every layer of ``layers``, blocks' layers included, l the 1-based number of the
    network's layer that is or holds it."""
    for l, layer in enumerate(layers, start=1):
        for each in walk([layer]):
            yield l, each


def label(name, l):
    """The name a person reads for parameter ``name`` of layer l (1-based): W of layer 2 is W2, the
    W of a block's first layer (``name`` "W.1") in layer 3 is W3.1, gamma of layer 4 gamma4."""
    base, dot, rest = name.partition(".")
    return f"{base}{l}{dot}{rest}"


class Layer:
    """The protocol of a layer kind (see the module's docstring), with what the kinds share: the
    last pass's arrays by the names of the equations, and defaults for a kind without running
    statistics, sublayers or diagnostics statistics of its own.

    Class attributes: ``kind``, the name a model file gives it; ``weight_matrix``, whether it has a
    weight matrix W of shape (n_in, n_out) (and b), which the network's L2 penalty decays and the
    diagnostics check for scale and symmetry; ``min_rows``, the fewest rows of a training batch it
    computes on; ``statistics``, the names of what ``measure()`` returns for the diagnostics;
    ``backward_text`` and ``gradient_text``, how its backward pass and its parameter gradients are
    written in the report of a non-finite pass, templates in {l} (the layer) and {p} (its input).
    """

    kind = None
    weight_matrix = False
    statistics = ()
    backward_text = gradient_text = None
    running_size = 0
    min_rows = 1
    buffers = None  # the LayerBuffers of the last forward pass
    delta = None  # δ of the last backward pass

    def sublayers(self):
        return ()

    def running(self):
        """(name, array) of each running statistic: not trained by gradients, updated in training mode."""
        return ()

    def measure(self):
        """The values of ``statistics`` for the last forward pass (diagnostics)."""
        return ()

    def problems(self, l):
        """What the diagnostics should report about the last forward pass of this layer, layer l
        (1-based): (code, value, threshold, cause, fix) tuples; none by default."""
        return ()

    def grad_norm(self):
        """‖∂L/∂W‖ over the layer's ``weights()``: what ``History.grad_norms`` records for it."""
        return math.sqrt(sum(float(np.vdot(g, g)) for _, g in self.weights()))

    def activate(self, z, buf):
        """a = f(z) into ``buf`` (and log a, for an activation that leaves it on the way: what a fused
        loss reads); the pass's buffers kept for the backward pass. Every kind's forward ends here."""
        f = self.activation
        buf.a = f.forward(z, out=buf.a, log_out=buf.log_a) if f.has_log else f.forward(z, out=buf.a)
        self.buffers = buf
        return buf.a

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


class Dense(Layer):
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

    kind = "dense"
    weight_matrix = True
    backward_text = "δ{l} W{l}ᵀ"
    gradient_text = "∂L/∂W{l} = {p}ᵀ δ{l}, ∂L/∂b{l} = Σ_rows δ{l}"

    def __init__(self, n_in, n_out, activation="linear", init=None, lr_scale=1.0, bias=True):
        self.n_in, self.n_out = integer("Dense n_in", n_in, low=1), integer("Dense n_out", n_out, low=1)
        self.activation = get_activation(activation)
        self.lr_scale = number("Dense lr_scale", lr_scale, low=0)
        self.bias = flag("Dense bias", bias)
        self._W = self._b = None
        self.dW = self.db = None
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
        bias = "" if self.bias else ", bias=False"
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation.name!r}{bias})"

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

    def build(self, rng, theta, grad, running=None):
        """Draw W (unless given) and set b = 0 (unless given) into ``theta``, this layer's slice of
        the network's parameter vector; ``dW``, ``db`` become views of its slice of the gradient.
        (A Dense has no running statistics.)"""
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

    def weights(self):
        return ((self.W, self.dW),)

    def new_buffers(self, m, dtype):
        """The arrays a batch of m rows needs in this layer."""
        return LayerBuffers(m, self.n_out, dtype, self.activation.has_log)

    def config(self):
        """The layer in a model file's architecture (its arrays: ``arrays()``)."""
        return {"kind": self.kind, "n_in": self.n_in, "n_out": self.n_out, "activation": self.activation.config(),
                "bias": self.bias, "lr_scale": self.lr_scale}

    def arrays(self):
        """{name: array} of what a model file stores: W, and b with a bias."""
        return {"W": self.W, "b": self.b} if self.bias else {"W": self.W}

    @classmethod
    def from_config(cls, spec, arrays, activation, make_layer=None):
        """The layer a model file describes: ``spec`` its config, ``arrays`` its arrays by the names of
        ``arrays()``, ``activation`` the Activation its config names (``make_layer(spec, arrays, i)``
        builds a block's i-th layer; a Dense has none)."""
        init = (arrays["W"], arrays["b"]) if spec["bias"] else arrays["W"]
        return cls(spec["n_in"], spec["n_out"], activation, init=init, lr_scale=spec["lr_scale"], bias=spec["bias"])

    def copy(self):
        """A new, unbuilt Dense with this one's settings and current weights."""
        init = (self.W, self.b) if self.bias else self.W
        return Dense(self.n_in, self.n_out, self.activation, init=init, lr_scale=self.lr_scale, bias=self.bias)

    def forward(self, a_prev, buf, training=False):
        """z = a_prev W + b;  a = f(z) — into ``buf`` (this layer's ``LayerBuffers``), which keeps
        a_prev, z and a (and log a) for the backward pass. The same in training and evaluation."""
        buf.a_prev = a_prev
        z = _product(a_prev, self.W, buf.z)
        if self.bias:
            z += self.b
        return self.activate(z, buf)

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


def _product(a, b, out):
    """out ← a b by ``np.dot``: the BLAS product of ``a @ b`` without the matmul ufunc's dispatch,
    which on a small network's step costs as much as the arithmetic. ``np.dot`` writes only into an
    ``out`` of its result's dtype; an operand of another dtype (from a user's activation or loss
    that returns one) goes through ``np.matmul``, which casts into ``out``."""
    try:
        return np.dot(a, b, out=out)
    except ValueError:
        return np.matmul(a, b, out=out)
