"""chainrule.sweep and `chainrule sweep`: the spec's checks, the runs against fit one network at a time,
the files (the names are a contract), resuming, Ctrl-C."""

import csv
import json
import math
import re
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets
from chainrule.cli import main
from chainrule.sweeps import groups as sweep_groups
from chainrule.sweeps.spec import read as read_spec

XOR_SPEC = {
    "data": {"name": "xor"},
    "network": {"hidden": [[2], [3]], "activation": "tanh", "loss": "bce"},
    "train": {"optimizer": "sgd", "lr": [0.5, 1.0], "epochs": 60, "seeds": 3,
              "success": {"metric": "accuracy", "at_least": 1.0}},
}


def runs_of(result):
    """The runs as a list of dicts, whether sweep returned a DataFrame (where a value a run does not
    have, None in the list, is NaN) or a list."""
    if not hasattr(result, "to_dict"):
        return result
    return [{key: None if isinstance(value, float) and math.isnan(value) else value for key, value in row.items()}
            for row in result.to_dict("records")]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_each_run_is_the_network_fit_would_train(tmp_path):
    runs = runs_of(cr.sweep(XOR_SPEC, out=tmp_path, progress=False))
    assert len(runs) == 2 * 2 * 3
    X, y = datasets.xor()
    for run in runs:
        net = cr.Network([cr.Dense(2, run["hidden"][0], "tanh"), cr.Dense(run["hidden"][0], 1, "sigmoid")],
                         loss="bce", seed=run["seed"])
        net.fit(X, y, optimizer=cr.SGD(lr=run["lr"]), epochs=60, progress=False, diagnostics=False)
        assert run["final_loss"] == pytest.approx(net.loss_value(X, y), rel=1e-12)
        assert run["accuracy"] == np.mean((net.predict(X)[:, 0] > 0.5) == (y == 1))
        assert run["epochs"] == 60 and run["seconds"] >= 0


def test_files_and_their_columns(tmp_path):
    cr.sweep(XOR_SPEC, out=tmp_path, progress=False)
    runs = read_csv(tmp_path / "runs.csv")
    assert list(runs[0]) == ["hidden", "lr", "seed", "final_loss", "accuracy", "epochs", "seconds"]
    summary = read_csv(tmp_path / "summary.csv")
    assert list(summary[0]) == ["hidden", "lr", "runs", "mean_final_loss", "std_final_loss", "mean_accuracy",
                                "success_rate"]
    assert len(summary) == 4
    for entry in summary:  # the summary against the runs, recomputed here
        mine = [r for r in runs if r["hidden"] == entry["hidden"] and r["lr"] == entry["lr"]]
        losses = [float(r["final_loss"]) for r in mine]
        assert int(entry["runs"]) == len(mine) == 3
        assert float(entry["mean_final_loss"]) == pytest.approx(sum(losses) / 3, rel=1e-12)
        assert float(entry["std_final_loss"]) == pytest.approx(np.std(losses, ddof=1), rel=1e-9)
        assert float(entry["success_rate"]) == sum(float(r["accuracy"]) == 1.0 for r in mine) / 3
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["swept"] == ["hidden", "lr"] and len(results["runs"]) == 12 and len(results["summary"]) == 4
    best = results["best"]
    assert best["success_rate"] == max(s["success_rate"] for s in results["summary"])
    pytest.importorskip("matplotlib")
    assert (tmp_path / "loss_curves.png").stat().st_size > 0
    assert (tmp_path / "heatmap.png").stat().st_size > 0  # two swept keys


def test_a_rerun_skips_finished_groups(tmp_path, monkeypatch, capsys):
    first = runs_of(cr.sweep(XOR_SPEC, out=tmp_path, progress=False))
    files = sorted((tmp_path / "groups").iterdir())
    assert len(files) == 2  # one group per architecture, both learning rates and all seeds stacked
    files[0].unlink()
    ran = []
    real = sweep_groups.run_group
    monkeypatch.setattr(sweep_groups, "run_group", lambda group, data: ran.append(group.id) or real(group, data))
    again = runs_of(cr.sweep(XOR_SPEC, out=tmp_path))
    assert ran == [files[0].stem]
    assert again == first or [r["final_loss"] for r in again] == [r["final_loss"] for r in first]
    said = capsys.readouterr().err  # the rerun says what it did not train again
    assert f"6 of 12 runs already in {tmp_path / 'groups'} (1 of 2 groups): not trained again" in said, said


def test_ctrl_c_keeps_finished_runs(tmp_path, monkeypatch):
    real, calls = sweep_groups.run_group, []

    def interrupted(group, data):
        calls.append(group.id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(group, data)

    monkeypatch.setattr(sweep_groups, "run_group", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cr.sweep(XOR_SPEC, out=tmp_path, progress=False)
    assert len(read_csv(tmp_path / "runs.csv")) == 6  # the first group's runs, written at the interrupt
    monkeypatch.setattr(sweep_groups, "run_group", real)
    assert len(runs_of(cr.sweep(XOR_SPEC, out=tmp_path, progress=False))) == 12


def test_regression_reports_r2_and_validation(tmp_path):
    spec = {"data": {"name": "xor", "test_size": 0.5}, "network": {"hidden": [3], "loss": "mse"},
            "train": {"optimizer": "adam", "lr": 0.01, "epochs": 5, "seeds": [4, 7], "batch_size": [1, "full"]}}
    runs = runs_of(cr.sweep(spec, progress=False))
    assert [r["seed"] for r in runs] == [4, 7, 4, 7]
    assert {"r2", "val_loss", "val_r2"} <= set(runs[0]) and "accuracy" not in runs[0]
    for r in runs:
        assert math.isfinite(r["r2"]) and r["final_loss"] > 0


BAD = [
    ({"data": {"name": "xor"}, "netwrk": {}}, r"has no key 'netwrk' \(did you mean 'network'\?\)"),
    ({"data": {"name": "mnist"}}, "not a built-in data set"),
    ({"data": {}}, "needs name"),
    ({"data": {"name": "xor"}, "train": {"lr": -1}}, r"\[train\] lr must be a finite number > 0"),
    ({"data": {"name": "xor"}, "train": {"lr": []}}, "empty list"),
    ({"data": {"name": "xor"}, "train": {"epochs": 0}}, r"\[train\] epochs must be a positive integer"),
    ({"data": {"name": "xor"}, "train": {"epochs": 10**10}},
     r"\[train\] epochs must be a positive integer, at most 1,000,000, got 10000000000"),
    ({"data": {"name": "xor"}, "configs": [{"epochs": 1_000_001}]}, r"\[\[configs\]\] entry 1 epochs must be .* at most 1,000,000"),
    ({"data": {"name": "xor"}, "train": {"batch_size": "half"}}, 'must be "full" or a positive integer'),
    ({"data": {"name": "xor"}, "train": {"optimizer": "lbfgs"}}, "must be an optimizer"),
    ({"data": {"name": "xor"}, "network": {"hidden": [[2], "x"]}}, r"\[network\] hidden must be a list"),
    ({"data": {"name": "xor"}, "network": {"activation": "gelu"}}, "must be an activation"),
    ({"data": {"name": "xor"}, "train": {"seeds": [1, 1]}}, "seed twice"),
    ({"data": {"name": "xor"}, "train": {"success": {"metric": "acc", "at_least": 1}}}, "success metric"),
    ({"data": {"name": "xor"}, "train": {"optimizer": "adam", "momentum": 0.9}}, "adam has none"),
    ({"data": {"name": "xor"}, "train": {"lr": [0.1] * 10, "seeds": 20}, "sweep": {"max_runs": 100}},
     "200 runs, more than the limit of 100"),
    ({"data": {"name": "xor"}, "train": "sgd"}, r"\[train\] must be a table"),
    ({"data": {"name": "xor"}, "network": {"batch_norm": "yes"}}, r"\[network\] batch_norm must be true or false, got 'yes'"),
    ({"data": {"name": "xor"}, "network": {"residual": [False, 1]}}, r"\[network\] residual must be true or false, got 1"),
]


@pytest.mark.parametrize("spec, message", BAD)
def test_a_bad_spec_is_one_clear_error(spec, message):
    with pytest.raises(ValueError, match=message):
        read_spec(spec)


def test_a_network_that_cannot_fit_the_targets_fails_before_training(tmp_path):
    spec = {"data": {"name": "xor"}, "network": {"loss": "hinge"}, "train": {"epochs": 2}}
    with pytest.raises(ValueError, match="hinge targets must be −1 or \\+1"):
        cr.sweep(spec, out=tmp_path, progress=False)


def test_cli(tmp_path, capsys):
    spec = tmp_path / "xor.toml"
    spec.write_text('[data]\nname = "xor"\n[network]\nhidden = [[2], [4]]\n[train]\noptimizer = "sgd"\n'
                    'lr = 0.5\nepochs = 20\nseeds = 2\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 0
    assert "4 runs" in capsys.readouterr().out
    assert len(read_csv(tmp_path / "out" / "runs.csv")) == 4
    spec.write_text('[data]\nname = "xor"\n[train]\nlr = "fast"\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule: error: [train] lr must be") and err.count("\n") == 1
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "results.json").write_text('{"my": "results"}')
    spec.write_text('[data]\nname = "xor"\n[train]\nepochs = 2\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "mine")]) == 2
    assert "chainrule did not write it" in capsys.readouterr().err
    assert json.loads((tmp_path / "mine" / "results.json").read_text()) == {"my": "results"}


def test_a_list_of_configurations(tmp_path):
    spec = {"data": {"name": "xor"}, "network": {"loss": "bce"}, "train": {"optimizer": "sgd", "epochs": 30, "seeds": 2},
            "configs": [{"hidden": [2], "lr": 0.5}, {"hidden": [3], "lr": 1.0, "momentum": 0.5}, {"hidden": [3]}]}
    runs = runs_of(cr.sweep(spec, out=tmp_path, progress=False))
    assert [(r["hidden"], r["lr"], r["momentum"]) for r in runs[::2]] == [([2], 0.5, 0.0), ([3], 1.0, 0.5), ([3], None, 0.0)]
    assert list(read_csv(tmp_path / "summary.csv")[0])[:4] == ["hidden", "lr", "momentum", "runs"]
    X, y = datasets.xor()
    net = cr.Network([cr.Dense(2, 3, "tanh"), cr.Dense(3, 1, "sigmoid")], loss="bce", seed=1)
    net.fit(X, y, optimizer=cr.SGD(lr=1.0, momentum=0.5), epochs=30, progress=False, diagnostics=False)
    assert runs[3]["final_loss"] == pytest.approx(net.loss_value(X, y), rel=1e-12)
    with pytest.raises(ValueError, match=r"with \[\[configs\]\], \[network\] and \[train\] give one value"):
        read_spec({**spec, "train": {"lr": [0.1, 0.2]}})
    with pytest.raises(ValueError, match=r"\[\[configs\]\] entry 2 has no key 'lrr'"):
        read_spec({**spec, "configs": [{"lr": 0.1}, {"lrr": 0.2}]})
    with pytest.raises(ValueError, match=r"\[\[configs\]\] entry 1 lr must be"):
        read_spec({**spec, "configs": [{"lr": "fast"}]})


# Batch normalization and residual blocks: the stacked engine takes Dense layers only, so these groups
# train network by network with fit; each run must be the network mlp_layers builds, trained alone.
NORMALIZED = {
    "xor": {"data": {"name": "xor"}, "network": {"hidden": [3, 3], "batch_norm": [False, True], "residual": [False, True],
                                                 "loss": "bce"},
            "train": {"optimizer": "sgd", "lr": 0.5, "epochs": 30, "seeds": 2}},
    "moons": {"data": {"name": "moons"}, "network": {"hidden": [4, 4], "batch_norm": [False, True], "residual": True,
                                                     "loss": "bce"},
              "train": {"optimizer": "adam", "lr": 0.02, "batch_size": 32, "epochs": 4, "seeds": [3, 5]}},
}


def split(name, test_size, standardize):
    """The data set's rows as the README says a sweep splits them: a permutation seeded by 0, the first
    ⌈test_size·n⌉ held out, standardized with the training rows' mean and deviation."""
    X, y = getattr(datasets, name)()
    order = np.random.default_rng(0).permutation(len(X))
    held = math.ceil(test_size * len(X))
    X_train, y_train, X_val, y_val = X[order[held:]], y[order[held:]], X[order[:held]], y[order[:held]]
    if standardize:
        mean, std = X_train.mean(axis=0), X_train.std(axis=0)
        X_train, X_val = (X_train - mean) / std, (X_val - mean) / std
    return X_train, y_train, X_val, y_val


@pytest.mark.parametrize("name", ["xor", "moons"])
def test_batch_norm_and_residual_runs_are_the_networks_fit_trains(name):
    spec = NORMALIZED[name]
    runs = runs_of(cr.sweep(spec, progress=False))
    X, y, X_val, y_val = split(name, *((0.0, False) if name == "xor" else (0.25, True)))
    train = spec["train"]
    expected = [(bn, res, seed) for bn in (False, True) for res in ((False, True) if name == "xor" else (True,))
                for seed in ((0, 1) if name == "xor" else (3, 5))]
    for run in runs:
        run.setdefault("residual", True)  # moons' is one value, not a swept key: not a column
    assert [(r["batch_norm"], r["residual"], r["seed"]) for r in runs] == expected
    for run in runs:
        layers = cr.network.mlp_layers([2, *spec["network"]["hidden"], 1], "tanh", "sigmoid",
                                       batch_norm=run["batch_norm"], residual=run["residual"])
        net = cr.Network(layers, loss="bce", seed=run["seed"])
        optimizer = cr.SGD(lr=0.5) if name == "xor" else cr.Adam(lr=0.02)
        net.fit(X, y, optimizer=optimizer, epochs=train["epochs"], batch_size=train.get("batch_size"),
                progress=False, diagnostics=False)
        assert run["final_loss"] == pytest.approx(net.loss_value(X, y), rel=1e-12)
        assert run["accuracy"] == np.mean((net.predict(X)[:, 0] > 0.5) == (y == 1))
        assert run["epochs"] == train["epochs"]
        if name == "moons":
            assert run["val_loss"] == pytest.approx(net.loss_value(X_val, y_val), rel=1e-12)
    assert any(isinstance(layer, cr.BatchNorm) for layer in layers)  # the last run's network is a batch-normalized one
    assert any(isinstance(layer, cr.Residual) for layer in layers)


def test_a_batch_too_small_for_batch_norm_fails_before_training(tmp_path):
    spec = {"data": {"name": "moons"}, "network": {"batch_norm": True}, "train": {"batch_size": 149, "epochs": 2}}
    with pytest.raises(ValueError, match="with batch_size = 149, the last training batch of 1 row.* too small"):
        cr.sweep(spec, out=tmp_path, progress=False)
    assert not (tmp_path / "runs.csv").exists()


def test_a_rerun_skips_finished_batch_norm_groups(tmp_path, monkeypatch):
    spec = NORMALIZED["xor"]
    first = runs_of(cr.sweep(spec, out=tmp_path, progress=False))
    files = sorted((tmp_path / "groups").iterdir())
    assert len(files) == 4  # one group per architecture: plain (a stack), batch-normalized, residual, both
    ran = []
    real = sweep_groups.run_group
    monkeypatch.setattr(sweep_groups, "run_group", lambda group, data: ran.append(group) or real(group, data))
    for file in files:
        file.unlink()
        again = runs_of(cr.sweep(spec, out=tmp_path, progress=False))
        assert [group.id for group in ran] == [file.stem]
        assert [r["final_loss"] for r in again] == [r["final_loss"] for r in first]
        ran.clear()
    assert not ran and len(runs_of(cr.sweep(spec, out=tmp_path, progress=False))) == 8


def test_diverged_runs_stop_early_without_a_warning(tmp_path):
    spec = {"data": {"name": "moons"}, "network": {"hidden": [4, 4], "batch_norm": [False, True], "loss": "mse"},
            "train": {"optimizer": "sgd", "lr": 1e10, "epochs": 20, "seeds": 2}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither fit's divergence warning nor an overflow in the summary
        runs = runs_of(cr.sweep(spec, out=tmp_path, progress=False))
    assert [r["batch_norm"] for r in runs] == [False, False, True, True]
    assert all(r["epochs"] < 20 for r in runs)  # a stack's runs and fit's runs alike
    summary = json.loads((tmp_path / "results.json").read_text())["summary"]
    assert [s["mean_final_loss"] for s in summary] == [None, None]  # inf or overflowing: no number to show


def test_batch_norm_groups_on_dask_processes():
    pytest.importorskip("distributed")
    spec = {**NORMALIZED["xor"], "train": {**NORMALIZED["xor"]["train"], "epochs": 10}}
    local = [{k: v for k, v in run.items() if k != "seconds"} for run in runs_of(cr.sweep(spec, progress=False))]
    remote = runs_of(cr.sweep(spec, scheduler="processes", progress=False))
    assert [{k: v for k, v in run.items() if k != "seconds"} for run in remote] == local


def test_cli_with_batch_norm_and_residual(tmp_path, capsys):
    spec = tmp_path / "moons.toml"
    spec.write_text('[data]\nname = "moons"\n[network]\nhidden = [4, 4]\nbatch_norm = [false, true]\nresidual = true\n'
                    '[train]\nbatch_size = 50\nepochs = 3\nseeds = 2\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 0
    assert "4 runs" in capsys.readouterr().out
    runs = read_csv(tmp_path / "out" / "runs.csv")
    assert list(runs[0])[:2] == ["batch_norm", "seed"]
    assert [r["batch_norm"] for r in runs] == ["False", "False", "True", "True"]
    assert [r["epochs"] for r in runs] == ["3"] * 4
    summary = read_csv(tmp_path / "out" / "summary.csv")
    assert [s["batch_norm"] for s in summary] == ["False", "True"] and [s["runs"] for s in summary] == ["2", "2"]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["swept"] == ["batch_norm"] and results["spec"]["values"]["residual"] == [True]
    spec.write_text('[data]\nname = "moons"\n[network]\nbatch_norm = "yes"\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err
    assert err == "chainrule: error: [network] batch_norm must be true or false, got 'yes'\n"


def test_a_misspelled_scheduler_is_refused_before_finished_groups_are_skipped(tmp_path):
    cr.sweep(XOR_SPEC, out=tmp_path, progress=False)
    for scheduler in ("proceses", "", None):  # every group finished: nothing would run, still checked
        with pytest.raises(ValueError, match="scheduler must be \"local\", \"processes\" or a Dask scheduler's address"):
            cr.sweep(XOR_SPEC, out=tmp_path, progress=False, scheduler=scheduler)


TABLE = """weight,colour,size,kind
1.0,red,3,a
2.0,blue,,b
3.5,red,5,a
4.0,green,7,b
0.5,,2,a
6.0,blue,9,b
2.5,green,4,a
5.0,red,8,b
"""


def test_a_sweep_prepares_a_csv_table_as_train_does(tmp_path):
    """A text feature one-hot encoded, missing cells filled with the training rows' median (numbers)
    and most frequent value (text), the features standardized with the training rows' μ and σ, and
    the text target as the codes of its sorted classes: the arrays scikit-learn's SimpleImputer,
    OneHotEncoder and StandardScaler make of the same training rows; and the sweep's runs are fit's
    on them."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    (tmp_path / "t.csv").write_text(TABLE)
    given = {"data": {"path": str(tmp_path / "t.csv"), "target": "kind", "impute": "median"},
             "network": {"hidden": [3]}, "train": {"epochs": 30, "seeds": [0, 1], "lr": 0.05}}
    spec = read_spec(given)
    X_train, y_train, X_val, y_val = sweep_groups.load_data(spec.data)
    train, val, _, _ = datasets.train_test_split(np.arange(8), np.arange(8), test_size=0.25, seed=0)
    numbers = np.array([[1.0, 3], [2, np.nan], [3.5, 5], [4, 7], [0.5, 2], [6, 9], [2.5, 4], [5, 8]])
    colour = np.array([["red"], ["blue"], ["red"], ["green"], [None], ["blue"], ["green"], ["red"]], dtype=object)
    numeric = SimpleImputer(strategy="median").fit(numbers[train])
    text = SimpleImputer(strategy="most_frequent", missing_values=None).fit(colour[train])
    onehot = OneHotEncoder(handle_unknown="ignore").fit(text.transform(colour[train]))
    encoded = np.column_stack([numeric.transform(numbers)[:, 0], onehot.transform(text.transform(colour)).toarray(),
                               numeric.transform(numbers)[:, 1]])
    scaler = StandardScaler().fit(encoded[train])
    np.testing.assert_allclose(X_train, scaler.transform(encoded[train]), atol=1e-12)
    np.testing.assert_allclose(X_val, scaler.transform(encoded[val]), atol=1e-12)
    kinds = np.array(list("abababab"))
    np.testing.assert_array_equal(y_train, (kinds[train] == "b").astype(int))
    np.testing.assert_array_equal(y_val, (kinds[val] == "b").astype(int))
    runs = cr.sweep(given, progress=False)
    for run in runs_of(runs):
        net = sweep_groups.network(spec.configs()[0], X_train.shape[1], y_train, seed=run["seed"])
        net.fit(X_train, y_train, optimizer=cr.Adam(lr=0.05), epochs=30, progress=False, diagnostics=False)
        assert run["final_loss"] == pytest.approx(net.loss_value(X_train, y_train), rel=1e-9)


def fit_alone(activation, seed, epochs):
    """XOR's network with the spec's defaults (hidden [4], bce, Adam) trained by fit: (its loss, its History)."""
    X, y = datasets.xor()
    net = cr.Network([cr.Dense(2, 4, activation), cr.Dense(4, 1, "sigmoid")], loss="bce", seed=seed)
    history = net.fit(X, y, optimizer=cr.Adam(), epochs=epochs, progress=False, diagnostics=False)
    return net.loss_value(X, y), history


def test_a_rerun_with_a_longer_spec_labels_kept_runs_by_their_configuration(tmp_path, monkeypatch):
    # a.toml's tanh runs are kept as configuration 0; in b.toml tanh is configuration 1, sigmoid 0
    text = '[data]\nname = "xor"\n[network]\nactivation = {}\n[train]\nepochs = 5\nseeds = 2\n'
    (tmp_path / "a.toml").write_text(text.format('["tanh"]'))
    (tmp_path / "b.toml").write_text(text.format('["sigmoid", "tanh"]'))
    drawn = {}
    monkeypatch.setattr("chainrule.sweeps.figures.draw", lambda folder, spec, summary, curves: drawn.update(curves))
    assert main(["sweep", str(tmp_path / "a.toml"), "--out", str(tmp_path / "o2")]) == 0
    drawn.clear()
    assert main(["sweep", str(tmp_path / "b.toml"), "--out", str(tmp_path / "o2")]) == 0
    runs = read_csv(tmp_path / "o2" / "runs.csv")
    assert [(r["activation"], r["seed"]) for r in runs] == [("sigmoid", "0"), ("sigmoid", "1"), ("tanh", "0"),
                                                             ("tanh", "1")]
    for run in runs:
        assert float(run["final_loss"]) == pytest.approx(fit_alone(run["activation"], int(run["seed"]), 5)[0], rel=1e-9)
    assert set(drawn) == {("activation=sigmoid",), ("activation=tanh",)}
    for (label,), curve in drawn.items():
        histories = [fit_alone(label.split("=")[1], seed, 5)[1].loss for seed in (0, 1)]
        assert curve["epoch"] == [1, 2, 3, 4, 5]
        np.testing.assert_allclose(curve["loss"], np.mean(histories, axis=0), rtol=1e-9)


DAMAGED = {  # what a kept group file is replaced by, from the file as kept
    "another group's id": lambda kept: {"id": "x"},
    "a list": lambda kept: [],
    "null": lambda kept: None,
    "not JSON": lambda kept: "{not json",
    "no rows": lambda kept: {**kept, "rows": []},
    "no curves": lambda kept: {**kept, "curves": {}},
    "a row short": lambda kept: {**kept, "rows": kept["rows"][:1]},
    "a seed twice": lambda kept: {**kept, "rows": [kept["rows"][0], kept["rows"][0]]},
    "a loss as text": lambda kept: {**kept, "rows": [kept["rows"][0], {**kept["rows"][1], "final_loss": "low"}]},
    "a configuration without a curve":
        lambda kept: {**kept, "rows": [kept["rows"][0], {**kept["rows"][1], "config": 1}]},
    "a curve of uneven lists": lambda kept: {**kept, "curves": {"0": {"epoch": [1, 2], "loss": [0.5]}}},
    "a curve as a list": lambda kept: {**kept, "curves": {"0": []}},
}


@pytest.mark.parametrize("damage", DAMAGED)
def test_a_damaged_group_file_is_trained_again_and_replaced(tmp_path, monkeypatch, damage):
    spec = {"data": {"name": "xor"}, "network": {"activation": "tanh"}, "train": {"epochs": 5, "seeds": 2}}
    first = runs_of(cr.sweep(spec, out=tmp_path, progress=False))
    [file] = (tmp_path / "groups").iterdir()
    kept = json.loads(file.read_text())
    damaged = DAMAGED[damage](kept)
    file.write_text(damaged if isinstance(damaged, str) else json.dumps(damaged))
    ran = []
    real = sweep_groups.run_group
    monkeypatch.setattr(sweep_groups, "run_group", lambda group, data: ran.append(group.id) or real(group, data))
    again = runs_of(cr.sweep(spec, out=tmp_path, progress=False))
    assert ran == [file.stem]
    expected = [fit_alone("tanh", seed, 5)[0] for seed in (0, 1)]
    assert [r["final_loss"] for r in again] == pytest.approx(expected, rel=1e-9)
    assert [r["final_loss"] for r in again] == [r["final_loss"] for r in first]
    replaced = json.loads(file.read_text())
    assert [(r["seed"], r["final_loss"]) for r in replaced["rows"]] == [(r["seed"], r["final_loss"])
                                                                        for r in kept["rows"]]


SPEC_KEYS = "(in a sweep spec: the [data] keys task, impute, drop_missing, drop)"
UNREAD = [  # a CSV file, and what a sweep says of it
    ("x1,x2,y\n0,,0\n1,1,1\n", "missing cells in .*: column 'x2' \\(1: line 2 \\(data row 1\\)\\); fill them with "
                                 "--impute .* " + re.escape(SPEC_KEYS)),
    ("x1,x2,y\n0,1,\n1,1,1\n", "the target 'y' is missing in column 'y' \\(1: line 2 \\(data row 1\\)\\); .*"
                                 "--drop-missing " + re.escape(SPEC_KEYS)),
    ("x1,x2,y\n0,inf,0\n1,1,1\n", "line 2 \\(data row 1\\), column 'x2': 'inf' is not a finite number$"),
    ("x1,x2,y\n0,1,0\n1,1,1\n", "has no column 'target'; the columns are: x1, x2, y$"),
]


@pytest.mark.parametrize("text, message", UNREAD)
def test_what_a_csv_file_lacks_is_said_with_the_spec_keys_that_fix_it(tmp_path, text, message):
    (tmp_path / "t.csv").write_text(text)
    target = "target" if "no column" in message else "y"
    spec = {"data": {"path": str(tmp_path / "t.csv"), "target": target, "test_size": 0}, "train": {"epochs": 2}}
    with pytest.raises(ValueError, match=message):
        cr.sweep(spec, progress=False)


@pytest.mark.parametrize("data, message", [
    ({"name": "xor", "impute": "mean"}, "\\[data\\] impute is for CSV files; the xor data set is numbers"),
    ({"path": "t.csv", "target": "y", "impute": "mean", "drop_missing": True}, "impute and drop_missing = true exclude"),
    ({"path": "t.csv", "target": "y", "impute": "average"}, "\\[data\\] impute must be one of 'mean', 'median', "),
    ({"path": "t.csv", "target": "y", "task": "ranking"}, "\\[data\\] task must be one of 'classification', "),
    ({"path": "t.csv", "target": "y", "drop": "id"}, "\\[data\\] drop must be a list of column names"),
    ({"path": "t.csv", "target": "y", "drop_missing": "yes"}, "\\[data\\] drop_missing must be true or false"),
])
def test_a_csv_files_preparation_keys_are_checked(data, message):
    with pytest.raises(ValueError, match=message):
        read_spec({"data": data})


def test_rows_with_missing_cells_dropped_and_a_column_left_out(tmp_path):
    (tmp_path / "t.csv").write_text(TABLE)
    spec = {"data": {"path": str(tmp_path / "t.csv"), "target": "kind", "drop_missing": True, "drop": ["colour"],
                     "test_size": 0}, "train": {"epochs": 2}}
    X, y, _, _ = sweep_groups.load_data(read_spec(spec).data)
    assert X.shape == (7, 2) and len(y) == 7  # the row without a size; the one without a colour stays, colour left out
    cr.sweep(spec, progress=False)


def test_a_group_too_big_for_this_machine_is_refused_before_any_network_is_built(tmp_path, monkeypatch):
    """100 runs of 91,501 parameters under Adam hold at least 100 · 91,501 · 7 float64s = 512 MB; with
    200 MiB available the sweep says so before it builds a network (each one alone is small enough)."""
    spec = {"data": {"name": "xor"}, "network": {"hidden": [300, 300]}, "train": {"epochs": 1, "seeds": 100}}
    monkeypatch.setattr("chainrule.memory.available", lambda: 200 * 2**20)
    built = []
    monkeypatch.setattr(sweep_groups, "Network",
                        lambda *args, **kwargs: built.append(args) or cr.Network(*args, **kwargs))
    with pytest.raises(ValueError, match=r"training 100 runs together \(networks of 91,501 parameters, 1 epochs\) "
                                         r"needs about [\d.]+ MiB, and this machine has 200\.0 MiB available; "
                                         r"sweep fewer seeds") as e:
        cr.sweep(spec, out=tmp_path, progress=False)
    assert 100 * 91_501 * 7 * 8 / 2**20 <= float(re.search(r"about ([\d.]+) MiB", str(e.value)).group(1)) <= 600
    assert built == [] and not (tmp_path / "runs.csv").exists()


@pytest.mark.parametrize("spec", [
    {"data": {"name": "xor"}, "network": {"hidden": [300, 300]}, "train": {"epochs": 3, "seeds": 20}},
    {"data": {"name": "xor"}, "network": {"hidden": [300, 300], "batch_norm": True},
     "train": {"epochs": 3, "seeds": 5}},
    {"network": {"hidden": [200, 200]}, "train": {"epochs": 3, "seeds": 40}},
    {"network": {"hidden": [50]}, "train": {"epochs": 300, "seeds": 40, "optimizer": "sgd"}},
    {"network": {"hidden": [4]}, "train": {"epochs": 200, "seeds": 100, "batch_size": 16}},
    {"network": {"hidden": [100, 100], "batch_norm": True}, "train": {"epochs": 3, "seeds": 10, "batch_size": 32}},
    {"network": {"hidden": [8, 8], "residual": True}, "train": {"epochs": 5, "seeds": 20, "batch_size": 16}},
])
def test_the_memory_a_group_is_checked_for_covers_what_it_takes(spec):
    """The estimate against the most that training and scoring the group allocates at once, traced:
    at least that, and not wildly more (wide networks on 4 rows, where the parameters dominate, a stack
    and fit network by network, long runs, mini-batches)."""
    import tracemalloc

    spec = read_spec({"data": {"name": "moons"}, **spec})  # moons unless the spec names its data
    data = sweep_groups.load_data(spec.data)
    [group] = sweep_groups.plan(spec, data)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        sweep_groups.run_group(group, data)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert peak <= sweep_groups.memory_needed(group, data) <= 3 * peak
