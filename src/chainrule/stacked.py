"""Stacked training: K networks of one architecture trained together, every product one batched call.

A tiny network's step costs what calling NumPy costs, not arithmetic. K networks of the same shape can
share every call: network k's W(l) is ``W[l][k]`` of a (K, n_in, n_out) array, its activations are
``a[k]`` of a (K, m, n) array, and ``np.matmul`` multiplies all K pairs at once. The equations are
those of ``Network.backprop`` with a leading axis k:

    z[k] = a_prev[k] W[k] + b[k],   a[k] = f(z[k])
    δ(L)[k] = ∂L/∂z(L)[k],          δ(l−1)[k] = (δ(l)[k] W(l)[k]ᵀ) ⊙ f′(z(l−1)[k])
    ∂L/∂W(l)[k] = a(l−1)[k]ᵀ δ(l)[k],   ∂L/∂b(l)[k] = Σ_rows δ(l)[k]

Activations and losses are row-wise, so they run on the (K·m, n) view of the stack: its rows are the
m rows of network 0, then network 1's, … (a small first layer with a shared input orders them by row,
then network: ``_Buffers``). A loss that is a mean over rows divides by K·m there instead of m: the
output delta is multiplied back by K.

Each network keeps what makes it itself: its seed (its ``Network``'s initial weights, and the order
in which ``fit`` would shuffle its rows, drawn from the same generator), its L2 strength and its
optimizer's scalar hyperparameters (learning rate, momentum, clip_norm, …: a column (K, 1) that
broadcasts against the stack). ``fit_stacked`` trains ``Network``s given to it and leaves them
trained, as ``fit`` would have, one by one.
"""

import math
import time

import numpy as np

from . import memory
from ._constants import ONES
from .batches import batch_rows
from .layers import Dense
from .network import Network
from .optimizers import Adam, _first_nonfinite, get_optimizer
from .training import Diverged, History, _non_finite
from .validation import flag, integer

__all__ = ["Stack", "fit_stacked", "signature"]

DENSE_ONLY = "stacked training supports Dense layers; train this one with fit"
# The most multiply-adds of a first layer's product per network (m·n_in·n_out) that are done side by
# side (``_Buffers``): on so little work a BLAS call per network costs more than the work; on more,
# K calls of np.matmul beat the copies side by side and the strided rows they leave (measured: side
# by side trains 0.90–0.99× as fast at m = 64 from 2-16-1 to 64-256-10, 1.1–1.2× on XOR's 4 rows).
SIDE_BY_SIDE = 256


def signature(net):
    """What networks must share to be trained in one stack: layer sizes, activations, biases,
    lr_scales, loss and dtype (the weights, seed and L2 strength may differ)."""
    if not isinstance(net, Network) or not all(type(layer) is Dense for layer in net.layers):
        raise ValueError(DENSE_ONLY)
    layers = tuple((layer.n_in, layer.n_out, type(layer.activation), tuple(sorted(layer.activation.config().items())),
                    layer.bias, layer.lr_scale) for layer in net.layers)
    return layers, type(net.loss), net.loss.name, net.dtype


class _Buffers:
    """One layer's arrays for a batch of m rows of each of K networks: ``z``, ``a``, ``delta``,
    ``scratch`` and ``log_a`` (the last layer's, when the loss fuses) as (K, m, n) arrays, and as
    (rows, n) views (``z_rows``, …), which the row-wise activations and losses take. ``out`` is the
    array that holds the layer's a (``z`` itself for a linear layer), ``a_prev`` its input of the
    last pass.

    A small first layer (``SIDE_BY_SIDE``) whose input X (m, n_in) the K networks share (a full
    batch) keeps its arrays in (m, K, n) memory order instead, seen as (K, m, n) through a transposed
    view: there z and δ are the (m, K·n) products X [W[0] W[1] … W[K−1]] and Xᵀ [δ[0] … δ[K−1]] work
    in (``_product``), with ``W_side``, ``dW_side`` (n_in, K·n) and ``db_side`` (K·n) the weights and
    gradients side by side. Its rows are then ordered by row of X, then network; a row-wise function
    does not mind."""

    def __init__(self, K, m, n_in, n, dtype, activation, has_log, shared_input):
        shape = (m, K, n) if shared_input else (K, m, n)
        arrays = [np.empty(shape, dtype) for _ in range(4 + has_log)]
        views = [x.transpose(1, 0, 2) if shared_input else x for x in arrays]
        self.z, self.a, self.delta, self.scratch = views[:4]
        self.log_a = views[4] if has_log else None
        self.z_rows, self.a_rows, self.delta_rows, self.scratch_rows = (x.reshape(-1, n) for x in arrays[:4])
        self.log_rows = arrays[4].reshape(-1, n) if has_log else None
        # the activation's forward(z_rows, **forward_args): its output, and what else it takes
        self.forward_args = {"out": self.a_rows}
        if activation.has_log:
            self.forward_args["log_out"] = self.log_rows
        if activation.uses_scratch:
            self.forward_args["scratch"] = self.scratch_rows
        self.W_side = self.dW_side = None
        if shared_input:
            self.z_side, self.delta_side = arrays[0].reshape(m, K * n), arrays[2].reshape(m, K * n)
            self.W_side, self.dW_side = np.empty((n_in, K * n), dtype), np.empty((n_in, K * n), dtype)
            self.db_side = np.empty(K * n, dtype)
        self.a_prev = self.out = self.out_rows = None


class Stack:
    """K networks of one architecture as stacked arrays: θ (K, P), its gradient, and per layer the
    views W (K, n_in, n_out), b (K, 1, n_out), dW, db. Built from ``Network``s (copied in);
    ``write_back`` copies each row of θ into its network."""

    def __init__(self, nets):
        nets = list(nets)
        if not nets:
            raise ValueError("stacked training needs at least one network")
        first = signature(nets[0])
        if any(signature(net) != first for net in nets[1:]):
            raise ValueError("the networks of a stack must share one architecture (layer sizes, activations, "
                             "biases, lr_scales, loss and dtype); train different ones in separate stacks")
        if len({id(net) for net in nets}) != len(nets):
            raise ValueError("the same Network appears twice in the stack; pass each network once")
        self.nets, self.K, self.dtype = nets, len(nets), nets[0].dtype
        self.layers, self.loss, self.fused = nets[0].layers, nets[0].loss, nets[0].fused
        P = nets[0].theta.size
        memory.require(2 * self.K * P * self.dtype.itemsize, f"a stack of {self.K:,} networks of {P:,} parameters",
                       "train fewer networks at a time")
        self.theta = np.stack([net.theta for net in nets])
        self.grad = np.zeros_like(self.theta)
        self.l2 = np.array([net.l2 for net in nets], self.dtype).reshape(-1, 1, 1)  # λ per network
        self.has_l2 = bool(self.l2.any())
        self.W, self.b, self.dW, self.db = [], [], [], []
        offset = 0
        for layer in self.layers:  # each layer's W then b, as in the network's θ: views of the stack's rows
            k = layer.n_in * layer.n_out
            for params, store in ((self.theta, (self.W, self.b)), (self.grad, (self.dW, self.db))):
                store[0].append(params[:, offset : offset + k].reshape(self.K, layer.n_in, layer.n_out))
                store[1].append(params[:, offset + k : offset + layer.size].reshape(self.K, 1, layer.n_out))
            offset += layer.size
        self.WT = [W.transpose(0, 2, 1) for W in self.W]  # W[k]ᵀ, views
        self._buffers = {}

    def write_back(self):
        """Each network's θ ← its row of the stack."""
        for net, row in zip(self.nets, self.theta):
            net.theta[...] = row

    def buffers(self, m, shared_input):
        """The buffers of a batch of m rows per network (made on first use, then reused);
        ``shared_input``: whether the K networks share the batch's X (a full batch)."""
        bufs = self._buffers.get((m, shared_input))
        if bufs is None:
            # at most 5 arrays of (K, m, n) per layer, and the side-by-side weights of the first
            need = self.K * sum(5 * m * layer.n_out + 2 * layer.n_in * layer.n_out for layer in self.layers)
            memory.require(need * self.dtype.itemsize, f"the activations of {self.K:,} networks on batches of {m:,} "
                           "rows", "use smaller batches or train fewer networks at a time")
            last = len(self.layers) - 1
            bufs = self._buffers[m, shared_input] = [
                _Buffers(self.K, m, layer.n_in, layer.n_out, self.dtype, layer.activation,
                         has_log=l == last and self.fused and layer.activation.has_log,
                         shared_input=shared_input and l == 0 and last > 0
                         and m * layer.n_in * layer.n_out <= SIDE_BY_SIDE)
                for l, layer in enumerate(self.layers)]
        return bufs

    def propagate(self, X, bufs):
        """z[k] = a_prev[k] W[k] + b[k];  a[k] = f(z[k]) — layer after layer, for every network k.
        X is (m, n_in), shared by the K networks, or (K, m, n_in), a batch of its own for each."""
        a = X
        for layer, W, b, buf in zip(self.layers, self.W, self.b, bufs):
            buf.a_prev = a
            _product(a, W, buf)
            if layer.bias:
                buf.z += b
            z = buf.z_rows
            rows = layer.activation.forward(z, **buf.forward_args)
            if rows is z:  # a linear layer's a is z itself
                a, buf.out, buf.out_rows = buf.z, buf.z, z
            else:
                if rows is not buf.a_rows:  # an activation that answered in an array of its own
                    np.copyto(buf.a_rows, rows)
                a, buf.out, buf.out_rows = buf.a, buf.a, buf.a_rows
        return a

    def losses(self, Y, bufs):
        """L of each network, shape (K,), penalty included, for the pass in ``bufs`` against Y (K, m, n)."""
        out = bufs[-1]
        if self.fused:
            values = self.loss.stacked_fused_values(out.z, Y, out.log_a)
        else:
            values = self.loss.stacked_values(out.out, Y)
        # a sum is finite only when every term is; the loss's own value caps an overflowing sum: ask it
        if not math.isfinite(np.add.reduce(values)):
            for k in np.flatnonzero(~np.isfinite(values)):
                values[k] = (self.loss.fused_value(out.z[k], Y[k], out.log_a[k]) if self.fused
                             else self.loss.value(out.out[k], Y[k]))
        if self.has_l2:
            values += self.penalties(Y.shape[1])
        return values

    def penalties(self, m):
        """λ[k]/(2m) Σ_l ‖W(l)[k]‖² for each network k."""
        return self.l2[:, 0, 0] / (2 * m) * sum(np.einsum("kij,kij->k", W, W) for W in self.W)

    def backprop(self, X, Y, bufs):
        """One forward and backward pass of every network over its batch (X, Y): fills dW, db; returns
        each network's loss (K,)."""
        layers, K = self.layers, self.K
        self.propagate(X, bufs)
        losses = self.losses(Y, bufs)
        out, Y_rows = bufs[-1], Y.reshape(-1, Y.shape[-1])
        # δ(L)[k] = ∂L/∂z(L)[k]: the loss's delta on the K·m rows (a mean over K·m rows), times K
        if self.fused:
            delta = self.loss.fused_delta(out.out_rows, Y_rows, out=out.delta_rows)
        else:
            g = self.loss.grad(out.out_rows, Y_rows, out=out.delta_rows)
            delta = layers[-1].activation.backward(g, out.z_rows, out.out_rows, out=out.delta_rows,
                                                   scratch=out.scratch_rows)
        delta *= K
        if delta is not out.delta_rows:  # a loss or activation that answered in an array of its own
            np.copyto(out.delta_rows, delta)
        delta = out.delta
        for l in range(len(layers) - 1, 0, -1):
            prev = bufs[l - 1]
            self._gradients(l, bufs, delta)
            # g[k] = δ(l)[k] W(l)[k]ᵀ;  δ(l−1)[k] = g[k] ⊙ f′(z(l−1)[k])
            np.matmul(delta, self.WT[l], out=prev.delta)
            d = layers[l - 1].activation.backward(prev.delta_rows, prev.z_rows, prev.out_rows, out=prev.delta_rows,
                                                  scratch=prev.scratch_rows)
            if d is not prev.delta_rows:
                np.copyto(prev.delta_rows, d)
            delta = prev.delta
        self._gradients(0, bufs, delta)
        if self.has_l2:
            m = Y.shape[1]
            for W, dW in zip(self.W, self.dW):  # ∂/∂W [λ/(2m) ‖W‖²] = (λ/m) W, per network
                dW += W * (self.l2 / m)
        return losses

    def _gradients(self, l, bufs, delta):
        """∂L/∂W(l)[k] = a_prev[k]ᵀ δ[k];  ∂L/∂b(l)[k] = Σ_rows δ[k]."""
        buf = bufs[l]
        _transposed_product(buf.a_prev, delta, self.dW[l], buf)
        if not self.layers[l].bias:
            return
        if buf.W_side is None:
            np.einsum("kmn->kn", delta, out=self.db[l][:, 0])
        else:  # the rows of the side-by-side δ (m, K·n) summed as one product, 1ᵀ [δ[0] … δ[K−1]]
            np.dot(ONES[len(buf.delta_side), delta.dtype], buf.delta_side, out=buf.db_side)
            np.copyto(self.db[l][:, 0], buf.db_side.reshape(self.K, -1))


def _product(a, W, buf):
    """z[k] = a[k] W[k] for every network k, into ``buf.z``. A small product with an input X (m, n_in)
    that the K networks share is one BLAS product with their weights side by side, X [W[0] W[1] …
    W[K−1]], instead of K smaller ones (``_Buffers``)."""
    if buf.W_side is None:  # a (K, m, n_in), or an X (m, n_in) that np.matmul broadcasts
        return np.matmul(a, W, out=buf.z)
    K, n_in, n = W.shape
    np.copyto(buf.W_side.reshape(n_in, K, n), W.transpose(1, 0, 2))
    np.dot(a, buf.W_side, out=buf.z_side)
    return buf.z


def _transposed_product(a, delta, out, buf):
    """out[k] = a[k]ᵀ δ[k] for every network k; side by side (``_product``), one BLAS product
    Xᵀ [δ[0] δ[1] … δ[K−1]]."""
    if buf.W_side is None:
        return np.matmul(np.swapaxes(a, -1, -2), delta, out=out)
    K, n_in, n = out.shape
    np.dot(a.T, buf.delta_side, out=buf.dW_side)
    np.copyto(out, buf.dW_side.reshape(n_in, K, n).transpose(1, 0, 2))
    return out


class _Column(np.ndarray):
    """A per-network hyperparameter as a column (K, 1) that broadcasts against the stack's (K, P).
    It is true when any network's value is: an optimizer that asks ``if momentum:`` then takes its
    momentum path for all, which for a network with μ = 0 is exactly plain SGD (b = 0·b + g = g,
    s = η b = η g) and RMSprop without momentum."""

    def __bool__(self):
        return bool(np.asarray(self).any())


class _StackedOptimizer:
    """The networks' optimizers as one: their class's ``update`` equations on the stack's (K, P)
    gradient, each scalar hyperparameter that differs between them a ``_Column``. ``step`` is
    ``Optimizer.step`` per network: clipping by each network's own ‖g‖, and a step that would make a
    network's θ non-finite refused for that network alone."""

    def __init__(self, optimizers, K, dtype):
        optimizers = [get_optimizer(opt) for opt in optimizers]
        if len(optimizers) != K:
            raise ValueError(f"give one optimizer per network: {K} networks, {len(optimizers)} optimizers")
        first = optimizers[0]
        if any(type(opt) is not type(first) for opt in optimizers):
            raise ValueError("the networks of a stack must use one optimizer class; train others in separate stacks")
        self.opt = object.__new__(type(first))
        for name, value in vars(first).items():
            values = [vars(opt)[name] for opt in optimizers]
            if name == "state":
                continue
            if all(v == value for v in values):
                setattr(self.opt, name, value)
            elif isinstance(value, bool) or (isinstance(first, Adam) and name == "beta2"):
                raise ValueError(f"the optimizers of a stack differ in {type(first).__name__} {name}, which must be "
                                 "the same for all; train networks that differ in it in separate stacks")
            else:
                setattr(self.opt, name, np.array([math.inf if v is None else v for v in values], dtype)
                        .reshape(-1, 1).view(_Column))
        self.state = {"tmp": None}

    def step(self, stack, alive, lr_scales):
        """θ[k] ← θ[k] − s[k] for every live network k (``alive``, None when all are); returns None, or
        {k: a Diverged} for the networks whose step was refused."""
        opt, g, state = self.opt, stack.grad, self.state
        if state["tmp"] is None:
            state["tmp"] = np.empty_like(g)
        if opt.clip_norm is not None:
            g = self._clipped(g)
        s = opt.update(g, opt.lr * lr_scales, state)
        if alive is not None:
            s[~alive] = 0  # a network that diverged keeps its last finite θ
        if math.isfinite(np.vdot(s, s)):  # every |s| < √M: θ − s is finite (as Optimizer.step)
            stack.theta -= s
            return None
        new = stack.theta - s
        ok = np.isfinite(new).all(axis=1)
        stack.theta[ok] = new[ok]
        name = type(opt).__name__
        return {int(k): _non_finite(stack.grad[k], f"the {name} update made {_first_nonfinite(stack.nets[k], new[k])}")
                for k in np.flatnonzero(~ok)}

    def _clipped(self, g):
        """g[k] · c[k]/‖g[k]‖ where ‖g[k]‖ > c[k], else g[k]: each network clipped by its own global norm."""
        norms = np.sqrt(np.einsum("kp,kp->k", g, g))[:, None]
        with np.errstate(divide="ignore"):
            scale = np.where(norms > self.opt.clip_norm, self.opt.clip_norm / norms, 1.0)
        return np.multiply(g, scale, out=self.state.setdefault("clipped", np.empty_like(g)))


def _batches(X, Y, Y_stacked, k, orders):
    """The batches (X_b, Y_b) of one epoch for the whole stack: for a full batch X (n, n_in), shared,
    and Y_stacked (K, n, n_out); else network k's rows ``orders[k]`` (its shuffle, or 0 … n−1),
    gathered into X_b (K, m, n_in) and Y_b (K, m, n_out)."""
    if orders is None:
        yield X, Y_stacked
        return
    for start in range(0, len(X), k):
        rows = orders[:, start : start + k]
        yield X[rows], Y[rows]


def fit_stacked(nets, X, y, optimizers, epochs=100, batch_size=None, shuffle=True):
    """Train the ``Network``s ``nets`` (one architecture: ``signature``) on (X, y) together, each as
    ``fit(net, X, y, optimizer=optimizers[k], epochs=…, batch_size=…, shuffle=…, diagnostics=False)``
    would; returns their Historys (``loss`` every epoch; ``accuracy`` and ``grad_norms`` are not taken:
    None). The networks are left trained (``initial_weights`` False once a step was taken, as ``fit``
    leaves it). A network whose loss or step becomes non-finite stops, as with ``fit``, keeping its last
    finite weights; the others go on. The optimizers' state (momentum, Adam's moments and step count)
    lives in the stack's own optimizer and is not written back: ``optimizers[k]`` is left as it was
    given, and a later ``fit`` with it starts that state afresh."""
    stack = Stack(nets)
    epochs, shuffle = integer("epochs", epochs, low=1), flag("shuffle", shuffle)
    X, Y = nets[0].check_data(X, y)
    n, K = len(X), stack.K
    k = batch_rows(batch_size, n)
    optimizer = _StackedOptimizer(optimizers, K, stack.dtype)
    lr_scales = nets[0].lr_scales()
    Y_stacked = np.repeat(Y[None], K, axis=0) if k >= n else None  # a full batch's targets, once per network
    identity = None if k >= n else np.broadcast_to(np.arange(n), (K, n))
    losses = []  # a row of the K networks' losses per epoch run (NaN for a stopped one), as fit appends its own
    times, alive, stopped, stepped, all_stepped = [], np.ones(K, bool), {}, np.zeros(K, bool), False
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            orders = np.stack([net.rng.permutation(n) for net in nets]) if shuffle and k < n else identity
            total = np.zeros(K)  # Σ over the epoch's batches of loss × rows, in float64 as fit sums them
            for Xb, Yb in _batches(X, Y, Y_stacked, k, orders):
                m = Yb.shape[1]
                loss = stack.backprop(Xb, Yb, stack.buffers(m, Xb.ndim == 2))
                if not math.isfinite(np.add.reduce(loss)):  # a sum is finite only when every term is
                    for j in np.flatnonzero(alive & ~np.isfinite(loss)):
                        stopped[int(j)] = Diverged("loss", f"the loss became non-finite ({loss[j]})")
                    alive[list(stopped)] = False
                total += loss * m
                refused = optimizer.step(stack, alive if stopped else None, lr_scales)
                if refused:
                    stopped.update({j: e for j, e in refused.items() if alive[j]})
                    alive[list(stopped)] = False
                if not all_stepped:  # the networks whose step was taken (not refused, not stopped before it)
                    stepped |= alive
                    all_stepped = bool(stepped.all())
            for j, e in stopped.items():
                if e.epoch is None:
                    e.epoch = epoch
            losses.append(np.where(alive, total / n, np.nan) if stopped else total / n)
            times.append(time.perf_counter() - t0)
            if stopped and not alive.any():
                break
    stack.write_back()
    for net, trained in zip(nets, stepped):
        if trained:  # as fit: the diagnostics judge the scale of initial weights only
            net.initial_weights = False
    losses = np.stack(losses)
    return [_history(nets[j], losses[:, j], times, stopped.get(j)) for j in range(K)]


def _history(net, losses, times, diverged):
    """A History as ``fit`` leaves it (diagnostics off), from network j's column of epoch losses."""
    history = History()
    epochs = len(times) if diverged is None else diverged.epoch - 1
    history.loss = losses[:epochs].tolist()
    history.time = list(times[:epochs])
    history.grad_norms = [None] * epochs
    if net.loss.classification:
        history.accuracy = [None] * epochs
    if diverged is not None:
        history.stop_reason, history.diverged = diverged.reason(), True
    return history
