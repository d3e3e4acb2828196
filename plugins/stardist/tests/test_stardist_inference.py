"""predict_raw / postprocess: one network pass per image, results equal to StarDist's own."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from segbench.errors import SegbenchError
from segbench_stardist.images import normalize_image

PROB = [0.3, 0.4, 0.5, 0.6]
NMS = [0.3, 0.4, 0.5]


def _count_network_passes(model, monkeypatch) -> list[int]:
    calls = []
    predict = model.keras_model.predict

    def counting(*args, **kwargs):
        calls.append(1)
        return predict(*args, **kwargs)

    monkeypatch.setattr(model.keras_model, "predict", counting)
    return calls


def test_a_sweep_runs_the_network_once(trained_2d, data_2d, monkeypatch):
    segmenter, _ = trained_2d
    image = data_2d[1][0].image
    calls = _count_network_passes(segmenter.stardist_model, monkeypatch)
    raw = segmenter.predict_raw(image)
    sweep = {(p, n): segmenter.postprocess(raw, prob_thresh=p, nms_thresh=n) for p, n in itertools.product(PROB, NMS)}
    assert len(calls) == 1
    counts = {key: len(np.unique(labels)) - 1 for key, labels in sweep.items()}
    assert min(counts.values()) >= 1 and len(set(counts.values())) > 1  # the thresholds matter


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_postprocess_equals_predict_instances(trained_2d, data_2d, sparse):
    segmenter, _ = trained_2d
    model = segmenter.stardist_model
    image = data_2d[1][1].image
    raw = segmenter.predict_raw(image)
    x = normalize_image(image, "YX", 1, 99.8)
    for p, n in itertools.product(PROB, NMS):
        expected, _ = model.predict_instances(x, prob_thresh=p, nms_thresh=n, sparse=sparse)
        np.testing.assert_array_equal(segmenter.postprocess(raw, prob_thresh=p, nms_thresh=n), expected)


def test_defaults_are_the_model_thresholds(trained_2d, data_2d):
    segmenter, _ = trained_2d
    raw = segmenter.predict_raw(data_2d[1][0].image)
    thresholds = segmenter.thresholds
    np.testing.assert_array_equal(
        segmenter.postprocess(raw),
        segmenter.postprocess(raw, prob_thresh=thresholds["prob"], nms_thresh=thresholds["nms"]),
    )
    np.testing.assert_array_equal(segmenter.predict(data_2d[1][0].image), segmenter.postprocess(raw))


def test_raw_output_survives_an_npz_round_trip(trained_2d, data_2d, tmp_path):
    segmenter, _ = trained_2d
    raw = segmenter.predict_raw(data_2d[1][0].image)
    assert raw["prob"].shape == (48, 48) and raw["dist"].shape == (48, 48, 16)
    assert raw["image_shape"].tolist() == [96, 96] and raw["scale"].tolist() == [1.0, 1.0]
    np.savez(tmp_path / "raw.npz", **raw)
    with np.load(tmp_path / "raw.npz") as loaded:
        np.testing.assert_array_equal(segmenter.postprocess(dict(loaded), prob_thresh=0.4), segmenter.postprocess(raw, prob_thresh=0.4))


@pytest.mark.parametrize("options", [{"scale": 1.5}, {"n_tiles": 2}, {"scale": [0.75, 1.25], "n_tiles": [2, 1]}])
def test_scale_and_tiles_match_stardist(trained_2d, data_2d, options):
    from segbench_stardist import StarDistSegmenter

    _, workdir = trained_2d
    segmenter = StarDistSegmenter(weights=workdir / "stardist", **options)
    model = segmenter.stardist_model
    image = data_2d[1][0].image
    labels = segmenter.predict(image)
    assert labels.shape == image.shape
    scale = options.get("scale")
    n_tiles = options["n_tiles"] if isinstance(options.get("n_tiles"), list) else [options.get("n_tiles", 1)] * 2
    expected, _ = model.predict_instances(
        normalize_image(image, "YX", 1, 99.8), scale=scale, n_tiles=n_tiles, sparse=False
    )
    np.testing.assert_array_equal(labels, expected)
    assert labels.max() >= 1


def test_uint16_float_and_constant_images(trained_2d, data_2d):
    segmenter, _ = trained_2d
    image = data_2d[1][0].image
    np.testing.assert_array_equal(segmenter.predict(image), segmenter.predict(image.astype(np.float64)))
    empty = segmenter.predict(np.full((64, 80), 7, np.uint16))
    assert empty.shape == (64, 80) and empty.max() == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"prob_thresh": 1.5}, r"^parameter 'prob_thresh' must be a number in \[0, 1\], got 1.5$"),
        ({"nms_thresh": -0.1}, r"^parameter 'nms_thresh' must be a number in \[0, 1\], got -0.1$"),
        ({"prob_thresh": True}, r"^parameter 'prob_thresh' must be a number in \[0, 1\], got True$"),
    ],
)
def test_bad_thresholds(trained_2d, data_2d, kwargs, message):
    segmenter, _ = trained_2d
    raw = segmenter.predict_raw(data_2d[1][0].image)
    with pytest.raises(SegbenchError, match=message):
        segmenter.postprocess(raw, **kwargs)


def test_raw_output_of_another_model_is_refused(trained_2d):
    segmenter, _ = trained_2d
    raw = {"prob": np.zeros((8, 8), np.float32), "dist": np.zeros((8, 8, 32), np.float32),
           "image_shape": np.array([16, 16]), "scale": np.ones(2)}
    with pytest.raises(SegbenchError, match="does not come from this 2D model with 16 rays"):
        segmenter.postprocess(raw)
    with pytest.raises(SegbenchError, match=r"raw prediction lacks \['scale'\]"):
        segmenter.postprocess({k: v for k, v in raw.items() if k != "scale"})


def test_image_of_the_wrong_dimension(trained_2d):
    segmenter, _ = trained_2d
    with pytest.raises(SegbenchError, match=r"image of shape \(4, 32, 32\) does not fit a 2D model with 1 input channel"):
        segmenter.predict_raw(np.zeros((4, 32, 32), np.uint16))


def test_describe_is_json_and_complete(trained_2d):
    import json

    segmenter, workdir = trained_2d
    info = json.loads(json.dumps(segmenter.describe()))
    assert set(info["versions"]) == {"stardist", "csbdeep", "tensorflow", "keras"}
    assert info["versions"]["stardist"].startswith("0.9.")
    assert info["source"] == f"trained:{(workdir / 'stardist').resolve()}"
    assert info["model_class"] == "StarDist2D" and info["config"]["n_rays"] == 16
    assert len(info["weights_sha256"]) == 64
    assert info["thresholds"] == segmenter.thresholds
    assert "training" not in info  # the core records the training and its settings
    assert (info["pmin"], info["pmax"]) == (1.0, 99.8)
