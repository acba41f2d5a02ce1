"""chainrule.tabular and chainrule.datasets.table: tables as they come (delimiters, missing cells,
text columns), the task and the classes, and a Model that carries its preprocessing — checked
against scikit-learn's SimpleImputer and OneHotEncoder and against values written out here."""

import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder

import chainrule as cr
from chainrule.datasets.table import Table, read_csv
from chainrule.tabular import Model, Preprocessor, Target, infer_task

ROWS = [  # size, colour, weight (one missing), kind
    ("1.0", "red", "3", "a"), ("2.0", "blue", "", "b"), ("3.5", "red", "5", "a"), ("4.0", "green", "7", "b"),
    ("0.5", "", "2", "a"), ("6.0", "blue", "9", "b"),
]


def write_csv(tmp_path, rows=ROWS, delimiter=",", header=("size", "colour", "weight", "kind"), name="t.csv"):
    path = tmp_path / name
    path.write_text("\n".join(delimiter.join(row) for row in [header, *rows]) + "\n")
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed(tmp_path, delimiter):
    table = read_csv(write_csv(tmp_path, delimiter=delimiter))
    assert table.names == ["size", "colour", "weight", "kind"]
    np.testing.assert_array_equal(table.numbers("size"), [1.0, 2.0, 3.5, 4.0, 0.5, 6.0])


def test_a_given_delimiter_is_used(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("a;b,c\n1;2,5\n3;4,5\n")  # by hand: ';' separates, ',' is a decimal comma in this file
    assert read_csv(path, delimiter=";").names == ["a", "b,c"]


def test_missing_cells_are_named_by_column_and_line(tmp_path):
    table = read_csv(write_csv(tmp_path))
    assert table.describe_missing(table.names) == ("column 'colour' (1: line 6 (data row 5)); "
                                                    "column 'weight' (1: line 3 (data row 2))")
    target = Target.fit(table, "kind", "classification")
    with pytest.raises(ValueError, match=r"missing cells in '.*t.csv': column 'colour' \(1: line 6 \(data row 5\)\); "
                                         r"column 'weight' \(1: line 3 \(data row 2\)\); the preprocessing has no value"):
        Preprocessor.fit(table, target).transform(table)


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent"])
def test_imputed_and_one_hot_features_match_scikit_learn(tmp_path, strategy):
    table = read_csv(write_csv(tmp_path))
    train = np.array([0, 1, 2, 3, 4])
    pre = Preprocessor.fit(table, Target.fit(table, "kind", "classification"), train, impute=strategy,
                           standardize=False)
    X = pre.transform(table)  # row 5 is not a training row
    numbers = np.array([[1.0, 3], [2, np.nan], [3.5, 5], [4, 7], [0.5, 2], [6, 9]])
    numeric = SimpleImputer(strategy=strategy).fit(numbers[train])
    colour = np.array([["red"], ["blue"], ["red"], ["green"], [None], ["blue"]], dtype=object)
    filled = SimpleImputer(strategy="most_frequent", missing_values=None).fit(colour[train])
    onehot = OneHotEncoder(handle_unknown="ignore").fit(filled.transform(colour[train]))
    expected = np.column_stack([numeric.transform(numbers)[:, 0], onehot.transform(filled.transform(colour)).toarray(),
                                numeric.transform(numbers)[:, 1]])
    np.testing.assert_allclose(X, expected, atol=1e-12)
    assert pre.features[1]["categories"] == ["blue", "green", "red"]


def test_an_unseen_category_encodes_as_zeros_and_standardization_uses_training_rows(tmp_path):
    table = read_csv(write_csv(tmp_path))
    pre = Preprocessor.fit(table, Target("kind", "classification", ["a", "b"]), [0, 1, 2], impute="mean")
    X = pre.encode(table)
    assert pre.features[1]["categories"] == ["blue", "red"]
    np.testing.assert_array_equal(X[3, 1:3], [0, 0])  # 'green' was not among the training rows' colours
    np.testing.assert_allclose(pre.mean[0], (1.0 + 2.0 + 3.5) / 3)
    np.testing.assert_allclose(pre.std[0], np.std([1.0, 2.0, 3.5]))
    np.testing.assert_allclose(pre.transform(table)[:, 0], (X[:, 0] - pre.mean[0]) / pre.std[0])


@pytest.mark.parametrize("values, task, sentence", [
    (np.arange(214.0) + 25, "regression", "214 distinct whole numbers; use --task classification to override"),
    ([0.5, 1.5, 2.0, 0.5], "regression", "3 distinct numeric values"),
    ([-1, 1, 1, -1], "classification", "2 distinct whole numbers; use --task regression to override"),
    ([0, 1000, 2000, 1000], "classification", "3 distinct whole numbers"),
    (["yes", "no", "no", None], "classification", "2 distinct text values"),
])
def test_the_task_is_inferred_and_said(values, task, sentence):
    table = Table.from_python({"x": np.zeros(len(values)), "y": values})
    found, why = infer_task(table, "y")
    assert found == task and why.startswith(f"treating 'y' as {task}") and sentence in why


def test_a_text_target_cannot_be_regression():
    with pytest.raises(ValueError, match="the target 'y' holds text \\('no'\\).*use --task classification"):
        infer_task(Table.from_python({"y": ["no", "yes"]}), "y", "regression")


@pytest.mark.parametrize("labels, classes", [
    ([-1, 1, 1, -1], [-1, 1]), ([2000, 0, 1000, 0], [0, 1000, 2000]), (["b", "a", "c", "a"], ["a", "b", "c"]),
])
def test_any_labels_are_classes_coded_0_to_K_minus_1_and_back(labels, classes):
    table = Table.from_python({"y": labels})
    target = Target.fit(table, "y", "classification")
    assert target.classes == classes
    codes = target.encode(table)
    np.testing.assert_array_equal(codes, [classes.index(label) for label in labels])
    assert target.decode(codes).tolist() == labels


def test_a_regression_target_is_scaled_and_back():
    table = Table.from_python({"y": [10.0, 20.0, 30.0]})
    target = Target.fit(table, "y", "regression")
    np.testing.assert_allclose(target.encode(table), [-np.sqrt(1.5), 0, np.sqrt(1.5)])
    np.testing.assert_allclose(target.decode(target.encode(table)), [10, 20, 30])


def trained_model(table, target_name, task, hidden=8, epochs=150):
    target = Target.fit(table, target_name, task)
    pre = Preprocessor.fit(table, target, impute="median")
    loss = "mse" if task == "regression" else "bce" if len(target.classes) == 2 else "cross_entropy"
    out = 1 if task == "regression" or loss == "bce" else len(target.classes)
    net = cr.Network([cr.Dense(pre.n_inputs, hidden, "tanh"),
                      cr.Dense(hidden, out, {"mse": "linear", "bce": "sigmoid"}.get(loss, "softmax"))], loss=loss, seed=0)
    net.fit(pre.transform(table), target.encode(table), optimizer=cr.Adam(lr=0.05), epochs=epochs, progress=False)
    return Model(net, pre)


def test_a_model_saved_and_loaded_predicts_the_same_from_raw_rows(tmp_path):
    table = read_csv(write_csv(tmp_path))
    model = trained_model(table, "kind", "classification")
    assert model.predict(table).tolist() == ["a", "b", "a", "b", "a", "b"]  # it learned the 6 rows
    model.save(tmp_path / "m.npz")
    loaded = Model.load(tmp_path / "m.npz")
    records = [dict(zip(["weight", "size", "colour", "extra"], [w, s, c, "ignored"])) for s, c, w, _ in ROWS]
    assert loaded.predict(records).tolist() == model.predict(table).tolist()
    np.testing.assert_allclose(loaded.predict_proba(table), model.predict_proba(table), rtol=1e-12)
    np.testing.assert_allclose(loaded.predict_proba(table).sum(axis=1), 1.0)
    assert isinstance(cr.load(tmp_path / "m.npz"), cr.Network)  # the network alone, as before


def test_a_regression_model_predicts_in_the_targets_units(tmp_path):
    x = np.linspace(0, 1, 40)
    table = Table.from_python({"x": x, "y": 1000 + 500 * x})
    model = trained_model(table, "y", "regression", epochs=400)
    model.save(tmp_path / "r.npz")
    np.testing.assert_allclose(Model.load(tmp_path / "r.npz").predict({"x": [0.0, 0.5, 1.0]}), [1000, 1250, 1500],
                               rtol=0.01)
    with pytest.raises(ValueError, match="class probabilities need a classifier"):
        model.predict_proba(table)


def test_predicting_without_a_training_column_names_it(tmp_path):
    table = read_csv(write_csv(tmp_path))
    model = trained_model(table, "kind", "classification", epochs=1)
    with pytest.raises(ValueError, match="the data has no column\\(s\\) colour, weight, which the model was trained on"):
        model.predict({"size": [1.0]})
    with pytest.raises(ValueError, match="for a CSV file, read it with chainrule.datasets"):
        model.predict(str(tmp_path / "t.csv"))


def test_a_plain_network_file_is_not_a_model_with_preprocessing(tmp_path):
    cr.Network([cr.Dense(2, 1, "sigmoid")], loss="bce").save(tmp_path / "net.npz")
    with pytest.raises(ValueError, match="holds a network without its preprocessing"):
        Model.load(tmp_path / "net.npz")


def test_a_dataframe_is_rows_as_they_come():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"size": [1.0, np.nan, 3.0], "colour": ["red", None, "blue"], "ok": [True, False, True]})
    table = Table.from_python(frame)
    np.testing.assert_array_equal(table.missing("size"), [False, True, False])
    np.testing.assert_array_equal(table.missing("colour"), [False, True, False])
    assert table.strings("ok").tolist() == ["True", "False", "True"]  # booleans are categories, as in a CSV file
    assert table.where(1) == "row index 1"


@pytest.mark.parametrize("rows, names, match", [
    ([[1, 2], [3]], ["a", "b"], "row index 1 has 1 cells; each row needs 2"),
    ([[1, 2]], None, "rows without column names need the column order"),
    ({"a": [1, 2], "b": [3]}, None, "the columns of the data have different lengths"),
    ({"a": [object()]}, None, "column 'a' holds <object"),
    ({"a": [[1, 2], [3, 4]]}, None, "column 'a' must be one-dimensional"),
])
def test_python_rows_that_are_not_a_table_are_one_value_error(rows, names, match):
    with pytest.raises(ValueError, match=match):
        Table.from_python(rows, names)


def test_a_text_target_of_many_values_needs_the_task_said():
    table = Table.from_python({"x": np.zeros(150), "name": [f"id{i}" for i in range(150)]})
    with pytest.raises(ValueError, match="the target 'name' has 150 distinct text values: .* say --task classification"):
        infer_task(table, "name")
    assert infer_task(table, "name", "classification")[0] == "classification"


def test_one_hot_inputs_that_would_not_fit_in_memory_are_refused(monkeypatch, tmp_path):
    from chainrule import memory
    (tmp_path / "t.csv").write_text("colour,y\nred,0\nblue,1\ngreen,0\nred,1\n")
    table = read_csv(tmp_path / "t.csv")
    target = Target.fit(table, "y", "classification")
    pre = Preprocessor.fit(table, target, standardize=False)
    monkeypatch.setattr(memory, "SMALL", 0)
    monkeypatch.setattr(memory, "available", lambda: 100)  # bytes: less than 2 · 4 rows · 3 categories · 8
    with pytest.raises(ValueError, match=r"the 3 one-hot inputs of 4 rows needs about .* use fewer rows at a time"):
        pre.encode(table)
