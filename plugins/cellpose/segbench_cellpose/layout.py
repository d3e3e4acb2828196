"""Image layout: which axes an array has, and how cellpose is told about them."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from segbench.kit import ParameterError

#: Most channels a cellpose 3 image has (R, G, B); a longer last axis is Z, X or Y.
MAX_CHANNELS = 3


def image_axes(image: np.ndarray) -> str:
    """The axes of an image as segbench passes it: ``YX``, ``YXC``, ``ZYX`` or ``ZYXC``.

    A 3-d array whose last axis has at most three entries is ``YXC`` (channels
    last, the segbench convention); any other 3-d array is a ``ZYX`` stack.

    Examples
    --------
    >>> import numpy as np
    >>> image_axes(np.zeros((64, 64))), image_axes(np.zeros((64, 64, 2)))
    ('YX', 'YXC')
    >>> image_axes(np.zeros((16, 64, 64))), image_axes(np.zeros((16, 64, 64, 3)))
    ('ZYX', 'ZYXC')
    """
    shape = np.shape(image)
    if len(shape) == 2:
        return "YX"
    if len(shape) == 3:
        return "YXC" if shape[-1] <= MAX_CHANNELS else "ZYX"
    if len(shape) == 4 and shape[-1] <= MAX_CHANNELS:
        return "ZYXC"
    raise ValueError(
        f"image: expected YX, YXC, ZYX or ZYXC (at most {MAX_CHANNELS} channels, last), "
        f"got shape {shape}"
    )


def cellpose_axes(axes: str) -> dict[str, int | None]:
    """``channel_axis`` and ``z_axis`` arguments of cellpose for an image with ``axes``.

    Examples
    --------
    >>> cellpose_axes("ZYXC")
    {'channel_axis': 3, 'z_axis': 0}
    >>> cellpose_axes("YX")
    {'channel_axis': None, 'z_axis': None}
    """
    return {
        "channel_axis": axes.index("C") if "C" in axes else None,
        "z_axis": axes.index("Z") if "Z" in axes else None,
    }


def anisotropy_from_spacing(spacing: Sequence[float] | None) -> float | None:
    """Cellpose's ``anisotropy`` (Z step over in-plane pixel size) from a voxel size.

    Parameters
    ----------
    spacing : sequence of float or None
        ``(dz, dy, dx)`` in any one physical unit; a 2-d ``(dy, dx)`` or None
        gives None (no anisotropy).

    Returns
    -------
    float or None
        ``dz / sqrt(dy * dx)``: 2.0 when planes are twice as far apart as pixels.

    Examples
    --------
    >>> anisotropy_from_spacing((2.0, 0.5, 0.5))
    4.0
    >>> anisotropy_from_spacing((0.5, 0.5)) is None
    True
    """
    if spacing is None:
        return None
    values = [float(v) for v in spacing]
    if len(values) not in (2, 3) or not all(v > 0 and math.isfinite(v) for v in values):
        raise ParameterError(
            f"spacing: expected 2 or 3 positive voxel sizes (dz, dy, dx), got {tuple(spacing)}"
        )
    if len(values) == 2:
        return None
    dz, dy, dx = values
    return dz / math.sqrt(dy * dx)
