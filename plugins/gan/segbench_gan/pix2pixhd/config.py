"""Architecture settings of a pix2pixHD model (generator, discriminators, encoder).

The names and defaults follow the pix2pixHD command-line options (``--ngf``,
``--n_downsample_global``, ``--num_D``, ...), so a ``latest_net_G.pth`` trained
with the official code loads into a model built from the same settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

__all__ = ["Pix2PixHDConfig"]

NORMS = ("instance", "batch")
GENERATORS = ("global", "local")


@dataclass(frozen=True)
class Pix2PixHDConfig:
    """Architecture of a pix2pixHD model.

    Generator input channels, in this order: the label map (``label_nc == 0``:
    one binary foreground channel; ``label_nc >= 2``: one-hot of ``label_nc``
    semantic classes), the instance edge map (one channel, when ``use_edges``),
    and the ``feat_num`` encoder feature channels.

    Attributes
    ----------
    label_nc : int
        0 for a binary foreground channel, else the number of semantic classes
        (background included) of a one-hot label map.
    use_edges : bool
        Feed the instance edge map (pixels whose 4-neighbour has another instance id).
    feat_num : int
        Channels of the instance-wise feature map (0: no feature encoder).
    output_nc : int
        Image channels (1 for one fluorescence channel).
    netG : {"global", "local"}
        Global generator alone, or with ``n_local_enhancers`` local enhancers.
    ngf : int
        Filters of the first generator layer (the global generator of a "local"
        model gets ``ngf * 2**n_local_enhancers``).
    n_downsample_global, n_blocks_global : int
        Stride-2 downsamplings and residual blocks of the global generator.
    n_local_enhancers, n_blocks_local : int
        Local enhancers and residual blocks in each (``netG == "local"`` only).
    norm : {"instance", "batch"}
        Normalisation layers (instance norm has no learnable parameters).
    nef, n_downsample_E : int
        Filters and downsamplings of the feature encoder.
    ndf, n_layers_D, num_D : int
        Filters, stride-2 layers and number of scales of the PatchGAN discriminators.
    n_clusters : int
        k-means clusters per semantic class of the encoded instance features.
    """

    label_nc: int = 0
    use_edges: bool = True
    feat_num: int = 0
    output_nc: int = 1
    netG: str = "global"
    ngf: int = 64
    n_downsample_global: int = 3
    n_blocks_global: int = 9
    n_local_enhancers: int = 1
    n_blocks_local: int = 3
    norm: str = "instance"
    nef: int = 16
    n_downsample_E: int = 4
    ndf: int = 64
    n_layers_D: int = 3
    num_D: int = 2
    n_clusters: int = 10

    def __post_init__(self):
        if self.label_nc < 0 or self.label_nc == 1:
            raise ValueError(
                f"label_nc: must be 0 (binary foreground) or >= 2 (one-hot classes), got {self.label_nc}"
            )
        if self.netG not in GENERATORS:
            raise ValueError(f"netG: must be one of {GENERATORS}, got {self.netG!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm: must be one of {NORMS}, got {self.norm!r}")
        for name in ("ngf", "ndf", "nef", "output_nc", "n_layers_D", "num_D", "n_clusters"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("feat_num", "n_downsample_global", "n_blocks_global", "n_blocks_local", "n_downsample_E"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if self.netG == "local" and self.n_local_enhancers < 1:
            raise ValueError(f"n_local_enhancers: must be >= 1 for netG='local', got {self.n_local_enhancers}")

    @property
    def label_channels(self) -> int:
        """Channels of the label map plus the edge map."""
        return max(self.label_nc, 1) + int(self.use_edges)

    @property
    def input_nc(self) -> int:
        """Generator input channels: label map, edge map, features."""
        return self.label_channels + self.feat_num

    @property
    def d_input_nc(self) -> int:
        """Discriminator input channels: label map, edge map and the image."""
        return self.label_channels + self.output_nc

    @property
    def size_multiple(self) -> int:
        """Image sides must be multiples of this (the generator's total downsampling)."""
        local = self.n_local_enhancers if self.netG == "local" else 0
        encoder = self.n_downsample_E if self.feat_num else 0
        return 2 ** max(self.n_downsample_global + local, encoder)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "config") -> "Pix2PixHDConfig":
        """Build from a mapping, rejecting unknown keys with a message naming ``source``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown pix2pixHD settings {unknown}; known: {sorted(known)}")
        return cls(**data)
