"""Training a tiny StarDist2D into its workdir, reporting progress, and restoring it
with load (or as a model folder)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from segbench import Dataset, Sample
from segbench.errors import InputError, SegbenchError
from segbench.metrics.matching import match
from segbench_stardist import StarDistSegmenter
from segbench_stardist import training
from segbench_stardist.training import TrainSettings, anisotropy_for, collect_training_data, split


def test_fit_leaves_a_stardist_model_folder(trained_2d):
    segmenter, workdir = trained_2d
    assert [p.name for p in workdir.iterdir()] == ["stardist"]
    folder = workdir / "stardist"
    assert {p.name for p in folder.iterdir()} == {
        "config.json", "weights_best.h5", "weights_last.h5", "thresholds.json"
    }
    config = json.loads((folder / "config.json").read_text())
    assert (config["n_dim"], config["n_rays"], config["grid"]) == (2, 16, [2, 2])
    assert config["train_patch_size"] == [64, 64] and config["unet_n_depth"] == 2
    assert config["train_tensorboard"] is False
    assert segmenter.thresholds == json.loads((folder / "thresholds.json").read_text())
    assert segmenter.thresholds != {"prob": 0.5, "nms": 0.4}  # tuned on the validation image


def test_fit_reports_each_epochs_loss(trained_2d_run):
    _, _, calls, history = trained_2d_run
    assert [(epoch, total) for epoch, total, _ in calls] == [(e, 20) for e in range(1, 21)]
    assert [loss for _, _, loss in calls] == [float(v) for v in history]  # Keras' own epoch losses
    assert calls[-1][2] < calls[0][2]  # it learns


def test_trained_model_finds_the_nuclei(trained_2d, data_2d):
    segmenter, _ = trained_2d
    for sample in data_2d[1]:
        labels = segmenter.predict(sample.image)
        assert labels.shape == sample.image.shape and labels.dtype == np.int32
        at_half = segmenter.postprocess(segmenter.predict_raw(sample.image), prob_thresh=0.5)
        assert match(sample.labels, at_half, thresholds=(0.5,))[0]["f1"] >= 0.9


def test_load_restores_the_trained_model_exactly(trained_2d, data_2d):
    segmenter, workdir = trained_2d
    loaded = StarDistSegmenter()
    loaded.load(workdir)
    for sample in data_2d[1]:
        raw, again = segmenter.predict_raw(sample.image), loaded.predict_raw(sample.image)
        for key in raw:
            np.testing.assert_array_equal(again[key], raw[key])
        np.testing.assert_array_equal(loaded.predict(sample.image), segmenter.predict(sample.image))
    assert loaded.thresholds == segmenter.thresholds
    assert loaded.describe() == segmenter.describe()  # source, config, weights hash, thresholds


def test_model_folder_reloads_to_identical_predictions(trained_2d, data_2d):
    segmenter, workdir = trained_2d
    reloaded = StarDistSegmenter(weights=workdir / "stardist")
    image = data_2d[1][0].image
    np.testing.assert_array_equal(reloaded.predict(image), segmenter.predict(image))
    assert reloaded.thresholds == segmenter.thresholds  # from its thresholds.json
    assert reloaded.describe()["weights_sha256"] == segmenter.describe()["weights_sha256"]
    assert reloaded.describe()["source"].startswith("folder:")


def test_training_replaces_an_earlier_model(trained_2d, data_2d, tiny_2d_settings, tmp_path, monkeypatch):
    _, workdir = trained_2d
    copy = tmp_path / "work"
    shutil.copytree(workdir, copy)
    calls = []
    monkeypatch.setattr(training, "_train", lambda data, config, folder, *args: calls.append(folder))
    training.train(data_2d[0], copy, TrainSettings(**tiny_2d_settings), 1.0, 99.8, None)
    assert calls == [copy / "stardist"]
    assert not (copy / "stardist").exists()  # the earlier model was removed before training


def test_load_needs_a_finished_training(tmp_path):
    with pytest.raises(InputError, match=f"^{tmp_path}: no StarDist model \\(stardist/config.json\\): no training finished here"):
        StarDistSegmenter().load(tmp_path)


def test_weights_and_training_fine_tune_those_weights(trained_2d, data_2d, tmp_path):
    _, workdir = trained_2d
    given = StarDistSegmenter(weights=workdir / "stardist")
    before = given.stardist_model.keras_model.get_weights()
    tuned = StarDistSegmenter(weights=workdir / "stardist")
    tuned.fit(data_2d[0], tmp_path, epochs=1, steps_per_epoch=2, optimize_thresholds=False, seed=1)
    after = tuned.stardist_model.keras_model.get_weights()
    assert tuned.stardist_model.config.n_rays == given.stardist_model.config.n_rays == 16  # the weights' rays
    assert [a.shape for a in after] == [b.shape for b in before]
    assert any(not np.array_equal(a, b) for a, b in zip(after, before))  # trained from them, not replaced
    assert tuned.describe()["source"] == f"trained:{(tmp_path / 'stardist').resolve()}"


def test_split_is_seeded_and_keeps_one_of_each():
    names = [f"img{i}" for i in range(16)]
    assert split(names, 0.15, seed=3) == split(names, 0.15, seed=3)
    assert split(names, 0.15, seed=3) != split(names, 0.15, seed=4)
    trn, val = split(names[:2], 0.9, seed=0)
    assert (len(trn), len(val)) == (1, 1)


def test_anisotropy_from_voxel_size_and_from_label_extents():
    labels = np.zeros((8, 32, 32), np.uint16)
    labels[2:6, 4:20, 6:14] = 1  # extents 4 x 16 x 8
    data = training.TrainingData(["a"], [labels.astype(np.float32)], [labels])
    assert anisotropy_for(data, (2.0, 0.5, 0.5)) == (4.0, 1.0, 1.0)
    assert anisotropy_for(data, None) == (4.0, 1.0, 2.0)
    flat = training.TrainingData(["a"], [labels[0].astype(np.float32)], [labels[0]])
    assert anisotropy_for(flat, (0.5, 0.5)) is None


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"epochs": 0}, "train.epochs: expected a positive integer, got 0"),
        ({"n_rays": 2.5}, "train.n_rays: expected a positive integer"),
        ({"grid": [2, 3]}, r"train.grid: values must be powers of 2, got \[2, 3\]"),
        ({"patch_size": [64, -1]}, "train.patch_size: expected a positive integer or a list"),
        ({"augment": "yes"}, "train.augment: expected true or false"),
        ({"validation_fraction": 1.0}, r"train.validation_fraction: expected a number in \(0, 1\)"),
        ({"learning_rate": 0}, "train.learning_rate: expected a positive number"),
        ({"config": {"n_rays": 8}}, "train.config.n_rays: set by train.n_rays"),
        ({"config": {"train_epochs": 8}}, "train.config.train_epochs: set by train.epochs"),
    ],
)
def test_train_settings_are_validated(settings, message):
    with pytest.raises(SegbenchError, match=message):
        TrainSettings(**settings)


def _dataset(*samples):
    return Dataset("d", list(samples))


@pytest.mark.parametrize(
    "samples, message",
    [
        ([Sample("a", np.zeros((64, 64)), np.zeros((64, 64), int))],
         r"^stardist: the train split of 'd' has 1 image\(s\); stardist needs at least 2; give the dataset"),
        (
            [Sample("a", np.zeros((64, 64)), None), Sample("b", np.zeros((64, 64)), np.zeros((64, 64), int))],
            "^stardist: the train split of 'd': image 'a' has no labels",
        ),
        (
            [Sample("a", np.zeros((64, 64, 3)), np.zeros((64, 64), int)), Sample("b", np.zeros((64, 64)), np.zeros((64, 64), int))],
            r"image \(64, 64, 3\) and labels \(64, 64\) must have one shape",
        ),
        (
            [Sample("a", np.zeros((64, 64)), np.zeros((64, 64))), Sample("b", np.zeros((64, 64)), np.zeros((64, 64), int))],
            "labels have dtype float64; expected integers",
        ),
        (
            [Sample("a", np.zeros((64, 64)), np.zeros((64, 64), int)), Sample("b", np.zeros((4, 64, 64)), np.zeros((4, 64, 64), int))],
            "sample 'b' of dataset 'd' is 3D but earlier samples are 2D",
        ),
    ],
)
def test_bad_training_data_is_named(samples, message):
    with pytest.raises(SegbenchError, match=message):
        collect_training_data(_dataset(*samples), 1, 99.8)


def test_images_too_small_for_the_network(tmp_path):
    samples = [Sample(n, np.random.default_rng(0).random((12, 12)), np.ones((12, 12), int)) for n in "ab"]
    with pytest.raises(SegbenchError, match=r"smallest training image \[12, 12\] is smaller than the network's input unit \[16, 16\]"):
        StarDistSegmenter().fit(_dataset(*samples), tmp_path, n_rays=8, epochs=1, steps_per_epoch=1)


def test_patch_larger_than_the_images(tmp_path, data_2d):
    with pytest.raises(SegbenchError, match=r"train.patch_size: \[128, 128\] exceeds the smallest training image \[96, 96\]"):
        StarDistSegmenter().fit(data_2d[0], tmp_path, patch_size=128)


def test_patch_size_must_divide(tmp_path, data_2d):
    with pytest.raises(SegbenchError, match=r"train.patch_size: \[60, 60\] must be divisible by \[8, 8\]"):
        StarDistSegmenter().fit(data_2d[0], tmp_path, patch_size=60, config={"unet_n_depth": 2})


def test_unknown_config_attribute(tmp_path, data_2d):
    with pytest.raises(SegbenchError, match="unknown Config2D attribute.*unet_depth"):
        StarDistSegmenter().fit(data_2d[0], tmp_path, config={"unet_depth": 2})
