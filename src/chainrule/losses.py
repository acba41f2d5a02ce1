"""Loss functions L(ŷ, y), their gradient ∂L/∂ŷ and, where one exists, the fused output delta.

Every loss is a mean (PyTorch's default reduction), and the 1/N of that mean is applied
here, once: the gradients and deltas returned already contain it, so the layers'
∂L/∂W = a_prevᵀ δ and ∂L/∂b = Σ_rows δ are plain sums over the batch.

With per-row weights ``w`` (``sample_weight``) the mean over rows is a weighted one,
L = Σ_n w_n ℓ_n / Σ_n w_n with ℓ_n row n's term, and the 1/N of each gradient and delta becomes
w_n/Σw: a row of weight 2 counts as that row twice (in the loss; a BatchNorm's batch mean and
variance count every row once). Every method that computes L or its gradient
takes ``w=None``; without it the code is the unweighted one, unchanged.

For a sigmoid output with ``bce`` and a softmax output with ``cross_entropy`` the
output delta simplifies to δ = (ŷ − y)/N (the chain rule through σ′ = ŷ(1 − ŷ), or through the
softmax Jacobian, cancels the loss's denominator), with ŷ the output layer's stable σ(z) or
softmax(z); the loss itself is computed from the logits z, so that a saturated output gives no
log(0) and no NaN.

Everything the library knows about one loss lives on its class: value, gradient, the fused
pairing, target checks, accuracy, the loss of an output that knows nothing, how the trace
writes it. ``grad`` and ``fused_delta`` take an optional ``out`` buffer, so that training reuses
memory instead of allocating.
"""

import inspect
import math

import numpy as np

from . import memory
from ._constants import CONST
from .activations import Sigmoid, Softmax
from .registry import registrar
from .validation import numeric_array

_softmax = Softmax().forward

__all__ = ["Loss", "LOSSES", "get_loss", "register"]

LOSSES = {}


def _softplus(z):
    """log(1 + e^z) = logaddexp(0, z), stable for any z."""
    return np.logaddexp(CONST[0, z.dtype], z)


def _mean(x):
    """The mean of every entry (np.mean without its Python-level overhead)."""
    return float(np.add.reduce(x, axis=None)) / x.size


def _weighted_sum(x, w):
    """Σ_n (w_n/Σw) Σ_k x_nk: each row's sum over the outputs, averaged over the rows with weights w."""
    return float(np.dot(w, np.add.reduce(x, axis=1))) / float(np.add.reduce(w))


def _shares(w, k):
    """The column (w_n/(Σw·k)): in a gradient or delta it takes the place of 1/(N·k), so that the
    mean over rows it stands for is weighted by w."""
    return (w / (np.add.reduce(w) * k))[:, None]


def _fraction(hits, w=None):
    """The fraction of True entries; with row weights w, each row's fraction weighted by w."""
    if w is None:
        return np.count_nonzero(hits) / hits.size
    return float(np.dot(w, hits.reshape(len(w), -1).mean(axis=1))) / float(np.add.reduce(w))


def _log_softmax(z):
    """log softmax(z), row by row, without overflow: what the softmax's forward pass leaves in log_out."""
    log_p = np.empty_like(z)
    _softmax(z, log_out=log_p)
    return log_p


def _capped_mean(w, x, n):
    """Σ (w/n)·min(x, M/4) for terms x ≥ 0 and weights w ≥ 0 (broadcast against x) whose w/n sum to at
    most 1, M the largest float: the loss where its sum overflowed on finite logits (on non-finite ones it is inf or NaN, as
    it should be). Its true value is then beyond or near the float range; this one is finite (at
    most M/4), and 0·∞ gives 0, not NaN."""
    cap = np.finfo(x.dtype).max / 4
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sum(np.minimum(x, cap) * (w / n)))


def _dot(x, y):
    """Σ x ⊙ y over every entry, as one BLAS dot product (no temporary x ⊙ y, no second pass)."""
    return float(np.vdot(x, y))


class Loss:
    """A loss: ``value(a, y)``, ``grad(a, y)`` = ∂L/∂a, and target checking.

    ``fuses`` is the output activation class with which the output delta is simply
    δ = (ŷ − y)/(number of averaged terms): ``fused_value(z, y, log_a)`` is the loss from the
    logits (log_a, the log of that activation of z that its forward pass leaves, when at hand),
    ``fused_delta(a, y)`` that delta.

    Each of them takes ``w=None``, the rows' weights (see the module's docstring), and so does
    ``accuracy``.

    Your own: a subclass with ``name``, ``value(a, y)`` and ``grad(a, y, out=None)``, registered
    with ``chainrule.losses.register``; give them (and ``accuracy``) a parameter ``w=None`` too, and
    it trains with sample weights.
    """

    name = None
    fuses = None
    classification = False
    # K classes are K output units (integer labels become one-hot rows); otherwise one unit per target.
    one_unit_per_class = False
    # The output of a network that knows nothing: its loss is the baseline the diagnostics judge by.
    uninformative_output = 0.0
    # The baseline's name, when it has one (ln K for K classes).
    uninformative_name = None
    # Where the loss has a kink in the output, the margin y·ŷ it asks for (hinge): gradcheck skips
    # crossing it; an output that cannot reach −margin cannot satisfy it.
    kink_margin = None
    # The loss takes the outputs as probabilities in [0, 1] (bce), or as logits it applies softmax to
    # (cross_entropy): what the output activation must give it.
    needs_probabilities = False
    takes_logits = False
    # How the trace writes it: one term of the sum and its derivative ∂(term)/∂a, templates in {a}
    # (an output), {t} (its target) and {p} (a softmax probability); ``mean_over`` "N" (samples)
    # or "NK" (samples and outputs); ``negated``: L is minus the mean; ``definition`` a sentence.
    term = None
    term_grad = None
    mean_over = "NK"
    negated = False
    definition = None

    def fuses_with(self, activation):
        """Whether this loss computes the output delta from the logits of this output activation."""
        return self.fuses is not None and type(activation) is self.fuses

    def takes_weights(self):
        """Whether the methods that compute L or its gradient take the rows' weights ``w`` (the
        library's own losses do): ``value`` and ``grad``, ``fused_value`` and ``fused_delta`` when
        the loss fuses, ``accuracy`` when it classifies."""
        names = ["value", "grad"] + ["fused_value", "fused_delta"] * (self.fuses is not None)
        names += ["accuracy"] * self.classification
        return all("w" in inspect.signature(getattr(self, name)).parameters for name in names)

    def uninformative(self, Y):
        """The loss of an output that knows nothing (``uninformative_output`` for every target)."""
        return float(self.value(np.full_like(Y, self.uninformative_output), Y))

    def prepare_targets(self, y, n_out, dtype):
        """y as a float array of shape (N, n_out); raise ValueError if it cannot be a target."""
        y = np.asarray(y)
        if y.ndim == 1 and n_out == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != n_out:
            raise ValueError(
                f"y has shape {y.shape} but the network has {n_out} output(s); "
                f"pass y with shape (n_samples, {n_out})" + (" or (n_samples,)" if n_out == 1 else "")
            )
        return numeric_array("y", y, dtype)

    def accuracy(self, a, y, w=None):
        """Fraction of correct predictions (weighted by the rows' weights w), for classification
        losses; None otherwise."""
        return None

    def probabilities(self, a):
        """What ``predict`` returns for an output a that is not the fused activation's."""
        return a

    # Stacked training (``chainrule.stacked``): K networks' outputs and targets of shape (K, m, n), one
    # loss per network. These defaults call ``value`` network by network; the built-in losses reduce
    # over the last two axes instead, one call for the whole stack.

    def stacked_values(self, a, y):
        """L of each network of a stack, shape (K,)."""
        return np.array([self.value(a_k, y_k) for a_k, y_k in zip(a, y)])

    def stacked_fused_values(self, z, y, log_a):
        """L of each network of a stack, from its logits (for a loss that ``fuses``), shape (K,)."""
        return np.array([self.fused_value(z_k, y_k, l_k) for z_k, y_k, l_k in zip(z, y, log_a)])


register = registrar(LOSSES, Loss)


@register
class MSE(Loss):
    """L = (1/(N·K)) Σ_n Σ_k (ŷ_nk − y_nk)²   (torch.nn.MSELoss)."""

    name = "mse"
    term, term_grad = "({a} − {t})²", "2·({a} − {t})"
    definition = "mse, L = (1/(N·K))·Σₙ Σₖ (a[L][k] − t[k])², the mean over the N samples and K outputs"

    def value(self, a, y, w=None):
        return _mean((a - y) ** 2) if w is None else _weighted_sum((a - y) ** 2, w) / a.shape[1]

    def grad(self, a, y, out=None, w=None):
        """∂L/∂ŷ = 2(ŷ − y)/(N·K); weighted, 2(ŷ − y)·w_n/(Σw·K)."""
        out = np.subtract(a, y, out=out)
        out *= 2.0 / a.size if w is None else _shares(w, a.shape[1] / 2)
        return out

    def stacked_values(self, a, y):
        d = a - y
        return np.einsum("kmn,kmn->k", d, d) / (a.shape[1] * a.shape[2])


@register
class HalfSSE(Loss):
    """L = (1/N) Σ_n ½ Σ_k (ŷ_nk − y_nk)²   (the textbook convention, and the loss of the 2-2-1 worked
    example, examples/trace/lab-2-2-1.toml)."""

    name = "half_sse"
    term, term_grad, mean_over = "½·({a} − {t})²", "({a} − {t})", "N"
    definition = ("half_sse, L = (1/N)·Σₙ ½·Σₖ (a[L][k] − t[k])², half the squared error summed over the "
                  "outputs, averaged over the N samples")

    def value(self, a, y, w=None):
        if w is not None:
            return 0.5 * _weighted_sum((a - y) ** 2, w)
        return 0.5 * float(np.add.reduce((a - y) ** 2, axis=None)) / a.shape[0]

    def grad(self, a, y, out=None, w=None):
        """∂L/∂ŷ = (ŷ − y)/N; weighted, (ŷ − y)·w_n/Σw."""
        out = np.subtract(a, y, out=out)
        out *= 1.0 / a.shape[0] if w is None else _shares(w, 1)
        return out

    def stacked_values(self, a, y):
        d = a - y
        return 0.5 * np.einsum("kmn,kmn->k", d, d) / a.shape[1]


@register
class BCE(Loss):
    """L = −(1/(N·K)) Σ [y log ŷ + (1 − y) log(1 − ŷ)] on probabilities ŷ   (torch.nn.BCELoss).

    Like PyTorch, each log is clamped at −100 when ŷ is not a sigmoid output.
    """

    name = "bce"
    fuses = Sigmoid
    classification = True
    needs_probabilities = True
    uninformative_output = 0.5
    uninformative_name = "ln 2"
    term, term_grad, negated = "[{t}·log({a}) + (1 − {t})·log(1 − {a})]", "({a} − {t})/({a}·(1 − {a}))", True
    definition = "bce, L = −(1/(N·K))·Σₙ Σₖ [t·log(a) + (1 − t)·log(1 − a)]"

    def prepare_targets(self, y, n_out, dtype):
        y = super().prepare_targets(y, n_out, dtype)
        if ((y < 0) | (y > 1)).any():
            raise ValueError(
                f"bce targets must lie in [0, 1] (class labels 0/1 or probabilities); got values in "
                f"[{y.min():g}, {y.max():g}]. Map your labels to 0/1, or use loss='hinge' for ±1 labels"
            )
        return y

    def value(self, a, y, w=None):
        if ((a < 0) | (a > 1)).any():
            raise ValueError(
                f"bce needs probabilities in [0, 1], but the network output values in [{a.min():g}, {a.max():g}]; "
                "use a sigmoid output layer with loss='bce'"
            )
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(a), -100)
            log_q = np.maximum(np.log1p(-a), -100)
        terms = y * log_p + (1 - y) * log_q
        return -_mean(terms) if w is None else -_weighted_sum(terms, w) / a.shape[1]

    def grad(self, a, y, out=None, w=None):
        """∂L/∂ŷ = (ŷ − y) / (ŷ(1 − ŷ)) / (N·K), the denominator kept ≥ 1e-12 as PyTorch does;
        weighted, w_n/(Σw·K) in place of 1/(N·K)."""
        if w is None:
            return np.divide(a - y, np.maximum(a * (1 - a), 1e-12) * a.size, out=out)
        out = np.divide(a - y, np.maximum(a * (1 - a), 1e-12), out=out)
        out *= _shares(w, a.shape[1])
        return out

    def fused_value(self, z, y, log_a=None, w=None):
        """With ŷ = σ(z): −log σ(z) = softplus(−z) and −log(1 − σ(z)) = softplus(z), so
        L = mean[y softplus(−z) + (1 − y) softplus(z)] — each term accurate, no cancellation
        when a confident output is right. ``log_a`` = log σ(z) = −softplus(−z) from the forward
        pass, when given, saves computing it again."""
        if w is not None:
            return self._weighted_fused_value(z, y, log_a, w)
        minus_y_log_a = _dot(y, _softplus(-z)) if log_a is None else -_dot(y, log_a)  # −Σ y log σ(z)
        loss = (minus_y_log_a + _dot(CONST[1, z.dtype] - y, _softplus(z))) / z.size
        if math.isfinite(loss) or not np.isfinite(z).all():
            return loss
        return _capped_mean(y, _softplus(-z), z.size) + _capped_mean(1 - y, _softplus(z), z.size)

    def _weighted_fused_value(self, z, y, log_a, w):
        """L = Σ_n (w_n/Σw) mean_k [y softplus(−z) + (1 − y) softplus(z)], the same terms as above."""
        minus_log_a = _softplus(-z) if log_a is None else -log_a  # −log σ(z)
        loss = _weighted_sum(y * minus_log_a + (1 - y) * _softplus(z), w) / z.shape[1]
        if math.isfinite(loss) or not np.isfinite(z).all():
            return loss
        r = _shares(w, 1)
        return _capped_mean(y * r, minus_log_a, z.shape[1]) + _capped_mean((1 - y) * r, _softplus(z), z.shape[1])

    def stacked_fused_values(self, z, y, log_a):
        """−(1/(m·n)) Σ [y log σ(z) − (1 − y) softplus(z)] per network, as ``fused_value``."""
        sums = np.einsum("kmn,kmn->k", CONST[1, z.dtype] - y, _softplus(z)) - np.einsum("kmn,kmn->k", y, log_a)
        return sums / (z.shape[1] * z.shape[2])

    def uninformative(self, Y):
        """ŷ = ½ for every target: −[y log ½ + (1 − y) log ½] = ln 2, whatever y in [0, 1]."""
        return math.log(2)

    def fused_delta(self, a, y, out=None, w=None):
        """δ = ∂L/∂z = (σ(z) − y)/(N·K), with a = σ(z) from the forward pass; weighted,
        (σ(z) − y)·w_n/(Σw·K)."""
        out = np.subtract(a, y, out=out)
        out *= CONST[1.0 / a.size, a.dtype] if w is None else _shares(w, a.shape[1])
        return out

    def accuracy(self, a, y, w=None):
        half = CONST[0.5, a.dtype]
        return _fraction(np.greater(a, half) == np.greater(y, half), w)


@register
class CrossEntropy(Loss):
    """L = −(1/N) Σ_n Σ_k y_nk log softmax(ŷ_n)_k on the last layer's logits   (torch.nn.CrossEntropyLoss).

    Targets are integer class labels (shape (N,)) or one-hot / probability rows (N, K).
    With a softmax output layer the logits are its z; otherwise the output a is taken as logits.
    """

    name = "cross_entropy"
    fuses = Softmax
    classification = True
    takes_logits = True
    one_unit_per_class = True
    uninformative_name = "ln K"
    term, term_grad, mean_over, negated = "{t}·log({p})", "({p} − {t})", "N", True
    definition = "cross_entropy, L = −(1/N)·Σₙ Σₖ t[k]·log(p[k]), p = softmax of the last layer's logits"

    def prepare_targets(self, y, n_out, dtype):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1 and n_out > 1:
            y = y[:, 0]
        if y.ndim == 1:
            if not np.issubdtype(y.dtype, np.number) or not np.isfinite(y).all():
                raise ValueError("cross_entropy labels must be finite integers 0 … K−1")
            if (y != np.round(y)).any() or (y < 0).any() or (y >= n_out).any():
                raise ValueError(
                    f"cross_entropy labels must be integers in 0 … {n_out - 1} for a network with {n_out} "
                    f"outputs; got values in [{y.min():g}, {y.max():g}]. Renumber the classes from 0, "
                    "or give the last layer one unit per class"
                )
            memory.require(len(y) * n_out * np.dtype(dtype).itemsize, f"one-hot targets of {len(y):,} rows × {n_out:,} "
                           "classes", "train on fewer rows at a time, or with fewer classes")
            Y = np.zeros((len(y), n_out), dtype)
            Y[np.arange(len(y)), y.astype(np.intp)] = 1  # one-hot rows: y_nk = 1 where k is sample n's label
            return Y
        y = super().prepare_targets(y, n_out, dtype)
        if (y < 0).any() or not np.allclose(y.sum(axis=1), 1, atol=1e-6):
            raise ValueError(
                "cross_entropy target rows must be one-hot (or probabilities: non-negative, summing to 1); "
                "or pass integer class labels of shape (n_samples,)"
            )
        return y

    def value(self, a, y, w=None):
        return self.fused_value(a, y, w=w)

    def grad(self, a, y, out=None, w=None):
        """∂L/∂ŷ = (softmax(ŷ) − y)/N with ŷ taken as logits (weighted: w_n/Σw for 1/N)."""
        return self.fused_delta(_softmax(a, out=out), y, out=out, w=w)

    def fused_value(self, z, y, log_a=None, w=None):
        """L = −(1/N) Σ y ⊙ log softmax(z) from the logits z, each log softmax(z) = (z − max z) −
        log Σ_j e^(z_j − max z) formed row by row before the sum (no cancellation when a confident
        output is right); ``log_a`` is log softmax(z) when the forward pass left it. Weighted:
        −Σ_n (w_n/Σw) Σ_k y log softmax(z)."""
        log_p = _log_softmax(z) if log_a is None else log_a
        loss = -_dot(y, log_p) / z.shape[0] if w is None else -_weighted_sum(y * log_p, w)
        if math.isfinite(loss) or not np.isfinite(z).all():
            return loss
        return _capped_mean(y, -log_p, z.shape[0]) if w is None else _capped_mean(y * _shares(w, 1), -log_p, 1)

    def stacked_fused_values(self, z, y, log_a):
        """−(1/m) Σ y ⊙ log softmax(z) per network, as ``fused_value``."""
        return -np.einsum("kmn,kmn->k", y, log_a) / z.shape[1]

    def stacked_values(self, a, y):
        """The output a taken as logits: log softmax row by row (rows of every network alike)."""
        return self.stacked_fused_values(a, y, _log_softmax(a.reshape(-1, a.shape[2])).reshape(a.shape))

    def uninformative(self, Y):
        """Logits 0, softmax 1/K for every class: −(1/N) Σ y log(1/K) = ln K · (Σ y)/N, ln K for rows
        that sum to 1."""
        return math.log(Y.shape[1]) * float(np.sum(Y)) / len(Y)

    def fused_delta(self, a, y, out=None, w=None):
        """δ = ∂L/∂z = (softmax(z) − y)/N, with a = softmax(z) from the forward pass; weighted,
        (softmax(z) − y)·w_n/Σw."""
        out = np.subtract(a, y, out=out)
        out *= CONST[1.0 / a.shape[0], a.dtype] if w is None else _shares(w, 1)
        return out

    def probabilities(self, a):
        """softmax(a): the output taken as logits."""
        return _softmax(a)

    def accuracy(self, a, y, w=None):
        return _fraction(a.argmax(axis=1) == y.argmax(axis=1), w)


@register
class Hinge(Loss):
    """L = (1/(N·K)) Σ max(0, 1 − y ŷ) with y in {−1, +1}   (a linear SVM's loss)."""

    name = "hinge"
    classification = True
    kink_margin = 1.0  # the loss has a kink where the margin y·ŷ equals 1
    term, term_grad = "max(0, 1 − {t}·{a})", "−{t}·[{t}·{a} < 1]"
    definition = "hinge, L = (1/(N·K))·Σₙ Σₖ max(0, 1 − t·a)"

    def prepare_targets(self, y, n_out, dtype):
        y = super().prepare_targets(y, n_out, dtype)
        if not np.isin(y, (-1, 1)).all():
            raise ValueError(
                "hinge targets must be −1 or +1; map labels {0, 1} with y = 2·y − 1, "
                "or use loss='bce' for 0/1 labels"
            )
        return y

    def value(self, a, y, w=None):
        margins = np.maximum(0, 1 - y * a)
        loss = _mean(margins) if w is None else _weighted_sum(margins, w) / a.shape[1]
        if math.isfinite(loss) or not np.isfinite(a).all():
            return loss
        if w is None:
            return _capped_mean(np.ones_like(margins), margins, margins.size)
        return _capped_mean(_shares(w, 1), margins, a.shape[1])  # the column of shares, broadcast over outputs

    def stacked_values(self, a, y):
        return np.maximum(0, 1 - y * a).mean(axis=(1, 2))

    def grad(self, a, y, out=None, w=None):
        """∂L/∂ŷ = −y/(N·K) where the margin y ŷ < 1, else 0; weighted, w_n/(Σw·K) for 1/(N·K)."""
        active = (y * a < 1).astype(a.dtype)
        active *= -1.0 / a.size if w is None else -_shares(w, a.shape[1])
        return np.multiply(y, active, out=out)

    def accuracy(self, a, y, w=None):
        return _fraction((a >= 0) == (y > 0), w)


def get_loss(spec):
    """A loss from a registered name (a new instance) or a ``Loss`` instance (returned as is)."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str) and spec in LOSSES:
        return LOSSES[spec]()
    raise ValueError(f"unknown loss {spec!r}; use one of {', '.join(LOSSES)}")
