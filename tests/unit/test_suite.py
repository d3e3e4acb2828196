"""Suite loading: schema validation with file:line:key messages, and matrix expansion."""

import textwrap

import pytest

from segbench import testing
from segbench.plugins import load_registry
from segbench.suite import SuiteLoadError, derive_seed, load_suite


@pytest.fixture(scope="module")
def registry():
    return load_registry(extra=[(testing, "segbench-testing", "1.0")])


def write(tmp_path, text, name="suite.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


BASE = """\
name: demo
datasets:
  - name: d1
    generator: procedural
    params: {n_images: 4, shape: [64, 64]}
    split: {train: 2, test: 2}
segmenters:
  - name: blob-threshold
    params:
      sigma: [1.0, 2.0]
      threshold: [0.3, 0.5, 0.7]
"""


def test_valid_suite_expands_constructor_grid_and_postprocess_grid(tmp_path, registry):
    suite = load_suite(write(tmp_path, BASE), registry)
    assert suite.name == "demo" and suite.seed == 0
    assert str(suite.output) == "results/demo"
    (spec,) = suite.segmenters
    # sigma goes to the constructor (2 models), threshold to postprocess (3 variants each)
    assert [c.params for c in spec.configs] == [{"sigma": 1.0}, {"sigma": 2.0}]
    assert all(c.postprocess_grid == ({"threshold": 0.3}, {"threshold": 0.5}, {"threshold": 0.7}) for c in spec.configs)
    assert spec.configs[0].config_id != spec.configs[1].config_id
    assert spec.configs[0].variant_label({"threshold": 0.5}) == "blob-threshold sigma=1.0 threshold=0.5"
    assert suite.metrics.iou_thresholds == (0.5, 0.75, 0.9)
    assert suite.metrics.rank_by == "f1@0.5"
    assert suite.executor.kind == "local"


def test_suite_with_no_runnable_entry_stops_with_every_problem(tmp_path, registry):
    path = write(tmp_path, BASE.replace("threshold: [0.3", "treshold: [0.3"))
    with pytest.raises(SuiteLoadError) as info:
        load_suite(path, registry)
    first, last = info.value.problems
    assert str(first).startswith(f"{path}:11: segmenters[0].params.treshold: unknown parameter for segmenter 'blob-threshold'")
    assert "(did you mean 'threshold'?)" in str(first)
    assert last.message == "nothing left to run after the problems above"


def test_entry_problem_drops_entry_and_keeps_the_rest(tmp_path, registry):
    text = BASE + "  - name: blob-threshold\n    label: second\n    params: {treshold: 0.3}\n"
    suite = load_suite(write(tmp_path, text), registry)
    assert [s.label for s in suite.segmenters] == ["blob-threshold"]
    (problem,) = suite.problems
    assert str(problem).startswith(f"{tmp_path / 'suite.yaml'}:14: segmenters[1].params.treshold: unknown parameter")
    assert "did you mean 'threshold'?" in str(problem)
    assert "accepted: call_log, sigma, threshold, work" in str(problem)


def test_unknown_top_level_key_is_fatal_with_suggestion(tmp_path, registry):
    with pytest.raises(SuiteLoadError) as info:
        load_suite(write(tmp_path, BASE + "segmentors: []\n"), registry)
    (problem,) = info.value.problems
    assert problem.line == 12 and problem.key == "segmentors"
    assert "did you mean 'segmenters'?" in problem.message


def test_unknown_segmenter_lists_installed(tmp_path, registry):
    text = BASE + "  - name: cellpos\n"
    suite = load_suite(write(tmp_path, text), registry)
    (problem,) = suite.problems
    assert problem.key == "segmenters[1].name" and problem.line == 12
    assert "unknown segmenter 'cellpos'" in problem.message
    installed = registry.names("segmenter")
    assert {"blob-threshold", "misbehaving", "otsu-watershed", "trainable-threshold"} <= set(installed)
    assert problem.message.endswith("installed: " + ", ".join(installed))


def test_optional_segmenter_not_installed_is_skipped_quietly(tmp_path, registry):
    suite = load_suite(write(tmp_path, BASE + "  - name: not-installed-here\n    optional: true\n"), registry)
    assert suite.problems == []
    assert suite.skipped == ["segmenter 'not-installed-here' (optional) is not installed; skipped"]


def test_wrong_types_and_values(tmp_path, registry):
    text = BASE + textwrap.dedent("""\
        seed: -1
        metrics: {iou_thresholds: [0.5, 1.5], criterion: dice, rank_by: f1@0.66}
        executor: {kind: cluster, workers: 0}
        """)
    with pytest.raises(SuiteLoadError) as info:
        load_suite(write(tmp_path, text), registry)
    messages = {p.key: p.message for p in info.value.problems}
    assert messages["seed"] == "must be a whole number from 0 to 4294967295, got -1"
    assert messages["metrics.iou_thresholds"] == "must be a list of numbers in (0, 1], got [0.5, 1.5]"
    assert messages["metrics.criterion"] == "must be one of iou, iot, iop, got 'dice'"
    assert messages["metrics.rank_by"].startswith("cannot rank by 'f1@0.66': the results have no scores at 0.66")
    assert messages["executor.kind"].startswith("must be one of local, processes, dask")
    assert messages["executor.workers"] == "must be a positive integer, got 0"


def test_invalid_yaml_reports_line(tmp_path, registry):
    with pytest.raises(SuiteLoadError) as info:
        load_suite(write(tmp_path, "name: x\ndatasets: [\n  - a\n"), registry)
    (problem,) = info.value.problems
    assert "invalid YAML" in problem.message and problem.line is not None


def test_split_larger_than_n_images(tmp_path, registry):
    text = BASE.replace("split: {train: 2, test: 2}", "split: {train: 3, test: 2}") + "  - name: misbehaving\n"
    with pytest.raises(SuiteLoadError) as info:
        load_suite(write(tmp_path, text), registry)
    assert any("train + test = 5 exceeds n_images = 4" in p.message for p in info.value.problems)


def test_train_settings_checked_against_fit_signature(tmp_path, registry):
    text = BASE + "  - name: trainable-threshold\n    train: {margn: 0.1}\n  - name: blob-threshold\n    label: b\n    train: {}\n"
    suite = load_suite(write(tmp_path, text), registry)
    messages = sorted(str(p).split(": ", 1)[1] for p in suite.problems)
    assert messages[0].startswith("segmenters[1].train.margn: unknown training setting for 'trainable-threshold' (did you mean 'margin'?)")
    assert messages[1].startswith("segmenters[2].train: segmenter 'blob-threshold' cannot be trained")


def test_generator_params_checked(tmp_path, registry):
    text = BASE.replace("shape: [64, 64]", "shape: [64, 64], nonsense_param: 3")
    with pytest.raises(SuiteLoadError) as info:
        load_suite(write(tmp_path, text), registry)
    assert any(p.key == "datasets[0].params.nonsense_param" for p in info.value.problems)


def test_rank_by_accepts_any_scored_threshold(tmp_path, registry):
    """rank_by may name the DSB thresholds too (0.50:0.05:0.95 are always scored)."""
    for key, ok in (("f1@0.6", True), ("ap@0.85", True), ("dsb", True), ("f1@0.66", False), ("segg", False)):
        text = BASE + f"metrics: {{rank_by: {key}}}\n"
        if ok:
            assert load_suite(write(tmp_path, text), registry).metrics.rank_by == key
        else:
            with pytest.raises(SuiteLoadError, match="metrics.rank_by: cannot rank by"):
                load_suite(write(tmp_path, text), registry)


def test_derived_seeds_are_stable_and_distinct():
    assert derive_seed(0, "dataset", "a") == derive_seed(0, "dataset", "a")
    assert derive_seed(0, "dataset", "a") != derive_seed(0, "dataset", "b")
    assert derive_seed(0, "dataset", "a") != derive_seed(1, "dataset", "a")
    assert 0 <= derive_seed(7, "x") < 2**31


def test_unknown_key_in_an_entry_drops_that_entry(tmp_path, registry):
    text = BASE + "  - name: misbehaving\n    parms: {mode: raise}\n"
    suite = load_suite(write(tmp_path, text), registry)
    assert [s.name for s in suite.segmenters] == ["blob-threshold"]
    (problem,) = suite.problems
    assert problem.key == "segmenters[1].parms" and "did you mean 'params'?" in problem.message
