"""Which generated objects count: stacking mask tiles, dropping specks.

Plain functions on label images (``(Y, X)`` int, 0 = background) used by the
``gan`` generator between the mask model and the finished sample:

- :func:`stack_layers` composites several mask tiles into one, so that a
  mask model that draws too few nuclei per tile still fills a field at the
  density of real images (:func:`layers_for_density` finds how many);
- :func:`drop_small` removes objects below a minimum area (before rendering,
  so the image never shows them);
- :func:`drop_faint` removes objects whose rendered intensity does not rise
  above their local background by a margin (after rendering: a label with no
  signal under it is not an object a segmenter could find).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import relabel_sequential

__all__ = ["stack_layers", "layers_for_density", "drop_small", "drop_faint", "object_contrast", "background_noise"]

_SQUARE = np.ones((3, 3), bool)


def _relabelled(labels: np.ndarray) -> np.ndarray:
    return relabel_sequential(np.asarray(labels, dtype=np.int64))[0].astype(np.int32)


def stack_layers(layers: Sequence[np.ndarray]) -> np.ndarray:
    """Composite label tiles: each layer adds the objects that keep clear of those placed.

    Layers are placed in order; an object of a later layer is kept whole when
    none of its pixels lies on, or 8-adjacent to, an object already placed
    (the 1 px background gap the mask model learned between touching
    nuclei), and dropped whole otherwise.

    Parameters
    ----------
    layers : sequence of ndarray
        Label images of one shape ``(Y, X)``, 0 = background.

    Returns
    -------
    ndarray
        ``(Y, X)`` int32 label image, objects ``1..K``.

    Examples
    --------
    >>> a = np.zeros((5, 7), int); a[1:3, 1:3] = 1
    >>> b = np.zeros((5, 7), int); b[2:4, 2:4] = 1; b[1:3, 5:7] = 2
    >>> stack_layers([a, b])
    array([[0, 0, 0, 0, 0, 0, 0],
           [0, 1, 1, 0, 0, 2, 2],
           [0, 1, 1, 0, 0, 2, 2],
           [0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0]], dtype=int32)
    """
    out = np.zeros(np.shape(layers[0]), dtype=np.int64)
    for layer in layers:
        layer = np.asarray(layer, dtype=np.int64)
        near = ndi.binary_dilation(out > 0, _SQUARE)
        clashing = np.unique(layer[near])
        keep = (layer > 0) & ~np.isin(layer, clashing)
        out[keep] = layer[keep] + out.max()
    return _relabelled(out)


def layers_for_density(tiles: Sequence[np.ndarray], objects_per_tile: float, max_layers: int = 8) -> int:
    """The number of stacked layers whose mean object count per tile is nearest a target.

    Parameters
    ----------
    tiles : sequence of ndarray
        Label tiles drawn by a mask model, ``(R, R)`` each; at least
        ``max_layers`` of them (groups of ``L`` consecutive tiles are stacked
        with :func:`stack_layers`).
    objects_per_tile : float
        Target mean number of objects per ``R x R`` tile (e.g. that of real
        tiles of the training images).
    max_layers : int
        Largest number of layers tried.

    Returns
    -------
    int
        ``L`` in ``1..max_layers`` (the smaller on a tie).

    Examples
    --------
    >>> one = np.zeros((8, 8), int); one[1:3, 1:3] = 1
    >>> other = np.zeros((8, 8), int); other[5:7, 5:7] = 1
    >>> layers_for_density([one, other] * 4, 2.0, max_layers=4)
    2
    """
    def mean_count(layers: int) -> float:
        groups = [tiles[k:k + layers] for k in range(0, len(tiles) - layers + 1, layers)]
        return float(np.mean([stack_layers(group).max() for group in groups]))

    gaps = [abs(mean_count(layers) - objects_per_tile) for layers in range(1, max_layers + 1)]
    return int(np.argmin(gaps)) + 1


def drop_small(labels: np.ndarray, min_area: int) -> np.ndarray:
    """Remove objects of fewer than ``min_area`` pixels; returns int32 labels ``1..K``.

    Examples
    --------
    >>> lab = np.zeros((4, 6), int); lab[0, 0] = 5; lab[1:4, 2:5] = 7
    >>> int(drop_small(lab, 2).max()), int((drop_small(lab, 2) > 0).sum())
    (1, 9)
    """
    labels = np.asarray(labels, dtype=np.int64)
    sizes = np.bincount(labels.ravel())
    small = sizes < min_area
    small[0] = False
    return _relabelled(np.where(small[labels], 0, labels))


def background_noise(image: np.ndarray, labels: np.ndarray) -> float:
    """Robust standard deviation of the background, floored at 1 grey value.

    ``1.4826 * median(|b - median(b)|)`` over the background pixels ``b``
    (``labels == 0``), in the image's grey values; at least 1 (the
    quantisation step of the integer images the generator writes). 1 when
    there is no background.
    """
    background = np.asarray(image, dtype=np.float64)[np.asarray(labels) == 0]
    if background.size == 0:
        return 1.0
    mad = np.median(np.abs(background - np.median(background)))
    return max(1.4826 * float(mad), 1.0)


def object_contrast(image: np.ndarray, labels: np.ndarray, ring: int = 4) -> dict[int, float]:
    """Mean intensity of each object minus the median of its local background.

    The local background of an object is the ring of pixels within ``ring``
    px (8-connected dilation) around it that belong to no object; an object
    without such pixels gets the median of the whole background (0 when the
    image has none).

    Parameters
    ----------
    image : ndarray
        ``(Y, X)`` intensities, any real dtype.
    labels : ndarray
        ``(Y, X)`` int, 0 = background.
    ring : int
        Width of the local background ring, px.

    Returns
    -------
    dict
        Object id -> contrast, in the image's grey values.
    """
    image = np.asarray(image, dtype=np.float64)
    labels = np.asarray(labels)
    background = labels == 0
    fallback = float(np.median(image[background])) if background.any() else 0.0
    contrast = {}
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        padded = tuple(slice(max(s.start - ring, 0), s.stop + ring) for s in box)
        obj = labels[padded] == index
        near = ndi.binary_dilation(obj, _SQUARE, iterations=ring) & background[padded]
        local = float(np.median(image[padded][near])) if near.any() else fallback
        contrast[index] = float(image[padded][obj].mean()) - local
    return contrast


def drop_faint(labels: np.ndarray, image: np.ndarray, min_contrast: float, ring: int = 4) -> np.ndarray:
    """Remove objects whose :func:`object_contrast` is at most ``min_contrast`` background sigmas.

    An object is kept when its mean intensity exceeds the median of its
    local background (``ring`` px around it) by more than ``min_contrast``
    times :func:`background_noise` of the image.

    Parameters
    ----------
    labels : ndarray
        ``(Y, X)`` int, 0 = background.
    image : ndarray
        ``(Y, X)`` intensities rendered for ``labels``.
    min_contrast : float
        Margin in units of the background's robust standard deviation
        (>= 1 grey value); ``-inf`` keeps every object.
    ring : int
        Width of the local background ring, px.

    Returns
    -------
    ndarray
        ``(Y, X)`` int32 labels ``1..K``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    margin = min_contrast * background_noise(image, labels)
    faint = [index for index, value in object_contrast(image, labels, ring).items() if not value > margin]
    return _relabelled(np.where(np.isin(labels, faint), 0, labels))
