"""Training a tiny StarDist2D, caching it in the workdir, reloading it from its folder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from segbench import Dataset, Sample
from segbench.errors import SegbenchError
from segbench.metrics.matching import match
from segbench_stardist import StarDistSegmenter
from segbench_stardist import training
from segbench_stardist.training import TrainSettings, anisotropy_for, collect_training_data, split


def test_fit_leaves_a_stardist_model_folder(trained_2d, data_2d):
    segmenter, workdir = trained_2d
    folder = workdir / "stardist"
    assert {"config.json", "weights_best.h5", "thresholds.json", "segbench_training.json"} <= {
        p.name for p in folder.iterdir()
    }
    config = json.loads((folder / "config.json").read_text())
    assert (config["n_dim"], config["n_rays"], config["grid"]) == (2, 16, [2, 2])
    assert config["train_patch_size"] == [64, 64] and config["unet_n_depth"] == 2
    assert config["train_tensorboard"] is False
    record = json.loads((folder / "segbench_training.json").read_text())
    assert sorted(record["train_images"] + record["validation_images"]) == data_2d[0].names
    assert len(record["validation_images"]) == 1  # 15 % of 6, at least one
    assert record["thresholds"] == json.loads((folder / "thresholds.json").read_text())
    assert segmenter.thresholds == record["thresholds"]


def test_trained_model_finds_the_nuclei(trained_2d, data_2d):
    segmenter, _ = trained_2d
    for sample in data_2d[1]:
        labels = segmenter.predict(sample.image)
        assert labels.shape == sample.image.shape and labels.dtype == np.int32
        at_half = segmenter.postprocess(segmenter.predict_raw(sample.image), prob_thresh=0.5)
        assert match(sample.labels, at_half, thresholds=(0.5,))[0]["f1"] >= 0.9


def test_model_folder_reloads_to_identical_predictions(trained_2d, data_2d):
    segmenter, workdir = trained_2d
    reloaded = StarDistSegmenter(model_dir=workdir / "stardist")
    image = data_2d[1][0].image
    np.testing.assert_array_equal(reloaded.predict(image), segmenter.predict(image))
    assert reloaded.thresholds == segmenter.thresholds  # from its thresholds.json
    assert reloaded.describe()["weights_sha256"] == segmenter.describe()["weights_sha256"]
    assert reloaded.describe()["source"].startswith("model_dir:")


def test_rerun_loads_the_cached_model_without_training(trained_2d, data_2d, tiny_2d_settings, monkeypatch):
    from stardist.models import StarDist2D

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although the workdir holds the model")

    monkeypatch.setattr(StarDist2D, "train", no_training)
    segmenter, workdir = trained_2d
    rerun = StarDistSegmenter()
    rerun.fit(data_2d[0], workdir, **tiny_2d_settings)
    assert rerun.describe()["weights_sha256"] == segmenter.describe()["weights_sha256"]
    image = data_2d[1][1].image
    np.testing.assert_array_equal(rerun.predict(image), segmenter.predict(image))


@pytest.mark.parametrize(
    "change",
    [
        {"settings": {"epochs": 21}},
        {"normalize": {"pmax": 99.0}},
        {"data": "one image altered"},
    ],
    ids=["settings", "normalisation", "data"],
)
def test_changed_inputs_train_afresh(trained_2d, data_2d, tiny_2d_settings, tmp_path, monkeypatch, change):
    _, workdir = trained_2d
    copy = tmp_path / "work"
    shutil.copytree(workdir, copy)
    calls = []
    monkeypatch.setattr(training, "_train", lambda data, folder, *a: calls.append(folder) or ("model", {}))
    samples = list(data_2d[0])
    if "data" in change:
        samples[0] = Sample(samples[0].name, samples[0].image + 1, samples[0].labels, samples[0].spacing)
    settings = {**tiny_2d_settings, **change.get("settings", {})}
    StarDistSegmenter(**change.get("normalize", {})).fit(Dataset("tiny-2d", samples), copy, **settings)
    assert calls == [copy / "stardist"]
    assert not (copy / "stardist").exists()  # the stale model was removed before training


def test_fit_refuses_pretrained_or_folder_weights(trained_2d, data_2d, tmp_path):
    _, workdir = trained_2d
    for params in ({"model": "2D_versatile_fluo"}, {"model_dir": workdir / "stardist"}):
        with pytest.raises(SegbenchError, match="remove model/model_dir"):
            StarDistSegmenter(**params).fit(data_2d[0], tmp_path)


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
        ([Sample("a", np.zeros((64, 64)), np.zeros((64, 64), int))], "has 1 training image"),
        (
            [Sample("a", np.zeros((64, 64)), None), Sample("b", np.zeros((64, 64)), np.zeros((64, 64), int))],
            "sample 'a' of dataset 'd' has no labels",
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
