"""`chainrule doctor`: a short training with diagnostics, the findings as a table; exit 0 without an
error finding, 1 with one, 2 for bad input."""

import numpy as np

import chainrule as cr
from chainrule.cli import main
from chainrule.diagnostics import CODES


def run(capsys, *argv):
    status = main(["doctor", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def rows(out):
    """{code: severity} from the table's rows."""
    return {line.split()[0]: line.split()[1] for line in out.splitlines() if line.split()[:1] and line.split()[0] in CODES}


def test_healthy_configuration_exits_0(capsys):
    status, out, err = run(capsys, "--data", "moons", "--hidden", "16")
    assert status == 0, err
    assert "doctor: Network(2-16-1, activations=[tanh, sigmoid], loss='bce') on moons, 200 rows (standardized)" in out
    assert "trained 20 epoch(s)" in out and "no findings" in out


def test_warnings_are_listed_and_exit_0(capsys):
    status, out, _ = run(capsys, "--data", "breast_cancer", "--no-standardize", "--epochs", "3")
    assert status == 0
    found = rows(out)
    assert found["unnormalized_inputs"] == "warning"
    assert out.splitlines()[2].split() == ["code", "severity", "layer", "epoch", "value", "threshold"]
    assert "    cause: input feature" in out and "    fix:   standardize each feature" in out


def test_divergence_is_an_error_exit_1(capsys):
    status, out, _ = run(capsys, "--data", "moons", "--optimizer", "sgd", "--lr", "1e305", "--loss", "mse",
                         "--output", "linear", "--batch-size", "full", "--epochs", "5")
    assert status == 1
    assert rows(out)["nan_loss"] == "error"


def test_saved_model_with_copied_units_exits_1_without_training(capsys, tmp_path):
    net = cr.Network([cr.Dense(2, 4, "tanh", init=np.full((2, 4), 0.3)), cr.Dense(4, 1, "sigmoid", init=np.ones((4, 1)))],
                     loss="bce")
    net.save(tmp_path / "same.npz")
    status, out, _ = run(capsys, "--model", str(tmp_path / "same.npz"), "--data", "xor")
    assert status == 1
    assert rows(out) == {"symmetric_init": "error"} and "not trained" in out


def test_saved_healthy_model_exits_0(capsys, tmp_path):
    assert main(["train", "--data", "moons", "--epochs", "50", "--quiet", "--save", str(tmp_path / "m.npz")]) == 0
    capsys.readouterr()
    status, out, _ = run(capsys, "--model", str(tmp_path / "m.npz"), "--data", "moons")
    assert status == 0 and "no findings" in out


def test_bad_input_exits_2(capsys, tmp_path):
    for argv, message in [(["--data", "nope"], "unknown dataset"),
                          (["--data", "xor", "--model", str(tmp_path / "missing.npz")], "no model file"),
                          (["--data", "xor", "--epochs", "0"], "not a positive integer")]:
        status, out, err = run(capsys, *argv)
        assert status == 2 and message in err and "Traceback" not in err, argv
