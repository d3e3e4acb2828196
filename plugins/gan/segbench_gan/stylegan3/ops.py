"""Resampling and nonlinearity operators of StyleGAN2/3 in plain PyTorch.

- :func:`upfirdn2d`: upsample by zero insertion, pad, FIR-filter, downsample; the
  filtering is a depthwise ``conv2d`` (separable filters run as two 1D passes, the
  downsampling folded into the convolution's stride).
- :func:`filtered_lrelu`: the alias-free nonlinearity of Karras et al. 2021 (Sec. 3.2):
  bias, upsample, low-pass, leaky ReLU with gain and clamp, low-pass, downsample.
- :func:`modulated_conv2d`: convolution whose weights are scaled per sample by a style
  vector and then demodulated to unit output variance (StyleGAN2, Sec. 2.2), run as one
  grouped convolution.

Tensors are ``(N, C, H, W)``; filters are ``(taps,)`` (separable) or ``(taps, taps)``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = ["upfirdn2d", "filtered_lrelu", "modulated_conv2d", "parse_padding"]


def parse_padding(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    """``padding`` as ``(x_before, x_after, y_before, y_after)``.

    An int pads all four sides; a pair ``(px, py)`` pads each axis symmetrically.
    """
    if isinstance(padding, int):
        return (padding,) * 4
    padding = tuple(int(p) for p in padding)
    if len(padding) == 2:
        px, py = padding
        return px, px, py, py
    if len(padding) != 4:
        raise ValueError(f"padding must be an int, (px, py) or (px0, px1, py0, py1), got {padding}")
    return padding  # type: ignore[return-value]


def _zero_insert(x: torch.Tensor, up: int) -> torch.Tensor:
    """Upsample by ``up``: each sample followed by ``up - 1`` zeros along x and y."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h, 1, w, 1)
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
    return x.reshape(n, c, h * up, w * up)


def _pad_or_crop(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """Pad with zeros where ``pad`` is positive, crop where it is negative."""
    x = F.pad(x, [max(p, 0) for p in pad])
    px0, px1, py0, py1 = (max(-p, 0) for p in pad)
    return x[:, :, py0 : x.shape[2] - py1, px0 : x.shape[3] - px1]


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample, pad, FIR-filter and downsample a batch of images.

    Output size along each axis: ``(L * up + pad0 + pad1 - (taps - 1)) // down``
    rounded up, i.e. samples ``0, down, 2 * down, ...`` of the filtered signal.

    Parameters
    ----------
    x : Tensor
        ``(N, C, H, W)``.
    f : Tensor or None
        ``(taps,)`` separable filter, ``(taps, taps)`` 2D filter, or None (identity).
        Applied as a true convolution (flipped); the filters used here are symmetric.
    up, down : int
        Integer up- and downsampling factors (>= 1).
    padding : int or sequence of int
        See :func:`parse_padding`; applied after upsampling, negative values crop.
    gain : float
        Overall gain; a separable filter gets ``sqrt(gain)`` per pass. Use ``up ** 2``
        after zero insertion to keep the signal's mean.

    Returns
    -------
    Tensor
        ``(N, C, H', W')``.

    Examples
    --------
    >>> import torch
    >>> x = torch.ones(1, 1, 4, 4)
    >>> y = upfirdn2d(x, torch.tensor([0.25, 0.5, 0.25]), up=2, padding=(1, 1), gain=4)
    >>> tuple(y.shape), float(y[0, 0, 3, 3])
    ((1, 1, 8, 8), 1.0)
    """
    if x.ndim != 4:
        raise ValueError(f"upfirdn2d: x must be (N, C, H, W), got shape {tuple(x.shape)}")
    if up < 1 or down < 1:
        raise ValueError(f"upfirdn2d: up and down must be >= 1, got up={up}, down={down}")
    c = x.shape[1]
    px0, px1, py0, py1 = parse_padding(padding)
    if f is not None and f.ndim not in (1, 2):
        raise ValueError(f"upfirdn2d: f must be 1D or 2D, got shape {tuple(f.shape)}")
    if f is None:
        x = _zero_insert(x, up) if up > 1 else x
        x = _pad_or_crop(x, (px0, px1, py0, py1))[:, :, ::down, ::down]
        return x * gain if gain != 1 else x
    f = f.to(device=x.device, dtype=x.dtype)
    # Depthwise convolutions (one filter copy per channel): far faster on CPU than
    # folding the channels into the batch.
    if up > 1:
        # Zero insertion followed by a full convolution, computed without the zeros
        # (length >= (L - 1) * up + taps, zero beyond), then cut to the requested
        # window: it starts at taps - 1 - pad0 and is L * up + pad0 + pad1 - taps + 1 long.
        k = f.shape[-1]
        h, w = x.shape[2], x.shape[3]
        x = _upsample_full(x, f, up, gain)
        sy, sx = k - 1 - py0, k - 1 - px0
        ly, lx = h * up + py0 + py1 - k + 1, w * up + px0 + px1 - k + 1
        x = _pad_or_crop(x, (-sx, sx + lx - x.shape[3], -sy, sy + ly - x.shape[2]))
        return x[:, :, ::down, ::down] if down > 1 else x
    x = _pad_or_crop(x, (px0, px1, py0, py1))
    f = f.flip(list(range(f.ndim)))  # convolution, not correlation
    if f.ndim == 1:
        taps = (f * math.sqrt(gain)).expand(c, -1)
        x = F.conv2d(x, taps.reshape(c, 1, 1, -1), stride=(1, down), groups=c)
        return F.conv2d(x, taps.reshape(c, 1, -1, 1), stride=(down, 1), groups=c)
    return F.conv2d(x, (f * gain).expand(c, 1, -1, -1), stride=down, groups=c)


def _upsample_full(x: torch.Tensor, f: torch.Tensor, up: int, gain: float) -> torch.Tensor:
    """Full convolution of the zero-inserted ``x`` with ``f`` (gain included)."""
    if f.ndim == 2:
        c = x.shape[1]
        return F.conv_transpose2d(x, (f * gain).expand(c, 1, -1, -1), stride=up, groups=c)
    taps = f * math.sqrt(gain)
    return _polyphase_up(_polyphase_up(x, taps, up, axis=3), taps, up, axis=2)


def _polyphase_up(x: torch.Tensor, f: torch.Tensor, up: int, axis: int) -> torch.Tensor:
    """Upsample along ``axis`` (2 = y, 3 = x) by zero insertion and full convolution
    with the 1D filter ``f``, as ``up`` interleaved convolutions with the polyphase
    components ``f[r::up]`` (one grouped convolution)."""
    n, c = x.shape[:2]
    m = -(-f.shape[0] // up)  # taps per phase
    # (up, m): row r is phase r, flipped because conv2d correlates.
    phases = F.pad(f, [0, m * up - f.shape[0]]).reshape(m, up).t().flip(1)
    weight = phases.repeat(c, 1)  # (C * up, m): channel c * up + r holds phase r
    if axis == 3:
        y = F.conv2d(F.pad(x, [m - 1, m - 1, 0, 0]), weight.reshape(c * up, 1, 1, m), groups=c)
        hh, ww = y.shape[2:]
        return y.reshape(n, c, up, hh, ww).permute(0, 1, 3, 4, 2).reshape(n, c, hh, ww * up)
    y = F.conv2d(F.pad(x, [0, 0, m - 1, m - 1]), weight.reshape(c * up, 1, m, 1), groups=c)
    hh, ww = y.shape[2:]
    return y.reshape(n, c, up, hh, ww).permute(0, 1, 3, 2, 4).reshape(n, c, hh * up, ww)


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
) -> torch.Tensor:
    """Alias-free leaky ReLU: the nonlinearity runs at ``up`` times the input rate
    between two low-pass filters, so the high frequencies it creates are removed
    before resampling to the output rate.

    Steps: add ``bias``; upsample by ``up`` with filter ``fu`` (gain ``up**2``) and
    ``padding``; ``leaky_relu(slope) * gain``, clamped to ``[-clamp, clamp]``; filter
    with ``fd`` and downsample by ``down``.

    Parameters
    ----------
    x : Tensor
        ``(N, C, H, W)``.
    fu, fd : Tensor or None
        Up- and downsampling filters (see :func:`upfirdn2d`).
    bias : Tensor or None
        ``(C,)``.
    up, down : int
        Resampling factors.
    padding : int or sequence of int
        Padding of the upsampled signal (see :func:`parse_padding`).
    gain : float
        Multiplies the nonlinearity's output (``sqrt(2)`` keeps unit variance).
    slope : float
        Slope for negative inputs; ``1`` makes the nonlinearity linear.
    clamp : float or None
        Clamp magnitude after the gain; None disables clamping.

    Returns
    -------
    Tensor
        ``(N, C, H', W')``.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(2, 3, 8, 8)
    >>> bool(torch.allclose(filtered_lrelu(x, gain=1.0, slope=1.0), x))
    True
    """
    if bias is not None:
        x = x + bias.to(x.dtype).reshape(1, -1, 1, 1)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up**2)
    if slope != 1:
        x = F.leaky_relu(x, negative_slope=slope)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return upfirdn2d(x, fd, down=down)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool = True,
    padding: int = 0,
    input_gain: torch.Tensor | None = None,
) -> torch.Tensor:
    """Convolution with per-sample weights ``weight * styles`` (modulation), optionally
    rescaled so each output channel has unit expected variance (demodulation).

    With ``demodulate``, weight and styles are first normalised to unit root mean
    square (as StyleGAN3 does, for numerical range), and the modulated weights of each
    output channel divided by their L2 norm.

    Parameters
    ----------
    x : Tensor
        ``(N, I, H, W)``.
    weight : Tensor
        ``(O, I, k, k)``.
    styles : Tensor
        ``(N, I)`` per-sample input-channel scales.
    demodulate : bool
        Normalise each output channel's weights per sample.
    padding : int
        Zero padding on all sides.
    input_gain : Tensor or None
        Scalar, ``(I,)`` or ``(N, I)`` factor on the input channels (StyleGAN3's
        magnitude EMA).

    Returns
    -------
    Tensor
        ``(N, O, H + 2 * padding - k + 1, W + 2 * padding - k + 1)``.

    Examples
    --------
    >>> import torch
    >>> y = modulated_conv2d(torch.randn(2, 4, 8, 8), torch.randn(5, 4, 3, 3), torch.randn(2, 4), padding=1)
    >>> tuple(y.shape)
    (2, 5, 8, 8)
    """
    n, in_channels = x.shape[:2]
    out_channels, w_in, kh, kw = weight.shape
    if w_in != in_channels or styles.shape != (n, in_channels):
        raise ValueError(
            f"modulated_conv2d: x {tuple(x.shape)}, weight {tuple(weight.shape)} and "
            f"styles {tuple(styles.shape)} disagree on batch or input channels"
        )
    if demodulate:
        weight = weight * weight.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
    w = weight.unsqueeze(0) * styles.reshape(n, 1, in_channels, 1, 1)  # (N, O, I, k, k)
    if demodulate:
        w = w * (w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
    if input_gain is not None:
        w = w * (input_gain if input_gain.ndim == 0 else input_gain.reshape(-1, 1, in_channels, 1, 1))
    y = F.conv2d(
        x.reshape(1, n * in_channels, *x.shape[2:]),
        w.reshape(n * out_channels, in_channels, kh, kw).to(x.dtype),
        padding=padding,
        groups=n,
    )
    return y.reshape(n, out_channels, *y.shape[2:])
