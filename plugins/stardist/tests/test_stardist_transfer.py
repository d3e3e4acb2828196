"""The README's transfer experiment, end to end (slow: trains the suite's StarDist, ~3 min on 2 cores).

Run with ``pytest plugins/stardist -m slow``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "plugins" / "stardist" / "scripts" / "real_image_transfer.py"

#: the entry the README measures (and suites/fluorescent.yaml should carry)
ENTRY = {
    "name": "stardist",
    "train": {"epochs": 15, "steps_per_epoch": 20, "patch_size": 128, "learning_rate": 0.001},
}


def _load_script(monkeypatch):
    spec = importlib.util.spec_from_file_location("real_image_transfer", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up while the script runs
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_procedural_training_transfers_to_stardists_real_image(tmp_path, monkeypatch):
    suite = yaml.safe_load((ROOT / "suites" / "fluorescent.yaml").read_text())
    suite["datasets"] = [d for d in suite["datasets"] if d["name"] == "nuclei-clean"]
    suite["segmenters"] = [ENTRY]
    suite["output"] = str(tmp_path / "results")
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(yaml.safe_dump(suite))

    result = _load_script(monkeypatch).transfer(str(suite_file), "nuclei-clean", "stardist")

    assert result.record["n_train_images"] == 16 and result.record["seconds"] > 0  # the core's record
    procedural, real = result.procedural[0], result.real[0]
    assert procedural["threshold"] == real["threshold"] == 0.5
    assert procedural["f1"] >= 0.95  # README: 0.978
    assert real["n_true"] == 125 and real["n_pred"] > 0
    # README: 0.31 (0.65 and 0.77 with other library versions or seeds): partial, far below
    # the procedural score, but not absent. The value moves with seed and versions; the gap does not.
    assert 0.1 <= real["f1"] <= procedural["f1"] - 0.2
    assert max(row["f1"] for row in result.real_sweep.values()) >= real["f1"]
