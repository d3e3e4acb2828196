"""Realism numbers on sets with known distributions."""

import json
import math

import numpy as np
import pytest

import segbench
from segbench.errors import InputError
from segbench.io import write_dataset
from segbench_gan.realism import FEATURES, compare, features_of, load_labelled, realism_report


def squares(n_images, side, n_objects=2, fg=300.0, bg=100.0, spacing=12):
    """Images of `n_objects` side x side squares in a row, fg/bg constant intensities."""
    samples = []
    for i in range(n_images):
        labels = np.zeros((32, 64), np.int32)
        for k in range(n_objects):
            labels[4 : 4 + side, 2 + k * spacing : 2 + k * spacing + side] = k + 1
        image = np.where(labels > 0, fg, bg)
        samples.append(segbench.Sample(f"im{i}", image, labels))
    return samples


def test_features_of_known_shapes():
    f = features_of(squares(2, side=4, n_objects=3))
    assert f["area"].tolist() == [16.0] * 6
    assert f["objects_per_image"].tolist() == [3.0, 3.0]
    assert f["nn_distance"].tolist() == [12.0] * 6
    assert f["solidity"].tolist() == [1.0] * 6
    assert f["eccentricity"].tolist() == pytest.approx([0.0] * 6, abs=1e-12)
    assert set(f["foreground_intensity"]) == {300.0} and len(f["foreground_intensity"]) == 96
    assert set(f["background_intensity"]) == {100.0}


def test_identical_sets_are_at_distance_zero():
    s = squares(4, side=5)
    report = realism_report(s, s)
    assert [r.feature for r in report.rows] == list(FEATURES)
    assert all(r.distance == 0.0 and r.floor == 0.0 and r.ratio == 0.0 for r in report.rows)
    assert (report.n_real, report.n_fake) == (4, 4)


def test_distances_equal_the_known_shifts():
    real = squares(4, side=4, fg=300, bg=100)
    fake = squares(3, side=6, n_objects=3, fg=350, bg=90, spacing=14)
    d = {r.feature: r for r in realism_report(real, fake).rows}
    assert d["area"].distance == pytest.approx(36 - 16)
    assert d["objects_per_image"].distance == pytest.approx(1.0)
    assert d["nn_distance"].distance == pytest.approx(2.0)
    assert d["foreground_intensity"].distance == pytest.approx(50.0)
    assert d["background_intensity"].distance == pytest.approx(10.0)
    assert d["area"].floor == 0.0 and d["area"].ratio == math.inf
    assert (d["area"].real_mean, d["area"].fake_mean) == (16.0, 36.0)


def test_floor_compares_the_two_halves_of_the_reference():
    real = squares(2, side=4) + squares(2, side=6)
    real = [real[0], real[2], real[1], real[3]]  # even positions: side 4, odd: side 6
    floor = {r.feature: r.floor for r in realism_report(real, real).rows}
    assert floor["area"] == pytest.approx(20.0)
    assert compare(features_of(real[0::2]), features_of(real[1::2]))["area"] == pytest.approx(20.0)


def test_undefined_features_are_nan_and_json_writes_null(tmp_path):
    empty = [segbench.Sample(f"e{i}", np.zeros((8, 8)), np.zeros((8, 8), int)) for i in range(2)]
    report = realism_report(empty, squares(2, side=3))
    rows = {r.feature: r for r in report.rows}
    assert math.isnan(rows["area"].distance) and math.isnan(rows["area"].ratio)
    assert rows["objects_per_image"].distance == 2.0
    data = json.loads(report.write_json(tmp_path / "r.json").read_text())
    assert data["features"][0] == {"feature": "area", "unit": "px", "distance": None, "floor": None,
                                   "ratio": None, "real_mean": None, "fake_mean": 9.0}
    assert "| area | px | n/a | n/a | n/a | n/a | 9 |" in report.to_markdown()


def test_pixel_subsampling_is_seeded():
    s = squares(2, side=10)
    a = features_of(s, max_pixels=50, seed=1)["background_intensity"]
    assert len(a) == 50 and np.array_equal(a, features_of(s, max_pixels=50, seed=1)["background_intensity"])


def test_bad_inputs():
    with pytest.raises(ValueError, match="real: need at least 2 reference samples"):
        realism_report(squares(1, 4), squares(2, 4))
    with pytest.raises(ValueError, match="fake: no generated samples"):
        realism_report(squares(2, 4), [])
    with pytest.raises(ValueError, match="realism needs 2D images with masks of the same shape"):
        features_of([segbench.Sample("v", np.zeros((4, 8, 8)), np.zeros((4, 8, 8), int))])


def test_load_labelled_reads_folders_and_refuses_unlabelled_ones(tmp_path):
    write_dataset(tmp_path / "ok", [segbench.Sample(s.name, s.image.astype(np.uint16), s.labels)
                                   for s in squares(2, 4)])
    assert [s.name for s in load_labelled(tmp_path / "ok")] == ["im0", "im1"]
    write_dataset(tmp_path / "nolabels", [segbench.Sample("a", np.zeros((8, 8), np.uint16))])
    with pytest.raises(InputError, match="nolabels: 1 images have no mask \\(first: a\\)"):
        load_labelled(tmp_path / "nolabels")
