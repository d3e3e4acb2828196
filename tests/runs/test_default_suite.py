"""The shipped suites stay valid with whatever plugins are installed."""

from pathlib import Path

import pytest

from segbench.plugins import load_registry
from segbench.suite import load_suite

SUITES = sorted((Path(__file__).resolve().parents[2] / "suites").glob("*.yaml"))


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.name)
def test_suite_validates_without_problems(path):
    registry = load_registry()
    suite = load_suite(path, registry)
    assert suite.problems == []
    # entries are skipped only when their plugin is missing
    for note in suite.skipped:
        assert "(optional) is not installed" in note
    assert "otsu-watershed" in {s.name for s in suite.segmenters}


@pytest.mark.slow
def test_default_suite_runs_end_to_end(tmp_path):
    from segbench.run.runner import run_suite

    registry = load_registry()
    suite = load_suite(SUITES[0].parent / "fluorescent.yaml", registry, output=tmp_path)
    summary = run_suite(suite, registry)
    assert summary.ok, summary.failures
