"""Training, reloading and predicting with a tiny CPnet trained from scratch on
procedural images; the network pass checked against CellposeModel.eval, in 2D
and on a ZYX stack."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from cellpose import utils

import segbench
from segbench import kit
from segbench.errors import InputError, SegbenchError
from segbench_cellpose import CellposeSegmenter
from segbench_cellpose.training import MODEL_FILE, WEIGHTS_FILE, training_planes


def test_fit_leaves_weights_and_diameter_that_load_restores(trained, train_2d, test_image):
    segmenter, workdir = trained
    assert sorted(p.name for p in workdir.iterdir()) == [MODEL_FILE, WEIGHTS_FILE]  # nothing else left
    model = json.loads((workdir / MODEL_FILE).read_text())
    assert model["start"] == "scratch" and model["weights"] == WEIGHTS_FILE and model["n_planes"] == 4
    assert model["cellpose"] == "3.1.1.3" and model["final_loss"] > 0
    # the diameter is cellpose's: mean over images of the median 2*sqrt(area/pi)
    expected = np.mean([max(utils.diameters(s.labels)[0], 5.0) for s in train_2d])
    assert model["diameter"] == pytest.approx(expected, rel=1e-12)
    # trained at that diameter, so images are not resized
    assert float(segmenter.model.diam_mean) == pytest.approx(expected, rel=1e-6)
    assert float(segmenter.model.diam_labels) == float(segmenter.model.diam_mean)

    raw = segmenter.predict_raw(test_image)
    assert raw["scaling"] == 1.0
    loaded = CellposeSegmenter(bsize=80)
    loaded.load(workdir)
    as_file = CellposeSegmenter(weights=str(workdir / WEIGHTS_FILE), bsize=80)
    for other in (loaded, as_file):
        again = other.predict_raw(test_image)
        for key in ("dP", "cellprob", "scaling"):
            np.testing.assert_array_equal(again[key], raw[key])
    np.testing.assert_array_equal(loaded.predict(test_image), segmenter.predict(test_image))
    assert loaded.describe() == segmenter.describe()


def test_training_is_seeded_and_reports_each_epoch(trained, train_2d, tiny_training, tmp_path, monkeypatch):
    from cellpose import train

    _, workdir = trained
    epoch_losses, train_seg = [], train.train_seg

    def spy(*args, **kwargs):
        result = train_seg(*args, **kwargs)
        epoch_losses.append(result[1])
        return result

    monkeypatch.setattr(train, "train_seg", spy)
    calls = []
    CellposeSegmenter().fit(train_2d, tmp_path, **tiny_training, progress=lambda *args: calls.append(args))
    # reporting progress does not change the training: same weights as the fixture's, trained without it
    assert kit.weights_sha256(tmp_path / WEIGHTS_FILE) == kit.weights_sha256(workdir / WEIGHTS_FILE)
    (losses,) = epoch_losses
    assert calls == [(1, 2, losses[0]), (2, 2, losses[1])]  # train_seg's own per-epoch losses, exactly
    assert json.loads((tmp_path / MODEL_FILE).read_text())["final_loss"] == losses[1]
    assert train._loss_fn_seg.__name__ == "_loss_fn_seg"  # cellpose's loss is left as it was


def test_load_refuses_missing_or_other_trainings(trained, tmp_path):
    _, workdir = trained
    with pytest.raises(InputError, match=f"^{tmp_path}: no cellpose.json: no cellpose training finished here"):
        CellposeSegmenter().load(tmp_path)
    other = tmp_path / "other"
    shutil.copytree(workdir, other)
    with pytest.raises(SegbenchError, match=f"cellpose: {other} was trained from scratch, but this entry's "
                       "starting weights are builtin:cyto3; delete"):
        CellposeSegmenter(weights="cyto3").load(other)
    (other / WEIGHTS_FILE).unlink()
    with pytest.raises(InputError, match="weights: trained weights missing"):
        CellposeSegmenter().load(other)


def test_raw_pass_is_cellpose_eval(trained, test_image):
    segmenter, workdir = trained
    raw = segmenter.predict_raw(test_image)
    _, flows, _ = segmenter.model.eval(test_image, channels=[0, 0], bsize=80, compute_masks=False)
    np.testing.assert_array_equal(raw["dP"], flows[1])
    np.testing.assert_array_equal(raw["cellprob"], flows[2])
    assert raw["dP"].shape == (2, *test_image.shape) and raw["dP"].dtype == np.float32

    scaled = CellposeSegmenter(weights=str(workdir / WEIGHTS_FILE), diameter=8.0, bsize=80)
    raw = scaled.predict_raw(test_image)
    _, flows, _ = scaled.model.eval(test_image, channels=[0, 0], diameter=8.0, bsize=80, compute_masks=False)
    np.testing.assert_array_equal(raw["dP"], flows[1])
    assert float(raw["scaling"]) == pytest.approx(float(scaled.model.diam_mean) / 8.0)
    assert raw["dP"].shape == (2, *test_image.shape)  # flows come back at the image's size


def test_threshold_sweep_runs_the_network_once(trained, test_image):
    segmenter, _ = trained
    calls = []
    hook = segmenter.model.net.register_forward_hook(lambda *args: calls.append(1))
    try:
        raw = segmenter.predict_raw(test_image)
        assert len(calls) == 1  # the padded 80 x 80 image is one tile
        sweep = {
            (c, f): segmenter.postprocess(raw, cellprob_threshold=c, flow_threshold=f)
            for c in (-2.0, -1.0, 0.0, 1.0)
            for f in (0.4, 0.6, 0.8)
        }
    finally:
        hook.remove()
    assert len(calls) == 1
    assert all(labels.shape == test_image.shape and labels.dtype == np.int32 for labels in sweep.values())


def test_3d_stack_with_anisotropy_from_spacing(trained, small_volume):
    segmenter, workdir = trained
    weights = str(workdir / WEIGHTS_FILE)
    seg3d = CellposeSegmenter(weights=weights, spacing=small_volume.spacing, bsize=80)
    assert seg3d.anisotropy == 2.0  # dz / dx = 1.0 / 0.5
    raw = seg3d.predict_raw(small_volume.image)
    assert raw["dP"].shape == (3, *small_volume.image.shape) and raw["cellprob"].shape == small_volume.image.shape
    _, flows, _ = seg3d.model.eval(
        small_volume.image, channels=[0, 0], z_axis=0, do_3D=True, anisotropy=2.0, bsize=80, compute_masks=False
    )
    np.testing.assert_array_equal(raw["dP"], flows[1])
    np.testing.assert_array_equal(raw["cellprob"], flows[2])
    labels = seg3d.postprocess(raw, cellprob_threshold=-1.0)
    assert labels.shape == small_volume.image.shape and labels.dtype == np.int32

    planes = CellposeSegmenter(weights=weights, do_3D=False, bsize=80)
    raw = planes.predict_raw(small_volume.image)
    assert raw["dP"].shape == (2, *small_volume.image.shape)
    _, flows, _ = planes.model.eval(
        small_volume.image, channels=[0, 0], z_axis=0, stitch_threshold=0.25, bsize=80, compute_masks=False
    )
    np.testing.assert_array_equal(raw["dP"], flows[1])
    assert planes.postprocess(raw, stitch_threshold=0.5).shape == small_volume.image.shape


def test_fine_tuning_and_diameter_only(trained, train_2d, test_image, tmp_path):
    _, workdir = trained
    weights = workdir / WEIGHTS_FILE
    calibrated = CellposeSegmenter(weights=str(weights), bsize=80)
    calibrated.fit(train_2d, tmp_path / "calibrate", epochs=0, min_train_masks=1)
    assert sorted(p.name for p in (tmp_path / "calibrate").iterdir()) == [MODEL_FILE]  # no weights of its own
    model = json.loads((tmp_path / "calibrate" / MODEL_FILE).read_text())
    assert model["weights"] is None and model["start"] == f"file:{kit.weights_sha256(weights)}"
    assert calibrated.describe()["diameter_source"] == "train split"
    assert calibrated.effective_diameter == model["diameter"]
    loaded = CellposeSegmenter(weights=str(weights), bsize=80)
    loaded.load(tmp_path / "calibrate")
    assert loaded.describe() == calibrated.describe()
    np.testing.assert_array_equal(loaded.predict_raw(test_image)["dP"], calibrated.predict_raw(test_image)["dP"])

    tuned = CellposeSegmenter(weights=str(weights), bsize=80)
    tuned.fit(train_2d, tmp_path / "tune", epochs=1, crop_size=32, batch_size=4, min_train_masks=1)
    assert kit.weights_sha256(tmp_path / "tune" / WEIGHTS_FILE) != kit.weights_sha256(weights)
    assert tuned.describe()["training"]["start"] == f"file:{kit.weights_sha256(weights)}"
    assert tuned.describe()["weights_sha256"] == kit.weights_sha256(tmp_path / "tune" / WEIGHTS_FILE)


def test_training_planes_of_a_stack(volume):
    images, labels = training_planes(
        [volume], channels=None, normalize={"normalize": True}, anisotropy=2.0
    )
    z, y, x = volume.image.shape
    assert len(images) == z + y + x
    assert images[0].shape == (2, y, x) and images[z].shape == (2, 2 * z, x)
    assert images[-1].shape == (2, 2 * z, y) and labels[-1].shape == (2 * z, y)
    assert all(im.dtype == np.float32 for im in images)
    assert not images[0][1].any()  # cellpose 3's empty nuclear channel
    # the XY planes carry the stack's labels unchanged
    np.testing.assert_array_equal(np.stack(labels[:z]), volume.labels)


def test_bad_training_inputs_are_named(train_2d, make_samples, tmp_path):
    segmenter = CellposeSegmenter()
    with pytest.raises(SegbenchError, match=r"no training image has at least min_train_masks=100 objects \(most: \d+\)"):
        segmenter.fit(train_2d, tmp_path, epochs=1, min_train_masks=100)
    with pytest.raises(SegbenchError, match="training from scratch needs epochs >= 1"):
        segmenter.fit(train_2d, tmp_path, epochs=0, min_train_masks=1)
    with pytest.raises(SegbenchError, match=r"train.crop_size: must be a multiple of 16"):
        segmenter.fit(train_2d, tmp_path, crop_size=40)
    sample = make_samples(1, seed=9)[0]
    broken = segbench.Dataset("b", [segbench.Sample("x", sample.image, sample.labels[:10])])
    with pytest.raises(SegbenchError, match=r"^cellpose: the train split of 'b': image 'x' has shape \(64, 64\) but its labels \(10, 64\)"):
        segmenter.fit(broken, tmp_path, epochs=1)
    unlabelled = segbench.Dataset("u", [segbench.Sample("y", sample.image, None)])
    with pytest.raises(SegbenchError, match="^cellpose: the train split of 'u': image 'y' has no labels"):
        segmenter.fit(unlabelled, tmp_path, epochs=1)
    with pytest.raises(SegbenchError, match="train split of 'e' is empty"):
        segmenter.fit(segbench.Dataset("e", []), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_describe_is_json_and_names_weights(trained):
    segmenter, workdir = trained
    info = segmenter.describe()
    json.dumps(info)
    assert info["cellpose"].startswith("3.1.1") and info["torch"].startswith("2.")
    assert info["weights_sha256"] == kit.weights_sha256(workdir / WEIGHTS_FILE)
    assert info["training"]["final_loss"] == json.loads((workdir / MODEL_FILE).read_text())["final_loss"]
    assert info["diameter"] == pytest.approx(float(segmenter.model.diam_labels))
    assert info["diameter_source"] == "train split" and info["scaling"] == 1.0
    assert info["training"]["start"] == "scratch" and info["training"]["n_planes"] == 4


@pytest.mark.slow
def test_trained_from_scratch_segments_well_and_matches_eval(make_samples, tmp_path):
    """About three minutes on one core: 40 epochs of 24 crops from 8 images of 128 x 128."""
    from segbench.metrics import match

    samples = make_samples(12, seed=11, shape=(128, 128), n_objects=15, radius=7.0, touching_fraction=0.3)
    segmenter = CellposeSegmenter(bsize=144)
    segmenter.fit(segbench.Dataset("q", samples[:8]), tmp_path, epochs=40, crop_size=96, nimg_per_epoch=24)
    tp = fp = fn = 0
    for sample in samples[8:]:
        labels = segmenter.postprocess(segmenter.predict_raw(sample.image))
        reference = segmenter.model.eval(sample.image, channels=[0, 0], bsize=144)[0]
        np.testing.assert_array_equal(labels, reference)  # eval's own labels are already 1..N here
        row = match(sample.labels, labels)[0]
        tp, fp, fn = tp + row["tp"], fp + row["fp"], fn + row["fn"]
    assert 2 * tp / (2 * tp + fp + fn) > 0.9


def test_pinned_threads_train_the_same_weights_whatever_torch_was_set_to(trained, train_2d, tiny_training, tmp_path):
    """On a CPU the weights depend on torch's thread count (a gradient's sum is
    split across the threads), which segbench sets per worker from the machine's
    cores; ``threads`` pins it for the training, so a worker with another count
    trains the fixture's weights bit for bit."""
    import torch

    _, workdir = trained  # trained on one thread (the module's setting)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        CellposeSegmenter().fit(train_2d, tmp_path, **tiny_training, threads=1)
        assert torch.get_num_threads() == 2  # restored after the training
    finally:
        torch.set_num_threads(before)
    assert kit.weights_sha256(tmp_path / WEIGHTS_FILE) == kit.weights_sha256(workdir / WEIGHTS_FILE)
    assert json.loads((tmp_path / MODEL_FILE).read_text())["threads"] == 1
    assert json.loads((workdir / MODEL_FILE).read_text())["threads"] == 1
