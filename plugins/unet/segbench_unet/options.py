"""What the segmenters can be configured with, as data and arithmetic: no torch.

The choices (network variants, heads, losses, U2-Net sizes) and the shape
arithmetic (pooling factors per level, the sizes the original U-Net
produces), so that a segmenter checks its parameters, and ``segbench list``
describes it, without importing torch; the networks import them from here.
"""

from __future__ import annotations

from typing import Sequence

#: A down-sampling factor per spatial axis, e.g. ``(1, 2, 2)`` (z kept, y and x halved).
Factors = tuple[int, ...]

#: U-Net variants (:class:`segbench_unet.unet.UNet`)
VARIANTS = ("original", "padded")
#: losses (:mod:`segbench_unet.losses`)
LOSSES = ("ce", "dice", "ce_dice", "focal")
#: output heads: single-label or multi-label
HEADS = ("softmax", "sigmoid")

#: (height L, middle channels, output channels) of encoder stages 1..6 and decoder stages 5..1
#: (a height of 0 marks RSU-4F); decoder inputs are the concatenation of two outputs.
U2NET_CONFIGS: dict[str, dict[str, list[tuple[int, int, int]]]] = {
    "lite": {
        "encoder": [(7, 16, 64), (6, 16, 64), (5, 16, 64), (4, 16, 64), (0, 16, 64), (0, 16, 64)],
        "decoder": [(0, 16, 64), (4, 16, 64), (5, 16, 64), (6, 16, 64), (7, 16, 64)],
    },
    "full": {
        "encoder": [(7, 32, 64), (6, 32, 128), (5, 64, 256), (4, 128, 512), (0, 256, 512), (0, 256, 512)],
        "decoder": [(0, 256, 512), (4, 128, 256), (5, 64, 128), (6, 32, 64), (7, 16, 64)],
    },
}


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


def valid_input_size(output: int, factors: Sequence[int]) -> int | None:
    """Input size that gives ``output`` pixels along one axis of the original
    U-Net, or None when no input does (some pooled size would be fractional
    or a skip crop off-centre).

    Parameters
    ----------
    output : int
        Output size along the axis, pixels.
    factors : sequence of int
        That axis's pooling factor per level (top first).

    Examples
    --------
    >>> valid_input_size(388, [2, 2, 2, 2])   # the paper's 572 x 572 tile
    572
    >>> valid_input_size(100, [2, 2, 2, 2]) is None
    True
    """
    size = output
    decoder_inputs = []
    for f in factors:  # decoder, top level first: output = input - 4, input = f * level below
        size += 4
        if size % f:
            return None
        decoder_inputs.append(size)
        size //= f
    size += 4  # bottom block
    for level in reversed(range(len(factors))):
        size = size * factors[level]
        if (size - decoder_inputs[level]) % 2:
            return None  # the skip crop would be off-centre
        size += 4
    return size


def valid_output_size(minimum: int, factors: Sequence[int]) -> int:
    """Smallest output size >= ``minimum`` (and >= the product of ``factors``)
    the original U-Net can produce along one axis."""
    size = max(int(minimum), 1)
    while valid_input_size(size, factors) is None or size < _product(factors):
        size += 1
    return size


def _product(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= v
    return out
