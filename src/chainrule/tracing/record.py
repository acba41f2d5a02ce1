"""The trace object: the engine's own numbers for one or more steps of gradient descent.

For each step,

    L = net.backward(X, Y)    every layer's z, a = f(z), δ = ∂L/∂z, ∂L/∂W = a_prevᵀ δ, ∂L/∂b = Σ_rows δ
    SGD(η).step(net)          W ← W − η ∂L/∂W,   b ← b − η ∂L/∂b

and the trace keeps copies of what they left in the layers (the engine overwrites those buffers
on the next pass). Nothing here recomputes the forward or the backward pass.

The one exception is the hand-calculation mode (``hand=D``): it rounds every named quantity to
D decimals before using it, as a person with a calculator does, which the exact engine cannot;
so it has its own few lines of arithmetic (``_by_hand``), built from the engine's activation
and loss objects. Its numbers are deliberately not exact: comparing them with the exact trace
shows how far a textbook's rounded hand calculation drifts.
"""

from dataclasses import dataclass

import numpy as np

from ..layers import Dense
from ..network import Network
from ..optimizers import SGD
from .check import check
from .derivation import Table, worked
from .render import FORMATS, render
from .spec import check_steps, read_spec

__all__ = ["Trace", "Step", "LayerStep", "trace"]


@dataclass
class LayerStep:
    """One layer in one step, in the engine's layout: W, dW, update_W, W_new are (n_in, n_out);
    z, a, delta are (N, n_out), one row per sample. Without bias, b, db, update_b, b_new are None."""

    W: np.ndarray
    b: np.ndarray
    z: np.ndarray
    a: np.ndarray
    delta: np.ndarray
    dW: np.ndarray
    db: np.ndarray
    update_W: np.ndarray
    update_b: np.ndarray
    W_new: np.ndarray
    b_new: np.ndarray


@dataclass
class Step:
    """The loss L of one step (before its update) and its layers, first to last."""

    loss: float
    layers: list


class Trace:
    """Every number of ``steps`` gradient-descent steps of a spec's network, with the worked solution.

    ``steps``: a list of ``Step``. ``after_output``, ``after_loss``: the network's output (N, n_out)
    and loss with the final weights. ``fused``: the engine computed the output delta as (a − t)/N
    from the logits (sigmoid + bce, softmax + cross_entropy). ``hand``: the decimals of a hand
    calculation, or None (exact); then ``exact`` is the exact trace it drifts from.
    """

    def __init__(self, spec, steps, after_output, after_loss, fused, hand=None, exact=None):
        self.spec, self.steps = spec, steps
        self.after_output, self.after_loss = after_output, after_loss
        self.fused, self.hand, self.exact = fused, hand, exact

    def __repr__(self):
        kind = f"hand, {self.hand} decimals" if self.hand is not None else "exact"
        return f"Trace({self.spec.name or 'spec'}, {len(self.steps)} step(s), {kind})"

    def as_dict(self):
        """JSON-ready: {"steps": [{"loss": L, "layers": [{"z", "a", "delta", "dW", "db", "W_new",
        "b_new"}, …]}, …]}. z, a, delta are vectors for one sample, matrices (a row per sample)
        for several; weight matrices are in the spec's layout; db, b_new are null without bias."""
        spec = self.spec

        def per_sample(M):
            return (M[0] if spec.single else M).tolist()

        def vector(v):
            return None if v is None else v.tolist()

        return {
            "steps": [
                {
                    "loss": step.loss,
                    "layers": [
                        {
                            "z": per_sample(layer.z),
                            "a": per_sample(layer.a),
                            "delta": per_sample(layer.delta),
                            "dW": spec.in_layout(layer.dW).tolist(),
                            "db": vector(layer.db),
                            "W_new": spec.in_layout(layer.W_new).tolist(),
                            "b_new": vector(layer.b_new),
                        }
                        for layer in step.layers
                    ],
                }
                for step in self.steps
            ]
        }

    def worked(self):
        """The worked solution as blocks (headings, tables of lines, notes); see ``derivation``."""
        return worked(self)

    def values(self):
        """{name: value} for every named quantity, e.g. {"z[1][1]": 0.21, …, "step2.loss": …}."""
        return {line.key: line.value for block in self.worked() if isinstance(block, Table) for line in block.lines}

    def render(self, format="text", decimals=None):
        """The worked solution as text (a terminal's tables), markdown, latex (a whole document)
        or json (full precision). ``decimals`` rounds what is shown, never what is computed;
        default: 6 significant digits."""
        if format not in FORMATS:
            raise ValueError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
        return render(self, format, decimals)

    def check(self, answers):
        """A learner's answers (a mapping, or the path of a TOML/JSON file) against this trace;
        returns a ``CheckReport``. See ``chainrule.tracing.check``."""
        return check(self, answers)


def trace(spec, steps=None, hand=None):
    """Trace ``steps`` (default: the spec's ``train.steps``) steps of gradient descent on a spec.

    ``spec``: the path of a TOML (or .json) file, or the same content as a dict. ``hand=D`` rounds
    every intermediate to D decimals before it is used (a hand calculation, not exact).
    Returns a ``Trace``; a bad spec raises ValueError naming the key and what was expected.
    """
    spec = read_spec(spec)
    steps = spec.steps if steps is None else check_steps(steps, "steps")
    exact = Trace(spec, *_by_engine(spec, steps))
    if hand is None:
        return exact
    if not isinstance(hand, int) or isinstance(hand, bool) or hand < 0:
        raise ValueError(f"hand = {hand!r} is not valid; expected the number of decimals (an integer ≥ 0) "
                         "to round every intermediate to")
    return Trace(spec, *_by_hand(spec, steps, hand), hand=hand, exact=exact)


def _network(spec, weights, biases):
    """The engine's Network for the spec, with the given weights (engine layout) and biases."""
    layers = [
        Dense(W.shape[0], W.shape[1], act, init=W if b is None else (W, b), bias=b is not None)
        for W, b, act in zip(weights, biases, spec.activations)
    ]
    return Network(layers, loss=spec.loss)


def _parameters(net):
    """Copies of every layer's (W, b), b None without bias: the engine updates them in place."""
    return [(layer.W.copy(), layer.b.copy() if layer.bias else None) for layer in net.layers]


def _by_engine(spec, steps):
    """(steps, output after, loss after, fused) from the engine: Network.backward, then SGD.step."""
    net = _network(spec, spec.weights, spec.biases)
    sgd = SGD(lr=spec.learning_rate)
    X, Y = net.check_data(spec.X, spec.Y)
    record = []
    for _ in range(steps):
        before = _parameters(net)
        loss = net.backward(X, Y)
        # the layers' Z, A, delta, dW, db are buffers the next pass overwrites: keep copies
        grads = [(layer.Z.copy(), layer.A.copy(), layer.delta.copy(), layer.dW.copy(),
                  layer.db.copy() if layer.bias else None) for layer in net.layers]
        sgd.step(net)
        after = _parameters(net)
        eta = spec.learning_rate
        record.append(Step(loss, [
            # the update SGD applied, W_new − W = −η ∂L/∂W (W_new is the engine's own)
            LayerStep(W, b, z, a, delta, dW, db, -(eta * dW), None if db is None else -(eta * db), W_new, b_new)
            for (W, b), (z, a, delta, dW, db), (W_new, b_new) in zip(before, grads, after)
        ]))
    return record, net.forward(X), net.loss_value(X, Y), net.fused


def _by_hand(spec, steps, digits):
    """(steps, output after, loss after, fused) with every named quantity rounded to ``digits``
    decimals before it is used (NumPy's rounding, half to even): z, a, L, ∂L/∂a at the output, δ,
    δ Wᵀ, ∂L/∂W, ∂L/∂b, the updates and the new parameters.

    The engine cannot round between its operations, so this follows Network.backprop's recurrence
    step by step with the engine's own activation and loss objects; its numbers are deliberately
    not exact, and the worked solution reports how far they drift from the exact trace."""

    def r(v):
        return np.round(v, digits)

    params = [(r(W), None if b is None else r(b)) for W, b in zip(spec.weights, spec.biases)]
    net = _network(spec, *zip(*params))
    acts, loss, fused = [layer.activation for layer in net.layers], net.loss, net.fused
    X, Y, eta = r(spec.X), spec.Y, spec.learning_rate

    def forward(params):
        Z, A, a = [], [], X
        for (W, b), act in zip(params, acts):
            z = r(a @ W if b is None else a @ W + b)  # z = a_prev W + b
            a = r(act.forward(z))  # a = f(z)
            Z.append(z)
            A.append(a)
        # L from the logits when fused, as the engine computes it
        return Z, A, float(r(loss.fused_value(Z[-1], Y) if fused else loss.value(A[-1], Y)))

    record = []
    for _ in range(steps):
        Z, A, L = forward(params)
        # δ(L) = (ŷ − y)/N when fused, else ∂L/∂a ⊙ f′(z);  δ(l) = (δ(l+1) W(l+1)ᵀ) ⊙ f′(z(l))
        if fused:
            deltas = [r(loss.fused_delta(A[-1], Y))]
        else:
            deltas = [r(acts[-1].backward(r(loss.grad(A[-1], Y)), Z[-1], A[-1]))]
        for l in range(len(params) - 1, 0, -1):
            g = r(deltas[0] @ params[l][0].T)
            deltas.insert(0, r(acts[l - 1].backward(g, Z[l - 1], A[l - 1])))
        layers = []
        for (W, b), a_prev, z, a, delta in zip(params, [X] + A[:-1], Z, A, deltas):
            dW = r(a_prev.T @ delta)  # ∂L/∂W = a_prevᵀ δ
            db = update_b = b_new = None
            if b is not None:
                db = r(delta.sum(axis=0))  # ∂L/∂b = Σ_rows δ
                update_b = r(-eta * db)
                b_new = r(b + update_b)
            update_W = r(-eta * dW)
            layers.append(LayerStep(W, b, z, a, delta, dW, db, update_W, update_b, r(W + update_W), b_new))
        record.append(Step(L, layers))
        params = [(layer.W_new, layer.b_new) for layer in layers]
    Z, A, L = forward(params)
    return record, A[-1], L, fused
