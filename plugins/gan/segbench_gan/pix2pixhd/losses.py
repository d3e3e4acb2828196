"""pix2pixHD objectives: least-squares GAN loss over all discriminator scales and
the discriminator feature-matching loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["lsgan_loss", "feature_matching_loss"]


def lsgan_loss(predictions: list[list[torch.Tensor]], target_is_real: bool) -> torch.Tensor:
    """Least-squares GAN loss summed over scales: ``sum_s mean((D_s - t)^2)``, ``t`` = 1 or 0.

    Parameters
    ----------
    predictions : list of list of Tensor
        :class:`~segbench_gan.pix2pixhd.networks.MultiscaleDiscriminator` output; the
        last tensor of each scale is the patch score map.
    target_is_real : bool
    """
    target = 1.0 if target_is_real else 0.0
    return sum(F.mse_loss(scale[-1], torch.full_like(scale[-1], target)) for scale in predictions)


def feature_matching_loss(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]]) -> torch.Tensor:
    """Discriminator feature matching: L1 between the intermediate activations on
    fake and real inputs (real ones detached), weighted ``4 / (n_layers + 1)`` per
    layer and ``1 / num_D`` per scale as in pix2pixHD (without ``lambda_feat``).

    Parameters
    ----------
    fake, real : list of list of Tensor
        Discriminator outputs on ``(condition, fake)`` and ``(condition, real)``.
    """
    num_d = len(fake)
    loss = fake[0][0].new_zeros(())
    for fake_scale, real_scale in zip(fake, real):
        layer_weight = 4.0 / (len(fake_scale) - 1)  # len = n_layers + 2 blocks, last is the score
        for a, b in zip(fake_scale[:-1], real_scale[:-1]):
            loss = loss + layer_weight / num_d * F.l1_loss(a, b.detach())
    return loss
