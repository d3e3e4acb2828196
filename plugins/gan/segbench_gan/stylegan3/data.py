"""Training masks: label images from a segbench dataset, as binary square tiles.

Each label image becomes a binary mask (object = 1). With ``border_gap`` a one-pixel
line of background is drawn where two objects touch, so that the masks the GAN learns
keep touching cells apart. Masks are optionally rescaled (nearest neighbour, to bring
the cells to the pixel size the GAN should draw) and cut into ``resolution`` x
``resolution`` tiles covering the whole image; images smaller than a tile are padded
with background.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import numpy as np
from segbench import Dataset, Sample
from segbench.errors import InputError
from skimage.transform import rescale

__all__ = ["binary_with_gaps", "tile", "mask_tiles"]


def binary_with_gaps(labels: np.ndarray) -> np.ndarray:
    """Foreground of a label image, minus a 1-pixel line between touching objects.

    A pixel is removed when one of its 8 neighbours belongs to another object with a
    smaller id, so the gap is drawn on one side of the shared border only and
    8-connected components of the result are the objects.

    Parameters
    ----------
    labels : ndarray
        ``(Y, X)`` integer label image, 0 = background.

    Returns
    -------
    ndarray
        ``(Y, X)`` bool.

    Examples
    --------
    >>> lab = np.array([[1, 1, 2, 2]])
    >>> binary_with_gaps(lab).astype(int).tolist()
    [[1, 1, 0, 1]]
    """
    labels = np.asarray(labels)
    fg = labels > 0
    padded = np.pad(labels, 1)
    h, w = labels.shape
    border = np.zeros_like(fg)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            neighbour = padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
            border |= (neighbour > 0) & (neighbour < labels)
    return fg & ~border


def _starts(length: int, size: int) -> list[int]:
    """Tile start offsets covering ``[0, length)`` with tiles of ``size``, evenly spread."""
    if length <= size:
        return [0]
    count = math.ceil(length / size)
    return [round(i * (length - size) / (count - 1)) for i in range(count)]


def tile(mask: np.ndarray, size: int) -> np.ndarray:
    """Cut a 2D mask into ``size`` x ``size`` tiles covering it (overlapping where the
    size does not divide the shape), after padding it to at least ``size``.

    Returns
    -------
    ndarray
        ``(n_tiles, size, size)``, the mask's dtype.

    Examples
    --------
    >>> tile(np.ones((5, 3)), 4).shape
    (2, 4, 4)
    """
    pad_y, pad_x = max(size - mask.shape[0], 0), max(size - mask.shape[1], 0)
    mask = np.pad(mask, ((0, pad_y), (0, pad_x)))
    return np.stack(
        [mask[y : y + size, x : x + size] for y in _starts(mask.shape[0], size) for x in _starts(mask.shape[1], size)]
    )


def _samples(data: str | Path | Dataset | Iterable[Sample]) -> tuple[str, Iterable[Sample]]:
    if isinstance(data, (str, Path)):
        from segbench.io import open_dataset

        dataset, problems = open_dataset(data)
        if problems:
            raise problems[0]
        return str(data), dataset
    return getattr(data, "name", "dataset"), data


def mask_tiles(
    data: str | Path | Dataset | Iterable[Sample],
    resolution: int,
    *,
    scale: float = 1.0,
    border_gap: bool = True,
) -> np.ndarray:
    """All training tiles of a dataset.

    Parameters
    ----------
    data : str, Path, Dataset or iterable of Sample
        A dataset folder (read with :func:`segbench.io.open_dataset`) or samples.
    resolution : int
        Tile size in pixels.
    scale : float
        Resampling factor applied to the label images first (> 0; 0.5 halves them).
    border_gap : bool
        Separate touching objects by a background line (:func:`binary_with_gaps`).

    Returns
    -------
    ndarray
        ``(n_tiles, resolution, resolution)`` uint8 of 0 and 1.

    Raises
    ------
    segbench.errors.InputError
        The folder cannot be read, a sample has no labels or is not 2D, or there are
        no samples.
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    where, samples = _samples(data)
    tiles = []
    for sample in samples:
        labels = sample.labels
        if labels is None:
            raise InputError(where, f"sample {sample.name!r} has no mask", "train on a labelled dataset")
        if labels.ndim != 2:
            raise InputError(
                where, f"sample {sample.name!r} has a {labels.ndim}D mask; the mask GAN is 2D",
                "use a 2D dataset (or slices of a 3D one)",
            )
        if scale != 1:
            labels = rescale(labels, scale, order=0, preserve_range=True, anti_aliasing=False).astype(labels.dtype)
        mask = binary_with_gaps(labels) if border_gap else labels > 0
        tiles.append(tile(mask.astype(np.uint8), resolution))
    if not tiles:
        raise InputError(where, "holds no samples", "point at a dataset folder with images/ and masks/")
    return np.concatenate(tiles)
