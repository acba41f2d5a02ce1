"""What the page shows, computed from the network: the snapshot of a moment of training (losses,
weights, gradient norms, the output over the plane and every hidden unit's), and the numbers
behind one neuron or weight (``chainrule.trace`` on the current weights)."""

import base64
import math

import numpy as np

from ..layers import Dense
from ..losses import get_loss
from ..network import Network
from ..tracing import trace
from ..tracing.render import text_line
from ..tracing.spec import MAX_SAMPLES

__all__ = ["build_network", "Views", "trace_spec", "detail"]

BOUNDARY_GRID = 40  # the output over the plane: 40 × 40 points (a line: 160 points)
UNIT_GRID = 20  # each hidden unit's output: 20 × 20 points (a line: 60 points)


def build_network(config, data):
    """The network a configuration describes, sized for the data: the hidden layers, then the
    output the loss pairs with (sigmoid for bce, softmax over one unit per class for
    cross_entropy), linear for the other losses."""
    loss = get_loss(config.loss or _default_loss(data.classes))
    if loss.classification and data.classes is None:
        raise ValueError(f"loss {loss.name} is for classes, but the target is a number to predict; use mse")
    if data.classes is not None and data.classes > 2 and not loss.one_unit_per_class:
        raise ValueError(f"loss {loss.name} trains one output, but the data have {data.classes} classes, which need "
                         "one output per class; use cross_entropy")
    n_out = max(data.classes or 1, 2) if loss.one_unit_per_class else 1
    sizes = [data.X_train.shape[1], *config.layers, n_out]
    activations = [*config.activation, loss.fuses.name if loss.fuses else "linear"]
    layers = [Dense(n_in, n, act) for n_in, n, act in zip(sizes, sizes[1:], activations)]
    net = Network(layers, loss=loss, seed=config.seed, l2=config.l2)
    net.check_data(data.X_train, data.y_train)  # a loss that cannot take these targets says so now
    return net


def _default_loss(classes):
    if classes is None:
        return "mse"
    return "bce" if classes <= 2 else "cross_entropy"


def _bytes(values, low, high):
    """Values in [low, high] as base64 of one byte each, 0 … 255 (what a heatmap needs)."""
    scaled = np.clip((values - low) / (high - low), 0, 1) if high > low else np.full(values.shape, 0.5)
    return base64.b64encode(np.round(scaled * 255).astype(np.uint8).tobytes()).decode("ascii")


class Views:
    """The snapshots of one network on one data set. Its workspaces are its own: ``fit`` reuses
    one per batch size, which a pass here must not overwrite mid-step."""

    def __init__(self, net, data):
        self.net, self.data = net, data
        self.line = len(data.plane) == 1
        self.grids = [data.grid(BOUNDARY_GRID * (4 if self.line else 1)), data.grid(UNIT_GRID * (3 if self.line else 1))]
        self.sets = []
        for X, y in ((data.X_train, data.y_train), (data.X_test, data.y_test)):
            if len(X):
                X, Y = net.check_data(X, y)
                self.sets.append((X, Y, net.new_workspace(len(X))))
        self.grid_ws = [net.new_workspace(len(grid)) for grid in self.grids]

    def scores(self):
        """[(loss, accuracy or None)] on the train rows and the test rows with the current weights
        (as chainrule.training.evaluate computes them)."""
        net, out = self.net, []
        for X, Y, ws in self.sets:
            with np.errstate(over="ignore", invalid="ignore"):
                net.propagate(X, ws)
                loss = net.data_loss(Y, ws) + net.penalty(len(X))
            accuracy = net.loss.accuracy(ws.layers[-1].a, Y) if net.loss.classification else None
            out.append((float(loss), accuracy))
        return out

    def snapshot(self, epoch, steps, grad_norms):
        """The page's picture of this moment: epoch and steps done, losses, accuracies, weights,
        the last batch's gradient norm per layer, the output over the plane, every hidden unit's.
        A diverged run's numbers may be NaN or ±inf: the server sends them as null."""
        scores = self.scores() + [(None, None)] * (2 - len(self.sets))
        return {
            "type": "snapshot",
            "epoch": epoch,
            "steps": steps,
            "loss": {"train": scores[0][0], "test": scores[1][0]},
            "accuracy": {"train": scores[0][1], "test": scores[1][1]},
            "weights": [{"W": np.round(layer.W, 6).tolist(), "b": np.round(layer.b, 6).tolist()}
                        for layer in self.net.layers],
            "grad_norms": grad_norms or None,
            "output": self.output(),
            "units": self.units(),
        }

    def _propagate(self, which):
        with np.errstate(over="ignore", invalid="ignore"):
            self.net.propagate(self.grids[which], self.grid_ws[which])
        return self.grid_ws[which].layers

    def output(self):
        """The network's output over the plane: P(class 1) for two classes; the class and its
        probability for more; the value for a number (a curve over a line, a map over a plane)."""
        net, layers = self.net, self._propagate(0)
        a = layers[-1].a
        with np.errstate(over="ignore", invalid="ignore"):
            p = a if net.fused else net.loss.probabilities(a)
        if self.data.classes is not None and p.shape[1] == 1:
            return {"kind": "probability", "values": _bytes(p[:, 0], 0, 1)}
        if self.data.classes is not None:
            return {"kind": "classes", "classes": _bytes(p.argmax(axis=1), 0, 255),
                    "values": _bytes(p.max(axis=1), 0, 1)}
        y = np.concatenate([self.data.y_train, self.data.y_test]).astype(np.float64)
        if self.line:
            return {"kind": "curve", "values": np.round(a[:, 0], 5).tolist()}
        return {"kind": "value", "values": _bytes(a[:, 0], y.min(), y.max())}

    def units(self):
        """Each hidden unit's activation over the plane (bytes, scaled between the activation's own
        bounds, or ±max |a| when it has none), or over the line (numbers)."""
        out = []
        for layer, buffers in zip(self.net.layers[:-1], self._propagate(1)[:-1]):
            low, high = layer.activation.output_range
            units = []
            for j in range(layer.n_out):
                a = buffers.a[:, j]
                if self.line:
                    units.append(np.round(a, 4).tolist())
                    continue
                top = float(np.max(np.abs(a))) if len(a) else 1.0
                lo, hi = (low, high) if math.isfinite(low) and math.isfinite(high) else (-top, top)
                units.append(_bytes(a, lo, hi))
            out.append(units)
        return out


# ---- the numbers behind a neuron or a weight ------------------------------------------------


def trace_spec(net, X, Y, lr):
    """The trace spec (a dict, see chainrule.tracing.spec) of one gradient-descent step of ``net``
    with its current weights on the rows X, with targets Y as ``check_data`` returns them."""
    weights = {}
    for l, layer in enumerate(net.layers, start=1):
        weights[f"W{l}"], weights[f"b{l}"] = layer.W.tolist(), layer.b.tolist()
    return {
        "network": {"layers": [net.n_in] + [layer.n_out for layer in net.layers],
                    "activations": [layer.activation.name for layer in net.layers], "bias": True},
        "weights": weights,
        "train": {"x": np.asarray(X, np.float64).tolist(), "target": np.asarray(Y, np.float64).tolist(),
                  "loss": net.loss.name, "learning_rate": float(lr), "l2": float(net.l2)},
    }


def sample_rows(n_train, selected, batch):
    """The rows a detail traces: the selected training rows, or the first rows of a batch."""
    if selected:
        return list(selected)[:MAX_SAMPLES]
    return list(range(min(n_train, batch or n_train, MAX_SAMPLES)))


def detail(spec, what):
    """The numbers behind a neuron ({"kind": "neuron", "layer": l, "unit": j}) or a weight
    ({"kind": "weight", "layer": l, "from": i, "to": j}, 1-based; inputs are layer 0), from
    ``chainrule.trace(spec)``: each quantity's name, formula, numbers and exact value."""
    tr = trace(spec)
    n = len(spec["train"]["x"])
    if what["kind"] == "weight":
        at = f"[{what['layer']}][{what['from']}][{what['to']}]"
        keys = [f"W{at}", f"dW{at}", f"update_W{at}", f"W_new{at}"]
    else:
        at = f"[{what['layer']}][{what['unit']}]"
        per_sample = [f"z{at}", f"a{at}", f"delta{at}"]
        keys = [f"sample{s + 1}.{k}" if n > 1 else k for s in range(n) for k in per_sample]
        keys += [f"db{at}", f"b_new{at}"]
    lines = {line.key: line for line in _lines(tr)}
    shown = []
    for key in keys:
        if key in lines:
            line = lines[key]
            shown.append({"key": key, "formula": line.formula, "text": text_line(line), "value": line.value})
        elif key.startswith("W["):  # the weight itself is given, not computed
            l, i, j = what["layer"], what["from"], what["to"]
            shown.append({"key": key, "formula": "", "text": f"{key} = {spec['weights'][f'W{l}'][i - 1][j - 1]:.6g}",
                          "value": spec["weights"][f"W{l}"][i - 1][j - 1]})
    return {"type": "detail", "what": what, "lines": shown, "samples": n, "loss": tr.steps[0].loss}


def _lines(tr):
    from ..tracing.derivation import Table

    return [line for block in tr.worked() if isinstance(block, Table) for line in block.lines]
