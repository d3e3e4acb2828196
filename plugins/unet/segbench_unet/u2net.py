"""U2-Net (Qin, Zhang, Huang, Dehghan, Zaiane and Jagersand, Pattern
Recognition 2020), 2D and 3D.

The encoder and decoder stages are residual U-blocks: RSU-L is a small U-Net
of height L (an input convolution, L-2 poolings, a dilated bottom
convolution, a decoder with concatenated skips) whose output is added to its
input convolution's output; RSU-4F replaces pooling by dilation (rates 1, 2,
4, 8) and keeps the resolution. Six encoder stages (RSU-7, 6, 5, 4, 4F, 4F)
and five decoder stages form the outer U. Every decoder stage and the last
encoder stage has a 3x3 side output, up-sampled to the input size; a 1x1
convolution over the six of them is the fused output. In training mode the
network returns all seven (deep supervision); in evaluation mode the fused one.

``size="full"`` is the published U2-Net (44 M parameters in 2D RGB);
``size="lite"`` the published U2-Net-lite (U2-Net-dagger, 1.1 M): every stage
16 middle and 64 output channels.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from . import layers
from .options import U2NET_CONFIGS as CONFIGS
from .options import Factors


class ConvBNReLU(nn.Module):
    """3x3 convolution (dilation ``rate``, padded to keep the size), batch norm, ReLU."""

    def __init__(self, dims: int, cin: int, cout: int, rate: int = 1):
        super().__init__()
        self.conv = layers.conv(dims, cin, cout, 3, padding=rate, dilation=rate)
        self.norm = layers.batch_norm(dims, cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.norm(self.conv(x)))


class RSU(nn.Module):
    """Residual U-block RSU-L, ``L = len(factors) + 2`` (pooling factors per inner level)."""

    def __init__(self, dims: int, cin: int, mid: int, cout: int, factors: Sequence[Factors]):
        super().__init__()
        self.conv_in = ConvBNReLU(dims, cin, cout)
        self.encoder = nn.ModuleList(
            [ConvBNReLU(dims, cout, mid)] + [ConvBNReLU(dims, mid, mid) for _ in factors]
        )
        self.pools = nn.ModuleList(layers.max_pool(dims, f, ceil_mode=True) for f in factors)
        self.bottom = ConvBNReLU(dims, mid, mid, rate=2)
        self.decoder = nn.ModuleList(
            [ConvBNReLU(dims, 2 * mid, mid) for _ in factors] + [ConvBNReLU(dims, 2 * mid, cout)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_in = self.conv_in(x)
        skips = []
        y = x_in
        for i, conv in enumerate(self.encoder):
            y = conv(y)
            skips.append(y)
            if i < len(self.pools):
                y = self.pools[i](y)
        y = self.bottom(y)
        for i, conv in enumerate(self.decoder):
            skip = skips[-1 - i]
            y = conv(torch.cat([layers.resize_to(y, skip.shape[2:]), skip], dim=1))
        return y + x_in


class RSU4F(nn.Module):
    """RSU-4F: dilations 1, 2, 4 and 8 instead of pooling (full resolution throughout)."""

    def __init__(self, dims: int, cin: int, mid: int, cout: int):
        super().__init__()
        self.conv_in = ConvBNReLU(dims, cin, cout)
        self.encoder = nn.ModuleList(
            [ConvBNReLU(dims, cout, mid, 1), ConvBNReLU(dims, mid, mid, 2), ConvBNReLU(dims, mid, mid, 4)]
        )
        self.bottom = ConvBNReLU(dims, mid, mid, 8)
        self.decoder = nn.ModuleList(
            [ConvBNReLU(dims, 2 * mid, mid, 4), ConvBNReLU(dims, 2 * mid, mid, 2), ConvBNReLU(dims, 2 * mid, cout, 1)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_in = self.conv_in(x)
        skips = []
        y = x_in
        for conv in self.encoder:
            y = conv(y)
            skips.append(y)
        y = self.bottom(y)
        for conv, skip in zip(self.decoder, reversed(skips)):
            y = conv(torch.cat([y, skip], dim=1))
        return y + x_in


def _block(dims: int, height: int, cin: int, mid: int, cout: int, spacing: list[float]) -> nn.Module:
    if height == 0:
        return RSU4F(dims, cin, mid, cout)
    return RSU(dims, cin, mid, cout, layers.pool_factors(height - 2, dims, spacing))


class U2Net(nn.Module):
    """U2-Net for ``dims`` = 2 or 3.

    Parameters
    ----------
    dims : int
        2 or 3.
    in_channels, out_channels : int
        Image channels; classes (logits).
    size : str
        ``"lite"`` (U2-Net-lite widths) or ``"full"``.
    spacing : sequence of float, optional
        Voxel size per axis; pooling (outer and inside each RSU) skips an axis
        while it is at least twice as coarse as the finest (:func:`layers.pool_factors`).
    """

    def __init__(
        self,
        dims: int = 2,
        in_channels: int = 1,
        out_channels: int = 3,
        size: str = "lite",
        spacing: Sequence[float] | None = None,
    ):
        super().__init__()
        if size not in CONFIGS:
            raise ValueError(f"size: {size!r} is not one of {tuple(CONFIGS)}")
        config = CONFIGS[size]
        current = [1.0] * dims if spacing is None else [float(s) for s in spacing[-dims:]]
        self.encoder = nn.ModuleList()
        self.pools = nn.ModuleList()
        stage_spacing = []
        cin = in_channels
        for i, (height, mid, cout) in enumerate(config["encoder"]):
            stage_spacing.append(list(current))
            self.encoder.append(_block(dims, height, cin, mid, cout, current))
            cin = cout
            if i < len(config["encoder"]) - 1:
                f = layers.pool_factors(1, dims, current)[0]
                self.pools.append(layers.max_pool(dims, f, ceil_mode=True))
                current = [s * k for s, k in zip(current, f)]
        enc_out = [c for _, _, c in config["encoder"]]
        self.decoder = nn.ModuleList()
        prev = enc_out[-1]
        for j, (height, mid, cout) in enumerate(config["decoder"]):
            level = len(config["encoder"]) - 2 - j  # the encoder stage this decoder stage mirrors
            self.decoder.append(_block(dims, height, prev + enc_out[level], mid, cout, stage_spacing[level]))
            prev = cout
        side_in = [c for _, _, c in reversed(config["decoder"])] + [enc_out[-1]]
        self.sides = nn.ModuleList(layers.conv(dims, c, out_channels, 3, padding=1) for c in side_in)
        self.fuse = layers.conv(dims, len(side_in) * out_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        shape = x.shape[2:]
        skips = []
        for i, stage in enumerate(self.encoder):
            x = stage(x)
            skips.append(x)
            if i < len(self.pools):
                x = self.pools[i](x)
        decoded = [skips[-1]]  # the last encoder stage's output has a side output too
        y = skips[-1]
        for j, stage in enumerate(self.decoder):
            skip = skips[-2 - j]
            y = stage(torch.cat([layers.resize_to(y, skip.shape[2:]), skip], dim=1))
            decoded.append(y)
        # side i belongs to decoder stage i (1 = top); the last to encoder stage 6
        sides = [
            layers.resize_to(side(feat), shape)
            for side, feat in zip(self.sides, list(reversed(decoded[1:])) + [decoded[0]])
        ]
        fused = self.fuse(torch.cat(sides, dim=1))
        if self.training:
            return [fused, *sides]
        return fused
