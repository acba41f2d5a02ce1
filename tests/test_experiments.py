"""The experiments, each in --quick mode: what each exists to show, its figures, results.json,
report.md, and `chainrule experiment all`'s index."""

import json
import math
import os
import re
from types import SimpleNamespace

import numpy as np
import pytest

from chainrule import experiments, plotting
from chainrule.cli import main
from chainrule.diagnostics import CODES
from chainrule.experiments.context import Context
from chainrule.jsonsafe import json_safe

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", experiments.NAMES)
def test_each_experiment_writes_figures_results_and_report(quick_all, quick_results, name):
    out, printed = quick_all
    folder = out / name
    report = (folder / "report.md").read_text()
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert figures, f"{name}'s report embeds no figure"
    for png in figures:
        data = (folder / png).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000, f"{png} is not a drawn PNG"
    assert sorted(figures) == sorted(p.name for p in folder.glob("*.png"))
    assert report.startswith(f"# {experiments.title(name)}")
    assert f"`chainrule experiment {name} --quick`" in report
    for section in ("## What was run", "## Numbers", "## What it shows", "## Diagnostics"):
        assert section in report
    assert re.search(r"^Diagnostics: .+ training runs?\)?\.$", report, re.MULTILINE)
    assert set(quick_results(name)["diagnostics"]["findings"]) <= set(CODES)
    assert f"{name} (" in printed and str(folder / "report.md") in printed


def test_xor_learns_and_the_wider_network_gets_stuck_no_more_often(quick_results):
    r = quick_results("xor")
    assert r["learned"] is True
    assert [(p["x1"], p["x2"], p["target"]) for p in r["predictions"]] == [(0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0)]
    assert all((p["prediction"] > 0.5) == (p["target"] == 1) for p in r["predictions"])
    rates = r["success_rate"]
    assert set(rates) == {"2-2-1", "2-4-1"} and all(0 <= v <= 1 for v in rates.values())
    assert rates["2-4-1"] == 1.0 and rates["2-4-1"] >= rates["2-2-1"]
    assert len(r["final_losses"]["2-2-1"]) == len(r["seeds"]) == 10
    assert r["loss_curve"]["loss"][-1] < r["loss_curve"]["loss"][0] / 10
    # the classic network's squared error on a sigmoid output is flagged in every run, and nothing else is
    assert set(r["diagnostics"]["findings"]) == {"loss_activation_mismatch"}
    assert len(r["diagnostics"]["findings"]["loss_activation_mismatch"]["runs"]) == r["diagnostics"]["runs"]


def test_credit_risk_backprop_beats_forward_only(quick_results):
    r = quick_results("credit-risk")
    for key in ("forward_only_final_loss", "backprop_final_loss", "forward_only_accuracy", "backprop_accuracy",
                "lr_final_loss", "gradcheck_max_rel_error"):
        assert key in r, key
    assert r["backprop_final_loss"] < r["forward_only_final_loss"] - 0.05
    assert r["backprop_accuracy"] > r["forward_only_accuracy"] + 0.03
    lr = r["lr_final_loss"]
    assert list(lr) == ["0.001", "0.01", "0.1"]
    assert lr["0.1"] < lr["0.01"] < lr["0.001"]  # no rate here is large enough to overshoot
    assert r["gradcheck_max_rel_error"] < 1e-5 and r["gradcheck_passed"] is True
    assert r["w1_00_check"]["rel_error"] < 1e-5
    # the backprop run is healthy; only the slowest rate may be reported as still on its starting plateau
    found = r["diagnostics"]["findings"]
    assert set(found) <= {"plateau"} and all(runs == ["η=0.001"] for runs in (f["runs"] for f in found.values()))


def test_learning_rate_too_small_crawls_and_too_large_diverges(quick_results):
    r = quick_results("learning-rate")
    loss = r["final_loss"]
    assert loss["good"] < loss["too small"] / 5
    assert r["diverged"] == {"too small": False, "good": False, "too large": True}
    assert r["epochs_run"]["too large"] < r["epochs_run"]["good"]
    sweep = r["sweep"]
    first = sweep["diverged"].index(True)  # once a rate diverges, every larger one does
    assert all(sweep["diverged"][first:]) and not any(sweep["diverged"][:first])
    stable = sweep["final_loss"][:first]
    assert stable[-1] < stable[0]  # and below that, larger is better within the same epochs
    # the diverging runs, and only they, are reported: the loss went non-finite, the rate was too high
    found = r["diagnostics"]["findings"]
    diverging = {f"sweep η={lr:.3g}" for lr, d in zip(sweep["lr"], sweep["diverged"]) if d} | {"η=0.5 (too large)"}
    assert set(found["nan_loss"]["runs"]) == set(found["lr_too_high"]["runs"]) == diverging
    assert all(set(f["runs"]) <= diverging for f in found.values())


def test_all_writes_an_index_linking_every_report(quick_all):
    out, printed = quick_all
    index = (out / "index.md").read_text()
    links = re.findall(r"\]\(([^)]+/report\.md)\)", index)
    assert links == [f"{name}/report.md" for name in experiments.NAMES]
    assert all((out / link).is_file() for link in links)
    assert f"index: {out / 'index.md'}" in printed


def test_same_seed_same_results(tmp_path):
    a = experiments.run("credit-risk", tmp_path / "a", quick=True, seed=3)
    b = experiments.run("credit-risk", tmp_path / "b", quick=True, seed=3)
    assert (tmp_path / "a" / "results.json").read_text() == (tmp_path / "b" / "results.json").read_text()
    assert a.results["backprop_final_loss"] == b.results["backprop_final_loss"]


def test_unknown_experiment_is_one_line_and_exit_2(capsys, tmp_path):
    status = main(["experiment", "nope", "--out", str(tmp_path / "x")])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err == f"chainrule: error: unknown experiment 'nope'; use one of {', '.join(experiments.NAMES)} or all\n"
    assert not (tmp_path / "x").exists()


def _no_matplotlib():
    raise ImportError('the figures need matplotlib, which is not installed; install it with: pip install "chainrule[plots]"')


def test_without_matplotlib_experiment_says_so_in_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(plotting, "require", _no_matplotlib)
    status = main(["experiment", "xor", "--quick", "--out", str(tmp_path / "x")])
    out, err = capsys.readouterr()
    assert status == 2 and out == "" and err.count("\n") == 1
    assert "matplotlib" in err and 'pip install "chainrule[plots]"' in err
    assert not (tmp_path / "x").exists()


def test_demo_out_writes_its_figures(capsys, tmp_path):
    status = main(["demo", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    assert "It learned XOR" in out and f"Figures: {tmp_path / 'xor_loss.png'}, {tmp_path / 'moons_boundary.png'}" in out
    for png in ("xor_loss.png", "moons_boundary.png"):
        assert (tmp_path / png).read_bytes().startswith(PNG_SIGNATURE)


def test_demo_without_matplotlib_still_prints_its_tables(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(plotting, "require", _no_matplotlib)
    status = main(["demo", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 2 and "It learned XOR" in out and "Test accuracy" in out
    assert err.startswith("chainrule: error: the figures need matplotlib") and err.count("\n") == 1
    assert not list(tmp_path.glob("*.png"))


# ---- the framework's pieces -------------------------------------------------------------------


def test_json_safe_turns_numpy_and_non_finite_into_json():
    value = {0.001: np.float32(0.5), "a": np.array([1.0, np.nan, np.inf]), "n": np.int64(3), "t": (True, np.bool_(0))}
    safe = json_safe(value)
    assert safe == {"0.001": 0.5, "a": [1.0, None, None], "n": 3, "t": [True, False]}
    json.dumps(safe, allow_nan=False)


def test_report_lists_the_diagnostic_findings(tmp_path):
    """Today History.findings is always empty; the diagnostics will fill it with objects that
    have .code and .severity, and the report names them with the runs they appeared in."""
    ctx = Context("demo", "A title", tmp_path)
    finding = SimpleNamespace(code="DIVERGED", severity="error")
    ctx.track(SimpleNamespace(findings=[]), "calm")
    ctx.track(SimpleNamespace(findings=[finding, finding]), "η=0.5")
    ctx.track(SimpleNamespace(findings=[finding, SimpleNamespace(code="SATURATED", severity="warning")]), "η=1")
    ctx.results["x"] = math.inf
    ctx.write("chainrule experiment demo")
    report = (tmp_path / "report.md").read_text()
    assert "Diagnostics: DIVERGED (error) in η=0.5, η=1; SATURATED (warning) in η=1 (of 3 training runs)." in report
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["x"] is None
    assert saved["diagnostics"]["findings"] == {"DIVERGED": {"severity": "error", "runs": ["η=0.5", "η=1"]},
                                                "SATURATED": {"severity": "warning", "runs": ["η=1"]}}
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_figure_names_are_checked(tmp_path):
    ctx = Context("demo", "A title", tmp_path)
    with pytest.raises(ValueError, match="ending in .png"):
        with ctx.figure("loss.svg", "caption"):
            pass
