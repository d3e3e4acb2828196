"""The StyleGAN2 residual discriminator (Karras et al. 2020, Fig. 7c) with a minibatch
standard deviation layer (Karras et al. 2018, Sec. 3), as StyleGAN3 uses it."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import StyleGAN3Config
from .layers import Conv2dLayer, FullyConnectedLayer

__all__ = ["Discriminator", "minibatch_stddev"]


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one channel holding, for each group of samples, the mean over features
    of the standard deviation across the group, so the discriminator can see how
    varied a batch is.

    Groups are ``gcd(N, group_size)`` samples: every ``N / G``-th sample shares a group.

    Parameters
    ----------
    x : Tensor
        ``(N, C, H, W)``.
    group_size : int
        Largest group size.

    Returns
    -------
    Tensor
        ``(N, C + 1, H, W)``.
    """
    n, c, h, w = x.shape
    g = math.gcd(n, group_size)
    y = x.reshape(g, n // g, c, h, w).float()
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (N/G, C, H, W)
    y = y.mean(dim=(1, 2, 3))  # (N/G,)
    y = y.reshape(1, n // g, 1, 1, 1).expand(g, n // g, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y.to(x.dtype)], dim=1)


class _ResidualBlock(nn.Module):
    """Two 3x3 convolutions (the second halving the resolution) plus a 1x1 downsampling
    skip connection, both scaled by ``sqrt(0.5)`` to keep the variance."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = Conv2dLayer(in_channels, tmp_channels, 3)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, down=True, gain=math.sqrt(0.5))
        self.skip = Conv2dLayer(in_channels, out_channels, 1, activation="linear", bias=False, down=True,
                                gain=math.sqrt(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.conv1(self.conv0(x))


class Discriminator(nn.Module):
    """Image ``(N, img_channels, R, R)`` -> realness logits ``(N,)``.

    From-RGB 1x1 convolution at resolution R, residual blocks halving the resolution
    down to 4x4, then minibatch stddev, a 3x3 convolution, and two fully connected
    layers. Channels at resolution r: ``min(d_channel_base // r, d_channel_max)``.

    Parameters
    ----------
    cfg : StyleGAN3Config
        Architecture (``resolution``, ``img_channels``, ``d_channel_base``,
        ``d_channel_max``, ``mbstd_group``).

    Examples
    --------
    >>> import torch
    >>> D = Discriminator(StyleGAN3Config(resolution=16, d_channel_base=128, d_channel_max=16))
    >>> tuple(D(torch.randn(4, 1, 16, 16)).shape)
    (4,)
    """

    def __init__(self, cfg: StyleGAN3Config):
        super().__init__()
        self.cfg = cfg

        def channels(res: int) -> int:
            return max(1, min(cfg.d_channel_base // res, cfg.d_channel_max))

        self.from_image = Conv2dLayer(cfg.img_channels, channels(cfg.resolution), 1)
        blocks = []
        res = cfg.resolution
        while res > 4:
            blocks.append(_ResidualBlock(channels(res), channels(res), channels(res // 2)))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = channels(4)
        self.conv = Conv2dLayer(c4 + 1, c4, 3)
        self.fc = FullyConnectedLayer(c4 * 16, c4, activation="lrelu")
        self.out = FullyConnectedLayer(c4, 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if img.ndim != 4 or img.shape[1:] != (cfg.img_channels, cfg.resolution, cfg.resolution):
            raise ValueError(
                f"img must have shape (N, {cfg.img_channels}, {cfg.resolution}, {cfg.resolution}), "
                f"got {tuple(img.shape)}"
            )
        x = self.blocks(self.from_image(img))
        x = self.conv(minibatch_stddev(x, cfg.mbstd_group))
        return self.out(self.fc(x.flatten(1))).squeeze(1)
