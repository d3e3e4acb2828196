"""From an image as read from a dataset to StarDist's network input.

Plain numpy functions, no TensorFlow: percentile normalisation (CSBDeep's),
axes of an image for a 2D or 3D model, the optional rescaling (``scale``), and
the number of tiles a large image is cut into.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import ndimage as ndi

from segbench.errors import SegbenchError

#: Largest tile edge (pixels) per spatial axis before an image is predicted in tiles:
#: a 1024 x 1024 2D tile or a 128^3 3D tile keeps the U-Net's activations near 1 GB.
MAX_TILE_EDGE = {2: 1024, 3: 128}


def image_axes(image: np.ndarray, n_dim: int, n_channel_in: int) -> str:
    """Axes of ``image`` for a model with ``n_dim`` spatial axes.

    Parameters
    ----------
    image : ndarray
        ``(Y, X)`` / ``(Z, Y, X)``, or with channels last.
    n_dim : {2, 3}
        Spatial dimensions of the model.
    n_channel_in : int
        Input channels of the model.

    Returns
    -------
    str
        ``'YX'``, ``'ZYX'``, ``'YXC'`` or ``'ZYXC'``.

    Examples
    --------
    >>> import numpy as np
    >>> image_axes(np.zeros((8, 8)), 2, 1)
    'YX'
    >>> image_axes(np.zeros((8, 8, 3)), 2, 3)
    'YXC'
    """
    spatial = "YX" if n_dim == 2 else "ZYX"
    if image.ndim == n_dim and n_channel_in == 1:
        return spatial
    if image.ndim == n_dim + 1 and image.shape[-1] == n_channel_in:
        return spatial + "C"
    expected = f"({', '.join(spatial)})" if n_channel_in == 1 else f"({', '.join(spatial)}, {n_channel_in})"
    raise SegbenchError(
        f"stardist: image of shape {tuple(image.shape)} does not fit a {n_dim}D model with "
        f"{n_channel_in} input channel(s); give images of shape {expected}"
    )


def normalize_image(image: np.ndarray, axes: str, pmin: float, pmax: float) -> np.ndarray:
    """Percentile normalisation as StarDist's examples do it, float32.

    ``(x - p_min) / (p_max - p_min + 1e-20)`` without clipping
    (``csbdeep.utils.normalize``), over the whole image, or per channel when
    ``axes`` ends in ``C``.

    Examples
    --------
    >>> import numpy as np
    >>> x = normalize_image(np.arange(101, dtype=np.uint16).reshape(1, 101), "YX", 0, 100)
    >>> float(x.min()), float(x.max()), x.dtype.name
    (0.0, 1.0, 'float32')
    """
    from csbdeep.utils import normalize

    axis = tuple(range(len(axes) - 1)) if axes.endswith("C") else None
    return normalize(image, pmin, pmax, axis=axis)


def zoom_factors(scale: tuple[float, ...] | None, axes: str) -> tuple[float, ...] | None:
    """Per-axis zoom factors for ``scale`` (spatial axes only, channel axis 1)."""
    if scale is None:
        return None
    spatial = axes.replace("C", "")
    if len(scale) == 1:
        scale = scale * len(spatial)
    if len(scale) != len(spatial):
        raise SegbenchError(
            f"stardist: scale has {len(scale)} values but the image has {len(spatial)} spatial "
            f"axes ({spatial}); give one value or one per axis"
        )
    return tuple(scale) + ((1.0,) if axes.endswith("C") else ())


def rescale(x: np.ndarray, factors: tuple[float, ...] | None) -> np.ndarray:
    """Linear zoom by ``factors`` (as ``predict_instances(scale=...)`` does), or ``x``."""
    if factors is None or all(f == 1 for f in factors):
        return x
    return ndi.zoom(x, factors, order=1)


def tile_counts(shape: Sequence[int], axes: str, n_tiles: tuple[int, ...] | None) -> tuple[int, ...]:
    """Tiles per axis of the network input (1 for the channel axis).

    Parameters
    ----------
    shape : sequence of int
        Shape of the (normalised, rescaled) network input.
    axes : str
        Its axes, e.g. ``'YX'`` or ``'ZYXC'``.
    n_tiles : tuple of int or None
        Tiles per spatial axis (one value for all, or one per axis); None cuts
        each spatial axis into pieces of at most :data:`MAX_TILE_EDGE` pixels.

    Examples
    --------
    >>> tile_counts((2048, 512), "YX", None)
    (2, 1)
    >>> tile_counts((64, 300, 300, 2), "ZYXC", (1, 2, 2))
    (1, 2, 2, 1)
    """
    spatial = axes.replace("C", "")
    if n_tiles is None:
        edge = MAX_TILE_EDGE[len(spatial)]
        counts = tuple(max(1, math.ceil(s / edge)) for s in shape[: len(spatial)])
    elif len(n_tiles) == 1:
        counts = n_tiles * len(spatial)
    elif len(n_tiles) == len(spatial):
        counts = tuple(n_tiles)
    else:
        raise SegbenchError(
            f"stardist: n_tiles has {len(n_tiles)} values but the image has {len(spatial)} "
            f"spatial axes ({spatial}); give one value or one per axis"
        )
    return counts + ((1,) if axes.endswith("C") else ())
