"""Saved predictions: readable, one-to-one variant folders, the index beside
them (in step with results.parquet, also after a killed run), and
``segbench evaluate --pred`` on a variant's folder."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from segbench import testing
from segbench.cli import main
from segbench.plugins import load_registry
from segbench.results import MAX_VARIANT_SLUG_BYTES, PREDICTION_INDEX_COLUMNS, variant_folder
from segbench.run import store as store_module
from segbench.run.runner import run_suite
from segbench.run.store import prediction_index
from segbench.suite import load_suite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def registry():
    return load_registry(extra=[(testing, "segbench-testing", "1.0")])


def write_suite(tmp_path, thresholds) -> Path:
    """6 generated images, 2 train and 4 test; blob-threshold swept over ``thresholds``."""
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: saved
        seed: 3
        output: {tmp_path / 'out'}
        save_predictions: true
        datasets:
          - name: blobs
            generator: procedural
            params: {{n_images: 6, shape: [64, 64]}}
            split: {{train: 2, test: 4}}
        segmenters:
          - name: blob-threshold
            params: {{threshold: {json.dumps(thresholds)}}}
        metrics: {{iou_thresholds: [0.5, 0.75], rank_by: f1@0.5}}
        """))
    return path


def read_index(out) -> pd.DataFrame:
    return pd.read_csv(out / "predictions" / "index.csv", dtype=str, keep_default_na=False)


def test_variant_folders_are_readable_one_to_one_and_short():
    folder = variant_folder("cellpose cellprob_threshold=-1", "0123456789ab", "cdef0123")
    assert folder == "cellpose_cellprob_threshold_-1+0123456789ab-cdef0123"
    # labels that slug alike keep apart by their ids; the ids alone decide
    assert variant_folder("a b", "c1", "v1") != variant_folder("a_b", "c2", "v1")
    assert not variant_folder(".hidden", "c", "v").startswith(".")
    long = variant_folder("é" * 200, "0123456789ab", "cdef0123")
    assert len(long.encode()) <= MAX_VARIANT_SLUG_BYTES + 22 and long.endswith("+0123456789ab-cdef0123")


def test_index_lists_every_kept_image_and_evaluate_reads_a_variant(tmp_path, registry, capsys):
    summary = run_suite(load_suite(write_suite(tmp_path, [0.3, 0.6]), registry), registry)
    assert summary.ok
    out = tmp_path / "out"
    index = read_index(out)
    assert tuple(index.columns) == PREDICTION_INDEX_COLUMNS and len(index) == 8  # 2 variants x 4 test images
    assert index.equals(prediction_index(pd.read_parquet(out / "results.parquet")).reset_index(drop=True))
    assert all((out / "predictions" / f).is_file() for f in index["file"])
    folders = sorted({f.split("/")[1] for f in index["file"]})
    assert [f.split("+")[0] for f in folders] == ["blob-threshold_threshold_0.3", "blob-threshold_threshold_0.6"]

    variant = index[index["variant"] == "blob-threshold threshold=0.3"]
    code = main(["evaluate", "--gt", str(out / "data" / "blobs"), "--pred", str(out / "predictions" / "blobs" / folders[0]),
                 "--iou", "0.5", "--json", str(tmp_path / "scores.json")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "has no prediction" not in captured.err
    assert "2 ground-truth image(s) left out: the suite did not test them on blobs (its train split)" in captured.err
    report = json.loads((tmp_path / "scores.json").read_text())
    assert report["variant"] == "blob-threshold threshold=0.3"
    assert sorted(row["image"] for row in report["images"]) == sorted(variant["image"])
    results = summary.results
    rows = results[(results["variant"] == "blob-threshold threshold=0.3") & (results["threshold"] == 0.5)]
    assert report["pooled"][0]["tp"] == rows["tp"].sum()  # the same scores the suite stored


@pytest.mark.parametrize("where", ["predictions", "predictions/blobs"])
def test_evaluate_lists_the_variants_of_a_folder_holding_several(tmp_path, registry, capsys, where):
    run_suite(load_suite(write_suite(tmp_path, [0.3, 0.6]), registry), registry)
    out = tmp_path / "out"
    code = main(["evaluate", "--gt", str(out / "data" / "blobs"), "--pred", str(out / where)])
    err = capsys.readouterr().err
    assert code == 2
    assert "holds the saved predictions of 2 variants; give one variant's folder as --pred:" in err
    assert "(blob-threshold threshold=0.3 on blobs)" in err and "(blob-threshold threshold=0.6 on blobs)" in err


def test_index_outside_the_predictions_folder_is_not_read(tmp_path, registry, capsys):
    """A results folder may come from someone else: index rows leading out of
    the variant's folder are ignored, and the folder is read as a plain one."""
    run_suite(load_suite(write_suite(tmp_path, [0.3]), registry), registry)
    out = tmp_path / "out"
    index = read_index(out)
    index["file"] = "../data/blobs/masks/" + index["image"] + ".tif"
    index.to_csv(out / "predictions" / "index.csv", index=False)
    variant = next((out / "predictions" / "blobs").iterdir())
    code = main(["evaluate", "--gt", str(out / "data" / "blobs"), "--pred", str(variant), "--iou", "0.5"])
    captured = capsys.readouterr()
    assert code == 0 and "ground-truth image(s) left out" not in captured.err  # read as a plain folder


@pytest.mark.kill
def test_a_killed_run_leaves_the_index_in_step_with_the_results(tmp_path, registry, monkeypatch):
    path = write_suite(tmp_path, [0.3])
    run_suite(load_suite(path, registry), registry)
    out = tmp_path / "out"
    before = read_index(out)
    assert len(before) == 4

    write = store_module.ResultStore.write
    calls = []

    def killed_after_one(self, *args, **kwargs):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return write(self, *args, **kwargs)

    monkeypatch.setattr(store_module.ResultStore, "write", killed_after_one)
    path.write_text(path.read_text().replace("[0.3]", "[0.3, 0.6]"))
    with pytest.raises(KeyboardInterrupt):
        run_suite(load_suite(path, registry), registry)
    # the earlier run's index and table, unchanged and still true: each listed file is there
    assert read_index(out).equals(before)
    assert all((out / "predictions" / f).is_file() for f in before["file"])
    monkeypatch.undo()
    run_suite(load_suite(path, registry), registry)
    assert len(read_index(out)) == 8

    path.write_text(path.read_text().replace("save_predictions: true", "save_predictions: false"))
    (out / "cells").rename(tmp_path / "old-cells")
    run_suite(load_suite(path, registry), registry)
    assert read_index(out).empty  # no row of the results keeps a label image now
