"""From the network's per-pixel output to instances (2D and 3D).

Seeds are the connected components (face connectivity) of the confident
interior; each grows by watershed over the foreground, downhill from the
interior's peak; a foreground component without a seed becomes one instance
of its own; instances smaller than ``min_size`` pixels are dropped and the
rest numbered 1..N.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import watershed


def seeded_watershed(
    foreground: np.ndarray, interior: np.ndarray, prob_threshold: float, interior_threshold: float, min_size: int
) -> np.ndarray:
    """Instances from a foreground probability and an interior score.

    Parameters
    ----------
    foreground : ndarray of float, shape (Y, X) or (Z, Y, X)
        Probability that a pixel belongs to any nucleus.
    interior : ndarray of float, same shape
        Interior score in [0, 1] (the interior class's probability, or the
        normalised distance to the nucleus edge); the watershed's relief.
    prob_threshold : float
        Foreground where ``foreground > prob_threshold``.
    interior_threshold : float
        Seeds where also ``interior > interior_threshold``.
    min_size : int
        Smallest instance kept, pixels (voxels).

    Returns
    -------
    ndarray of int32
        Label image, 0 = background, instances 1..N.

    Examples
    --------
    >>> fg = np.zeros((6, 9)); fg[1:5, 1:8] = 1.0
    >>> inner = np.zeros((6, 9)); inner[2:4, 2:4] = inner[2:4, 5:7] = 1.0
    >>> seeded_watershed(fg, inner, 0.5, 0.5, 1)[2]
    array([0, 1, 1, 1, 2, 2, 2, 2, 0], dtype=int32)
    """
    mask = foreground > prob_threshold
    seeds, n_seeds = ndi.label(mask & (interior > interior_threshold))
    labels = watershed(-interior, markers=seeds, mask=mask)
    orphans, _ = ndi.label(mask & (labels == 0))
    labels = np.where(orphans > 0, orphans + n_seeds, labels)
    return _drop_small(labels, min_size)


def _drop_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    sizes = np.bincount(labels.ravel())
    keep = sizes >= max(int(min_size), 1)
    keep[0] = False
    new_ids = np.zeros(sizes.size, np.int32)
    new_ids[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return new_ids[labels]


def instances(raw: dict[str, np.ndarray], prob_threshold: float, interior_threshold: float, min_size: int) -> np.ndarray:
    """Instances from :meth:`predict_raw`'s output, either kind.

    ``raw`` holds ``probabilities`` ``(3, *shape)`` (background, interior,
    boundary; foreground = 1 - background) or ``foreground`` and ``distance``
    (each ``shape``).
    """
    if "probabilities" in raw:
        probs = raw["probabilities"]
        return seeded_watershed(1.0 - probs[0], probs[1], prob_threshold, interior_threshold, min_size)
    return seeded_watershed(raw["foreground"], raw["distance"], prob_threshold, interior_threshold, min_size)
