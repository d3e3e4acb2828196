"""The runner end to end: caching, sweeps over one raw pass, training cache,
failure isolation, executors, and resumption after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segbench import testing
from segbench.plugins import load_registry
from segbench.run.runner import plan_suite, run_suite
from segbench.suite import load_suite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def registry():
    return load_registry(extra=[(testing, "segbench-testing", "1.0")])


def make_suite(tmp_path, segmenters, executor="local", workers=1, n_images=6, extra_datasets=""):
    text = textwrap.dedent(
        f"""\
        name: t
        seed: 3
        output: {tmp_path / 'out'}
        datasets:
          - name: blobs
            generator: procedural
            params: {{n_images: {n_images}, shape: [64, 64]}}
            split: {{train: 2, test: {n_images - 2}}}
        """
    ) + extra_datasets + "segmenters:\n" + textwrap.indent(textwrap.dedent(segmenters), "  ") + textwrap.dedent(
        f"""\
        metrics: {{iou_thresholds: [0.5, 0.75], rank_by: f1@0.5}}
        executor: {{kind: {executor}, workers: {workers}}}
        """
    )
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def test_sweep_costs_one_raw_pass_per_image_and_rows_are_tidy(tmp_path, registry):
    path = make_suite(tmp_path, "- name: blob-threshold\n  params: {threshold: [0.2, 0.4, 0.6, 0.8, 0.9]}\n")
    suite = load_suite(path, registry)
    testing.RAW_CALLS.clear()
    summary = run_suite(suite, registry)
    assert summary.ok and summary.n_cells == 4 and summary.n_done == 4
    assert testing.RAW_CALLS["blob-threshold"] == 4  # 4 test images, 5 thresholds each
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    # one row per image x variant x threshold (suite thresholds + DSB 0.50:0.05:0.95)
    thresholds = sorted(results["threshold"].unique())
    assert thresholds == pytest.approx([0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
    assert len(results) == 4 * 5 * 10
    assert results.groupby(["image", "variant", "threshold"]).size().max() == 1
    for column in ("segbench_version", "plugin_version", "params", "seed", "predict_seconds", "host", "describe"):
        assert column in results.columns
    assert set(results["plugin_distribution"]) == {"segbench-testing"}
    assert json.loads(results["params"].iloc[0]).keys() == {"threshold"}


def test_rerun_computes_nothing_and_changed_params_recompute_only_those(tmp_path, registry):
    path = make_suite(tmp_path, "- name: blob-threshold\n  params: {threshold: 0.5}\n")
    first = run_suite(load_suite(path, registry), registry)
    assert first.n_done == 4
    again = run_suite(load_suite(path, registry), registry)
    assert (again.n_done, again.n_cached) == (0, 4)
    path.write_text(path.read_text().replace("{threshold: 0.5}", "{threshold: 0.5}\n  - name: blob-threshold\n    label: b2\n    params: {sigma: 2.0}"))
    third = run_suite(load_suite(path, registry), registry)
    assert (third.n_done, third.n_cached) == (4, 4)
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert set(results["segmenter"]) == {"blob-threshold", "b2"}


def test_failures_are_isolated_and_reported(tmp_path, registry):
    segmenters = """\
    - name: blob-threshold
    - {name: misbehaving, label: raises, params: {mode: raise}}
    - {name: misbehaving, label: bad-shape, params: {mode: shape}}
    - {name: misbehaving, label: float-out, params: {mode: float}}
    - {name: misbehaving, label: slow, params: {mode: sleep, seconds: 5}, timeout: 0.2}
    """
    path = make_suite(tmp_path, segmenters, n_images=3)
    summary = run_suite(load_suite(path, registry), registry)
    assert summary.n_done == 1 and summary.n_failed == 4
    failures = sorted(map(str, summary.failures))
    assert failures[0] == "blobs/img0002: segmenter 'bad-shape' returned shape (3, 3), expected (64, 64)"
    assert failures[1] == "blobs/img0002: segmenter 'float-out' returned dtype float32, expected an integer label image"
    assert failures[2] == "blobs/img0002: segmenter 'raises' raised RuntimeError: deliberate failure"
    assert failures[3] == "blobs/img0002: segmenter 'slow' exceeded the per-image timeout of 0.2 s"
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["failed"] == 4 and record["computed"] == 1
    assert {"where": "blobs/img0002", "message": "segmenter 'raises' raised RuntimeError: deliberate failure"} in record["failures"]
    # failed cells are not cached: a rerun retries them, the good one stays cached
    again = run_suite(load_suite(path, registry), registry)
    assert again.n_cached == 1 and again.n_failed == 4


def test_training_runs_once_and_is_cached(tmp_path, registry):
    log = tmp_path / "calls.log"
    path = make_suite(tmp_path, f"- name: trainable-threshold\n  params: {{call_log: {log}}}\n  train: {{margin: 0.0}}\n")
    summary = run_suite(load_suite(path, registry), registry)
    assert summary.ok and summary.n_done == 4
    assert log.read_text().count("fit") == 1
    workdirs = list((tmp_path / "out" / "train" / "blobs").iterdir())
    assert len(workdirs) == 1 and (workdirs[0] / "threshold.json").is_file()
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert results["train_seconds"].notna().all()
    # a new output folder for the results but the same training inputs: changing only the
    # post-hoc thresholds leaves the cell keys and the training untouched
    run_suite(load_suite(path, registry), registry)
    assert log.read_text().count("fit") == 1


def test_failed_training_skips_its_cells_and_the_rest_runs(tmp_path, registry):
    segs = "- name: trainable-threshold\n  train: {fail: true}\n- name: blob-threshold\n"
    summary = run_suite(load_suite(make_suite(tmp_path, segs), registry), registry)
    assert summary.n_done == 4 and summary.n_cells == 8
    (failure,) = summary.failures
    assert str(failure) == (
        "blobs: training 'trainable-threshold': RuntimeError: deliberate training failure; its 4 cells were skipped"
    )
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert set(results["segmenter"]) == {"blob-threshold"}


def test_train_without_split_fails_that_config_only(tmp_path, registry):
    extra = "  - name: nosplit\n    generator: procedural\n    params: {n_images: 2, shape: [48, 48]}\n"
    path = make_suite(tmp_path, "- name: trainable-threshold\n  train: {}\n", extra_datasets=extra)
    summary = run_suite(load_suite(path, registry), registry)
    assert summary.n_done == 4
    (failure,) = summary.failures
    assert str(failure).startswith("segmenters.trainable-threshold.train: dataset 'nosplit' has no train split")


def test_rejected_generator_params_fail_that_dataset_only(tmp_path, registry):
    extra = "  - name: bad\n    generator: procedural\n    params: {n_images: 2, touching_fraction: 1.5}\n"
    summary = run_suite(load_suite(make_suite(tmp_path, "- name: blob-threshold\n", extra_datasets=extra), registry), registry)
    assert summary.n_done == 4
    (failure,) = summary.failures
    assert str(failure).startswith("datasets.bad.params: generator 'procedural' rejected them: ")
    assert "touching_fraction" in str(failure)
    assert not (tmp_path / "out" / "data" / "bad").exists()


def test_dry_run_plans_without_generating(tmp_path, registry):
    path = make_suite(tmp_path, "- name: blob-threshold\n")
    plan = plan_suite(load_suite(path, registry), registry, generate=False)
    assert plan.cells == [] and plan.pending_datasets == {"blobs": 4}
    assert not (tmp_path / "out" / "data").exists()
    run_suite(load_suite(path, registry), registry)
    plan = plan_suite(load_suite(path, registry), registry, generate=False)
    assert len(plan.cells) == 4 and all(c.cached for c in plan.cells)


def _rows(tmp_path):
    frame = pd.read_parquet(tmp_path / "out" / "results.parquet")
    keep = ["dataset", "image", "variant", "threshold", "tp", "fp", "fn", "f1", "seg"]
    return frame[keep].sort_values(keep[:4]).reset_index(drop=True)


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_parallel_executors_give_the_local_results(tmp_path, registry, executor):
    segs = "- name: blob-threshold\n  params: {threshold: [0.3, 0.6]}\n"
    local = tmp_path / "local"
    local.mkdir()
    run_suite(load_suite(make_suite(local, segs), registry), registry)
    parallel = tmp_path / "parallel"
    parallel.mkdir()
    summary = run_suite(load_suite(make_suite(parallel, segs, executor=executor, workers=2), registry), registry)
    assert summary.ok and summary.n_done == 4
    pd.testing.assert_frame_equal(_rows(local), _rows(parallel))


def test_killed_run_resumes_and_loses_nothing(tmp_path):
    """SIGKILL a run mid-way; the rerun computes only the missing cells and the
    final table equals an uninterrupted run's."""
    segs = "- name: blob-threshold\n  params: {work: 60}\n"
    path = make_suite(tmp_path, segs, n_images=14)
    script = textwrap.dedent(
        f"""
        import sys
        from segbench import testing
        from segbench.plugins import load_registry
        from segbench.run.runner import run_suite
        from segbench.suite import load_suite
        registry = load_registry(extra=[(testing, "segbench-testing", "1.0")])
        summary = run_suite(load_suite({str(path)!r}, registry), registry)
        print(summary.n_done, summary.n_cached)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    cells = tmp_path / "out" / "cells" / "blobs"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(cells.glob("*.parquet"))) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(cells.glob("*.parquet")))
    assert 3 <= done_before < 12, "the run should have been killed mid-way"
    out = subprocess.run([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, check=True)
    n_done, n_cached = map(int, out.stdout.split())
    assert n_cached == done_before and n_done == 12 - done_before
    resumed = _rows(tmp_path)
    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    registry = load_registry(extra=[(testing, "segbench-testing", "1.0")])
    run_suite(load_suite(make_suite(fresh_dir, segs, n_images=14), registry), registry)
    pd.testing.assert_frame_equal(resumed, _rows(fresh_dir))
    assert np.all(resumed["f1"].between(0, 1))


def test_worker_threads_share_the_cores(monkeypatch):
    from segbench.run.executors import worker_thread_env

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    env = worker_thread_env(4)
    assert env["OMP_NUM_THREADS"] == "2" and env["TF_NUM_INTRAOP_THREADS"] == "2"
    assert env["MKL_NUM_THREADS"] == "3"  # the user's setting wins
    assert worker_thread_env(16)["OMP_NUM_THREADS"] == "1"
