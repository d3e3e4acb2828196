"""Placing star-convex objects in a label image.

Objects are placed one at a time. An *isolated* object keeps at least
``min_gap`` pixels from every other object, and at least one background pixel
(voxel) in between, so that no two of its pixels are neighbours, diagonals
included. A *touching* object is put against
an already placed *anchor*: along a random direction, at the sum of the two
boundary distances minus ``touching_overlap`` times the smaller of them (at
least one pixel), so the two interpenetrate; the pixels they share stay with the anchor, leaving one
shared boundary (the later object looks pressed against the earlier). A
touching object keeps ``min_gap`` from every object but its anchor. Every
object is one connected region (diagonal neighbours count as connected); a
candidate position that would cut one in pieces is redrawn.

To reach a fraction ``f`` of touching objects among ``n`` (objects touching at
least one other), the first ``n - ceil(fn / 2)`` objects are isolated and the
rest touching: each is put against an isolated anchor while two or more
touching objects are still missing (adding two), and against an
already-touching anchor for the last one (adding one). Where a placement fails
``max_attempts`` times (the image is full), the object is left out, so crowded
settings may yield fewer objects and touching ones than requested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .shapes import Raster, StarShape, rasterise

#: candidate positions tried per object before it is left out
MAX_ATTEMPTS = 40
#: full neighbourhoods (diagonals included), by dimensionality
_FULL = {n: np.ones((3,) * n, dtype=bool) for n in (2, 3)}
#: the smallest share of its in-image area a touching object must keep
_MIN_VISIBLE = 0.6


@dataclass(frozen=True)
class Placement:
    """Where objects go: ``"random"`` (uniform) or ``"clustered"``.

    Attributes
    ----------
    kind : {"random", "clustered"}
        Uniform centres, or centres normally distributed around cluster centres.
    n_clusters : int
        Number of cluster centres (uniform in the image), for ``"clustered"``.
    cluster_spread : float
        Standard deviation of object centres around their cluster centre,
        lateral pixels.
    """

    kind: str = "random"
    n_clusters: int = 3
    cluster_spread: float = 30.0


@dataclass(frozen=True)
class PlacedObject:
    """One object in the label image.

    Attributes
    ----------
    label : int
        Its id in the label image (before the final shuffle of ids).
    centre : ndarray, shape (ndim,)
        Centre, pixel coordinates.
    shape : StarShape
        The shape it was drawn from.
    raster : Raster
        Its box, the pixels it owns in the box, and their relative depth.
    """

    label: int
    centre: np.ndarray
    shape: StarShape
    raster: Raster


class _Canvas:
    """The label image being filled and the objects on it."""

    def __init__(self, image_shape, axis_scale, min_gap):
        self.labels = np.zeros(image_shape, dtype=np.int32)
        self.axis_scale = axis_scale
        self.min_gap = min_gap
        self.objects: list[PlacedObject] = []
        self.touching: set[int] = set()

    def clear_of_others(self, shape, centre, allowed: int = 0) -> bool:
        """True when ``shape`` grown by ``min_gap``, and then by one pixel in
        every direction (diagonals included), covers only background and
        ``allowed``."""
        grown = rasterise(shape, centre, self.labels.shape, self.axis_scale, grow=self.min_gap)
        box, mask = _dilate_by_one(grown, self.labels.shape)
        found = self.labels[box][mask]
        return not np.any((found != 0) & (found != allowed))

    def paint(self, shape, centre, raster: Raster) -> PlacedObject:
        label = len(self.objects) + 1
        self.labels[raster.box][raster.mask] = label
        placed = PlacedObject(label, centre, shape, raster)
        self.objects.append(placed)
        return placed


def place_objects(
    rng: np.random.Generator,
    shapes: list[StarShape],
    image_shape: tuple[int, ...],
    axis_scale: np.ndarray,
    placement: Placement,
    touching_fraction: float,
    touching_overlap: float,
    min_gap: float,
) -> tuple[np.ndarray, list[PlacedObject]]:
    """Place ``shapes`` in a label image.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of positions and contact directions.
    shapes : list of StarShape
        The objects, in placement order.
    image_shape : tuple of int
        ``(Y, X)`` or ``(Z, Y, X)``.
    axis_scale : ndarray, shape (ndim,)
        Lateral pixels per pixel along each axis.
    placement : Placement
        Random or clustered centres.
    touching_fraction : float
        Requested fraction of objects touching another, in ``[0, 1]``.
    touching_overlap : float
        Interpenetration of touching objects, fraction of the smaller radius.
    min_gap : float
        Smallest distance between objects that do not touch, lateral pixels.

    Returns
    -------
    labels : ndarray of int32
        Label image, ids ``1..len(objects)`` in placement order.
    objects : list of PlacedObject
        The objects that could be placed.
    """
    canvas = _Canvas(image_shape, axis_scale, min_gap)
    n_touching_placements = math.ceil(touching_fraction * len(shapes) / 2)
    target = round(touching_fraction * len(shapes))
    centres = _CentreSampler(rng, image_shape, axis_scale, placement)
    for index, shape in enumerate(shapes):
        if index < len(shapes) - n_touching_placements or not canvas.objects:
            _place_isolated(canvas, shape, centres)
        else:
            _place_touching(rng, canvas, shape, touching_overlap, target)
    return canvas.labels, canvas.objects


def _place_isolated(canvas: _Canvas, shape, centres: "_CentreSampler") -> None:
    for _ in range(MAX_ATTEMPTS):
        centre = centres.draw()
        if canvas.clear_of_others(shape, centre):
            raster = rasterise(shape, centre, canvas.labels.shape, canvas.axis_scale)
            if _connected(raster.mask):
                canvas.paint(shape, centre, raster)
                return


def _place_touching(rng, canvas: _Canvas, shape, touching_overlap: float, target: int) -> None:
    missing = target - len(canvas.touching)
    isolated = [o for o in canvas.objects if o.label not in canvas.touching]
    touching = [o for o in canvas.objects if o.label in canvas.touching]
    preferred = isolated if missing >= 2 else touching
    candidates = preferred or isolated or touching
    ndim = len(canvas.labels.shape)
    for _ in range(MAX_ATTEMPTS):
        anchor = candidates[rng.integers(len(candidates))]
        direction = rng.standard_normal(ndim)
        direction /= np.linalg.norm(direction)
        reach_anchor = float(anchor.shape.radius_along(tuple(direction)))
        reach_new = float(shape.radius_along(tuple(-direction)))
        overlap = max(touching_overlap * min(reach_anchor, reach_new), 1.0)
        distance = reach_anchor + reach_new - overlap
        centre = anchor.centre + distance * direction / canvas.axis_scale
        if not _inside(centre, canvas.labels.shape):
            continue
        if not canvas.clear_of_others(shape, centre, allowed=anchor.label):
            continue
        raster = rasterise(shape, centre, canvas.labels.shape, canvas.axis_scale)
        own = raster.mask & (canvas.labels[raster.box] == 0)
        if own.sum() < _MIN_VISIBLE * raster.mask.sum() or not _connected(own):
            continue
        placed = canvas.paint(shape, centre, Raster(raster.box, own, raster.depth))
        canvas.touching.update((anchor.label, placed.label))
        return


def _dilate_by_one(raster: Raster, image_shape) -> tuple[tuple[slice, ...], np.ndarray]:
    """``raster``'s mask dilated by a full 3x3(x3) neighbourhood, and its box."""
    mask = np.zeros(tuple(n + 2 for n in raster.mask.shape), dtype=bool)
    mask[(slice(1, -1),) * mask.ndim] = raster.mask
    for axis in range(mask.ndim):  # a cube is a sequence of 1D dilations
        before = [slice(None)] * mask.ndim
        after = [slice(None)] * mask.ndim
        before[axis], after[axis] = slice(None, -1), slice(1, None)
        grown = mask.copy()
        grown[tuple(after)] |= mask[tuple(before)]
        grown[tuple(before)] |= mask[tuple(after)]
        mask = grown
    box, crop = [], []
    for s, n in zip(raster.box, image_shape):
        lo, hi = max(s.start - 1, 0), min(s.stop + 1, n)
        box.append(slice(lo, hi))
        crop.append(slice(lo - (s.start - 1), hi - (s.start - 1)))
    return tuple(box), mask[tuple(crop)]


def _connected(mask: np.ndarray) -> bool:
    """True when ``mask`` is one region (neighbours include diagonals)."""
    return ndimage.label(mask, structure=_FULL[mask.ndim])[1] == 1


def _inside(centre: np.ndarray, image_shape) -> bool:
    return bool(np.all(centre >= 0) and np.all(centre <= np.asarray(image_shape) - 1))


class _CentreSampler:
    """Candidate object centres, uniform or around cluster centres."""

    def __init__(self, rng, image_shape, axis_scale, placement: Placement):
        self.rng = rng
        self.upper = np.asarray(image_shape, dtype=float) - 1
        self.placement = placement
        self.spread = placement.cluster_spread / np.asarray(axis_scale, dtype=float)
        if placement.kind == "clustered":
            self.clusters = rng.uniform(0, self.upper, size=(placement.n_clusters, len(self.upper)))

    def draw(self) -> np.ndarray:
        if self.placement.kind == "random":
            return self.rng.uniform(0, self.upper)
        cluster = self.clusters[self.rng.integers(len(self.clusters))]
        offset = self.spread * self.rng.standard_normal(len(self.upper))
        return np.clip(cluster + offset, 0, self.upper)
