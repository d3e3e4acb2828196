"""V-Net (Milletari, Navab and Ahmadi, 3DV 2016), 3D as published and 2D.

Compression path: stages of 1, 2, 3, 3, 3 convolutions (5x5x5, padded) with
PReLU, each stage learning a residual (its input added element-wise to its
output), followed by a 2x2x2 convolution with stride 2 that halves the
resolution and doubles the channels (16, 32, 64, 128, 256). Decompression
path: a 2x2x2 transposed convolution with stride 2 halving the channels, the
compression stage's output concatenated to it, stages of 3, 3, 2, 1 residual
convolutions, and a 1x1x1 convolution to the classes (softmax applied by the
caller). Where a stage's input has fewer channels than its output (the
single-channel input), the shortcut is zero-padded to the output's width.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from . import layers
from .layers import Factors

#: Convolutions per compression stage in the paper (top first), and per decompression stage.
PAPER_DOWN_CONVS = (1, 2, 3, 3, 3)
PAPER_UP_CONVS = (3, 3, 2, 1)  # bottom-most decompression stage first


def _pad_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Zero-pad the channel axis of ``x`` to ``channels``."""
    missing = channels - x.shape[1]
    if missing <= 0:
        return x
    zeros = x.new_zeros((x.shape[0], missing, *x.shape[2:]))
    return torch.cat([x, zeros], dim=1)


class ResidualStage(nn.Module):
    """``n_convs`` padded convolutions with PReLU; the input (zero-padded to the
    output's width) is added before the last PReLU."""

    def __init__(self, dims: int, cin: int, cout: int, n_convs: int, kernel: int):
        super().__init__()
        self.cout = cout
        self.convs = nn.ModuleList(
            layers.conv(dims, cin if i == 0 else cout, cout, kernel, padding=kernel // 2)
            for i in range(n_convs)
        )
        self.acts = nn.ModuleList(nn.PReLU(cout) for _ in range(n_convs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for i, (conv, act) in enumerate(zip(self.convs, self.acts)):
            y = conv(y)
            if i < len(self.convs) - 1:
                y = act(y)
        return self.acts[-1](y + _pad_channels(x, self.cout))


class VNet(nn.Module):
    """V-Net for ``dims`` = 2 or 3.

    Parameters
    ----------
    dims : int
        2 or 3.
    in_channels, out_channels : int
        Image channels; classes (logits).
    depth : int
        Number of down-sampling steps (4 in the paper). Stages beyond the
        paper's five take 3 convolutions.
    base_channels : int
        Channels of the first stage (16 in the paper), doubled per level.
    kernel_size : int
        Convolution kernel (5 in the paper), odd.
    factors : list of tuple of int, optional
        Down-sampling factors per level and axis; default 2 everywhere.
    """

    def __init__(
        self,
        dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 2,
        depth: int = 4,
        base_channels: int = 16,
        kernel_size: int = 5,
        factors: Sequence[Factors] | None = None,
    ):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: must be odd, got {kernel_size}")
        self.factors = [tuple(f) for f in (factors or [(2,) * dims] * depth)]
        widths = [base_channels * 2**level for level in range(depth + 1)]
        down_convs = [PAPER_DOWN_CONVS[min(i, len(PAPER_DOWN_CONVS) - 1)] for i in range(depth + 1)]
        self.stages = nn.ModuleList()
        self.downs = nn.ModuleList()
        self.down_acts = nn.ModuleList()
        for level in range(depth + 1):
            cin = in_channels if level == 0 else widths[level]
            self.stages.append(ResidualStage(dims, cin, widths[level], down_convs[level], kernel_size))
            if level < depth:
                f = self.factors[level]
                self.downs.append(layers.conv(dims, widths[level], widths[level + 1], f, stride=f))
                self.down_acts.append(nn.PReLU(widths[level + 1]))
        self.ups = nn.ModuleList()
        self.up_acts = nn.ModuleList()
        self.up_stages = nn.ModuleList()
        for level in range(depth):
            # up-sampled to this level's width, then the skip concatenated: twice the width
            n_convs = PAPER_UP_CONVS[-1 - min(level, len(PAPER_UP_CONVS) - 1)]
            cin = widths[depth] if level == depth - 1 else 2 * widths[level + 1]
            self.ups.append(layers.conv_transpose(dims, cin, widths[level], self.factors[level]))
            self.up_acts.append(nn.PReLU(widths[level]))
            self.up_stages.append(ResidualStage(dims, 2 * widths[level], 2 * widths[level], n_convs, kernel_size))
        self.head = layers.conv(dims, 2 * widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level, stage in enumerate(self.stages):
            x = stage(x)
            if level < len(self.downs):
                skips.append(x)
                x = self.down_acts[level](self.downs[level](x))
        for level in reversed(range(len(self.ups))):
            x = self.up_acts[level](self.ups[level](x))
            x = self.up_stages[level](torch.cat([x, skips[level]], dim=1))
        return self.head(x)
