"""The chainrule command, run in-process through main(argv) (and once as `python -m chainrule`)."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets
from chainrule.cli import main


def run(capsys, *argv):
    """(exit status, stdout, stderr) of `chainrule argv…`."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def scores(out, split):
    """{'loss': …, 'accuracy': …} from the 'train:' or 'test:' line."""
    line = next(line for line in out.splitlines() if line.startswith(f"{split}:"))
    return {k: float(v) for k, v in re.findall(r"(loss|accuracy) ([-\d.e+]+)", line)}


def test_train_xor_uses_all_four_rows_and_saves(capsys, tmp_path):
    model = tmp_path / "xor.npz"
    status, out, err = run(capsys, "train", "--data", "xor", "--hidden", "4", "--lr", "0.1", "--epochs", "300",
                           "--save", str(model))
    assert status == 0, err
    assert "network: Network(2-4-1, activations=[tanh, sigmoid], loss='bce')" in out
    assert "4 to train, 0 to test" in out and "test:  none" in out
    assert scores(out, "train")["accuracy"] == 1.0
    assert f"saved: {model}" in out
    net = cr.load(model)
    X, y = datasets.xor()
    np.testing.assert_array_equal(net.predict(X)[:, 0] > 0.5, y == 1)  # the saved file is the trained network


def test_train_breast_cancer_is_standardized_by_default(capsys):
    # its features span 1e-3 (fractal dimension) to 1e3 (area): unstandardized, sgd barely moves
    status, out, _ = run(capsys, "train", "--data", "breast_cancer", "--epochs", "30", "--hidden", "8")
    assert status == 0
    assert "standardized" in out
    assert scores(out, "test")["accuracy"] > 0.9


def test_train_moons_is_standardized_and_split(capsys):
    status, out, _ = run(capsys, "train", "--data", "moons", "--epochs", "200", "--optimizer", "sgd", "--momentum",
                         "0.9", "--batch-size", "full")
    assert status == 0
    assert "150 to train, 50 to test; standardized" in out
    assert "sgd (lr 0.1), 200 epochs, batch size full" in out
    assert scores(out, "test")["accuracy"] > 0.8


def test_train_digits_picks_cross_entropy_and_softmax(capsys):
    status, out, _ = run(capsys, "train", "--data", "digits", "--hidden", "16,8", "--activation", "relu",
                         "--epochs", "3", "--quiet")
    assert status == 0
    assert "network:" not in out and "data:" not in out  # --quiet prints only the results
    assert scores(out, "test")["accuracy"] > 0.5  # chance is 0.1


def test_train_without_hidden_layer(capsys):
    status, out, _ = run(capsys, "train", "--data", "xor", "--hidden", "none", "--epochs", "2")
    assert status == 0 and "Network(2-1, activations=[sigmoid], loss='bce')" in out


def test_train_csv_with_class_names(capsys, tmp_path):
    rng = np.random.default_rng(0)
    rows = ["size,colour,kind"] + [
        f"{s:.3f},{c:.3f},{['small', 'medium', 'large'][int(s > 1) + int(s > 2)]}"
        for s, c in zip(rng.uniform(0, 3, 60), rng.normal(size=60))
    ]
    path = tmp_path / "things.csv"
    path.write_text("\n".join(rows) + "\n")
    status, out, _ = run(capsys, "train", "--data", str(path), "--target", "kind", "--epochs", "50")
    assert status == 0
    assert "Network(2-16-3, activations=[tanh, softmax], loss='cross_entropy')" in out
    assert "45 to train, 15 to test; standardized" in out


def test_train_csv_with_a_real_target_is_regression(capsys, tmp_path):
    path = tmp_path / "line.csv"
    path.write_text("x,y\n" + "".join(f"{x},{2 * x + 1}\n" for x in np.linspace(0, 1, 21)))
    status, out, _ = run(capsys, "train", "--data", str(path), "--target", "y", "--hidden", "none", "--epochs", "100",
                         "--lr", "0.1", "--no-standardize")
    assert status == 0
    assert "Network(1-1, activations=[linear], loss='mse')" in out
    assert "accuracy" not in out and "standardized" not in out
    assert scores(out, "test")["loss"] < 1e-3


def test_save_then_gradcheck_the_saved_model(capsys, tmp_path):
    model = tmp_path / "moons.npz"
    assert run(capsys, "train", "--data", "moons", "--epochs", "3", "--save", str(model))[0] == 0
    status, out, err = run(capsys, "gradcheck", "--data", "moons", "--model", str(model))
    assert (status, err) == (0, "")
    assert "on 8 rows of moons" in out and "gradient check passed" in out
    assert [line.split()[0] for line in out.splitlines()[2:6]] == ["W1", "b1", "W2", "b2"]


def test_gradcheck_from_architecture_flags(capsys):
    status, out, _ = run(capsys, "gradcheck", "--data", "digits", "--hidden", "8", "--samples", "4")
    assert status == 0 and "Network(64-8-10" in out and "on 4 rows of digits" in out


def test_gradcheck_fails_with_status_1_when_backprop_is_wrong(capsys, monkeypatch):
    backward = cr.Dense.backward

    def doubled(self, delta, *args, **kwargs):  # dW twice too large, as if the ½ of ½(ŷ − y)² were dropped
        g = backward(self, delta, *args, **kwargs)
        self.dW = 2 * self.dW
        return g

    monkeypatch.setattr(cr.Dense, "backward", doubled)
    status, out, _ = run(capsys, "gradcheck", "--data", "xor", "--hidden", "3")
    assert status == 1
    assert "gradient check FAILED" in out and "twice the true gradient" in out


def test_gradcheck_passes_on_a_converged_model(capsys, tmp_path):
    model = tmp_path / "xor.npz"
    run(capsys, "train", "--data", "xor", "--lr", "0.1", "--epochs", "500", "--save", str(model))
    assert run(capsys, "gradcheck", "--data", "xor", "--model", str(model))[0] == 0


def test_demo_learns_xor_and_moons(capsys):
    status, out, err = run(capsys, "demo")
    assert (status, err) == (0, "")
    table = re.findall(r"^\s+([01])\s+([01]) \|\s+([01]) \|\s+([\d.]+)$", out, re.MULTILINE)
    assert [(a, b, t) for a, b, t, _ in table] == [("0", "0", "0"), ("0", "1", "1"), ("1", "0", "1"), ("1", "1", "0")]
    for *_, target, prediction in table:
        assert abs(float(prediction) - int(target)) < 0.1
    assert "It learned XOR" in out and "SGD, lr 1.0" in out
    accuracy = float(re.search(r"Test accuracy ([\d.]+)", out).group(1))
    assert accuracy >= 0.95


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--data", "nope"], "unknown dataset 'nope'; use one of xor, moons, circles, digits"),
        (["train", "--data", "{tmp}/missing.csv", "--target", "y"], "no CSV file at"),
        (["train", "--data", "{tmp}/ok.csv", "--target", "z"], "has no column 'z'; the columns are: a, b, y"),
        (["train", "--data", "{tmp}/ok.csv"], "needs --target COLUMN"),
        (["train", "--data", "{tmp}/bad.csv", "--target", "y"], "line 3 (data row 2), column 'b': 'x' is not a number"),
        (["train", "--data", "{tmp}/ragged.csv", "--target", "y"], "line 2 has 2 field(s) but the header has 3"),
        (["train", "--data", "{tmp}/empty.csv", "--target", "y"], "is empty"),
        (["train", "--data", "xor", "--target", "y"], "--target is for CSV files"),
        (["train", "--data", "xor", "--lr", "-1"], "lr must be a finite number > 0"),
        (["train", "--data", "xor", "--optimizer", "adam", "--momentum", "0.9"], "--momentum applies to sgd"),
        (["train", "--data", "xor", "--test-size", "1"], "test_size must be a fraction"),
        (["train", "--data", "xor", "--save", "{tmp}/no/such/folder/m.npz"], "its folder does not exist"),
        (["train", "--data", "xor", "--l2", "-1"], "l2 must be a finite number"),
        (["train", "--data", "digits", "--loss", "bce", "--epochs", "1"], "bce targets must lie in [0, 1]"),
        (["gradcheck", "--data", "xor", "--model", "{tmp}/none.npz"], "no model file at"),
        (["gradcheck", "--data", "xor", "--model", "{tmp}/ok.csv"], "is not a readable chainrule model file"),
        # argparse's own errors: also one line and status 2
        (["train", "--data", "xor", "--epochs", "0"], "argument --epochs: '0' is not a positive integer"),
        (["train", "--data", "xor", "--hidden", "4,x"], "argument --hidden: '4,x' is not a list of layer sizes"),
        (["train", "--data", "xor", "--activation", "swish"], "argument --activation: invalid choice: 'swish'"),
        (["train", "--data", "xor", "--batch-size", "some"], "argument --batch-size"),
        (["train"], "the following arguments are required: --data"),
        ([], "the following arguments are required"),
    ],
)
def test_user_errors_are_one_line_and_status_2(capsys, tmp_path, argv, message):
    (tmp_path / "ok.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,0\n3,x,1\n")
    (tmp_path / "ragged.csv").write_text("a,b,y\n1,2\n")
    (tmp_path / "empty.csv").write_text("")
    status, _, err = run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("chainrule: error: ")
    assert message in err and "Traceback" not in err


def test_missing_scikit_learn_is_a_user_error(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    status, _, err = run(capsys, "train", "--data", "moons")
    assert status == 2 and 'pip install "chainrule[datasets]"' in err and err.count("\n") == 1


def test_help_and_version_exit_0(capsys):
    status, out, _ = run(capsys, "train", "--help")
    assert status == 0 and "--batch-size N|full" in out and "--standardize, --no-standardize" in out
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.strip() == f"chainrule {cr.__version__}"


def test_python_dash_m_reports_errors_without_a_traceback():
    env = {**os.environ, "PYTHONWARNINGS": "error::RuntimeWarning"}
    result = subprocess.run([sys.executable, "-m", "chainrule", "train", "--data", "nope"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("chainrule: error: unknown dataset 'nope'")
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_diagnostic_finding_is_one_line_on_stderr(capsys):
    status, _, err = run(capsys, "train", "--data", "moons", "--lr", "1e9", "--optimizer", "sgd", "--epochs", "30")
    assert status == 0
    lines = err.strip().splitlines()
    assert any(line.startswith("chainrule: warning [lr_too_high] ") for line in lines)
    assert all(line.startswith("chainrule: ") for line in lines) and "DiagnosticWarning" not in err
