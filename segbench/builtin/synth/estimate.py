"""Direct estimates of the ``procedural`` generator's parameters from annotated 2D images.

Each estimator reads one quantity off the label images (layout) or off the
images inside and around the labelled objects (appearance), built so that on
ideal data (large objects, no blur, no noise) it returns the parameter itself.
On real pixels they are biased (pixelation, PSF, noise, objects cut by the image
border or pressed against each other); :mod:`.calibrate` removes that bias by
simulation. Every estimate is pooled over all images.

Layout, from the masks (objects touching the image border are left out of the
shape estimates, and so are touching objects from the size estimates):

- ``radius``, ``radius_std``: mean and standard deviation of the equivalent
  radius ``sqrt(area / pi)``, px.
- ``aspect_q25``, ``aspect_q75``: quartiles of the major over minor axis of
  the ellipse of equal second moments.
- ``irregularity``: per object, the relative standard deviation of its boundary
  pixels' elliptical radius ``sqrt((u/a)^2 + (v/b)^2)`` (``u, v`` along the
  ellipse's axes, ``a, b`` its semi-axes); the mean over objects.
- ``density_q25``, ``density_q75``: quartiles over images of objects per pixel.
- ``touching_fraction``: per image, the share of its objects that share a
  pixel edge with another object (4-connectivity, as the ``touching``
  difficulty feature of :mod:`segbench.difficulty` counts them); the mean over
  images with objects (each image weighs 1, as in ``segbench realism``).
- ``touching_variation``: the standard deviation of those per-image shares.
- ``touching_overlap``: over touching pairs, the mean length of their shared
  boundary (4-neighbour pixel contacts) over twice the smaller equivalent radius.
- ``min_gap``: the 5th percentile, over objects that touch no other, of the
  distance to the nearest other object (boundary to boundary, px, from the
  background's distance transform).
- ``nn_ratio``: mean over objects of the distance to the nearest other centroid
  times the square root of its image's density (0.5 for Poisson points).
- ``scale_variation``: the standard deviation between images of the image's
  mean log radius, less what its objects' own spread explains (method of
  moments, :func:`image_effects`). ``radius``, ``radius_std`` and the density
  quartiles are then read off radii and densities brought to a common scale:
  each image's radii divided by its (shrunken) scale factor ``s``, its density
  multiplied by ``s ** scale_density_exponent``.
- ``scale_density_exponent``: minus the slope of the images' log density
  against their log scale factor (least squares), in [0, 2]; 2 when the images
  hardly differ in scale (it then does not matter).

The other estimates skip objects touching the image border or (sizes) sharing
a pixel with another object, diagonals included.

Camera, from the photon-transfer curve: in flat places (deep inside objects, far
from them) the local mean ``m`` (5 x 5) and the variance of the residual
``image - mean of its 8 neighbours`` (divided by 9/8) are binned per image; a
line ``var = gain * m + noise_intercept`` fitted through the bins gives
``gain``. Mean and variance alone cannot tell the camera ``offset`` from the
read noise (``noise_intercept = gain^2 read_noise^2 - gain * offset``), but the
third cumulant can: shot noise has one (``gain^3`` times the photo-electrons),
Gaussian read noise none, so the far background's residuals give its
photo-electrons, and ``offset`` is the far background's mean less ``gain``
times them (kept between 0 and the darkest image's far background, where
processed images break the model). The read noise follows from the intercept.

Light (photo-electrons: ADU over the gain):

- ``background``: the mean over images of the far background (>= 4 px from any
  object) over the gain, offset included.
- ``illumination_falloff``: per image, an isotropic quadratic bowl
  ``c0 + c1 y + c2 x + c3 (y^2 + x^2)`` fitted to the far background; its
  loss at the farthest pixel from its top when ``c3 < 0`` (else 0), relative
  to the top; the mean over images.
- ``background_variation``: the standard deviation over the far background
  of its mean in a window around each pixel (the smoothed background ``B`` of
  the ``background_nonuniformity`` difficulty feature, same window), relative
  to the far background's mean; the median over images.
- ``edge_darkening``: the slope over the intercept of a line through each
  object's pixel values (over its mean) against the squared depth
  ``1 - d / max(d)`` (``d`` the distance to the object's edge).
- ``intensity``, ``intensity_cv``: per object, the mean signal above the
  background divided by ``1 - edge_darkening * mean(depth^2)``; their mean,
  after each image's objects are divided by the image's (shrunken) exposure
  factor, and the mean over images (weights: objects less one) of the
  coefficient of variation within an image (so that what differs between
  images does not count); ``exposure_variation``: the standard deviation
  between images of their objects' mean log brightness, as for
  ``scale_variation``.
- ``texture_strength``: per object, the standard deviation of the pixels around
  that line, less the camera noise, over the object's mean; the median.
  ``texture_variation``: the standard deviation between images of the log of
  those values, as for ``scale_variation``.
- ``psf_sigma``: the share ``s`` of an edge's contrast between the first pixel
  layer inside and the first outside (against deep inside and far outside) is
  ``2 Phi(0.5 / sigma) - 1`` for a Gaussian-blurred step; ``s`` is read per
  image and its median taken. ``psf_scale_exponent``: the least-squares slope
  of the images' log ``sigma`` (from their own ``s``) against their log scale
  factor (as for ``scale_density_exponent``), in [0, 2]; 0 when the images
  hardly differ in scale.

The first three include the camera offset, so that an error in the offset
(large where processed images break the camera model) does not enter them;
:func:`initial` takes it out for the first guess.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
from scipy import ndimage, stats
from scipy.spatial import cKDTree
from skimage.measure import regionprops

from ...api import Sample
from ...difficulty import WINDOW

#: pixels at least this far from any object are "far background"
_FAR = 4
#: pixels at least this deep inside an object are "deep inside"
_DEEP = 3
_EIGHT = np.ones((3, 3), dtype=bool)


class EstimateError(ValueError):
    """The dataset cannot support an estimate (too few objects, no background...)."""


def estimate(samples: Iterable[Sample]) -> dict[str, float]:
    """Direct estimates of every quantity in the module docstring.

    Parameters
    ----------
    samples : iterable of Sample
        2D images (``(Y, X)``, or ``(Y, X, C)`` averaged over channels) with
        integer label images of the same ``(Y, X)`` shape.

    Returns
    -------
    dict of str -> float

    Raises
    ------
    EstimateError
        No usable objects, or no background to read the camera from.
    """
    layout = _Pool()
    look = _Pool()
    for index, sample in enumerate(samples):
        image, labels = _arrays(sample)
        objects = _layout(labels, layout)
        if objects:
            _appearance(image, labels, objects, look, index)
    if not any(len(group) for group in layout.get("radius_by_image", [])):
        raise EstimateError("no object away from the image border and from other objects to measure")
    out, scale_effects = _layout_estimates(layout)
    out.update(_appearance_estimates(look))
    out["psf_scale_exponent"] = _psf_scale_exponent(look.get("edge", []), scale_effects,
                                                    out["scale_variation"])
    return out


def initial(estimates: dict[str, float]) -> dict[str, float]:
    """A first guess of the generator's parameters from :func:`estimate`: the
    estimates themselves, but with the camera offset taken out of the
    background, its variation and the illumination fall-off."""
    adu = estimates["gain"] * estimates["background"]  # offset included
    share = max(adu - estimates["offset"], 0.0) / max(adu, 1e-9)
    guess = dict(estimates, background=max(share, 0.05) * estimates["background"])
    for key in ("illumination_falloff", "background_variation"):
        guess[key] = estimates[key] / max(share, 0.05)
    return guess


class _Pool(dict):
    """Lists of values by name, pooled over images."""

    def add(self, key: str, values) -> None:
        self.setdefault(key, []).extend(np.atleast_1d(np.asarray(values, dtype=np.float64)).tolist())


def _arrays(sample: Sample) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(sample.image, dtype=np.float64)
    labels = None if sample.labels is None else np.asarray(sample.labels)
    if labels is not None and image.ndim == 3 and image.shape[:2] == labels.shape:
        image = image.mean(axis=-1)
    if labels is None or labels.ndim != 2 or image.shape != labels.shape:
        got = "no mask" if labels is None else f"mask {labels.shape}"
        raise EstimateError(f"sample {sample.name!r}: fitting needs 2D images with masks of the "
                            f"same shape, got image {np.shape(sample.image)} and {got}")
    return image, labels.astype(np.int64)


def _layout(labels: np.ndarray, pool: _Pool) -> list:
    props = regionprops(labels)
    pool.add("density", len(props) / labels.size)
    if not props:
        pool.setdefault("radius_by_image", []).append(np.array([]))
        return []
    ids = np.array([p.label for p in props])
    index = {label: i for i, label in enumerate(ids)}
    touching = np.zeros(len(props), dtype=bool)
    contacts: dict[tuple[int, int], int] = {}
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a, b = _shifted_pairs(labels, dy, dx)
        differ = (a > 0) & (b > 0) & (a != b)
        for label in np.unique(np.concatenate([a[differ], b[differ]])):
            touching[index[label]] = True
        if abs(dy) + abs(dx) == 1:
            pairs = np.sort(np.stack([a[differ], b[differ]], axis=1), axis=1)
            for (p, q), n in zip(*np.unique(pairs, axis=0, return_counts=True)):
                contacts[(p, q)] = contacts.get((p, q), 0) + n
    radii = np.sqrt(np.array([p.area for p in props]) / np.pi)
    measured = []
    for (p, q), n in contacts.items():
        pool.add("contact", n / (2 * min(radii[index[p]], radii[index[q]])))
    shares_edge = np.zeros(len(props), dtype=bool)
    for p, q in contacts:
        shares_edge[[index[p], index[q]]] = True
    pool.add("touching_by_image", shares_edge.mean())
    border = np.array([_on_border(p.bbox, labels.shape) for p in props])
    for p, r, edge, touches in zip(props, radii, border, touching):
        if edge:
            continue
        pool.add("aspect", p.axis_major_length / max(p.axis_minor_length, 1e-9))
        pool.add("irregularity", _roughness(p))
        if not touches:
            measured.append(r)
    pool.setdefault("radius_by_image", []).append(np.array(measured))
    if len(props) > 1:
        centroids = np.array([p.centroid for p in props])
        nn = _nearest(centroids)
        pool.add("nn_ratio", nn * math.sqrt(len(props) / labels.size))
        pool.add("gap", _gaps(labels, ids)[~touching])
    return props


def _nearest(points: np.ndarray) -> np.ndarray:
    """Distance from each point to the nearest other point."""
    return cKDTree(points).query(points, k=2)[0][:, 1]


def _shifted_pairs(labels: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    h, w = labels.shape
    ys, yd = slice(0, h - dy), slice(dy, h)
    if dx >= 0:
        xs, xd = slice(0, w - dx), slice(dx, w)
    else:
        xs, xd = slice(-dx, w), slice(0, w + dx)
    return labels[ys, xs].ravel(), labels[yd, xd].ravel()


def _on_border(bbox, shape) -> bool:
    y0, x0, y1, x1 = bbox
    return y0 == 0 or x0 == 0 or y1 == shape[0] or x1 == shape[1]


def _roughness(prop) -> float:
    """Relative standard deviation of the boundary pixels' elliptical radius."""
    mask = prop.image
    edge = mask & ~ndimage.binary_erosion(mask)
    ys, xs = np.nonzero(edge)
    cy, cx = prop.centroid_local
    dy, dx = ys - cy, xs - cx
    theta = prop.orientation
    u = dy * math.cos(theta) + dx * math.sin(theta)
    v = -dy * math.sin(theta) + dx * math.cos(theta)
    a, b = max(prop.axis_major_length / 2, 0.5), max(prop.axis_minor_length / 2, 0.5)
    rho = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    return float(rho.std() / rho.mean()) if len(rho) > 2 else 0.0


def _gaps(labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Per object (in ``ids`` order), the distance to the nearest other object, px."""
    distance, (iy, ix) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    nearest = labels[iy, ix]
    best = np.full(int(ids.max()) + 1, np.inf)
    for dy, dx in ((0, 1), (1, 0)):
        a, b = _shifted_pairs(nearest, dy, dx)
        da, db = _shifted_pairs(distance, dy, dx)
        differ = a != b
        gap = (da + db)[differ]
        for side in (a[differ], b[differ]):
            np.minimum.at(best, side, gap)
    return best[ids]


def image_effects(groups: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Per-image effects in a one-way random-effects model of log values.

    Parameters
    ----------
    groups : list of 1D arrays
        One array of log values per image (possibly empty).

    Returns
    -------
    effects : ndarray, shape (len(groups),)
        Each image's mean less the mean of image means, shrunk towards 0 by
        ``between / (between + within / n)`` (its share that is not sampling
        noise); 0 for an empty image.
    between_sd : float
        Standard deviation between images, by the method of moments:
        ``sqrt(max(var(image means) - mean(within / n), 0))``; 0 with fewer
        than two non-empty images.
    """
    n = np.array([len(g) for g in groups], dtype=np.float64)
    used = n > 0
    effects = np.zeros(len(groups))
    if used.sum() < 2:
        return effects, 0.0
    means = np.array([g.mean() for g in groups if len(g)])
    dof = float(np.sum(n[used] - 1))
    within = float(sum(((g - g.mean()) ** 2).sum() for g in groups if len(g))) / dof if dof > 0 else 0.0
    between = max(float(np.var(means, ddof=1)) - float(np.mean(within / n[used])), 0.0)
    noise = within / n[used]
    shrink = np.divide(between, between + noise, out=np.ones_like(noise), where=between + noise > 0)
    effects[used] = (means - means.mean()) * shrink
    return effects, math.sqrt(between)


def _layout_estimates(pool: _Pool) -> tuple[dict[str, float], np.ndarray]:
    """The layout estimates, and each image's (shrunken) log scale effect."""
    groups = pool["radius_by_image"]
    effects, scale_sd = image_effects([np.log(g) for g in groups])
    radius = np.concatenate([g * math.exp(-e) for g, e in zip(groups, effects)])
    aspect = np.array(pool["aspect"])
    raw_density = np.array(pool["density"])
    exponent = _density_exponent(raw_density, effects, scale_sd)
    density = raw_density * np.exp(exponent * effects)
    gaps = np.array(pool.get("gap", []))
    gaps = gaps[np.isfinite(gaps)]
    touching = np.array(pool["touching_by_image"])
    return {
        "radius": float(radius.mean()),
        "radius_std": float(radius.std()),
        "aspect_q25": float(np.percentile(aspect, 25)),
        "aspect_q75": float(np.percentile(aspect, 75)),
        "irregularity": float(np.mean(pool["irregularity"])),
        "density_q25": float(np.percentile(density, 25)),
        "density_q75": float(np.percentile(density, 75)),
        "touching_fraction": float(touching.mean()),
        "touching_variation": float(touching.std()),
        "touching_overlap": float(np.mean(pool["contact"])) if pool.get("contact") else 0.0,
        "min_gap": float(np.percentile(gaps, 5)) if len(gaps) else 2.0,
        "nn_ratio": float(np.mean(pool["nn_ratio"])) if pool.get("nn_ratio") else 0.5,
        "scale_variation": scale_sd,
        "scale_density_exponent": exponent,
    }, effects


def _density_exponent(density: np.ndarray, effects: np.ndarray, scale_sd: float) -> float:
    """Minus the least-squares slope of log density against the images' log
    scale effects, in [0, 2]; 2 when the scale hardly varies (below 0.05)."""
    keep = (density > 0) & (effects != 0)
    if scale_sd < 0.05 or keep.sum() < 3 or np.ptp(effects[keep]) == 0:
        return 2.0
    slope = _line(effects[keep], np.log(density[keep]))[0]
    return float(np.clip(-slope, 0.0, 2.0))


def _appearance(image: np.ndarray, labels: np.ndarray, props: list, pool: _Pool, index: int) -> None:
    """Per-image and per-object raw quantities in ADU (objects tagged with the
    image's ``index``); converted in :func:`_appearance_estimates`."""
    outside = ndimage.distance_transform_edt(labels == 0)
    inside = ndimage.distance_transform_edt(labels > 0)
    far, deep = outside >= _FAR, inside >= _DEEP
    local = ndimage.uniform_filter(image, 5, mode="mirror")
    neighbours = ndimage.convolve(image, _EIGHT.astype(np.float64), mode="mirror") - image
    residual = image - neighbours / 8
    for region in (far, deep):
        m, r = local[region], residual[region]
        if len(m) < 200:
            continue
        edges = np.unique(np.percentile(m, np.linspace(0, 100, 6)))
        which = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, max(len(edges) - 2, 0))
        for k in range(max(len(edges) - 1, 1)):
            sel = which == k
            if sel.sum() >= 50:
                pool.add("ptc", [m[sel].mean(), r[sel].var() * 8 / 9, sel.sum()])
    if far.sum() >= 200:
        r = residual[far] - residual[far].mean()
        pool.add("skew", [np.mean(r**3) * 64 / 63, len(r)])
    if far.sum() < 200:
        return  # no background to measure objects against
    background = float(np.median(image[far]))
    pool.add("far_mean", image[far].mean())
    if far.sum() >= 1000:
        pool.add("bowl", _bowl(image, far) + [image[far].mean()])
        pool.add("nonuniformity", _smooth_background(image, far).std() / max(image[far].mean(), 1e-9))
    ring_in, ring_out = inside == 1, outside == 1
    if ring_in.any() and deep.any():
        contrast = image[deep].mean() - image[far].mean()
        if contrast > 0:
            pool.add("edge", [(image[ring_in].mean() - image[ring_out].mean()) / contrast, index])
    for p in props:
        if _on_border(p.bbox, labels.shape) or p.area < 20:
            continue
        box = tuple(slice(a, b) for a, b in zip(p.bbox[:2], p.bbox[2:]))
        values = image[box][p.image]
        d = ndimage.distance_transform_edt(np.pad(p.image, 1))[1:-1, 1:-1][p.image]
        depth2 = (1 - (d - 1) / max(d.max() - 1, 1)) ** 2
        slope, intercept = _line(depth2, values)
        spread = float(np.var(values - (intercept + slope * depth2)))
        pool.add("objects", [values.mean(), background, depth2.mean(), intercept, slope, spread, index])


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope and intercept of ``y`` against ``x`` (slope 0 when ``x`` is constant)."""
    dx = x - x.mean()
    ss = float(dx @ dx)
    slope = float(dx @ (y - y.mean())) / ss if ss > 0 else 0.0
    return slope, float(y.mean() - slope * x.mean())


def _smooth_background(image: np.ndarray, far: np.ndarray) -> np.ndarray:
    """Mean of the far background in a ``WINDOW`` x ``WINDOW`` window around each
    far-background pixel (1D, ADU; normalised convolution)."""
    weight = far.astype(np.float64)
    return (ndimage.uniform_filter(image * weight, WINDOW)[far]
            / ndimage.uniform_filter(weight, WINDOW)[far])


def _bowl(image: np.ndarray, far: np.ndarray) -> list[float]:
    """The far background's fitted isotropic bowl: [drop from its top to the
    farthest pixel, top], ADU."""
    ys, xs = np.nonzero(far)
    if len(ys) > 5000:
        pick = np.random.default_rng(0).choice(len(ys), 5000, replace=False)
        ys, xs = ys[pick], xs[pick]
    smooth = ndimage.gaussian_filter(image, 3.0)[ys, xs]
    h, w = image.shape
    scale = max(h, w)
    y, x = ys / scale, xs / scale
    design = np.stack([np.ones_like(y), y, x, y * y + x * x], axis=1)
    c = np.linalg.lstsq(design, smooth, rcond=None)[0]
    if c[3] >= 0:
        return [0.0, float(smooth.max())]
    cy = np.clip(-c[1] / (2 * c[3]), 0, (h - 1) / scale)
    cx = np.clip(-c[2] / (2 * c[3]), 0, (w - 1) / scale)
    top = c[0] + c[1] * cy + c[2] * cx + c[3] * (cy * cy + cx * cx)
    reach = max((yy / scale - cy) ** 2 + (xx / scale - cx) ** 2 for yy in (0, h - 1) for xx in (0, w - 1))
    return [float(-c[3] * reach), float(top)]


def _appearance_estimates(pool: _Pool) -> dict[str, float]:
    if not pool.get("ptc") or not pool.get("far_mean") or not pool.get("objects"):
        raise EstimateError("no image with both objects and background far from them (>= 4 px) to "
                            "measure intensities and noise on")
    ptc = np.array(pool["ptc"]).reshape(-1, 3)
    if len(ptc) >= 2 and np.ptp(ptc[:, 0]) > 0:
        gain, intercept = np.polyfit(ptc[:, 0], ptc[:, 1], 1, w=np.sqrt(ptc[:, 2]))
    else:
        gain, intercept = 1.0, float(ptc[0, 1]) - float(ptc[0, 0])
    gain = max(float(gain), 1e-3)
    k3, n = np.array(pool["skew"]).reshape(-1, 2).T
    electrons_far = float(np.average(k3, weights=n)) / gain**3  # Poisson: third cumulant = mean
    offset = min(max(float(np.mean(pool["far_mean"])) - gain * electrons_far, 0.0), min(pool["far_mean"]))
    read_noise = math.sqrt(max(intercept + gain * offset, 0.0)) / gain

    background = float(np.mean(pool["far_mean"])) / gain
    falloff, variation = 0.0, 0.0
    if pool.get("bowl"):
        drop, top, level = np.array(pool["bowl"]).reshape(-1, 3).T
        falloff = float(np.clip(np.mean(drop / np.maximum(np.maximum(top, level), 1e-9)), 0.0, 0.95))
        variation = float(np.median(pool["nonuniformity"]))
    mean, bg, mean_depth2, a, b, spread, image_index = np.array(pool["objects"]).reshape(-1, 7).T
    signal = mean - bg
    bright = (a - bg) > 0
    darkening = float(np.clip(np.median(-b[bright] / (a - bg)[bright]), 0.0, 0.9)) if bright.any() else 0.0
    peak = signal / gain / np.maximum(1 - darkening * mean_depth2, 0.1)
    positive = peak > 0
    peak, exposure_sd = _common_exposure(peak[positive], image_index[positive])
    noise = np.maximum(gain * mean + intercept, 0.0)  # the photon-transfer line
    texture = np.sqrt(np.maximum(spread - noise, 0)) / np.maximum(signal, 1e-9)
    edge = np.array(pool.get("edge", [0.999, 0])).reshape(-1, 2)
    texture_sd = _between_images(texture, image_index, signal > 0)
    return {
        "gain": gain,
        "offset": offset,
        "noise_intercept": float(intercept),
        "read_noise": read_noise,
        "background": background,
        "background_variation": variation,
        "illumination_falloff": falloff,
        "intensity": float(peak.mean()) if len(peak) else 1.0,
        "intensity_cv": _within_image_cv(peak, image_index[positive]),
        "edge_darkening": darkening,
        "texture_strength": float(np.median(texture[signal > 0])) if (signal > 0).any() else 0.0,
        "texture_variation": texture_sd,
        "psf_sigma": _psf_from_share(float(np.median(edge[:, 0]))),
        "exposure_variation": exposure_sd,
    }


def _psf_from_share(share: float) -> float:
    """The Gaussian PSF sigma (px) under which a step keeps ``share`` of its
    contrast between the first pixel layers inside and outside."""
    share = min(max(share, 1e-3), 0.999)
    return float(0.5 / stats.norm.ppf((1 + share) / 2))


def _psf_scale_exponent(edge: list, scale_effects: np.ndarray, scale_sd: float) -> float:
    """Least-squares slope of log PSF sigma (per image, from its edge share;
    ``edge`` is flat ``[share, image index, ...]``) against the images' log scale
    effects, in [0, 2]; 0 when the scale hardly varies (below 0.05)."""
    pairs = np.array(edge, dtype=np.float64).reshape(-1, 2)
    effects = scale_effects[pairs[:, 1].astype(np.intp)]
    keep = (pairs[:, 0] > 0) & (pairs[:, 0] < 1) & (effects != 0)
    if scale_sd < 0.05 or keep.sum() < 3 or np.ptp(effects[keep]) == 0:
        return 0.0
    log_psf = np.log([_psf_from_share(s) for s in pairs[keep, 0]])
    return float(np.clip(_line(effects[keep], log_psf)[0], 0.0, 2.0))


def _within_image_cv(values: np.ndarray, image_index: np.ndarray) -> float:
    """Mean over images of the coefficient of variation (ddof 1) of their
    ``values``, weighted by their count less one; 0 without an image of 2."""
    cvs, weights = [], []
    for i in np.unique(image_index):
        v = values[image_index == i]
        if len(v) >= 2 and v.mean() > 0:
            cvs.append(v.std(ddof=1) / v.mean())
            weights.append(len(v) - 1)
    return float(np.average(cvs, weights=weights)) if cvs else 0.0


def _between_images(values: np.ndarray, image_index: np.ndarray, keep: np.ndarray) -> float:
    """Standard deviation between images of log ``values`` (where ``keep`` and
    positive), by :func:`image_effects`."""
    keep = keep & (values > 0)
    ids = np.unique(image_index[keep])
    return image_effects([np.log(values[keep & (image_index == i)]) for i in ids])[1]


def _common_exposure(peak: np.ndarray, image_index: np.ndarray) -> tuple[np.ndarray, float]:
    """Objects' brightness (``peak``) with each image's exposure effect divided
    out, and the standard deviation of the log exposure between images;
    ``image_index`` says which image each object is in."""
    ids = np.unique(image_index)
    groups = [np.log(peak[image_index == i]) for i in ids]
    effects, between_sd = image_effects(groups)
    per_object = effects[np.searchsorted(ids, image_index)]
    return peak * np.exp(-per_object), between_sd
