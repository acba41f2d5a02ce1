"""chainrule.metrics against scikit-learn's own (sklearn.metrics)."""

import numpy as np
import pytest
from sklearn import metrics as skm

from chainrule import metrics


@pytest.mark.parametrize("seed", range(5))
def test_classification_scores_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(2, 6))
    y = rng.integers(0, K, 200)
    p = np.where(rng.random(200) < 0.6, y, rng.integers(0, K, 200))
    p[p == K - 1] = 0  # one class never predicted: its precision is 0/0, taken as 0
    s = metrics.classification(y, p, K)
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, p, labels=range(K), zero_division=0)
    np.testing.assert_allclose(s["precision"], precision, atol=1e-12)
    np.testing.assert_allclose(s["recall"], recall, atol=1e-12)
    np.testing.assert_allclose(s["f1"], f1, atol=1e-12)
    np.testing.assert_array_equal(s["support"], support)
    np.testing.assert_array_equal(s["confusion"], skm.confusion_matrix(y, p, labels=range(K)))
    assert s["accuracy"] == pytest.approx(skm.accuracy_score(y, p))


@pytest.mark.parametrize("seed", range(5))
def test_regression_scores_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(50, 10, 100)
    p = y + rng.normal(0, 5, 100)
    s = metrics.regression(y, p, baseline_mean=48.0)
    assert s["r2"] == pytest.approx(skm.r2_score(y, p), rel=1e-12)
    assert s["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)), rel=1e-12)
    assert s["mae"] == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-12)
    assert s["baseline_rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, np.full(100, 48.0))), rel=1e-12)


def test_r2_of_a_constant_target_is_finite_as_in_scikit_learn():
    y = np.full(4, 3.0)
    assert metrics.regression(y, y, 3.0)["r2"] == skm.r2_score(y, y) == 1.0
    assert metrics.regression(y, y + 1, 3.0)["r2"] == skm.r2_score(y, y + 1) == 0.0


def test_huge_predictions_score_inf_without_a_warning():
    s = metrics.regression(np.arange(3.0), np.full(3, 1e300), 1.0)
    assert s["rmse"] == np.inf and s["r2"] == -np.inf


def test_the_report_shows_each_class_and_the_confusion_matrix():
    s = metrics.classification([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], 3)
    lines = metrics.format_classification(s, ["cat", "dog", "emu"])
    assert lines[1].split() == ["cat", "0.500", "0.500", "0.500", "2"]
    assert [line.split() for line in lines[-3:]] == [
        ["cat", "1", "1", "0"], ["dog", "0", "1", "0"], ["emu", "1", "0", "1"]]


def test_a_report_of_many_classes_is_bounded():
    K = 60
    s = metrics.classification(np.arange(K), np.arange(K), K)
    lines = metrics.format_classification(s, [f"c{k}" for k in range(K)])
    assert len(lines) == 1 + metrics.SHOWN_CLASSES + 2
    assert lines[-2].strip() == "… and 10 more classes (chainrule.metrics.classification gives them all)"
    assert lines[-1].strip() == "confusion matrix: not shown for more than 20 classes"
