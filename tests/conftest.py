"""Fixtures shared by the test files, and the hypothesis profiles of the property-based tests."""

import contextlib
import io
import json
import os

import pytest
from hypothesis import HealthCheck, settings

from chainrule.cli import main

# The property-based tests run 100 examples each by default (a few hundred in all, seconds);
# CHAINRULE_HYPOTHESIS=thorough runs 3000 each (minutes), as before a release.
_PROPERTY = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]}
settings.register_profile("chainrule", max_examples=100, **_PROPERTY)
settings.register_profile("thorough", max_examples=3000, **_PROPERTY)
settings.load_profile(os.environ.get("CHAINRULE_HYPOTHESIS", "chainrule"))


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder with mode 0555; the test is skipped where this process can write into it anyway (root)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except PermissionError:
        yield folder
    else:
        pytest.skip("this process writes into read-only folders (root)")
    finally:
        folder.chmod(0o755)


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
