"""The segmenter: training a tiny model, checkpoints, weights from files and COCO, errors."""

from __future__ import annotations

import json
import urllib.error

import numpy as np
import pytest
import torch

import segbench
from segbench.errors import SegbenchError
from segbench_maskrcnn import MaskRCNNSegmenter
from segbench_maskrcnn.weights import CONFIG_FILE, WEIGHTS_FILE


def test_a_suite_skips_3d_datasets():
    assert MaskRCNNSegmenter.skip(3, {"backbone": "resnet50"}) == "it handles 2D images only"
    assert MaskRCNNSegmenter.skip(2, {}) is None


def test_training_steps_have_finite_losses_and_leave_a_checkpoint(tiny_trained):
    seg, workdir, losses = tiny_trained
    assert [(e, t) for e, t, _ in losses] == [(1, 1)] and np.isfinite(losses[0][2])
    config = json.loads((workdir / CONFIG_FILE).read_text())
    assert config["steps"] == 2 and config["start"] == "scratch" and config["seed"] == 3
    assert all(np.isfinite(v) for v in config["loss_parts"].values())
    assert set(config["loss_parts"]) == {"loss_classifier", "loss_box_reg", "loss_mask",
                                         "loss_objectness", "loss_rpn_box_reg"}
    assert config["architecture"]["backbone"] == "resnet18" and config["train"]["crop_size"] == 64


def test_checkpoint_round_trip_predicts_the_same(tiny_trained, tiny_model, samples):
    seg, workdir, _ = tiny_trained
    image = samples(1, seed=9)[0].image
    loaded = MaskRCNNSegmenter(**tiny_model, device="cpu")
    loaded.load(workdir)
    a, b = seg.predict_raw(image), loaded.predict_raw(image)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    for name, state in (("trained", seg.model.state_dict()), ("loaded", loaded.model.state_dict())):
        assert state.keys() == torch.load(workdir / WEIGHTS_FILE, weights_only=True).keys(), name
    assert loaded.describe()["weights_sha256"] == seg.describe()["weights_sha256"]


def test_a_saved_state_dict_loads_as_weights(tiny_trained, tiny_model, samples, tmp_path):
    seg, workdir, _ = tiny_trained
    path = tmp_path / "mine.pth"
    torch.save(seg.model.state_dict(), path)
    from_file = MaskRCNNSegmenter(**tiny_model, weights=str(path), tile_size=64, device="cpu")
    image = samples(1, seed=9)[0].image
    np.testing.assert_array_equal(from_file.predict_raw(image)["scores"], seg.predict_raw(image)["scores"])
    info = from_file.describe()
    assert info["backbone"] == "resnet18" and info["weights"] == str(path)
    assert len(info["weights_sha256"]) == 64 and info["torchvision"].startswith("0.")
    with pytest.raises(SegbenchError, match="do not fit backbone 'resnet34'"):
        _ = MaskRCNNSegmenter(backbone="resnet34", weights=str(path), device="cpu").model


def test_unreadable_or_missing_weights_are_one_line(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    for path, message in ((junk, "cannot read weights file"), (tmp_path / "nope.pth", "does not exist")):
        with pytest.raises(SegbenchError, match=message) as err:
            _ = MaskRCNNSegmenter(weights=str(path), device="cpu").model
        assert "\n" not in str(err.value)


def test_coco_weights_offline_say_how_to_pass_a_file(monkeypatch):
    import torchvision.models._api as api

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    seg = MaskRCNNSegmenter(backbone="resnet50", weights="DEFAULT", device="cpu")
    with pytest.raises(SegbenchError) as err:
        seg.predict_raw(np.zeros((32, 32), np.uint16))
    message = str(err.value)
    assert "\n" not in message and "weights: PATH" in message
    assert "https://download.pytorch.org/models/maskrcnn_resnet50_fpn_coco" in message
    with pytest.raises(SegbenchError, match="backbone: resnet50"):
        MaskRCNNSegmenter(backbone="resnet18", weights="DEFAULT")


def test_3d_images_are_refused_in_one_line(tiny_trained):
    seg, _, _ = tiny_trained
    with pytest.raises(SegbenchError, match=r"2D \(Y, X\) images only") as err:
        seg.predict_raw(np.zeros((3, 32, 32), np.uint16))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("params, message", [
    (dict(backbone="vgg"), "parameter 'backbone' must be one of 'resnet50', 'resnet34', 'resnet18', 'mobilenet_v3', got 'vgg'"),
    (dict(anchor_sizes=[8, 16]), "anchor_sizes: resnet18 needs 5"),
    (dict(tile_size=16), r"parameter 'tile_size' must be an integer in \[32, inf\), got 16"),
    (dict(proposals=0), "parameter 'proposals' must be an integer"),
    (dict(candidate_nms_threshold=1.5), r"parameter 'candidate_nms_threshold' must be a number in \[0, 1\], got 1.5"),
    (dict(device="gpu0"), "parameter 'device' must be 'auto' or a torch device"),
])
def test_bad_parameters_name_themselves(params, message):
    with pytest.raises(SegbenchError, match=message):
        MaskRCNNSegmenter(**params)


def test_bad_training_settings_and_empty_splits(tmp_path, tiny_model, samples):
    seg = MaskRCNNSegmenter(**tiny_model, device="cpu")
    with pytest.raises(SegbenchError, match="parameter 'learning_rate' must be a number"):
        seg.fit(segbench.Dataset("x", samples(1, seed=0)), tmp_path, learning_rate=0)
    with pytest.raises(SegbenchError, match="^maskrcnn: the train split of 'empty' is empty; give the dataset a split with train images$"):
        seg.fit(segbench.Dataset("empty", []), tmp_path)
    with pytest.raises(SegbenchError, match="holds no trained model"):
        seg.load(tmp_path / "nothing")


def test_postprocess_rejects_out_of_range_thresholds(tiny_trained):
    seg, _, _ = tiny_trained
    raw = {"scores": np.zeros(0, np.float32), "boxes": np.zeros((0, 4), np.float32),
           "windows": np.zeros((0, 4), np.int32), "mask_offsets": np.zeros(1, np.int64),
           "mask_values": np.zeros(0, np.float16), "shape": np.array([8, 8])}
    assert seg.postprocess(raw).shape == (8, 8)
    with pytest.raises(SegbenchError, match="parameter 'score_threshold' must be a number in"):
        seg.postprocess(raw, score_threshold=2)


def test_tiled_and_untiled_agree_when_the_image_fits_one_tile(tiny_trained, tiny_model, samples):
    seg, workdir, _ = tiny_trained  # tile_size 512
    tiled = MaskRCNNSegmenter(**tiny_model, tile_size=64, device="cpu")
    tiled.load(workdir)
    image = samples(1, seed=9)[0].image  # 64 x 64: one tile of either size
    a, b = tiled.predict_raw(image), seg.predict_raw(image)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_predicting_without_weights_or_training_says_what_to_do():
    with pytest.raises(SegbenchError, match="no weights; add a train: block") as err:
        MaskRCNNSegmenter(device="cpu").predict_raw(np.zeros((32, 32), np.uint16))
    assert "\n" not in str(err.value)


def test_the_same_seed_trains_the_same_weights(tiny_trained, samples, tiny_model, tiny_training, tmp_path):
    """Bit-identical weights for the same seed, data, settings and torch thread
    count (the session runs one thread); torch's CPU sums depend on the count."""
    seg, _, _ = tiny_trained
    again = MaskRCNNSegmenter(**tiny_model, device="cpu")
    again.fit(segbench.Dataset("tiny", samples(4, seed=1)), tmp_path, seed=3, **tiny_training)
    assert again.describe()["weights_sha256"] == seg.describe()["weights_sha256"]
