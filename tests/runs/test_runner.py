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
from segbench.metrics import error_counts, overlap_table
from segbench.plugins import load_registry
from segbench.results import ERROR_COLUMNS
from segbench.run.output import claim_output
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
    calls = log.read_text().splitlines()
    assert [c.split()[0] for c in calls].count("fit") == 1
    assert [c.split()[0] for c in calls].count("load") == 1  # one worker, one model kept
    (workdir,) = (tmp_path / "out" / "train" / "blobs").iterdir()
    assert (workdir / "threshold.json").is_file()
    record = json.loads((workdir / "segbench-training.json").read_text())
    assert record["train_dataset"] == "blobs" and record["n_train_images"] == 2
    assert record["segmenter"] == "trainable-threshold" and record["train_settings"] == {"margin": 0.0}
    assert len(record["files_sha256"]) == 64 and record["plugin_distribution"] == "segbench-testing"
    assert not (workdir / ".segbench-progress.json").exists()
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert (results["train_seconds"] == record["seconds"]).all()
    assert set(results["train_dataset"]) == {"blobs"}
    # a second run trains nothing: the record says the model exists
    (tmp_path / "out" / "cells").rename(tmp_path / "old-cells")
    again = run_suite(load_suite(path, registry), registry)
    assert again.ok and again.n_done == 4
    assert [c.split()[0] for c in log.read_text().splitlines()].count("fit") == 1


def test_unfinished_training_is_trained_again(tmp_path, registry):
    """A workdir without a record (a run killed mid-training) is cleared and trained from scratch."""
    log = tmp_path / "calls.log"
    path = make_suite(tmp_path, f"- name: trainable-threshold\n  params: {{call_log: {log}}}\n  train: {{}}\n")
    suite = load_suite(path, registry)
    claim_output(suite.output)  # as the killed run did before it trained
    (job,) = plan_suite(suite, registry).trainings.values()
    Path(job.workdir).mkdir(parents=True)
    (Path(job.workdir) / "half-written.pt").write_text("x")
    assert run_suite(load_suite(path, registry), registry).ok
    assert not (Path(job.workdir) / "half-written.pt").exists()
    assert log.read_text().count("fit") == 1


def test_progress_reports_reach_the_workdir(tmp_path):
    from segbench.run.training import ProgressFile, read_progress

    report = ProgressFile(tmp_path / "w")
    assert read_progress(tmp_path / "w") is None
    report(3, 40, 0.25)
    progress = read_progress(tmp_path / "w")
    assert (progress.epoch, progress.total, progress.loss) == (3, 40, 0.25)


def test_train_on_trains_once_and_tests_on_every_dataset(tmp_path, registry):
    """Procedural train split -> a folder dataset of other images: one training, both tested."""
    from segbench.builtin.procedural import Procedural
    from segbench.io import write_dataset

    folder = tmp_path / "lab"
    write_dataset(folder, Procedural(shape=(64, 64)).generate(3, seed=11))
    log = tmp_path / "calls.log"
    extra = f"  - name: lab\n    path: {folder}\n"
    segs = f"- name: trainable-threshold\n  label: from-blobs\n  params: {{call_log: {log}}}\n  train_on: blobs\n"
    summary = run_suite(load_suite(make_suite(tmp_path, segs, extra_datasets=extra), registry), registry)
    assert summary.ok and summary.n_done == 4 + 3
    assert [c.split()[0] for c in log.read_text().splitlines()].count("fit") == 1
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert set(results["dataset"]) == {"blobs", "lab"}
    assert set(results["train_dataset"]) == {"blobs"}
    assert [p.name for p in (tmp_path / "out" / "train").iterdir()] == ["blobs"]


def test_train_on_validation_messages(tmp_path, registry):
    from segbench.suite import SuiteLoadError

    extra = "  - name: nosplit\n    generator: procedural\n    params: {n_images: 2, shape: [48, 48]}\n"
    segs = "- name: trainable-threshold\n  train_on: blbos\n- name: trainable-threshold\n  label: b\n  train_on: nosplit\n"
    with pytest.raises(SuiteLoadError) as info:
        load_suite(make_suite(tmp_path, segs, extra_datasets=extra), registry)
    lines = [str(p) for p in info.value.problems]
    assert lines[0].endswith(
        "segmenters[0].train_on: no dataset named 'blbos' in this suite (did you mean 'blobs'?); "
        "name one of: blobs, nosplit"
    )
    assert lines[1].endswith(
        "segmenters[1].train_on: dataset 'nosplit' has no train split to train on; "
        "give it split: {train: N, test: M} or name a dataset that has one"
    )
    assert ":14: " in lines[0]  # the line of the train_on key


def test_a_training_s_predictions_start_before_the_last_training_ends(tmp_path, registry):
    """Two trainings on two workers; the 'slow' one can only finish after a prediction of
    the 'fast' one's model has run (it waits for it in the call log and fails after 60 s),
    so this passes only if each config's predictions start when its own training ends."""
    log = tmp_path / "calls.log"
    segs = (
        f"- name: trainable-threshold\n  label: slow\n  params: {{call_log: {log}, tag: slow}}\n"
        f"  train: {{wait_for: predict fast}}\n"
        f"- name: trainable-threshold\n  label: fast\n  params: {{call_log: {log}, tag: fast}}\n  train: {{}}\n"
    )
    path = make_suite(tmp_path, segs, executor="processes", workers=2)
    summary = run_suite(load_suite(path, registry), registry)
    assert summary.ok, summary.failures
    calls = log.read_text().splitlines()
    assert _first(calls, "predict fast") < _first(calls, "fit slow")


def test_predictions_that_need_no_training_run_beside_a_training(tmp_path, registry):
    """blob-threshold needs no training: its predictions run while the training waits for them."""
    log = tmp_path / "calls.log"
    segs = (
        f"- name: trainable-threshold\n  params: {{call_log: {log}, tag: t}}\n  train: {{wait_for: raw}}\n"
        f"- name: blob-threshold\n  params: {{call_log: {log}}}\n"
    )
    summary = run_suite(load_suite(make_suite(tmp_path, segs, executor="processes", workers=2), registry), registry)
    assert summary.ok, summary.failures
    calls = log.read_text().splitlines()
    assert _first(calls, "raw") < _first(calls, "fit t")


def _first(calls: list[str], prefix: str) -> int:
    """Index of the first call-log line (``WHAT TAG PID``) that starts with ``prefix``."""
    return next(i for i, line in enumerate(calls) if line.startswith(prefix + " "))


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


@pytest.mark.kill
def test_killed_run_resumes_and_loses_nothing(tmp_path):
    """SIGKILL a run while its 4th cell is being computed (the test segmenter blocks
    there, so the kill point is exact); the rerun computes only the missing cells
    and the final table equals an uninterrupted run's."""
    segs = "- name: blob-threshold\n  params: {threshold: [0.3, 0.6]}\n"
    path = make_suite(tmp_path, segs, n_images=14)
    script = textwrap.dedent(
        f"""
        from segbench import testing
        from segbench.plugins import load_registry
        from segbench.run.runner import run_suite
        from segbench.suite import load_suite
        registry = load_registry(extra=[(testing, "segbench-testing", "1.0")])
        summary = run_suite(load_suite({str(path)!r}, registry), registry)
        print(summary.n_done, summary.n_cached)
        """
    )
    blocked = tmp_path / "blocked"
    env = {**os.environ, testing.BLOCK_AFTER_VARIABLE: "3", testing.BLOCKED_VARIABLE: str(blocked)}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 300
    while not blocked.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert blocked.exists(), "the run never reached its 4th cell"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cells = tmp_path / "out" / "cells" / "blobs"
    assert len(list(cells.glob("*.parquet"))) == 3
    assert not list(cells.glob(".*"))  # no half-written cell left behind
    out = subprocess.run([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, check=True)
    assert out.stdout.split() == ["9", "3"]
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


def test_fit_on_fits_the_generator_once_and_generates_from_it(tmp_path, registry):
    extra = (
        "  - name: fitted\n    generator: procedural\n    fit_on: blobs\n    fit: {rounds: 1, n_simulated: 2}\n"
        "    params: {n_images: 3, shape: [64, 64]}\n    split: {train: 1, test: 2}\n"
    )
    path = make_suite(tmp_path, "- name: blob-threshold\n", extra_datasets=extra)
    summary = run_suite(load_suite(path, registry), registry)
    assert summary.ok and summary.n_done == 4 + 2
    (workdir,) = (tmp_path / "out" / "train" / "blobs").iterdir()
    record = json.loads((workdir / "segbench-training.json").read_text())
    assert record["generator"] == "procedural" and record["train_dataset"] == "blobs"
    assert record["n_train_images"] == 2 and record["train_settings"] == {"rounds": 1, "n_simulated": 2}
    meta = json.loads((tmp_path / "out" / "data" / "fitted" / "dataset.json").read_text())
    assert meta["fitted"]["workdir"] == workdir.name
    stamp = (workdir / "segbench-training.json").stat().st_mtime_ns
    again = run_suite(load_suite(path, registry), registry)
    assert again.n_cached == 6 and (workdir / "segbench-training.json").stat().st_mtime_ns == stamp


def test_fit_on_validation_messages(tmp_path, registry):
    extra = (
        "  - name: f1\n    generator: procedural\n    fit_on: blbos\n    params: {n_images: 2}\n"
        "  - name: nosplit\n    generator: procedural\n    params: {n_images: 2}\n"
        "  - name: f2\n    generator: procedural\n    fit_on: nosplit\n    params: {n_images: 2}\n"
        "  - name: f3\n    generator: procedural\n    fit_on: blobs\n    fit: {roundz: 2}\n    params: {n_images: 2}\n"
    )
    suite = load_suite(make_suite(tmp_path, "- name: blob-threshold\n", extra_datasets=extra), registry)
    assert [d.name for d in suite.datasets] == ["blobs", "nosplit"]
    lines = [str(p).split(": ", 1)[1] for p in suite.problems]
    assert lines[0].startswith("datasets[1].fit_on: no other dataset named 'blbos' in this suite (did you mean 'blobs'?)")
    assert lines[1].startswith("datasets[3].fit_on: dataset 'nosplit' has no train split to fit on")
    assert lines[2].startswith("datasets[4].fit.roundz: unknown fit setting for generator 'procedural' (did you mean 'rounds'?)")


def test_predicted_label_images_are_kept_when_asked(tmp_path, registry):
    from segbench.io import read_labels

    path = make_suite(tmp_path, "- name: blob-threshold\n  params: {threshold: [0.3, 0.6]}\n")
    run_suite(load_suite(path, registry), registry)  # save_predictions: auto, 4 test images
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    kept = results.drop_duplicates("prediction_path")
    assert len(kept) == 8 and kept["prediction_path"].str.startswith("predictions/blobs/").all()
    row = kept.iloc[0]
    labels = read_labels(tmp_path / "out" / row["prediction_path"])
    assert labels.max() == results[(results.prediction_path == row.prediction_path)]["n_pred"].iloc[0]
    # each row carries its image's error counts: what the kept label image gives against the mask
    gt = read_labels(tmp_path / "out" / "data" / "blobs" / "masks" / f"{row['image']}.tif")
    assert {c: row[c] for c in ERROR_COLUMNS} == error_counts(overlap_table(gt, labels))
    path.write_text(path.read_text() + "save_predictions: false\n")
    (tmp_path / "out" / "cells").rename(tmp_path / "old")
    run_suite(load_suite(path, registry), registry)
    assert (pd.read_parquet(tmp_path / "out" / "results.parquet")["prediction_path"] == "").all()


def test_two_entries_sharing_a_model_keep_their_own_rows(tmp_path, registry):
    """`own` trains on each dataset's train split; `from-blobs` names the same model
    with train_on: one training, and each entry's rows under its own label."""
    log = tmp_path / "calls.log"
    segs = (
        f"- name: trainable-threshold\n  label: own\n  params: {{call_log: {log}}}\n  train: {{}}\n"
        f"- name: trainable-threshold\n  label: from-blobs\n  params: {{call_log: {log}}}\n  train_on: blobs\n"
    )
    summary = run_suite(load_suite(make_suite(tmp_path, segs), registry), registry)
    assert summary.ok and summary.n_done == 8
    assert [c.split()[0] for c in log.read_text().splitlines()].count("fit") == 1
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert results.groupby("segmenter")["image"].nunique().to_dict() == {"from-blobs": 4, "own": 4}


def test_three_generated_datasets_plan_and_run(tmp_path, registry):
    extra = "".join(
        f"  - name: more{i}\n    generator: procedural\n    params: {{n_images: 2, shape: [48, 48]}}\n" for i in (1, 2)
    )
    summary = run_suite(load_suite(make_suite(tmp_path, "- name: blob-threshold\n", extra_datasets=extra), registry), registry)
    assert summary.ok and summary.n_done == 4 + 2 + 2


def test_a_new_plugin_version_trains_a_new_model(tmp_path):
    path = make_suite(tmp_path, "- name: trainable-threshold\n  train: {}\n")
    workdirs = []
    for version in ("1.0", "1.1"):
        registry = load_registry(extra=[(testing, "segbench-testing", version)])
        (job,) = plan_suite(load_suite(path, registry), registry).trainings.values()
        workdirs.append(job.workdir)
    assert workdirs[0] != workdirs[1]


def test_two_images_with_the_same_bytes_are_two_cells(tmp_path, registry):
    """Cell Tracking Challenge sequences name their frames alike (01/t000.tif, 02/t000.tif): two
    byte-identical frames are two images, each with its own rows (the cell key holds the name)."""
    import tifffile

    from segbench.builtin.procedural import Procedural

    (sample,) = Procedural(shape=(48, 48)).generate(1, seed=3)
    folder = tmp_path / "ctc"
    for sequence in ("01", "02"):
        (folder / sequence).mkdir(parents=True)
        (folder / f"{sequence}_GT" / "SEG").mkdir(parents=True)
        tifffile.imwrite(folder / sequence / "t000.tif", sample.image)
        tifffile.imwrite(folder / f"{sequence}_GT" / "SEG" / "man_seg000.tif", sample.labels.astype("uint16"))
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: twins\noutput: {tmp_path / 'out'}\ndatasets:\n  - name: lab\n    path: {folder}\n"
                     "segmenters:\n  - name: blob-threshold\nexecutor: {kind: local}\n")
    summary = run_suite(load_suite(suite, registry), registry)
    assert summary.ok and summary.n_done == 2
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert sorted(results["image"].unique()) == ["01_t000", "02_t000"]
