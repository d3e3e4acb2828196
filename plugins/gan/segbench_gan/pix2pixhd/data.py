"""Training pairs (instance mask, image) from a segbench dataset, and random patches of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import segbench
from segbench.errors import InputError

__all__ = ["Pair", "load_pairs", "random_batch", "center_crop"]


@dataclass(frozen=True)
class Pair:
    """One training example.

    Attributes
    ----------
    name : str
    labels : ndarray
        ``(H, W)`` int64 instance ids.
    image : ndarray
        ``(C, H, W)`` float32 intensities, as stored.
    """

    name: str
    labels: np.ndarray
    image: np.ndarray


def _as_dataset(data: str | Path | segbench.Dataset) -> tuple[segbench.Dataset, list[InputError]]:
    if isinstance(data, segbench.Dataset):
        return data, []
    from segbench.io import open_dataset

    return open_dataset(data)


def load_pairs(data: str | Path | segbench.Dataset, output_nc: int = 1, min_size: int = 1) -> tuple[list[Pair], list[InputError]]:
    """Read every labelled 2D sample of a dataset into memory.

    Parameters
    ----------
    data : str, Path or segbench.Dataset
        A dataset folder (read with :func:`segbench.io.open_dataset`) or a dataset.
    output_nc : int
        Image channels the model produces: 1 for ``(Y, X)`` images, ``C`` for ``(Y, X, C)``.
    min_size : int
        Smallest allowed height and width (the training patch side).

    Returns
    -------
    pairs : list of Pair
    problems : list of InputError
        Files the dataset reader could not pair (they are skipped).

    Raises
    ------
    InputError
        No usable sample, a sample without a mask, of the wrong dimensionality,
        or smaller than ``min_size``.
    """
    dataset, problems = _as_dataset(data)
    where = str(data) if not isinstance(data, segbench.Dataset) else f"dataset {data.name!r}"
    pairs = []
    for sample in dataset:
        if sample.labels is None:
            raise InputError(f"{where}/{sample.name}", "has no mask", "pix2pixHD trains on (mask, image) pairs")
        image = np.asarray(sample.image, dtype=np.float32)
        if image.ndim == 2 and output_nc == 1:
            image = image[None]
        elif image.ndim == 3 and image.shape[-1] == output_nc and output_nc > 1:
            image = np.moveaxis(image, -1, 0)
        else:
            raise InputError(f"{where}/{sample.name}", f"image has shape {sample.image.shape}",
                             "pix2pixHD here trains on 2D images (Y, X), or (Y, X, C) with C = output_nc")
        h, w = image.shape[1:]
        if min(h, w) < min_size:
            raise InputError(f"{where}/{sample.name}", f"image is {h}x{w}, smaller than the {min_size}px patch",
                             f"train with --crop {min(h, w)} or less (a multiple of the model's downsampling)")
        pairs.append(Pair(sample.name, np.asarray(sample.labels, dtype=np.int64), image))
    if not pairs:
        raise InputError(where, "holds no (image, mask) pairs",
                         "give a dataset folder with images/NAME.tif and masks/NAME.tif")
    return pairs, problems


def _augment(labels: np.ndarray, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random flip and 90-degree rotation, the same for mask and image."""
    k = int(rng.integers(4))
    flip = bool(rng.integers(2))
    labels, image = np.rot90(labels, k), np.rot90(image, k, axes=(1, 2))
    if flip:
        labels, image = labels[:, ::-1], image[:, :, ::-1]
    return labels, image


def random_batch(pairs: list[Pair], batch_size: int, crop: int, rng: np.random.Generator,
                 augment: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``batch_size`` random ``crop`` x ``crop`` patches (with replacement).

    Returns
    -------
    labels : ndarray
        ``(B, 1, crop, crop)`` int64.
    images : ndarray
        ``(B, C, crop, crop)`` float32.
    """
    labels, images = [], []
    for index in rng.integers(len(pairs), size=batch_size):
        pair = pairs[int(index)]
        h, w = pair.labels.shape
        y, x = int(rng.integers(h - crop + 1)), int(rng.integers(w - crop + 1))
        lab = pair.labels[y : y + crop, x : x + crop]
        img = pair.image[:, y : y + crop, x : x + crop]
        if augment:
            lab, img = _augment(lab, img, rng)
        labels.append(lab[None])
        images.append(img)
    return np.ascontiguousarray(np.stack(labels)), np.ascontiguousarray(np.stack(images))


def center_crop(pair: Pair, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """The central ``crop`` x ``crop`` patch: ``(1, crop, crop)`` labels, ``(C, crop, crop)`` image."""
    h, w = pair.labels.shape
    y, x = (h - crop) // 2, (w - crop) // 2
    return pair.labels[None, y : y + crop, x : x + crop], pair.image[:, y : y + crop, x : x + crop]
