"""Tables as they come, through the command line: scikit-learn's data sets written to CSV with a
text feature and missing cells added, trained with `chainrule train --save`, predicted from their raw
rows with `chainrule predict`; the scores of the predictions (computed here with sklearn.metrics)
are the ones training printed. And the errors: missing cells, unknown columns, files in the way."""

import csv
import re

import numpy as np
import pytest
from sklearn import datasets as skd
from sklearn import metrics as skm

from chainrule.cli import main


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(status, err, *parts):
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("chainrule: error: "), err
    for part in parts:
        assert part in err, err


def as_csv(path, X, y, target, delimiter=","):
    """X and y as a CSV file, with a text column 'band' (the first feature's tercile: low, mid, high) and
    missing cells: 5 in the second feature, 2 in 'band'. Returns the labels as the file spells them."""
    rng = np.random.default_rng(0)
    edges = np.quantile(X[:, 0], [1 / 3, 2 / 3])
    band = np.array(["low", "mid", "high"])[np.searchsorted(edges, X[:, 0])].astype(object)
    cells = X.astype(object)
    cells[rng.choice(len(X), 5, replace=False), 1] = ""
    band[rng.choice(len(X), 2, replace=False)] = ""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow([f"f{j}" for j in range(X.shape[1])] + ["band", target])
        writer.writerows([*row, b, label] for row, b, label in zip(cells, band, y))
    return [str(label) for label in y]


def line_scores(out, label):
    line = next(line for line in out.splitlines() if line.startswith(f"{label}:")).split("(")[0]  # not the baseline
    return {k: float(v) for k, v in re.findall(r"(accuracy|R²|RMSE|MAE) (-?[\d.]+(?:e[-+]\d+)?)", line)}


def sets():
    iris = skd.load_iris()
    wine = skd.load_wine()
    cancer = skd.load_breast_cancer()
    digits = skd.load_digits()
    diabetes = skd.load_diabetes()
    return {  # name: (X, labels as written, target column, epochs)
        "iris": (iris.data, iris.target_names[iris.target], "species", 60),
        "wine": (wine.data, 1000 * wine.target, "cultivar", 60),  # classes 0, 1000, 2000
        "breast_cancer": (cancer.data, 2 * cancer.target - 1, "benign", 30),  # classes −1, +1
        "digits": (digits.data, digits.target, "digit", 10),
        "diabetes": (diabetes.data, diabetes.target.astype(int), "progression", 100),  # 214 distinct whole numbers
    }


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits", "diabetes"])
def test_predict_from_raw_rows_scores_as_training_said(capsys, tmp_path, name):
    X, y, target, epochs = sets()[name]
    data, model, predictions = tmp_path / f"{name}.csv", tmp_path / "m.npz", tmp_path / "p.csv"
    truth = as_csv(data, X, y, target, delimiter=";" if name == "wine" else ",")
    status, out, err = run(capsys, "train", "--data", data, "--target", target, "--impute", "median", "--test-size", 0,
                           "--epochs", epochs, "--save", model, "--quiet")
    assert status == 0, err
    regression = name == "diabetes"
    task = "regression: 214 distinct whole numbers" if regression else "classification"
    assert run(capsys, "train", "--data", data, "--target", target, "--epochs", 1, "--impute", "mean")[1].startswith(
        f"treating {target!r} as {task}")
    trained = line_scores(out, "train")
    status, out, err = run(capsys, "predict", "--model", model, "--data", data, "--out", predictions)
    assert status == 0, err
    with open(predictions, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [target] and len(rows) == len(X) + 1
    predicted = [row[0] for row in rows[1:]]
    if regression:
        values = np.array(predicted, dtype=float)
        assert skm.r2_score(y, values) == pytest.approx(trained["R²"], abs=1e-4)
        assert np.sqrt(skm.mean_squared_error(y, values)) == pytest.approx(trained["RMSE"], rel=1e-3)
        assert skm.mean_absolute_error(y, values) == pytest.approx(trained["MAE"], rel=1e-3)
        assert trained["R²"] > 0.3  # better than the mean (a few epochs of a small network)
    else:
        assert set(predicted) <= set(truth)  # class names as the file spells them
        assert skm.accuracy_score(truth, predicted) == pytest.approx(trained["accuracy"], abs=5e-4)
        assert trained["accuracy"] > 0.8
    assert line_scores(out, "scores") == trained  # predict's own scores against the target column


def test_classification_prints_each_class_and_the_confusion_matrix(capsys, tmp_path):
    X, y, target, _ = sets()["iris"]
    as_csv(tmp_path / "iris.csv", X, y, target)
    status, out, _ = run(capsys, "train", "--data", tmp_path / "iris.csv", "--target", target, "--impute", "mean",
                         "--epochs", 60, "--quiet")
    assert status == 0
    lines = out.splitlines()
    at = lines.index("test, by class:")
    assert lines[at + 1].split() == ["class", "precision", "recall", "F1", "rows"]
    assert [line.split()[0] for line in lines[at + 2 : at + 5]] == ["setosa", "versicolor", "virginica"]
    assert lines[at + 5].strip() == "confusion matrix (rows: true class, columns: predicted)"
    matrix = np.array([line.split()[1:] for line in lines[at + 7 : at + 10]], dtype=int)
    assert matrix.sum() == 38 and np.trace(matrix) / 38 == pytest.approx(line_scores(out, "test")["accuracy"], abs=5e-4)


def test_regression_prints_r2_rmse_mae_and_the_baseline(capsys, tmp_path):
    X, y, target, _ = sets()["diabetes"]
    as_csv(tmp_path / "d.csv", X, y, target)
    status, out, _ = run(capsys, "train", "--data", tmp_path / "d.csv", "--target", target, "--impute", "mean",
                         "--epochs", 50, "--quiet")
    assert status == 0
    line = next(line for line in out.splitlines() if line.startswith("test:"))
    assert re.search(r"R² 0\.\d+, RMSE [\d.]+, MAE [\d.]+ \(predicting the training mean: RMSE [\d.]+\)", line), line
    status, out, _ = run(capsys, "train", "--data", tmp_path / "d.csv", "--target", target, "--impute", "mean",
                         "--epochs", 1, "--quiet", "--save", tmp_path / "d.npz")
    status, _, err = run(capsys, "predict", "--model", tmp_path / "d.npz", "--data", tmp_path / "d.csv", "--proba")
    one_error_line(status, err, "--proba needs a classifier", f"predicts the number '{target}'")


def test_missing_cells_are_named_and_can_be_filled_or_dropped(capsys, tmp_path):
    X, y, target, _ = sets()["iris"]
    as_csv(tmp_path / "iris.csv", X, y, target)
    status, _, err = run(capsys, "train", "--data", tmp_path / "iris.csv", "--target", target)
    one_error_line(status, err, "missing cells in", "column 'f1' (5: line ", "column 'band' (2: line ",
                   "--impute mean|median|most_frequent", "--drop-missing")
    status, _, err = run(capsys, "train", "--data", tmp_path / "iris.csv", "--target", target, "--drop-missing",
                         "--impute", "mean")
    one_error_line(status, err, "not allowed with argument")  # fill or drop: one of the two
    status, out, _ = run(capsys, "train", "--data", tmp_path / "iris.csv", "--target", target, "--drop-missing",
                         "--epochs", 1)
    assert status == 0 and "dropped 7 row(s) with missing cells" in out and "143 rows × 7 features" in out
    status, out, _ = run(capsys, "train", "--data", tmp_path / "iris.csv", "--target", target, "--drop", "band,f1",
                         "--epochs", 1)
    assert status == 0 and "150 rows × 3 features" in out and "one-hot" not in out


def test_text_columns_are_one_hot_up_to_a_cap(capsys, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("city\tsize\ty\n" + "".join(f"c{i % 7}\t{i}\t{i % 2}\n" for i in range(40)))  # tab-separated
    status, out, _ = run(capsys, "train", "--data", path, "--target", "y", "--epochs", 1)
    assert status == 0 and "one-hot encoded: 'city' (7)" in out and "40 rows × 8 features" in out
    status, _, err = run(capsys, "train", "--data", path, "--target", "y", "--max-categories", 5)
    one_error_line(status, err, "column 'city'", "has 7 distinct text values, more than --max-categories 5",
                   "--drop city")
    status, _, err = run(capsys, "train", "--data", path, "--target", "y", "--drop", "town")
    one_error_line(status, err, "--drop town:", "has no such column; the columns are: city, size, y")
    status, _, err = run(capsys, "train", "--data", path, "--target", "y", "--delimiter", ",")
    one_error_line(status, err, "has one column", "pass it with --delimiter")


def test_predict_to_standard_output_with_probabilities(capsys, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,label\n" + "".join(f"{i},{'no' if i < 20 else 'yes'}\n" for i in range(40)))
    assert run(capsys, "train", "--data", path, "--target", "label", "--epochs", 100, "--save", tmp_path / "m.npz",
               "--quiet")[0] == 0
    new = tmp_path / "new.csv"
    new.write_text("other,x\nq,0\nq,39\n")  # the target and extra columns are not needed
    status, out, err = run(capsys, "predict", "--model", tmp_path / "m.npz", "--data", new, "--proba")
    assert (status, err) == (0, "")
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["label", "P(no)", "P(yes)"] and [row[0] for row in rows[1:]] == ["no", "yes"]
    assert all(float(p) + float(q) == pytest.approx(1.0) for _, p, q in rows[1:])


def test_predict_names_missing_columns_and_protects_files(capsys, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    model = tmp_path / "m.npz"
    assert run(capsys, "train", "--data", path, "--target", "y", "--epochs", 1, "--save", model, "--quiet")[0] == 0
    (tmp_path / "new.csv").write_text("a,c\n1,2\n")
    status, _, err = run(capsys, "predict", "--model", model, "--data", tmp_path / "new.csv")
    one_error_line(status, err, "has no column(s) b, which the model was trained on; it needs: a, b")
    (tmp_path / "mine.csv").write_text("precious\n")
    status, _, err = run(capsys, "predict", "--model", model, "--data", path, "--out", tmp_path / "mine.csv")
    one_error_line(status, err, "a file is there; choose another path, or pass --force")
    assert (tmp_path / "mine.csv").read_text() == "precious\n"
    status, _, err = run(capsys, "predict", "--model", model, "--data", path, "--out", path, "--force")
    one_error_line(status, err, "that is the --data file")
    assert run(capsys, "predict", "--model", model, "--data", path, "--out", tmp_path / "mine.csv", "--force")[0] == 0
    assert (tmp_path / "mine.csv").read_text().startswith("y\n")
    status, _, err = run(capsys, "predict", "--model", path, "--data", path)
    one_error_line(status, err, "is not a readable chainrule model file")


def test_gradcheck_and_doctor_prepare_the_rows_as_the_saved_model_does(capsys, tmp_path):
    X, y, target, _ = sets()["iris"]
    as_csv(tmp_path / "iris.csv", X, y, target)
    model = tmp_path / "m.npz"
    assert run(capsys, "train", "--data", tmp_path / "iris.csv", "--target", target, "--impute", "mean", "--epochs", 5,
               "--save", model, "--quiet")[0] == 0
    status, out, _ = run(capsys, "gradcheck", "--data", tmp_path / "iris.csv", "--model", model)  # no --target needed
    assert status == 0 and "Network(7-16-3" in out and "gradient check passed" in out
    status, out, _ = run(capsys, "doctor", "--data", tmp_path / "iris.csv", "--model", model, "--epochs", 2)
    assert status == 0 and "150 rows (standardized)" in out


def test_a_hinge_classifier_of_minus_one_and_plus_one_round_trips(capsys, tmp_path):
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (60, 2))
    y = np.where(X.sum(axis=1) > 0, 1, -1)
    truth = as_csv(tmp_path / "pm.csv", X, y, "side")
    status, out, _ = run(capsys, "train", "--data", tmp_path / "pm.csv", "--target", "side", "--loss", "hinge",
                         "--impute", "mean", "--test-size", 0, "--epochs", 50, "--save", tmp_path / "m.npz", "--quiet")
    assert status == 0
    trained = line_scores(out, "train")
    status, out, _ = run(capsys, "predict", "--model", tmp_path / "m.npz", "--data", tmp_path / "pm.csv")
    predicted = [row[0] for row in csv.reader(out.splitlines()[1:])]
    assert status == 0 and set(predicted) <= {"-1", "1"}
    assert skm.accuracy_score(truth, predicted) == pytest.approx(trained["accuracy"], abs=5e-4)
    status, _, err = run(capsys, "predict", "--model", tmp_path / "m.npz", "--data", tmp_path / "pm.csv", "--proba")
    one_error_line(status, err, "class probabilities need a classifier trained with bce or cross_entropy")


@pytest.mark.parametrize("flag, value, message", [
    ("--delimiter", "ab", "'ab' is not a delimiter; give one character"),
    ("--task", "ranking", "invalid choice: 'ranking'"),
    ("--impute", "zero", "invalid choice: 'zero'"),
    ("--drop", "a,,b", "is not a list of column names"),
    ("--max-categories", "0", "'0' is not a positive integer"),
])
def test_bad_table_flags_are_one_error_line(capsys, flag, value, message):
    status, _, err = run(capsys, "train", "--data", "xor", flag, value)
    one_error_line(status, err, message)


def test_a_missing_target_is_never_imputed(capsys, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,y\n" + "".join(f"{i},{'' if i in (3, 11) else i % 2}\n" for i in range(20)))
    status, _, err = run(capsys, "train", "--data", path, "--target", "y", "--impute", "mean")
    one_error_line(status, err, "the target 'y' is missing in column 'y' (2: line 5 (data row 4), line 13 (data row 12))",
                   "--drop-missing")
    status, out, _ = run(capsys, "train", "--data", path, "--target", "y", "--drop-missing", "--epochs", 1)
    assert status == 0 and "dropped 2 row(s)" in out and "18 rows × 1 features" in out


def test_predict_scores_only_the_rows_with_a_known_target(capsys, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,label\n" + "".join(f"{i},{'no' if i < 20 else 'yes'}\n" for i in range(40)))
    assert run(capsys, "train", "--data", path, "--target", "label", "--epochs", 100, "--save", tmp_path / "m.npz",
               "--quiet")[0] == 0
    (tmp_path / "new.csv").write_text("x,label\n0,no\n39,\n38,yes\n")
    status, out, _ = run(capsys, "predict", "--model", tmp_path / "m.npz", "--data", tmp_path / "new.csv", "--out",
                         tmp_path / "p.csv")
    assert status == 0 and "scores: loss" in out and "accuracy 1.000" in out and ", 2 rows with a value)" in out
    assert (tmp_path / "p.csv").read_text() == "label\nno\nyes\nyes\n"
    (tmp_path / "new.csv").write_text("x,label\n0,maybe\n")
    status, out, _ = run(capsys, "predict", "--model", tmp_path / "m.npz", "--data", tmp_path / "new.csv", "--out",
                         tmp_path / "p.csv", "--force")
    assert status == 0 and "not scored against 'label': the target 'label' holds 'maybe', not one of the model's" in out
