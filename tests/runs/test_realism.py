"""Realism numbers on sets with known distributions, and ``segbench realism``."""

import json
import math

import numpy as np
import pytest

from segbench import Sample
from segbench.cli import main
from segbench.errors import InputError
from segbench.io import write_dataset
from segbench.realism import FEATURES, compare, features_of, load_labelled, realism_report


def squares(n_images, side, n_objects=2, fg=300.0, bg=100.0, spacing=12, shape=(32, 64)):
    """Images of `n_objects` side x side squares in a row, fg/bg constant intensities."""
    samples = []
    for i in range(n_images):
        labels = np.zeros(shape, np.int32)
        for k in range(n_objects):
            labels[4 : 4 + side, 2 + k * spacing : 2 + k * spacing + side] = k + 1
        image = np.where(labels > 0, fg, bg)
        samples.append(Sample(f"im{i}", image, labels))
    return samples


def test_features_of_known_shapes():
    f = features_of(squares(2, side=4, n_objects=3)).values
    assert f["area"].tolist() == [16.0] * 6
    assert f["density"].tolist() == pytest.approx([1e4 * 3 / (32 * 64)] * 2)
    assert f["nn_distance"].tolist() == [12.0] * 6
    assert f["solidity"].tolist() == [1.0] * 6
    assert f["eccentricity"].tolist() == pytest.approx([0.0] * 6, abs=1e-12)
    assert set(f["foreground_intensity"]) == {300.0} and len(f["foreground_intensity"]) == 96
    assert set(f["background_intensity"]) == {100.0}


def test_identical_sets_are_at_distance_zero():
    s = squares(4, side=5)
    report = realism_report(s, s)
    assert [r.key for r in report.rows] == list(FEATURES)
    # noiseless images have no signal-to-noise ratio; 5-px squares eroded by 2 px leave no texture
    undefined = {"snr", "boundary_contrast", "texture"}
    assert all(r.distance == 0.0 and r.floor == 0.0 and r.ratio == 0.0 for r in report.rows if r.key not in undefined)
    assert all(math.isnan(r.distance) for r in report.rows if r.key in undefined)
    assert (report.n_real, report.n_fake) == (4, 4)


def test_distances_equal_the_known_shifts():
    real = squares(4, side=4, fg=300, bg=100)
    fake = squares(3, side=6, n_objects=3, fg=350, bg=90, spacing=14)
    d = {r.key: r for r in realism_report(real, fake).rows}
    assert d["area"].distance == pytest.approx(36 - 16)
    assert d["density"].distance == pytest.approx(1e4 / (32 * 64))
    assert d["nn_distance"].distance == pytest.approx(2.0)
    assert d["foreground_intensity"].distance == pytest.approx(50.0)
    assert d["background_intensity"].distance == pytest.approx(10.0)
    assert d["area"].floor == 0.0 and d["area"].ratio == math.inf
    assert (d["area"].real_mean, d["area"].fake_mean) == (16.0, 36.0)


def test_images_of_different_sizes_compare_by_density_and_per_image_weights():
    """The same objects at the same density in images 4x the size: nothing differs;
    a big image does not outweigh a small one in the intensities."""
    small = squares(4, side=4, n_objects=2, shape=(32, 64))
    big = [Sample(f"b{i}", np.tile(s.image, (2, 2)), _tile_labels(s.labels)) for i, s in enumerate(small)]
    d = {r.key: r.distance for r in realism_report(small, big).rows}
    assert d["density"] == 0.0 and d["area"] == 0.0 and d["foreground_intensity"] == 0.0
    # one dim small image and one bright big one: each is half of the intensity distribution
    dim = squares(1, side=4, fg=100.0)[0]
    bright = squares(1, side=4, fg=300.0, shape=(128, 256))[0]
    fg = features_of([dim, bright])
    values, weights = fg.values["foreground_intensity"], fg.weights["foreground_intensity"]
    assert weights[values == 100.0].sum() == pytest.approx(weights[values == 300.0].sum())


def _tile_labels(labels):
    tiles = [labels + k * labels.max() * (labels > 0) for k in range(4)]
    return np.block([[tiles[0], tiles[1]], [tiles[2], tiles[3]]])


def test_floor_compares_the_two_halves_of_the_reference():
    real = squares(2, side=4) + squares(2, side=6)
    real = [real[0], real[2], real[1], real[3]]  # even positions: side 4, odd: side 6
    floor = {r.key: r.floor for r in realism_report(real, real).rows}
    assert floor["area"] == pytest.approx(20.0)
    assert compare(features_of(real[0::2]), features_of(real[1::2]))["area"] == pytest.approx(20.0)


def test_undefined_features_are_nan_and_json_writes_null(tmp_path):
    empty = [Sample(f"e{i}", np.zeros((8, 8)), np.zeros((8, 8), int)) for i in range(2)]
    report = realism_report(empty, squares(2, side=3))
    rows = {r.key: r for r in report.rows}
    assert math.isnan(rows["area"].distance) and math.isnan(rows["area"].ratio)
    assert rows["density"].distance == pytest.approx(1e4 * 2 / (32 * 64))
    data = json.loads(report.write_json(tmp_path / "r.json").read_text())
    assert data["features"][0] == {"name": "object area (px)", "distance": None, "floor": None,
                                   "ratio": None, "key": "area", "unit": "px", "real_mean": None,
                                   "fake_mean": 9.0}
    assert "| object area (px) | n/a | n/a | n/a | n/a | 9 |" in report.to_markdown()


def test_pixel_draws_are_seeded_and_spread_over_images():
    s = squares(2, side=10)
    a = features_of(s, max_pixels=50, seed=1).values["background_intensity"]
    assert len(a) == 50 and np.array_equal(a, features_of(s, max_pixels=50, seed=1).values["background_intensity"])


def test_bad_inputs():
    with pytest.raises(ValueError, match="real: need at least 2 reference samples"):
        realism_report(squares(1, 4), squares(2, 4))
    with pytest.raises(ValueError, match="fake: no generated samples"):
        realism_report(squares(2, 4), [])
    with pytest.raises(ValueError, match="realism needs 2D images with masks of the same shape"):
        features_of([Sample("v", np.zeros((4, 8, 8)), np.zeros((4, 8, 8), int))])


def test_load_labelled_reads_folders_and_refuses_unlabelled_ones(tmp_path):
    write_dataset(tmp_path / "ok", [Sample(s.name, s.image.astype(np.uint16), s.labels) for s in squares(2, 4)])
    assert [s.name for s in load_labelled(tmp_path / "ok")] == ["im0", "im1"]
    write_dataset(tmp_path / "nolabels", [Sample("a", np.zeros((8, 8), np.uint16))])
    with pytest.raises(InputError, match="nolabels: 1 images have no mask \\(first: a\\)"):
        load_labelled(tmp_path / "nolabels")


@pytest.fixture
def folders(tmp_path):
    real, fake = tmp_path / "real", tmp_path / "fake"
    write_dataset(real, [Sample(s.name, s.image.astype(np.uint16), s.labels) for s in squares(4, side=4)])
    write_dataset(fake, [Sample(s.name, s.image.astype(np.uint16), s.labels)
                         for s in squares(3, side=6, fg=350, shape=(64, 64))])
    return real, fake


def test_cli_prints_the_table_and_writes_the_json_shape(folders, tmp_path, capsys):
    real, fake = folders
    assert main(["realism", "--real", str(real), "--fake", str(fake), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "3 generated vs 4 reference images" in out
    for display, _ in FEATURES.values():
        assert f"| {display} |" in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert (data["n_real"], data["n_fake"]) == (4, 3)
    assert [row["name"] for row in data["features"]] == [d for d, _ in FEATURES.values()]
    for row in data["features"]:
        assert {"name", "distance", "floor", "ratio"} <= set(row)
        assert all(isinstance(row[k], float) or row[k] is None for k in ("distance", "floor", "ratio"))
    area = data["features"][0]
    assert area["distance"] == pytest.approx(20.0) and area["floor"] == 0.0 and area["ratio"] is None


def test_cli_reports_a_missing_folder_in_one_line(tmp_path, capsys):
    assert main(["realism", "--real", str(tmp_path / "nope"), "--fake", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("segbench realism: ") and "nope" in err and len(err.splitlines()) == 1
