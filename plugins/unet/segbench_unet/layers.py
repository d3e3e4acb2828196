"""Building blocks shared by the networks, for 2D and 3D alike.

Every network in this package is written once for ``dims`` = 2 or 3: the
layer constructors here pick the ``2d`` or ``3d`` torch class, and
:func:`segbench_unet.options.pool_factors` decides per level which axes are down-sampled.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .options import Factors, pool_factors, total_factors  # noqa: F401 - the networks use them as layers.*


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
