"""Fluorescent spots from 2D Gaussian point clouds (the original method's
"Points" and "Combine" steps).

*Points*: each cloud has a centre (a random pixel inside a cell, or anywhere)
and draws its spot positions from a 2D normal distribution around it, round
(a variance) or stretched (a 2x2 covariance matrix, pixels squared, axes
``(y, x)``). *Rendering*: every position becomes a diffraction-limited spot,
approximated by a Gaussian point spread function of standard deviation
``sigma`` pixels with unit peak, evaluated at the sub-pixel position.
*Combine*: the spot image, scaled to a peak ``amplitude`` in image intensity
units, is added to the cell image (or merged by maximum), clipped to the
image dtype's range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segbench.kit import ParameterError

__all__ = [
    "SpotParams",
    "covariance_matrix",
    "spot_positions",
    "points_mask",
    "render_spots",
    "combine",
    "add_spots",
]

#: rounds of redrawing positions that fell outside their cell (or the image)
_MAX_REDRAWS = 20


def covariance_matrix(covariance: float | np.ndarray, name: str = "covariance") -> np.ndarray:
    """A 2x2 symmetric positive definite matrix from a variance (round cloud) or a matrix;
    :class:`segbench.kit.ParameterError` (one line naming ``name``) otherwise.

    Examples
    --------
    >>> covariance_matrix(4.0).tolist()
    [[4.0, 0.0], [0.0, 4.0]]
    """
    cov = np.asarray(covariance, dtype=np.float64)
    if cov.ndim == 0:
        if not cov > 0:
            raise ParameterError(f"{name}: a variance must be > 0, got {float(cov)}")
        return np.eye(2) * float(cov)
    if cov.shape != (2, 2):
        raise ParameterError(f"{name}: expected a number or a 2x2 matrix, got shape {cov.shape}")
    if not np.allclose(cov, cov.T):
        raise ParameterError(f"{name}: the 2x2 matrix must be symmetric, got {cov.tolist()}")
    if np.linalg.eigvalsh(cov).min() <= 0:
        raise ParameterError(f"{name}: the 2x2 matrix must be positive definite, got {cov.tolist()}")
    return cov


@dataclass(frozen=True)
class SpotParams:
    """Spot settings.

    Attributes
    ----------
    n_clouds : int
        Point clouds per image (0 = no spots).
    points_per_cloud : int
        Spots per cloud (fewer when positions keep falling outside the allowed area).
    covariance : float or 2x2 array
        Spread of a cloud, pixels squared, axes ``(y, x)``.
    sigma : float
        Standard deviation of the Gaussian PSF, pixels (> 0).
    amplitude : float
        Peak intensity a single spot adds, image units (>= 0).
    inside_cells : bool
        Clouds centred on a random cell pixel, every spot inside that cell;
        else centred anywhere, spots anywhere in the image.
    mode : {"add", "max"}
        How spots combine with the cell image.
    """

    n_clouds: int = 0
    points_per_cloud: int = 20
    covariance: float | tuple = 4.0
    sigma: float = 1.0
    amplitude: float = 100.0
    inside_cells: bool = True
    mode: str = "add"

    def __post_init__(self):
        if self.n_clouds < 0 or self.points_per_cloud < 0:
            raise ValueError(f"n_clouds, points_per_cloud: must be >= 0, got {self.n_clouds}, {self.points_per_cloud}")
        covariance_matrix(self.covariance)
        if not self.sigma > 0:
            raise ValueError(f"sigma: must be > 0 pixels, got {self.sigma}")
        if self.amplitude < 0:
            raise ValueError(f"amplitude: must be >= 0, got {self.amplitude}")
        if self.mode not in ("add", "max"):
            raise ValueError(f"mode: must be 'add' or 'max', got {self.mode!r}")


def spot_positions(labels: np.ndarray, rng: np.random.Generator, n_clouds: int, points_per_cloud: int,
                   covariance: float | np.ndarray, inside_cells: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Draw spot positions from Gaussian point clouds.

    Parameters
    ----------
    labels : ndarray
        ``(H, W)`` instance label image, 0 = background.
    rng : numpy.random.Generator
    n_clouds, points_per_cloud : int
    covariance : float or (2, 2) array
        Pixels squared, axes ``(y, x)``.
    inside_cells : bool
        Centre each cloud on a uniformly drawn cell pixel and keep its spots in
        that cell; else centre it uniformly in the image and keep spots in the image.
        Positions outside are redrawn (at most 20 rounds, then dropped).

    Returns
    -------
    positions : ndarray
        ``(k, 2)`` float64 ``(y, x)`` pixel coordinates (pixel centres at integers).
    owners : ndarray
        ``(k,)`` label under each position (0 where ``inside_cells`` is False and
        the spot lies on background).

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((32, 32), int); labels[8:24, 8:24] = 1
    >>> pos, owners = spot_positions(labels, np.random.default_rng(0), 2, 10, 4.0)
    >>> pos.shape, set(owners.tolist())
    ((20, 2), {1})
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels: expected a 2D label image, got shape {labels.shape}")
    cov = covariance_matrix(covariance)
    upper = np.array(labels.shape) - 1
    foreground = np.argwhere(labels > 0)
    positions, owners = [np.empty((0, 2))], [np.empty(0, dtype=labels.dtype)]
    if inside_cells and len(foreground) == 0:
        return positions[0], owners[0]
    for _ in range(n_clouds):
        if inside_cells:
            centre = foreground[rng.integers(len(foreground))].astype(np.float64)
            target = labels[tuple(centre.astype(int))]
        else:
            centre = rng.uniform(0, 1, 2) * upper
            target = None
        kept = np.empty((0, 2))
        for _ in range(_MAX_REDRAWS):
            need = points_per_cloud - len(kept)
            if need == 0:
                break
            candidates = rng.multivariate_normal(centre, cov, size=need)
            pixels = np.rint(candidates).astype(int)
            ok = np.all((pixels >= 0) & (pixels <= upper), axis=1)
            if target is not None:
                ok[ok] = labels[tuple(pixels[ok].T)] == target
            kept = np.concatenate([kept, candidates[ok]])
        positions.append(kept)
        owners.append(labels[tuple(np.rint(kept).astype(int).T)])
    return np.concatenate(positions), np.concatenate(owners)


def points_mask(positions: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Binary spot mask: True at the pixel nearest each position (``(H, W)`` bool)."""
    mask = np.zeros(shape, dtype=bool)
    if len(positions):
        pixels = np.rint(positions).astype(int)
        inside = np.all((pixels >= 0) & (pixels < np.array(shape)), axis=1)
        mask[tuple(pixels[inside].T)] = True
    return mask


def render_spots(positions: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Sum of Gaussian spots ``exp(-|p - c|^2 / (2 sigma^2))`` (unit peak) at sub-pixel positions.

    Parameters
    ----------
    positions : ndarray
        ``(k, 2)`` ``(y, x)`` coordinates.
    shape : (int, int)
    sigma : float
        PSF standard deviation, pixels; each spot is evaluated within ``4 sigma``.

    Returns
    -------
    ndarray
        ``(H, W)`` float32.

    Examples
    --------
    >>> import numpy as np
    >>> img = render_spots(np.array([[5.0, 5.0]]), (11, 11), 1.0)
    >>> float(img[5, 5]), round(float(img[5, 6]), 4)
    (1.0, 0.6065)
    """
    if not sigma > 0:
        raise ValueError(f"sigma: must be > 0 pixels, got {sigma}")
    image = np.zeros(shape, dtype=np.float64)
    radius = int(np.ceil(4 * sigma))
    for y, x in np.asarray(positions, dtype=np.float64).reshape(-1, 2):
        y0, y1 = max(int(np.floor(y)) - radius, 0), min(int(np.ceil(y)) + radius + 1, shape[0])
        x0, x1 = max(int(np.floor(x)) - radius, 0), min(int(np.ceil(x)) + radius + 1, shape[1])
        if y0 >= y1 or x0 >= x1:
            continue
        gy = np.exp(-((np.arange(y0, y1) - y) ** 2) / (2 * sigma**2))
        gx = np.exp(-((np.arange(x0, x1) - x) ** 2) / (2 * sigma**2))
        image[y0:y1, x0:x1] += gy[:, None] * gx[None, :]
    return image.astype(np.float32)


def combine(image: np.ndarray, spots: np.ndarray, amplitude: float, mode: str = "add") -> np.ndarray:
    """Composite a unit-peak spot image onto a cell image.

    ``add``: ``image + amplitude * spots``; ``max``: ``maximum(image, base + amplitude * spots)``
    with ``base`` the image's median (the spots' own background level). Integer
    images are rounded and clipped to their dtype's range; the dtype is kept.
    """
    image = np.asarray(image)
    base = image.astype(np.float64)
    if mode == "add":
        out = base + amplitude * spots
    elif mode == "max":
        out = np.maximum(base, np.median(base) + amplitude * spots)
    else:
        raise ValueError(f"mode: must be 'add' or 'max', got {mode!r}")
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        return np.clip(np.rint(out), info.min, info.max).astype(image.dtype)
    return out.astype(image.dtype)


def add_spots(image: np.ndarray, labels: np.ndarray, rng: np.random.Generator, params: SpotParams) -> np.ndarray:
    """Draw point clouds, render them, and combine them with ``image`` (its dtype kept)."""
    if params.n_clouds == 0:
        return image
    positions, _ = spot_positions(labels, rng, params.n_clouds, params.points_per_cloud,
                                  params.covariance, params.inside_cells)
    return combine(image, render_spots(positions, labels.shape, params.sigma), params.amplitude, params.mode)
