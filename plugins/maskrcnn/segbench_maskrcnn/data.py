"""Images and label images as Mask R-CNN inputs and targets, with augmentation.

Images are normalised as the rest of segbench does (``segbench.normalize``,
percentiles 1 and 99.8, so background ~0 and nuclei ~1) and repeated to three
channels, the input torchvision's backbones are built for.
"""

from __future__ import annotations

import numpy as np
import torch

import segbench
from segbench.errors import SegbenchError

#: Instances with fewer pixels than this inside a training crop are not targets.
MIN_INSTANCE_PIXELS = 4


def check_2d(image: np.ndarray, what: str = "image") -> np.ndarray:
    """``image`` as an array, refused with one line unless it is 2D (``YX``)."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise SegbenchError(
            f"maskrcnn: {what} has shape {image.shape}; Mask R-CNN segments 2D (Y, X) images only, "
            "give 2D images (or a 2D dataset) to this segmenter"
        )
    return image


def normalized(image: np.ndarray) -> np.ndarray:
    """Percentile-normalised float32 copy of a 2D image, ``(Y, X)``."""
    return segbench.normalize(check_2d(image), 1, 99.8).astype(np.float32, copy=False)


def to_input(norm: np.ndarray) -> torch.Tensor:
    """``(3, Y, X)`` float32 tensor from a normalised ``(Y, X)`` image."""
    return torch.from_numpy(np.ascontiguousarray(norm)).expand(3, *norm.shape)


def targets(labels: np.ndarray) -> dict[str, torch.Tensor]:
    """Mask R-CNN targets of one label image.

    Parameters
    ----------
    labels : ndarray of int, shape (Y, X)
        0 = background; instances with fewer than :data:`MIN_INSTANCE_PIXELS`
        pixels are left out.

    Returns
    -------
    dict
        ``boxes`` float32 ``(N, 4)`` ``(x1, y1, x2, y2)`` pixel edges (exclusive
        end), ``labels`` int64 ``(N,)`` all 1, ``masks`` uint8 ``(N, Y, X)``.
    """
    ids, counts = np.unique(labels, return_counts=True)
    keep = (ids != 0) & (counts >= MIN_INSTANCE_PIXELS)
    ids = ids[keep]
    masks = labels[None] == ids[:, None, None]
    boxes = np.zeros((len(ids), 4), np.float32)
    for i, mask in enumerate(masks):
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        boxes[i] = cols[0], rows[0], cols[-1] + 1, rows[-1] + 1
    return {
        "boxes": torch.from_numpy(boxes),
        "labels": torch.ones(len(ids), dtype=torch.int64),
        "masks": torch.from_numpy(masks.astype(np.uint8)),
    }


def augmented_crop(
    norm: np.ndarray, labels: np.ndarray, crop_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random ``crop_size`` square (the whole image where it is smaller), randomly
    flipped and rotated by a multiple of 90 degrees (the 8 symmetries of the square).

    Returns
    -------
    image, labels : ndarray
        Views of at most ``(crop_size, crop_size)``, contiguous copies.
    """
    h, w = norm.shape
    y = int(rng.integers(0, max(h - crop_size, 0) + 1))
    x = int(rng.integers(0, max(w - crop_size, 0) + 1))
    window = (slice(y, y + crop_size), slice(x, x + crop_size))
    image, lab = norm[window], labels[window]
    k = int(rng.integers(4))
    image, lab = np.rot90(image, k), np.rot90(lab, k)
    if rng.integers(2):
        image, lab = image[:, ::-1], lab[:, ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(lab)
