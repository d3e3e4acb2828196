"""The alias-free synthesis network (Karras et al. 2021, "Alias-Free Generative
Adversarial Networks").

The network treats every feature map as a band-limited continuous signal sampled on a
grid. It starts from Fourier features (sinusoids of random frequencies inside a band,
positioned by a rotation and translation predicted from w), and each layer applies a
modulated convolution followed by the filtered leaky ReLU (:func:`ops.filtered_lrelu`),
whose low-pass filters follow the schedule of :func:`config.layer_schedule`.

State dict keys follow the official implementation's naming (``input.freqs``,
``L3_52_512.affine.weight``, ...), so the weights of an official snapshot load as is.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import StyleGAN3Config, layer_schedule
from .filters import design_lowpass_filter
from .layers import LRELU_GAIN, FullyConnectedLayer
from .ops import filtered_lrelu, modulated_conv2d

__all__ = ["SynthesisInput", "SynthesisLayer", "SynthesisNetwork"]


class SynthesisInput(nn.Module):
    """Fourier features: ``channels`` sinusoids with random frequencies uniformly
    spread over a disc of radius ``bandwidth``, sampled on a ``size x size`` grid,
    mixed by a learned ``channels x channels`` matrix.

    An affine layer maps w to ``(cos, sin, tx, ty)``: the features are rotated by that
    angle and translated by ``(tx, ty)`` (in image widths), which is how the generator
    places content; ``transform`` is an extra user-set inverse transform (identity by
    default). Frequencies that a transform would push above the band are faded out.

    Parameters
    ----------
    w_dim : int
        Size of w.
    channels : int
        Number of sinusoids (= output channels).
    size : int
        Output height = width in pixels.
    sampling_rate : float
        Samples per image width.
    bandwidth : float
        Maximum frequency in cycles per image width.

    Attributes
    ----------
    weight : Parameter
        ``(channels, channels)`` mixing matrix.
    affine : FullyConnectedLayer
        w -> (cos, sin, tx, ty), initialised to the identity transform.
    transform : Tensor
        ``(3, 3)`` buffer, user-specified inverse transform of the output.
    freqs : Tensor
        ``(channels, 2)`` buffer, frequencies (x, y) in cycles per image width.
    phases : Tensor
        ``(channels,)`` buffer, phases in cycles.
    """

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float):
        super().__init__()
        self.channels, self.size = channels, int(size)
        self.sampling_rate, self.bandwidth = float(sampling_rate), float(bandwidth)
        # Uniform on the disc of radius `bandwidth`: for a 2D Gaussian sample of radius r,
        # u = exp(-r^2 / 2) is uniform on (0, 1), so the unit direction scaled to sqrt(u)
        # = exp(-r^2 / 4) is uniform on the unit disc.
        freqs = torch.randn(channels, 2)
        radii = freqs.norm(dim=1, keepdim=True)
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.weight = nn.Parameter(torch.randn(channels, channels))
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0.0, bias_init=[1.0, 0.0, 0.0, 0.0])
        self.register_buffer("transform", torch.eye(3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand(channels) - 0.5)

    def _inverse_transforms(self, w: torch.Tensor) -> torch.Tensor:
        """``(N, 3, 3)``: inverse rotation, then inverse translation, then ``transform``."""
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        cos, sin, tx, ty = t.unbind(dim=1)
        zero, one = torch.zeros_like(cos), torch.ones_like(cos)
        rotation = torch.stack([cos, -sin, zero, sin, cos, zero, zero, zero, one], dim=1).reshape(-1, 3, 3)
        translation = torch.stack([one, zero, -tx, zero, one, -ty, zero, zero, one], dim=1).reshape(-1, 3, 3)
        return rotation @ translation @ self.transform

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """``(N, w_dim)`` -> ``(N, channels, size, size)``."""
        m = self._inverse_transforms(w)
        freqs = self.freqs @ m[:, :2, :2]  # (N, C, 2)
        phases = self.phases + (self.freqs @ m[:, :2, 2:]).squeeze(2)  # (N, C)
        band = self.sampling_rate / 2 - self.bandwidth
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / band).clamp(0, 1)  # (N, C)
        # Pixel centres in image widths, the image centred on 0.
        coords = (torch.arange(self.size, device=w.device, dtype=torch.float32) + 0.5 - self.size / 2)
        coords = coords / self.sampling_rate
        fx, fy = freqs[..., 0], freqs[..., 1]  # (N, C)
        # phase(n, y, x, c) = fx[n, c] * x + fy[n, c] * y + phases[n, c], in cycles
        arg = (
            coords.reshape(1, 1, -1, 1) * fx[:, None, None, :]
            + coords.reshape(1, -1, 1, 1) * fy[:, None, None, :]
            + phases[:, None, None, :]
        )
        x = torch.sin(arg * (2 * math.pi)) * amplitudes[:, None, None, :]  # (N, H, W, C)
        x = x @ (self.weight / math.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)


class SynthesisLayer(nn.Module):
    """One synthesis layer: modulated convolution, then the filtered leaky ReLU that
    resamples from the previous layer's grid to this layer's grid.

    The last layer (``index == num_layers``, "ToRGB") is a 1x1 modulated convolution
    without demodulation or nonlinearity.

    Parameters
    ----------
    cfg : StyleGAN3Config
        Architecture.
    schedule : LayerSchedule
        From :func:`config.layer_schedule`.
    index : int
        Layer index, ``0..cfg.num_layers``.

    Attributes
    ----------
    affine : FullyConnectedLayer
        w -> per-input-channel styles (bias initialised to 1).
    weight : Parameter
        ``(out_channels, in_channels, k, k)``.
    bias : Parameter
        ``(out_channels,)``.
    magnitude_ema : Tensor
        Scalar buffer: running mean of the input's squared magnitude; its inverse
        square root normalises the input.
    up_filter, down_filter : Tensor or None
        Buffers: the low-pass filters around the nonlinearity (None = no filtering).
    """

    def __init__(self, cfg: StyleGAN3Config, schedule, index: int):
        super().__init__()
        prev = max(index - 1, 0)
        self.is_torgb = index == cfg.num_layers
        self.is_critically_sampled = index >= cfg.num_layers - cfg.num_critical
        self.in_channels = int(schedule.channels[prev])
        self.out_channels = int(schedule.channels[index])
        self.in_size = int(schedule.sizes[prev])
        self.out_size = int(schedule.sizes[index])
        self.conv_kernel = 1 if self.is_torgb else cfg.conv_kernel
        self.conv_clamp = cfg.conv_clamp
        self.magnitude_ema_beta = cfg.magnitude_ema_beta

        in_rate, out_rate = int(schedule.sampling_rates[prev]), int(schedule.sampling_rates[index])
        tmp_rate = max(in_rate, out_rate) * (1 if self.is_torgb else cfg.lrelu_upsampling)
        self.up_factor = tmp_rate // in_rate
        self.down_factor = tmp_rate // out_rate
        resamples = not self.is_torgb
        up_taps = cfg.filter_size * self.up_factor if self.up_factor > 1 and resamples else 1
        down_taps = cfg.filter_size * self.down_factor if self.down_factor > 1 and resamples else 1
        self.register_buffer("up_filter", design_lowpass_filter(
            up_taps, cutoff=float(schedule.cutoffs[prev]), width=2 * float(schedule.half_widths[prev]),
            fs=tmp_rate))
        self.register_buffer("down_filter", design_lowpass_filter(
            down_taps, cutoff=float(schedule.cutoffs[index]), width=2 * float(schedule.half_widths[index]),
            fs=tmp_rate, radial=cfg.use_radial_filters and not self.is_critically_sampled))

        # Padding of the upsampled signal so that, after both filters and the
        # downsampling, exactly `out_size` samples remain, centred on the input's samples
        # (the symmetric interpretation of the sampling grids, paper Appendix C.3).
        total = (self.out_size - 1) * self.down_factor + 1
        total -= (self.in_size + self.conv_kernel - 1) * self.up_factor
        total += up_taps + down_taps - 2
        lo = (total + self.up_factor) // 2
        self.padding = (lo, total - lo, lo, total - lo)

        self.affine = FullyConnectedLayer(cfg.w_dim, self.in_channels, bias_init=1.0)
        k = self.conv_kernel
        self.weight = nn.Parameter(torch.randn(self.out_channels, self.in_channels, k, k))
        self.bias = nn.Parameter(torch.zeros(self.out_channels))
        self.register_buffer("magnitude_ema", torch.ones([]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, update_emas: bool = False) -> torch.Tensor:
        """``(N, in_channels, in_size, in_size)`` and ``(N, w_dim)`` ->
        ``(N, out_channels, out_size, out_size)``."""
        if update_emas:
            with torch.no_grad():
                current = x.detach().float().square().mean()
                self.magnitude_ema.copy_(torch.lerp(current, self.magnitude_ema, self.magnitude_ema_beta))
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles / math.sqrt(self.in_channels * self.conv_kernel**2)
        x = modulated_conv2d(
            x, self.weight, styles, demodulate=not self.is_torgb, padding=self.conv_kernel - 1,
            input_gain=self.magnitude_ema.rsqrt(),
        )
        return filtered_lrelu(
            x, fu=self.up_filter, fd=self.down_filter, bias=self.bias,
            up=self.up_factor, down=self.down_factor, padding=self.padding,
            gain=1.0 if self.is_torgb else LRELU_GAIN, slope=1.0 if self.is_torgb else 0.2,
            clamp=self.conv_clamp,
        )


class SynthesisNetwork(nn.Module):
    """Fourier-feature input, ``num_layers`` synthesis layers and the output layer.

    Parameters
    ----------
    cfg : StyleGAN3Config
        Architecture.

    Attributes
    ----------
    input : SynthesisInput
    L0_..., L1_..., ... : SynthesisLayer
        Named ``L{index}_{out_size}_{out_channels}``; ``layer_names`` lists them in order.
    """

    def __init__(self, cfg: StyleGAN3Config):
        super().__init__()
        self.cfg = cfg
        schedule = layer_schedule(cfg)
        self.input = SynthesisInput(
            cfg.w_dim, channels=int(schedule.channels[0]), size=int(schedule.sizes[0]),
            sampling_rate=float(schedule.sampling_rates[0]), bandwidth=float(schedule.cutoffs[0]),
        )
        self.layer_names: list[str] = []
        for index in range(cfg.num_layers + 1):
            layer = SynthesisLayer(cfg, schedule, index)
            name = f"L{index}_{layer.out_size}_{layer.out_channels}"
            self.add_module(name, layer)
            self.layer_names.append(name)

    def forward(self, ws: torch.Tensor, update_emas: bool = False) -> torch.Tensor:
        """``(N, num_ws, w_dim)`` -> ``(N, img_channels, resolution, resolution)``."""
        cfg = self.cfg
        if ws.ndim != 3 or ws.shape[1:] != (cfg.num_ws, cfg.w_dim):
            raise ValueError(f"ws must have shape (N, {cfg.num_ws}, {cfg.w_dim}), got {tuple(ws.shape)}")
        ws = ws.float().unbind(dim=1)
        x = self.input(ws[0])
        for name, w in zip(self.layer_names, ws[1:]):
            x = getattr(self, name)(x, w, update_emas=update_emas)
        return x * cfg.output_scale if cfg.output_scale != 1 else x
