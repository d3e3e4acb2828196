"""The mapping network: latent z -> intermediate latent w (StyleGAN, Karras et al. 2019)."""

from __future__ import annotations

import torch
from torch import nn

from .layers import FullyConnectedLayer

__all__ = ["MappingNetwork"]


class MappingNetwork(nn.Module):
    """Normalise z to unit second moment, run it through fully connected layers, and
    broadcast the result to the ``num_ws`` inputs of the synthesis network.

    During training (``update_emas=True``) the running mean ``w_avg`` of w is tracked
    with decay ``w_avg_beta``; truncation pulls w towards it:
    ``w' = w_avg + psi * (w - w_avg)``.

    Parameters
    ----------
    z_dim, w_dim : int
        Sizes of z and w.
    num_ws : int
        Copies of w to output.
    num_layers : int
        Fully connected layers (leaky ReLU).
    lr_multiplier : float
        Learning-rate multiplier of the layers.
    w_avg_beta : float
        Decay of ``w_avg``.

    Attributes
    ----------
    fc0, fc1, ... : FullyConnectedLayer
        The layers (state dict keys ``fc{i}.weight``, ``fc{i}.bias``).
    w_avg : Tensor
        ``(w_dim,)`` buffer.
    """

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 2,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.998,
    ):
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws = z_dim, w_dim, num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        for i in range(num_layers):
            in_features = z_dim if i == 0 else w_dim
            layer = FullyConnectedLayer(in_features, w_dim, activation="lrelu", lr_multiplier=lr_multiplier)
            self.add_module(f"fc{i}", layer)
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, update_emas: bool = False) -> torch.Tensor:
        """Map ``z`` of shape ``(N, z_dim)`` to ws of shape ``(N, num_ws, w_dim)``."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (N, {self.z_dim}), got {tuple(z.shape)}")
        x = z.float()
        x = x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        if update_emas:
            with torch.no_grad():
                self.w_avg.copy_(torch.lerp(x.detach().mean(dim=0), self.w_avg, self.w_avg_beta))
        if truncation_psi != 1:
            x = torch.lerp(self.w_avg, x, truncation_psi)
        return x.unsqueeze(1).expand(-1, self.num_ws, -1)
