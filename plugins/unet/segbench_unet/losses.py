"""Segmentation losses for single-label (softmax) and multi-label (sigmoid) heads.

All losses take logits ``(N, C, *spatial)`` and a one-hot target of the same
shape (every pixel in exactly one class; a sigmoid head scores each channel
on its own), plus per-class weights ``(K,)`` applied through the
target's class of each pixel (class re-weighting for unbalanced foreground).

- ``ce``: cross-entropy; softmax head: categorical, sigmoid head: binary per
  channel (averaged over channels). Weighted per pixel by its class's weight
  and normalised by the sum of the weights.
- ``dice``: soft Dice loss ``1 - (2 sum(p t) + 1) / (sum(p) + sum(t) + 1)`` per
  channel over the batch, combined as the class-weighted mean.
- ``ce_dice``: ``(ce / ce_0 + dice / dice_0) / 2`` where ``ce_0`` and ``dice_0``
  are the two losses of the uninformed prediction (every class equally
  likely) on the same target, so both terms start at the same magnitude (1).
- ``focal``: focal loss (Lin et al. 2017), ``-w (1 - p)^gamma log p`` with
  ``log p`` clamped at ``log(1e-6)``, so saturated predictions give finite
  values and gradients.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch.nn import functional as F

from .options import HEADS, LOSSES  # noqa: F401 - re-exported

#: the focal loss's logarithm is clamped at log(EPS)
EPS = 1e-6


def probabilities(logits: torch.Tensor, head: str) -> torch.Tensor:
    """Class probabilities: softmax over channels, or a sigmoid per channel."""
    return torch.softmax(logits, dim=1) if head == "softmax" else torch.sigmoid(logits)


def _pixel_weights(target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weight of each pixel, ``(N, *spatial)``: the weight of its class (one-hot target)."""
    return torch.einsum("nc...,c->n...", target, weights)


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, head: str, weights: torch.Tensor) -> torch.Tensor:
    """Class-weighted cross-entropy (see the module docstring)."""
    if head == "softmax":
        per_pixel = -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)
    else:
        per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(dim=1)
    w = _pixel_weights(target, weights)
    return (w * per_pixel).sum() / w.sum()


def dice(probs: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Soft Dice loss per channel, combined by the class weights (normalised)."""
    axes = (0, *range(2, probs.ndim))
    overlap = (probs * target).sum(dim=axes)
    total = probs.sum(dim=axes) + target.sum(dim=axes)
    per_channel = 1 - (2 * overlap + 1) / (total + 1)
    return (per_channel * weights).sum() / weights.sum()


def focal(logits: torch.Tensor, target: torch.Tensor, head: str, weights: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Class-weighted focal loss with the logarithm clamped (never inf or NaN)."""
    floor = math.log(EPS)
    if head == "softmax":
        log_p = torch.log_softmax(logits, dim=1).clamp(min=floor)
        per_pixel = -(target * (1 - log_p.exp()) ** gamma * log_p).sum(dim=1)
    else:
        log_p = F.logsigmoid(logits).clamp(min=floor)
        log_q = F.logsigmoid(-logits).clamp(min=floor)
        per_pixel = -(
            target * (1 - log_p.exp()) ** gamma * log_p + (1 - target) * (1 - log_q.exp()) ** gamma * log_q
        ).mean(dim=1)
    w = _pixel_weights(target, weights)
    return (w * per_pixel).sum() / w.sum()


def ce_dice(logits: torch.Tensor, target: torch.Tensor, head: str, weights: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus Dice, each divided by its value for the uninformed prediction."""
    uniform = torch.zeros_like(logits)
    with torch.no_grad():
        ce_0 = cross_entropy(uniform, target, head, weights)
        dice_0 = dice(probabilities(uniform, head), target, weights)
    ce = cross_entropy(logits, target, head, weights)
    d = dice(probabilities(logits, head), target, weights)
    return (ce / ce_0 + d / dice_0.clamp(min=EPS)) / 2


def segmentation_loss(name: str, head: str, weights: Sequence[float]) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss ``name`` as ``loss(logits, target) -> scalar`` for ``head``.

    Parameters
    ----------
    name : str
        One of :data:`LOSSES`.
    head : str
        ``"softmax"`` or ``"sigmoid"``.
    weights : sequence of float
        One weight per channel (class).
    """
    if name not in LOSSES:
        raise ValueError(f"loss: {name!r} is not one of {LOSSES}")
    w = torch.as_tensor(list(weights), dtype=torch.float32)

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ww = w.to(logits.device)
        if name == "ce":
            return cross_entropy(logits, target, head, ww)
        if name == "dice":
            return dice(probabilities(logits, head), target, ww)
        if name == "focal":
            return focal(logits, target, head, ww)
        return ce_dice(logits, target, head, ww)

    return loss


def distance_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of a distance map in [0, 1], divided by that of the
    uninformed prediction 0.5 (so it starts near 1, like the other terms)."""
    with torch.no_grad():
        reference = ((target - 0.5) ** 2).mean().clamp(min=EPS)
    return ((prediction - target) ** 2).mean() / reference
