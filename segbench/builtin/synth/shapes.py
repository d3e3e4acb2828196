"""Star-convex object shapes and their rasterisation.

A shape is a radial function ``R(u)``: the distance from the object's centre to
its boundary along the unit direction ``u``. In 2D it is an ellipse whose radius
is multiplied by ``1 + irregularity * s(theta)``, ``s`` a periodic cubic spline
through ``n_control_points`` normally distributed values at equally spaced
angles. In 3D it is an ellipsoid with a random orientation, perturbed the same
way by control values at ``n_control_points`` directions spread evenly over the
sphere, interpolated with a normalised von Mises-Fisher kernel.

Distances are in *lateral pixels*: a 3D object's z offsets are multiplied by
the anisotropy ``z_step / pixel_size`` before ``R`` is evaluated, so an object
keeps its physical shape on an anisotropic voxel grid.

A pixel (voxel) belongs to an object when its centre lies within ``R`` of the
object's centre along the pixel's direction: the rasterised region is exact, not
anti-aliased.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from .fields import bspline3

#: angular samples of a 2D radial function (linear interpolation between them)
N_ANGLES = 256
#: the smallest factor the perturbation may scale a radius by
_MIN_PERTURBATION = 0.4


@dataclass(frozen=True)
class StarShape2D:
    """A star-convex 2D shape given by its radius at equally spaced angles.

    Attributes
    ----------
    radii : ndarray, shape (256,)
        Boundary distance in pixels at angles ``2 pi k / 256`` (``arctan2(dy, dx)``).
    """

    radii: np.ndarray

    @property
    def extent(self) -> float:
        """Largest boundary distance, pixels."""
        return float(self.radii.max())

    def radius_along(self, offsets: tuple[np.ndarray, ...]) -> np.ndarray:
        """Boundary distance along the directions of ``offsets = (dy, dx)``."""
        dy, dx = offsets
        position = (np.arctan2(dy, dx) % (2 * np.pi)) * (N_ANGLES / (2 * np.pi))
        lower = np.floor(position).astype(np.intp)
        frac = position - lower
        lower %= N_ANGLES
        upper = (lower + 1) % N_ANGLES
        return self.radii[lower] * (1 - frac) + self.radii[upper] * frac


@dataclass(frozen=True)
class StarShape3D:
    """A star-convex 3D shape: a rotated, perturbed ellipsoid.

    Attributes
    ----------
    rotation : ndarray, shape (3, 3)
        Columns are the ellipsoid's axes in ``(z, y, x)`` coordinates.
    semi_axes : ndarray, shape (3,)
        Semi-axis lengths, lateral pixels.
    directions : ndarray, shape (k, 3)
        Unit control directions of the perturbation.
    values : ndarray, shape (k,)
        Perturbation at each control direction (relative, already scaled by
        the irregularity).
    concentration : float
        von Mises-Fisher concentration of the interpolation kernel.
    """

    rotation: np.ndarray
    semi_axes: np.ndarray
    directions: np.ndarray
    values: np.ndarray
    concentration: float

    @property
    def extent(self) -> float:
        """An upper bound of the boundary distance, lateral pixels."""
        return float(self.semi_axes.max() * max(1.0 + np.abs(self.values).max(), 1.0))

    def radius_along(self, offsets: tuple[np.ndarray, ...]) -> np.ndarray:
        """Boundary distance along the directions of ``offsets = (dz, dy, dx)``
        (z already in lateral-pixel units)."""
        vectors = np.stack(np.broadcast_arrays(*offsets), axis=-1)
        norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
        unit = vectors / np.where(norm > 0, norm, 1.0)
        body = unit @ self.rotation
        ellipsoid = 1.0 / np.sqrt(np.sum((body / self.semi_axes) ** 2, axis=-1))
        weights = np.exp(self.concentration * (unit @ self.directions.T - 1.0))
        perturbation = (weights @ self.values) / weights.sum(axis=-1)
        return ellipsoid * np.maximum(1.0 + perturbation, _MIN_PERTURBATION)


StarShape = StarShape2D | StarShape3D


def random_shape(
    rng: np.random.Generator,
    ndim: int,
    radius: float,
    aspect_ratio: float,
    irregularity: float,
    n_control_points: int,
) -> StarShape:
    """Draw one star-convex shape.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the orientation and the perturbation.
    ndim : {2, 3}
        Dimensionality.
    radius : float
        Equivalent radius of the unperturbed ellipse (ellipsoid), pixels: its
        area (volume) equals that of a disk (ball) of this radius.
    aspect_ratio : float
        Major over minor axis, >= 1.
    irregularity : float
        Standard deviation of the relative radial perturbation.
    n_control_points : int
        Number of perturbation control points (angles in 2D, directions in 3D).

    Examples
    --------
    >>> import numpy as np
    >>> shape = random_shape(np.random.default_rng(0), 2, 10.0, 1.0, 0.0, 8)
    >>> bool(np.allclose(shape.radii, 10.0))
    True
    """
    values = irregularity * rng.standard_normal(n_control_points)
    if ndim == 2:
        return _shape_2d(rng, radius, aspect_ratio, values)
    return _shape_3d(rng, radius, aspect_ratio, values)


def _shape_2d(rng, radius, aspect_ratio, values) -> StarShape2D:
    major, minor = radius * np.sqrt(aspect_ratio), radius / np.sqrt(aspect_ratio)
    angles = np.linspace(0, 2 * np.pi, N_ANGLES, endpoint=False)
    relative = angles - rng.uniform(0, np.pi)
    ellipse = major * minor / np.hypot(minor * np.cos(relative), major * np.sin(relative))
    phase = rng.uniform(0, 1)  # of the first knot, in knot spacings
    perturbation = periodic_spline(values, angles * len(values) / (2 * np.pi) - phase)
    return StarShape2D(ellipse * np.maximum(1.0 + perturbation, _MIN_PERTURBATION))


def periodic_spline(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The periodic cubic spline through ``values`` at knots ``0, 1, ..., k-1``
    (period ``k``), evaluated at ``positions`` (in knot units).

    Computed as a cubic B-spline whose coefficients solve the circulant
    interpolation system by FFT.

    Examples
    --------
    >>> import numpy as np
    >>> values = np.array([0.0, 1.0, 0.0, -1.0])
    >>> periodic_spline(values, np.arange(6.0)).round(6).tolist()
    [0.0, 1.0, 0.0, -1.0, 0.0, 1.0]
    """
    k = len(values)
    kernel = np.zeros(k)
    kernel[[0, 1, -1]] = [2 / 3, 1 / 6, 1 / 6]
    coefficients = np.fft.irfft(np.fft.rfft(values) / np.fft.rfft(kernel), n=k)
    first = np.floor(positions).astype(int) - 1
    nodes = first[:, None] + np.arange(4)
    return np.sum(coefficients[nodes % k] * bspline3(positions[:, None] - nodes), axis=1)


def _shape_3d(rng, radius, aspect_ratio, values) -> StarShape3D:
    semi_axes = radius * np.array([np.sqrt(aspect_ratio), 1.0 / np.sqrt(aspect_ratio), 1.0])
    rotation = Rotation.random(random_state=rng).as_matrix()
    spread = Rotation.random(random_state=rng).as_matrix()
    directions = _fibonacci_sphere(len(values)) @ spread.T
    return StarShape3D(rotation, semi_axes, directions, values, len(values) / 2.0)


def _fibonacci_sphere(n: int) -> np.ndarray:
    """``n`` nearly evenly spread unit vectors, shape (n, 3)."""
    k = np.arange(n) + 0.5
    polar = np.arccos(1 - 2 * k / n)
    azimuth = np.pi * (1 + 5**0.5) * k
    return np.stack(
        [np.cos(polar), np.sin(polar) * np.sin(azimuth), np.sin(polar) * np.cos(azimuth)], axis=1
    )


@dataclass(frozen=True)
class Raster:
    """An object rasterised inside its bounding box.

    Attributes
    ----------
    box : tuple of slice
        The bounding box in the image, clipped to it.
    mask : ndarray of bool
        Pixels of the box inside the object.
    depth : ndarray of float
        Distance from the centre over the boundary distance, in ``[0, 1]``
        where ``mask`` (1 on the boundary); used for intensity profiles.
    """

    box: tuple[slice, ...]
    mask: np.ndarray
    depth: np.ndarray


def rasterise(
    shape: StarShape,
    centre: np.ndarray,
    image_shape: tuple[int, ...],
    axis_scale: np.ndarray,
    grow: float = 0.0,
) -> Raster:
    """The pixels whose centres lie inside ``shape`` placed at ``centre``.

    Parameters
    ----------
    shape : StarShape2D or StarShape3D
        The object.
    centre : ndarray, shape (ndim,)
        Centre in pixel coordinates (may be fractional, may lie outside).
    image_shape : tuple of int
        The image the box is clipped to.
    axis_scale : ndarray, shape (ndim,)
        Lateral pixels per pixel along each axis (the z anisotropy in 3D, 1 for
        y and x).
    grow : float
        Grow the boundary outwards by this many lateral pixels (for gap checks).

    Examples
    --------
    >>> import numpy as np
    >>> disk = StarShape2D(np.full(256, 3.0))
    >>> r = rasterise(disk, np.array([5.0, 5.0]), (11, 11), np.ones(2))
    >>> int(r.mask.sum())  # pixel centres within 3 px of (5, 5)
    29
    """
    reach = (shape.extent + grow) / axis_scale
    low = np.maximum(np.floor(centre - reach).astype(int), 0)
    high = np.minimum(np.ceil(centre + reach).astype(int) + 1, image_shape)
    box = tuple(slice(lo, max(lo, hi)) for lo, hi in zip(low, high))
    offsets = tuple(
        (np.arange(s.start, s.stop) - c) * a
        for s, c, a in zip(box, centre, axis_scale)
    )
    grids = np.ix_(*offsets)
    distance = np.sqrt(sum(g**2 for g in grids))
    boundary = shape.radius_along(grids) + grow
    return Raster(box, distance <= boundary, distance / boundary)
