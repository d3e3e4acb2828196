"""The `gan` generator: shipped checkpoint, determinism, shape handling, spots, errors."""

import shutil

import numpy as np
import pytest
import torch

import segbench
from segbench.cli import main
from segbench.errors import InputError
from segbench.io import open_dataset
from segbench_gan import stylegan3
from segbench_gan.generator import SHIPPED_CHECKPOINT, GanGenerator

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


def test_shipped_samples_look_like_cells(shipped):
    samples = list(shipped.generate(8, seed=0))
    with_cells = [s for s in samples if s.labels.max() >= 1]
    # the shipped mask model draws about 0.6 cells per 64 px tile (see the README), so some tiles are empty
    assert len(with_cells) >= 2
    for s in samples:
        ids = np.unique(s.labels)
        assert ids.tolist() == list(range(len(ids)))  # sequential, 0 = background
        assert np.median(s.image[s.labels == 0]) < 30  # the dark background of the DSB 2018 training images
    for s in with_cells:
        fg, bg = s.image[s.labels > 0], s.image[s.labels == 0]
        assert np.median(fg) > np.median(bg) + 10  # cells are brighter than the background


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
    gen = GanGenerator(checkpoint=folder, shape=[40, 24], truncation_psi=0.7, device="cpu")
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
    gen = GanGenerator(checkpoint=folder, shape=[32, 32], shape_mode="resample", device="cpu")
    sample = next(gen.generate(1, seed=2))
    assert masks.calls[-1][0] == 1
    tile = masks.sample(1, masks.calls[-1][1])[0]
    assert np.array_equal(sample.labels > 0, np.kron(tile > 0, np.ones((2, 2), bool)))
    assert np.bincount(sample.labels.ravel())[1:].tolist() == [64, 64]


def test_spots_brighten_cells_and_keep_the_labels(square_checkpoint):
    folder, _ = square_checkpoint
    plain = next(GanGenerator(checkpoint=folder, shape=[32, 32], device="cpu").generate(1, seed=3))
    spotted = next(GanGenerator(checkpoint=folder, shape=[32, 32], spot_clouds=2, spots_per_cloud=3,
                                spot_sigma=0.7, spot_amplitude=2.0, device="cpu").generate(1, seed=3))
    assert np.array_equal(plain.labels, spotted.labels)
    diff = spotted.image.astype(int) - plain.image.astype(int)
    assert (diff >= 0).all() and diff.max() > 0
    assert (spotted.labels[diff == diff.max()] > 0).all()  # the brightest added light is on a cell


def test_bad_parameters_are_named(square_checkpoint, tmp_path):
    folder, _ = square_checkpoint
    with pytest.raises(ValueError, match="shape: the gan generator makes 2D images, give \\[Y, X\\]"):
        GanGenerator(checkpoint=folder, shape=[4, 32, 32])
    with pytest.raises(ValueError, match="shape_mode: must be one of"):
        GanGenerator(checkpoint=folder, shape_mode="stretch")
    with pytest.raises(ValueError, match="spot_covariance: the 2x2 matrix must be positive definite"):
        GanGenerator(checkpoint=folder, spot_covariance=[[1, 2], [2, 1]])
    with pytest.raises(InputError, match="has no masks/ folder; give a checkpoint folder"):
        GanGenerator(checkpoint=tmp_path / "nothing")


def test_sample_is_a_segbench_sample(square_checkpoint):
    folder, _ = square_checkpoint
    sample = next(GanGenerator(checkpoint=folder, device="cpu").generate(1, seed=0))
    assert isinstance(sample, segbench.Sample) and sample.image.shape == (16, 16)
    assert list(GanGenerator(checkpoint=folder, device="cpu").generate(0, seed=0)) == []
