"""The built-in real dataset dsb2018-sample: its files, its attribution, a fresh
non-editable install, and a suite that names it."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segbench.builtin.dsb2018 import DSB2018Sample, sample_folder
from segbench.cli import main
from segbench.plugins import load_registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def samples():
    return list(DSB2018Sample().load())


def test_140_real_images_with_instance_masks(samples):
    assert len(samples) == 140 and len({s.name for s in samples}) == 140
    for sample in samples:
        assert sample.image.dtype == np.uint8 and sample.image.ndim == 2
        assert sample.labels.dtype == np.uint16 and sample.labels.shape == sample.image.shape
        assert 256 <= min(sample.image.shape) and max(sample.image.shape) <= 360
        ids = np.unique(sample.labels)
        assert ids[0] == 0 and list(ids[1:]) == list(range(1, int(ids[-1]) + 1))  # renumbered 1..N
        # nuclei are brighter than the background they sit on
        assert sample.image[sample.labels > 0].mean() > sample.image[sample.labels == 0].mean()
    counts = sorted(int(s.labels.max()) for s in samples)
    assert sum(counts) == 4482 and counts[0] <= 10 and counts[-1] >= 100  # sparse and crowded fields
    shapes = {s.image.shape for s in samples}
    assert {(256, 256), (360, 360)} <= shapes and len(shapes) >= 3


def test_small_and_attributed():
    folder = sample_folder()
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size <= 10_000_000  # the bound for shipped data
    attribution = (folder / "ATTRIBUTION.md").read_text()
    for phrase in ("CC0", "Caicedo", "Data Science Bowl", "BBBC038", "scripts/make_dsb2018_sample.py"):
        assert phrase in attribution
    meta = json.loads((folder / "dataset.json").read_text())
    assert meta["n_images"] == 140 and len(meta["stage1_train_ids"]) == 140
    # the stratified 40 and the 100 the shipped GAN pair holds out (it never saw any image of the sample)
    assert len(meta["stratified_ids"]) == 40 and len(meta["gan_heldout_ids"]) == 100
    assert set(meta["stratified_ids"]) | set(meta["gan_heldout_ids"]) == set(meta["stage1_train_ids"])
    for image in (folder / "images").glob("*.tif"):
        assert f"| {image.stem} |" in attribution
    assert "dsb2018-sample" in load_registry().names("dataset")


def test_found_on_a_fresh_non_editable_install(tmp_path):
    """Build a wheel from a copy of the package and install it into an empty
    folder: the files must be in the wheel and found from the installed module."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "segbench", source / "segbench", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "wheel"), str(source)],
                   check=True, capture_output=True)
    (wheel,) = (tmp_path / "wheel").glob("segbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = [n for n in names if "builtin/data/dsb2018_sample/" in n]
    assert sum(n.endswith(".tif") for n in data) == 280 and any(n.endswith("ATTRIBUTION.md") for n in data)
    target = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, capture_output=True)
    code = (
        "from segbench.builtin.dsb2018 import DSB2018Sample, sample_folder\n"
        "d = DSB2018Sample().load()\n"
        "print(sample_folder(), len(d), d[0].labels.max() > 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, capture_output=True, text=True)
    folder, n, labelled = out.stdout.split()
    assert Path(folder).is_relative_to(target) and n == "140" and labelled == "True"


def suite_text(output, extra=""):
    return textwrap.dedent(
        f"""\
        name: real-and-procedural
        output: {output}
        datasets:
          - name: nuclei
            generator: procedural
            params: {{n_images: 4, shape: [96, 96], n_objects: 6}}
          - name: real
            dataset: dsb2018-sample
            split: {{train: 2, test: 4}}
            {extra}
        segmenters:
          - name: otsu-watershed
            params: {{min_distance: [3, 6, 10]}}
        metrics: {{iou_thresholds: [0.5, 0.75]}}
        executor: {{kind: local}}
        """
    )


def test_a_suite_names_it_and_agreement_reads_the_run(tmp_path, capsys):
    suite = tmp_path / "suite.yaml"
    suite.write_text(suite_text(tmp_path / "out"))
    assert main(["run", str(suite)]) == 0
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    real = results[results["dataset"] == "real"]
    assert real["image"].nunique() == 4 and real["variant"].nunique() == 3
    assert set(real["image"]) <= {p.stem for p in (sample_folder() / "images").glob("*.tif")}
    f1 = real[real["threshold"] == 0.5].groupby("variant")["tp"].sum()
    assert (f1 > 0).all()  # the baseline finds real nuclei
    capsys.readouterr()
    assert main(["agreement", str(tmp_path / "out"), "--json", str(tmp_path / "a.json")]) == 0
    (pair,) = json.loads((tmp_path / "a.json").read_text())["pairs"]
    assert (pair["a"], pair["b"], pair["n"]) == ("nuclei", "real", 3)


def test_it_takes_no_params(tmp_path, capsys):
    suite = tmp_path / "suite.yaml"
    suite.write_text(suite_text(tmp_path / "out", extra="params: {n_images: 5}"))
    main(["run", str(suite), "--dry-run"])
    err = capsys.readouterr().err
    assert "datasets[1].params.n_images: unknown parameter for dataset 'dsb2018-sample'; accepted: none" in err
