"""Smooth random fields: fractal value noise and uneven illumination.

Value noise: standard normal values on a coarse lattice with spacing ``cell``
pixels (randomly shifted), interpolated to every pixel with cubic B-spline
weights. The interpolation is separable, one small dense matrix per axis, so a
512 x 512 field costs two matrix products. Fractal noise sums octaves whose
cells halve and whose amplitudes halve at each step (a lattice finer than one
pixel is used at one pixel).
"""

from __future__ import annotations

import numpy as np


def value_noise(rng: np.random.Generator, shape: tuple[int, ...], cell: np.ndarray) -> np.ndarray:
    """Smooth random field, zero mean, unit standard deviation.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the lattice values.
    shape : tuple of int
        Output shape.
    cell : ndarray, shape (ndim,)
        Lattice spacing along each axis, pixels (the correlation length).

    Returns
    -------
    ndarray of float32, shape ``shape``

    Examples
    --------
    >>> import numpy as np
    >>> field = value_noise(np.random.default_rng(0), (64, 64), np.array([8.0, 8.0]))
    >>> field.shape, round(float(field.std()), 3)
    ((64, 64), 1.0)
    """
    matrices = [_bspline_matrix(rng, n, c) for n, c in zip(shape, cell)]
    field = rng.standard_normal([m.shape[1] for m in matrices]).astype(np.float32)
    for axis, matrix in enumerate(matrices):
        field = np.moveaxis(np.tensordot(matrix, field, axes=([1], [axis])), 0, axis)
    return _standardise(field)


def fractal_noise(
    rng: np.random.Generator, shape: tuple[int, ...], cell: np.ndarray, octaves: int
) -> np.ndarray:
    """Sum of ``octaves`` value-noise fields, the first with lattice spacing
    ``cell`` pixels, each next one with half the spacing and half the amplitude;
    zero mean, unit standard deviation, float32."""
    total = np.zeros(shape, dtype=np.float32)
    for octave in range(octaves):
        total += value_noise(rng, shape, np.asarray(cell) / 2**octave) / 2**octave
    return _standardise(total)


def illumination(rng: np.random.Generator, shape: tuple[int, ...], falloff: float) -> np.ndarray:
    """Uneven illumination: a quadratic fall-off around a random centre.

    ``1 - falloff * (d / d_max) ** 2``, ``d`` the lateral distance from a
    centre drawn uniformly in the middle half of the field of view and ``d_max``
    the largest such distance in the image; constant along z.

    Returns
    -------
    ndarray of float32
        Shape ``(Y, X)``, broadcastable to the image; 1 at the centre,
        ``1 - falloff`` at the farthest pixel.
    """
    lateral = shape[-2:]
    centre = [rng.uniform(n / 4, 3 * n / 4) for n in lateral]
    yy, xx = np.ogrid[: lateral[0], : lateral[1]]
    squared = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2
    return (1 - falloff * squared / squared.max()).astype(np.float32)


def bspline3(t: np.ndarray) -> np.ndarray:
    """The cubic B-spline kernel (support ``|t| < 2``, integral 1).

    Examples
    --------
    >>> import numpy as np
    >>> bspline3(np.array([0.0, 1.0, 2.0])).round(4).tolist()
    [0.6667, 0.1667, 0.0]
    """
    t = np.abs(t)
    near = 2 / 3 - t**2 + t**3 / 2
    far = np.maximum(2 - t, 0) ** 3 / 6
    return np.where(t < 1, near, far)


def _bspline_matrix(rng: np.random.Generator, n: int, cell: float) -> np.ndarray:
    """Weights (n, k) of k lattice nodes at each of n pixels, cubic B-spline;
    lattices finer than one pixel are coarsened to one pixel."""
    cell = max(float(cell), 1.0)
    shift = rng.uniform(0, cell)
    n_nodes = int(np.ceil(n / cell)) + 4
    position = (np.arange(n) + shift) / cell + 1  # node k sits at position k
    first = np.floor(position).astype(int) - 1  # the 4 nodes within reach
    nodes = first[:, None] + np.arange(4)
    matrix = np.zeros((n, n_nodes), dtype=np.float32)
    matrix[np.arange(n)[:, None], nodes] = bspline3(position[:, None] - nodes)
    return matrix


def _standardise(field: np.ndarray) -> np.ndarray:
    field = field - field.mean()
    std = field.std()
    return field / std if std > 0 else field
