"""The preprocessing a model carries: from a table's raw rows to the network's inputs, and from its
outputs back to the target's classes or units; and ``Model``, a network with that preprocessing,
saved in one pickle-free model file.

A ``Preprocessor`` is fitted on the training rows of a ``chainrule.datasets.Table``:

- a column whose cells are mostly numbers is a number feature; a column of text is a category
  feature, one-hot encoded over its sorted values (scikit-learn's ``OneHotEncoder``; a value not seen
  in training encodes as all zeros, its ``handle_unknown="ignore"``), at most ``max_categories`` of
  them;
- a missing cell is filled, with ``impute``, by the training rows' mean, median or most frequent
  value of its column (scikit-learn's ``SimpleImputer``; text columns always take the most frequent
  value, the smallest one on a tie); without ``impute`` a missing cell is an error that names it;
- the encoded features are standardized, x′ = (x − μ) / σ with the training rows' μ and σ (σ = 0
  becomes 1), unless ``standardize=False``.

A ``Target`` maps the target column to what the network learns: classes (any K distinct labels,
numbers or text, sorted) to the codes 0 … K−1, or a number to y′ = (y − μ) / σ; and maps the
network's outputs back. ``infer_task`` decides between the two when the user does not.

Everything is plain numbers, strings and lists (``to_dict``), which ``chainrule.modelfile`` writes as
JSON and checks field by field on reading.
"""

from types import SimpleNamespace

import numpy as np

from . import datasets, memory, modelfile
from .datasets.table import Table, column_list
from .network import load as load_network

__all__ = ["AUTO_CLASSES", "AUTO_TEXT_CLASSES", "IMPUTE", "MAX_CATEGORIES", "MAX_CLASSES", "TASKS", "Model",
           "Preprocessor", "Target", "codes", "infer_task", "prepare"]

TASKS = modelfile.TASKS  # ("classification", "regression")
IMPUTE = ("mean", "median", "most_frequent")
MAX_CATEGORIES = 50  # a text column with more distinct values is refused (one input each)
MAX_CLASSES = 1000  # a classification target with more classes is refused (one output each)
AUTO_CLASSES = 20  # a whole-number target with at most this many distinct values is taken as classes
AUTO_TEXT_CLASSES = 100  # a text target with more distinct values needs task="classification" said outright


def prepare(table, target, task=None, test_size=0.25, seed=0, impute=None, drop_missing=False, drop=(),
            standardize=True, max_classes=MAX_CLASSES, max_categories=MAX_CATEGORIES):
    """A table made ready to train on, as ``chainrule train`` makes it: the rows with a missing cell
    left out (``drop_missing``), the ``task`` decided (``infer_task``), the rows split (``test_size``,
    seeded by ``seed``), and the ``Target`` and ``Preprocessor`` fitted on the training rows (every
    column but the target and ``drop`` a feature). Returns X_train, y_train, X_test, y_test, the
    ``preprocessor`` (its ``target`` inside), ``rows`` (the table's, after dropping) and ``notes``,
    the sentences that say what was decided."""
    notes, skip = [], set(drop)  # a set: a table may have many thousands of columns
    kept = [name for name in table.names if name not in skip]
    if drop_missing:
        table, dropped = table.drop_missing(kept)
        notes.append(f"dropped {dropped:,} row(s) with missing cells (--drop-missing)")
        if not len(table):
            raise ValueError(f"every row of {table.source} misses a cell; --drop-missing leaves nothing to train on")
    if table.missing(target).any():  # a target is never imputed
        raise ValueError(f"the target {target!r} is missing in {table.describe_missing([target])}; "
                         "remove those rows or pass --drop-missing")
    if impute is None:
        where = table.describe_missing(kept)
        if where:
            raise ValueError(f"missing cells in {table.source}: {where}; fill them with --impute "
                             "mean|median|most_frequent or drop those rows with --drop-missing")
    task, why = infer_task(table, target, task)
    notes.insert(0, why)
    rows = np.arange(len(table))
    train_rows, test_rows, _, _ = datasets.train_test_split(rows, rows, test_size=test_size, seed=seed)
    train, test = table.take(train_rows), table.take(test_rows)
    target = Target.fit(train if task == "regression" else table, target, task, scale=standardize,
                        max_classes=max_classes)
    pre = Preprocessor.fit(table, target, train_rows, impute=impute, drop=drop, max_categories=max_categories,
                           standardize=standardize)
    categories = [f"{f['name']!r} ({len(f['categories'])})" for f in pre.features if f["kind"] == "category"]
    if categories:
        notes.append(f"one-hot encoded: {', '.join(categories)}")
    return SimpleNamespace(X_train=pre.transform(train), y_train=target.encode(train), X_test=pre.transform(test),
                           y_test=target.encode(test), preprocessor=pre, rows=len(table), notes=notes)


def infer_task(table, target, task=None):
    """(task, the sentence that says why): ``task`` when given (refused for a text target and
    "regression"); else classification for text of at most AUTO_TEXT_CLASSES distinct values (more is
    refused: an id or free text would make one output per row) or at most AUTO_CLASSES distinct whole
    numbers, regression for other numbers."""
    numbers, present = table.count_numbers(target)
    if numbers * 2 < present:  # a text column (a few numbers among names are names too)
        if task == "regression":
            raise ValueError(f"the target {target!r} holds text ({_first_text(table, target)!r}), which cannot be "
                             "a number to predict; use --task classification")
        cells = table.strings(target)
        distinct = len(set(cells[~table.missing(target)].tolist()))
        if task is None and distinct > AUTO_TEXT_CLASSES:
            raise ValueError(f"the target {target!r} has {distinct:,} distinct text values: as classes, one output "
                             f"each; if that is what you want, say --task classification (task='classification')")
        return "classification", f"treating {target!r} as classification: {distinct:,} distinct text values"
    values = np.unique(table.numbers(target)[~table.missing(target)])
    whole = bool(np.all(values == np.round(values)))
    if task is None:
        task = "classification" if whole and len(values) <= AUTO_CLASSES else "regression"
        kind = "distinct whole numbers" if whole else "distinct numeric values"
        other = "regression" if task == "classification" else "classification"
        return task, f"treating {target!r} as {task}: {len(values):,} {kind}; use --task {other} to override"
    return task, f"treating {target!r} as {task} (as asked)"


def _first_text(table, name):
    strings = table.strings(name)
    return next((cell for cell in strings if cell is not None and not _is_number(cell)), "")


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---- the target ---------------------------------------------------------------------------------


class Target:
    """The target column ``name``: ``classes`` (K labels, code k is classes[k]) for classification;
    for regression the training rows' ``mean`` and ``std``, and whether the network learns the
    target ``scaled``, y′ = (y − mean) / std, or as it is."""

    def __init__(self, name, task, classes=None, mean=0.0, std=1.0, scaled=False):
        self.name, self.task = name, task
        self.classes = None if classes is None else list(classes)
        self.mean, self.std, self.scaled = float(mean), float(std), bool(scaled)

    @classmethod
    def fit(cls, table, name, task, scale=True, max_classes=1000):
        """The target of column ``name`` of ``table`` (whose rows all have a target), for ``task``:
        a regression target's mean and std are these rows'."""
        if task == "regression":
            y = table.numbers(name)
            missing = np.isnan(y)
            if missing.any():
                raise ValueError(f"the target {name!r} is missing in {table.describe_missing([name])}; remove those "
                                 "rows or pass --drop-missing")
            std = float(y.std())
            return cls(name, task, mean=float(y.mean()), std=std if std > 0 else 1.0, scaled=scale)
        classes = sorted(set(_labels(table, name).tolist()))
        if len(classes) < 2:
            raise ValueError(f"the target {name!r} has {len(classes)} class(es) ({', '.join(map(repr, classes))}); "
                             "there is nothing to learn")
        if len(classes) > max_classes:
            raise ValueError(f"the target {name!r} has {len(classes):,} distinct values: as classes they would need "
                             f"{len(classes):,} outputs, more than --max-classes {max_classes}. For a number to "
                             "predict, use --task regression; for that many classes, raise --max-classes")
        return cls(name, task, classes=[_json_label(c) for c in classes])

    def encode(self, table):
        """The target of every row of ``table``: class codes (int64) or the values the network learns."""
        if self.task == "regression":
            y = table.numbers(self.name)
            return (y - self.mean) / self.std if self.scaled else y
        code = {label: k for k, label in enumerate(self.classes)}
        labels = _labels(table, self.name, numeric=not isinstance(self.classes[0], str))
        unknown = [label for label in labels.tolist() if label not in code]
        if unknown:
            raise ValueError(f"the target {self.name!r} holds {unknown[0]!r}, not one of the model's classes "
                             f"({column_list([str(c) for c in self.classes])})")
        return np.array([code[label] for label in labels.tolist()], dtype=np.int64)

    def decode(self, codes_or_values):
        """Class labels for codes; values in the target's units for what the network outputs."""
        if self.task == "regression":
            values = np.asarray(codes_or_values, np.float64)
            return values * self.std + self.mean if self.scaled else values
        return np.array(self.classes, dtype=object if isinstance(self.classes[0], str) else None)[codes_or_values]

    def to_dict(self):
        if self.task == "regression":
            return {"name": self.name, "task": self.task, "mean": self.mean, "std": self.std, "scaled": self.scaled}
        return {"name": self.name, "task": self.task, "classes": self.classes}

    @classmethod
    def from_dict(cls, d):
        return cls(d["name"], d["task"], d.get("classes"), d.get("mean", 0.0), d.get("std", 1.0), d.get("scaled", False))


def _labels(table, name, numeric=None):
    """The labels of column ``name``: floats for a number column, strings for a text one (missing
    cells are an error: a row without a target cannot be learned from or scored)."""
    missing = table.missing(name)
    if missing.any():
        raise ValueError(f"the target {name!r} is missing in {table.describe_missing([name])}; remove those rows "
                         "or pass --drop-missing")
    if numeric is None:
        numbers, present = table.count_numbers(name)
        numeric = numbers == present
    return table.numbers(name) if numeric else table.strings(name)


def _json_label(label):
    """A class label as JSON keeps it: a whole number as an int, other numbers as floats, text as is."""
    if isinstance(label, str):
        return label
    return int(label) if float(label).is_integer() and abs(label) <= 2.0**53 else float(label)


# ---- the features -------------------------------------------------------------------------------


class Preprocessor:
    """Raw rows → the network's inputs (see the module's docstring). ``features``: one dict per
    column, in order: {"name", "kind": "number", "fill"} or {"name", "kind": "category",
    "categories", "fill"} (fill None: a missing cell is an error); ``mean``, ``std``: the
    standardization of the encoded columns (None: not standardized)."""

    def __init__(self, features, target, mean=None, std=None):
        self.features, self.target = features, target
        self.mean = None if mean is None else np.asarray(mean, np.float64)
        self.std = None if std is None else np.asarray(std, np.float64)

    @property
    def n_inputs(self):
        return sum(1 if f["kind"] == "number" else len(f["categories"]) for f in self.features)

    @property
    def columns(self):
        return [f["name"] for f in self.features]

    @classmethod
    def fit(cls, table, target, rows=None, impute=None, drop=(), max_categories=MAX_CATEGORIES, standardize=True):
        """Fitted on the ``rows`` (indices; default all) of ``table``; every column but ``target`` (a
        Target) and ``drop`` is a feature. Which columns are numbers and which text is judged on all
        the rows, so that the training rows alone cannot make a number column look like text."""
        present, dropped = set(table.names), set(drop)  # sets: a table may have many thousands of columns
        unknown = [name for name in drop if name not in present]
        if unknown:
            raise ValueError(f"--drop {unknown[0]}: {table.source} has no such column; the columns are: "
                             f"{column_list(table.names)}")
        if target.name in drop:
            raise ValueError(f"--drop {target.name}: that is the target column; choose another --target")
        names = [name for name in table.names if name != target.name and name not in dropped]
        if not names:
            raise ValueError(f"{table.source} has no column besides the target {target.name!r}; there are no "
                             "features to learn from")
        numeric = {name: _is_number_column(table, name) for name in names}
        train = table if rows is None else table.take(rows)
        pre = cls([_fit_feature(train, name, numeric[name], impute, max_categories) for name in names], target)
        if standardize:
            X = pre.encode(train)
            std = X.std(axis=0)
            pre.mean, pre.std = X.mean(axis=0), np.where(std > 0, std, 1.0)
        return pre

    def encode(self, table):
        """The one-hot encoded, imputed features of ``table`` (float64), before standardization."""
        present = set(table.names)
        missing = [name for name in self.columns if name not in present]
        if missing:
            raise ValueError(f"{table.source} has no column(s) {column_list(missing)}, which the model was trained "
                             f"on; it needs: {column_list(self.columns)}")
        unfilled = [f["name"] for f in self.features if f["fill"] is None and table.missing(f["name"]).any()]
        if unfilled:
            raise ValueError(f"missing cells in {table.source}: {table.describe_missing(unfilled)}; the preprocessing "
                             "has no value to fill them with (fitted without impute=, --impute on the command line): "
                             "fill or remove them")
        one_hot = sum(len(f["categories"]) for f in self.features if f["kind"] == "category")
        # the one-hot columns and the matrix they are stacked into (a model file may declare many categories)
        memory.require(2 * len(table) * one_hot * 8, f"the {one_hot:,} one-hot inputs of {len(table):,} rows",
                       "use fewer rows at a time, or leave out the text columns of many categories (--drop)")
        return np.column_stack([_encode_feature(table, f) for f in self.features])

    def transform(self, table):
        """The network's inputs for the rows of ``table``: encoded, then standardized."""
        X = self.encode(table)
        return X if self.mean is None else (X - self.mean) / self.std

    def to_dict(self):
        return {"version": modelfile.PREPROCESSING_VERSION, "features": self.features,
                "mean": None if self.mean is None else self.mean.tolist(),
                "std": None if self.std is None else self.std.tolist(), "target": self.target.to_dict()}

    @classmethod
    def from_dict(cls, d):
        """From what ``to_dict`` returned, as ``chainrule.modelfile.read`` checked it."""
        return cls([dict(f) for f in d["features"]], Target.from_dict(d["target"]), d["mean"], d["std"])


def _is_number_column(table, name):
    """Whether column ``name`` is mostly numbers (a text cell among them is then an error that names it)."""
    numbers, present = table.count_numbers(name)
    if present == 0:
        raise ValueError(f"column {name!r} of {table.source} has no values; leave it out with --drop {name}")
    if numbers * 2 < present:
        return False
    table.numbers(name)  # raises, naming the first cell that is not a number
    return True


def _fit_feature(table, name, numeric, impute, max_categories):
    if not (~table.missing(name)).any():
        raise ValueError(f"column {name!r} has no values in the training rows; leave it out with --drop {name}")
    if numeric:
        values = table.numbers(name)
        values = values[~np.isnan(values)]
        fill = None if impute is None else _number_fill(values, impute)
        return {"name": name, "kind": "number", "fill": fill}
    cells = table.strings(name)
    categories, counts = np.unique(cells[cells != None].astype(str), return_counts=True)  # noqa: E711 (elementwise)
    if len(categories) > max_categories:
        raise ValueError(f"column {name!r} of {table.source} has {len(categories):,} distinct text values, more "
                         f"than --max-categories {max_categories} one-hot inputs; leave it out with --drop {name}, "
                         "or raise --max-categories")
    fill = None if impute is None else str(categories[np.argmax(counts)])  # the first, smallest, of the most frequent
    return {"name": name, "kind": "category", "categories": categories.tolist(), "fill": fill}


def _number_fill(values, impute):
    if impute == "mean":
        return float(values.mean())
    if impute == "median":
        return float(np.median(values))
    distinct, counts = np.unique(values, return_counts=True)
    return float(distinct[np.argmax(counts)])


def _encode_feature(table, feature):
    """One column (a number feature) or K columns (a category feature's one-hot rows)."""
    missing = table.missing(feature["name"])
    if feature["kind"] == "number":
        return np.where(missing, feature["fill"] if missing.any() else 0.0, table.numbers(feature["name"]))
    cells = table.strings(feature["name"])
    cells[missing] = feature["fill"]
    index = {category: k for k, category in enumerate(feature["categories"])}
    codes = np.fromiter((index.get(cell, -1) for cell in cells), np.int64, len(cells))
    one_hot = np.zeros((len(cells), len(index)))
    known = codes >= 0  # a category the training rows did not have: all zeros
    one_hot[np.flatnonzero(known), codes[known]] = 1.0
    return one_hot


# ---- a model: preprocessing and network ---------------------------------------------------------


class Model:
    """A trained ``network`` and the ``preprocessor`` that turns raw rows into its inputs.

    ``predict(rows)`` gives class labels or values in the target's units, ``predict_proba(rows)``
    the classes' probabilities; rows are a Table, a pandas DataFrame, a dict of columns or a list of
    records (dicts), with the training columns (others are ignored). ``save(path)`` writes one model
    file; ``Model.load(path)`` reads it back.
    """

    def __init__(self, network, preprocessor):
        if network.n_in != preprocessor.n_inputs:
            raise ValueError(f"the network takes {network.n_in} inputs but the preprocessing gives "
                             f"{preprocessor.n_inputs}")
        self.network, self.preprocessor = network, preprocessor

    @property
    def target(self):
        return self.preprocessor.target

    @property
    def classes(self):
        return self.target.classes

    def inputs(self, rows):
        """The network's inputs for raw ``rows``."""
        return self.preprocessor.transform(Table.from_python(rows))

    def predict(self, rows):
        """Class labels, or values in the target's units, one per row."""
        return self.decode(self.network.predict(self.inputs(rows)))

    def predict_proba(self, rows):
        """(n_rows, K) probabilities of the K classes, in the order of ``classes``."""
        return self.probabilities(self.network.predict(self.inputs(rows)))

    def decode(self, outputs):
        """Predictions from the network's ``outputs`` (what ``network.predict`` returns)."""
        if self.target.task == "regression":
            return self.target.decode(outputs[:, 0])
        return self.target.decode(codes(outputs, self.network.loss.name))

    def probabilities(self, outputs):
        if self.target.task == "regression" or self.network.loss.name not in ("bce", "cross_entropy"):
            raise ValueError(f"class probabilities need a classifier trained with bce or cross_entropy; this "
                             f"model's loss is {self.network.loss.name} ({self.target.task})")
        return np.column_stack([1 - outputs[:, 0], outputs[:, 0]]) if outputs.shape[1] == 1 else outputs

    def save(self, path):
        net = self.network
        modelfile.write(path, net.architecture(), net.arrays(), preprocessing=self.preprocessor.to_dict())

    @classmethod
    def load(cls, path, activations=None):
        """The model saved at ``path`` (checked as ``chainrule.modelfile.read`` checks every model file)."""
        # the section checked here, the network built by chainrule.load (which reads the file again);
        # Model() checks that the two fit each other, as the file's checks did
        _, _, preprocessing = modelfile.read(path, preprocessing=True)
        if preprocessing is None:
            raise ValueError(f"{path!r} holds a network without its preprocessing (saved by Network.save or an "
                             "older chainrule); load it with chainrule.load and give it prepared inputs")
        return cls(load_network(path, activations), Preprocessor.from_dict(preprocessing))

    def __repr__(self):
        return f"Model({self.network!r}, target={self.target.name!r}, {self.target.task})"


def codes(outputs, loss):
    """Class codes from a classifier's outputs: the largest of K outputs; of one output, 1 where it
    is over 0.5 (a probability: bce) or over 0 (a score in −1 … 1: hinge)."""
    if outputs.shape[1] > 1:
        return outputs.argmax(axis=1)
    return (outputs[:, 0] > (0.0 if loss == "hinge" else 0.5)).astype(np.int64)
