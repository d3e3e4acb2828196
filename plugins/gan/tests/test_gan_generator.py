"""The `gan` generator: shipped checkpoint, determinism, shape handling, spots, errors."""

import shutil
import warnings

import numpy as np
import pytest
import torch

import segbench
from segbench.cli import main
from segbench.errors import InputError, SegbenchError
from segbench.io import open_dataset
from segbench_gan import stylegan3
from segbench_gan.generator import MAX_TRIES, SHIPPED_CHECKPOINT, GanGenerator


def test_it_fits_on_2d_images_only():
    assert GanGenerator.skip(3, {}) == "it handles 2D images only"
    assert GanGenerator.skip(2, {}) is None


def test_a_suite_naming_the_old_checkpoint_parameter_is_refused_when_it_loads(tmp_path):
    from segbench.plugins import load_registry
    from segbench.suite import SuiteLoadError, load_suite

    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: renamed\n"
        "datasets: [{name: g, generator: gan, params: {n_images: 2, checkpoint: models/gan/ship}}]\n"
        "segmenters: [{name: otsu-watershed}]\n"
    )
    with pytest.raises(SuiteLoadError) as info:
        load_suite(suite, load_registry())
    assert str(info.value.problems[0]) == (
        f"{suite}:2: datasets[0].params.checkpoint: renamed to weights; write weights: 'models/gan/ship'")

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def shipped():
    return GanGenerator(device="cpu")


def test_shipped_checkpoint_is_deterministic(shipped):
    a = list(shipped.generate(3, seed=5))
    b = list(shipped.generate(3, seed=5))
    assert [s.name for s in a] == ["img0000", "img0001", "img0002"]
    for x, y in zip(a, b):
        assert x.image.dtype == np.uint16 and x.image.shape == (64, 64)
        assert x.labels.dtype == np.int32 and x.labels.shape == (64, 64)
        assert np.array_equal(x.image, y.image) and np.array_equal(x.labels, y.labels)
    assert not np.array_equal(a[0].image, next(shipped.generate(1, seed=6)).image)
    # image i depends on (seed, i) only
    assert np.array_equal(a[1].labels, list(shipped.generate(2, seed=5))[1].labels)


@pytest.fixture(scope="module")
def hundred(shipped):
    """A 100-image run with the defaults (about 0.2 s an image on one CPU thread)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samples = list(shipped.generate(100, seed=0))
    return samples, caught


def test_defaults_never_give_an_empty_field(hundred):
    samples, caught = hundred
    counts = np.array([s.labels.max() for s in samples])
    assert counts.min() >= 1 and not caught
    # 8 stacked mask tiles per 64 px tile: about the 3.6 nuclei of a real 64 px DSB tile
    assert 2.5 < counts.mean() < 4.5
    areas = np.concatenate([np.bincount(s.labels.ravel())[1:] for s in samples])
    assert areas.min() >= 10  # min_area


def test_shipped_samples_look_like_cells(hundred):
    samples, _ = hundred
    for s in samples[:8]:
        ids = np.unique(s.labels)
        assert ids.tolist() == list(range(len(ids)))  # sequential, 0 = background
        assert np.median(s.image[s.labels == 0]) < 30  # the dark background of the DSB 2018 training images
        fg, bg = s.image[s.labels > 0], s.image[s.labels == 0]
        assert np.median(fg) > np.median(bg) + 10  # cells are brighter than the background


def test_the_run_is_reproducible_image_by_image(shipped, hundred):
    samples, _ = hundred
    for i, again in enumerate(shipped.generate(3, seed=0)):
        assert np.array_equal(again.image, samples[i].image) and np.array_equal(again.labels, samples[i].labels)


def test_generate_command_writes_a_gan_dataset(tmp_path, capsys):
    out = tmp_path / "gan"
    assert main(["generate", "gan", "--n", "2", "--out", str(out), "--seed", "1",
                 "--param", "device=cpu", "shape=[48,80]"]) == 0
    dataset, problems = open_dataset(out)
    assert problems == [] and dataset.names == ["img0000", "img0001"]
    assert dataset[0].image.shape == (48, 80) and dataset[0].labels.shape == (48, 80)


class SquareMasks:
    """Test double of the StyleGAN3 mask generator: tile i of seed s holds two squares."""

    resolution = 16

    def __init__(self):
        self.calls = []

    def sample(self, n, seed, truncation_psi=1.0):
        self.calls.append((n, seed, truncation_psi))
        tiles = []
        for i in range(n):
            tile = np.zeros((16, 16), np.int32)
            offset = (seed + i) % 4
            tile[2 + offset : 6 + offset, 2:6] = 3
            tile[10:14, 8 + offset : 12 + offset] = 7
            tiles.append(tile)
        return tiles


@pytest.fixture
def square_checkpoint(tmp_path, monkeypatch):
    """A checkpoint folder with the shipped images/ model and the square-mask double."""
    (tmp_path / "ckpt" / "masks").mkdir(parents=True)
    shutil.copytree(SHIPPED_CHECKPOINT / "images", tmp_path / "ckpt" / "images")
    masks = SquareMasks()
    monkeypatch.setattr(stylegan3, "load_mask_generator", lambda folder, device=None: masks)
    return tmp_path / "ckpt", masks


def test_tile_mode_builds_a_mosaic_with_distinct_objects(square_checkpoint):
    folder, masks = square_checkpoint
    gen = GanGenerator(weights=folder, shape=[40, 24], truncation_psi=0.7, mask_layers=1, device="cpu")
    sample = next(gen.generate(1, seed=0))
    assert sample.labels.shape == sample.image.shape == (40, 24)
    assert masks.calls[0][0] == 6 and masks.calls[0][2] == 0.7  # ceil(40/16) x ceil(24/16) tiles
    # 6 tiles x 2 squares, cropped to 40 x 24: the third column of squares (x 24..) is cut away
    assert sample.labels.max() == len(np.unique(sample.labels)) - 1
    tile = np.asarray(masks.sample(6, masks.calls[0][1])[0])
    assert np.array_equal(sample.labels[:16, :16] > 0, tile > 0)
    assert len(np.unique(sample.labels[:16, :16])) == 3


def test_resample_mode_scales_one_tile(square_checkpoint):
    folder, masks = square_checkpoint
    gen = GanGenerator(weights=folder, shape=[32, 32], shape_mode="resample", mask_layers=1, device="cpu")
    sample = next(gen.generate(1, seed=2))
    assert masks.calls[-1][0] == 1
    tile = masks.sample(1, masks.calls[-1][1])[0]
    assert np.array_equal(sample.labels > 0, np.kron(tile > 0, np.ones((2, 2), bool)))
    assert np.bincount(sample.labels.ravel())[1:].tolist() == [64, 64]


def test_spots_brighten_cells_and_keep_the_labels(square_checkpoint):
    folder, _ = square_checkpoint
    plain = next(GanGenerator(weights=folder, shape=[32, 32], device="cpu").generate(1, seed=3))
    spotted = next(GanGenerator(weights=folder, shape=[32, 32], spot_clouds=2, spots_per_cloud=3,
                                spot_sigma=0.7, spot_amplitude=2.0, device="cpu").generate(1, seed=3))
    assert np.array_equal(plain.labels, spotted.labels)
    diff = spotted.image.astype(int) - plain.image.astype(int)
    assert (diff >= 0).all() and diff.max() > 0
    assert (spotted.labels[diff == diff.max()] > 0).all()  # the brightest added light is on a cell


def test_bad_parameters_are_named(square_checkpoint, tmp_path):
    folder, _ = square_checkpoint
    with pytest.raises(SegbenchError, match="shape: the gan generator makes 2D images, give \\[Y, X\\]"):
        GanGenerator(weights=folder, shape=[4, 32, 32])
    with pytest.raises(SegbenchError, match="shape_mode: must be one of"):
        GanGenerator(weights=folder, shape_mode="stretch")
    with pytest.raises(SegbenchError, match="mask_layers: must be an integer >= 1, got 0"):
        GanGenerator(weights=folder, mask_layers=0)
    with pytest.raises(SegbenchError, match="min_objects: must be an integer >= 0"):
        GanGenerator(weights=folder, min_objects=-1)
    with pytest.raises(SegbenchError, match="min_contrast: must be a number"):
        GanGenerator(weights=folder, min_contrast=float("nan"))
    with pytest.raises(SegbenchError, match="spot_covariance: the 2x2 matrix must be positive definite"):
        GanGenerator(weights=folder, spot_covariance=[[1, 2], [2, 1]])
    with pytest.raises(InputError, match="has no masks/ folder; give a checkpoint folder"):
        GanGenerator(weights=tmp_path / "nothing")


def test_sample_is_a_segbench_sample(square_checkpoint):
    folder, _ = square_checkpoint
    sample = next(GanGenerator(weights=folder, device="cpu").generate(1, seed=0))
    assert isinstance(sample, segbench.Sample) and sample.image.shape == (16, 16)
    assert list(GanGenerator(weights=folder, device="cpu").generate(0, seed=0)) == []


def test_layers_add_the_objects_that_keep_clear(square_checkpoint):
    folder, masks = square_checkpoint
    one = next(GanGenerator(weights=folder, mask_layers=1, device="cpu").generate(1, seed=0))
    two = next(GanGenerator(weights=folder, mask_layers=2, device="cpu").generate(1, seed=0))
    assert masks.calls[-1][0] == 2  # two tiles for one 16 px field
    # the second layer's squares are shifted by one pixel: they touch the first layer's and are dropped
    assert one.labels.max() == two.labels.max() == 2


class SpeckMasks(SquareMasks):
    """The square tiles plus a 2 x 2 px speck (4 px) and a 4 x 4 px square that the stub renders dark."""

    def sample(self, n, seed, truncation_psi=1.0):
        tiles = super().sample(n, seed, truncation_psi)
        for tile in tiles:
            tile[0:2, 14:16] = 9   # speck: below min_area
            tile[12:16, 0:4] = 11  # dark square: no signal in the image
        return tiles


class DarkCornerRenderer:
    """Test double of pix2pixHD: 20 + noise background, 120 on cells, nothing on the bottom-left corner."""

    def render(self, labels, rng):
        image = 20 + rng.normal(0, 2, labels.shape)
        image[(labels > 0)] = 120
        image[12:16, 0:4] = 20
        return image


def test_specks_and_dark_objects_are_not_objects(square_checkpoint, monkeypatch):
    folder, _ = square_checkpoint
    monkeypatch.setattr(stylegan3, "load_mask_generator", lambda folder, device=None: SpeckMasks())
    gen = GanGenerator(weights=folder, mask_layers=1, device="cpu")
    gen.renderer = DarkCornerRenderer()
    sample = next(gen.generate(1, seed=0))
    assert sample.labels.max() == 2  # the two squares
    assert not sample.labels[0:2, 14:16].any() and not sample.labels[12:16, 0:4].any()
    gen = GanGenerator(weights=folder, mask_layers=1, min_area=0, min_contrast=float("-inf"), device="cpu")
    gen.renderer = DarkCornerRenderer()
    assert next(gen.generate(1, seed=0)).labels.max() == 4  # both rules off: all four kept


class SometimesEmptyMasks(SquareMasks):
    """Empty tiles for odd seeds; never objects when ``never`` is set."""

    def __init__(self, never=False):
        super().__init__()
        self.never = never

    def sample(self, n, seed, truncation_psi=1.0):
        tiles = super().sample(n, seed, truncation_psi)
        return [tile * 0 for tile in tiles] if self.never or seed % 2 else tiles


def test_min_objects_redraws_deterministically(square_checkpoint, monkeypatch):
    folder, _ = square_checkpoint
    masks = SometimesEmptyMasks()
    monkeypatch.setattr(stylegan3, "load_mask_generator", lambda folder, device=None: masks)
    gen = GanGenerator(weights=folder, mask_layers=1, device="cpu")
    first = list(gen.generate(12, seed=3))
    assert all(s.labels.max() >= 1 for s in first)
    assert any(seed % 2 for _, seed, _ in masks.calls)  # some latents came out empty and were redrawn
    again = list(gen.generate(12, seed=3))
    assert all(np.array_equal(a.labels, b.labels) and np.array_equal(a.image, b.image) for a, b in zip(first, again))
    assert np.array_equal(next(gen.generate(1, seed=3)).image, first[0].image)


def test_a_checkpoint_that_draws_nothing_warns_once(square_checkpoint, monkeypatch):
    folder, _ = square_checkpoint
    masks = SometimesEmptyMasks(never=True)
    monkeypatch.setattr(stylegan3, "load_mask_generator", lambda folder, device=None: masks)
    gen = GanGenerator(weights=folder, mask_layers=1, min_objects=2, device="cpu")
    with pytest.warns(UserWarning, match="gan: 3 of 3 images have fewer than min_objects=2 objects after 10") as got:
        samples = list(gen.generate(3, seed=0))
    assert len(got) == 1 and len(masks.calls) == 3 * MAX_TRIES
    assert all(s.labels.max() == 0 for s in samples)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        list(GanGenerator(weights=folder, min_objects=0, device="cpu").generate(2, seed=0))
