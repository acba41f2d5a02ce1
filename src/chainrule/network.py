"""Network: a sequence of layers (Dense, BatchNorm, Residual blocks), a loss, and the backward pass
as the delta recurrence."""

import copy

import numpy as np

from .activations import ACTIVATIONS, Activation, get_activation
from . import memory, validation
from .layers import Dense, Layer, backward_through, label, numbered, walk
from .losses import LOSSES, get_loss
from .modelfile import FORMAT, FORMAT_VERSION, MEMBER as _MEMBER, read, write
from .normalization import BatchNorm
from .residual import Residual

__all__ = ["LAYER_KINDS", "Network", "Workspace", "load", "mlp_layers"]

# the layer kinds a model file names, by their ``kind``
LAYER_KINDS = {kind.kind: kind for kind in (Dense, BatchNorm, Residual)}


def mlp_layers(sizes, activation, output="linear", batch_norm=False, residual=False):
    """The layers of a multilayer perceptron of ``sizes`` [n_in, hidden…, n_out]: hidden layers of
    ``activation``, an ``output`` layer. ``batch_norm``: each hidden layer is Dense (linear, no
    bias: β takes its place) then BatchNorm(f), normalizing z before f. ``residual``: each hidden
    layer after the first is a block a + F(a), F that layer (with a projection when the width
    changes); the first hidden layer stays plain, since the input's width and scale are the data's."""
    layers = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-2], sizes[1:-1])):
        hidden = ([Dense(n_in, n_out, bias=False), BatchNorm(n_out, activation)] if batch_norm
                  else [Dense(n_in, n_out, activation)])
        layers += [Residual(hidden)] if residual and l > 0 else hidden
    return layers + [Dense(sizes[-2], sizes[-1], output)]


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
        self.layers[0].release()

class Network:
    """A feed-forward network ``layers[0] → … → layers[-1]`` trained on ``loss``: each layer a
    ``Dense``, a ``BatchNorm`` or a ``Residual`` block (of such layers).

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
        if not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise ValueError("Network needs a non-empty list of layers (chainrule.Dense, BatchNorm, Residual)")
        for l, (prev, nxt) in enumerate(zip(layers, layers[1:]), start=1):
            if prev.n_out != nxt.n_in:
                raise ValueError(
                    f"layer {l} has {prev.n_out} outputs but layer {l + 1} expects {nxt.n_in} inputs; "
                    f"make layer {l + 1}'s n_in equal {prev.n_out}"
                )
        every = list(walk(layers))
        if len({id(layer) for layer in every}) != len(every):
            raise ValueError("the same layer object appears twice in layers; create one layer object per layer")
        self.dtype = validation.dtype(dtype)
        self.l2 = validation.number("l2", l2, low=0)
        self.seed = validation.seed(seed)
        self.layers = layers
        self.loss = get_loss(loss)
        self.rng = np.random.default_rng(self.seed)
        size = sum(layer.size for layer in layers)
        # θ and its gradient, and the largest layer's W as its initializer draws it (float64)
        largest = max((layer.n_in * layer.n_out for layer in every if layer.weight_matrix), default=0)
        memory.require(2 * size * self.dtype.itemsize + 8 * largest,
                       f"a network of {size:,} parameters", "use fewer or smaller layers")
        # every parameter lives in one vector θ, every gradient in one vector ∂L/∂θ: the layers'
        # W, b, dW, db (γ, β, …) are views into them, so an optimizer updates all of them at once;
        # the running statistics (BatchNorm's), which no gradient trains, in a vector of their own
        self.theta = np.empty(size, self.dtype)
        self.grad = np.zeros_like(self.theta)
        self.running = np.zeros(sum(layer.running_size for layer in layers), self.dtype)
        offset = ran = 0
        for layer in layers:
            part, stats = slice(offset, offset + layer.size), slice(ran, ran + layer.running_size)
            layer.build(self.rng, self.theta[part], self.grad[part], self.running[stats])
            offset, ran = offset + layer.size, ran + layer.running_size
        self.initial_weights = True  # drawn by the initializers, not trained since (diagnostics' init_scale)
        # the layers whose weights the L2 penalty decays (the Dense ones, inside blocks too)
        self.decayed = [layer for layer in every if layer.weight_matrix]
        self._every = every
        self.min_rows = max(layer.min_rows for layer in every)  # the fewest rows a training batch may have
        self._workspaces = {}  # batch size m → the Workspace training reuses
        self._l2_buffers = None
        self._lr_scales = (None, None)  # (the layers' lr_scale values, θ's per-entry factors)

    def __repr__(self):
        if not all(isinstance(layer, Dense) for layer in self.layers):
            return f"Network([{', '.join(repr(layer) for layer in self.layers)}], loss={self.loss.name!r})"
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
    # The mode is passed explicitly, as ``training``: True normalizes a BatchNorm's input by the
    # batch's statistics and updates its running ones (fit, backward); False uses the running ones
    # and changes nothing (forward, predict, loss_value, validation). Dense layers ignore it.

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

    def propagate(self, X, ws, training=False):
        """a(L) for a checked batch X: z = a_prev W + b, a = f(z) (a BatchNorm's z = γ x̂ + β, a
        block's z = a_prev + F(a_prev)), layer after layer, into ``ws``."""
        a = X
        for layer, buf in zip(self.layers, ws.layers):
            a = layer.forward(a, buf, training)
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
        return self.l2 / (2 * m) * sum(float(np.vdot(layer.W, layer.W)) for layer in self.decayed)

    def backprop(self, X, Y, ws, w=None, training=True):
        """One forward and backward pass over a checked batch (X, Y) in ``ws``, its rows weighted by
        ``w`` (as ``check_weights`` returns it) when given: fills every layer's dW, db (γ, β, …) (and
        δ); returns the loss L, penalty included. ``backward`` and ``fit`` both step through here, in
        training mode."""
        layers, bufs = self.layers, ws.layers
        self.propagate(X, ws, training)
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
        # for l = L … 2: ∂L/∂W(l) = a(l−1)ᵀ δ(l), ∂L/∂b(l) = Σ_rows δ(l) (each layer its own rule),
        # then δ(l−1) = (δ(l) W(l)ᵀ) ⊙ f′(z(l−1)); no δ Wᵀ for the first layer: nothing needs ∂L/∂X
        backward_through(layers, bufs, delta)
        if self.l2:
            # ∂/∂W [λ/(2m) ‖W‖²] = (λ/m) W
            for layer, tmp in zip(self.decayed, self._penalty_grad()):
                np.multiply(layer.W, self.l2 / m, out=tmp)
                layer.dW += tmp
        return loss

    def _penalty_grad(self):
        """One array per layer, the shape of its W, for (λ/m) W."""
        if self._l2_buffers is None:
            self._l2_buffers = [np.empty_like(layer.W) for layer in self.decayed]
        return self._l2_buffers

    # Overflow on finite data (huge weights or inputs) gives inf, which these report as values; the
    # benign ones (e^−∞ = 0 in a softmax of ±1e308) must not print warnings.

    def forward(self, X):
        """The network's output a(L) for a batch X of shape (n_samples, n_in), a new array
        (evaluation mode: a BatchNorm uses its running statistics)."""
        X = self.check_X(X)
        with np.errstate(over="ignore", invalid="ignore"):
            return self.propagate(X, self.new_workspace(len(X)))

    def backward(self, X, y, sample_weight=None):
        """Forward, then backward, in training mode as a step of ``fit`` (a BatchNorm normalizes by
        the batch and updates its running statistics): fill every layer's dW, db (γ, β, …) and δ;
        return the loss value. With ``sample_weight`` (n weights ≥ 0), L = Σ_n w_n ℓ_n / Σ_n w_n."""
        X, Y = self.check_data(X, y)
        self.check_rows(len(X))
        w = self.check_weights(sample_weight, len(X))
        with np.errstate(over="ignore", invalid="ignore"):
            return self.backprop(X, Y, self.new_workspace(len(X)), w)

    def check_rows(self, m, what="a batch"):
        """ValueError when a training batch of m rows is too small for a layer (a BatchNorm needs 2)."""
        if m < self.min_rows:
            raise ValueError(f"{what} of {m} row(s) is too small for training: the network's BatchNorm layers "
                             f"need at least {self.min_rows} rows a batch (one row has no variance); choose a "
                             f"batch size that leaves no batch of fewer rows (fit's batch_size, the command line's "
                             f"--batch-size; full: every row in one batch)")

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
        scales = tuple([layer.lr_scale for layer in self._every])
        if scales == self._lr_scales[0]:
            return self._lr_scales[1]
        if all(s == 1.0 for s in scales):
            self._lr_scales = (scales, 1.0)
        else:
            runs = list(_scale_runs(self.layers))
            vector = np.repeat(np.array([r for r, _ in runs], self.dtype), [n for _, n in runs])
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
        """A new network with the same layers, loss, weights and running statistics (cast to ``dtype``
        if given)."""
        net = Network([layer.copy() for layer in self.layers], loss=self.loss, dtype=dtype or self.dtype, l2=self.l2)
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
            "layers": [layer.config() for layer in self.layers],
            "arrays": {name: list(value.shape) for name, value in self.arrays().items()},
        }

    def arrays(self):
        """{name: array} of everything a model file stores: each layer's ``arrays()`` (W, b; γ, β and
        the running statistics; a block's), named as a person reads them: W1, gamma2, W3.1."""
        return {label(name, l): value for l, layer in enumerate(self.layers, start=1)
                for name, value in layer.arrays().items()}

    def save(self, path):
        """Write the network to one ``.npz`` file (architecture as JSON, weights and running statistics
        as arrays), atomically."""
        write(path, self.architecture(), self.arrays())

    # ---- pickling --------------------------------------------------------------------------

    def __reduce__(self):
        """Pickle (and joblib) rebuild the network from ``_state``: no optimizer state, no buffers."""
        for l, layer in numbered(self.layers):
            _check_picklable(layer.activation, l)
        return _unpickle, (self._state(),)

    def __deepcopy__(self, memo):
        return _unpickle(copy.deepcopy(self._state(), memo))

    def _state(self):
        """What rebuilds the network: the architecture, the arrays (``arrays``: weights and running
        statistics), the activations and the loss the registries would not rebuild from their names
        (as objects), the random generator's state, the seed and ``initial_weights``."""
        custom = {layer.activation.name: layer.activation for layer in self._every if not layer.activation.registered}
        own_loss = LOSSES.get(self.loss.name) is not type(self.loss)
        return {"architecture": self.architecture(), "arrays": self.arrays(),
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
    net = _build(state["architecture"], state["arrays"], state["activations"], state["loss"])
    net.seed, net.initial_weights = state["seed"], state["initial_weights"]
    net.rng.bit_generator.state = state["rng"]
    return net


def load(path, activations=None):
    """Read a network written by ``Network.save`` (today's or a version 1 file of Dense layers).

    A model with user-defined activations needs them again: ``activations={name: Activation(...)}``.
    """
    net = _build(*read(path), activations, source=repr(path))
    net.initial_weights = False  # weights from a file: trained, or someone's own
    return net


def _build(arch, arrays, activations=None, loss=None, source="the model"):
    """A network from an architecture (``Network.architecture``) and its arrays ({member name: array},
    as ``Network.arrays`` names them); ``activations`` {name: Activation} and ``loss`` stand in for
    those the registries do not know. ``source`` names the model in messages."""
    by_layer = {}  # layer l → {name: array}: W1 → (1, "W"), W3.1 → (3, "W.1")
    for member, value in arrays.items():
        base, l, rest = _MEMBER.fullmatch(member).groups()
        by_layer.setdefault(int(l), {})[base + rest] = value

    def make_layer(spec, layer_arrays, where):
        kind = LAYER_KINDS.get(spec.get("kind", "dense"))
        if kind is None:
            raise ValueError(f"{source}: {where} is of the unknown kind {spec['kind']!r:.40}; this chainrule knows "
                             f"{', '.join(LAYER_KINDS)}")
        act = _activation_from_config(spec["activation"], activations or {})
        try:
            return kind.from_config(spec, layer_arrays, act,
                                    lambda inner, inner_arrays, i: make_layer(inner, inner_arrays, f"{where}.{i}"))
        except (KeyError, TypeError) as e:
            raise ValueError(f"{source} is not a readable chainrule model file: {where} lacks or mistypes "
                             f"{e.args[0] if isinstance(e, KeyError) else 'a field'!r}; save the network again") from None

    layers = [make_layer(spec, by_layer.get(l, {}), f"layer {l}") for l, spec in enumerate(arch["layers"], start=1)]
    return Network(layers, loss=loss or arch["loss"], dtype=arch["dtype"], l2=arch["l2"])


def _scale_runs(layers, factor=1.0):
    """(learning-rate factor, number of θ entries) of each layer without sublayers, in θ's order: a
    block's lr_scale multiplies its layers' own."""
    for layer in layers:
        sub = layer.sublayers()
        if sub:
            yield from _scale_runs(sub, factor * layer.lr_scale)
        else:
            yield factor * layer.lr_scale, layer.size


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
