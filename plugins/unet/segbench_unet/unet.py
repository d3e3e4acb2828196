"""U-Net (Ronneberger, Fischer and Brox, MICCAI 2015), 2D and 3D.

Two variants of one encoder-decoder:

``original``
    As published: two unpadded ("valid") 3x3 convolutions with ReLU per
    level, 2x2 max pooling, drop-out at the end of the contracting path (the
    deepest encoder level and the bottom), a 2x2 up-convolution halving the
    channels, the encoder's feature map centre-cropped to the decoder's size
    before the skip concatenation, and a 1x1 convolution to the classes. The
    output is smaller than the input by :meth:`UNet.margin` on each side;
    :func:`segbench_unet.tiling.predict_tiled` feeds mirror-padded tiles.
``padded``
    What most people train today: padded ("same") convolutions so the output
    has the input's size, batch normalisation after every convolution instead
    of drop-out, optionally residual blocks (``residual=True``).

Channels double per level from ``base_channels`` (64 in the paper).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from . import layers
from .options import VARIANTS, Factors, valid_input_size, valid_output_size  # noqa: F401 - re-exported


class ConvBlock(nn.Module):
    """Two 3x3 convolutions with ReLU; batch norm and padding in the padded variant.

    With ``residual=True`` (padded only) the block's input, projected by a
    1x1 convolution when the widths differ, is added before the last ReLU.
    """

    def __init__(self, dims: int, cin: int, cout: int, padded: bool, residual: bool = False):
        super().__init__()
        pad = 1 if padded else 0
        self.conv1 = layers.conv(dims, cin, cout, 3, padding=pad, bias=not padded)
        self.conv2 = layers.conv(dims, cout, cout, 3, padding=pad, bias=not padded)
        self.norm1 = layers.batch_norm(dims, cout) if padded else nn.Identity()
        self.norm2 = layers.batch_norm(dims, cout) if padded else nn.Identity()
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = None
        if residual:
            self.shortcut = (
                nn.Identity() if cin == cout
                else nn.Sequential(layers.conv(dims, cin, cout, 1, bias=False), layers.batch_norm(dims, cout))
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        if self.shortcut is not None:
            y = y + self.shortcut(x)
        return self.relu(y)


class UNet(nn.Module):
    """U-Net, ``original`` (valid convolutions) or ``padded``.

    Parameters
    ----------
    dims : int
        2 (input ``(N, C, Y, X)``) or 3 (``(N, C, Z, Y, X)``).
    in_channels, out_channels : int
        Image channels; output channels (classes), logits.
    depth : int
        Number of poolings (4 in the paper: five resolution levels).
    base_channels : int
        Feature channels of the first level (64 in the paper), doubled per level.
    variant : str
        ``"original"`` or ``"padded"``.
    residual : bool
        Residual blocks (padded variant only).
    dropout : float
        Drop-out probability at the end of the contracting path (original only;
        0.5 in the paper's implementation).
    factors : list of tuple of int, optional
        Pooling factors per level and axis (:func:`layers.pool_factors`);
        default 2 on every axis.
    """

    def __init__(
        self,
        dims: int = 2,
        in_channels: int = 1,
        out_channels: int = 3,
        depth: int = 4,
        base_channels: int = 64,
        variant: str = "original",
        residual: bool = False,
        dropout: float = 0.5,
        factors: Sequence[Factors] | None = None,
    ):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant: {variant!r} is not one of {VARIANTS}")
        self.dims = dims
        self.padded = variant == "padded"
        self.factors = [tuple(f) for f in (factors or [(2,) * dims] * depth)]
        if len(self.factors) != depth:
            raise ValueError(f"factors: {len(self.factors)} levels given for depth {depth}")
        widths = [base_channels * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = in_channels
        for width in widths[:-1]:
            self.down.append(ConvBlock(dims, cin, width, self.padded, residual))
            cin = width
        self.pools = nn.ModuleList(layers.max_pool(dims, f) for f in self.factors)
        self.bottom = ConvBlock(dims, widths[-2], widths[-1], self.padded, residual)
        p = 0.0 if self.padded else float(dropout)
        self.drop_last, self.drop_bottom = layers.dropout(dims, p), layers.dropout(dims, p)
        self.ups = nn.ModuleList(
            layers.conv_transpose(dims, widths[level + 1], widths[level], self.factors[level])
            for level in range(depth)
        )
        self.up_blocks = nn.ModuleList(
            ConvBlock(dims, 2 * widths[level], widths[level], self.padded, residual) for level in range(depth)
        )
        self.head = layers.conv(dims, widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level, (block, pool) in enumerate(zip(self.down, self.pools)):
            x = block(x)
            if level == len(self.down) - 1:
                x = self.drop_last(x)
            skips.append(x)
            x = pool(x)
        x = self.drop_bottom(self.bottom(x))
        for level in reversed(range(len(self.ups))):
            x = self.ups[level](x)
            skip = skips[level] if self.padded else layers.center_crop(skips[level], x.shape[2:])
            x = self.up_blocks[level](torch.cat([skip, x], dim=1))
        return self.head(x)
