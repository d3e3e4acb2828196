"""A trained model that finds (almost) nothing is a warning, never a silent zero:
in the run's output, run.json and the summary (segbench.run.checks)."""

import json
import textwrap

import pandas as pd
import pytest

import segbench.plugins
from segbench import testing
from segbench.cli import main
from segbench.plugins import load_registry
from segbench.results import Col
from segbench.run.checks import MIN_FOUND_FRACTION, silent_models
from segbench.run.runner import plan_suite, run_suite
from segbench.suite import load_suite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def registry():
    return load_registry(extra=[(testing, "segbench-testing", "1.0")])


SEGMENTERS = """\
  - name: finds-nothing
    train: {epochs: 3}
  - name: trainable-threshold
    train: {}
  - name: blob-threshold
"""


def write_suite(tmp_path, segmenters=SEGMENTERS):
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: silent
        seed: 1
        output: {tmp_path / 'out'}
        datasets:
          - name: blobs
            generator: procedural
            params: {{n_images: 5, shape: [64, 64], n_objects: 6}}
            split: {{train: 2, test: 3}}
        segmenters:
        """) + segmenters + "metrics: {iou_thresholds: [0.5], rank_by: f1@0.5}\n")
    return path


def test_a_trained_model_that_finds_nothing_is_a_warning_with_cause_and_fix(tmp_path, registry):
    summary = run_suite(load_suite(write_suite(tmp_path), registry), registry)
    assert summary.ok
    (warning,) = summary.result_warnings  # the model that finds objects, and the untrained one: none
    assert warning.startswith("blobs: finds-nothing, trained (3 epochs on 2 train images of blobs), found 0 objects")
    assert "on 3 test images (under 5%)" in warning
    assert "too few epochs" in warning and "train: {epochs: 12}" in warning
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert warning in record["warnings"]
    # a warm rerun computes nothing and still says so
    again = run_suite(load_suite(write_suite(tmp_path), registry), registry)
    assert again.n_done == 0 and again.result_warnings == [warning]


def test_the_warning_ends_the_command_line_output(tmp_path, capsys, monkeypatch):
    real = segbench.plugins.load_registry
    monkeypatch.setattr(
        segbench.plugins, "load_registry",
        lambda extra=(): real(extra=[*extra, (testing, "segbench-testing", "1.0")]),
    )
    path = write_suite(tmp_path, "  - name: finds-nothing\n    train: {epochs: 3}\n")
    assert main(["run", str(path), "--no-html", "--no-plots"]) == 0
    err = capsys.readouterr().err
    tail = err[err.index("predictions:"):]
    assert "warning: blobs: finds-nothing, trained" in " ".join(tail.split())


def counts(rows):
    """A results table of (dataset, variant, image, n_true, n_pred) rows, two thresholds each."""
    frame = pd.DataFrame(rows, columns=[Col.DATASET, Col.VARIANT, Col.IMAGE, Col.N_TRUE, Col.N_PRED])
    frame[Col.TRAIN_DATASET] = "blobs"
    frame[Col.CONFIG_ID] = "c1"
    return pd.concat([frame.assign(**{Col.THRESHOLD: t}) for t in (0.5, 0.75)])


def test_the_rule_is_the_best_variant_under_the_fraction_of_true_objects(tmp_path, registry):
    plan = plan_suite(load_suite(write_suite(tmp_path, "  - name: finds-nothing\n    train: {}\n"), registry), registry)
    ((key, job),) = plan.trainings.items()
    trainings = {("blobs", "c1"): job}
    n_true = 100
    below = int(MIN_FOUND_FRACTION * n_true) - 1
    assert len(silent_models(counts([("blobs", "a", "i1", 60, below), ("blobs", "a", "i2", 40, 0)]), trainings)) == 1
    at_rule = counts([("blobs", "a", "i1", 60, below + 1), ("blobs", "a", "i2", 40, 0)])
    assert silent_models(at_rule, trainings) == []
    # one post-processing variant that finds objects clears the model
    swept = counts([("blobs", "a", "i1", 100, 0), ("blobs", "b", "i1", 100, 80)])
    assert silent_models(swept, trainings) == []
    # no true objects: nothing to find, nothing to say; an untrained variant is not judged
    assert silent_models(counts([("blobs", "a", "i1", 0, 0)]), trainings) == []
    untrained = counts([("blobs", "a", "i1", 100, 0)]).assign(**{Col.TRAIN_DATASET: ""})
    assert silent_models(untrained, trainings) == []
    (warning,) = silent_models(counts([("blobs", "a", "i1", 100, 0)]), trainings)
    assert "a longer training (more epochs)" in warning
