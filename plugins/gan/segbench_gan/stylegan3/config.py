"""Architecture settings of the mask GAN and the synthesis layer schedule they imply.

:class:`StyleGAN3Config` holds everything needed to rebuild the generator and the
discriminator; it round-trips through a plain JSON-able dict (stored in every
checkpoint). :func:`layer_schedule` derives the per-layer cutoffs, stopbands, sampling
rates, sizes and channel counts from it, following Karras et al. 2021, Appendix F:
cutoffs and minimum stopbands grow geometrically from the first layer to the last
critically sampled ones, each layer's sampling rate is the smallest power of two above
twice its stopband (capped at the output resolution), and the channel count is inversely
proportional to the cutoff.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

__all__ = ["StyleGAN3Config", "LayerSchedule", "layer_schedule"]

_ARCHITECTURES = ("t", "r")


@dataclass(frozen=True)
class StyleGAN3Config:
    """Architecture of the StyleGAN3 generator (and the StyleGAN2 discriminator paired
    with it). Defaults are the paper's; a CPU toy uses e.g. ``resolution=32,
    num_layers=4, channel_base=512, channel_max=32, margin_size=4, z_dim=w_dim=64``.

    Attributes
    ----------
    resolution : int
        Output height = width in pixels; a power of two, 16 to 1024.
    architecture : {'t', 'r'}
        StyleGAN3-T (translation equivariant: 3x3 convolutions, separable Kaiser filters)
        or StyleGAN3-R (also rotation equivariant: 1x1 convolutions, radially symmetric
        jinc filters in the layers that are not critically sampled).
    img_channels : int
        Output channels (1 for masks).
    z_dim, w_dim : int
        Dimensions of the input latent z and the intermediate latent w.
    mapping_layers : int
        Fully connected layers of the mapping network.
    mapping_lr_multiplier : float
        Learning-rate multiplier of the mapping layers (equalised learning rate).
    w_avg_beta : float
        Decay of the running mean of w (the centre for truncation).
    num_layers : int
        Synthesis layers, excluding the Fourier-feature input and the output layer.
    num_critical : int
        Critically sampled layers at the end (cutoff = Nyquist frequency).
    channel_base, channel_max : int or None
        Channels of a layer: ``min(channel_base / 2 / cutoff, channel_max)``. None: the
        paper's values (T: 32768 and 512; R: 65536 and 1024).
    first_cutoff, first_stopband, last_stopband_rel : float
        Cutoff and minimum stopband of the first layer (cycles per image) and the last
        layer's minimum stopband relative to its cutoff.
    margin_size : int
        Extra pixels computed around the image on each side in the intermediate layers.
    output_scale : float
        Factor on the generator's output.
    filter_size : int
        Low-pass filter taps per unit of the resampling factor.
    lrelu_upsampling : int
        Oversampling factor of the nonlinearity.
    conv_clamp : float or None
        Clamp of the pre-filter activations.
    magnitude_ema_beta : float
        Decay of each layer's running mean of squared input magnitude.
    d_channel_base, d_channel_max : int
        Discriminator channels at resolution r: ``min(d_channel_base // r, d_channel_max)``.
    mbstd_group : int
        Group size of the discriminator's minibatch standard deviation.

    Examples
    --------
    >>> cfg = StyleGAN3Config(resolution=32, architecture="r", num_layers=4)
    >>> cfg.conv_kernel, cfg.use_radial_filters, cfg.channel_base
    (1, True, 65536)
    >>> StyleGAN3Config.from_dict(cfg.to_dict()) == cfg
    True
    """

    resolution: int = 256
    architecture: str = "t"
    img_channels: int = 1
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 2
    mapping_lr_multiplier: float = 0.01
    w_avg_beta: float = 0.998
    num_layers: int = 14
    num_critical: int = 2
    channel_base: int | None = None
    channel_max: int | None = None
    first_cutoff: float = 2.0
    first_stopband: float = 2**2.1
    last_stopband_rel: float = 2**0.3
    margin_size: int = 10
    output_scale: float = 0.25
    filter_size: int = 6
    lrelu_upsampling: int = 2
    conv_clamp: float | None = 256.0
    magnitude_ema_beta: float = 0.999
    d_channel_base: int = 32768
    d_channel_max: int = 512
    mbstd_group: int = 4

    def __post_init__(self) -> None:
        arch = str(self.architecture).lower()
        if arch not in _ARCHITECTURES:
            raise ValueError(f"architecture must be 't' or 'r', got {self.architecture!r}")
        object.__setattr__(self, "architecture", arch)
        if self.channel_base is None:
            object.__setattr__(self, "channel_base", 65536 if arch == "r" else 32768)
        if self.channel_max is None:
            object.__setattr__(self, "channel_max", 1024 if arch == "r" else 512)
        r = self.resolution
        if not (isinstance(r, int) and 16 <= r <= 1024 and r & (r - 1) == 0):
            raise ValueError(f"resolution must be a power of two from 16 to 1024, got {r!r}")
        positive = ("img_channels", "z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max",
                    "filter_size", "lrelu_upsampling", "d_channel_base", "d_channel_max", "mbstd_group")
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(self.num_critical, int) and self.num_critical >= 0):
            raise ValueError(f"num_critical must be an integer >= 0, got {self.num_critical!r}")
        if not (isinstance(self.num_layers, int) and self.num_layers > self.num_critical):
            raise ValueError(
                f"num_layers must be an integer > num_critical ({self.num_critical}), got {self.num_layers!r}"
            )
        if not (isinstance(self.margin_size, int) and self.margin_size >= 0):
            raise ValueError(f"margin_size must be an integer >= 0, got {self.margin_size!r}")
        for name in ("w_avg_beta", "magnitude_ema_beta"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must lie in [0, 1), got {getattr(self, name)!r}")
        if not self.first_cutoff < self.resolution / 2:
            raise ValueError(f"first_cutoff must be below resolution / 2, got {self.first_cutoff}")

    @property
    def conv_kernel(self) -> int:
        """Kernel size of the synthesis convolutions (T: 3, R: 1)."""
        return 1 if self.architecture == "r" else 3

    @property
    def use_radial_filters(self) -> bool:
        """Radially symmetric downsampling filters (R only)."""
        return self.architecture == "r"

    @property
    def num_ws(self) -> int:
        """Number of w vectors the synthesis network consumes (input + layers + output)."""
        return self.num_layers + 2

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "StyleGAN3Config":
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown StyleGAN3 config keys {unknown}")
        return cls(**dict(data))


@dataclass(frozen=True)
class LayerSchedule:
    """Per-layer parameters of the synthesis network, indexed by layer ``0..num_layers``;
    layer ``num_layers`` is the output (ToRGB) layer, and the Fourier-feature input
    uses layer 0's values.

    Attributes
    ----------
    cutoffs, stopbands, half_widths : ndarray of float64
        Cutoff ``f_c``, minimum stopband ``f_t`` and transition half-width ``f_h``, in
        cycles per image width.
    sampling_rates : ndarray of int64
        Sampling rate ``s`` in samples per image width.
    sizes : ndarray of int64
        Spatial size in pixels, margins included.
    channels : ndarray of int64
        Output channels.
    """

    cutoffs: np.ndarray
    stopbands: np.ndarray
    half_widths: np.ndarray
    sampling_rates: np.ndarray
    sizes: np.ndarray
    channels: np.ndarray


def layer_schedule(cfg: StyleGAN3Config) -> LayerSchedule:
    """Cutoffs, stopbands, sampling rates, sizes and channels of every synthesis layer.

    Examples
    --------
    >>> s = layer_schedule(StyleGAN3Config(resolution=256))
    >>> s.sampling_rates.tolist()[:3], s.sizes.tolist()[-3:], s.channels.tolist()[-2:]
    ([16, 16, 16], [276, 256, 256], [128, 1])
    """
    n, n_crit, res = cfg.num_layers, cfg.num_critical, cfg.resolution
    last_cutoff = res / 2
    last_stopband = last_cutoff * cfg.last_stopband_rel
    exponents = np.minimum(np.arange(n + 1) / (n - n_crit), 1.0)
    cutoffs = cfg.first_cutoff * (last_cutoff / cfg.first_cutoff) ** exponents
    stopbands = cfg.first_stopband * (last_stopband / cfg.first_stopband) ** exponents
    sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, res))))
    half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
    sizes = sampling_rates + 2 * cfg.margin_size
    sizes[-2:] = res
    channels = np.rint(np.minimum(cfg.channel_base / 2 / cutoffs, cfg.channel_max))
    channels[-1] = cfg.img_channels
    if channels.min() < 1:
        raise ValueError(
            f"channel_base={cfg.channel_base} gives layers with 0 channels at resolution {res}; "
            f"use channel_base >= {res}"
        )
    return LayerSchedule(
        cutoffs=cutoffs,
        stopbands=stopbands,
        half_widths=half_widths,
        sampling_rates=sampling_rates.astype(np.int64),
        sizes=sizes.astype(np.int64),
        channels=channels.astype(np.int64),
    )
