"""Fluorescent spots inside objects (FISH dots, foci).

Each object carries a Poisson number of spots whose positions are drawn from a
Gaussian point cloud centred on the object's centre, with a covariance matrix
in lateral pixels squared (isotropic for round clouds, any symmetric positive
definite matrix for stretched ones; in 3D the z row and column are in lateral
pixels too). A position counts only when the pixel it falls in belongs to the
object: of four times as many draws as spots wanted, the first inside are
kept, so a small object may get fewer spots. A spot is a Gaussian
blob of ``spot_sigma`` pixels whose peak adds ``spot_intensity`` to the
object's signal, kept to pixels inside objects so the label image stays exact.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .layout import PlacedObject

#: candidate positions drawn per requested spot
_OVERSAMPLING = 4


def draw_spots(
    rng: np.random.Generator,
    objects: list[PlacedObject],
    labels: np.ndarray,
    mean_per_object: float,
    covariance: np.ndarray,
    axis_scale: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Spot positions and the object each lies in.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of counts and positions.
    objects : list of PlacedObject
        The objects (their ``label`` is the id in ``labels``).
    labels : ndarray of int
        The label image.
    mean_per_object : float
        Mean number of spots per object (Poisson).
    covariance : ndarray, shape (ndim, ndim)
        Covariance of the point cloud, lateral pixels squared.
    axis_scale : ndarray, shape (ndim,)
        Lateral pixels per pixel along each axis.

    Returns
    -------
    positions : ndarray of float, shape (k, ndim)
        Spot centres, pixel coordinates.
    owners : ndarray of int, shape (k,)
        The label of the object each spot lies in.
    """
    ndim = labels.ndim
    positions, owners = [np.empty((0, ndim))], [np.empty(0, dtype=np.int64)]
    if mean_per_object > 0:
        upper = np.asarray(labels.shape) - 1
        for obj in objects:
            wanted = rng.poisson(mean_per_object)
            if wanted == 0:
                continue
            cloud = rng.multivariate_normal(np.zeros(ndim), covariance, size=_OVERSAMPLING * wanted)
            candidates = obj.centre + cloud / axis_scale
            pixels = np.rint(candidates).astype(int)
            inside = np.all((pixels >= 0) & (pixels <= upper), axis=1)
            keep = np.flatnonzero(inside)
            keep = keep[labels[tuple(pixels[keep].T)] == obj.label][:wanted]
            positions.append(candidates[keep])
            owners.append(np.full(len(keep), obj.label, dtype=np.int64))
    return np.concatenate(positions), np.concatenate(owners)


def render_spots(
    positions: np.ndarray,
    labels: np.ndarray,
    intensity: float,
    sigma: float,
    axis_scale: np.ndarray,
) -> np.ndarray:
    """The spots' signal: Gaussian blobs of peak ``intensity`` and lateral
    standard deviation ``sigma`` pixels (``sigma / anisotropy`` along z), at the
    pixels nearest ``positions``, zero outside objects (float32, labels' shape)."""
    impulses = np.zeros(labels.shape, dtype=np.float32)
    if len(positions) == 0:
        return impulses
    np.add.at(impulses, tuple(np.rint(positions).astype(int).T), 1.0)
    if sigma > 0:
        sigmas = sigma / np.asarray(axis_scale, dtype=float)
        impulses = ndimage.gaussian_filter(impulses, sigmas, mode="constant")
        impulses /= _peak(sigmas)
    return np.where(labels > 0, impulses * intensity, 0).astype(np.float32)


def _peak(sigmas: np.ndarray) -> float:
    """Central value of the discrete Gaussian kernel of ``sigmas`` (unit mass), as
    ``gaussian_filter`` gives it for a float32 impulse: the product of the 1D
    kernels' central values, rounded to float32 after each axis as the filter
    rounds its passes (so no ``(8 sigma)**ndim`` impulse is ever allocated)."""
    value = np.float32(1.0)
    for sigma in sigmas:
        half = int(np.ceil(4 * sigma))
        impulse = np.zeros(2 * half + 1)
        impulse[half] = 1.0
        centre = ndimage.gaussian_filter1d(impulse, sigma, mode="constant")[half]
        value = np.float32(float(centre) * float(value))
    return float(value)
