"""docs/plugins.md is enough to write a plugin: its complete plugin (a trained
segmenter with a post-processing sweep), as written, is taken from the guide's
code blocks (a block whose first line is ``# PATH``), pip-installed (offline)
where segbench finds it, passes its own test (segbench.testing.check_segmenter),
is listed with its parameters, and runs the guide's suite through the real
runner: one training, one leaderboard row per swept value. The guide's
smallest segmenter works too."""

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import segbench
from segbench.plugins import load_registry
from segbench.testing import check_segmenter

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
#: a fenced block naming its file on its first line: ```lang\n# path\n...```
FILE_BLOCK = re.compile(r"^```\w*\n# ([\w./-]+\.(?:py|toml|yaml))\n(.*?)^```", re.S | re.M)
#: every fenced Python block
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SUITE = "learned-threshold.yaml"
SWEEP = (-0.1, 0.0, 0.1)


def guide_files() -> dict[str, str]:
    """``path -> text`` of every file the guide shows."""
    return {path: text for path, text in FILE_BLOCK.findall(GUIDE.read_text())}


@pytest.fixture(scope="module")
def plugin_folder(tmp_path_factory) -> Path:
    """The guide's files written into a folder, as a reader would."""
    folder = tmp_path_factory.mktemp("guide") / "segbench-learned-threshold"
    for path, text in guide_files().items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    return folder


@pytest.fixture(scope="module")
def guide_env(plugin_folder) -> dict[str, str]:
    """An environment in which the guide's plugin is pip-installed (into a
    folder on PYTHONPATH, beside the segbench under test)."""
    target = plugin_folder.parent / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(plugin_folder)],
        check=True, capture_output=True, timeout=120,
    )
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(Path(segbench.__file__).parents[1])])}


def guide_module(plugin_folder: Path):
    spec = importlib.util.spec_from_file_location("guide_plugin", plugin_folder / "my_package" / "plugin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_guide_has_a_complete_plugin(plugin_folder):
    assert set(guide_files()) == {
        "pyproject.toml", "my_package/__init__.py", "my_package/plugin.py", "tests/test_plugin.py", SUITE,
    }
    project = tomllib.loads((plugin_folder / "pyproject.toml").read_text())["project"]
    assert project["name"] and project["version"]  # pip rejects a distribution without them
    assert project["entry-points"]["segbench"] == {"learned-threshold": "my_package.plugin"}
    registry = load_registry(extra=[(guide_module(plugin_folder), "segbench-learned-threshold", "0.1.0")])
    assert not [p for p in registry.problems if p.distribution == "segbench-learned-threshold"]
    info = registry.get("segmenter", "learned-threshold")
    assert info.description == "Smooth, threshold at a level learnt from the train split, label."
    cls = info.cls
    assert cls.has_raw_split() and cls.can_fit() and cls.can_load()
    assert cls.postprocess_params() == ("offset", "min_size")
    assert cls.train_params() == ("between", "progress")


def test_check_segmenter_passes_on_the_guide_plugin(plugin_folder, tmp_path):
    cls = guide_module(plugin_folder).LearnedThreshold
    check_segmenter(cls, {"sigma": 1.0}, workdir=tmp_path / "a", fit={"between": 0.5}, sweep={"offset": list(SWEEP)})
    with pytest.raises(AssertionError, match=r"learned-threshold: predict_raw\(image\) raised SegbenchError: "
                       r"learned-threshold: untrained; give its suite entry train: \{\}"):
        check_segmenter(cls, workdir=tmp_path / "b")


def test_the_plugin_s_own_test_passes_where_it_is_installed(plugin_folder, guide_env):
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_plugin.py"],
        cwd=plugin_folder, env=guide_env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout


def test_segbench_lists_the_installed_plugin_with_its_parameters(plugin_folder, guide_env):
    out = subprocess.run(
        [sys.executable, "-m", "segbench", "list", "--json", "--params"],
        check=True, capture_output=True, text=True, env=guide_env, cwd=plugin_folder, timeout=120,
    )
    listing = json.loads(out.stdout)
    assert not listing["problems"]
    found = {p["name"]: p for p in listing["plugins"]}["learned-threshold"]
    assert (found["distribution"], found["version"]) == ("segbench-learned-threshold", "0.1.0")
    groups = {group: {p["name"]: p for p in params} for group, params in found["parameters"].items()}
    assert set(groups["params"]) == {"sigma"} and groups["params"]["sigma"]["type"] == "float"
    assert set(groups["postprocess"]) == {"offset", "min_size"}
    assert groups["postprocess"]["offset"]["description"].startswith("Added to the learnt level")
    assert set(groups["train"]) == {"between"}  # progress is segbench's own


def test_the_guide_suite_trains_once_and_sweeps_through_the_runner(plugin_folder, guide_env, tmp_path):
    output = tmp_path / "out"
    out = subprocess.run(
        [sys.executable, "-m", "segbench", "run", SUITE, "--output", str(output), "--format", "json",
         "--no-plots", "--no-html"],
        capture_output=True, text=True, env=guide_env, cwd=plugin_folder, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    (board,) = json.loads(out.stdout)
    rows = {row["variant"]: row for row in board["rows"]}
    swept = sorted(v for v in rows if v.startswith("learned-threshold"))
    assert len(rows) == 4 and len(swept) == 3 and "otsu-watershed" in rows
    assert [next(float(w.split("=")[1]) for w in v.split() if w.startswith("offset=")) for v in swept] == sorted(SWEEP)
    results = pd.read_parquet(output / "results.parquet")
    learned = results[results["segmenter_name"] == "learned-threshold"]
    assert learned["image"].nunique() == 4 and learned["variant"].nunique() == 3
    assert set(learned["plugin_distribution"]) == {"segbench-learned-threshold"}
    assert learned["train_seconds"].nunique() == 1  # one training shared by the three variants
    (workdir,) = (output / "train" / "nuclei").iterdir()
    assert json.loads((workdir / "segbench-training.json").read_text())["train_settings"] == {"between": 0.5}
    level = json.loads((workdir / "model.json").read_text())["level"]
    assert {json.loads(d)["level"] for d in learned["describe"]} == {level}
    best = learned[learned["threshold"] == 0.5].groupby("variant")[["tp", "fp", "fn"]].sum()
    f1 = 2 * best["tp"] / (2 * best["tp"] + best["fp"] + best["fn"])
    assert f1.max() > 0.5  # it finds the nuclei


def test_the_smallest_segmenter_works():
    (block,) = [b for b in PYTHON_BLOCK.findall(GUIDE.read_text()) if 'name = "global-threshold"' in b]
    namespace = {"__name__": "smallest"}
    exec(compile(block, "docs/plugins.md", "exec"), namespace)
    module = type(sys)("smallest")
    module.__dict__.update(namespace)
    registry = load_registry(extra=[(module, "smallest", "0")])
    info = registry.get("segmenter", "global-threshold")
    assert info.description == "Threshold at the image mean; connected components."
    image = np.zeros((32, 32), np.uint16)
    image[4:10, 4:10] = image[20:28, 18:30] = 1000
    labels = info.cls(offset=0.1).predict(image)
    assert labels.dtype == np.int32 and labels.max() == 2
