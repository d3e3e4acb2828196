"""Renamed plugin parameters (``renamed_params``): a suite that still uses an
old name is refused when it loads, in one line saying what to write instead."""

import textwrap

import numpy as np
import pytest

import segbench
from segbench import kit
from segbench.builtin.procedural import Procedural
from segbench.plugins import load_registry
from segbench.suite import SuiteLoadError, load_suite


class OldNames(segbench.Segmenter):
    """A segmenter whose weights were once called ``pretrained_model`` or ``model``."""

    name = "old-names"
    renamed_params = {"pretrained_model": "weights", "model": "weights"}

    def __init__(self, weights: str | None = None):
        self.weights = weights

    def predict(self, image):
        return np.zeros(image.shape, np.int32)


class OldCheckpoint(Procedural):
    """A generator whose ``checkpoint`` was renamed to ``weights``."""

    name = "old-checkpoint"
    renamed_params = {"checkpoint": "weights"}

    def __init__(self, weights: str | None = None, **params):
        super().__init__(**params)


@pytest.fixture(scope="module")
def registry():
    return load_registry(extra=[(kit.plugin(OldNames, OldCheckpoint), "segbench-renamed-test", "1.0")])


def write(tmp_path, text):
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_an_old_name_stops_its_entry_at_load_in_one_line(tmp_path, registry):
    path = write(tmp_path, """\
        name: renamed
        datasets:
          - name: d
            generator: procedural
            params: {n_images: 2}
        segmenters:
          - name: old-names
            params:
              pretrained_model: my_model
          - name: otsu-watershed
        """)
    suite = load_suite(path, registry)
    assert [s.label for s in suite.segmenters] == ["otsu-watershed"]
    assert [str(p) for p in suite.problems] == [
        f"{path}:9: segmenters[0].params.pretrained_model: renamed to weights; write weights: 'my_model'"
    ]


def test_every_old_name_is_named_and_nothing_else_is_reported(tmp_path, registry):
    path = write(tmp_path, """\
        name: renamed
        datasets:
          - name: d
            generator: old-checkpoint
            params: {n_images: 2, checkpoint: models/gan}
        segmenters:
          - name: old-names
            params: {model: [cyto3, nuclei]}
        """)
    with pytest.raises(SuiteLoadError) as info:
        load_suite(path, registry)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:5: datasets[0].params.checkpoint: renamed to weights; write weights: 'models/gan'",
        f"{path}:8: segmenters[0].params.model: renamed to weights; write weights: ['cyto3', 'nuclei']",
        f"{path}: datasets: nothing left to run after the problems above",
    ]


def test_the_new_name_loads(tmp_path, registry):
    path = write(tmp_path, """\
        name: renamed
        datasets:
          - name: d
            generator: old-checkpoint
            params: {n_images: 2, weights: models/gan}
        segmenters:
          - name: old-names
            params: {weights: my_model}
        """)
    suite = load_suite(path, registry)
    assert suite.problems == []
    assert suite.segmenters[0].configs[0].params == {"weights": "my_model"}
