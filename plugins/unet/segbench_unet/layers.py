"""Building blocks shared by the networks, for 2D and 3D alike.

Every network in this package is written once for ``dims`` = 2 or 3: the
layer constructors here pick the ``2d`` or ``3d`` torch class, and
:func:`pool_factors` decides per level which axes are down-sampled.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

#: A down-sampling factor per spatial axis, e.g. ``(1, 2, 2)`` (z kept, y and x halved).
Factors = tuple[int, ...]


def conv(dims: int, cin: int, cout: int, kernel: int | Sequence[int], **kwargs) -> nn.Module:
    """``nn.Conv2d`` or ``nn.Conv3d`` (keyword arguments passed through)."""
    return (nn.Conv2d if dims == 2 else nn.Conv3d)(cin, cout, kernel, **kwargs)


def conv_transpose(dims: int, cin: int, cout: int, factors: Factors) -> nn.Module:
    """Transposed convolution with kernel = stride = ``factors``: the input
    up-sampled by inserting zeros, then convolved; output ``factors`` times larger."""
    cls = nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose3d
    return cls(cin, cout, kernel_size=factors, stride=factors)


def batch_norm(dims: int, channels: int) -> nn.Module:
    return (nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d)(channels)


def dropout(dims: int, p: float) -> nn.Module:
    """Channel dropout (``Dropout2d``/``Dropout3d``); identity for ``p = 0``."""
    if p <= 0:
        return nn.Identity()
    return (nn.Dropout2d if dims == 2 else nn.Dropout3d)(p)


def max_pool(dims: int, factors: Factors, ceil_mode: bool = False) -> nn.Module:
    cls = nn.MaxPool2d if dims == 2 else nn.MaxPool3d
    return cls(kernel_size=factors, stride=factors, ceil_mode=ceil_mode)


def pool_factors(depth: int, dims: int, spacing: Sequence[float] | None = None) -> list[Factors]:
    """Down-sampling factor per level and axis (anisotropic where z is coarser).

    An axis is halved at a level unless its current voxel size is already at
    least twice the finest one (nnU-Net's rule), so a stack with a z step four
    times the pixel size keeps z for two levels, then pools all axes.

    Parameters
    ----------
    depth : int
        Number of down-sampling steps.
    dims : int
        2 or 3.
    spacing : sequence of float, optional
        Voxel size per axis in the image's order (``(dz, dy, dx)``); None: isotropic.

    Returns
    -------
    list of tuple of int
        ``depth`` tuples of ``dims`` factors, each 1 or 2.

    Examples
    --------
    >>> pool_factors(3, 3, (2.0, 0.5, 0.5))
    [(1, 2, 2), (1, 2, 2), (2, 2, 2)]
    """
    size = [1.0] * dims if spacing is None else [float(s) for s in spacing[-dims:]]
    out = []
    for _ in range(depth):
        finest = min(size)
        factors = tuple(2 if s / finest < 2 else 1 for s in size)
        size = [s * f for s, f in zip(size, factors)]
        out.append(factors)
    return out


def total_factors(levels: Sequence[Factors], dims: int) -> Factors:
    """Product of the per-level factors per axis: what image sizes must divide by."""
    total = [1] * dims
    for factors in levels:
        total = [t * f for t, f in zip(total, factors)]
    return tuple(total)


def center_crop(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Crop the spatial axes of ``x`` (N, C, *spatial) to ``shape``, centred."""
    slices = [slice(None), slice(None)]
    for have, want in zip(x.shape[2:], shape):
        start = (have - want) // 2
        slices.append(slice(start, start + want))
    return x[tuple(slices)]


def resize_to(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """(Bi/tri)linear resampling of the spatial axes of ``x`` to ``shape``."""
    if tuple(x.shape[2:]) == tuple(shape):
        return x
    mode = "bilinear" if x.ndim == 4 else "trilinear"
    return F.interpolate(x, size=tuple(shape), mode=mode, align_corners=False)
