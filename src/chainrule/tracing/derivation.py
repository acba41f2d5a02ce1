"""The worked solution of a trace: every quantity as a line  name = formula = numbers = value.

A ``Line`` keeps its formula in the trace's names and the same formula as a template whose
fields are numbers, filled in when rendered (``--decimals`` changes only what is shown). Every
value is the trace's own — the engine's — except four kinds of display-only arithmetic: the
error t − ŷ, the softmax probabilities that cross_entropy takes its log of when the output is not
softmax, ∂L/∂a (``grad_a``) for a softmax layer outside the fused softmax + cross_entropy, and
with l2 the data loss L − penalty (the penalty is the engine's ``Network.penalty``).

Names, 1-based (l a layer, j a neuron, k an output, r and c a weight's row and column in the
spec's layout):

    z[l][j], a[l][j]         pre-activation and activation;  x[i] an input, t[k] a target
    error[k]                 t[k] − a[L][k], the "Error = y_target − y" of hand calculations
    loss                     L, the loss before the step's update
    data_loss, penalty       with l2 = λ > 0: L = data_loss + penalty, penalty = (λ/(2N))·Σ W² over
                             every weight (not the biases); dW then has the term (λ/N)·W
    delta[l][j]              δ = ∂L/∂z[l][j] (with the 1/N of the mean inside)
    grad_a[l][j]             ∂L/∂a[l][j], only for softmax layers (softmax couples its outputs)
    dW[l][r][c], db[l][j]    ∂L/∂W, ∂L/∂b (sums over the batch)
    update_W, update_b       −η·dW, −η·db: what the step adds
    W_new, b_new             W + update_W, b + update_b

A batch-normalized layer (``network.batch_norm``) adds, for each neuron j over the batch, and
per sample:

    mean[l][j], var[l][j]    (1/N)·Σₙ z[l][j], (1/N)·Σₙ (z[l][j] − mean[l][j])²
    xhat[l][j], y[l][j]      (z − mean)/√(var + ε), γ·xhat + β; then a[l][j] = f(y[l][j])
    dy[l][j]                 ∂L/∂y[l][j] = ∂L/∂a·f′(y); delta[l][j] stays ∂L/∂z[l][j]:
                             delta = (γ/√(var + ε))·(dy − (1/N)·Σₙ dy − xhat·(1/N)·Σₙ dy·xhat)
    dgamma, dbeta            Σₙ dy·xhat, Σₙ dy; update_gamma, gamma_new, update_beta, beta_new

and a residual layer (``network.residual``) a[l][j] = a[l−1][j] + f(…), with grad_a[l][j] = ∂L/∂a[l][j],
which the layer below receives through the skip besides Σₖ delta·W.

With several samples the per-sample names (z, a, error, delta, grad_a) take the prefix sampleN.,
and from the second step on every name takes the prefix stepS. (for example step2.sample3.z[1][2]).
"""

import math
from dataclasses import dataclass, field

import numpy as np

from ..activations import get_activation
from ..losses import get_loss

__all__ = ["Heading", "Text", "Table", "Line", "worked", "given"]


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Text:
    """A paragraph; with a ``title``, a note that answers a "why". Its {fields} are ``numbers``."""

    text: str
    numbers: dict = field(default_factory=dict)
    title: str = None


@dataclass
class Line:
    """``label`` = ``formula`` = ``template`` filled with ``numbers`` = ``value``; ``key`` is the
    name that --check answers use (the label with its step and sample prefixes)."""

    key: str
    label: str
    formula: str
    template: str
    numbers: dict
    value: float


@dataclass
class Table:
    lines: list


def line(key, label, template, value, **fields):
    """A Line whose formula and numbers come from one template; each field is (name, number)."""
    return Line(key, label, template.format(**{k: name for k, (name, _) in fields.items()}), template,
                {k: float(v) for k, (_, v) in fields.items()}, float(value))


def worked(trace):
    """The blocks of the worked solution: Heading, Text (paragraphs and notes) and Table (of Lines)."""
    return _Worked(trace).blocks()


def given(v):
    """A number as it was given (the shortest text that reads back the same)."""
    return np.format_float_positional(v, trim="-")


def _vector(v):
    return "(" + ", ".join(given(x) for x in v) + ")"


class _Worked:
    def __init__(self, trace):
        self.trace, self.spec = trace, trace.spec
        spec = self.spec
        self.N, self.L, self.K = len(spec.X), len(spec.sizes) - 1, spec.sizes[-1]
        # how each activation and the loss are written: their classes say (formula, definition, …)
        self.acts = [get_activation(name) for name in spec.activations]
        self.form = get_loss(spec.loss)
        per = self.N * (self.K if self.form.mean_over == "NK" else 1)
        self.mean = f"(1/{per})·" if per > 1 else ""  # the 1/N (or 1/(N·K)) of the mean
        # the L2 penalty's factors as written: λ/(2N) in L, λ/N in ∂L/∂W
        self.half_decay = f"({{}}/{2 * self.N})"
        self.decay = "{}" if self.N == 1 else f"({{}}/{self.N})"
        self.step = 1

    # ---- names ----------------------------------------------------------------------------

    def key(self, label, n=None):
        """The --check name: stepS. (S ≥ 2) and sampleN. (several samples, per-sample quantities)."""
        return (f"step{self.step}." if self.step > 1 else "") + self.per_sample(label, n)

    def per_sample(self, label, n):
        return f"sample{n + 1}.{label}" if n is not None and self.N > 1 else label

    def shown(self, label, n):
        """A per-sample line's label: with its sample when the passes are written layer by layer (with
        batch normalization), where no heading names the sample."""
        return self.per_sample(label, n) if self.spec.batch_norm else label

    def w(self, l, i, j):
        """W[l][r][c] of the weight from input i to neuron j of layer l (0-based), in the spec's layout."""
        return f"[{l + 1}]" + self.spec.weight_index(i, j)

    def input(self, step, l, n, i):
        """(name, value) of input i of layer l for sample n."""
        if l == 0:
            return f"x[{i + 1}]", self.spec.X[n, i]
        return f"a[{l}][{i + 1}]", step.layers[l - 1].a[n, i]

    def probabilities(self, step):
        """The probabilities p of a loss that takes logits (cross_entropy): the output itself when it is
        the softmax the loss fuses with, else the loss's softmax of it."""
        if not self.form.takes_logits:
            return None
        a = step.layers[-1].a
        return a if self.trace.fused else self.form.probabilities(a)

    def p_name(self, k):
        return f"a[{self.L}][{k}]" if self.trace.fused else f"softmax(a[{self.L}])[{k}]"

    # ---- the whole solution ---------------------------------------------------------------

    def blocks(self):
        blocks = self.intro()
        several = len(self.trace.steps) > 1
        for s, step in enumerate(self.trace.steps, start=1):
            self.step = s
            if several:
                blocks.append(Heading(2, f"Step {s}"))
            level = 3 if several else 2
            blocks += self.forward(step, level) + self.loss(step, level)
            blocks += self.backward(step, level) + self.updates(step, level)
        values = {line.key: line.value for block in blocks if isinstance(block, Table) for line in block.lines}
        return blocks + self.after(values)

    def intro(self):
        spec, trace = self.spec, self.trace
        title = "Worked solution" + (f": {spec.name}" if spec.name else "")
        if trace.hand is not None:
            title += f", by hand to {trace.hand} decimals"
        acts = spec.activations
        activation = (f"{acts[0]} in every layer" if len(set(acts)) == 1 else
                      ", ".join(f"{name} in layer {l}" for l, name in enumerate(acts, start=1)))
        if self.N == 1:
            data = f"One sample: x = {_vector(spec.X[0])}, target t = {_vector(spec.Y[0])}."
        else:
            data = (f"A batch of {self.N} samples: x = " + ", ".join(_vector(x) for x in spec.X)
                    + "; targets t = " + ", ".join(_vector(t) for t in spec.Y) + ".")
        steps = len(trace.steps)
        how = ("computed by chainrule's engine (Network.backward, then SGD.step), exactly in float64"
               if trace.hand is None else
               f"computed by hand: every quantity rounded to {trace.hand} decimals before it is used "
               "(not exact; the drift from the exact values is given at the end)")
        blocks = [
            Heading(1, title),
            Text(f"Network {'-'.join(map(str, spec.sizes))}, {activation}, "
                 f"{'with biases' if spec.bias else 'no biases'}{self.blocks_text()}. Loss {self.form.definition}"
                 + (f", plus the L2 penalty {self.half_decay.format('λ')}·Σ W[l][r][c]² over every weight "
                    f"(not the biases), λ = {given(spec.l2)}, as chainrule.Network(l2=λ) defines it"
                    if spec.l2 else "") + ". "
                 f"Learning rate η = {given(spec.learning_rate)}. {data} "
                 f"{'One step' if steps == 1 else f'{steps} steps'} of gradient descent, {how}."),
        ]
        if spec.layout == "in_out":
            layout = ("Weights in the layout in_out: W[l][i][j] is the weight from input i of layer l "
                      "(x[i], or a[l−1][i]) to its neuron j, so z[l][j] = Σᵢ W[l][i][j]·a[l−1][i] + b[l][j]; "
                      "Lab 02's w_{{i,j}}, from input i to neuron j.")
        else:
            layout = ("Weights in the layout out_in: W[l][j][i] is the weight into neuron j of layer l from "
                      "its input i (x[i], or a[l−1][i]), so z[l] = W[l]·a[l−1] + b[l], the textbook's z = W x + b.")
        definitions = "; ".join(dict.fromkeys(act.trace_forms()[2] for act in self.acts))
        blocks.append(Text(
            f"{layout} delta[l][j] = ∂L/∂z[l][j]; dW = ∂L/∂W and db = ∂L/∂b; update_W = −η·dW; "
            f"W_new = W + update_W. {definitions}."))
        if self.N > 1 or steps > 1:
            blocks.append(Text(
                ("With several samples, dW and db are sums over the batch (the 1/N of the mean is inside "
                 "delta); for --check the per-sample quantities are named sample1.z[1][1], … . "
                 if self.N > 1 else "")
                + ("From step 2 on, --check names take the prefix step2., step3., … ." if steps > 1 else "")))
        blocks.append(Text(
            "delta here is ∂L/∂z, and every update is −η·∂L/∂w. Textbooks that write the output's δ as "
            "f′(z)·(t − a) — as in δ = y(1 − y)(t − y), Δw = +η·δ·o — use δ = −∂L/∂z (for the half_sse "
            "loss): their δ has the opposite sign to delta here, and the update is the same.",
            title="Sign convention"))
        return blocks

    def blocks_text(self):
        """", layer 1 batch-normalized (ε = 1e-05), layer 2 residual" for the network's description."""
        spec, parts = self.spec, []
        if spec.batch_norm:
            which = ", ".join(map(str, spec.batch_norm))
            parts.append(f"layer{'s' if len(spec.batch_norm) > 1 else ''} {which} batch-normalized "
                         f"(y = gamma·(z − mean)/√(var + ε) + beta over the batch, then a = f(y); ε = {given(spec.eps)}; "
                         "dy = ∂L/∂y, and dgamma, dbeta the gradients of gamma, beta)")
        if spec.residual:
            which = ", ".join(map(str, spec.residual))
            parts.append(f"layer{'s' if len(spec.residual) > 1 else ''} {which} residual (a = a_prev + f(…), "
                         "grad_a = ∂L/∂a, which reaches a_prev through the skip too)")
        return "".join(f", {part}" for part in parts)

    # ---- forward --------------------------------------------------------------------------

    def forward(self, step, level):
        if self.spec.batch_norm:  # the batch's statistics couple the samples: layer by layer
            return self.forward_by_layer(step, level)
        blocks = []
        for n in range(self.N):
            sample = "" if self.N == 1 else (f", sample {n + 1}: x = {_vector(self.spec.X[n])}, "
                                             f"t = {_vector(self.spec.Y[n])}")
            lines = []
            for l, layer in enumerate(step.layers):
                for j in range(layer.z.shape[1]):
                    lines += [self.weighted_sum(step, l, n, j), self.activation(step, l, n, j)]
            blocks += [Heading(level, "Forward pass" + sample), Table(lines)]
        return blocks

    def forward_by_layer(self, step, level):
        """With batch normalization each layer's z of every sample comes first, then the batch's mean
        and variance, then each sample's x̂, y and a."""
        blocks = []
        for l, layer in enumerate(step.layers):
            width, samples = layer.z.shape[1], range(self.N)
            lines = [self.weighted_sum(step, l, n, j) for n in samples for j in range(width)]
            if layer.gamma is not None:
                lines += [stat for j in range(width) for stat in self.statistics(layer, l, j)]
                lines += [v for n in samples for j in range(width) for v in self.normalized(layer, l, n, j)]
            lines += [self.activation(step, l, n, j) for n in samples for j in range(width)]
            blocks += [Heading(level, f"Forward pass, layer {l + 1}"), Table(lines)]
        return blocks

    def statistics(self, layer, l, j):
        """mean[l][j] and var[l][j] of z over the batch (the variance the biased one, as the batch is normalized)."""
        at, N = f"[{l + 1}][{j + 1}]", self.N
        zs = {f"z{n}": (self.per_sample(f"z{at}", n), layer.z[n, j]) for n in range(N)}
        mean = line(self.key(f"mean{at}"), f"mean{at}", f"(1/{N})·(" + " + ".join(f"{{z{n}}}" for n in range(N)) + ")",
                    layer.mean[j], **zs)
        squares = " + ".join(f"({{z{n}}} − {{m}})²" for n in range(N))
        var = line(self.key(f"var{at}"), f"var{at}", f"(1/{N})·({squares})", layer.var[j],
                   m=(f"mean{at}", layer.mean[j]), **zs)
        return [mean, var]

    def normalized(self, layer, l, n, j):
        """xhat = (z − mean)/√(var + ε) and y = γ·xhat + β of sample n."""
        at = f"[{l + 1}][{j + 1}]"
        xhat = line(self.key(f"xhat{at}", n), self.per_sample(f"xhat{at}", n), "({z} − {m})/√({v} + {e})",
                    layer.xhat[n, j], z=(f"z{at}", layer.z[n, j]), m=(f"mean{at}", layer.mean[j]),
                    v=(f"var{at}", layer.var[j]), e=("ε", self.spec.eps))
        y = line(self.key(f"y{at}", n), self.per_sample(f"y{at}", n), "{g}·{x} + {b}", layer.y[n, j],
                 g=(f"gamma{at}", layer.gamma[j]), x=(f"xhat{at}", layer.xhat[n, j]), b=(f"beta{at}", layer.beta[j]))
        return [xhat, y]

    def weighted_sum(self, step, l, n, j):
        """z[l][j] = Σᵢ W·input (+ b)."""
        layer, terms, fields = step.layers[l], [], {}
        for i in range(layer.W.shape[0]):
            terms.append(f"{{w{i}}}·{{x{i}}}")
            fields[f"w{i}"] = ("W" + self.w(l, i, j), layer.W[i, j])
            fields[f"x{i}"] = self.input(step, l, n, i)
        if layer.b is not None:
            terms.append("{b}")
            fields["b"] = (f"b[{l + 1}][{j + 1}]", layer.b[j])
        label = f"z[{l + 1}][{j + 1}]"
        return line(self.key(label, n), self.shown(label, n), " + ".join(terms), layer.z[n, j], **fields)

    def activation(self, step, l, n, j):
        """a[l][j] = f(z[l][j]); softmax over the layer's z."""
        layer, act, label = step.layers[l], self.acts[l], f"a[{l + 1}][{j + 1}]"
        if not act.elementwise:  # a[j] depends on every z of the layer
            width = layer.z.shape[1]
            fields = {f"z{m}": (f"z[{l + 1}][{m + 1}]", layer.z[n, m]) for m in range(width)}
            return line(self.key(label, n), self.shown(label, n), act.coupled_formula(j, width), layer.a[n, j], **fields)
        at = f"[{l + 1}][{j + 1}]"
        z = (f"y{at}", layer.y[n, j]) if layer.y is not None else (f"z{at}", layer.z[n, j])
        form = self.acts[l].trace_forms()[0]
        if layer.grad_a is None:
            return line(self.key(label, n), self.shown(label, n), form, layer.a[n, j], z=z)
        # a residual layer: its input passes through unchanged and f(…) is added to it
        return line(self.key(label, n), self.shown(label, n), "{p} + " + form, layer.a[n, j], z=z, p=self.input(step, l, n, j))

    # ---- loss -----------------------------------------------------------------------------

    def loss(self, step, level):
        out, Y, L = step.layers[-1], self.spec.Y, self.L
        lines = []
        for n in range(self.N):
            for k in range(self.K):
                label = self.per_sample(f"error[{k + 1}]", n)
                # in Python floats: t − a of two huge numbers is inf, not a NumPy overflow warning
                lines.append(line(self.key(f"error[{k + 1}]", n), label, "{t} − {a}",
                                  float(Y[n, k]) - float(out.a[n, k]),
                                  t=(f"t[{k + 1}]", Y[n, k]), a=(f"a[{L}][{k + 1}]", out.a[n, k])))
        k = "k" if self.K > 1 else "1"
        sign = "−" if self.form.negated else ""
        formula = (sign + self.mean + ("Σₙ " if self.N > 1 else "") + ("Σₖ " if self.K > 1 else "")
                   + self.form.term.format(a=f"a[{L}][{k}]", t=f"t[{k}]", p=self.p_name(k)))
        P, terms, numbers = self.probabilities(step), [], {}
        for n in range(self.N):
            for k in range(self.K):
                terms.append(self.form.term.format(a=f"{{a{n}_{k}}}", t=f"{{t{n}_{k}}}", p=f"{{p{n}_{k}}}"))
                numbers.update({f"a{n}_{k}": out.a[n, k], f"t{n}_{k}": Y[n, k]})
                if P is not None:
                    numbers[f"p{n}_{k}"] = P[n, k]
        template = sign + self.mean + (f"[{' + '.join(terms)}]" if len(terms) > 1 else terms[0])
        if self.spec.l2:
            lines.append(Line(self.key("data_loss"), "data_loss", formula, template, numbers, step.data_loss))
            lines += self.penalty(step)
        else:
            lines.append(Line(self.key("loss"), "loss", formula, template, numbers, step.loss))
        blocks = [Heading(level, "Loss"), Table(lines)]
        if self.step == 1:
            error = float(Y[0, 0]) - float(out.a[0, 0])
            side = ("above the target: the prediction is too high, and the step will lower it" if error < 0 else
                    "below the target: the prediction is too low, and the step will raise it" if error > 0 else
                    "exactly on the target")
            blocks.append(Text(
                f"{self.per_sample('error[1]', 0)} = {{e}} is {'negative' if error < 0 else 'positive' if error > 0 else 'zero'}"
                f": the output a[{L}][1] = {{a}} is {side}. The error says which way the output must move; "
                "the gradients below say how much each weight is to blame.",
                {"e": error, "a": out.a[0, 0]}, title="The sign of the error"))
        return blocks

    def penalty(self, step):
        """penalty = (λ/(2N))·Σ W² over every weight of every layer (not the biases), then
        loss = data_loss + penalty, as Network(l2=λ) adds it."""
        numbers, squares = {"lam": self.spec.l2}, []
        for l, layer in enumerate(step.layers):
            for m, (i, j) in enumerate(self.order(layer)):
                numbers[f"w{l}_{m}"] = layer.W[i, j]
                squares.append(f"{{w{l}_{m}}}²")
        half = self.half_decay.format("λ")
        return [
            Line(self.key("penalty"), "penalty", f"{half}·Σ W[l][r][c]²",
                 self.half_decay.format("{lam}") + f"·({' + '.join(squares)})", numbers, float(step.penalty)),
            line(self.key("loss"), "loss", "{d} + {p}", step.loss,
                 d=("data_loss", step.data_loss), p=("penalty", step.penalty)),
        ]

    # ---- backward -------------------------------------------------------------------------

    def backward(self, step, level):
        blocks = []
        if self.spec.batch_norm:  # the batch's statistics couple the samples: layer by layer
            for l in range(self.L - 1, -1, -1):
                lines = [d for n in range(self.N) for d in self.deltas(step, l, n)]
                if step.layers[l].gamma is not None:
                    lines += self.through_normalization(step.layers[l], l)
                blocks += [Heading(level, f"Backward pass, layer {l + 1}"), Table(lines)]
        for n in range(self.N if not self.spec.batch_norm else 0):
            lines = []
            for l in range(self.L - 1, -1, -1):
                lines += self.deltas(step, l, n)
            blocks += [Heading(level, "Backward pass" + (f", sample {n + 1}" if self.N > 1 else "")), Table(lines)]
        if self.step == 1:
            blocks.append(self.why_derivative())
            if self.L > 1 and step.layers[self.L - 2].gamma is None:  # its delta is Σ delta·W times f′
                blocks.append(self.why_blame(step))
        return blocks

    def upstream(self, step, l, n, j):
        """(template, fields) of ∂L/∂a[l][j]: from the loss at the output, else Σₖ delta·W."""
        if l == self.L - 1:
            out, k = step.layers[l], j + 1
            fields = {"a": (f"a[{self.L}][{k}]", out.a[n, j]), "t": (f"t[{k}]", self.spec.Y[n, j])}
            P = self.probabilities(step)
            if P is not None:
                fields["p"] = (self.p_name(k), P[n, j])
            grad = self.form.term_grad
            return self.mean + (f"({grad})" if self.mean and grad.startswith("−") else grad), fields
        nxt, fields = step.layers[l + 1], {}
        for k in range(nxt.delta.shape[1]):
            fields[f"d{k}"] = (f"delta[{l + 2}][{k + 1}]", nxt.delta[n, k])
            fields[f"w{k}"] = ("W" + self.w(l + 1, j, k), nxt.W[j, k])
        template = " + ".join(f"{{d{k}}}·{{w{k}}}" for k in range(nxt.delta.shape[1]))
        if nxt.grad_a is not None:  # the next layer is residual: its ∂L/∂a comes back through the skip too
            fields["s"] = (f"grad_a[{l + 2}][{j + 1}]", nxt.grad_a[n, j])
            template += " + {s}"
        return template, fields

    def deltas(self, step, l, n):
        """delta[l][j] for every neuron j of layer l: ∂L/∂a·f′(z), (a − t)/N when fused."""
        layer, act = step.layers[l], self.acts[l]
        width = layer.z.shape[1]
        labels = [f"delta[{l + 1}][{j + 1}]" for j in range(width)]
        if l == self.L - 1 and self.trace.fused:
            return [line(self.key(labels[j], n), self.shown(labels[j], n), self.mean + "({a} − {t})", layer.delta[n, j],
                         a=(f"a[{l + 1}][{j + 1}]", layer.a[n, j]), t=(f"t[{j + 1}]", self.spec.Y[n, j]))
                    for j in range(width)]
        if not act.elementwise:
            return self.coupled_deltas(step, l, n)
        lines, df = [], act.trace_forms()[1]
        for j in range(width):
            at = f"[{l + 1}][{j + 1}]"
            template, fields = self.upstream(step, l, n, j)
            if layer.grad_a is not None:  # a residual layer: name ∂L/∂a, which the skip passes down
                lines.append(line(self.key(f"grad_a{at}", n), self.per_sample(f"grad_a{at}", n), template,
                                  layer.grad_a[n, j], **fields))
                template, fields = "{g}", {"g": (f"grad_a{at}", layer.grad_a[n, j])}
            template = f"({template})" if " + " in template else template  # a sum Σₖ delta·W, times f′
            # f's output: a (without the skip's a[l−1]) and its input: z, or y after batch normalization
            out = layer.a[n, j] - (self.input(step, l, n, j)[1] if layer.grad_a is not None else 0.0)
            fields.update(a=(f"f({'y' if layer.y is not None else 'z'}{at})" if layer.grad_a is not None else f"a{at}", out),
                          z=(f"y{at}", layer.y[n, j]) if layer.y is not None else (f"z{at}", layer.z[n, j]))
            label, value = (f"dy{at}", layer.dy[n, j]) if layer.dy is not None else (labels[j], layer.delta[n, j])
            lines.append(line(self.key(label, n), self.per_sample(label, n),
                              template if df is None else f"{template}·{df}", value, **fields))
        return lines

    def through_normalization(self, layer, l):
        """dgamma, dbeta (sums over the batch), then each sample's delta = ∂L/∂z through x̂, the
        variance and the mean: (γ/√(var + ε))·(dy − (1/N)·Σₙ dy − xhat·(1/N)·Σₙ dy·xhat)."""
        lines, N = [], self.N
        for j in range(layer.z.shape[1]):
            at = f"[{l + 1}][{j + 1}]"
            dys = {f"d{n}": (self.per_sample(f"dy{at}", n), layer.dy[n, j]) for n in range(N)}
            xs = {f"x{n}": (self.per_sample(f"xhat{at}", n), layer.xhat[n, j]) for n in range(N)}
            lines.append(line(self.key(f"dgamma{at}"), f"dgamma{at}", " + ".join(f"{{d{n}}}·{{x{n}}}" for n in range(N)),
                              layer.dgamma[j], **dys, **xs))
            lines.append(line(self.key(f"dbeta{at}"), f"dbeta{at}", " + ".join(f"{{d{n}}}" for n in range(N)),
                              layer.dbeta[j], **dys))
        for n in range(N):
            for j in range(layer.z.shape[1]):
                at = f"[{l + 1}][{j + 1}]"
                lines.append(line(
                    self.key(f"delta{at}", n), self.per_sample(f"delta{at}", n),
                    f"({{g}}/√({{v}} + {{e}}))·({{d}} − {{sb}}/{N} − {{x}}·{{sg}}/{N})", layer.delta[n, j],
                    g=(f"gamma{at}", layer.gamma[j]), v=(f"var{at}", layer.var[j]), e=("ε", self.spec.eps),
                    d=(f"dy{at}", layer.dy[n, j]), sb=(f"dbeta{at}", layer.dbeta[j]),
                    x=(f"xhat{at}", layer.xhat[n, j]), sg=(f"dgamma{at}", layer.dgamma[j])))
        return lines

    def coupled_deltas(self, step, l, n):
        """grad_a[l][j] = ∂L/∂a (shown), then delta[l][j] = a[j]·(grad_a[j] − Σₘ grad_a[m]·a[m]), the
        softmax's Jacobian-vector product (the one activation that couples its outputs)."""
        layer = step.layers[l]
        width = layer.z.shape[1]
        if l == self.L - 1:
            G = self.form.grad(layer.a, self.spec.Y)[n]
        else:
            nxt = step.layers[l + 1]
            G = nxt.delta[n] @ nxt.W.T + (0.0 if nxt.grad_a is None else nxt.grad_a[n])  # and the skip
        lines = []
        for j in range(width):
            template, fields = self.upstream(step, l, n, j)
            label = f"grad_a[{l + 1}][{j + 1}]"
            lines.append(line(self.key(label, n), self.shown(label, n), template, G[j], **fields))
        numbers = {f"g{m}": G[m] for m in range(width)} | {f"a{m}": layer.a[n, m] for m in range(width)}
        for j in range(width):
            label, at = f"delta[{l + 1}][{j + 1}]", f"[{l + 1}][{j + 1}]"
            template = f"{{a{j}}}·({{g{j}}} − (" + " + ".join(f"{{g{m}}}·{{a{m}}}" for m in range(width)) + "))"
            formula = f"a{at}·(grad_a{at} − Σₘ grad_a[{l + 1}][m]·a[{l + 1}][m])"
            lines.append(Line(self.key(label, n), self.shown(label, n), formula, template, numbers, float(layer.delta[n, j])))
        return lines

    def why_derivative(self):
        name = self.spec.activations[-1]
        if self.trace.fused:
            return Text(
                f"With a {name} output and {self.spec.loss}, the output's f′ cancels against the loss's "
                f"derivative: delta = {self.mean}(a − t) exactly (the engine computes it so), and a saturated output "
                "still learns.", title="Why no f′ at the output")
        return Text(
            "By the chain rule, delta = ∂L/∂z = ∂L/∂a · ∂a/∂z: the loss reaches z only through a = f(z), and "
            f"f′(z) says how much a moves when z moves a little; {self.acts[-1].trace_forms()[3]}. A saturated "
            "neuron passes little of the error back, and learns slowly.", title="Why f′(z) multiplies")

    def why_blame(self, step):
        l = self.L - 2  # the last hidden layer
        w_jk = f"W[{l + 2}][j][k]" if self.spec.layout == "in_out" else f"W[{l + 2}][k][j]"
        text = (f"A hidden neuron has no target of its own: its delta is the next layer's deltas sent back "
                f"through its outgoing weights, delta[{l + 1}][j] = (Σₖ delta[{l + 2}][k]·{w_jk})·f′(z[{l + 1}][j]). "
                "A neuron that feeds the next layer through a bigger weight moved the output more, so it gets "
                "more of the blame.")
        nxt, layer = step.layers[l + 1], step.layers[l]
        numbers = {}
        if nxt.W.shape[1] == 1 and layer.W.shape[1] > 1:
            w = np.abs(nxt.W[:, 0])
            big, small = int(np.argmax(w)), int(np.argmin(w))
            # ratios in Python floats, said only when finite (a tiny weight can make one overflow)
            ratios = (float(w[big]) / float(w[small]) if w[small] > 0 else math.inf,
                      float(layer.delta[0, big]) / float(layer.delta[0, small]) if layer.delta[0, small] else math.inf)
            if big != small and all(map(math.isfinite, ratios)):
                text += (f" Here W{self.w(l + 1, big, 0)} = {{wb}} is {{wr}} times W{self.w(l + 1, small, 0)} = "
                         f"{{ws}}, and delta[{l + 1}][{big + 1}] = {{db}} is {{dr}} times delta[{l + 1}][{small + 1}]"
                         " = {ds} (the rest of the difference is their f′).")
                numbers = {"wb": nxt.W[big, 0], "ws": nxt.W[small, 0], "wr": ratios[0],
                           "db": layer.delta[0, big], "ds": layer.delta[0, small], "dr": ratios[1]}
        return Text(text, numbers, title="Why a bigger outgoing weight gets more blame")

    # ---- gradients and updates ------------------------------------------------------------

    def updates(self, step, level):
        blocks, eta = [], ("η", self.spec.learning_rate)
        for l in range(self.L - 1, -1, -1):
            layer, lines = step.layers[l], []
            for i, j in self.order(layer):
                at = self.w(l, i, j)
                inputs = [self.input(step, l, n, i) for n in range(self.N)]
                lines.append(self.batch_sum(f"dW{at}", [(x, v) for x, v in inputs], f"delta[{l + 1}][{j + 1}]",
                                            layer.delta[:, j], layer.dW[i, j], (f"W{at}", layer.W[i, j])))
                lines.append(line(self.key(f"update_W{at}"), f"update_W{at}", "−{eta}·{g}", layer.update_W[i, j],
                                  eta=eta, g=(f"dW{at}", layer.dW[i, j])))
                lines.append(line(self.key(f"W_new{at}"), f"W_new{at}", "{w} + {u}", layer.W_new[i, j],
                                  w=(f"W{at}", layer.W[i, j]), u=(f"update_W{at}", layer.update_W[i, j])))
            if layer.b is not None:
                for j in range(layer.W.shape[1]):
                    at = f"[{l + 1}][{j + 1}]"
                    lines.append(self.batch_sum(f"db{at}", None, f"delta{at}", layer.delta[:, j], layer.db[j]))
                    lines.append(line(self.key(f"update_b{at}"), f"update_b{at}", "−{eta}·{g}", layer.update_b[j],
                                      eta=eta, g=(f"db{at}", layer.db[j])))
                    lines.append(line(self.key(f"b_new{at}"), f"b_new{at}", "{b} + {u}", layer.b_new[j],
                                      b=(f"b{at}", layer.b[j]), u=(f"update_b{at}", layer.update_b[j])))
            if layer.gamma is not None:
                lines += self.normalization_updates(layer, l, eta)
            blocks += [Heading(level, f"Layer {l + 1}: gradients and updates"), Table(lines)]
        if self.step == 1 and self.N == 1:
            blocks.append(self.why_small(step))
        if self.step == 1 and self.spec.l2:
            blocks.append(self.why_shrink(step))
        return blocks

    def normalization_updates(self, layer, l, eta):
        """update_gamma = −η·dgamma, gamma_new = gamma + update_gamma; the same for beta."""
        lines = []
        for name in ("gamma", "beta"):
            value, grad = getattr(layer, name), getattr(layer, f"d{name}")
            update, new = getattr(layer, f"update_{name}"), getattr(layer, f"{name}_new")
            for j in range(len(value)):
                at = f"[{l + 1}][{j + 1}]"
                lines.append(line(self.key(f"update_{name}{at}"), f"update_{name}{at}", "−{eta}·{g}", update[j],
                                  eta=eta, g=(f"d{name}{at}", grad[j])))
                lines.append(line(self.key(f"{name}_new{at}"), f"{name}_new{at}", "{p} + {u}", new[j],
                                  p=(f"{name}{at}", value[j]), u=(f"update_{name}{at}", update[j])))
        return lines

    def order(self, layer):
        """A layer's (i, j) pairs in the order the spec writes its weights: row by row."""
        n_in, n_out = layer.W.shape
        if self.spec.layout == "in_out":
            return [(i, j) for i in range(n_in) for j in range(n_out)]
        return [(i, j) for j in range(n_out) for i in range(n_in)]

    def batch_sum(self, label, inputs, delta_name, deltas, value, weight=None):
        """dW = Σₙ input·delta (inputs: (name, value) per sample) or db = Σₙ delta (inputs None);
        with l2, dW adds the penalty's (λ/N)·W (``weight``: the (name, value) of W)."""
        terms, numbers = [], {}
        for n, d in enumerate(deltas):
            numbers[f"d{n}"] = float(d)
            if inputs is None:
                terms.append(f"{{d{n}}}")
            else:
                terms.append(f"{{x{n}}}·{{d{n}}}")
                numbers[f"x{n}"] = float(inputs[n][1])
        symbol = delta_name if inputs is None else f"{inputs[0][0]}·{delta_name}"
        formula = symbol if self.N == 1 else f"Σₙ {symbol}"
        template = " + ".join(terms)
        if weight is not None and self.spec.l2:
            formula += f" + {self.decay.format('λ')}·{weight[0]}"
            template += f" + {self.decay.format('{lam}')}·{{w}}"
            numbers.update(lam=self.spec.l2, w=float(weight[1]))
        return Line(self.key(label), label, formula, template, numbers, float(value))

    def why_small(self, step):
        """Where the smallest and the largest weight change come from (one sample)."""
        changes = []
        for l, layer in enumerate(step.layers):
            for i, j in np.ndindex(*layer.W.shape):
                name, value = self.input(step, l, 0, i)
                changes.append((abs(layer.update_W[i, j]), l, i, j, name, value))
        _, l, i, j, name, value = min(changes)
        _, L2, i2, j2, _, _ = max(changes)
        layer = step.layers[l]
        return Text(
            "Each gradient is (the signal that went through the weight)·(its neuron's delta), "
            "dW[l][…] = a[l−1][i]·delta[l][j]" + (" (and the penalty's λ·W)" if self.spec.l2 else "")
            + ": a weight changes little when its input was small, or when its "
            "neuron's delta is small — and delta shrinks by a factor f′(z) at every layer it is sent back "
            "through, which is close to 0 near saturation. "
            f"Here the smallest change is update_W{self.w(l, i, j)} = {{u}} (input {name} = {{x}}, "
            f"delta[{l + 1}][{j + 1}] = {{d}}); the largest is update_W{self.w(L2, i2, j2)} = {{U}}.",
            {"u": layer.update_W[i, j], "x": value, "d": layer.delta[0, j],
             "U": step.layers[L2].update_W[i2, j2]}, title="Why some updates are small")

    def why_shrink(self, step):
        """What the L2 penalty does to the update: W_new = (1 − η·λ/N)·W − η·Σₙ a·delta."""
        eta, decay = self.spec.learning_rate, self.spec.l2 / self.N
        l, i, j = max(((l, i, j) for l, layer in enumerate(step.layers) for i, j in np.ndindex(*layer.W.shape)),
                      key=lambda lij: abs(step.layers[lij[0]].W[lij[1], lij[2]]))
        at, W = self.w(l, i, j), float(step.layers[l].W[i, j])
        return Text(
            f"The penalty {self.half_decay.format('λ')}·Σ W² adds {self.decay.format('λ')}·W to every dW, so "
            f"W_new = W − η·dW = (1 − η·{self.decay.format('λ')})·W − η·{'Σₙ ' if self.N > 1 else ''}a·delta: "
            f"each step first shrinks every weight by the factor 1 − η·{self.decay.format('λ')} = {{f}} (weight "
            "decay), then moves it along the data's "
            f"gradient; the biases have no penalty. For the largest weight, W{at} = {{w}}, the penalty's part "
            f"of update_W{at} = {{u}} is −η·{self.decay.format('λ')}·W{at} = {{p}}.",
            {"f": 1 - eta * decay, "w": W, "u": step.layers[l].update_W[i, j], "p": -eta * decay * W},
            title="Why the weights shrink")

    # ---- after the steps ------------------------------------------------------------------

    def after(self, values):
        """The loss (and output) with the new weights; for a hand calculation, its drift from the exact
        ``values`` being the hand calculation's own."""
        trace, steps = self.trace, len(self.trace.steps)
        first, last = trace.steps[0], trace.after_loss
        text = ("With the new weights the loss is {after} (before the first step: {before}): "
                + ("lower, the step went downhill." if last < first.loss else
                   "unchanged." if last == first.loss else
                   "higher: η is too large for this point, and the step overshot."))
        numbers = {"after": last, "before": first.loss}
        if self.N == 1 and self.K == 1:
            text += f" The output a[{self.L}][1] is now {{y}} (before: {{y0}}; target {{t}})."
            numbers.update(y=trace.after_output[0, 0], y0=first.layers[-1].a[0, 0], t=self.spec.Y[0, 0])
        blocks = [Heading(2, "After the update" if steps == 1 else f"After {steps} steps"), Text(text, numbers)]
        if trace.hand is not None:
            exact = trace.exact.values()
            drift = {k: abs(v - exact[k]) for k, v in values.items()}
            worst = max(drift, key=drift.get)
            new = max((k for k in drift if "_new[" in k), key=drift.get)
            blocks.append(Text(
                f"Rounding every intermediate to {trace.hand} decimals moves the results: the largest difference "
                f"from the exact trace is {{d}}, in {worst} (by hand {{h}}, exact {{x}}); among the new "
                f"parameters, {{dn}}, in {new} (by hand {{hn}}, exact {{xn}}).",
                {"d": drift[worst], "h": values[worst], "x": exact[worst],
                 "dn": drift[new], "hn": values[new], "xn": exact[new]}, title="Drift"))
        return blocks
