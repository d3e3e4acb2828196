"""Training targets from label images: three classes, or a distance map.

``classes``: 0 background, 1 nucleus interior, 2 nucleus boundary. Boundary
pixels are object pixels within ``boundary_width`` pixels (chessboard
distance) of a pixel with another label, background included, so touching
nuclei are separated by two boundary bands.

``distance``: channel 0 the foreground (0/1), channel 1 each object's
Euclidean distance to its outside, divided by the object's maximum (1 at its
centre, near 0 at its edge, 0 on background).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

TARGETS = ("classes", "distance")
#: class indices of the ``classes`` target
BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2


def boundary_mask(labels: np.ndarray, width: int = 1) -> np.ndarray:
    """Object pixels within ``width`` pixels of a pixel with a different label.

    Examples
    --------
    >>> lab = np.zeros((5, 5), int); lab[1:4, 1:4] = 1
    >>> boundary_mask(lab).astype(int)[2]
    array([0, 1, 0, 1, 0])
    """
    labels = np.asarray(labels)
    size = 2 * int(width) + 1
    hi = ndi.maximum_filter(labels, size=size, mode="nearest")
    lo = ndi.minimum_filter(labels, size=size, mode="nearest")
    return (labels > 0) & ((hi != labels) | (lo != labels))


def class_map(labels: np.ndarray, boundary_width: int = 1) -> np.ndarray:
    """Three-class map (uint8, same shape): background 0, interior 1, boundary 2."""
    out = (np.asarray(labels) > 0).astype(np.uint8) * INTERIOR
    out[boundary_mask(labels, boundary_width)] = BOUNDARY
    return out


def distance_map(labels: np.ndarray, spacing=None) -> np.ndarray:
    """Per-object normalised distance to the outside (float32, same shape), in [0, 1]."""
    labels = np.asarray(labels)
    out = np.zeros(labels.shape, np.float32)
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        padded = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)
        inside = labels[padded] == index
        dist = ndi.distance_transform_edt(np.pad(inside, 1), sampling=spacing)[(slice(1, -1),) * labels.ndim]
        peak = dist.max()
        if peak > 0:
            out[padded][inside] = (dist[inside] / peak).astype(np.float32)
    return out


def make_target(labels: np.ndarray, target: str, boundary_width: int = 1) -> np.ndarray:
    """The training target of one label image.

    Returns
    -------
    ndarray
        ``classes``: uint8 class indices, the label image's shape.
        ``distance``: float32 ``(2, *shape)``: foreground, normalised distance.
    """
    if target == "classes":
        return class_map(labels, boundary_width)
    dist = distance_map(labels)
    return np.stack([(np.asarray(labels) > 0).astype(np.float32), dist])
