"""chainrule.sklearn's estimators: the same training as scikit-learn's MLP (its own estimators, started
from the same weights, are the oracle), and the scikit-learn workflow around them."""

import pickle
import warnings

import joblib
import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_iris, make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.callbacks import Callback  # noqa: E402
from chainrule.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def classification(classes=2, n=60, seed=0):
    X, y = make_classification(n_samples=n, n_features=5, n_informative=4, n_redundant=0, n_classes=classes,
                               random_state=seed)
    return StandardScaler().fit_transform(X), y


def regression(outputs=1, n=60, seed=0):
    X, y = make_regression(n_samples=n, n_features=4, n_targets=outputs, noise=0.1, random_state=seed)
    return StandardScaler().fit_transform(X), y / np.std(y)


# ---- the same training as scikit-learn's MLP -------------------------------------------------


def trained_from_the_same_start(ours, theirs, X, y, sample_weight, epochs):
    """Both estimators fitted one epoch (which draws their weights), ours given theirs, then both
    fitted ``epochs`` more from there (warm starts: the optimizer starts afresh in both)."""
    for est in (ours, theirs):
        est.set_params(max_iter=1, warm_start=True, shuffle=False, tol=0.0, n_iter_no_change=10**6)
        est.fit(X, y, sample_weight=sample_weight)
    for W, b, W0, b0 in zip(ours.coefs_, ours.intercepts_, theirs.coefs_, theirs.intercepts_):
        W[...], b[...] = W0, b0
    for est in (ours, theirs):
        est.set_params(max_iter=epochs).fit(X, y, sample_weight=sample_weight)


CASES = {
    "binary": (lambda: classification(2), MLPClassifier, neural_network.MLPClassifier),
    "multiclass": (lambda: classification(3), MLPClassifier, neural_network.MLPClassifier),
    "regression": (lambda: regression(1), MLPRegressor, neural_network.MLPRegressor),
    "two outputs": (lambda: regression(2), MLPRegressor, neural_network.MLPRegressor),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_with_alpha_and_momentum_takes_scikit_learns_steps(case, weighted, nesterov):
    """Full-batch SGD with momentum and the L2 penalty α, 20 steps: the same weights as scikit-learn's
    MLP to rounding, and the same loss curve (for one output: with K, scikit-learn reports the data
    term divided by K, and steps along the same gradient as ours): the losses' gradients, α's
    scaling, the sample weights and the momentum all agree."""
    make, ours_cls, theirs_cls = CASES[case]
    X, y = make()
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(X)) if weighted else None
    options = dict(hidden_layer_sizes=(7, 5), activation="tanh", solver="sgd", alpha=0.3, batch_size=len(X),
                   learning_rate_init=0.05, momentum=0.9, nesterovs_momentum=nesterov, random_state=0)
    ours, theirs = ours_cls(**options), theirs_cls(**options)
    trained_from_the_same_start(ours, theirs, X, y, w, epochs=20)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    if case != "two outputs":  # there scikit-learn reports the squared error divided by 2 (not the penalty)
        np.testing.assert_allclose(ours.loss_curve_[1:], theirs.loss_curve_[1:], rtol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_ == 20 and ours.t_ == theirs.t_ == 21 * len(X)


def test_adam_takes_scikit_learns_steps_but_for_where_epsilon_goes():
    """Adam adds ε to √v̂ (PyTorch) where scikit-learn adds it to √v: with ε = 1e-15 that difference
    is below 1e-10 and the weights agree to that; with the default 1e-8 it is of order 1e-4 (on
    entries whose gradient is near 0, where ε matters)."""
    X, y = classification(3)
    for epsilon, tolerance in ((1e-15, 1e-10), (1e-8, 1e-4)):
        options = dict(hidden_layer_sizes=(6,), batch_size=len(X), learning_rate_init=0.01, alpha=0.01,
                       epsilon=epsilon, random_state=0)
        ours, theirs = MLPClassifier(**options), neural_network.MLPClassifier(**options)
        trained_from_the_same_start(ours, theirs, X, y, None, epochs=30)
        for a, b in zip(ours.coefs_, theirs.coefs_):
            np.testing.assert_allclose(a, b, rtol=0, atol=tolerance)


# ---- the scikit-learn workflow ---------------------------------------------------------------


def test_string_boolean_and_pandas_labels():
    X, y = classification(3)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(clf.predict(X)) <= set(names) and clf.predict_proba(X).shape == (60, 3)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    Xb, yb = classification(2)
    flags = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(Xb, yb == 1)
    assert flags.predict(Xb).dtype == bool and list(flags.classes_) == [False, True]
    z = flags.decision_function(Xb)
    assert z.shape == (60,) and np.array_equal(flags.predict(Xb), z > 0)  # z > 0: σ(z) > ½, classes_[1]


def test_dataframes_give_feature_names_and_series_labels_work():
    pd = pytest.importorskip("pandas")
    X, y = classification(2)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(frame, pd.Series(y))
    assert list(clf.feature_names_in_) == list(frame.columns) and clf.n_features_in_ == 5
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)  # fitted with names, asked without


def test_clone_pipeline_grid_search_and_cross_validation():
    X, y = load_iris(return_X_y=True)
    base = MLPClassifier(hidden_layer_sizes=(10,), max_iter=100, learning_rate_init=0.01, random_state=0)
    copy_ = clone(base)
    assert copy_.get_params() == base.get_params() and not hasattr(copy_, "network_")
    pipe = make_pipeline(StandardScaler(), base)
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.8
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1], "mlpclassifier__hidden_layer_sizes": [(5,), (10,)]},
                          cv=3).fit(X, y)
    assert search.best_score_ > 0.8 and len(search.cv_results_["params"]) == 4


def test_column_transformer_with_a_string_column():
    pd = pytest.importorskip("pandas")
    X, y = regression(1, n=80)
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["colour"] = np.where(X[:, 0] > 0, "red", "blue")
    pre = ColumnTransformer([("num", StandardScaler(), list("abcd")), ("cat", OneHotEncoder(), ["colour"])])
    model = Pipeline([("pre", pre), ("mlp", MLPRegressor(hidden_layer_sizes=(16,), max_iter=300,
                                                          learning_rate_init=0.01, random_state=0))])
    assert model.fit(frame, y).score(frame, y) > 0.9


def test_regressor_one_and_several_outputs():
    X, y = regression(1)
    reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=300, learning_rate_init=0.01, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (60,) and reg.score(X, y) > 0.9
    X2, Y2 = regression(3)
    reg2 = MLPRegressor(hidden_layer_sizes=(16,), max_iter=300, learning_rate_init=0.01, random_state=0).fit(X2, Y2)
    assert reg2.predict(X2).shape == (60, 3) and reg2.score(X2, Y2) > 0.9
    assert [W.shape for W in reg2.coefs_] == [(4, 16), (16, 3)] and [b.shape for b in reg2.intercepts_] == [(16,), (3,)]


def test_network_is_the_trained_chainrule_network():
    X, y = classification(3)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y)
    net = clf.network_
    assert isinstance(net, cr.Network) and net.loss.name == "cross_entropy" and net.l2 == clf.alpha
    np.testing.assert_array_equal(net.predict(X), clf.predict_proba(X))
    assert clf.coefs_[0] is not None and np.shares_memory(clf.coefs_[0], net.theta)
    assert clf.n_iter_ == 20 == len(clf.loss_curve_)


def test_partial_fit():
    X, y = classification(3)
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes="):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:30], y[:30], classes=[0, 1, 2])
    clf.partial_fit(X[30:], y[30:])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 2 and list(clf.classes_) == [0, 1, 2]  # n_iter_: per call
    assert clf.t_ == 60
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:5], np.full(5, 7))
    reg = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    Xr, yr = regression(1)
    for _ in range(3):
        reg.partial_fit(Xr, yr)
    assert reg.n_iter_ == 1 and reg.t_ == 3 * 60


def test_class_weight_is_a_weight_per_row():
    X, y = classification(2)
    options = dict(hidden_layer_sizes=(6,), max_iter=15, random_state=0)
    a = MLPClassifier(class_weight={0: 3.0, 1: 1.0}, **options).fit(X, y)
    b = MLPClassifier(**options).fit(X, y, sample_weight=np.where(y == 0, 3.0, 1.0))
    for Wa, Wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_allclose(Wa, Wb, rtol=1e-12)
    c = MLPClassifier(**options).fit(X, y)
    assert not np.allclose(a.coefs_[0], c.coefs_[0])


def test_stopping_rules():
    X, y = classification(2, n=200)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=500, early_stopping=True, n_iter_no_change=5,
                        learning_rate_init=0.05, random_state=0).fit(X, y)
    assert clf.n_iter_ < 500 and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=2000, tol=1e-3, n_iter_no_change=3,
                       learning_rate_init=0.01, random_state=0).fit(*regression(1))
    assert reg.n_iter_ < 2000 and reg.best_loss_ == min(reg.loss_curve_)
    small = MLPRegressor(hidden_layer_sizes=(4,), early_stopping=True, max_iter=5, random_state=0)
    small.fit(*regression(1, n=8))  # 10% of 8 rows is one: two are held out, since an R² needs two
    assert np.isfinite(small.validation_scores_).all()
    with pytest.raises(ValueError, match="1 sample"):
        small.fit(np.ones((1, 4)), [1.0])
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(*regression(1))


def test_pickle_and_joblib(tmp_path):
    X, y = classification(3)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y)
    for copy_ in (pickle.loads(pickle.dumps(clf)), joblib.load(joblib.dump(clf, tmp_path / "m.joblib")[0])):
        np.testing.assert_array_equal(copy_.predict_proba(X), clf.predict_proba(X))
        copy_.partial_fit(X, y)  # continues, its optimizer afresh
        assert len(copy_.loss_curve_) == 21


def test_callbacks_and_diagnostics_reach_the_loop():
    class Count(Callback):
        epochs = 0

        def on_epoch_end(self, trainer, epoch, logs):
            Count.epochs += 1

    X, y = classification(2)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=7, callbacks=[Count()], random_state=0).fit(X, y)
    assert Count.epochs == 7
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        clf.set_params(diagnostics=True, max_iter=3).fit(X * 1000, y)
    assert any(issubclass(w.category, cr.DiagnosticWarning) for w in shown)  # unnormalized inputs, said


@pytest.mark.parametrize("params, message", [
    (dict(solver="lbfgs"), "solver must be one of 'sgd', 'adam'.*lbfgs"),
    (dict(activation="softplus"), "activation must be one of"),
    (dict(hidden_layer_sizes=(10, 0)), "hidden_layer_sizes"),
    (dict(batch_size=0), "batch_size"),
    (dict(alpha=-1.0), "alpha"),
    (dict(max_iter=0), "max_iter"),
    (dict(validation_fraction=1.0), "validation_fraction"),
    (dict(loss="mse"), "MLPClassifier loss must be"),
    (dict(dtype="int8"), "dtype"),
    (dict(init="lecun"), "init must be 'sklearn' or one of"),
    (dict(batch_norm="yes"), "batch_norm"),
    (dict(residual=1.5), "residual"),
])
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        MLPClassifier(**params).fit(*classification(2))


def test_one_class_is_refused():
    X, _ = classification(2)
    with pytest.raises(ValueError, match="at least 2 classes"):
        MLPClassifier().fit(X, np.zeros(len(X)))


def test_initial_weights_are_drawn_as_scikit_learn_draws_them_or_by_a_chainrule_initializer():
    """init="sklearn": W and b uniform within ±√(6/(fan_in + fan_out)) (√(2/…) for logistic), spread over
    the whole interval; a chainrule initializer's name: its draw, biases 0."""
    X, y = classification(2, n=30)
    for activation, k in (("relu", 6.0), ("logistic", 2.0)):
        clf = MLPClassifier(hidden_layer_sizes=(300,), activation=activation, max_iter=1, learning_rate_init=1e-12,
                            random_state=0).fit(X, y)
        bound = np.sqrt(k / (5 + 300))
        W, b = clf.coefs_[0], clf.intercepts_[0]
        assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound and abs(W.mean()) < 0.05 * bound
        np.testing.assert_allclose(np.std(W), bound / np.sqrt(3), rtol=0.05)  # a uniform's std
        assert np.abs(b).max() <= bound and b.std() > 0.4 * bound
    he = MLPClassifier(hidden_layer_sizes=(300,), init="he_normal", max_iter=1, learning_rate_init=1e-12,
                       random_state=0).fit(X, y)
    np.testing.assert_allclose(np.std(he.coefs_[0]), np.sqrt(2 / 5), rtol=0.1)
    assert np.abs(he.intercepts_[0]).max() < 1e-11  # 0, and one step of at most the rate 1e-12


def test_several_labels_per_row_are_refused():
    X, y = classification(2)
    with pytest.raises(ValueError, match="1d array"):  # one label a row (multi-label is not supported)
        MLPClassifier(max_iter=1).fit(X, np.column_stack([y, 1 - y]))


def test_chainrules_own_loss_and_output_choices():
    X, y = classification(2)
    soft = MLPClassifier(hidden_layer_sizes=(8,), loss="cross_entropy", max_iter=300, learning_rate_init=0.01,
                         random_state=0).fit(X, y)
    assert soft.network_.n_out == 2 and soft.network_.layers[-1].activation.name == "softmax"
    assert soft.predict_proba(X).shape == (60, 2) and soft.decision_function(X).shape == (60, 2)
    assert soft.score(X, y) > 0.9
    Xr, yr = regression(1)
    reg = MLPRegressor(hidden_layer_sizes=(8,), loss="mse", output_activation="tanh", max_iter=5, random_state=0)
    net = reg.fit(Xr, np.tanh(yr)).network_
    assert net.loss.name == "mse" and net.layers[-1].activation.name == "tanh"
    with pytest.raises(ValueError, match="loss='bce' is for two classes"):
        MLPClassifier(loss="bce", max_iter=1).fit(*classification(3))
