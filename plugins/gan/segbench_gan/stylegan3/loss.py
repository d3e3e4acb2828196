"""GAN losses of StyleGAN2/3: the non-saturating logistic loss (Goodfellow et al. 2014)
and the R1 gradient penalty on real images (Mescheder et al. 2018), applied lazily
(every few steps, scaled by the interval; Karras et al. 2020, Sec. 3.1)."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

__all__ = ["generator_loss", "discriminator_loss", "r1_penalty"]


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """``mean(softplus(-D(G(z))))``: the generator wants its images judged real."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``mean(softplus(D(G(z)))) + mean(softplus(-D(x)))``: logistic loss of a real/fake
    classifier on logits."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def r1_penalty(discriminator: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
    """Squared norm of the discriminator's gradient at each real image.

    Parameters
    ----------
    discriminator : callable
        ``(N, C, H, W) -> (N,)`` logits (including any augmentation).
    real : Tensor
        ``(N, C, H, W)`` real images.

    Returns
    -------
    Tensor
        ``(N,)`` values of ``||grad_x D(x)||^2``, differentiable with respect to the
        discriminator's parameters. The loss term is ``gamma / 2 * mean(...)``.
    """
    real = real.detach().requires_grad_(True)
    logits = discriminator(real)
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3))
