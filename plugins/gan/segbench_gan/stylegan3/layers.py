"""Layers with equalised learning rate (Karras et al. 2018, Sec. 4.1): weights are stored
with unit variance and scaled by ``lr_multiplier / sqrt(fan_in)`` at run time, so Adam
sees every layer at the same scale.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .ops import upfirdn2d

__all__ = ["FullyConnectedLayer", "Conv2dLayer", "LRELU_GAIN"]

#: Gain that keeps unit variance through a leaky ReLU of slope 0.2 (He et al. 2015).
LRELU_GAIN = math.sqrt(2)


class FullyConnectedLayer(nn.Module):
    """``y = act(x @ (W * gain).T + b * lr_multiplier)``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the input and output vectors.
    activation : {'linear', 'lrelu'}
        ``'lrelu'`` is a leaky ReLU of slope 0.2 times :data:`LRELU_GAIN`.
    lr_multiplier : float
        Scales the effective learning rate of this layer.
    weight_init : float
        Initial standard deviation of the effective weights.
    bias_init : float or sequence of float
        Initial effective bias (one value, or one per output).

    Attributes
    ----------
    weight : Parameter
        ``(out_features, in_features)``, stored divided by the run-time gain.
    bias : Parameter
        ``(out_features,)``, stored divided by ``lr_multiplier``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        weight_init: float = 1.0,
        bias_init: float | Sequence[float] = 0.0,
    ):
        super().__init__()
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"activation must be 'linear' or 'lrelu', got {activation!r}")
        self.activation = activation
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * (weight_init / lr_multiplier))
        bias = torch.as_tensor(bias_init, dtype=torch.float32).expand(out_features)
        self.bias = nn.Parameter(bias / lr_multiplier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        if self.activation == "lrelu":
            x = F.leaky_relu(x, 0.2) * LRELU_GAIN
        return x


class Conv2dLayer(nn.Module):
    """Square convolution, optionally preceded by a 2x FIR-blurred downsampling, as in
    the StyleGAN2 discriminator.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts.
    kernel_size : int
        Odd kernel size; the output keeps the input size (or half of it with ``down``).
    activation : {'linear', 'lrelu'}
        Nonlinearity after the bias.
    bias : bool
        Add a learned bias.
    down : bool
        Halve the resolution: blur with the binomial filter ``[1, 3, 3, 1] / 8`` and
        convolve with stride 2 (anti-aliased downsampling, Zhang 2019).
    gain : float
        Extra factor on the output (e.g. ``sqrt(0.5)`` in residual blocks).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        activation: str = "lrelu",
        bias: bool = True,
        down: bool = False,
        gain: float = 1.0,
    ):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"activation must be 'linear' or 'lrelu', got {activation!r}")
        self.activation = activation
        self.down = down
        self.kernel_size = kernel_size
        self.gain = gain * (LRELU_GAIN if activation == "lrelu" else 1.0)
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.register_buffer("blur", torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        if self.down:
            # Blur with 4 taps: pad so the stride-2 convolution lands on H / 2 samples.
            p = (self.kernel_size - 1) // 2 + 1
            x = upfirdn2d(x, self.blur, padding=p)
            x = F.conv2d(x, w, self.bias, stride=2)
        else:
            x = F.conv2d(x, w, self.bias, padding=self.kernel_size // 2)
        if self.activation == "lrelu":
            x = F.leaky_relu(x, 0.2)
        return x * self.gain if self.gain != 1 else x
