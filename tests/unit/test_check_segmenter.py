"""segbench.testing.check_segmenter: it passes the reference segmenters and
fails each deliberately broken one with one message saying what broke."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

import segbench
from segbench.testing import (
    BlobThreshold,
    FindsNothing,
    Misbehaving,
    TrainableThreshold,
    check_segmenter,
    tiny_dataset,
)


@pytest.mark.parametrize(
    "cls, params, fit, sweep",
    [
        (BlobThreshold, {"sigma": 1.5}, None, {"threshold": [0.2, 0.4, 0.6]}),
        (BlobThreshold, {"threshold": 0.3}, None, None),
        (TrainableThreshold, {"tag": "x"}, {"margin": 0.05}, None),
        (TrainableThreshold, None, {}, None),
        (TrainableThreshold, None, {"margin": 0.0, "seed": 3}, None),
        (FindsNothing, None, {"epochs": 2}, None),
    ],
)
def test_the_reference_segmenters_pass(tmp_path, cls, params, fit, sweep):
    check_segmenter(cls, params, workdir=tmp_path / "work", fit=fit, sweep=sweep)


def test_the_trained_model_is_checked_from_what_fit_left(tmp_path):
    check_segmenter(TrainableThreshold, workdir=tmp_path, fit={"margin": 0.1})
    assert json.loads((tmp_path / "threshold.json").read_text())["seed"] == 0


# --- deliberately broken segmenters -------------------------------------------------


class NegativeLabels(BlobThreshold):
    name = "negative-labels"

    def postprocess(self, raw, threshold: float = 0.5):
        return super().postprocess(raw, threshold) - 1


class NoBackground(BlobThreshold):
    name = "no-background"

    def postprocess(self, raw, threshold: float = 0.5):
        return super().postprocess(raw, threshold) + 1


class ForgetfulLoad(TrainableThreshold):
    """``load`` reads nothing: a restored model thresholds at a fixed value."""

    name = "forgetful-load"

    def load(self, workdir):
        self.threshold = 0.9


class FastPredict(BlobThreshold):
    """``predict`` takes a shortcut that the raw split does not."""

    name = "fast-predict"

    def predict(self, image):
        labels, _ = ndi.label(segbench.normalize(image) > 0.5)
        return labels.astype(np.int32)


class ConsumingPostprocess(BlobThreshold):
    """``postprocess`` changes the raw output in place: the next variant of a sweep sees another input."""

    name = "consuming-postprocess"

    def postprocess(self, raw, threshold: float = 0.5):
        labels = super().postprocess(raw, threshold)
        raw["smooth"] *= 0.5
        return labels


class PathInDescribe(BlobThreshold):
    name = "path-in-describe"

    def describe(self):
        return {"weights": Path("/models/w.pt")}


class ListDescribe(BlobThreshold):
    name = "list-describe"

    def describe(self):
        return ["sigma", self.sigma]


class BadProgress(TrainableThreshold):
    name = "bad-progress"

    def fit(self, train, workdir, progress=None):
        progress(0.5, len(train), 0.1)


class FailingFit(TrainableThreshold):
    name = "failing-fit"

    def fit(self, train, workdir, epochs: int = 1):
        raise RuntimeError("out of memory")


class FitWithoutLoad(TrainableThreshold):
    name = "fit-without-load"
    load = None


class ThreeDOnly(BlobThreshold):
    name = "three-d-only"
    dimensions = (3,)


class StillTakesOldName(BlobThreshold):
    name = "still-takes-old-name"
    renamed_params = {"sigma": "smoothing"}


class RenamedToNothing(BlobThreshold):
    name = "renamed-to-nothing"
    renamed_params = {"blur": "smoothing"}


class NeedsSpacing(BlobThreshold):
    """Takes ``spacing``; refuses to run without the dataset's."""

    name = "needs-spacing"

    def __init__(self, spacing=None, sigma: float = 1.0):
        if spacing != (0.5, 0.5):
            raise ValueError(f"spacing must be (0.5, 0.5), got {spacing!r}")
        super().__init__(sigma=sigma)


@pytest.mark.parametrize(
    "cls, params, options, message",
    [
        (Misbehaving, {"mode": "float"}, {},
         r"misbehaving: the prediction for image 'disc-0' has dtype float32; return an integer label image"),
        (Misbehaving, {"mode": "shape"}, {},
         r"has shape \(3, 3\), the image \(64, 64\); return labels of the image's spatial shape"),
        (Misbehaving, {"mode": "raise"}, {}, r"misbehaving: predict\(image\) raised RuntimeError: deliberate failure"),
        (NegativeLabels, {}, {}, r"negative-labels: .* has negative labels; use 0 for background"),
        (NoBackground, {}, {}, r"no-background: .* labels every pixel \(no 0\)"),
        (ForgetfulLoad, {}, {"fit": {}},
         r"forgetful-load: a new instance restored with load\(workdir\) predicts differently from the instance "
         r"fit trained \(image 'disc-0': \d+ of 4096 pixels differ\); save in workdir everything predict uses"),
        (FastPredict, {}, {},
         r"fast-predict: predict\(image\) differs from postprocess\(predict_raw\(image\)\) \(image 'disc-0': "
         r"\d+ of 4096 pixels differ\)"),
        (ConsumingPostprocess, {}, {"sweep": {"threshold": [0.3, 0.5]}},
         r"consuming-postprocess: postprocess\(raw, \*\*\{'threshold': 0.5\}\) in a sweep differs from the same "
         r"variant predicted alone"),
        (PathInDescribe, {}, {}, r"path-in-describe: describe\(\) is not JSON .*; return plain str"),
        (ListDescribe, {}, {}, r"list-describe: describe\(\) returned list; return a dict"),
        (BadProgress, {}, {"fit": {}}, r"bad-progress: fit called progress\(0.5, 4, 0.1\); call progress\(epoch, total, loss\)"),
        (FailingFit, {}, {"fit": {"epochs": 2}},
         r"failing-fit: fit\(train, workdir, \*\*\{'epochs': 2\}\) raised RuntimeError: out of memory"),
        (NeedsSpacing, {}, {}, r"needs-spacing: the constructor with \{\} raised ValueError"),
        (FitWithoutLoad, {}, {"fit": {}}, r"fit-without-load: it has fit but no load\(workdir\); .* add load"),
        (StillTakesOldName, {}, {},
         r"still-takes-old-name: renamed_params renames 'sigma' to 'smoothing', but the class still takes 'sigma'; "
         r"remove 'sigma' from the signature"),
        (RenamedToNothing, {}, {},
         r"renamed-to-nothing: renamed_params renames 'blur' to 'smoothing', which neither the constructor nor "
         r"postprocess takes"),
        (ThreeDOnly, {}, {}, r"three-d-only skips 2D datasets \(it handles 3D images only\); give check_segmenter a dataset"),
        # mistakes in the check's own arguments, each named
        (BlobThreshold, {"sigmaa": 1}, {},
         r"parameter\(s\) \['sigmaa'\] are taken by neither the constructor .* nor postprocess \(\['threshold'\]\)"),
        (TrainableThreshold, {}, {"fit": {"epochs": 3}}, r"fit\(\) takes no setting\(s\) \['epochs'\]"),
        (TrainableThreshold, {}, {"fit": {"progress": print}}, r"'progress' is passed by segbench itself"),
        (BlobThreshold, {}, {"sweep": {"sigma": [1, 2]}}, r"'sigma' is not a parameter of postprocess \(\['threshold'\]\)"),
        (BlobThreshold, {}, {"sweep": {"threshold": []}}, r"sweep 'threshold' must be a non-empty list"),
        (TrainableThreshold, {}, {"sweep": {"threshold": [1]}, "fit": {}}, r"a sweep needs predict_raw and postprocess"),
        (BlobThreshold, {}, {"fit": {}}, r"fit settings were given but the class has no fit method"),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_each_broken_segmenter_fails_with_what_broke(tmp_path, cls, params, options, message):
    with pytest.raises(AssertionError, match=message):
        check_segmenter(cls, params, workdir=tmp_path / "work", **options)


def test_spacing_is_passed_when_the_constructor_takes_it(tmp_path):
    samples = list(tiny_dataset(n_images=2))
    for sample in samples:
        sample.spacing = (0.5, 0.5)
    dataset = segbench.Dataset("with-spacing", samples, spacing=(0.5, 0.5))
    check_segmenter(NeedsSpacing, {"threshold": 0.4}, workdir=tmp_path, dataset=dataset)


def test_a_workdir_that_is_not_empty_is_refused(tmp_path):
    (tmp_path / "old-weights.pt").write_text("")
    with pytest.raises(AssertionError, match=r"trainable-threshold: workdir .* is not empty"):
        check_segmenter(TrainableThreshold, workdir=tmp_path, fit={})


def test_the_tiny_dataset_is_deterministic_with_exact_separate_discs():
    first, again = list(tiny_dataset(seed=3)), list(tiny_dataset(seed=3))
    assert [s.name for s in first] == ["disc-0", "disc-1", "disc-2", "disc-3"]
    for a, b in zip(first, again):
        assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
        assert a.image.dtype == np.uint16 and a.labels.dtype == np.int32 and a.image.shape == (64, 64)
        ids = np.unique(a.labels[a.labels > 0])
        assert len(ids) >= 1 and list(ids) == list(range(1, len(ids) + 1))
        for i in ids:  # no disc touches another
            grown = ndi.binary_dilation(a.labels == i, iterations=2)
            assert set(np.unique(a.labels[grown])) <= {0, i}
        assert a.image[a.labels > 0].mean() > 3 * a.image[a.labels == 0].mean()
    assert not np.array_equal(first[0].image, list(tiny_dataset(seed=4))[0].image)
    with pytest.raises(ValueError, match="each at least 32 px"):
        tiny_dataset(shape=(16, 64))
