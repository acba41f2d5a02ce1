"""The trace object: the engine's own numbers for one or more steps of gradient descent.

For each step,

    L = net.backward(X, Y)    every layer's z, a = f(z), δ = ∂L/∂z, ∂L/∂W = a_prevᵀ δ, ∂L/∂b = Σ_rows δ
                              (with l2: L adds λ/(2N)·Σ W², ∂L/∂W adds (λ/N)·W)
    SGD(η).step(net)          W ← W − η ∂L/∂W,   b ← b − η ∂L/∂b

and the trace keeps copies of what they left in the layers (the engine overwrites those buffers
on the next pass). Nothing here recomputes the forward or the backward pass.

The one exception is the hand-calculation mode (``hand=D``): it rounds every named quantity to
D decimals before using it, as a person with a calculator does, which the exact engine cannot;
so it has its own few lines of arithmetic (``_by_hand``), built from the engine's activation
and loss objects. Its numbers are deliberately not exact: comparing them with the exact trace
shows how far a textbook's rounded hand calculation drifts.
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ..layers import Dense
from ..network import Network
from ..normalization import BatchNorm
from ..residual import Residual
from ..optimizers import SGD, NonFiniteStep
from .check import check
from .derivation import Table, worked
from .render import FORMATS, render
from .spec import MAX_HAND, check_size, check_steps, read_spec, show

__all__ = ["Trace", "Step", "LayerStep", "trace"]


@dataclass
class LayerStep:
    """One layer in one step, in the engine's layout: W, dW, update_W, W_new are (n_in, n_out);
    z, a, delta are (N, n_out), one row per sample. Without bias, b, db, update_b, b_new are None.

    A batch-normalized layer also has the batch's ``mean`` and ``var`` of z (n_out,), ``xhat``,
    ``y`` = γ·x̂ + β (the activation's input) and ``dy`` = ∂L/∂y (N, n_out), and γ, β with their
    gradients, updates and new values; ``delta`` stays ∂L/∂z. A residual layer has ``grad_a`` =
    ∂L/∂a (N, n_out), what reaches a[l−1] through the skip. None where the layer is not so."""

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
    mean: np.ndarray = None
    var: np.ndarray = None
    xhat: np.ndarray = None
    y: np.ndarray = None
    dy: np.ndarray = None
    gamma: np.ndarray = None
    beta: np.ndarray = None
    dgamma: np.ndarray = None
    dbeta: np.ndarray = None
    update_gamma: np.ndarray = None
    update_beta: np.ndarray = None
    gamma_new: np.ndarray = None
    beta_new: np.ndarray = None
    grad_a: np.ndarray = None


@dataclass
class Step:
    """The loss L of one step (before its update) and its layers, first to last; ``penalty`` is
    the L2 term λ/(2N)·Σ W² inside L (0 without l2)."""

    loss: float
    layers: list
    penalty: float = 0.0

    @property
    def data_loss(self):
        """L without the penalty: the loss function's mean over the batch."""
        return self.loss - self.penalty


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
        for several; weight matrices are in the spec's layout; db, b_new are null without bias.
        With l2 (λ > 0) the document has "l2": λ, each step "data_loss" and "penalty" (L is their
        sum), and dW includes the penalty's (λ/N)·W."""
        spec = self.spec

        def loss(step):
            if not spec.l2:
                return {"loss": step.loss}
            return {"loss": step.loss, "data_loss": step.data_loss, "penalty": step.penalty}

        def per_sample(M):
            return (M[0] if spec.single else M).tolist()

        def vector(v):
            return None if v is None else v.tolist()

        def normalization(layer):
            """A batch-normalized layer's extra fields, a residual layer's ∂L/∂a."""
            extra = {}
            if layer.gamma is not None:
                extra = {"mean": vector(layer.mean), "var": vector(layer.var), "xhat": per_sample(layer.xhat),
                         "y": per_sample(layer.y), "dy": per_sample(layer.dy), "dgamma": vector(layer.dgamma),
                         "dbeta": vector(layer.dbeta), "gamma_new": vector(layer.gamma_new),
                         "beta_new": vector(layer.beta_new)}
            if layer.grad_a is not None:
                extra["grad_a"] = per_sample(layer.grad_a)
            return extra

        return ({"l2": spec.l2} if spec.l2 else {}) | {
            "steps": [
                loss(step) | {
                    "layers": [
                        {
                            "z": per_sample(layer.z),
                            "a": per_sample(layer.a),
                            "delta": per_sample(layer.delta),
                            "dW": spec.in_layout(layer.dW).tolist(),
                            "db": vector(layer.db),
                            "W_new": spec.in_layout(layer.W_new).tolist(),
                            "b_new": vector(layer.b_new),
                        } | normalization(layer)
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
    Returns a ``Trace``; a bad spec raises ValueError naming the key and what was expected, and so
    does one beyond the limits of ``chainrule.tracing.spec`` or whose numbers overflow float64.
    """
    spec = read_spec(spec)
    steps = spec.steps if steps is None else check_steps(steps, "steps")
    check_size(spec, steps)
    if hand is not None and (not isinstance(hand, numbers.Integral) or isinstance(hand, bool)
                             or not 0 <= hand <= MAX_HAND):
        raise ValueError(f"hand = {show(hand)} is not valid; expected the number of decimals (an integer from 0 to "
                         f"{MAX_HAND}; float64 holds about 16 digits) to round every intermediate to")
    if hand is not None and (spec.batch_norm or spec.residual):
        raise ValueError("hand covers networks of plain layers: a hand calculation of batch normalization or a "
                         "residual block is not written; trace this spec without hand")
    exact = Trace(spec, *_by_engine(spec, steps))
    if hand is None:
        return exact
    return Trace(spec, *_by_hand(spec, steps, int(hand)), hand=int(hand), exact=exact)


def _network(spec, weights, biases):
    """(the engine's Network for the spec with the given weights (engine layout) and biases, and for
    each layer of the spec its engine parts (Dense, BatchNorm or None, Residual or None)): a
    batch-normalized layer is Dense (linear) → BatchNorm(f), a residual one a Residual block of them."""
    layers, parts = [], []
    for l, (W, b, act) in enumerate(zip(weights, biases, spec.activations), start=1):
        normalized = l in spec.batch_norm
        dense = Dense(W.shape[0], W.shape[1], "linear" if normalized else act, init=W if b is None else (W, b),
                      bias=b is not None)
        bn = (BatchNorm(W.shape[1], act, eps=spec.eps, gamma=spec.gammas[l - 1], beta=spec.betas[l - 1])
              if normalized else None)
        branch = [dense] + ([bn] if bn else [])
        block = Residual(branch) if l in spec.residual else None
        layers += [block] if block else branch
        parts.append((dense, bn, block))
    return Network(layers, loss=spec.loss, l2=spec.l2), parts


def _parameters(parts):
    """Copies of every layer's (W, b, γ, β), b None without bias, γ and β None without batch
    normalization: the engine updates them in place."""
    return [(dense.W.copy(), dense.b.copy() if dense.bias else None,
             None if bn is None else bn.gamma.copy(), None if bn is None else bn.beta.copy())
            for dense, bn, _ in parts]


def _pass(parts):
    """Copies of what the last pass left in each layer, by LayerStep's field names: the engine's
    buffers, which the next pass overwrites."""
    kept = []
    for dense, bn, block in parts:
        out = bn or dense  # the layer whose activation gives the layer's f(…)
        fields = {"z": dense.Z, "delta": dense.delta, "dW": dense.dW, "db": dense.db if dense.bias else None,
                  "a": (block or out).A}
        if bn is not None:
            buf = bn.buffers
            fields.update(mean=buf.mean, var=buf.var, xhat=buf.xhat, y=bn.Z, dy=bn.delta, dgamma=bn.dgamma,
                          dbeta=bn.dbeta)
        if block is not None:
            fields["grad_a"] = block.delta
        kept.append({k: None if v is None else v.copy() for k, v in fields.items()})
    return kept


def _by_engine(spec, steps):
    """(steps, output after, loss after, fused) from the engine: Network.backward, then SGD.step.
    NumPy's overflow warnings are held back: a number that is not finite is a ValueError instead."""
    net, parts = _network(spec, spec.weights, spec.biases)
    sgd = SGD(lr=spec.learning_rate)
    X, Y = net.check_data(spec.X, spec.Y)
    record, eta = [], spec.learning_rate
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(steps):
            before = _parameters(parts)
            penalty = net.penalty(len(X))  # λ/(2N)·Σ W², the part of L that backward adds with l2
            loss = net.backward(X, Y)
            kept = _pass(parts)
            try:
                sgd.step(net)
            except NonFiniteStep as e:
                raise ValueError(f"step {len(record) + 1} overflows float64: {e}; a worked solution needs finite "
                                 "numbers: use a smaller learning rate, smaller weights or inputs, or fewer steps") from None
            # the update SGD applied, W_new − W = −η ∂L/∂W (W_new is the engine's own)
            layers = [_layer_step(old, new, fields, eta) for old, new, fields in zip(before, _parameters(parts), kept)]
            record.append(_finite(Step(loss, layers, penalty), len(record) + 1))
        output, after = net.forward(X), net.loss_value(X, Y)
    return record, _finite_after(output, after), after, net.fused


def _layer_step(old, new, fields, eta):
    """The LayerStep of one layer from its parameters before and after the step and its pass."""
    (W, b, gamma, beta), (W_new, b_new, gamma_new, beta_new) = old, new
    dW, db = fields["dW"], fields["db"]
    step = LayerStep(W, b, fields["z"], fields["a"], fields["delta"], dW, db, -(eta * dW),
                     None if db is None else -(eta * db), W_new, b_new, grad_a=fields.get("grad_a"))
    if gamma is not None:
        for name in ("mean", "var", "xhat", "y", "dy", "dgamma", "dbeta"):
            setattr(step, name, fields[name])
        step.gamma, step.beta, step.gamma_new, step.beta_new = gamma, beta, gamma_new, beta_new
        step.update_gamma, step.update_beta = -(eta * fields["dgamma"]), -(eta * fields["dbeta"])
    return step


def _finite(step, s):
    """``step`` if every number in it is finite; else ValueError naming the first that is not."""
    named = [("the loss", step.loss)] + [
        (f"{name}[{l}]", value) for l, layer in enumerate(step.layers, start=1)
        for name, value in vars(layer).items() if value is not None
    ]
    for name, value in named:
        if not np.all(np.isfinite(value)):
            raise ValueError(f"step {s} overflows float64: {name} holds {'inf' if np.any(np.isinf(value)) else 'nan'}"
                             "; a worked solution needs finite numbers: use a smaller learning rate, smaller "
                             "weights or inputs, or fewer steps")
    return step


def _finite_after(output, loss):
    """The output after the last step if it and the loss are finite; else ValueError."""
    if not (np.all(np.isfinite(output)) and math.isfinite(loss)):
        raise ValueError("the output after the last step overflows float64; a worked solution needs finite "
                         "numbers: use a smaller learning rate, smaller weights or inputs, or fewer steps")
    return output


def _by_hand(spec, steps, digits):
    """(steps, output after, loss after, fused) with every named quantity rounded to ``digits``
    decimals before it is used (NumPy's rounding, half to even): z, a, L (and with l2 its data
    part and the penalty), ∂L/∂a at the output, δ, δ Wᵀ, ∂L/∂W, ∂L/∂b, the updates and the new
    parameters.

    The engine cannot round between its operations, so this follows Network.backprop's recurrence
    step by step with the engine's own activation and loss objects; its numbers are deliberately
    not exact, and the worked solution reports how far they drift from the exact trace."""

    def r(v):
        with np.errstate(over="ignore", invalid="ignore"):  # 1e300 to 15 decimals overflows: a ValueError below
            return np.round(v, digits)

    params = [(r(W), None if b is None else r(b)) for W, b in zip(spec.weights, spec.biases)]
    X, Y, eta, N = r(spec.X), spec.Y, spec.learning_rate, len(spec.X)
    if not all(np.all(np.isfinite(v)) for v in [X, *(v for pair in params for v in pair if v is not None)]):
        raise ValueError(f"rounding the spec's numbers to {digits} decimals overflows float64 (NumPy multiplies "
                         f"them by 10^{digits}); use fewer decimals with hand, or smaller numbers")
    net, _ = _network(spec, *zip(*params))
    acts, loss, fused = [layer.activation for layer in net.layers], net.loss, net.fused

    def forward(params):
        Z, A, a = [], [], X
        for (W, b), act in zip(params, acts):
            z = r(a @ W if b is None else a @ W + b)  # z = a_prev W + b
            a = r(act.forward(z))  # a = f(z)
            Z.append(z)
            A.append(a)
        # L from the logits when fused, as the engine computes it; with l2, L = data loss + λ/(2N)·Σ W²
        data = float(r(loss.fused_value(Z[-1], Y) if fused else loss.value(A[-1], Y)))
        penalty = float(r(spec.l2 / (2 * N) * sum(np.vdot(W, W) for W, _ in params))) if spec.l2 else 0.0
        return Z, A, float(r(data + penalty)), penalty

    record = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(steps):
            Z, A, L, penalty = forward(params)
            layers = _hand_step(params, X, Z, A, _hand_deltas(params, Z, A, Y, acts, loss, fused, r),
                                eta, spec.l2 / N, r)
            record.append(_finite(Step(L, layers, penalty), len(record) + 1))
            params = [(layer.W_new, layer.b_new) for layer in layers]
        Z, A, L, _ = forward(params)
    return record, _finite_after(A[-1], L), L, fused


def _hand_deltas(params, Z, A, Y, acts, loss, fused, r):
    """δ of every layer, rounded: δ(L) = (ŷ − y)/N when fused, else ∂L/∂a ⊙ f′(z);
    δ(l) = (δ(l+1) W(l+1)ᵀ) ⊙ f′(z(l))."""
    if fused:
        deltas = [r(loss.fused_delta(A[-1], Y))]
    else:
        deltas = [r(acts[-1].backward(r(loss.grad(A[-1], Y)), Z[-1], A[-1]))]
    for l in range(len(params) - 1, 0, -1):
        g = r(deltas[0] @ params[l][0].T)
        deltas.insert(0, r(acts[l - 1].backward(g, Z[l - 1], A[l - 1])))
    return deltas


def _hand_step(params, X, Z, A, deltas, eta, decay, r):
    """Each layer's gradients, updates and new parameters, rounded; ``decay`` is λ/N (0 without l2)."""
    layers = []
    for (W, b), a_prev, z, a, delta in zip(params, [X] + A[:-1], Z, A, deltas):
        dW = r(a_prev.T @ delta + decay * W)  # ∂L/∂W = a_prevᵀ δ (+ (λ/N)·W with l2)
        db = update_b = b_new = None
        if b is not None:
            db = r(delta.sum(axis=0))  # ∂L/∂b = Σ_rows δ
            update_b = r(-eta * db)
            b_new = r(b + update_b)
        update_W = r(-eta * dW)
        layers.append(LayerStep(W, b, z, a, delta, dW, db, update_W, update_b, r(W + update_W), b_new))
    return layers
