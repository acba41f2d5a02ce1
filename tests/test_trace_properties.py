"""Property-based tests of chainrule.trace and Trace.check: random spec and answers documents —
random values in the shape of a spec, valid specs mutated key by key, the text of a spec file edited
character by character — each give a result or a ValueError, never another exception (a NumPy
RuntimeWarning included: pytest makes it an error), in time bounded by the trace's caps.

100 examples a test by default; CHAINRULE_HYPOTHESIS=thorough runs 3000 (see conftest.py)."""

import json
import math

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import chainrule as cr
from chainrule.activations import ACTIVATIONS
from chainrule.losses import LOSSES
from chainrule.tracing.render import FORMATS

LAB = "examples/trace/lab-2-2-1.toml"
NAMES = sorted(ACTIVATIONS) + sorted(LOSSES) + ["in_out", "out_in", "sigmod", ""]

# ---- random values ------------------------------------------------------------------------------

numbers = st.one_of(
    st.floats(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 5),
    st.sampled_from([0, 1e-320, 1e300, -1e300, 10**400, -(10**400), 2**63, 1e6, 0.5]),
    st.sampled_from([np.float32(0.55), np.float64(-0.25), np.int64(3), np.float32("inf"), np.uint8(1)]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.integers(), st.text(max_size=12), st.sampled_from(NAMES))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)
vectors = st.lists(numbers, min_size=1, max_size=4)
matrices = st.lists(vectors, min_size=1, max_size=4)
anything = st.one_of(values, vectors, matrices)


def odd(strategy):
    """Mostly ``strategy``, sometimes any value at all."""
    return st.one_of(strategy, strategy, strategy, values)


# ---- spec-shaped documents ----------------------------------------------------------------------

network = st.fixed_dictionaries({}, optional={
    "layers": odd(st.lists(st.integers(-1, 4), max_size=5)),
    "activation": odd(st.sampled_from(NAMES)),
    "activations": odd(st.lists(st.sampled_from(NAMES), max_size=4)),
    "bias": odd(st.booleans()),
    "layout": odd(st.sampled_from(NAMES)),
})
weights = st.dictionaries(st.sampled_from(["W1", "W2", "W3", "b1", "b2", "b3", "W0", "w1"]), anything, max_size=6)
train = st.fixed_dictionaries({}, optional={
    "x": anything, "target": anything, "loss": odd(st.sampled_from(NAMES)),
    "learning_rate": odd(numbers), "steps": odd(st.integers(-1, 4)), "l2": odd(numbers),
})
spec_shaped = st.fixed_dictionaries({}, optional={"network": odd(network), "weights": odd(weights), "train": odd(train)})


@st.composite
def valid_specs(draw):
    """A valid spec of a small network, its numbers mostly moderate and sometimes extreme."""
    sizes = draw(st.lists(st.integers(1, 3), min_size=2, max_size=4))
    loss = draw(st.sampled_from(sorted(LOSSES)))
    acts = draw(st.lists(st.sampled_from(sorted(ACTIVATIONS)), min_size=len(sizes) - 1, max_size=len(sizes) - 1))
    if loss == "bce":
        acts[-1] = "sigmoid"
    bias, layout = draw(st.booleans()), draw(st.sampled_from(["in_out", "out_in"]))
    n = draw(st.integers(1, 3))
    number = st.one_of(st.floats(-2, 2), st.floats(-2, 2), st.floats(-1e6, 1e6, allow_subnormal=True))
    weights = {}
    for l, (i, o) in enumerate(zip(sizes, sizes[1:]), start=1):
        rows, cols = (i, o) if layout == "in_out" else (o, i)
        weights[f"W{l}"] = draw(st.lists(st.lists(number, min_size=cols, max_size=cols), min_size=rows, max_size=rows))
        if bias:
            weights[f"b{l}"] = draw(st.lists(number, min_size=o, max_size=o))
    K = sizes[-1]
    target = {"bce": st.sampled_from([0.0, 1.0]), "hinge": st.sampled_from([-1.0, 1.0])}.get(loss, number)
    Y = [draw(st.lists(target, min_size=K, max_size=K)) for _ in range(n)]
    if loss == "cross_entropy":
        Y = [list(np.eye(K)[draw(st.integers(0, K - 1))]) for _ in range(n)]
    X = [draw(st.lists(number, min_size=sizes[0], max_size=sizes[0])) for _ in range(n)]
    return {
        "network": {"layers": sizes, "activations": acts, "bias": bias, "layout": layout},
        "weights": weights,
        "train": {"x": X[0] if n == 1 else X, "target": Y[0] if n == 1 else Y, "loss": loss,
                  "learning_rate": draw(st.sampled_from([0.1, 1.0, 1e-3, 50.0, 1e300])),
                  "steps": draw(st.integers(1, 3)), "l2": draw(st.sampled_from([0, 0, 0.1, 2.0, 1e300]))},
    }


# a value of the right kind, often wrong for this spec (another size, name or shape)
PLAUSIBLE = {
    "layers": st.lists(st.integers(0, 4), min_size=1, max_size=5), "activation": st.sampled_from(NAMES),
    "activations": st.lists(st.sampled_from(NAMES), max_size=4), "bias": st.booleans(),
    "layout": st.sampled_from(NAMES), "loss": st.sampled_from(NAMES), "learning_rate": numbers,
    "steps": st.integers(-1, 4), "l2": numbers,
}


@st.composite
def mutated_specs(draw):
    """A valid spec with one or two keys deleted, added, given a value of the right kind, given any
    value, or with one number inside a list replaced by an extreme or odd value."""
    spec = draw(valid_specs())
    for _ in range(draw(st.integers(1, 2))):
        table = spec[draw(st.sampled_from(sorted(spec)))]
        key = draw(st.sampled_from(sorted(table) + ["new"]))
        action = draw(st.sampled_from(["delete", "any", "plausible", "plausible", "element", "element"]))
        if action == "delete":
            table.pop(key, None)
        elif action == "plausible" or (action == "element" and not (isinstance(table.get(key), list) and table[key])):
            table[key] = draw(PLAUSIBLE.get(key, st.one_of(vectors, matrices)))  # (an empty list has no element)
        elif action == "element":
            flat = table[key] if not isinstance(table[key][0], list) else draw(st.sampled_from(table[key]))
            if flat:  # a row of a matrix may be empty after an earlier mutation
                flat[draw(st.integers(0, len(flat) - 1))] = draw(scalars)
        else:
            table[key] = draw(anything)
    return spec


def trace_or_value_error(spec, steps=None, hand=None):
    """The trace of ``spec`` rendered in every format, or None when it is a ValueError."""
    try:
        tr = cr.trace(spec, steps=steps, hand=hand)
    except ValueError as e:
        event(f"ValueError: {str(e)[:25]}")
        return None
    event("traced")
    for fmt in FORMATS:
        tr.render(fmt)
    assert all(math.isfinite(v) for v in tr.values().values())  # what a reader sees is finite
    return tr


def json_text(doc, depth=0):
    """``doc`` as JSON (NumPy scalars as numbers), its values inside ``depth`` more lists."""
    text = json.dumps(doc, default=lambda v: v.item())
    return text if not depth else text[:-1] + ', "deep": ' + "[" * depth + "1" + "]" * depth + "}"


def as_given(folder, spec, how, depth=0):
    """The spec as a dict, or as the path of a JSON file holding it (nested ``depth`` more deeply)."""
    if how == "dict":
        return spec
    path = folder / "spec.json"
    path.write_text(json_text(spec, depth))
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("properties")


# far beyond MAX_DEPTH, and beyond the parsers' recursion (a RecursionError before)
depths = st.one_of(st.just(0), st.just(0), st.integers(1, 40), st.integers(900, 3000))


@given(spec_shaped, st.sampled_from(["dict", "json"]), depths)
def test_spec_shaped_documents(folder, spec, how, depth):
    trace_or_value_error(as_given(folder, spec if spec else {"": 0}, how, depth))


@given(mutated_specs(), st.one_of(st.none(), st.integers(1, 3), values), st.one_of(st.none(), st.integers(0, 6), values),
       st.sampled_from(["dict", "json"]))
def test_mutated_specs_with_random_steps_and_hand(folder, spec, steps, hand, how):
    trace_or_value_error(as_given(folder, spec, how), steps, hand)


@given(valid_specs(), st.integers(0, 6))
def test_valid_specs_give_a_trace_or_say_they_overflow(spec, hand):
    """A valid spec is traced, exactly and by hand, unless its numbers overflow float64."""
    for h in (None, hand):
        try:
            tr = cr.trace(spec, hand=h)
        except ValueError as e:
            assert "overflows float64" in str(e)
            event("overflows float64")
            continue
        event("traced")
        for fmt in FORMATS:
            tr.render(fmt)


# ---- files ---------------------------------------------------------------------------------------

with open(LAB, encoding="utf-8") as f:
    LAB_TEXT = f.read()
ANSWERS_TEXT = '"z[1][1]" = 0.21\n"a[1][1]" = 0.56\n[step2]\n"W_new[2][1][1]" = 0.26\n'
TOML_PIECES = st.sampled_from(list("[]{}\"'.=,#\n\\ ") + ["0.5", "1e400", "nan", "inf", "true", "[[", "]]", '"""',
                                                         "1979-05-27", "a.b.c", "é", "\x00", "\ud7ff"])


@st.composite
def edited(draw, text):
    """``text`` with a few characters or TOML pieces inserted, deleted or repeated."""
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["insert", "delete", "repeat"]))
        if edit == "insert":  # a piece repeated: "[" 3000 times nests past the parser's recursion
            text = text[:at] + draw(TOML_PIECES | st.text(max_size=3)) * draw(st.integers(1, 40) | depths) + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
        else:
            text = text[:at] + text[at:at + draw(st.integers(1, 30))] * draw(st.integers(2, 50)) + text[at:]
    return text


@given(edited(LAB_TEXT))
def test_edited_spec_files(folder, text):
    path = folder / "spec.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    trace_or_value_error(path)


# ---- answers ---------------------------------------------------------------------------------------

TRACES = {}


def traced(name):
    """The lab's trace for 2 steps, and a 2-sample, 2-step trace with biases and l2 (built once)."""
    if name not in TRACES:
        spec = LAB if name == "lab" else {
            "network": {"layers": [2, 2, 2], "activations": ["tanh", "softmax"], "bias": True},
            "weights": {"W1": [[0.1, -0.2], [0.3, 0.4]], "W2": [[0.5, 0.1], [-0.3, 0.2]], "b1": [0.1, 0.0],
                        "b2": [0.0, 0.2]},
            "train": {"x": [[1, 2], [0.5, -1]], "target": [[1, 0], [0, 1]], "loss": "cross_entropy",
                      "learning_rate": 0.5, "l2": 0.1},
        }
        TRACES[name] = cr.trace(spec, steps=2)
    return TRACES[name]


@st.composite
def answers(draw, tr):
    """A random answers document for ``tr``: its own names (with or without step and sample
    prefixes, in tables or dotted), odd names, right, wrong and odd values, a tolerance."""
    names = sorted(tr.values())
    own, plain = st.sampled_from(names), st.sampled_from([n for n in names if not n.startswith("step")])
    key = st.one_of(  # mostly the trace's own names, so that many documents are checked to the end
        own, own, own, own, own,
        st.builds(lambda s, n: f"step{s}.{n}", st.integers(0, 4), plain),
        st.builds(lambda s, n: f"sample{s}.{n.split('.')[-1]}", st.integers(0, 3), plain),
        st.builds(lambda n, c: n + c, own, st.sampled_from(["\n", "\r", "\x00", " ", ".", "\u2028"])),
        st.text(max_size=12),
    )
    value = st.one_of(st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1), numbers, scalars, values)
    doc = draw(st.dictionaries(key, value, min_size=1, max_size=6))
    if draw(st.integers(0, 3)) == 0:
        doc["tolerance"] = draw(st.one_of(st.floats(0, 0.1), numbers, scalars))
    if draw(st.integers(0, 3)) == 0:
        table = draw(st.sampled_from(["step2", "sample1", "step2.sample2"]))
        doc[table] = draw(st.dictionaries(st.one_of(plain, st.text(max_size=6)), value, max_size=3))
    return doc


def check_or_value_error(tr, doc):
    try:
        report = tr.check(doc)
    except ValueError as e:
        event(f"ValueError: {str(e)[:25]}")
        return None
    event("checked")
    report.render()
    assert report.passed == all(right for _, _, right in report.results)
    return report


@given(st.data(), st.sampled_from(["lab", "batch"]), st.sampled_from(["dict", "json", "edited toml"]))
def test_answers_documents(folder, data, name, how):
    tr = traced(name)
    if how == "edited toml":
        doc = folder / "answers.toml"
        doc.write_bytes(data.draw(edited(ANSWERS_TEXT)).encode("utf-8", "surrogatepass"))
    else:
        doc = data.draw(answers(tr))
        if how == "json":
            (folder / "answers.json").write_text(json_text(doc, data.draw(depths)))
            doc = folder / "answers.json"
    check_or_value_error(tr, doc)


@given(st.data())
def test_the_right_answers_pass_and_a_changed_one_fails(data):
    """Beyond not crashing: the exact values pass, and one of them moved by more than the tolerance fails."""
    tr = traced(data.draw(st.sampled_from(["lab", "batch"])))
    exact = tr.values()
    keys = data.draw(st.lists(st.sampled_from(sorted(exact)), min_size=1, max_size=8, unique=True))
    assert tr.check({k: exact[k] for k in keys} | {"tolerance": 1e-12}).passed
    wrong = data.draw(st.sampled_from(keys))
    report = tr.check({k: exact[k] + (0.01 if k == wrong else 0) for k in keys} | {"tolerance": 1e-3})
    assert not report.passed and report.first_wrong[0].key == wrong
