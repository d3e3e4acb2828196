"""The third-party path for real: build three tiny distributions with a
``[project.entry-points.segbench]`` table (one works, one fails to import, one
misspells its hook), pip-install them into a throwaway virtual environment
beside segbench, and check that ``segbench list`` shows the good one and reports
the other two, and that a suite runs the good one (with the misspelling
reported)."""

import json
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pandas as pd
import pytest

PLUGIN = '''
import numpy as np
from scipy import ndimage as ndi
import segbench


class MeanThreshold(segbench.Segmenter):
    """Threshold at the image mean plus an offset; connected components."""

    name = "mean-threshold"

    def __init__(self, offset: float = 0.0):
        self.offset = offset

    def predict(self, image):
        x = segbench.normalize(image)
        labels, _ = ndi.label(x > x.mean() + self.offset)
        return labels.astype(np.int32)


@segbench.hookimpl
def segbench_register_segmenters():
    return [MeanThreshold]
'''


def make_distribution(root: Path, dist: str, module: str, source: str) -> Path:
    folder = root / dist
    (folder / module).mkdir(parents=True)
    (folder / module / "__init__.py").write_text("")
    (folder / module / "plugin.py").write_text(source)
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{dist}"
            version = "0.3.1"
            dependencies = ["segbench"]

            [project.entry-points.segbench]
            {module} = "{module}.plugin"
            """
        )
    )
    return folder


#: a plugin whose hook name misses its last letter: it registers nothing
MISSPELLED = PLUGIN.replace("mean-threshold", "typo-threshold").replace(
    "def segbench_register_segmenters", "def segbench_register_segmenter"
)
MISSPELLED_PROBLEM = (
    "hook 'segbench_register_segmenter' is not a segbench hook "
    "(did you mean 'segbench_register_segmenters'?); segbench ignores it"
)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("third-party")
    good = make_distribution(root, "segbench-mean-threshold", "mean_threshold", PLUGIN)
    broken = make_distribution(root, "segbench-broken", "broken_plugin", "import not_a_module_anywhere\n")
    misspelled = make_distribution(root, "segbench-typo", "typo_plugin", MISSPELLED)
    env = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    # Make segbench and its dependencies (from the environment running the tests) visible
    # in the throwaway environment, which is where the plugins get installed.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    Path(purelib, "segbench-host.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--no-build-isolation", str(good), str(broken), str(misspelled)],
        check=True,
    )
    return python


def test_list_shows_the_plugin_and_reports_the_broken_one(venv):
    out = subprocess.run([str(venv), "-m", "segbench", "list", "--json"], check=True, capture_output=True, text=True)
    listing = json.loads(out.stdout)
    plugins = {p["name"]: p for p in listing["plugins"]}
    assert plugins["mean-threshold"]["distribution"] == "segbench-mean-threshold"
    assert plugins["mean-threshold"]["version"] == "0.3.1"
    assert plugins["mean-threshold"]["description"] == "Threshold at the image mean plus an offset; connected components."
    (problem,) = [p for p in listing["problems"] if p["distribution"] == "segbench-broken"]
    assert problem["plugin"] == "broken_plugin"
    assert problem["error"] == "failed to import: ModuleNotFoundError: No module named 'not_a_module_anywhere'"
    (typo,) = [p for p in listing["problems"] if p["distribution"] == "segbench-typo"]
    assert (typo["plugin"], typo["error"]) == ("typo_plugin", MISSPELLED_PROBLEM)
    assert "typo-threshold" not in plugins
    assert "otsu-watershed" in plugins  # the built-ins still load


def test_plugin_is_not_visible_outside_its_environment():
    out = subprocess.run([sys.executable, "-m", "segbench", "list", "--json"], check=True, capture_output=True, text=True)
    assert "mean-threshold" not in {p["name"] for p in json.loads(out.stdout)["plugins"]}


def test_a_suite_runs_the_third_party_segmenter(venv, tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        textwrap.dedent(
            f"""\
            name: third-party
            output: {tmp_path / 'out'}
            datasets:
              - name: nuclei
                generator: procedural
                params: {{n_images: 3, shape: [64, 64]}}
            segmenters:
              - name: mean-threshold
                params: {{offset: [0.0, 0.1]}}
              - name: otsu-watershed
            """
        )
    )
    out = subprocess.run(
        [str(venv), "-m", "segbench", "run", str(suite), "--format", "json", "--no-plots"],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    assert f"warning: plugin 'typo_plugin' (distribution segbench-typo): {MISSPELLED_PROBLEM}" in out.stderr
    (board,) = json.loads(out.stdout)
    variants = {row["variant"] for row in board["rows"]}
    assert variants == {"mean-threshold offset=0.0", "mean-threshold offset=0.1", "otsu-watershed"}
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    mean_rows = results[results["segmenter"] == "mean-threshold"]
    assert set(mean_rows["plugin_distribution"]) == {"segbench-mean-threshold"}
    assert set(mean_rows["plugin_version"]) == {"0.3.1"}
