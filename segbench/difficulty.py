"""Difficulty features of one labelled 2D image: what makes its nuclei hard to segment.

:func:`difficulty_features` gives one number per image and feature; ``segbench
realism`` pools them over a dataset like its other per-image feature (the
density) and compares datasets with the Wasserstein distance next to the
real-vs-real floor. Units: pixels (px), grey values of the image, ratios.

Terms used below (``I`` the image as float, ``L`` its label image):

- *object*: the pixels of one label; *foreground*: ``L > 0``.
- ``d_in``: for a foreground pixel, the Euclidean distance (pixel centres) to
  the nearest background pixel; ``d_out``: for a background pixel, the
  distance to the nearest foreground pixel, whose object *owns* it.
- *inner ring* of an object: its pixels with ``d_in <= 2``; *outer ring*: the
  background pixels it owns with ``d_out <= 2`` (``RING``). Both border the
  background only: a boundary with another object is not in them.
- *far background*: background pixels with ``d_out > 3`` (``MARGIN``), clear
  of the objects' blurred edges.
- ``B``: the smoothed background, the mean of the far-background pixels in a
  33 x 33 window around each pixel (``WINDOW``; normalised convolution).
- ``b``: the background level, the median of the far-background pixels.
- ``sigma``: the background noise SD, ``1.4826 * MAD`` of ``I - B`` over the
  far background (robust to debris and unannotated nuclei, blind to the
  smooth non-uniformity that ``B`` takes up).

The features (:data:`DIFFICULTY`):

``snr``
    ``(mean I over the foreground - b) / sigma`` (noise SDs).
``boundary_contrast``
    Median over objects of ``(mean I on the inner ring - mean I on the outer
    ring) / sigma`` (noise SDs); objects without an outer ring (enclosed by
    other objects) are left out.
``edge_width``
    10-90 % rise distance of the image's mean edge profile (px). Pixels within
    5 px of the boundary (``BAND``) get the signed distance ``t = d_in - 0.5``
    inside and ``t = 0.5 - d_out`` outside (the distance of a straight edge's
    pixel centres to the edge); 1-px bands of ``t`` give a profile of mean
    ``t`` against mean ``I``. Low level: the profile's minimum outside, high
    level: its maximum inside; from that maximum outwards, the first crossings
    of 90 % and 10 % of the rise (linear interpolation) are ``t90`` and
    ``t10``, and the width is ``t90 - t10``. A Gaussian blur of SD ``s`` gives
    ``2 * 1.2816 * s`` (within 6 % for ``s`` up to 2 px; wider blur reads low,
    ``s = 3``: 0.8 of it, as the 5-px reach cuts the rise); an unblurred step
    gives 0.8 to 1 px (the 1-px sampling). The short reach keeps the domed
    interior of real nuclei and their faint glow from counting as blur.
``touching``
    Fraction of objects that share at least one pixel edge with another
    object (4-connectivity: diagonal contact alone does not count).
``clumped``
    Fraction of objects in clumps of three or more: the connected
    components of the graph whose edges join objects that share a pixel edge
    (as for ``touching``), counted by their objects. A chain of three
    touching objects is one clump of three; a lone touching pair is not.
``shared_boundary``
    Shared boundary over perimeter, both as counts of pixel edges (cracks)
    summed over the objects: a crack between objects ``i`` and ``j`` counts
    once for each; cracks on the image border are not counted. Two ``s x s``
    squares side by side give ``2s / 8s = 0.25``.
``texture``
    Median over objects of ``sqrt(max(var - sigma**2, 0)) / (mean - b)``,
    ``mean`` and ``var`` (``ddof=0``) of ``I`` over the object eroded by 2 px
    (its pixels whose every pixel within 2 px is of the object; objects with
    fewer than 5 such pixels, or ``mean <= b``, are left out): the spread of
    the nucleus' own signal, camera noise removed, relative to its brightness
    above the background (a CV that the camera offset does not change).
``background_nonuniformity``
    ``SD of B over the far background / (mean I over the foreground - b)``:
    how much the smooth background varies, in units of the nuclei's contrast.
``brightness_spread``
    Coefficient of variation (``ddof=0``) over the objects of ``mean I - b``
    (each object's mean brightness above the background); needs 2 objects.
``out_of_focus``
    Fraction of objects whose edge sharpness is below half (``FOCUS``) of the
    image's median. Sharpness: the mean gradient magnitude of ``I`` smoothed
    by a Gaussian of SD 1 px (``scipy.ndimage.gaussian_gradient_magnitude``)
    over the object's inner and outer rings, divided by ``mean I - b`` over
    the object (1/px); objects with ``mean I <= b`` are left out; needs 2
    objects.

A feature is NaN where it is undefined: no objects, fewer than 16 far
background pixels (``MIN_BACKGROUND``) for those that need ``b``, ``sigma``
or ``B``, ``sigma = 0`` (a noiseless image) for those divided by it, no object
left after the exclusions above.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

__all__ = ["DIFFICULTY", "difficulty_features"]

#: feature key -> (display name, unit)
DIFFICULTY: dict[str, tuple[str, str]] = {
    "snr": ("nucleus signal-to-noise ratio", "noise SD"),
    "boundary_contrast": ("boundary contrast (noise SDs)", "noise SD"),
    "edge_width": ("edge width 10-90 % (px)", "px"),
    "touching": ("fraction of nuclei touching another", "fraction"),
    "clumped": ("fraction of nuclei in clumps of 3 or more", "fraction"),
    "shared_boundary": ("shared boundary / perimeter", "fraction"),
    "texture": ("within-nucleus texture (CV)", "ratio"),
    "background_nonuniformity": ("background non-uniformity / contrast", "ratio"),
    "brightness_spread": ("between-nucleus brightness CV", "ratio"),
    "out_of_focus": ("fraction of nuclei out of focus", "fraction"),
}

RING = 2.0  #: px, width of the inner and outer rings
MARGIN = 3.0  #: px, far background lies farther than this from every object
WINDOW = 33  #: px, side of the window of the smoothed background
BAND = 5  #: px, reach of the edge profile on either side of the boundary
ERODE = 2  #: px, erosion of objects for the texture
MIN_ERODED = 5  #: px, fewest eroded pixels of an object for the texture
MIN_BACKGROUND = 16  #: px, fewest far-background pixels for b, sigma and B
FOCUS = 0.5  #: out of focus: sharpness below this fraction of the image's median
GRADIENT_SIGMA = 1.0  #: px, Gaussian smoothing of the gradient
MAD_TO_SD = 1.4826  #: MAD of a normal distribution times this is its SD


def difficulty_features(image, labels) -> dict[str, float]:
    """The :data:`DIFFICULTY` features of one image (definitions: module docstring).

    Parameters
    ----------
    image : array_like, shape (Y, X)
        Intensities (grey values, any real dtype).
    labels : array_like of int, shape (Y, X)
        Label image, 0 = background; ids need not be contiguous.

    Returns
    -------
    dict of str -> float
        One value per key of :data:`DIFFICULTY`, NaN where undefined.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((40, 60), int); labels[10:20, 10:20] = 1; labels[10:20, 20:30] = 2
    >>> labels[25:35, 40:50] = 3
    >>> image = np.where(labels > 0, 100.0, 10.0) + np.random.default_rng(0).normal(0, 2, labels.shape)
    >>> f = difficulty_features(image, labels)
    >>> round(f["touching"], 3), round(f["shared_boundary"], 3), round(f["snr"] / 5) * 5
    (0.667, 0.167, 45)
    """
    image = np.asarray(image, dtype=np.float64)
    lab, n = _contiguous(np.asarray(labels))
    if image.ndim != 2 or image.shape != lab.shape:
        raise ValueError(f"difficulty_features needs a 2D image and labels of the same shape, "
                         f"got {image.shape} and {lab.shape}")
    out = dict.fromkeys(DIFFICULTY, math.nan)
    if n == 0 or lab.all():
        return out
    g = _Geometry(lab, n)
    out["touching"], out["shared_boundary"], out["clumped"] = _touching(lab, n)
    out["edge_width"] = _edge_width(image, g)
    background, smooth, noise = _background(image, g)
    signal = float(image[g.fg].mean()) - background
    object_mean = _object_means(image, g)
    out["brightness_spread"] = _cv(object_mean - background) if n > 1 else math.nan
    out["background_nonuniformity"] = float(smooth.std()) / signal if signal > 0 else math.nan
    out["texture"] = _texture(image, lab, n, background, noise)
    out["out_of_focus"] = _out_of_focus(image, g, object_mean - background) if n > 1 else math.nan
    if noise > 0:
        out["snr"] = signal / noise
        out["boundary_contrast"] = _boundary_contrast(image, g) / noise
    return out


def _contiguous(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels renumbered ``0..n`` (0 stays background), and ``n``."""
    ids, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(labels.shape)
    if ids[0] != 0:
        return inverse + 1, len(ids)
    return inverse, len(ids) - 1


class _Geometry:
    """Distances to the boundary, rings and far background of one label image.

    Attributes
    ----------
    n : int
        Objects, numbered ``1..n`` in ``lab``.
    fg : ndarray of bool, shape (Y, X)
    d_in, d_out : ndarray of float64, shape (Y, X)
        Distance to the nearest background pixel (0 on the background), and
        to the nearest foreground pixel (0 on the foreground), px.
    owner : ndarray of int, shape (Y, X)
        The object of each foreground pixel, and of the object nearest to each
        background pixel.
    ring : ndarray of bool, shape (Y, X)
        Inner and outer rings (``d_in`` or ``d_out`` in ``(0, RING]``).
    far : ndarray of bool, shape (Y, X)
        Far background (``d_out > MARGIN``).
    """

    def __init__(self, lab: np.ndarray, n: int):
        self.n = n
        self.fg = lab > 0
        self.d_in = ndimage.distance_transform_edt(self.fg)
        self.d_out, nearest = ndimage.distance_transform_edt(~self.fg, return_indices=True)
        self.owner = lab[nearest[0], nearest[1]]
        self.ring = ((self.d_in > 0) & (self.d_in <= RING)) | ((self.d_out > 0) & (self.d_out <= RING))
        self.far = self.d_out > MARGIN


def _sums(values: np.ndarray, index: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-index sums of ``values`` and counts, index ``0..n`` (arrays of length n + 1)."""
    return (np.bincount(index, weights=values, minlength=n + 1),
            np.bincount(index, minlength=n + 1).astype(np.float64))


def _object_means(image: np.ndarray, g: _Geometry) -> np.ndarray:
    """Mean intensity of each object (length ``n``, grey values)."""
    total, count = _sums(image[g.fg], g.owner[g.fg], g.n)
    return total[1:] / count[1:]


def _cv(values: np.ndarray) -> float:
    """Coefficient of variation (ddof=0); NaN when the mean is not positive."""
    mean = float(values.mean())
    return float(values.std()) / mean if mean > 0 else math.nan


def _background(image: np.ndarray, g: _Geometry) -> tuple[float, np.ndarray, float]:
    """``b`` (grey values), ``B`` on the far background (1D, grey values) and
    ``sigma`` (grey values); NaN and an empty ``B`` without enough far background."""
    if g.far.sum() < MIN_BACKGROUND:
        return math.nan, np.empty(0), math.nan
    weight = g.far.astype(np.float64)
    smooth = (ndimage.uniform_filter(image * weight, WINDOW)[g.far]
              / ndimage.uniform_filter(weight, WINDOW)[g.far])
    residual = image[g.far] - smooth
    noise = MAD_TO_SD * float(np.median(np.abs(residual - np.median(residual))))
    level = float(np.median(image[g.far]))
    if noise <= 1e-9 * max(abs(level), 1.0):  # rounding error of the window means: a constant background
        noise = 0.0
    return level, smooth, noise


def _boundary_contrast(image: np.ndarray, g: _Geometry) -> float:
    """Median over objects of inner-ring mean minus outer-ring mean (grey values)."""
    inner_total, inner_count = _sums(image[g.ring & g.fg], g.owner[g.ring & g.fg], g.n)
    outer_total, outer_count = _sums(image[g.ring & ~g.fg], g.owner[g.ring & ~g.fg], g.n)
    both = (inner_count > 0) & (outer_count > 0)
    if not both.any():
        return math.nan
    return float(np.median(inner_total[both] / inner_count[both] - outer_total[both] / outer_count[both]))


def _edge_width(image: np.ndarray, g: _Geometry) -> float:
    """10-90 % rise distance of the mean edge profile (px)."""
    t = np.where(g.fg, g.d_in - 0.5, 0.5 - g.d_out)
    near = np.abs(t) < BAND
    band = (np.floor(t[near]) + BAND).astype(np.intp)
    total, count = _sums(image[near], band, 2 * BAND - 1)
    position, _ = _sums(t[near], band, 2 * BAND - 1)
    kept = count > 0
    return _rise_distance(position[kept] / count[kept], total[kept] / count[kept])


def _rise_distance(x: np.ndarray, p: np.ndarray) -> float:
    """``t90 - t10`` of a profile ``p`` at increasing positions ``x`` (inside: x > 0)."""
    inside, outside = x > 0, x < 0
    if not inside.any() or not outside.any():
        return math.nan
    top = int(np.flatnonzero(inside)[np.argmax(p[inside])])
    low, high = float(p[outside].min()), float(p[top])
    if high <= low:
        return math.nan
    t90, t10 = (_crossing(x[: top + 1], p[: top + 1], low + q * (high - low)) for q in (0.9, 0.1))
    return t90 - t10


def _crossing(x: np.ndarray, p: np.ndarray, level: float) -> float:
    """Where ``p``, walked from its last point backwards, first falls below ``level``
    (linear interpolation between the two points around the crossing)."""
    below = np.flatnonzero(p < level)
    j = below[-1]  # exists: the profile's minimum outside is below every level
    return float(x[j] + (level - p[j]) / (p[j + 1] - p[j]) * (x[j + 1] - x[j]))


def _touching(lab: np.ndarray, n: int) -> tuple[float, float, float]:
    """Fraction of objects sharing a pixel edge with another, shared cracks /
    perimeter cracks, and the fraction of objects in clumps of three or more."""
    perimeter = np.zeros(n + 1)
    shared = np.zeros(n + 1)
    first, second = [], []  # the two objects of each shared crack
    for a, b in ((lab[:-1, :], lab[1:, :]), (lab[:, :-1], lab[:, 1:])):
        crack = a != b
        a, b = a[crack], b[crack]
        perimeter += np.bincount(a, minlength=n + 1) + np.bincount(b, minlength=n + 1)
        both = (a > 0) & (b > 0)
        shared += np.bincount(a[both], minlength=n + 1) + np.bincount(b[both], minlength=n + 1)
        first.append(a[both])
        second.append(b[both])
    touching = float((shared[1:] > 0).mean())
    boundary = float(shared[1:].sum() / perimeter[1:].sum()) if perimeter[1:].any() else math.nan
    return touching, boundary, _clumped(np.concatenate(first), np.concatenate(second), n)


def _clumped(a: np.ndarray, b: np.ndarray, n: int) -> float:
    """Fraction of the objects ``1..n`` in connected groups of three or more,
    the groups joined by the touching pairs ``(a[k], b[k])``."""
    graph = sparse.coo_matrix((np.ones(len(a)), (a - 1, b - 1)), shape=(n, n))
    _, component = csgraph.connected_components(graph, directed=False)
    sizes = np.bincount(component)
    return float((sizes[component] >= 3).mean())


def _texture(image: np.ndarray, lab: np.ndarray, n: int, background: float, noise: float) -> float:
    """Median over objects of the noise-corrected SD over the eroded object / its mean above ``b``."""
    footprint = np.hypot(*np.mgrid[-ERODE:ERODE + 1, -ERODE:ERODE + 1]) <= ERODE
    eroded = (lab > 0) & (ndimage.minimum_filter(lab, footprint=footprint, mode="nearest") == lab) \
        & (ndimage.maximum_filter(lab, footprint=footprint, mode="nearest") == lab)
    values, index = image[eroded], lab[eroded]
    total, count = _sums(values, index, n)
    square, _ = _sums(values * values, index, n)
    keep = count >= MIN_ERODED
    mean = total[keep] / count[keep]
    spread = np.sqrt(np.maximum(square[keep] / count[keep] - mean ** 2 - noise ** 2, 0.0))
    above = mean > background
    if not above.any():
        return math.nan
    return float(np.median(spread[above] / (mean[above] - background)))


def _out_of_focus(image: np.ndarray, g: _Geometry, brightness: np.ndarray) -> float:
    """Fraction of objects whose sharpness is below ``FOCUS`` times the median sharpness."""
    gradient = ndimage.gaussian_gradient_magnitude(image, GRADIENT_SIGMA)
    total, count = _sums(gradient[g.ring], g.owner[g.ring], g.n)
    keep = (brightness > 0) & (count[1:] > 0)
    if not keep.any():
        return math.nan
    sharpness = total[1:][keep] / count[1:][keep] / brightness[keep]
    return float((sharpness < FOCUS * np.median(sharpness)).mean())
