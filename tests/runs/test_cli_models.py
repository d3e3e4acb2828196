"""`segbench models`: the trained models of a results folder."""

import json
import textwrap
from pathlib import Path

import pytest

from segbench import testing
from segbench.cli import main
from segbench.plugins import load_registry
from segbench.run.runner import run_suite
from segbench.suite import load_suite


def _trained_output(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(textwrap.dedent(f"""\
        name: m
        output: {tmp_path / 'out'}
        datasets:
          - name: blobs
            generator: procedural
            params: {{n_images: 3, shape: [48, 48]}}
            split: {{train: 2, test: 1}}
        segmenters:
          - name: trainable-threshold
            train: {{margin: 0.1}}
        """))
    registry = load_registry(extra=[(testing, "segbench-testing", "1.0")])
    assert run_suite(load_suite(suite, registry), registry).ok
    return tmp_path / "out"


def test_models_lists_each_training_with_its_folder(tmp_path, capsys):
    out = _trained_output(tmp_path)
    assert main(["models", str(out), "--json", "-"]) == 0
    (model,) = json.loads(capsys.readouterr().out)["models"]
    assert model["train_dataset"] == "blobs" and model["segmenter"] == "trainable-threshold"
    assert model["train_settings"] == {"margin": 0.1}
    assert Path(model["path"]).parent == (tmp_path / "out" / "train" / "blobs").resolve()
    assert model["size_bytes"] > 0 and model["train_seconds"] >= 0
    assert main(["models", str(out)]) == 0
    table = capsys.readouterr().out
    assert "trainable-threshold" in table and "margin=0.1" in table


def test_models_errors(tmp_path, capsys):
    assert main(["models", str(tmp_path / "missing")]) == 2
    assert "missing: no such folder; give a suite's output folder" in capsys.readouterr().err
    assert main(["models", str(tmp_path)]) == 1
    assert "no trained models in" in capsys.readouterr().err


@pytest.mark.parametrize("columns", [80, 120])
def test_model_folders_are_never_wrapped(tmp_path, capsys, monkeypatch, columns):
    """Each folder is printed whole on a line of its own, however narrow the terminal."""
    deep = tmp_path / ("a-results-folder-with-a-long-name-" * 3) / "fluorescent"
    deep.mkdir(parents=True)
    out = _trained_output(deep)
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["models", str(out), "--json", "-"]) == 0
    (model,) = json.loads(capsys.readouterr().out)["models"]
    assert len(model["path"]) > columns
    assert main(["models", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"trained models in {out.resolve()}" in lines
    assert f"  1  {model['path']}" in lines
    table = [line for line in lines if "margin=0.1" in line]
    assert len(table) == 1 and len(table[0]) <= columns and "trainable-threshold" in table[0]
