"""The segmenters: training steps, checkpoint round trip, local weights, errors,
and every network, variant and dims through fit / load / predict."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from segbench import Dataset
from segbench.builtin.procedural import Procedural
from segbench import kit
from segbench.errors import SegbenchError
from segbench_unet import checkpoint
from segbench_unet.segmenter import U2NetSegmenter, UNetSegmenter, VNetSegmenter


def test_training_records_finite_losses_and_writes_one_checkpoint(trained_unet, tiny_fit):
    params, workdir = trained_unet
    assert sorted(p.name for p in workdir.iterdir()) == ["model.pt"]
    config, state, history = checkpoint.read(workdir / "model.pt")
    assert config["segmenter"] == "unet" and config["arch"]["base_channels"] == 4
    assert len(history["train_loss"]) == tiny_fit["epochs"] == len(history["val_loss"])
    assert all(math.isfinite(v) for v in history["train_loss"] + history["val_loss"])
    assert 1 <= history["best_epoch"] <= tiny_fit["epochs"]
    assert history["patch_shape"] == [32, 32]
    assert history["class_weights"] == [1.0, 1.0, 1.0]


def test_load_restores_the_trained_network_exactly(trained_unet, tiny_data):
    params, workdir = trained_unet
    a, b = UNetSegmenter(**params), UNetSegmenter(**params)
    a.load(workdir)
    b.load(workdir)
    image = tiny_data[1].image
    ra, rb = a.predict_raw(image), b.predict_raw(image)
    assert ra["probabilities"].shape == (3, 48, 48) and ra["probabilities"].dtype == np.float32
    np.testing.assert_allclose(ra["probabilities"].sum(axis=0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(ra["probabilities"], rb["probabilities"])
    labels = a.postprocess(ra)
    assert labels.shape == image.shape and labels.dtype == np.int32
    assert a.describe()["weights_sha256"] == kit.weights_sha256(workdir / "model.pt")


def test_same_seed_same_weights_and_progress_per_epoch(tmp_path, tiny_data, tiny_fit):
    params = dict(depth=1, base_channels=2)
    calls = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        (tmp_path / name).mkdir()
        UNetSegmenter(**params).fit(
            tiny_data[0], tmp_path / name, **{**tiny_fit, "epochs": 2, "seed": seed},
            progress=lambda *args: calls.append(args),
        )
    assert [c[:2] for c in calls] == [(1, 2), (2, 2)] * 3 and all(math.isfinite(c[2]) for c in calls)
    a, b, c = (checkpoint.read(tmp_path / name / "model.pt")[1] for name in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_weights_file_and_fine_tuning(tmp_path, trained_unet, tiny_data, tiny_fit):
    params, workdir = trained_unet
    seg = UNetSegmenter(**params, weights=str(workdir / "model.pt"))
    reference = UNetSegmenter(**params)
    reference.load(workdir)
    image = tiny_data[1].image
    np.testing.assert_array_equal(seg.predict_raw(image)["probabilities"], reference.predict_raw(image)["probabilities"])
    # a bare state dict loads too
    torch.save(seg.net.state_dict(), tmp_path / "state.pt")
    bare = UNetSegmenter(**params, weights=str(tmp_path / "state.pt"))
    np.testing.assert_array_equal(bare.predict_raw(image)["probabilities"], reference.predict_raw(image)["probabilities"])
    # training with weights set starts from them
    tuned = tmp_path / "tuned"
    tuned.mkdir()
    UNetSegmenter(**params, weights=str(workdir / "model.pt")).fit(tiny_data[0], tuned, **{**tiny_fit, "epochs": 1})
    assert kit.weights_sha256(tuned / "model.pt") != kit.weights_sha256(workdir / "model.pt")


def test_mismatched_or_missing_weights_are_one_line_errors(tmp_path, trained_unet, tiny_data):
    params, workdir = trained_unet
    with pytest.raises(SegbenchError, match=r"base_channels.*set the segmenter's parameters to match"):
        UNetSegmenter(depth=2, base_channels=8, weights=str(workdir / "model.pt")).net
    with pytest.raises(SegbenchError, match="weights file not found"):
        UNetSegmenter(weights=str(tmp_path / "nope.pt")).predict_raw(tiny_data[1].image)
    with pytest.raises(SegbenchError, match="no weights; add a train: block"):
        VNetSegmenter().predict_raw(tiny_data[1].image)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SegbenchError, match="not a loadable weights file"):
        UNetSegmenter(weights=str(tmp_path / "junk.pt")).net
    seg = UNetSegmenter(**params)
    seg.load(workdir)
    with pytest.raises(SegbenchError, match="is 3D but the network is 2D; set dims: 3"):
        seg.predict_raw(np.zeros((4, 16, 16)))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: UNetSegmenter(variant="valid"), "parameter 'variant' must be one of 'original', 'padded', got 'valid'"),
        (lambda: UNetSegmenter(variant="original", residual=True), "residual: residual blocks exist in the padded variant only"),
        (lambda: VNetSegmenter(kernel_size=4), "kernel_size: must be odd"),
        (lambda: U2NetSegmenter(size="huge"), "parameter 'size' must be one of 'lite', 'full', got 'huge'"),
        (lambda: U2NetSegmenter(target="distance", head="softmax"), "head: target 'distance' needs head 'sigmoid'"),
        (lambda: UNetSegmenter(dims=4), "parameter 'dims' must be one of 2, 3, got 4"),
        (lambda: UNetSegmenter(device="gpu0"), "parameter 'device' must be 'auto' or a torch device"),
    ],
)
def test_bad_parameters_name_the_parameter(make, message):
    with pytest.raises(SegbenchError, match=re.escape(message)):
        make()


@pytest.mark.parametrize("cls", [UNetSegmenter, VNetSegmenter, U2NetSegmenter])
def test_a_network_built_for_one_dimensionality_skips_the_other(cls):
    assert cls.skip(3, {"dims": 2}) == (
        "its network is 2D (dims: 2); leave dims unset to build one for each dataset's images")
    assert cls.skip(2, {"dims": 3}).startswith("its network is 3D (dims: 3);")
    assert cls.skip(2, {"dims": 2}) is None and cls.skip(3, {"dims": 3}) is None
    assert cls.skip(2, {}) is None and cls.skip(3, {"depth": 2}) is None  # dims taken from the data


def test_bad_training_settings_name_the_setting(tmp_path, tiny_data):
    with pytest.raises(SegbenchError, match="parameter 'loss' must be one of 'ce', 'dice', 'ce_dice', 'focal', got 'mse'"):
        UNetSegmenter(depth=1, base_channels=2).fit(tiny_data[0], tmp_path, loss="mse")
    with pytest.raises(SegbenchError, match="class_weights: need 3 positive weights"):
        UNetSegmenter(depth=1, base_channels=2).fit(tiny_data[0], tmp_path, class_weights=[1.0, 2.0])
    with pytest.raises(SegbenchError, match="^unet: the train split of 'empty' is empty; give the dataset a split with train images$"):
        UNetSegmenter().fit(Dataset("empty", []), tmp_path)


def _tiny_3d():
    gen = Procedural(shape=(8, 32, 32), pixel_size=0.5, z_step=1.0, n_objects=3, radius=6.0)
    samples = list(gen.generate(3, seed=1))
    return Dataset("tiny-3d", samples[:2], spacing=samples[0].spacing), samples[2]


@pytest.mark.parametrize(
    "cls, params, fit",
    [
        (UNetSegmenter, dict(variant="original", depth=2, base_channels=2, tile_size=16), dict(loss="ce")),
        (UNetSegmenter, dict(depth=2, base_channels=2, residual=True, target="distance"), dict(loss="focal")),
        (VNetSegmenter, dict(depth=2, base_channels=2, kernel_size=3), dict(loss="dice")),
        (U2NetSegmenter, dict(head="sigmoid"), dict(loss="ce_dice", batch_size=2)),
    ],
    ids=["unet-original", "unet-residual-distance", "vnet", "u2net"],
)
@pytest.mark.parametrize("dims", [2, 3])
def test_every_network_trains_loads_and_predicts(tmp_path, tiny_data, tiny_fit, cls, params, fit, dims):
    train, test = tiny_data if dims == 2 else _tiny_3d()
    spacing = train.spacing if dims == 3 else None
    settings = {**tiny_fit, "epochs": 1, "steps_per_epoch": 2, "patch_size": 16, **fit}
    cls(dims=dims, spacing=spacing, **params).fit(train, tmp_path, **settings)
    seg = cls(dims=dims, spacing=spacing, **params)
    seg.load(tmp_path)
    raw = seg.predict_raw(test.image)
    assert all(v.shape[-dims:] == test.image.shape and np.isfinite(v).all() for v in raw.values())
    labels = seg.postprocess(raw, prob_threshold=0.5, interior_threshold=0.5, min_size=1)
    assert labels.shape == test.image.shape and labels.dtype == np.int32
