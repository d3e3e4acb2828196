"""From generated masks to instance labels; from label images to training tiles."""

import numpy as np
import pytest

from segbench_gan.stylegan3 import masks_to_labels
from segbench_gan.stylegan3.data import binary_with_gaps, mask_tiles, tile


def _disk(shape, centre, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < radius**2


def test_two_touching_disks_become_two_objects():
    left, right = _disk((40, 60), (20, 19), 10), _disk((40, 60), (20, 37), 10)
    logits = np.where(left | right, 0.8, -0.9).astype(np.float32)
    labels = masks_to_labels(logits)
    assert labels.dtype == np.int32
    assert sorted(np.unique(labels).tolist()) == [0, 1, 2]
    # Each object is (nearly all of) one disk: the cut runs along the neck.
    for disk in (left, right):
        _, counts = np.unique(labels[disk], return_counts=True)
        assert counts.max() / disk.sum() > 0.95
    assert (labels > 0).sum() == (left | right).sum()
    assert masks_to_labels(logits, split_touching=False).max() == 1


def test_an_ellipse_is_not_split():
    yy, xx = np.mgrid[:40, :60]
    ellipse = ((yy - 20) / 6.0) ** 2 + ((xx - 30) / 22.0) ** 2 < 1
    assert masks_to_labels(ellipse).max() == 1


def test_threshold_bool_input_and_min_size():
    mask = np.zeros((12, 12), np.float32) - 1
    mask[1:4, 1:4] = 0.5  # 9 px
    mask[8, 8] = 0.9  # 1 px
    assert masks_to_labels(mask).max() == 1  # min_size=4 drops the single pixel
    assert masks_to_labels(mask, min_size=1).max() == 2
    assert masks_to_labels(mask, threshold=0.6, min_size=1).max() == 1
    assert masks_to_labels(mask > 0, min_size=1).max() == 2
    assert masks_to_labels(np.full((5, 5), -1.0)).max() == 0


def test_masks_to_labels_validates_input():
    with pytest.raises(ValueError, match=r"mask must be 2D \(Y, X\), got shape \(2, 4, 4\)"):
        masks_to_labels(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="split_depth must be > 0"):
        masks_to_labels(np.zeros((4, 4)), split_depth=0)


def test_binary_with_gaps_separates_touching_objects():
    labels = np.zeros((6, 8), np.uint16)
    labels[1:5, 1:4] = 3
    labels[1:5, 4:7] = 5
    binary = binary_with_gaps(labels)
    assert binary.sum() == 24 - 4  # one column of object 5 removed
    assert not binary[1:5, 4].any() and binary[1:5, 3].all()
    assert masks_to_labels(binary, split_touching=False, min_size=1).max() == 2


def test_tiles_cover_the_image():
    mask = np.arange(5 * 3).reshape(5, 3)
    tiles = tile(mask, 4)
    assert tiles.shape == (2, 4, 4)
    assert tiles[0, :4, :3].tolist() == mask[:4].tolist() and tiles[1, :4, :3].tolist() == mask[1:5].tolist()
    assert (tiles[:, :, 3] == 0).all()  # padding


def test_mask_tiles_from_a_dataset_folder(tmp_path):
    import segbench
    from segbench.errors import InputError
    from segbench.io import write_dataset

    labels = np.zeros((48, 40), np.uint16)
    labels[5:15, 5:15] = 1
    samples = [segbench.Sample(f"s{i}", np.zeros((48, 40), np.uint16), labels) for i in range(2)]
    write_dataset(tmp_path / "data", samples)
    tiles = mask_tiles(tmp_path / "data", 32)
    assert tiles.shape == (8, 32, 32) and tiles.dtype == np.uint8  # 2 images x 2 x 2 tiles
    assert tiles[0].sum() == 100 and set(np.unique(tiles).tolist()) == {0, 1}
    assert mask_tiles(samples, 32, scale=0.5).shape == (2, 32, 32)
    with pytest.raises(InputError, match="has no mask"):
        mask_tiles([segbench.Sample("u", np.zeros((8, 8)))], 32)
    with pytest.raises(InputError, match="has a 3D mask; the mask GAN is 2D"):
        mask_tiles([segbench.Sample("v", np.zeros((2, 8, 8)), np.zeros((2, 8, 8), int))], 32)
