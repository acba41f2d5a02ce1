"""The generated data sets: Ising physics against Onsager's exact solution, the seeds' synthetic
data, breast_cancer, and the IDX (MNIST) reader on small files written here."""

import gzip
import math
import struct

import numpy as np
import pytest

from chainrule import datasets
from chainrule.datasets.ising import metropolis

# ---- Ising ----------------------------------------------------------------------------------


def onsager_energy(T):
    """Exact internal energy per spin of the infinite 2D Ising model (Onsager 1944)."""
    from scipy.special import ellipk

    b = 1 / T
    k = 2 * np.sinh(2 * b) / np.cosh(2 * b) ** 2
    return -1 / np.tanh(2 * b) * (1 + 2 / np.pi * (2 * np.tanh(2 * b) ** 2 - 1) * ellipk(k * k))


def onsager_magnetization(T):
    """Exact spontaneous magnetization below Tc (Yang 1952): (1 − sinh(2/T)^−4)^(1/8)."""
    return (1 - np.sinh(2 / T) ** -4) ** 0.125


def energy_per_spin(X, L):
    S = X.reshape(-1, L, L)
    return -(S * (np.roll(S, 1, 1) + np.roll(S, 1, 2))).sum(axis=(1, 2)) / (L * L)


@pytest.fixture(scope="module")
def samples():
    T = [1.5, 2.0, 3.0, 3.5]
    return datasets.ising(L=16, temperatures=T, n_per_T=60, seed=3)


def test_critical_temperature_is_onsagers():
    assert datasets.TC == pytest.approx(2 / math.log(1 + math.sqrt(2)))
    assert datasets.TC == pytest.approx(2.269185, abs=1e-6)


def test_energy_matches_onsager(samples):
    X, _, T = samples
    for t in (1.5, 2.0, 3.0, 3.5):
        e = energy_per_spin(X[T == t], 16)
        # 60 independent samples of a 16×16 lattice: the mean is within a few standard errors
        assert abs(e.mean() - onsager_energy(t)) < 4 * e.std() / np.sqrt(len(e)) + 0.005, t


def test_magnetization_orders_below_tc_only(samples):
    X, _, T = samples
    m = {t: np.abs(X[T == t].mean(axis=1)).mean() for t in (1.5, 2.0, 3.0, 3.5)}
    assert m[1.5] == pytest.approx(onsager_magnetization(1.5), abs=0.02)
    assert m[2.0] == pytest.approx(onsager_magnetization(2.0), abs=0.03)
    assert m[3.0] < 0.3 and m[3.5] < 0.25  # disordered; finite size keeps |m| ~ 1/L above 0


def test_labels_shapes_and_seed(samples):
    X, y, T = samples
    assert X.shape == (240, 256) and set(np.unique(X)) == {-1.0, 1.0}
    np.testing.assert_array_equal(y, (T >= datasets.TC).astype(int))
    X2, _, _ = datasets.ising(L=4, temperatures=[2.0], n_per_T=3, seed=5, sweeps=10)
    X3, _, _ = datasets.ising(L=4, temperatures=[2.0], n_per_T=3, seed=5, sweeps=10)
    np.testing.assert_array_equal(X2, X3)


def test_metropolis_keeps_the_ground_state_at_low_temperature():
    spins = np.ones((2, 8, 8), dtype=np.int8)
    metropolis(spins, [0.1, 0.1], 20, np.random.default_rng(0))
    assert (spins == 1).all()  # e^(−8/0.1) ≈ 2e−35: no flip is ever accepted


@pytest.mark.parametrize("kw, message", [(dict(L=1), "L must be"), (dict(n_per_T=0), "n_per_T"),
                                         (dict(temperatures=[1.0, -2.0]), "positive"), (dict(sweeps=-1), "sweeps")])
def test_ising_bad_arguments(kw, message):
    with pytest.raises(ValueError, match=message):
        datasets.ising(**kw)


# ---- synthetic data of the seeds --------------------------------------------------------------


def test_credit_risk_is_realistic_and_learnable():
    X, y = datasets.credit_risk(2000, seed=1)
    assert X.shape == (2000, 7) and set(np.unique(y)) == {0, 1}
    f = dict(zip(datasets.synthetic.CREDIT_FEATURES, X.T))
    assert 21 <= f["age"].min() and f["age"].max() <= 75
    assert 10_000 < np.median(f["annual_income"]) < 100_000
    assert set(np.unique(f["home_owner"])) == {0.0, 1.0}
    assert (f["late_payments"] >= 0).all() and (f["late_payments"] == np.round(f["late_payments"])).all()
    assert (f["credit_history_years"] <= f["age"] - 18).all() and (f["employment_years"] <= f["age"] - 18).all()
    assert 0.2 < y.mean() < 0.6
    # the hidden score makes the label depend on the features: a logistic regression (scikit-learn)
    # on the standardized features finds the generator's directions — income lowers the risk,
    # debt and late payments raise it
    from sklearn.linear_model import LogisticRegression

    coef = dict(zip(datasets.synthetic.CREDIT_FEATURES,
                    LogisticRegression().fit((X - X.mean(0)) / X.std(0), y).coef_[0]))
    assert coef["annual_income"] < -0.3 and coef["debt_to_income"] > 0.3 and coef["late_payments"] > 0.3
    np.testing.assert_array_equal(datasets.credit_risk(50, seed=4)[0], datasets.credit_risk(50, seed=4)[0])


def test_sine():
    X, y = datasets.sine(100)
    assert X.shape == (100, 1) and X[0, 0] == -np.pi and X[-1, 0] == np.pi
    np.testing.assert_allclose(y, np.sin(X[:, 0]))
    _, noisy = datasets.sine(100, noise=0.1, seed=0)
    assert 0.05 < np.std(noisy - y) < 0.15


def test_environment_outputs_have_very_different_scales():
    X, Y = datasets.environment(1000, seed=0)
    assert X.shape == (1000, 4) and Y.shape == (1000, 3) and (Y >= 0).all()
    scales = Y.std(axis=0)
    assert scales.max() / scales.min() > 100  # ozone in ppm against PM2.5 and NO₂ in tens
    wind = X[:, 3]
    assert np.corrcoef(wind, Y[:, 2])[0, 1] < -0.3  # wind disperses NO₂


def test_breast_cancer():
    X, y = datasets.breast_cancer()
    assert X.shape == (569, 30) and set(np.unique(y)) == {0, 1}
    assert X.std(axis=0).max() / X.std(axis=0).min() > 1000  # raw units: standardize before training


# ---- IDX --------------------------------------------------------------------------------------


def write_idx(path, array, type_byte=0x08):
    data = struct.pack(">BBBB", 0, 0, type_byte, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data += array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_load_idx_round_trip(tmp_path, suffix):
    images = np.arange(3 * 2 * 4, dtype=np.uint8).reshape(3, 2, 4) * 10
    labels = np.array([7, 0, 3], dtype=np.uint8)
    write_idx(tmp_path / f"img{suffix}", images)
    write_idx(tmp_path / f"lab{suffix}", labels)
    X, y = datasets.load_idx(tmp_path / f"img{suffix}", tmp_path / f"lab{suffix}")
    np.testing.assert_allclose(X, images.reshape(3, 8) / 255.0)
    np.testing.assert_array_equal(y, [7, 0, 3])


def test_read_idx_other_types(tmp_path):
    values = np.array([[1.5, -2.25], [3.0, 1e-3]], dtype=np.float32)
    write_idx(tmp_path / "f", values, 0x0D)
    out = datasets.read_idx(tmp_path / "f")
    assert out.dtype == np.float32 and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


def test_idx_errors(tmp_path):
    images = np.zeros((3, 2, 2), dtype=np.uint8)
    write_idx(tmp_path / "img", images)
    write_idx(tmp_path / "lab", np.zeros(2, dtype=np.uint8))
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        datasets.load_idx(tmp_path / "img", tmp_path / "lab")
    (tmp_path / "bad").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="is not an IDX file"):
        datasets.read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes((tmp_path / "img").read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        datasets.read_idx(tmp_path / "short")
    with pytest.raises(ValueError, match="no IDX file"):
        datasets.read_idx(tmp_path / "missing")
    with pytest.raises(ValueError, match="unsigned-byte images"):
        datasets.load_idx(tmp_path / "lab", tmp_path / "lab")
