"""The StyleGAN3 generator: mapping network + alias-free synthesis network."""

from __future__ import annotations

import torch
from torch import nn

from .config import StyleGAN3Config
from .mapping import MappingNetwork
from .synthesis import SynthesisNetwork

__all__ = ["Generator"]


class Generator(nn.Module):
    """z ``(N, z_dim)`` -> image ``(N, img_channels, resolution, resolution)``.

    Parameters
    ----------
    cfg : StyleGAN3Config
        Architecture.

    Attributes
    ----------
    mapping : MappingNetwork
    synthesis : SynthesisNetwork

    Examples
    --------
    >>> import torch
    >>> cfg = StyleGAN3Config(resolution=16, num_layers=3, channel_base=256, channel_max=8,
    ...                       margin_size=2, z_dim=8, w_dim=8)
    >>> G = Generator(cfg)
    >>> tuple(G(torch.randn(2, 8)).shape)
    (2, 1, 16, 16)
    """

    def __init__(self, cfg: StyleGAN3Config):
        super().__init__()
        self.cfg = cfg
        self.synthesis = SynthesisNetwork(cfg)
        self.mapping = MappingNetwork(
            cfg.z_dim, cfg.w_dim, cfg.num_ws, num_layers=cfg.mapping_layers,
            lr_multiplier=cfg.mapping_lr_multiplier, w_avg_beta=cfg.w_avg_beta,
        )

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, update_emas: bool = False) -> torch.Tensor:
        ws = self.mapping(z, truncation_psi=truncation_psi, update_emas=update_emas)
        return self.synthesis(ws, update_emas=update_emas)
