"""Where the plugin finds CellProfiler's Python (no CellProfiler needed).

The interpreter comes from the user's machine only: a suite file cannot name
one, and a `.venv-cellprofiler` in the current directory (a folder someone
handed over) is never run.
"""

from __future__ import annotations

import textwrap

import pytest

from segbench.errors import SegbenchError
from segbench.plugins import load_registry
from segbench.run.runner import run_suite
from segbench.suite import SuiteLoadError, load_suite
from segbench_cellprofiler import environment
from segbench_cellprofiler.environment import ENV_VAR, find_python


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No variable, no .venv-cellprofiler in a checkout; the current directory is tmp_path."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(environment, "_checkouts", lambda: [])
    return tmp_path


def fake_env(folder, marker=None):
    """``folder/bin/python``: empty, or a shell script that creates ``marker`` when run."""
    python = folder / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\ntouch '{marker}'\n" if marker else "")
    python.chmod(0o755)
    return python


def test_the_environment_variable_may_name_an_interpreter_or_an_environment_folder(nowhere, monkeypatch):
    python = fake_env(nowhere / "cp-env")
    monkeypatch.setenv(ENV_VAR, str(python))
    assert find_python() == str(python)
    monkeypatch.setenv(ENV_VAR, str(nowhere / "cp-env"))
    assert find_python() == str(python)


def test_the_environment_variable_comes_before_the_checkout(nowhere, monkeypatch):
    fake_env(nowhere / "checkout" / ".venv-cellprofiler")
    python = fake_env(nowhere / "elsewhere")
    monkeypatch.setattr(environment, "_checkouts", lambda: [nowhere / "checkout"])
    monkeypatch.setenv(ENV_VAR, str(nowhere / "elsewhere"))
    assert find_python() == str(python)


def test_the_checkout(nowhere, monkeypatch):
    python = fake_env(nowhere / "checkout" / ".venv-cellprofiler")
    monkeypatch.setattr(environment, "_checkouts", lambda: [nowhere / "checkout"])
    assert find_python() == str(python)


def test_the_checkout_is_found_from_the_package_not_the_current_directory(nowhere):
    roots = environment._checkouts()  # the real one, not the fixture's
    assert nowhere not in roots and all((root / "segbench").is_dir() or (root / "plugins").is_dir() for root in roots)


def test_the_current_directory_is_never_searched(nowhere):
    fake_env(nowhere / ".venv-cellprofiler")
    with pytest.raises(SegbenchError) as info:
        find_python()
    message = str(info.value)
    assert "no CellProfiler environment found" in message
    assert "bash scripts/install.sh" in message and ENV_VAR in message


def test_a_wrong_variable_is_named(nowhere, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "/no/such/env")
    with pytest.raises(SegbenchError, match=f"{ENV_VAR}='/no/such/env' is neither"):
        find_python()


def suite(tmp_path, params=""):
    text = textwrap.dedent(f"""\
        name: handed-over
        output: {tmp_path / "out"}
        datasets:
          - name: blobs
            generator: procedural
            params: {{n_images: 2, shape: [48, 48], n_objects: 3}}
        segmenters:
          - name: cellprofiler
        """) + params
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def test_a_suite_cannot_name_the_interpreter(nowhere):
    """`executable:` in a suite is refused with file:line, saying how to set the interpreter."""
    marker = nowhere / "ran"
    fake_env(nowhere / "bundle" / "env", marker)
    path = suite(nowhere, "    params: {executable: bundle/env}\n")
    with pytest.raises(SuiteLoadError) as info:
        load_suite(path, load_registry())
    (line,) = [str(p) for p in info.value.problems if "executable" in str(p)]
    assert line.startswith(f"{path}:9: segmenters[0].params.executable:")
    assert "not accepted from a suite file" in line and ENV_VAR in line and "\n" not in line
    assert not marker.exists()


def test_a_venv_in_the_current_directory_is_not_run(nowhere):
    """A handed-over folder holding .venv-cellprofiler/bin/python: running a suite from it runs nothing there."""
    marker = nowhere / "ran"
    fake_env(nowhere / ".venv-cellprofiler", marker)
    registry = load_registry()
    summary = run_suite(load_suite(suite(nowhere), registry), registry)
    assert not marker.exists()
    assert summary.failures and all("no CellProfiler environment found" in str(f) for f in summary.failures)
