"""docs/plugins.md's example plugin, as written, is a working plugin: its files
are taken from the guide's code blocks (a block whose first line is
``# PATH``), checked, and pip-installed (offline) where segbench finds them."""

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import segbench
from segbench.plugins import load_registry

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
#: a fenced block naming its file on its first line: ```lang\n# path\n...```
FILE_BLOCK = re.compile(r"^```\w*\n# ([\w./-]+\.(?:py|toml))\n(.*?)^```", re.S | re.M)


def guide_files() -> dict[str, str]:
    """``path -> text`` of every file the guide shows."""
    return {path: text for path, text in FILE_BLOCK.findall(GUIDE.read_text())}


@pytest.fixture
def plugin_folder(tmp_path) -> Path:
    """The guide's files written into a folder, as a reader would."""
    folder = tmp_path / "segbench-global-threshold"
    for path, text in guide_files().items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    return folder


def entry_points(folder: Path) -> dict[str, str]:
    """The ``segbench`` entry points of the guide's ``pyproject.toml``, which
    must also name and version the distribution (pip rejects it otherwise)."""
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    assert project["name"] and project["version"]
    return project["entry-points"]["segbench"]


def test_the_guide_has_a_complete_plugin(plugin_folder):
    assert set(guide_files()) == {"pyproject.toml", "my_package/__init__.py", "my_package/plugin.py"}
    ((name, target),) = entry_points(plugin_folder).items()
    assert name == "global-threshold" and target == "my_package.plugin"
    spec = importlib.util.spec_from_file_location("guide_plugin", plugin_folder / "my_package" / "plugin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    registry = load_registry(extra=[(module, "segbench-global-threshold", "0.1.0")])
    info = registry.get("segmenter", "global-threshold")
    assert info.description == "Threshold at the image mean; connected components."
    image = np.zeros((32, 32), np.uint16)
    image[4:10, 4:10] = image[20:28, 18:30] = 1000
    labels = info.cls(offset=0.1).predict(image)
    assert labels.dtype == np.int32 and labels.max() == 2


def test_the_guide_installs_and_segbench_finds_it(plugin_folder, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(plugin_folder)],
        check=True, capture_output=True, timeout=120,
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(Path(segbench.__file__).parents[1])])}
    out = subprocess.run(
        [sys.executable, "-m", "segbench", "list", "--json", "--params"],
        check=True, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    listing = json.loads(out.stdout)
    plugins = {p["name"]: p for p in listing["plugins"]}
    assert not listing["problems"]
    found = plugins["global-threshold"]
    assert (found["distribution"], found["version"]) == ("segbench-global-threshold", "0.1.0")
    (offset,) = found["parameters"]["params"]
    assert offset["type"] == "float" and offset["description"].startswith("Added to the mean")
