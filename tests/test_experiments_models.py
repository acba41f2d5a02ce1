"""The moons, sine, ising and linear-models experiments in --quick mode: what each exists to show.

The thresholds were checked over seeds 0–4 (moons), 0–7 (ising) of the quick run; each says why it is
where it is."""

import math

import numpy as np
import pytest

from chainrule import datasets
from chainrule.experiments import linear_models, moons
from chainrule.experiments.context import Context


def test_moons_hidden_sizes_l2_and_stochastic_noise(quick_results):
    r = quick_results("moons")
    sizes = r["hidden_sizes"]
    assert list(sizes) == ["1", "2", "4", "20", "50"]
    # one unit draws a line (train ≈ 0.86 on these moons); wider layers bend around them (≥ 0.96 over the seeds)
    assert sizes["20"]["train_accuracy"] > sizes["1"]["train_accuracy"] + 0.05
    assert sizes["50"]["train_accuracy"] > sizes["1"]["train_accuracy"] + 0.05
    for mid in ("4", "20"):  # 0.93–0.98 held out over the seeds
        assert sizes[mid]["test_accuracy"] >= 0.85, mid
    # L2 shrinks the weights, monotonically in λ, and the largest λ is back to a nearly linear boundary
    l2 = r["l2"]
    assert list(l2) == ["0.0", "0.003", "0.01", "0.1"]
    norms = [row["weight_norm"] for row in l2.values()]
    assert all(a > b for a, b in zip(norms, norms[1:])), norms
    assert norms[-1] < norms[0] / 3
    # one row at a time is noisier than the full batch (20–800 times over seeds 0–4) and its loss goes up at times
    batch = r["batch_sizes"]
    assert batch["stochastic (1)"]["noise"] > 5 * batch["full batch"]["noise"]
    assert batch["stochastic (1)"]["rises"] > 0.1 and batch["full batch"]["rises"] == 0
    assert batch["stochastic (1)"]["updates_per_epoch"] == 140
    assert set(r["activations"]) == {"sigmoid", "tanh"}
    assert r["activations"]["tanh"]["test_accuracy"] >= 0.85


def test_moons_batch_size_runs_repeat_from_the_seed(tmp_path):
    """Network.copy draws an unseeded generator: unless the runs seed their shuffling, the same --seed
    gives other mini-batch and stochastic curves every time."""
    ctx = Context("moons", moons.TITLE, tmp_path, quick=True, seed=3)
    X, y = moons.points(3)
    first, second = (moons._batch_sizes(ctx, {"batch_epochs": 3}, X[:140], y[:140])[1] for _ in range(2))
    for name in moons.BATCHES:
        np.testing.assert_allclose(first[name], second[name], rtol=1e-12, atol=0, err_msg=name)


def test_linear_svc_reference_repeats_from_the_seed():
    """liblinear's dual solver visits the rows in a random order (unseeded: coefficients ~1e-10 apart)."""
    pytest.importorskip("sklearn")
    X, y = datasets.credit_risk(200, seed=0)
    X, _, _ = datasets.standardize(X)
    first, second = (linear_models.linear_svcs(X, 2 * y - 1, seed=0)[0] for _ in range(2))
    np.testing.assert_allclose(first.coef_, second.coef_, rtol=1e-13, atol=0)


def test_sine_fits_between_the_training_points(quick_results):
    r = quick_results("sine")
    # the variance of sin x is ≈ 0.5; the quick fit leaves ≈ 0.01 of it (the full run ≈ 0.003)
    assert r["test_mse"] < 0.03
    assert r["test_mse"] < 2 * r["train_mse"]
    assert set(r["by_activation"]) == {"sigmoid", "tanh"}


def test_ising_crossing_lands_near_the_exact_tc(quick_results):
    r = quick_results("ising")
    assert set(r) >= {"test_accuracy", "tc_estimate", "tc_exact"}
    assert r["tc_exact"] == pytest.approx(2 / math.log(1 + math.sqrt(2))) == pytest.approx(datasets.TC)
    assert r["tc_estimate"] is not None, "the mean output never crossed 0.5"
    # the quick run's 8×8 lattice gives 2.27–2.46 over seeds 0–7 (finite size shifts it up): ±0.3 holds them all
    assert abs(r["tc_estimate"] - r["tc_exact"]) < 0.3
    # held-out temperatures include those near Tc, where an 8×8 lattice is ambiguous: 0.83–0.87 over the seeds
    assert r["test_accuracy"] > 0.75
    assert r["test_accuracy_away_from_tc"] > 0.8


def test_linear_models_match_scikit_learn(quick_results):
    models = quick_results("linear-models")["models"]
    # smooth, convex losses: gradient descent converges to the solver's answer to rounding (≈1e-14, ≈1e-8)
    assert models["linear regression"]["difference"]["relative"] < 1e-8
    assert models["logistic regression"]["difference"]["relative"] < 1e-6
    # the hinge's kink: fixed-η descent ends within about one step of the minimum (≈5e-4 quick, ≈1e-5 full)
    assert models["linear SVM"]["difference"]["relative"] < 3e-3
    assert models["linear SVM"]["linear_svc"]["difference"]["relative"] < 3e-3
    for m in models.values():
        assert m["ours"] == pytest.approx(m["theirs"], abs=0.01)
    # and the comparison can tell a different objective apart
    assert models["logistic regression"]["sklearn_defaults"]["difference"]["max_abs"] > 100 * (
        models["logistic regression"]["difference"]["max_abs"])
    assert models["linear SVM"]["sklearn_defaults"]["difference"]["relative"] > 0.05


@pytest.mark.parametrize("name, expected", [
    ("moons", {"init_scale": ["2-4-1 small init"], "plateau": ["2-4-1 small init"]}),  # the 0.01·N(0, 1) start
    ("sine", {"lr_too_high": ["1-16-1 tanh"]}),  # its loss climbs back up by orders of magnitude at η = 0.1
    ("ising", {}),
    ("linear-models", {"lr_too_low": ["linear SVM η=0.01", "linear SVM η=0.001"]}),  # polishing at the kink
])
def test_diagnostics_report_only_the_runs_with_a_problem(quick_results, name, expected):
    found = quick_results(name)["diagnostics"]["findings"]
    assert {code: f["runs"] for code, f in found.items()} == expected
