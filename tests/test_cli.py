"""The chainrule command, run in-process through main(argv) (and once as `python -m chainrule`)."""

import inspect
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

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
        (["train", "--data", "xor", "--save", "{tmp}/no/such/folder/m.npz"], "/no/such/folder' does not exist"),
        (["train", "--data", "xor", "--l2", "-1"], "l2 must be a finite number"),
        (["train", "--data", "digits", "--loss", "bce", "--epochs", "1"], "--loss bce separates two classes; the target has 10 (use --loss cross_entropy)"),
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


# ---- the files the command writes, and what it never overwrites ----------------------------------

TINY = ("--data", "xor", "--hidden", "2", "--epochs", "1", "--quiet")


def one_error_line(status, err, *parts):
    assert status == 2 and err.count("\n") == 1 and err.startswith("chainrule: error: "), err
    assert "Traceback" not in err and "[Errno" not in err
    for part in parts:
        assert part in err, err


def test_save_refuses_a_file_that_is_not_a_model_unless_forced(capsys, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    status, out, err = run(capsys, "train", *TINY, "--save", str(notes))
    one_error_line(status, err, f"--save {notes}: a file that is not a chainrule model is there", "--force")
    assert out == "" and notes.read_text() == "mine"  # refused before training
    status, out, err = run(capsys, "train", *TINY, "--save", str(notes), "--force")
    assert status == 0 and isinstance(cr.load(notes), cr.Network)
    assert run(capsys, "train", *TINY, "--save", str(notes))[0] == 0  # a model there is replaced


def test_save_never_overwrites_the_input_data(capsys, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,y\n1,0\n2,1\n3,0\n4,1\n")
    for force in ([], ["--force"]):
        status, _, err = run(capsys, "train", "--data", str(data), "--target", "y", "--epochs", "1", "--quiet",
                             "--save", str(data), *force)
        one_error_line(status, err, "that is the input data file")
    assert data.read_text() == "a,y\n1,0\n2,1\n3,0\n4,1\n"


def test_save_where_no_file_can_be_written_fails_before_training(capsys, tmp_path):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "link.npz").symlink_to(tmp_path / "elsewhere.npz")
    for path, message in [(tmp_path / "a_file" / "m.npz", f"{tmp_path / 'a_file'}' is a file, not a folder"),
                          (tmp_path / "link.npz", "is a symbolic link"),
                          (tmp_path, "it is a folder; give a file name inside it")]:
        status, out, err = run(capsys, "train", *TINY, "--save", str(path))
        one_error_line(status, err, f"--save {path}: ", message)
        assert out == ""
    assert not (tmp_path / "elsewhere.npz").exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_save_into_a_folder_that_takes_no_file_fails_before_training(capsys):
    # /proc is a folder in which nobody, root included, can create a file
    status, out, err = run(capsys, "train", *TINY, "--save", "/proc/m.npz")
    one_error_line(status, err, "--save /proc/m.npz: cannot write into the folder '/proc'")
    assert out == ""


def test_save_into_a_read_only_folder_fails_before_training(capsys, read_only_folder):
    status, out, err = run(capsys, "train", *TINY, "--save", str(read_only_folder / "m.npz"))
    one_error_line(status, err, f"cannot write into the folder '{read_only_folder}' (Permission denied)")
    assert out == ""


def test_demo_out_refuses_a_figure_it_did_not_write_unless_forced(capsys, tmp_path):
    (tmp_path / "xor_loss.png").write_bytes(b"\x89PNG\r\n\x1a\n my holiday photo")
    status, out, err = run(capsys, "demo", "--out", str(tmp_path))
    one_error_line(status, err, "xor_loss.png' is there and chainrule did not write it", "--force")
    assert out == "" and (tmp_path / "xor_loss.png").read_bytes().endswith(b"my holiday photo")
    assert run(capsys, "demo", "--out", str(tmp_path), "--force")[0] == 0
    assert run(capsys, "demo", "--out", str(tmp_path))[0] == 0  # its own figures are replaced
    assert sorted(os.listdir(tmp_path)) == ["moons_boundary.png", "xor_loss.png"]
    os.replace(tmp_path / "moons_boundary.png", tmp_path / "elsewhere.png")
    (tmp_path / "moons_boundary.png").symlink_to(tmp_path / "elsewhere.png")  # a link to a figure of ours
    status, out, err = run(capsys, "demo", "--out", str(tmp_path), "--force")
    one_error_line(status, err, "moons_boundary.png' is a symbolic link or a folder")
    assert out == ""


@pytest.mark.parametrize("command", [["demo"], ["experiment", "xor", "--quick"], ["experiment", "all", "--quick"]])
def test_out_that_is_a_file_is_one_line(capsys, tmp_path, command):
    (tmp_path / "a_file").write_text("x")
    for out, message in [(tmp_path / "a_file", "is a file, not a folder; give a folder"),
                         (tmp_path / "a_file" / "sub", f"{tmp_path / 'a_file'}' is a file, not a folder")]:
        status, printed, err = run(capsys, *command, "--out", str(out))
        one_error_line(status, err, f"--out {out}: ", message)
        assert printed == ""


@pytest.mark.parametrize("name, content", [("report.md", "# my notes\n"), ("results.json", '{"mine": 1}'),
                                           ("photo.png", "not even a PNG")])
def test_experiment_out_refuses_files_it_did_not_write(capsys, tmp_path, name, content):
    (tmp_path / name).write_text(content)
    status, out, err = run(capsys, "experiment", "xor", "--quick", "--out", str(tmp_path))
    one_error_line(status, err, f"{name}' is there and chainrule did not write it", "--force")
    assert out == "" and (tmp_path / name).read_text() == content


def test_experiment_all_refuses_a_file_where_an_experiment_folder_goes(capsys, tmp_path):
    (tmp_path / "moons").write_text("x")
    status, _, err = run(capsys, "experiment", "all", "--quick", "--out", str(tmp_path))
    one_error_line(status, err, f"--out {tmp_path}: ", "moons' is a file, not a folder")


def test_an_experiments_own_outputs_may_be_overwritten(quick_all):
    from chainrule import cli, experiments

    out = quick_all[0]
    cli._check_out(out, [experiments.index_path(out)], force=False)
    for name in experiments.NAMES:
        folder = os.path.join(out, name)
        assert len(cli._experiment_files(folder)) > 2  # results.json, report.md and its figures
        cli._check_out(folder, cli._experiment_files(folder), force=False)


def test_an_os_error_is_one_line_with_the_path_and_the_fix(capsys, monkeypatch):
    import errno

    def in_the_way():
        raise FileExistsError(errno.EEXIST, "File exists", "out")

    monkeypatch.setattr(datasets, "xor", in_the_way)
    monkeypatch.setitem(datasets.DATASETS, "xor", in_the_way)
    status, _, err = run(capsys, "train", "--data", "xor")
    one_error_line(status, err, "'out': file exists; a file is in the way; remove it or choose another path")


# ---- limits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("error, message", [(MemoryError("Unable to allocate 7.45 GiB"), "out of memory (Unable to "
                                                                                          "allocate 7.45 GiB)"),
                                            (RecursionError(), "nested too deeply")])
def test_memory_and_recursion_errors_are_one_line(capsys, monkeypatch, error, message):
    def fail():
        raise error

    monkeypatch.setitem(datasets.DATASETS, "xor", fail)
    status, _, err = run(capsys, "train", "--data", "xor")
    one_error_line(status, err, message)


def test_a_network_too_large_for_memory_is_refused_before_it_is_built(capsys, monkeypatch):
    status, _, err = run(capsys, "train", "--data", "xor", "--hidden", "100000000,100000000")
    one_error_line(status, err, "the network 2-100000000-100000000-1 has 10,000,000,500,000,001 parameters",
                   "available; use fewer or smaller hidden layers (--hidden)")
    from chainrule import cli

    monkeypatch.setattr(cli.memory, "available", lambda: 2**20)
    monkeypatch.setattr(cli.memory, "SMALL", 0)  # every allocation checked, as for large ones
    # 64-512-10: 38,410 parameters × 6 copies × 8 bytes, and 4 buffers of 32 × 522 per batch: 2.2 MiB
    status, _, err = run(capsys, "train", "--data", "digits", "--hidden", "512")
    one_error_line(status, err, "needs about 2.3 MiB, and this machine has 1.0 MiB available")
    monkeypatch.setattr(cli.memory, "available", lambda: None)  # unknown: not refused
    assert run(capsys, "train", "--data", "digits", "--hidden", "512", "--epochs", "1", "--quiet")[0] == 0


def test_a_target_with_too_many_classes_is_refused(capsys, tmp_path):
    ids = tmp_path / "ids.csv"
    ids.write_text("a,id\n" + "".join(f"{i % 7},{i}\n" for i in range(2000)))
    # 2,000 whole numbers are a number to predict unless the user says otherwise
    status, out, _ = run(capsys, "train", "--data", str(ids), "--target", "id", "--epochs", "1", "--hidden", "2")
    assert status == 0
    assert "treating 'id' as regression: 2,000 distinct whole numbers; use --task classification to override" in out
    assert "Network(1-2-1, activations=[tanh, linear], loss='mse')" in out
    status, _, err = run(capsys, "train", "--data", str(ids), "--target", "id", "--task", "classification")
    one_error_line(status, err, "the target 'id' has 2,000 distinct values: as classes they would need 2,000 "
                                "outputs, more than --max-classes 1000", "--task regression")
    assert run(capsys, "train", "--data", str(ids), "--target", "id", "--task", "classification", "--max-classes",
               "2000", "--epochs", "1", "--hidden", "2", "--quiet")[0] == 0
    huge = tmp_path / "huge.csv"
    huge.write_text("a,y\n1,1000000000000\n2,3\n3,5\n")
    status, out, _ = run(capsys, "train", "--data", str(huge), "--target", "y", "--epochs", "1", "--test-size", "0")
    assert status == 0 and "Network(1-16-3, activations=[tanh, softmax], loss='cross_entropy')" in out
    status, _, err = run(capsys, "train", "--data", str(huge), "--target", "y", "--loss", "mse", "--task",
                         "classification")
    one_error_line(status, err, "--loss mse is a regression loss but --task is classification")
    assert run(capsys, "train", "--data", str(huge), "--target", "y", "--loss", "mse", "--epochs", "1",
               "--quiet")[0] == 0


def test_csv_input_that_is_not_a_regular_file_is_refused(capsys, tmp_path):
    os.mkfifo(tmp_path / "fifo.csv")  # opening it for reading would wait for a writer
    for path, message in [("/dev/zero", "it is a device, a FIFO or a socket"),
                          (tmp_path / "fifo.csv", "it is a device, a FIFO or a socket"),
                          (tmp_path, "it is a folder, not a CSV file")]:
        status, _, err = run(capsys, "train", "--data", str(path), "--target", "y")
        one_error_line(status, err, f"cannot read '{path}': {message}")


def test_a_csv_over_the_size_limit_is_refused_and_the_limit_can_be_raised(capsys, tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(1000)))  # 5.8 KiB
    status, _, err = run(capsys, "train", "--data", str(path), "--target", "y", "--max-csv-mb", "0.001")
    one_error_line(status, err, "has 5.8 KiB, more than the 1.0 KiB a CSV file may have",
                   "--max-csv-mb 1")
    assert run(capsys, "train", "--data", str(path), "--target", "y", "--max-csv-mb", "0.01", "--epochs", "1",
               "--quiet")[0] == 0


def test_gradcheck_max_entries_reaches_the_library(capsys, monkeypatch):
    from chainrule import cli

    seen = []
    real = cli.gradcheck
    monkeypatch.setattr(cli, "gradcheck", lambda *a, **k: (seen.append(k.get("max_entries")), real(*a, **k))[1])
    assert run(capsys, "gradcheck", "--data", "xor", "--hidden", "4", "--max-entries", "3")[0] == 0
    assert run(capsys, "gradcheck", "--data", "xor", "--hidden", "4")[0] == 0
    assert seen == [3, None]  # without the flag, the library's own default
    status, _, err = run(capsys, "gradcheck", "--data", "xor", "--max-entries", "0")
    assert status == 2 and "argument --max-entries: '0' is not a positive integer" in err


@pytest.mark.filterwarnings("default::RuntimeWarning")  # as outside the tests: NumPy's warnings are shown
def test_no_numpy_warning_comes_before_an_error(capsys, tmp_path):
    # standardizing ±1e308 overflows (a RuntimeWarning) before training finds the inf it made
    path = tmp_path / "huge.csv"
    path.write_text("a,y\n1e308,1\n1e308,0\n-1e308,1\n")
    status, _, err = run(capsys, "train", "--data", str(path), "--target", "y", "--epochs", "1")
    one_error_line(status, err, "contains NaN or inf")


@pytest.mark.filterwarnings("default::RuntimeWarning")
def test_numpy_warnings_are_shown_after_a_run_that_succeeds(capsys, monkeypatch):
    import warnings

    def xor_with_a_warning():
        warnings.warn("overflow encountered in exp", RuntimeWarning)
        return datasets.xor()

    monkeypatch.setitem(datasets.DATASETS, "xor", xor_with_a_warning)
    status, out, err = run(capsys, "train", *TINY)
    assert status == 0 and "train:" in out
    assert err == "chainrule: warning: overflow encountered in exp\n"


def test_train_and_doctor_share_the_training_flags_with_their_own_epochs():
    from chainrule import cli

    parser = cli._parser()
    train = parser.parse_args(["train", "--data", "xor"])
    doctor = parser.parse_args(["doctor", "--data", "xor"])
    assert (train.epochs, doctor.epochs) == (200, 20)
    for args in (train, doctor):
        assert (args.optimizer, args.lr, args.momentum, args.batch_size) == ("adam", None, None, 32)
    args = parser.parse_args(["doctor", "--data", "xor", "--optimizer", "sgd", "--lr", "0.5", "--momentum", "0.9",
                              "--epochs", "3", "--batch-size", "full"])
    assert (args.optimizer, args.lr, args.momentum, args.epochs, args.batch_size) == ("sgd", 0.5, 0.9, 3, None)
    source = inspect.getsource(cli)
    for flag in ("--optimizer", "--lr", "--momentum", "--epochs", "--batch-size"):
        assert source.count(f'add_argument("{flag}"') == 1, f"{flag} is defined more than once"


# ---- property-based: random CSV text ------------------------------------------------------------------

NUMBER = st.one_of(st.floats().map(repr), st.integers(-(10**20), 10**20).map(str), st.integers(0, 3).map(str))
ODD = st.one_of(st.sampled_from(["", " ", "cat", "1e999", "-0", "nan", "inf", '"1,2"', '"', "\r", "1_0", "٣"]),
                st.text(max_size=5))
NAMES = st.sampled_from(["a", "b", "c", "y", "", " y", "a"])


@st.composite
def csv_text(draw):
    """CSV-shaped text (a header, rows of numbers, sometimes words, quotes or a ragged row) or any
    text; and the target column to ask for (mostly one of the header's)."""
    if draw(st.integers(0, 4)):
        names = st.sampled_from(["a", "b", "c", "y"])
        header = draw(st.lists(names, min_size=2, max_size=4, unique=True) if draw(st.integers(0, 4))
                      else st.lists(NAMES, min_size=1, max_size=4))
        # most files well formed, so that many train; the others with odd cells or ragged rows
        cell = NUMBER if draw(st.integers(0, 2)) else NUMBER | ODD
        width = st.just(len(header)) if draw(st.integers(0, 4)) else st.integers(0, len(header) + 1)
        rows = draw(st.lists(width.flatmap(lambda n: st.lists(cell, min_size=n, max_size=n)), min_size=1,
                             max_size=12))
        newline = draw(st.sampled_from(["\n", "\r\n", "\n\n"]))
        text = newline.join(",".join(row) for row in [header, *rows])
    else:
        header, text = ["y"], draw(st.text(max_size=200))
    return text, draw(st.sampled_from(header) if draw(st.integers(0, 4)) else NAMES)


@given(csv_text())
def test_load_csv_on_random_text_gives_data_or_a_value_error(tmp_path, case):
    text, target = case
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        X, y, names = datasets.load_csv(path, target)
    except ValueError as e:
        event("ValueError")
        assert "\n" not in str(e)
    else:
        event("read")
        assert X.shape == (len(y), len(names)) and X.dtype == np.float64


@pytest.mark.filterwarnings("default::RuntimeWarning")  # as outside the tests
@given(csv_text())
def test_train_on_random_csv_text_exits_0_or_with_one_error_line(capsys, tmp_path, case):
    text, target = case
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    status, out, err = run(capsys, "train", "--data", str(path), "--target", target, "--hidden", "2", "--epochs", "1",
                           "--batch-size", "full", "--quiet")
    event(f"exit status {status}")
    assert status in (0, 2) or (status == 1 and "stopped:" in out), err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert all(line.startswith("chainrule: ") for line in lines)
    if status == 2:  # one error line, the last; before it, no NumPy warning ("overflow encountered in …")
        assert lines[-1].startswith("chainrule: error: ")
        assert not any(line.startswith("chainrule: error: ") or "encountered in" in line for line in lines[:-1])


def test_a_run_that_diverges_exits_1_and_saves_nothing(capsys, tmp_path):
    csv = tmp_path / "big.csv"
    csv.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{1000 * i}\n" for i in range(20)))
    model = tmp_path / "m.npz"
    status, out, err = run(capsys, "train", "--data", str(csv), "--target", "y", "--no-standardize", "--loss", "mse",
                           "--optimizer", "sgd", "--lr", "1e300", "--epochs", "5", "--save", str(model), "--quiet")
    assert status == 1 and not model.exists()
    assert "stopped:" in out and "keeping the last finite weights" in out and "not saved: training diverged" in out
    assert "Traceback" not in err


def test_a_flag_the_command_does_not_know_points_at_that_commands_help(capsys):
    status = main(["train", "--data", "xor", "--hiden", "4"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "unrecognized arguments: --hiden 4" in err and "(see 'chainrule train --help')" in err, err
