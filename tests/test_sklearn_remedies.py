"""The estimators with batch normalization and residual blocks (``batch_norm``, ``residual``): the
networks they build and train (a network built and trained by hand is the oracle), the evaluation
mode's equations written out, and what the estimator keeps across early stopping, warm starts,
partial fits and pickling: the BatchNorm layers' running statistics."""

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_diabetes, load_digits, load_iris  # noqa: E402
from sklearn.model_selection import cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from test_sklearn import classification, regression  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

OPTIONS = {
    "batch_norm": dict(batch_norm=True),
    "residual": dict(residual=True),
    "both": dict(batch_norm=True, residual=True),
}
# the network's layers for two hidden layers, as the command line's --batch-norm and --residual build them
KINDS = {
    "batch_norm": ["Dense", "BatchNorm", "Dense", "BatchNorm", "Dense"],
    "residual": ["Dense", "Residual", "Dense"],
    "both": ["Dense", "BatchNorm", "Residual", "Dense"],
}
NO_STOP = dict(tol=0.0, n_iter_no_change=10**6)  # a fixed number of epochs


def kinds(est):
    return [type(layer).__name__ for layer in est.network_.layers]


# ---- each option trains a real data set -----------------------------------------------------


def split_score(load, est):
    X, y = load(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    return make_pipeline(StandardScaler(), est).fit(X_train, y_train).score(X_test, y_test)


@pytest.mark.parametrize("option", list(OPTIONS))
def test_each_option_classifies_iris_and_digits(option):
    iris = MLPClassifier(hidden_layer_sizes=(16, 16), batch_size=32, learning_rate_init=0.01, max_iter=100,
                         random_state=0, **OPTIONS[option])
    assert split_score(load_iris, iris) > 0.9 and kinds(iris) == KINDS[option]
    digits = MLPClassifier(hidden_layer_sizes=(64, 32), batch_size=32, learning_rate_init=0.01, max_iter=30,
                           random_state=0, **OPTIONS[option])
    assert split_score(load_digits, digits) > 0.93 and kinds(digits) == KINDS[option]


@pytest.mark.parametrize("option", list(OPTIONS))
def test_each_option_fits_diabetes(option):
    """R² over 5 folds (one 25% split of 442 noisy rows swings by ±0.1; a linear fit scores 0.48, the
    mean 0): small networks, few epochs."""
    X, y = load_diabetes(return_X_y=True)
    est = MLPRegressor(hidden_layer_sizes=(8, 8), batch_size=64, learning_rate_init=0.01, max_iter=20,
                       random_state=0, **OPTIONS[option])
    assert cross_val_score(make_pipeline(StandardScaler(), est), X, y / y.std(), cv=5).mean() > 0.35
    assert kinds(est.fit(X, y / y.std())) == KINDS[option]


# ---- the network the estimator builds and trains --------------------------------------------


def uniform(rng, n_in, n_out):
    """scikit-learn's initial (W, b) of a relu layer: uniform within ±√(6/(n_in + n_out))."""
    bound = np.sqrt(6 / (n_in + n_out))
    return rng.uniform(-bound, bound, (n_in, n_out)), rng.uniform(-bound, bound, n_out)


def hidden_layer(rng, n_in, n_out, batch_norm):
    """Dense (no bias; its b drawn and dropped) then BatchNorm(relu), or Dense(relu)."""
    W, b = uniform(rng, n_in, n_out)
    if batch_norm:
        return [cr.Dense(n_in, n_out, bias=False, init=W), cr.BatchNorm(n_out, "relu")]
    return [cr.Dense(n_in, n_out, "relu", init=(W, b))]


def by_hand(seed, batch_norm, residual):
    """The classifier's network for 5 features, hidden (8, 8, 6), 3 classes, drawn layer by layer in
    the order of the forward pass (a block's projection P after its branch)."""
    rng = np.random.default_rng(seed)
    layers = hidden_layer(rng, 5, 8, batch_norm)
    for n_in, n_out in ((8, 8), (8, 6)):
        branch = hidden_layer(rng, n_in, n_out, batch_norm)
        if residual:
            P = None if n_in == n_out else cr.Dense(n_in, n_out, bias=False, init=uniform(rng, n_in, n_out)[0])
            layers.append(cr.Residual(branch, projection=P))
        else:
            layers += branch
    layers.append(cr.Dense(6, 3, "softmax", init=uniform(rng, 6, 3)))
    return cr.Network(layers, loss="cross_entropy", seed=seed, l2=1e-4)


@pytest.mark.parametrize("batch_norm, residual", [(True, False), (True, True), (False, True)])
def test_the_classifier_trains_the_network_built_by_hand(batch_norm, residual):
    """Same layers, same initial weights, the same Adam and mini-batches (shuffled by the network's
    seed, which the estimator draws from random_state as scikit-learn does): the same predictions and
    running statistics after 6 epochs, to 1e-12."""
    X, y = classification(3)
    clf = MLPClassifier(hidden_layer_sizes=(8, 8, 6), batch_norm=batch_norm, residual=residual, batch_size=16,
                        learning_rate_init=0.01, max_iter=6, random_state=0, **NO_STOP).fit(X, y)
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    net = by_hand(seed, batch_norm, residual)
    net.fit(X, np.eye(3)[y], optimizer=cr.Adam(0.01, betas=(0.9, 0.999), eps=1e-8), epochs=6, batch_size=16,
            shuffle=True, progress=False, diagnostics=False)
    np.testing.assert_allclose(clf.predict_proba(X), net.predict(X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(clf.network_.running, net.running, rtol=0, atol=1e-12)
    assert clf.network_.architecture() == net.architecture()


def test_predictions_are_the_evaluation_modes_equations():
    """predict_proba with batch_norm: z = x W(1), x̂ = (z − running mean)/√(running var + ε),
    a = relu(γ x̂ + β), then softmax(a W(2) + b(2)), written out here; a row predicts the same alone
    as in a batch, and predicting updates no running statistic."""
    X, y = classification(3)
    clf = MLPClassifier(hidden_layer_sizes=(8,), batch_norm=True, batch_size=16, learning_rate_init=0.01,
                        max_iter=10, random_state=0).fit(X, y)
    dense, bn, out = clf.network_.layers
    assert np.abs(bn.running_var - 1).max() > 0.3  # trained, not the initial 1
    running = clf.network_.running.copy()
    a = np.maximum(bn.gamma * (X @ dense.W - bn.running_mean) / np.sqrt(bn.running_var + bn.eps) + bn.beta, 0)
    z = a @ out.W + out.b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X), p / p.sum(axis=1, keepdims=True), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(clf.predict_proba(X[3:4]), clf.predict_proba(X)[3:4], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(clf.network_.running, running)


def test_coefs_and_intercepts_are_one_per_layer_of_the_mlp():
    """batch_norm and residual: coefs_ the Dense layers' W in scikit-learn's shapes (a block's branch,
    not its projection), views into the network; intercepts_ zeros for the bias-free hidden layers.
    With batch_norm alone, every layer starts from the weights it has without (same random_state)."""
    X, y = regression(1)
    reg = MLPRegressor(hidden_layer_sizes=(8, 8, 6), batch_norm=True, residual=True, max_iter=3,
                       random_state=0).fit(X, y)
    assert [W.shape for W in reg.coefs_] == [(4, 8), (8, 8), (8, 6), (6, 1)]
    assert [b.shape for b in reg.intercepts_] == [(8,), (8,), (6,), (1,)]
    assert all(not b.any() for b in reg.intercepts_[:-1]) and reg.intercepts_[-1].any()
    assert all(np.shares_memory(W, reg.network_.theta) for W in reg.coefs_)
    before = reg.predict(X)
    reg.coefs_[1][...] = 0  # the first block's branch
    assert not np.allclose(reg.predict(X), before)
    start = dict(hidden_layer_sizes=(8, 8), max_iter=1, learning_rate_init=1e-12, random_state=0)
    plain, normalized = MLPRegressor(**start).fit(X, y), MLPRegressor(batch_norm=True, **start).fit(X, y)
    for W, W_bn in zip(plain.coefs_, normalized.coefs_):
        np.testing.assert_allclose(W_bn, W, atol=1e-10)


# ---- what the estimator keeps: the running statistics ----------------------------------------


class Record(cr.Callback):
    """θ and the running statistics at the end of every epoch."""

    def __init__(self):
        self.states = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.states.append((trainer.net.theta.copy(), trainer.net.running.copy()))


def test_early_stopping_restores_the_best_epochs_weights_and_running_statistics():
    X, y = classification(3, n=200)
    record = Record()
    clf = MLPClassifier(hidden_layer_sizes=(16, 16), batch_norm=True, residual=True, early_stopping=True,
                        n_iter_no_change=5, batch_size=32, learning_rate_init=0.01, max_iter=300, callbacks=[record],
                        random_state=0).fit(X, y)
    best = int(np.argmax(clf.validation_scores_))
    assert clf.n_iter_ == len(record.states) > best + 1  # trained on past the best epoch
    theta, running = record.states[best]
    np.testing.assert_array_equal(clf.network_.theta, theta)
    np.testing.assert_array_equal(clf.network_.running, running)
    assert not np.allclose(running, record.states[-1][1])


def test_warm_start_and_partial_fit_continue_the_running_statistics():
    """Plain SGD keeps no state between fits: two warm-started fits of 4 epochs are one fit of 8.
    partial_fit continues its Adam: three calls are one fit of 3 epochs."""
    X, y = regression(1)
    sgd = dict(hidden_layer_sizes=(8, 8), batch_norm=True, residual=True, solver="sgd", momentum=0.0,
               batch_size=16, learning_rate_init=0.01, random_state=0, **NO_STOP)
    warm = MLPRegressor(max_iter=4, warm_start=True, **sgd).fit(X, y).fit(X, y)
    once = MLPRegressor(max_iter=8, **sgd).fit(X, y)
    np.testing.assert_allclose(warm.network_.running, once.network_.running, rtol=0, atol=1e-12)
    np.testing.assert_allclose(warm.predict(X), once.predict(X), rtol=0, atol=1e-12)
    adam = dict(hidden_layer_sizes=(8, 8), batch_norm=True, batch_size=16, learning_rate_init=0.01, random_state=0)
    partial = MLPClassifier(**adam)
    Xc, yc = classification(3)
    for _ in range(3):
        partial.partial_fit(Xc, yc, classes=[0, 1, 2])
    whole = MLPClassifier(max_iter=3, **adam, **NO_STOP).fit(Xc, yc)
    np.testing.assert_allclose(partial.network_.running, whole.network_.running, rtol=0, atol=1e-12)
    np.testing.assert_allclose(partial.predict_proba(Xc), whole.predict_proba(Xc), rtol=0, atol=1e-12)


def test_pickling_keeps_the_running_statistics():
    X, y = classification(3)
    clf = MLPClassifier(hidden_layer_sizes=(8, 8), batch_norm=True, residual=True, batch_size=16, max_iter=10,
                        learning_rate_init=0.01, random_state=0).fit(X, y)
    copy_ = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy_.network_.running, clf.network_.running)
    np.testing.assert_array_equal(copy_.predict_proba(X), clf.predict_proba(X))
    fresh = clf.network_.copy()
    for layer in fresh.layers:  # the statistics matter: their initial values predict otherwise
        if isinstance(layer, cr.BatchNorm):
            layer.running_mean[...], layer.running_var[...] = 0.0, 1.0
    assert not np.allclose(fresh.predict(X), clf.predict_proba(X), atol=1e-3)
    copy_.partial_fit(X, y)  # trains on, its optimizer afresh
    assert len(copy_.loss_curve_) == 11 and not np.array_equal(copy_.network_.running, clf.network_.running)


def test_float32_end_to_end():
    X, y = classification(3)
    options = dict(hidden_layer_sizes=(8, 8), batch_norm=True, residual=True, batch_size=16,
                   learning_rate_init=0.01, max_iter=5, random_state=0)
    single = MLPClassifier(dtype="float32", **options).fit(X, y)
    net = single.network_
    assert net.theta.dtype == net.running.dtype == single.coefs_[0].dtype == single.intercepts_[0].dtype == np.float32
    double = MLPClassifier(**options).fit(X, y)
    np.testing.assert_allclose(single.predict_proba(X), double.predict_proba(X), atol=1e-4)


# ---- batches: a BatchNorm trains on at least 2 rows -----------------------------------------


class BatchSize(cr.Callback):
    def on_train_begin(self, trainer):
        self.rows = trainer.batch_size


@pytest.mark.parametrize("n, rows", [(201, 199), (401, 199), (39801, 198), (200, 200), (399, 200)])
def test_auto_batches_leave_no_last_batch_of_one_row(n, rows):
    """"auto" is min(200, n), less where that leaves a last batch of one row: 201 = 200 + 1 takes
    199 (199 + 2), 401 = 2·200 + 1 too (2·199 + 3); 39801 is 1 more than a multiple of 200 and of 199 and takes 198; without batch
    norm, 200."""
    X = np.random.default_rng(0).normal(size=(n, 2))
    seen = BatchSize()
    options = dict(hidden_layer_sizes=(3,), max_iter=1, callbacks=[seen], random_state=0)
    MLPRegressor(batch_norm=True, **options).fit(X, X[:, 0])
    assert seen.rows == rows
    MLPRegressor(**options).fit(X, X[:, 0])
    assert seen.rows == min(n, 200)


def test_a_batch_of_one_row_is_refused_with_the_fix():
    X, y = regression(1, n=41)
    with pytest.raises(ValueError, match=r"batch_size=10 on 41 training rows leaves a last batch of 1 row.*'auto'"):
        MLPRegressor(hidden_layer_sizes=(4,), batch_norm=True, batch_size=10, max_iter=1).fit(X, y)
    MLPRegressor(hidden_layer_sizes=(4,), batch_size=10, max_iter=1).fit(X, y)  # without batch norm: trains
    with pytest.raises(ValueError, match="at least 2 rows.*1 sample is left"):
        MLPRegressor(hidden_layer_sizes=(4,), batch_norm=True, max_iter=1).fit(X[:1], y[:1])
    reg = MLPRegressor(hidden_layer_sizes=(4,), batch_norm=True).partial_fit(X[:2], y[:2])
    with pytest.raises(ValueError, match="1 sample is left"):
        reg.partial_fit(X[2:3], y[2:3])
