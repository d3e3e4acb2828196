"""Difficulty features on images constructed with known contrast, noise, blur, touching and texture."""

import doctest
import importlib
import json
import math

import numpy as np
import pytest
from scipy import ndimage

from segbench import Sample
from segbench.cli import main
from segbench.difficulty import DIFFICULTY, difficulty_features
from segbench.io import write_dataset
from segbench.realism import FEATURES, realism_report

GAUSS_10_90 = 2 * 1.2816  # 10-90 % rise of a blurred step, in units of the blur SD


def disk_grid(shape=(256, 256), radius=10, spacing=32):
    """Disks of `radius` px on a square grid of `spacing` px (7 x 7 = 49 in 256 x 256)."""
    labels = np.zeros(shape, np.int32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    centres = [(y, x) for y in range(spacing, shape[0] - radius, spacing)
               for x in range(spacing, shape[1] - radius, spacing)]
    for k, (y, x) in enumerate(centres, start=1):
        labels[(yy - y) ** 2 + (xx - x) ** 2 <= radius ** 2] = k
    return labels


def render(labels, inside=100.0, outside=10.0, blur=0.0, noise=2.0, seed=0):
    """Constant `inside`/`outside` intensities (or one per object), Gaussian blur SD `blur`, then
    Gaussian noise SD `noise`."""
    values = np.asarray(inside, dtype=np.float64)
    image = np.where(labels > 0, values[labels - 1] if values.ndim else values, outside)
    if blur:
        image = ndimage.gaussian_filter(image, blur)
    return image + np.random.default_rng(seed).normal(0.0, noise, labels.shape)


def test_snr_and_boundary_contrast_of_sharp_disks():
    f = difficulty_features(render(disk_grid()), disk_grid())
    assert f["snr"] == pytest.approx((100 - 10) / 2, rel=0.05)
    assert f["boundary_contrast"] == pytest.approx(45, rel=0.05)


def test_blur_lowers_boundary_contrast_but_not_snr_much():
    labels = disk_grid()
    sharp, blurred = (difficulty_features(render(labels, blur=b), labels) for b in (0.0, 2.0))
    assert blurred["boundary_contrast"] < 0.5 * sharp["boundary_contrast"]
    assert blurred["snr"] > 0.7 * sharp["snr"]


@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0])
def test_edge_width_of_a_gaussian_blur(sigma):
    labels = disk_grid(radius=12, spacing=36)
    width = difficulty_features(render(labels, blur=sigma), labels)["edge_width"]
    assert width == pytest.approx(GAUSS_10_90 * sigma, rel=0.08)


def test_edge_width_of_an_unblurred_straight_edge_is_the_sampling():
    labels = np.zeros((64, 64), np.int32)
    labels[16:48, 16:48] = 1
    assert difficulty_features(render(labels, noise=0.0), labels)["edge_width"] == pytest.approx(0.8, abs=0.02)


def split_lens(radius=12, half_gap=6, shape=(64, 64)):
    """Two disks of `radius`, centres 2 * `half_gap` apart along x, their union cut by the
    vertical line midway: two objects sharing one straight boundary."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    cy, cx = shape[0] // 2, shape[1] // 2
    union = ((yy - cy) ** 2 + (xx - cx + half_gap) ** 2 <= radius ** 2) | \
            ((yy - cy) ** 2 + (xx - cx - half_gap) ** 2 <= radius ** 2)
    return np.where(union, np.where(xx < cx, 1, 2), 0).astype(np.int32)


def test_touching_disks_share_the_chord():
    labels = split_lens()
    f = difficulty_features(render(labels), labels)
    assert f["touching"] == 1.0
    chord = int((labels[:, 31] == 1).sum())  # rows where the two objects meet across the cut
    assert chord == 2 * math.floor(math.sqrt(12 ** 2 - 5 ** 2)) + 1  # 2 * 10 + 1 rows
    # convex digital objects: crack perimeter = 2 * (height + width) of the bounding box
    perimeter = sum(2 * sum(s.stop - s.start for s in box) for box in ndimage.find_objects(labels))
    assert f["shared_boundary"] == pytest.approx(2 * chord / perimeter)


def test_squares_side_by_side_share_a_quarter_of_their_boundary():
    labels = np.zeros((40, 60), np.int32)
    labels[10:20, 10:20] = 1
    labels[10:20, 20:30] = 7  # ids need not be contiguous
    f = difficulty_features(render(labels), labels)
    assert (f["touching"], f["shared_boundary"]) == (1.0, 0.25)


def test_clumps_of_three_or_more_count_their_objects_and_a_pair_is_no_clump():
    labels = np.zeros((60, 90), np.int32)
    labels[5:15, 5:15], labels[5:15, 15:25], labels[15:25, 15:25] = 1, 2, 3  # a chain of three: 1-2, 2-3
    labels[5:15, 40:50], labels[5:15, 50:60] = 4, 5  # a pair
    labels[40:50, 40:50], labels[50:60, 50:60] = 6, 7  # diagonal contact only: two lone objects
    labels[5:15, 70:80] = 8  # alone
    f = difficulty_features(render(labels), labels)
    assert (f["touching"], f["clumped"]) == (5 / 8, 3 / 8)


def test_diagonal_contact_is_not_touching():
    labels = np.zeros((40, 40), np.int32)
    labels[10:20, 10:20] = 1
    labels[20:30, 20:30] = 2
    f = difficulty_features(render(labels), labels)
    assert (f["touching"], f["shared_boundary"]) == (0.0, 0.0)


def test_isolated_disks_do_not_touch():
    f = difficulty_features(render(disk_grid()), disk_grid())
    assert (f["touching"], f["shared_boundary"]) == (0.0, 0.0)


def test_texture_is_the_nucleus_own_spread_without_the_noise():
    labels = disk_grid()
    checker = np.where((np.indices(labels.shape).sum(axis=0) % 2) == 0, 10.0, -10.0)
    textured = render(labels) + np.where(labels > 0, checker, 0.0)
    assert difficulty_features(textured, labels)["texture"] == pytest.approx(10 / 90, rel=0.1)
    assert difficulty_features(render(labels), labels)["texture"] < 0.02


def test_background_non_uniformity_of_flat_and_ramp_backgrounds():
    labels = disk_grid()
    assert difficulty_features(render(labels), labels)["background_nonuniformity"] < 0.01
    ramp = np.linspace(10.0, 50.0, labels.shape[1])[None, :]  # 40 grey values across the image
    image = render(labels, inside=100.0, outside=0.0) + ramp  # nuclei 100 above the local background
    value = difficulty_features(image, labels)["background_nonuniformity"]
    # a box mean of a linear ramp is the ramp: SD of a uniform spread over 40, over a contrast of 100
    assert value == pytest.approx(40 / math.sqrt(12) / 100, rel=0.08)


def test_brightness_spread_between_nuclei():
    labels = disk_grid()
    inside = np.where(np.arange(labels.max()) % 2 == 0, 60.0, 160.0)  # 50 and 150 above background 10
    f = difficulty_features(render(labels, inside=inside), labels)
    n_dim, n_bright = (labels.max() + 1) // 2, labels.max() // 2
    above = np.array([50.0] * n_dim + [150.0] * n_bright)
    assert f["brightness_spread"] == pytest.approx(above.std() / above.mean(), rel=0.03)
    assert difficulty_features(render(labels), labels)["brightness_spread"] < 0.01


def test_out_of_focus_fraction():
    labels = disk_grid(shape=(96, 160), radius=12, spacing=32)  # 2 rows of 4 disks
    assert labels.max() == 8
    blurry = np.isin(labels, [3, 6])
    image = np.where(blurry, 0.0, ndimage.gaussian_filter(np.where(labels > 0, 90.0, 0.0) * ~blurry, 1.0))
    image = image + ndimage.gaussian_filter(np.where(blurry, 90.0, 0.0), 5.0) + 10.0
    image += np.random.default_rng(0).normal(0.0, 1.0, labels.shape)
    assert difficulty_features(image, labels)["out_of_focus"] == 2 / 8
    assert difficulty_features(render(labels, blur=1.0), labels)["out_of_focus"] == 0.0


def test_undefined_features_are_nan():
    empty = difficulty_features(np.ones((32, 32)), np.zeros((32, 32), int))
    assert set(empty) == set(DIFFICULTY) and all(math.isnan(v) for v in empty.values())
    one = np.zeros((32, 32), int)
    one[8:20, 8:20] = 4
    single = difficulty_features(render(one), one)
    assert math.isnan(single["brightness_spread"]) and math.isnan(single["out_of_focus"])
    assert single["touching"] == 0.0 and single["snr"] > 0
    noiseless = difficulty_features(render(one, noise=0.0), one)
    assert math.isnan(noiseless["snr"]) and math.isnan(noiseless["boundary_contrast"])
    assert noiseless["texture"] == 0.0 and noiseless["background_nonuniformity"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="needs a 2D image and labels of the same shape"):
        difficulty_features(np.zeros((4, 8, 8)), np.zeros((4, 8, 8), int))


def test_realism_compares_difficulty_between_sets_per_image():
    labels, lens = disk_grid(), split_lens(shape=(256, 256))
    isolated = [Sample(f"i{k}", render(labels, seed=k), labels) for k in range(4)]
    touching = [Sample(f"t{k}", render(lens, seed=k), lens) for k in range(3)]
    rows = {r.key: r for r in realism_report(isolated, touching).rows}
    assert list(rows) == list(FEATURES) and set(DIFFICULTY) <= set(rows)
    assert (rows["touching"].distance, rows["touching"].floor) == (1.0, 0.0)
    assert (rows["touching"].real_mean, rows["touching"].fake_mean) == (0.0, 1.0)
    assert rows["snr"].real_mean == pytest.approx(45, rel=0.05)
    assert rows["snr"].floor < 0.1 * rows["snr"].real_mean  # the same construction: halves agree


def test_cli_json_has_the_difficulty_features(tmp_path):
    labels = disk_grid(shape=(96, 96))
    for name, blur in (("real", 0.0), ("fake", 2.0)):
        write_dataset(tmp_path / name, [Sample(f"{name}{k}", render(labels, blur=blur, seed=k).astype(np.float32),
                                               labels) for k in range(2)])
    assert main(["realism", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"),
                 "--json", str(tmp_path / "r.json")]) == 0
    rows = {row["key"]: row for row in json.loads((tmp_path / "r.json").read_text())["features"]}
    assert set(DIFFICULTY) <= set(rows)
    assert rows["edge_width"]["fake_mean"] > rows["edge_width"]["real_mean"] + 3
    assert rows["snr"]["unit"] == "noise SD" and rows["edge_width"]["unit"] == "px"


@pytest.mark.parametrize("module", ["segbench.difficulty", "segbench.realism"])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
