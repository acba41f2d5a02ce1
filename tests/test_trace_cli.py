"""`chainrule trace`: the committed examples are what it renders now; --check; bad specs exit 2."""

import json
import re
from pathlib import Path

import pytest

from chainrule.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "trace"
SPECS = sorted(EXAMPLES.glob("*[!s].toml"))  # the specs, not the *.answers.toml


def run(capsys, *argv):
    """(exit status, stdout, stderr) of `chainrule trace argv…`."""
    status = main(["trace", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_both_examples_ship():
    assert [p.name for p in SPECS] == ["batch-norm-2-3.toml", "lab-2-2-1.toml", "notebook-exercise-l2.toml",
                                       "notebook-exercise.toml"]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_committed_markdown_is_what_the_cli_renders_now(capsys, spec, monkeypatch):
    monkeypatch.chdir(EXAMPLES)
    status, out, err = run(capsys, spec.name, "--format", "markdown")
    assert status == 0, err
    assert out == spec.with_suffix(".md").read_text(encoding="utf-8"), (
        f"regenerate: chainrule trace {spec.name} --format markdown > {spec.stem}.md (in examples/trace)")


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "json"])
def test_every_format(capsys, fmt):
    status, out, err = run(capsys, EXAMPLES / "lab-2-2-1.toml", "--format", fmt, "--steps", "2")
    assert status == 0 and err == ""
    if fmt == "json":
        doc = json.loads(out)
        # z[1] = x·W1 = (0.35·0.2 + 0.7·0.2, 0.35·0.3 + 0.7·0.3); its last bit is the BLAS kernel's
        assert len(doc["steps"]) == 2 and doc["steps"][0]["layers"][0]["z"] == pytest.approx([0.21, 0.315], rel=1e-12)
    else:
        assert "Step 2" in out and "0.552308" in out


def test_decimals_round_the_display(capsys):
    _, out, _ = run(capsys, EXAMPLES / "lab-2-2-1.toml", "--decimals", "3")
    assert "= σ(0.21)" in out and "= 0.552\n" in out and "0.552308" not in out


def test_hand_mode(capsys):
    status, out, _ = run(capsys, EXAMPLES / "lab-2-2-1.toml", "--hand", "2")
    assert status == 0 and "by hand to 2 decimals" in out and re.search(r"= σ\(0\.21\) += 0\.55\n", out)


def test_check_the_labs_printed_numbers(capsys):
    status, out, err = run(capsys, EXAMPLES / "lab-2-2-1.toml", "--check", EXAMPLES / "lab-2-2-1.answers.toml")
    assert status == 1 and err == ""
    assert "right  z[1][1]" in out and "wrong  a[1][1]" in out and "wrong  delta[1][2]" in out
    assert "The first wrong answer is a[1][1] = 0.56. It should be\n  a[1][1] = σ(z[1][1]) = σ(0.21) = 0.552308" in out


def test_check_passes_right_answers(capsys, tmp_path):
    answers = tmp_path / "answers.toml"
    answers.write_text('tolerance = 1e-4\n"a[1][1]" = 0.5523\n"delta[2][1]" = 0.03677\n"W_new[1][2][2]" = 0.29435\n')
    status, out, _ = run(capsys, EXAMPLES / "lab-2-2-1.toml", "--check", answers)
    assert status == 0 and "3 of 3 right." in out


@pytest.mark.parametrize("content, message", [
    ("[network]\nlayers = [2, 1]\nactivation = 'sigmoid'\nlayout = 'out_in'\n[weights]\nW1 = [[1], [2]]\n"
     "[train]\nx = [1, 2]\ntarget = [1]\nloss = 'mse'\nlearning_rate = 0.1\n",
     "weights.W1 is 2×1; expected a 1×2 matrix for layer 1"),
    ("[network]\nlayers = [2, 1]\nactivation = 'sigmoid'\n[weights]\n"
     "[train]\nx = [1, 2]\ntarget = [1]\nloss = 'mse'\nlearning_rate = 0.1\n", "weights.W1 is missing"),
    ("[network]\nlayers = [2, 1]\nactivation = 'sigmoid'\n[weights]\nW1 = [[1], [2]]\n"
     "[train]\nx = [1, 2]\ntarget = [1]\nloss = 'mae'\nlearning_rate = 0.1\n", "train.loss = 'mae' is not valid"),
    ("[network]\nlayers = [2, 1]\nactivation = 'sigmod'\n[weights]\nW1 = [[1], [2]]\n"
     "[train]\nx = [1, 2]\ntarget = [1]\nloss = 'mse'\nlearning_rate = 0.1\n", "network.activation = 'sigmod'"),
    ("[network\n", "is not valid TOML"),
])
def test_a_bad_spec_is_one_line_and_exit_2(capsys, tmp_path, content, message):
    spec = tmp_path / "bad.toml"
    spec.write_text(content)
    status, out, err = run(capsys, spec)
    assert status == 2 and out == ""
    assert err.startswith("chainrule: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["--format", "json", "--decimals", "2"], "json always gives every number in full precision"),
    (["--decimals", "-1"], "decimals = -1 is not valid"),
    (["--check", "missing.toml"], "cannot read the answers file"),
    (["--check", "x.toml", "--format", "text"], "drop --format"),
])
def test_bad_options_exit_2(capsys, argv, message):
    status, _, err = run(capsys, EXAMPLES / "lab-2-2-1.toml", *argv)
    assert status == 2 and message in err and err.count("\n") == 1


def test_the_lab_notes_explain_every_printed_number_that_is_wrong():
    import chainrule as cr

    report = cr.trace(EXAMPLES / "lab-2-2-1.toml").check(EXAMPLES / "lab-2-2-1.answers.toml")
    notes = (EXAMPLES / "lab-2-2-1.notes.md").read_text(encoding="utf-8")
    wrong = [answer for _, answer, right in report.results if not right]
    assert len(wrong) == 13
    for answer in wrong:  # each printed number appears in the notes (δ values there with the lab's sign)
        assert f"{abs(answer):g}" in notes, answer
