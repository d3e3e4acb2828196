"""Where the plugin finds CellProfiler's Python (no CellProfiler needed)."""

from __future__ import annotations

import pytest

from segbench.errors import SegbenchError
from segbench_cellprofiler import environment
from segbench_cellprofiler.environment import ENV_VAR, find_python


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No variable, no .venv-cellprofiler in the current directory or a checkout."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(environment, "_checkouts", lambda: [])
    return tmp_path


def fake_env(folder):
    python = folder / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    return python


def test_executable_may_be_an_interpreter_or_an_environment_folder(nowhere):
    python = fake_env(nowhere / "cp-env")
    assert find_python(python) == str(python)
    assert find_python(nowhere / "cp-env") == str(python)


def test_the_environment_variable_comes_before_the_current_directory(nowhere, monkeypatch):
    fake_env(nowhere / ".venv-cellprofiler")
    python = fake_env(nowhere / "elsewhere")
    monkeypatch.setenv(ENV_VAR, str(nowhere / "elsewhere"))
    assert find_python() == str(python)


def test_the_current_directory_comes_before_the_checkout(nowhere, monkeypatch):
    here = fake_env(nowhere / ".venv-cellprofiler")
    fake_env(nowhere / "checkout" / ".venv-cellprofiler")
    monkeypatch.setattr(environment, "_checkouts", lambda: [nowhere / "checkout"])
    assert find_python() == str(here)


def test_the_checkout(nowhere, monkeypatch):
    python = fake_env(nowhere / "checkout" / ".venv-cellprofiler")
    monkeypatch.setattr(environment, "_checkouts", lambda: [nowhere / "checkout"])
    assert find_python() == str(python)


def test_nothing_found_says_where_it_looked_and_how_to_build_one(nowhere):
    with pytest.raises(SegbenchError) as info:
        find_python()
    message = str(info.value)
    assert str(nowhere / ".venv-cellprofiler") in message
    assert "bash scripts/install.sh" in message and ENV_VAR in message


def test_a_wrong_executable_or_variable_is_named(nowhere, monkeypatch):
    with pytest.raises(SegbenchError, match="executable '/no/such/python' is neither"):
        find_python("/no/such/python")
    monkeypatch.setenv(ENV_VAR, "/no/such/env")
    with pytest.raises(SegbenchError, match=f"{ENV_VAR}='/no/such/env' is neither"):
        find_python()
