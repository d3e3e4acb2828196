"""segbench.run.training: one key for a segmenter's training and a generator's
fit, the train split checked once, a 2D-only segmenter skipped on a 3D dataset
with one line, and a training record read once per process."""

import json
import textwrap

import numpy as np
import pytest

import segbench
from segbench import testing
from segbench.builtin.procedural import Procedural
from segbench.cli import main
from segbench.errors import SegbenchError
from segbench.io import write_dataset
from segbench.plugins import PluginInfo, load_registry
from segbench.run import training as training_module
from segbench.run.data import PreparedDataset, SampleRef
from segbench.run.runner import run_suite
from segbench.run.training import plan_training
from segbench.suite import load_suite


def split(name="lab", ndim=2, masks=True, n=2):
    refs = tuple(SampleRef(f"i{i}", f"/data/{name}/i{i}.tif", f"/data/{name}/m{i}.tif" if masks else None)
                 for i in range(n))
    return PreparedDataset.of(name, refs, (), None, {r.name: f"h{r.name}" for r in refs}, (), ndim)


def info(kind, cls, version):
    return PluginInfo(kind, cls.name, cls, "dist", version, "")


@pytest.mark.parametrize("kind, cls", [("segmenter", testing.TrainableThreshold), ("generator", Procedural)])
def test_a_fit_and_a_training_are_keyed_alike_and_a_new_plugin_version_changes_the_key(tmp_path, kind, cls):
    def key(version="1.0", params=None, settings=None, seed=0, train=None):
        return plan_training(kind, info(kind, cls, version), "x", params or {}, settings, train or split(),
                             tmp_path, seed, "here")

    base = key()
    assert base.workdir == str(tmp_path / "train" / "lab" / f"{cls.name}-{base.key[:16]}")
    others = [key(version="1.1"), key(params={"a": 1}), key(settings={"epochs": 2}), key(seed=1),
              key(train=split(n=3))]
    assert len({base.key, *(t.key for t in others)}) == 6  # each input is in the key
    assert key().key == base.key and key().seed == base.seed


def test_the_segmenter_and_generator_keys_differ_only_by_kind(tmp_path):
    """Same name, params, settings, data and seed: one rule; the kind keeps them apart."""
    class Twin(segbench.Generator):
        name = testing.TrainableThreshold.name

    seg = plan_training("segmenter", info("segmenter", testing.TrainableThreshold, "1"), "x", {}, {}, split(),
                        tmp_path, 0, "here")
    gen = plan_training("generator", info("generator", Twin, "1"), "x", {}, {}, split(), tmp_path, 0, "here")
    assert seg.seed == gen.seed and seg.config_id == gen.config_id
    assert seg.key != gen.key


def test_a_suite_keeps_a_generator_fit_and_a_training_side_by_side_and_retrains_on_a_new_version(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(textwrap.dedent(f"""\
        name: t
        output: {tmp_path / 'out'}
        datasets:
          - {{name: blobs, generator: procedural, params: {{n_images: 4, shape: [64, 64]}}, split: {{train: 2, test: 2}}}}
          - name: fitted
            generator: procedural
            fit_on: blobs
            fit: {{rounds: 1, n_simulated: 2}}
            params: {{n_images: 2, shape: [64, 64]}}
        segmenters:
          - {{name: trainable-threshold, train_on: blobs}}
        executor: {{kind: local}}
        """))
    workdirs = []
    for version in ("1.0", "1.1"):
        registry = load_registry(extra=[(testing, "segbench-testing", version)])
        summary = run_suite(load_suite(suite, registry), registry)
        assert summary.ok, summary.failures
        workdirs.append({p.name for p in (tmp_path / "out" / "train" / "blobs").iterdir()})
    assert sorted(w.split("-")[0] for w in workdirs[0]) == ["procedural", "trainable"]  # side by side
    # the testing plugins' version changed: the segmenter retrains; procedural (segbench's own) is kept
    (added,) = workdirs[1] - workdirs[0]
    assert added.startswith("trainable-threshold-")


@pytest.mark.parametrize("dataset, message", [
    (split(n=0), "here: dataset 'lab' has no train split; give it split: {train: N, test: M}, "
                 "or train on another dataset"),
    (split(masks=False), "here: dataset 'lab': 2 of its 2 train images have no mask (first: i0); training "
                         "needs every train image annotated: add the masks or train on another dataset"),
    (split(ndim=3), "here: two-d cannot learn from 3D dataset 'lab': it handles 2D images only"),
])
def test_the_train_split_is_checked_once_with_one_line(tmp_path, dataset, message):
    class TwoD(testing.TrainableThreshold):
        name = "two-d"
        dimensions = (2,)

    with pytest.raises(SegbenchError) as raised:
        plan_training("segmenter", info("segmenter", TwoD, "1"), "x", {}, {}, dataset, tmp_path, 0, "here")
    assert str(raised.value) == message


class FlatBlobs(testing.BlobThreshold):
    """blob-threshold that declares it handles 2D images only."""

    name = "flat-blobs"
    dimensions = (2,)


class FlatPlugin:
    @segbench.hookimpl
    def segbench_register_segmenters(self):
        return [FlatBlobs]


def test_a_2d_only_segmenter_skips_a_3d_dataset_with_one_line_and_the_rest_runs(tmp_path):
    registry = load_registry(extra=[(testing, "segbench-testing", "1.0"), (FlatPlugin(), "flat", "1.0")])
    suite = tmp_path / "suite.yaml"
    suite.write_text(textwrap.dedent(f"""\
        name: t
        output: {tmp_path / 'out'}
        datasets:
          - {{name: flat, generator: procedural, params: {{n_images: 2, shape: [48, 48]}}}}
          - {{name: stack, generator: procedural, params: {{n_images: 3, shape: [8, 32, 32], n_objects: 3}}}}
        segmenters:
          - {{name: flat-blobs, params: {{sigma: [1.0, 2.0]}}}}
          - name: blob-threshold
        executor: {{kind: local}}
        """))
    summary = run_suite(load_suite(suite, registry), registry)
    assert summary.ok and summary.n_cells == 2 * 2 + 2 + 3
    skipped = [w for w in summary.warnings if "cannot run" in w]
    assert skipped == ["flat-blobs: cannot run 3D dataset 'stack': it handles 2D images only; skipped 6 cells"]
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert skipped[0] in record["warnings"] and record["failed"] == 0


def test_a_training_record_is_read_once_per_process_not_per_prediction(tmp_path, monkeypatch):
    registry = load_registry(extra=[(testing, "segbench-testing", "1.0")])
    reads = []
    real = training_module._read_record
    monkeypatch.setattr(training_module, "_read_record", lambda path: reads.append(path) or real(path))
    monkeypatch.setattr(training_module, "_RECORDS", {})
    suite = tmp_path / "suite.yaml"
    suite.write_text(textwrap.dedent(f"""\
        name: t
        output: {tmp_path / 'out'}
        datasets:
          - {{name: blobs, generator: procedural, params: {{n_images: 8, shape: [48, 48]}}, split: {{train: 2, test: 6}}}}
        segmenters:
          - {{name: trainable-threshold, train: {{}}}}
        executor: {{kind: local}}
        """))
    assert run_suite(load_suite(suite, registry), registry).n_done == 6
    # the schedule asks whether it is trained, the training whether it already ran, one prediction reads it
    assert len(reads) == 3


def test_generate_fit_goes_through_the_training_checks(tmp_path, capsys):
    folder = tmp_path / "lab"
    unlabelled = (segbench.Sample(s.name, s.image, None) for s in Procedural(shape=(64, 64), n_objects=4).generate(2, 0))
    write_dataset(folder, unlabelled)
    assert main(["generate", "procedural", "--fit", str(folder), "--print-params"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"segbench generate: --fit {folder}: dataset 'lab': 2 of its 2 train images have no mask "
                   "(first: img0000); training needs every train image annotated: add the masks or train on "
                   "another dataset")


def test_a_segmenter_with_fit_but_no_load_cannot_be_trained_by_a_suite(tmp_path):
    class NoLoad(testing.BlobThreshold):
        name = "no-load"

        def fit(self, train, workdir, seed=0):
            pass

    class Plugin:
        @segbench.hookimpl
        def segbench_register_segmenters(self):
            return [NoLoad]

    registry = load_registry(extra=[(Plugin(), "no-load", "1.0")])
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: t\noutput: {tmp_path / 'out'}\ndatasets:\n  - {{name: b, generator: procedural, "
                     "params: {n_images: 2}, split: {train: 1, test: 1}}\nsegmenters:\n"
                     "  - {name: no-load, train: {}}\n  - name: no-load\n")
    loaded = load_suite(suite, registry)
    (problem,) = loaded.problems
    assert str(problem).endswith(
        "segmenters[0].train: segmenter 'no-load' cannot be trained by a suite: it has fit but no load(workdir) "
        "to restore the model in each worker; add load to the plugin, or remove train:"
    )
    assert np.array_equal([s.label for s in loaded.segmenters], ["no-load"])
