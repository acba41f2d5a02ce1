"""chainrule.datasets: the loaders, the CSV reader's errors, the split and the standardizer."""

import sys

import numpy as np
import pytest

from chainrule import datasets as ds


def test_xor_is_the_lab_table():
    X, y = ds.xor()
    assert X.dtype == np.float64 and X.shape == (4, 2)
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])
    # y = x1 XOR x2, row by row
    assert [int(a) ^ int(b) for a, b in X] == y.tolist()


def test_moons_shapes_labels_and_geometry():
    X, y = ds.moons()
    assert X.shape == (200, 2) and y.shape == (200,) and np.issubdtype(y.dtype, np.integer)
    assert set(y.tolist()) == {0, 1} and np.bincount(y).tolist() == [100, 100]
    assert ds.moons(n=50, seed=1)[0].shape == (50, 2)
    np.testing.assert_array_equal(ds.moons(seed=7)[0], ds.moons(seed=7)[0])
    assert not np.array_equal(ds.moons(seed=7)[0], ds.moons(seed=8)[0])
    # without noise the points lie on two unit half circles: class 0 centred at (0, 0),
    # class 1 at (1, 0.5), the second one upside down
    X, y = ds.moons(n=100, noise=0.0)
    np.testing.assert_allclose(np.hypot(X[y == 0, 0], X[y == 0, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(X[y == 1, 0] - 1, X[y == 1, 1] - 0.5), 1.0)
    assert (X[y == 0, 1] >= -1e-12).all() and (X[y == 1, 1] <= 0.5 + 1e-12).all()


def test_circles_shapes_labels_and_radii():
    X, y = ds.circles()
    assert X.shape == (200, 2) and set(y.tolist()) == {0, 1}
    X, y = ds.circles(n=80, noise=0.0, factor=0.3)
    # class 0 on the unit circle, class 1 (inner) on radius = factor
    np.testing.assert_allclose(np.hypot(*X[y == 0].T), 1.0)
    np.testing.assert_allclose(np.hypot(*X[y == 1].T), 0.3)


def test_digits_scaled_to_unit_interval():
    X, y = ds.digits()
    assert X.shape == (1797, 64) and y.shape == (1797,) and np.issubdtype(y.dtype, np.integer)
    assert set(y.tolist()) == set(range(10))
    assert X.min() == 0.0 and X.max() == 1.0
    # the raw pixels are integer counts 0 … 16, so 16·X is whole
    np.testing.assert_array_equal(16 * X, np.round(16 * X))


def test_every_registered_dataset_loads():
    for name, loader in ds.DATASETS.items():
        X, y = loader()
        assert X.ndim == 2 and len(X) == len(y), name


@pytest.mark.parametrize("loader", [ds.moons, ds.circles, ds.digits])
def test_missing_scikit_learn_says_how_to_install_it(monkeypatch, loader):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "chainrule\[datasets\]"'):
        loader()
    ds.xor()  # needs NumPy only


# ---- load_csv -------------------------------------------------------------------------------


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_load_csv_numeric_integer_target(tmp_path):
    path = write(tmp_path, "x1,label,x2\n1.5,0,2\n-3,1,4e-1\n0,1,7\n\n")
    X, y, names = ds.load_csv(path, "label")
    assert names == ["x1", "x2"]
    assert X.dtype == np.float64
    np.testing.assert_array_equal(X, [[1.5, 2.0], [-3.0, 0.4], [0.0, 7.0]])
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 1]


def test_load_csv_real_target_stays_float(tmp_path):
    X, y, names = ds.load_csv(write(tmp_path, "a,price\n1,2.5\n2,3\n"), target="price")
    assert y.dtype == np.float64 and y.tolist() == [2.5, 3.0]
    assert names == ["a"] and X.shape == (2, 1)


def test_load_csv_string_target_becomes_sorted_class_codes(tmp_path):
    path = write(tmp_path, "\ufeffspecies, w ,h\n dog ,1,2\ncat,3,4\nant,5,6\ndog,7,8\n", encoding="utf-8")
    X, y, names = ds.load_csv(str(path), "species")
    assert names == ["w", "h"]  # byte-order mark and spaces stripped
    # sorted unique: ant → 0, cat → 1, dog → 2
    assert y.dtype == np.int64 and y.tolist() == [2, 1, 0, 2]
    np.testing.assert_array_equal(X, [[1, 2], [3, 4], [5, 6], [7, 8]])


@pytest.mark.parametrize(
    "text, target, message",
    [
        (None, "y", r"no CSV file at .*missing\.csv"),
        ("", "y", "is empty; expected a header row"),
        ("\n\n", "y", "is empty"),
        ("a,b,y\n", "y", "has a header row but no data rows"),
        ("a,b,y\n1,2,0\n", "label", r"has no column 'label'; the columns are: a, b, y"),
        ("a,b,y\n1,2,0\n3,oops,1\n", "y", r"line 3 \(data row 2\), column 'b': 'oops' is not a number"),
        ("a,b,y\n1,,0\n", "y", r"missing cells in .*: column 'b' \(1: line 2 \(data row 1\)\); features must be numbers"),
        ("a,b,y\n1,2,0\n3,4, \n", "y", r"line 3 \(data row 2\) has no value in the target column 'y'"),
        ("a,b,y\n1,2,0\n3,4\n", "y", r"line 3 has 2 field\(s\) but the header has 3"),
        ("a,b,y\n1,2,0,9\n", "y", r"line 2 has 4 field\(s\) but the header has 3"),
        ("y,a,y\n1,2,0\n", "y", "2 columns named 'y'"),
        ("y\n1\n", "y", "no features"),
    ],
)
def test_load_csv_errors_name_the_problem(tmp_path, text, target, message):
    path = tmp_path / "missing.csv" if text is None else write(tmp_path, text)
    with pytest.raises(ValueError, match=message):
        ds.load_csv(path, target)


def test_load_csv_on_a_folder_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        ds.load_csv(tmp_path, "y")


# ---- split and standardize ------------------------------------------------------------------


def test_split_is_a_seeded_permutation_that_keeps_pairs():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10) * 10
    X_train, X_test, y_train, y_test = ds.train_test_split(X, y, test_size=0.25, seed=3)
    assert len(X_test) == 3 and len(X_train) == 7  # ⌈0.25 · 10⌉ = 3
    rows = np.concatenate([X_train[:, 0], X_test[:, 0]]) // 2
    assert sorted(rows.tolist()) == list(range(10))  # every row exactly once
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), rows * 10)  # targets follow their rows
    again = ds.train_test_split(X, y, test_size=0.25, seed=3)
    np.testing.assert_array_equal(again[1], X_test)
    assert not np.array_equal(ds.train_test_split(X, y, test_size=0.25, seed=4)[1], X_test)
    assert rows.tolist() != list(range(10))  # shuffled, not a slice


def test_split_with_no_test_rows_keeps_everything_for_training():
    X, y = ds.xor()
    X_train, X_test, y_train, y_test = ds.train_test_split(X, y, test_size=0)
    assert len(X_train) == 4 and X_test.shape == (0, 2) and y_test.shape == (0,)


@pytest.mark.parametrize(
    "n_y, test_size, message",
    [
        (4, 1.0, r"test_size must be a fraction in \[0, 1\)"),
        (4, -0.1, "test_size"),
        (3, 0.25, "X has 4 rows but y has 3"),
        (4, 0.9, "leaves no row to train on"),  # ⌈0.9 · 4⌉ = 4
    ],
)
def test_split_errors(n_y, test_size, message):
    with pytest.raises(ValueError, match=message):
        ds.train_test_split(np.zeros((4, 2)), np.zeros(n_y), test_size=test_size)


def test_standardizer_is_fitted_on_the_training_rows_only():
    # train column 0: 1, 3 → μ = 2, σ = 1;  column 1: 10, 30 → μ = 20, σ = 10; column 2 constant → σ := 1
    X_train = np.array([[1.0, 10.0, 5.0], [3.0, 30.0, 5.0]])
    X_test = np.array([[5.0, 40.0, 5.0], [7.0, 60.0, 9.0]])
    train_s, test_s, scaler = ds.standardize(X_train, X_test)
    np.testing.assert_allclose(scaler.mean, [2, 20, 5])
    np.testing.assert_allclose(scaler.std, [1, 10, 1])
    np.testing.assert_allclose(train_s, [[-1, -1, 0], [1, 1, 0]])
    np.testing.assert_allclose(test_s, [[3, 2, 0], [5, 4, 4]])  # (x − μ_train) / σ_train
    assert np.allclose(train_s.mean(axis=0), 0) and not np.allclose(test_s.mean(axis=0), 0)
    assert ds.standardize(X_train)[1] is None


def test_standardizer_errors():
    with pytest.raises(ValueError, match="before fit"):
        ds.Standardizer().transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match="non-empty 2-D"):
        ds.Standardizer().fit(np.ones(3))
