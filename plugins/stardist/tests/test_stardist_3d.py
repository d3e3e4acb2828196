"""StarDist3D on a small ZYX volume: anisotropy from the voxel size, NMS equal to StarDist's."""

from __future__ import annotations

import numpy as np

from segbench_stardist import StarDistSegmenter
from segbench_stardist.images import normalize_image


def test_3d_model_takes_anisotropy_from_the_voxel_size(trained_3d):
    segmenter, _ = trained_3d
    config = segmenter.stardist_model.config
    assert type(segmenter.stardist_model).__name__ == "StarDist3D"
    assert tuple(config.anisotropy) == (2.0, 1.0, 1.0)  # z step 1.0 um, pixels 0.5 um
    assert tuple(config.grid) == (1, 2, 2)  # StarDist's rule: no subsampling along the coarse axis
    assert config.n_rays == 16 and tuple(config.rays_json["kwargs"]["anisotropy"]) == (2.0, 1.0, 1.0)
    assert tuple(config.train_patch_size) == (16, 48, 48)


def test_3d_prediction_equals_predict_instances(trained_3d, data_3d):
    segmenter, _ = trained_3d
    volume = data_3d[1][0].image
    raw = segmenter.predict_raw(volume)
    assert raw["prob"].shape == (16, 24, 24) and raw["dist"].shape == (16, 24, 24, 16)
    model = segmenter.stardist_model
    x = normalize_image(volume, "ZYX", 1, 99.8)
    # A model trained for a few steps: take thresholds from its own output away from
    # the border (StarDist ignores candidates within 2 grid cells of it), so there are objects.
    for prob_thresh in np.quantile(raw["prob"][2:-2, 2:-2, 2:-2], [0.99, 0.995]):
        labels = segmenter.postprocess(raw, prob_thresh=prob_thresh, nms_thresh=0.3)
        assert labels.shape == volume.shape and labels.dtype == np.int32 and labels.max() >= 1
        expected, _ = model.predict_instances(x, prob_thresh=prob_thresh, nms_thresh=0.3, sparse=False)
        np.testing.assert_array_equal(labels, expected)


def test_3d_model_reloads_from_its_folder(trained_3d, data_3d):
    segmenter, workdir = trained_3d
    reloaded = StarDistSegmenter(weights=workdir / "stardist")
    volume = data_3d[1][0].image
    raw = reloaded.predict_raw(volume)
    np.testing.assert_array_equal(raw["prob"], segmenter.predict_raw(volume)["prob"])
    assert reloaded.describe()["model_class"] == "StarDist3D"
