"""chainrule.trace on hostile and careless input: every file, spec, answer and option outside what a
worked solution can be is one ValueError naming the problem (and the limit), never another exception,
and `chainrule trace` turns it into one line and exit status 2."""

import json
import os
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.tracing import spec as limits

LAB = "examples/trace/lab-2-2-1.toml"
DEEP = 10_000  # levels: far past Python's recursion limit, which raised RecursionError before


def lab():
    return {
        "network": {"layers": [2, 2, 1], "activation": "sigmoid"},
        "weights": {"W1": [[0.2, 0.3], [0.2, 0.3]], "W2": [[0.3], [0.9]]},
        "train": {"x": [0.35, 0.7], "target": [0.5], "loss": "half_sse", "learning_rate": 1.0},
    }


def changed(section, **values):
    spec = lab()
    spec[section].update(values)
    return spec


def nested_list(depth):
    """[[[…]]] ``depth`` lists deep, built without recursion."""
    inner = []
    for _ in range(depth - 1):
        inner = [inner]
    return inner


# ---- files: depth, size, kind ------------------------------------------------------------------

DEEP_FILES = {
    "json lists": ("deep.json", '{"a": ' + "[" * DEEP + "]" * DEEP + "}"),
    "json objects": ("deep.json", '{"a": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}"),
    "toml arrays": ("deep.toml", "a = " + "[" * DEEP + "]" * DEEP + "\n"),
    "toml inline tables": ("deep.toml", "a = " + "{b = " * DEEP + "1" + "}" * DEEP + "\n"),
    # tomllib joins a dotted key's parts one by one (time quadratic in their number): refused before
    "toml dotted key": ("deep.toml", ".".join(["a"] * 100_000) + " = 1\n"),
    "toml quoted dotted key": ("deep.toml", ".".join(['"a"'] * 50_000) + " = 1\n"),
    "toml table header": ("deep.toml", "[" + " . ".join(["a"] * DEEP) + "]\nb = 1\n"),
    "toml table in table": ("deep.toml", "".join(f"[{'.'.join(['a'] * d)}]\n" for d in range(1, 20))),
}


@pytest.mark.parametrize("case", DEEP_FILES)
@pytest.mark.parametrize("what", ["spec", "answers file"])
def test_a_deeply_nested_file_is_one_value_error_naming_the_file_and_the_limit(tmp_path, case, what):
    name, content = DEEP_FILES[case]
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError) as e:
        cr.trace(path) if what == "spec" else cr.trace(LAB).check(path)
    assert str(path) in str(e.value) and f"more than {limits.MAX_DEPTH} levels deep, the limit" in str(e.value)


@pytest.mark.parametrize("key", [".".join(["a"] * 17), " . ".join(['"a"'] * 17), "[" + ".".join(["b"] * 17) + "]"])
def test_a_long_dotted_key_is_refused_before_tomllib_reads_it(tmp_path, monkeypatch, key):
    """tomllib joins a key's parts one by one, in time quadratic in their number (minutes for a
    file of 200 KB): such a key must not reach it."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    def refuse(text):
        raise AssertionError("tomllib was given a key too deep to read")

    tr = cr.trace(LAB)
    monkeypatch.setattr(tomllib, "loads", refuse)
    path = tmp_path / "answers.toml"
    path.write_text(key + (" = 1\n" if not key.startswith("[") else "\nc = 1\n"))
    with pytest.raises(ValueError, match="levels deep"):
        tr.check(path)


def test_nesting_up_to_the_limit_is_read(tmp_path):
    """A key of 16 dotted parts is the top table and 15 inside it, 16 levels: read, and then refused
    as a name, not as too deep; one more part is too deep."""
    path = tmp_path / "answers.toml"
    path.write_text(".".join(["a"] * limits.MAX_DEPTH) + " = 1\n")
    with pytest.raises(ValueError, match="the trace has no quantity 'a.a.a"):
        cr.trace(LAB).check(path)
    path.write_text(".".join(["a"] * (limits.MAX_DEPTH + 1)) + " = 1\n")
    with pytest.raises(ValueError, match="levels deep"):
        cr.trace(LAB).check(path)


def test_deep_dicts_given_to_the_api_are_refused_too():
    spec = lab()
    spec["weights"]["W1"] = nested_list(DEEP)
    with pytest.raises(ValueError, match=f"the spec nests tables and lists more than {limits.MAX_DEPTH} levels"):
        cr.trace(spec)
    deep = {}
    inner = deep
    for _ in range(DEEP):
        inner["step2"] = {}
        inner = inner["step2"]
    with pytest.raises(ValueError, match="answers nests tables and lists more than"):
        cr.trace(LAB).check(deep)


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text("# " + "x" * limits.MAX_FILE_BYTES + "\n" + open(LAB, encoding="utf-8").read())
    for call in (lambda: cr.trace(path), lambda: cr.trace(LAB).check(path)):
        with pytest.raises(ValueError, match=r"big.toml' is larger than 256 KiB, the limit"):
            call()
    path.write_text(open(LAB, encoding="utf-8").read())  # the same spec within the limit is read
    assert cr.trace(path).values()["z[1][1]"] == pytest.approx(0.21)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_a_device_or_a_folder_is_not_read(tmp_path):
    fifo = tmp_path / "spec.toml"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    for path in (fifo, "/dev/zero", tmp_path):
        if not os.path.exists(path):
            continue
        with pytest.raises(ValueError, match="is not a regular file"):
            cr.trace(path)
        with pytest.raises(ValueError, match="is not a regular file"):
            cr.trace(LAB).check(path)


@pytest.mark.parametrize("source, message", [
    (5, "the spec must be the path of a TOML or JSON file, got 5"),
    ("no\0such.toml", "cannot read the spec"),
    ("no-such.toml", "cannot read the spec 'no-such.toml': No such file or directory"),
])
def test_what_is_not_a_path_is_named(source, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        cr.trace(source)


# ---- keys and values --------------------------------------------------------------------------


@pytest.mark.parametrize("answers, message", [
    ({"z[1][1]\n": 0.21}, r"the trace has no quantity 'z\[1\]\[1\]\\n'"),
    ({"step2.\nz[1][1]": 0.21}, "is about step 2"),
    ({"z[1][1]": "0.21"}, r"answers: 'z\[1\]\[1\]' = '0.21' is not valid; expected a finite number"),
    ({"z[1][1]": [0.21]}, r"'z\[1\]\[1\]' = \[0.21\] is not valid"),
    ({"z[1][1]": None}, r"'z\[1\]\[1\]' = None is not valid"),
    ({"z[1][1]": True}, r"'z\[1\]\[1\]' = True is not valid"),
    ({"z[1][1]": 10**400}, r"'z\[1\]\[1\]' = 1000.*000 is not valid"),
    ({"z[1][1]": float("nan")}, r"'z\[1\]\[1\]' = nan is not valid"),
    ({"z[1][1]": 1 + 2j}, r"'z\[1\]\[1\]' = \(1\+2j\) is not valid"),
    ({2: 0.21}, "answers: the key 2 is not a string"),
    ({("z", 1): 0.21}, r"answers: the key \('z', 1\) is not a string"),
    ({"tolerance": 10**400, "z[1][1]": 0.21}, "tolerance = 1000.*000 is not valid"),
    ({"tolerance": "1e-3", "z[1][1]": 0.21}, "tolerance = '1e-3' is not valid"),
    ({"step" + "9" * 5000 + ".z[1][1]": 0.21}, "the trace has no quantity 'step999"),
    ({"x" * 100_000: 0.21}, "the trace has no quantity 'xxx"),
])
def test_odd_answer_keys_and_values_are_a_value_error_naming_the_key(answers, message):
    with pytest.raises(ValueError, match=message) as e:
        cr.trace(LAB).check(answers)
    assert len(str(e.value)) < 1000  # a long key or value is shortened in the message


@pytest.mark.parametrize("text, message", [
    ('"z[1][1]" = 1979-05-27\n', r"'z\[1\]\[1\]' = datetime.date\(1979, 5, 27\) is not valid"),
    ('"z[1][1]" = nan\n', r"'z\[1\]\[1\]' = nan is not valid"),
    ('"z[1]\\n[1]" = 0.21\n', r"no quantity 'z\[1\]\\n\[1\]'"),
    ('"z[1][1]" = [[0.21]]\n', r"'z\[1\]\[1\]' = \[\[0.21\]\] is not valid"),
])
def test_odd_answers_in_a_toml_file(tmp_path, text, message):
    path = tmp_path / "answers.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        cr.trace(LAB).check(path)


def test_numpy_scalars_are_answers_as_written():
    tr = cr.trace(LAB)  # a[1][1] = 0.552308
    assert tr.check({"a[1][1]": np.float32(0.55), "z[1][1]": np.int64(0), "tolerance": np.float64(0.3)}).passed
    assert tr.check({"a[1][1]": np.float32(0.55)}).passed  # 0.55 as written, not 0.550000011920929
    assert not tr.check({"a[1][1]": np.float64(0.56)}).passed


@pytest.mark.parametrize("spec, message", [
    ({**lab(), 3: {}}, "the spec: the key 3 is not a string"),
    (changed("train", learning_rate=10**400), "train.learning_rate = 1000.*000 is not valid"),
    (changed("train", x=[0.35, 10**400]), r"train.x = \[\[0.35, 1000.*000\]\] is not"),
    (changed("train", l2=-0.1), r"train.l2 = -0.1 is not valid; expected a number ≥ 0: λ of the penalty"),
    (changed("train", l2=float("inf")), "train.l2 = inf is not valid"),
    (changed("train", l2="0.1"), "train.l2 = '0.1' is not valid"),
    (changed("weights", W1=list(range(100_000))), r"weights.W1 = \[0, 1, 2, 3, 4, 5, 6, 7, \.\.\.\] is not"),
    (changed("network", layers="2-2-1" * 10_000), r"network.layers = '2-2-12-2-1.*' is not valid"),
])
def test_odd_spec_values_are_a_value_error_naming_the_key(spec, message):
    with pytest.raises(ValueError, match=message) as e:
        cr.trace(spec)
    assert len(str(e.value)) < 1000


# ---- caps on the size of a worked solution ------------------------------------------------------


def wide(sizes, samples=1, steps=1):
    """A spec of the given layer sizes with every weight 0.1 and ``samples`` samples."""
    rng = np.random.default_rng(0)
    return {
        "network": {"layers": list(sizes), "activation": "tanh"},
        "weights": {f"W{l}": np.full((i, o), 0.1).tolist() for l, (i, o) in enumerate(zip(sizes, sizes[1:]), 1)},
        "train": {"x": rng.normal(size=(samples, sizes[0])).tolist(),
                  "target": rng.normal(size=(samples, sizes[-1])).tolist(),
                  "loss": "mse", "learning_rate": 0.1, "steps": steps},
    }


@pytest.mark.parametrize("spec, steps, message", [
    (LAB, 100_000_000, f"steps = 100000000 is not valid; expected a positive integer of at most {limits.MAX_STEPS}"),
    (changed("train", steps=10**30), None, f"train.steps = 1000.*000 is not valid; expected a positive integer of "
                                           f"at most {limits.MAX_STEPS}"),
    (wide([2, limits.MAX_NEURONS + 1, 1]), None, f"at most {limits.MAX_NEURONS} neurons"),
    (wide([limits.MAX_NEURONS + 1, 1]), None, "(inputs included)"),
    (wide([2] * (limits.MAX_LAYERS + 2)), None, f"at most {limits.MAX_LAYERS} layers of weights"),
    (wide([2, 2, 1], samples=limits.MAX_SAMPLES + 1), None, f"train.x has 17 samples, more than the limit of "
                                                            f"{limits.MAX_SAMPLES}"),
    (wide([16] * 9, samples=16), 4, f"more than the limit of {limits.MAX_QUANTITIES:,} .* trace at most 3 step"),
    (LAB, 0, "steps = 0 is not valid"),
    (LAB, 2.5, "steps = 2.5 is not valid"),
])
def test_caps_on_steps_and_size_say_the_cap_and_why(spec, steps, message):
    with pytest.raises(ValueError, match=message) as e:
        cr.trace(spec, steps=steps)
    assert "person" in str(e.value)  # why: a worked solution is read by a person


def test_the_largest_network_within_the_caps_is_traced():
    sizes = [limits.MAX_NEURONS] * (limits.MAX_LAYERS + 1)
    tr = cr.trace(wide(sizes, samples=limits.MAX_SAMPLES))
    assert len(tr.steps[0].layers) == limits.MAX_LAYERS
    assert f"z[{limits.MAX_LAYERS}][{limits.MAX_NEURONS}]" in tr.render("markdown")
    assert len(cr.trace(LAB, steps=limits.MAX_STEPS).steps) == limits.MAX_STEPS


@pytest.mark.parametrize("hand", [-1, limits.MAX_HAND + 1, 10**30, 2.0, True, "2"])
def test_hand_decimals_are_capped(hand):
    with pytest.raises(ValueError, match=f"hand = .* is not valid; expected the number of decimals .* from 0 to "
                                         f"{limits.MAX_HAND}"):
        cr.trace(LAB, hand=hand)


def test_hand_accepts_numpy_integers():
    assert cr.trace(LAB, hand=np.int64(2)).values()["a[1][1]"] == pytest.approx(0.55)


@pytest.mark.parametrize("decimals", [-1, 31, 10**30, 2.0])
def test_display_decimals_are_capped(decimals):
    from chainrule.tracing.render import MAX_DECIMALS

    tr = cr.trace(LAB)
    for call in (lambda: tr.render("text", decimals=decimals), lambda: tr.check({"z[1][1]": 1}).render(decimals)):
        with pytest.raises(ValueError, match=f"decimals = .* is not valid; expected an integer from 0 to {MAX_DECIMALS}"):
            call()


# ---- numbers that overflow ------------------------------------------------------------------------


@pytest.mark.parametrize("spec, steps, hand", [
    (changed("weights", W1=[[1e200, 1e200], [1e200, 1e200]], W2=[[1e200], [1e200]])
     | {"network": {"layers": [2, 2, 1], "activation": "linear"}}, None, None),
    (changed("train", learning_rate=1e6) | {"network": {"layers": [2, 2, 1], "activation": "linear"}}, 50, None),
    (changed("weights", W1=[[1e300, 1e300], [1e300, 1e300]]), None, 15),
])
def test_numbers_that_overflow_float64_are_a_value_error(spec, steps, hand):
    """Not a NumPy RuntimeWarning (an error under pytest), nor inf in the worked solution."""
    with pytest.raises(ValueError, match="overflows float64"):
        cr.trace(spec, steps=steps, hand=hand)


def test_an_update_that_overflows_is_caught_though_the_output_after_it_is_finite():
    """W1 ← 1e-5 − 1e306·(1.44e4) = −inf, and relu(x·W1) = 0 makes the output after it finite."""
    spec = {"network": {"layers": [1, 1, 1], "activations": ["relu", "sigmoid"]},
            "weights": {"W1": [[1e-5]], "W2": [[1.0]]},
            "train": {"x": [1e5], "target": [0.0], "loss": "half_sse", "learning_rate": 1e306}}
    with pytest.raises(ValueError, match=r"step 1 overflows float64: the SGD update made W1 overflow to inf"):
        cr.trace(spec)


def test_a_tiny_weight_leaves_the_notes_finite():
    spec = changed("weights", W2=[[1e-320], [1.0]])  # |W| ratio 1e320 would overflow
    text = cr.trace(spec).render("text")
    assert "inf" not in text and "Why a bigger outgoing weight gets more blame" in text


# ---- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize("content, argv, message", [
    ('{"a": ' + "[" * DEEP + "]" * DEEP + "}", [], "levels deep, the limit"),
    (None, ["--check", "ANSWERS"], "levels deep, the limit"),
    (None, ["--steps", "100000000"], "at most 1000"),
    (None, ["--hand", "400"], "hand = 400 is not valid"),
    (None, ["--decimals", str(10**30)], "decimals = 1000"),
    (json.dumps(changed("train", learning_rate=1e300) | {"network": {"layers": [2, 2, 1], "activation": "linear"}}),
     ["--steps", "3"], "overflows float64"),
    (json.dumps(wide([2, 40, 1])), [], "at most 16 neurons"),
])
def test_the_cli_says_each_in_one_line_and_exits_2(capsys, tmp_path, content, argv, message):
    spec = tmp_path / "spec.json"
    spec.write_text(content if content is not None else json.dumps(lab()))
    answers = tmp_path / "answers.toml"
    answers.write_text("a = " + "[" * DEEP + "]" * DEEP + "\n")
    argv = [str(answers) if a == "ANSWERS" else a for a in argv]
    status = main(["trace", str(spec), *argv])  # 10,000 levels: past the recursion limit
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.startswith("chainrule: error: ") and message in err and err.count("\n") == 1


def test_the_cli_reads_an_answers_key_with_a_newline(capsys, tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"z[1][1]\nx": 0.21}))
    status = main(["trace", LAB, "--check", str(answers)])
    _, err = capsys.readouterr()
    assert status == 2 and "no quantity 'z[1][1]\\nx'" in err and err.count("\n") == 1


def test_the_shipped_examples_stay_within_the_limits():
    # the batch-norm example writes every sample's x̂, y and dy at every step: 400 steps of it fit
    most = {"batch-norm-2-3.toml": 400}
    for path in sorted(os.listdir("examples/trace")):
        if path.endswith(".toml") and not path.endswith(".answers.toml"):
            steps = most.get(path, limits.MAX_STEPS)
            tr = cr.trace(os.path.join("examples/trace", path), steps=steps)
            assert len(tr.steps) == steps
    deep = lab()
    deep["train"]["x"] = [[0.35, 0.7]] * limits.MAX_SAMPLES
    deep["train"]["target"] = [[0.5]] * limits.MAX_SAMPLES
    assert len(cr.trace(deep).spec.X) == limits.MAX_SAMPLES
