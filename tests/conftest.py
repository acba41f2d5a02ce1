"""Fixtures shared by the test files."""

import contextlib
import io
import json

import pytest

from chainrule.cli import main


@pytest.fixture(scope="session")
def quick_all(tmp_path_factory):
    """`chainrule experiment all --quick` once for the session (every experiment test file reads it): (folder, stdout)."""
    out = tmp_path_factory.mktemp("experiments")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["experiment", "all", "--quick", "--out", str(out)])
    assert status == 0
    return out, printed.getvalue()


@pytest.fixture(scope="session")
def quick_results(quick_all):
    """name → that experiment's results.json from the quick run (NaN or ∞ in it fails the test)."""

    def results(name):
        with open(quick_all[0] / name / "results.json") as f:
            return json.load(f, parse_constant=lambda c: pytest.fail(f"results.json of {name} holds {c}"))

    return results
