"""Image formation after the fluorophores: PSF blur and the camera.

The point-spread function is a Gaussian, separable, with its own width along z
in 3D. The camera turns the expected number of photo-electrons per pixel into
digital numbers::

    ADU = round(gain * (Poisson(expected) + Normal(0, read_noise)) + offset)

clipped to ``[0, 65535]`` and stored as uint16 (``expected`` is capped at
``MAX_EXPECTED`` first: far past saturation, where only the sampler could fail).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: the Gaussian kernel is cut at this many standard deviations
_TRUNCATE = 3.5
#: expected photo-electrons per pixel are capped here before the shot noise is drawn
MAX_EXPECTED = 1e15


def blur(image: np.ndarray, sigma: tuple[float, ...]) -> np.ndarray:
    """Gaussian PSF blur with per-axis standard deviations ``sigma`` (pixels);
    axes with ``sigma == 0`` are left alone. Edges are mirrored.

    Examples
    --------
    >>> import numpy as np
    >>> point = np.zeros((21, 21), np.float32); point[10, 10] = 1
    >>> round(float(blur(point, (1.0, 1.0)).sum()), 4)
    1.0
    """
    if not any(sigma):
        return image
    return ndimage.gaussian_filter(image, sigma, mode="mirror", truncate=_TRUNCATE)


def expose(
    rng: np.random.Generator,
    expected: np.ndarray,
    gain: float,
    read_noise: float,
    offset: float,
) -> np.ndarray:
    """Simulate the camera.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of shot and read noise.
    expected : ndarray of float
        Expected photo-electrons per pixel, >= 0.
    gain : float
        Digital numbers (ADU) per photo-electron.
    read_noise : float
        Standard deviation of the Gaussian read noise, electrons.
    offset : float
        Camera baseline added to every pixel, ADU.

    Returns
    -------
    ndarray of uint16, the shape of ``expected``

    Examples
    --------
    >>> import numpy as np
    >>> image = expose(np.random.default_rng(0), np.zeros((4, 4)), 2.0, 0.0, 100.0)
    >>> image.dtype.name, int(image.min()), int(image.max())
    ('uint16', 100, 100)
    """
    # capped far past saturation at any gain >= 1e-9 (the Poisson sampler stops near 9e18)
    electrons = rng.poisson(np.minimum(expected, MAX_EXPECTED)).astype(np.float32)
    if read_noise > 0:
        electrons += rng.normal(0.0, read_noise, size=expected.shape).astype(np.float32)
    counts = np.rint(gain * electrons + offset)
    return np.clip(counts, 0, np.iinfo(np.uint16).max).astype(np.uint16)
