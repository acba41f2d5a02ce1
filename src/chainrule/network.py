"""Network: a stack of Dense layers, a loss, and the backward pass as the delta recurrence."""

import copy

import numpy as np

from .activations import ACTIVATIONS, Activation, get_activation
from . import memory, validation
from .layers import Dense
from .losses import LOSSES, get_loss
from .modelfile import FORMAT, FORMAT_VERSION, read, write

__all__ = ["Network", "Workspace", "load"]


class Workspace:
    """The arrays of one forward and backward pass over a batch of m rows: ``layers[l]`` is layer
    l's ``LayerBuffers`` (z, a, δ, log a, scratch). ``fit`` reuses one per batch size; ``forward``,
    ``backward`` and ``loss_value`` make a new one per call, so their results stay."""

    def __init__(self, layers, m, dtype):
        self.m = m
        self.layers = [layer.new_buffers(m, dtype) for layer in layers]

    def release(self):
        """Forget the input of the last pass (the caller's batch, or a copy of its rows), so that the
        workspace keeps no data alive."""
        self.layers[0].a_prev = None

class Network:
    """A feed-forward network ``layers[0] → … → layers[-1]`` trained on ``loss``.

    ``seed`` seeds the initial weights and the shuffling of ``fit`` (same seed ⇒
    bit-identical training); ``dtype`` is float64 by default or float32 end to end;
    ``l2`` is λ in the penalty λ/(2m)·Σ_l ‖W(l)‖² on the weights (not the biases),
    m the batch size (the penalty of ``chainrule experiment moons``'s L2 runs), or the batch's
    total weight Σw with sample weights: a row of weight 2 counts as two rows there too.

    ``initial_weights`` is True while the weights are the ones the network was built with (drawn
    by the initializers, or given as arrays), False once ``fit`` has taken a step and for a
    network read from a file (a pickle keeps it): the diagnostics judge the scale of initial
    weights only.

    A network pickles (and so goes through joblib and ``copy.deepcopy``) as its architecture, its
    weights and its random generator's state: no optimizer state, no buffers.
    """

    def __init__(self, layers, loss="mse", seed=None, dtype=np.float64, l2=0.0):
        layers = list(layers)
        if not layers or not all(isinstance(layer, Dense) for layer in layers):
            raise ValueError("Network needs a non-empty list of chainrule.Dense layers")
        for l, (prev, nxt) in enumerate(zip(layers, layers[1:]), start=1):
            if prev.n_out != nxt.n_in:
                raise ValueError(
                    f"layer {l} has {prev.n_out} outputs but layer {l + 1} expects {nxt.n_in} inputs; "
                    f"make Dense {l + 1}'s n_in equal {prev.n_out}"
                )
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("the same Dense object appears twice in layers; create one Dense per layer")
        self.dtype = validation.dtype(dtype)
        self.l2 = validation.number("l2", l2, low=0)
        self.seed = validation.seed(seed)
        self.layers = layers
        self.loss = get_loss(loss)
        self.rng = np.random.default_rng(self.seed)
        size = sum(layer.size for layer in layers)
        # θ and its gradient, and the largest layer's W as its initializer draws it (float64)
        memory.require(2 * size * self.dtype.itemsize + 8 * max(layer.n_in * layer.n_out for layer in layers),
                       f"a network of {size:,} parameters", "use fewer or smaller layers")
        # every parameter lives in one vector θ, every gradient in one vector ∂L/∂θ: the layers'
        # W, b, dW, db are views into them, so an optimizer updates all of them at once
        self.theta = np.empty(size, self.dtype)
        self.grad = np.zeros_like(self.theta)
        offset = 0
        for layer in layers:
            part = slice(offset, offset + layer.size)
            layer.build(self.rng, self.theta[part], self.grad[part])
            offset += layer.size
        self.initial_weights = True
        self._workspaces = {}  # batch size m → the Workspace training reuses
        self._l2_buffers = None
        self._lr_scales = (None, None)  # (the layers' lr_scale values, θ's per-entry factors)

    def __repr__(self):
        sizes = "-".join(str(n) for n in [self.n_in] + [layer.n_out for layer in self.layers])
        acts = ", ".join(layer.activation.name for layer in self.layers)
        return f"Network({sizes}, activations=[{acts}], loss={self.loss.name!r})"

    @property
    def n_in(self):
        return self.layers[0].n_in

    @property
    def n_out(self):
        return self.layers[-1].n_out

    # ---- input checking --------------------------------------------------------------------

    def check_X(self, X):
        """X as a finite 2-D array (n_samples, n_in) in the network's dtype; ValueError otherwise."""
        X = np.asarray(X)
        if X.ndim != 2:
            hint = " (for one sample use X.reshape(1, -1))" if X.ndim == 1 else ""
            raise ValueError(f"X must be 2-D with shape (n_samples, {self.n_in}), got shape {X.shape}{hint}")
        if X.shape[0] == 0:
            raise ValueError("X is empty (0 samples); pass at least one row")
        if X.shape[1] != self.n_in:
            raise ValueError(
                f"X has {X.shape[1]} feature(s) per sample but the first layer expects {self.n_in}; "
                f"make Dense 1's n_in equal {X.shape[1]} or select the right columns"
            )
        return validation.numeric_array("X", X, self.dtype)

    def check_data(self, X, y):
        """(X, Y) checked and converted; Y has shape (n_samples, n_out) (labels become one-hot rows)."""
        X = self.check_X(X)
        Y = self.loss.prepare_targets(y, self.n_out, self.dtype)
        if len(Y) != len(X):
            raise ValueError(f"X has {len(X)} samples but y has {len(Y)}; they must have one target per row of X")
        return X, Y

    def check_weights(self, sample_weight, n):
        """``sample_weight`` as n finite weights ≥ 0 with a positive sum, in the network's dtype, or
        None for None; ValueError otherwise."""
        if sample_weight is None:
            return None
        if not self.loss.takes_weights():
            raise ValueError(f"loss {self.loss.name!r} does not take sample weights: give its value and grad (and "
                             "accuracy) a parameter w=None, the rows' weights, or train without sample_weight")
        w = np.asarray(sample_weight)
        if w.shape != (n,):
            raise ValueError(f"sample_weight must hold one weight per row of X, shape ({n},); got shape {w.shape}")
        w = validation.numeric_array("sample_weight", w, self.dtype)
        if (w < 0).any():
            row = int(np.flatnonzero(w < 0)[0])
            raise ValueError(f"sample_weight must be ≥ 0; row {row} has weight {w[row]:g}")
        with np.errstate(over="ignore"):  # a sum beyond the float range is refused just below
            total = float(np.sum(w, dtype=np.float64))
        if not 0 < total < np.finfo(self.dtype).max:
            raise ValueError(f"sample_weight sums to {total:g}: give some row a positive weight, and keep the "
                             f"sum within {self.dtype.name}'s range (rescale the weights; only their ratios matter)")
        return w

    # ---- the passes ------------------------------------------------------------------------
    # forward, backward, predict and loss_value check their input and allocate new buffers;
    # propagate, data_loss and backprop take data as check_data returns it and the Workspace to use.

    def workspace(self, m):
        """The Workspace for batches of m rows that training reuses (made on first use)."""
        ws = self._workspaces.get(m)
        if ws is None:
            ws = self._workspaces[m] = Workspace(self.layers, m, self.dtype)
        return ws

    def new_workspace(self, m):
        """A Workspace of its own for a batch of m rows, which no later pass overwrites."""
        return Workspace(self.layers, m, self.dtype)

    @property
    def fused(self):
        """True when the loss computes the output delta from the logits (σ + bce, softmax + cross_entropy)."""
        return self.loss.fuses_with(self.layers[-1].activation)

    def propagate(self, X, ws):
        """a(L) for a checked batch X: z = a_prev W + b, a = f(z), layer after layer, into ``ws``."""
        a = X
        for layer, buf in zip(self.layers, ws.layers):
            a = layer.forward(a, buf)
        return a

    def data_loss(self, Y, ws, w=None):
        """L of the pass in ``ws`` against checked targets Y (no penalty): from the logits when fused;
        a mean over the rows weighted by ``w`` (``check_weights``) when given."""
        out, loss = ws.layers[-1], self.loss
        if w is None:
            return loss.fused_value(out.z, Y, out.log_a) if self.fused else loss.value(out.a, Y)
        return loss.fused_value(out.z, Y, out.log_a, w=w) if self.fused else loss.value(out.a, Y, w=w)

    def penalty(self, m):
        """The L2 penalty λ/(2m) Σ_l ‖W(l)‖² for a batch of m rows (m = Σw with sample weights)."""
        if not self.l2:
            return 0.0
        return self.l2 / (2 * m) * sum(float(np.vdot(layer.W, layer.W)) for layer in self.layers)

    def backprop(self, X, Y, ws, w=None):
        """One forward and backward pass over a checked batch (X, Y) in ``ws``, its rows weighted by
        ``w`` (as ``check_weights`` returns it) when given: fills every layer's dW, db (and δ);
        returns the loss L, penalty included. ``backward`` and ``fit`` both step through here."""
        layers, bufs = self.layers, ws.layers
        self.propagate(X, ws)
        m = len(Y) if w is None else float(np.add.reduce(w))  # the rows, or their total weight
        loss = self.data_loss(Y, ws, w) + self.penalty(m)
        out = bufs[-1]
        # δ(L) = ∂L/∂z(L): (ŷ − y)/N when fused (w_n/Σw for 1/N when weighted), else ∂L/∂a(L) ⊙ f′(z(L))
        loss_fn = self.loss  # called without w when unweighted: a loss of the user's may not take it
        if self.fused:
            delta = (loss_fn.fused_delta(out.a, Y, out=out.delta) if w is None
                     else loss_fn.fused_delta(out.a, Y, out=out.delta, w=w))
        else:
            g = loss_fn.grad(out.a, Y, out=out.delta) if w is None else loss_fn.grad(out.a, Y, out=out.delta, w=w)
            delta = layers[-1].activation.backward(g, out.z, out.a, out=out.delta, scratch=out.scratch)
        for l in range(len(layers) - 1, 0, -1):
            prev = bufs[l - 1]
            # ∂L/∂W(l) = a(l−1)ᵀ δ(l);  ∂L/∂b(l) = Σ_rows δ(l);  g = δ(l) W(l)ᵀ
            g = layers[l].backward(delta, grad_out=prev.delta)
            # δ(l−1) = (δ(l) W(l)ᵀ) ⊙ f′(z(l−1))
            delta = layers[l - 1].activation.backward(g, prev.z, prev.a, out=prev.delta, scratch=prev.scratch)
        layers[0].backward(delta)  # no δ Wᵀ for the first layer: nothing needs ∂L/∂X
        if self.l2:
            # ∂/∂W [λ/(2m) ‖W‖²] = (λ/m) W
            for layer, tmp in zip(layers, self._penalty_grad()):
                np.multiply(layer.W, self.l2 / m, out=tmp)
                layer.dW += tmp
        return loss

    def _penalty_grad(self):
        """One array per layer, the shape of its W, for (λ/m) W."""
        if self._l2_buffers is None:
            self._l2_buffers = [np.empty_like(layer.W) for layer in self.layers]
        return self._l2_buffers

    # Overflow on finite data (huge weights or inputs) gives inf, which these report as values; the
    # benign ones (e^−∞ = 0 in a softmax of ±1e308) must not print warnings.

    def forward(self, X):
        """The network's output a(L) for a batch X of shape (n_samples, n_in), a new array."""
        X = self.check_X(X)
        with np.errstate(over="ignore", invalid="ignore"):
            return self.propagate(X, self.new_workspace(len(X)))

    def backward(self, X, y, sample_weight=None):
        """Forward, then backward: fill every layer's dW, db (and δ); return the loss value. With
        ``sample_weight`` (n weights ≥ 0), L = Σ_n w_n ℓ_n / Σ_n w_n."""
        X, Y = self.check_data(X, y)
        w = self.check_weights(sample_weight, len(X))
        with np.errstate(over="ignore", invalid="ignore"):
            return self.backprop(X, Y, self.new_workspace(len(X)), w)

    def predict(self, X):
        """The output for X: probabilities for ``bce`` and ``cross_entropy``, values otherwise."""
        a = self.forward(X)
        if self.fused:
            return a
        with np.errstate(over="ignore", invalid="ignore"):
            return self.loss.probabilities(a)

    def loss_value(self, X, y, sample_weight=None):
        """L(X, y): forward pass and loss (with the L2 penalty), no gradients; weighted as in ``backward``."""
        X, Y = self.check_data(X, y)
        w = self.check_weights(sample_weight, len(X))
        ws = self.new_workspace(len(X))
        with np.errstate(over="ignore", invalid="ignore"):
            self.propagate(X, ws)
            return self.data_loss(Y, ws, w) + self.penalty(len(Y) if w is None else float(np.sum(w)))

    def lr_scales(self):
        """The learning-rate factor of every entry of θ: 1.0 when no layer sets ``lr_scale``.
        Computed again only when a layer's ``lr_scale`` has changed since the last call."""
        scales = tuple([layer.lr_scale for layer in self.layers])
        if scales == self._lr_scales[0]:
            return self._lr_scales[1]
        if all(s == 1.0 for s in scales):
            self._lr_scales = (scales, 1.0)
        else:
            vector = np.repeat(np.array(scales, self.dtype), [layer.size for layer in self.layers])
            self._lr_scales = (scales, vector)
        return self._lr_scales[1]

    def parameters(self):
        """[(layer index, name, parameter, gradient, lr_scale)] for every trained array, in order."""
        return [
            (l, name, p, g, layer.lr_scale)
            for l, layer in enumerate(self.layers)
            for name, p, g in layer.params()
        ]

    def copy(self, dtype=None):
        """A new network with the same layers, loss and weights (cast to ``dtype`` if given)."""
        layers = [
            Dense(layer.n_in, layer.n_out, layer.activation, init=(layer.W, layer.b) if layer.bias else layer.W,
                  lr_scale=layer.lr_scale, bias=layer.bias)
            for layer in self.layers
        ]
        net = Network(layers, loss=self.loss, dtype=dtype or self.dtype, l2=self.l2)
        net.initial_weights = self.initial_weights
        return net

    # ---- training --------------------------------------------------------------------------

    def fit(self, X, y, **kwargs):
        """Train on (X, y); see ``chainrule.training.fit`` for the options. Returns a History."""
        from .training import fit

        return fit(self, X, y, **kwargs)

    # ---- persistence -----------------------------------------------------------------------

    def architecture(self):
        """The network's structure as JSON-ready data (no weights)."""
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "loss": self.loss.name,
            "l2": self.l2,
            "dtype": self.dtype.name,
            "layers": [
                {
                    "n_in": layer.n_in,
                    "n_out": layer.n_out,
                    "activation": layer.activation.config(),
                    "bias": layer.bias,
                    "lr_scale": layer.lr_scale,
                }
                for layer in self.layers
            ],
        }

    def save(self, path):
        """Write the network to one ``.npz`` file (architecture as JSON, weights as arrays), atomically."""
        write(path, self.architecture(), [(layer.W, layer.b) for layer in self.layers])

    # ---- pickling --------------------------------------------------------------------------

    def __reduce__(self):
        """Pickle (and joblib) rebuild the network from ``_state``: no optimizer state, no buffers."""
        for l, layer in enumerate(self.layers, start=1):
            _check_picklable(layer.activation, l)
        return _unpickle, (self._state(),)

    def __deepcopy__(self, memo):
        return _unpickle(copy.deepcopy(self._state(), memo))

    def _state(self):
        """What rebuilds the network: the architecture, the weights [(W, b or None)], the activations
        and the loss the registries would not rebuild from their names (as objects), the random
        generator's state, the seed and ``initial_weights``."""
        custom = {layer.activation.name: layer.activation for layer in self.layers if not layer.activation.registered}
        own_loss = LOSSES.get(self.loss.name) is not type(self.loss)
        return {"architecture": self.architecture(),
                "weights": [(layer.W, layer.b if layer.bias else None) for layer in self.layers],
                "activations": custom, "loss": self.loss if own_loss else None,
                "rng": self.rng.bit_generator.state, "seed": self.seed, "initial_weights": self.initial_weights}


def _check_picklable(act, l):
    """An ``Activation(name, f, df)`` of lambdas or local functions cannot be pickled (pickle stores a
    function by its importable name): say so, and how to make one that can."""
    for fn in (vars(act).get("f"), vars(act).get("df")):
        qualname = getattr(fn, "__qualname__", "")
        if "<lambda>" in qualname or "<locals>" in qualname:
            raise ValueError(
                f"layer {l}'s activation {act.name!r} cannot be pickled: its f or df is a lambda or a local "
                f"function ({qualname}); define f and df at the top level of a module, or make it a class "
                f"(a chainrule.Activation subclass with name, f(self, z), df(self, z)) registered with "
                f"chainrule.activations.register")


def _unpickle(state):
    """The network ``Network._state`` describes."""
    net = _build(state["architecture"], state["weights"], state["activations"], state["loss"])
    net.seed, net.initial_weights = state["seed"], state["initial_weights"]
    net.rng.bit_generator.state = state["rng"]
    return net


def load(path, activations=None):
    """Read a network written by ``Network.save``.

    A model with user-defined activations needs them again: ``activations={name: Activation(...)}``.
    """
    net = _build(*read(path), activations)
    net.initial_weights = False  # weights from a file: trained, or someone's own
    return net


def _build(arch, weights, activations=None, loss=None):
    """A network from an architecture (``Network.architecture``) and its weights [(W, b or None)];
    ``activations`` {name: Activation} and ``loss`` stand in for those the registries do not know."""
    layers = []
    for spec, (W, b) in zip(arch["layers"], weights):
        act = _activation_from_config(spec["activation"], activations or {})
        init = (W, b) if spec["bias"] else W
        layers.append(Dense(spec["n_in"], spec["n_out"], act, init=init, lr_scale=spec["lr_scale"], bias=spec["bias"]))
    return Network(layers, loss=loss or arch["loss"], dtype=arch["dtype"], l2=arch["l2"])


def _activation_from_config(config, custom):
    name = config["name"]
    if name in custom:
        act = custom[name]
        if not isinstance(act, Activation):
            raise ValueError(f"activations[{name!r}] must be a chainrule.Activation")
        return act
    if name in ACTIVATIONS and not config.get("custom"):
        params = {k: v for k, v in config.items() if k != "name"}
        return get_activation(name, **params)
    raise ValueError(
        f"the model uses the user-defined activation {name!r}; pass its definition: "
        f"chainrule.load(path, activations={{{name!r}: Activation({name!r}, f, df)}})"
    )
