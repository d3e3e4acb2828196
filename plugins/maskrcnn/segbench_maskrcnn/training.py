"""The training loop: torchvision's Mask R-CNN losses, AdamW, warm-up and cosine decay."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from . import data


@dataclass(frozen=True)
class TrainSettings:
    """Training settings (a suite's ``train:`` block); see ``MaskRCNNSegmenter.fit``."""

    epochs: int
    batch_size: int
    crop_size: int
    learning_rate: float
    weight_decay: float
    warmup_fraction: float
    grad_clip: float

    def to_json(self) -> dict:
        return asdict(self)


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Learning-rate multiplier at ``step`` (0-based): linear warm-up over ``warmup``
    steps from 1/warmup, then a cosine decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    span = max(total - warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / span))


def train(
    model: torch.nn.Module,
    images: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    settings: TrainSettings,
    *,
    seed: int,
    device: torch.device,
    progress: Callable[[int, int, float | None], None] | None = None,
) -> dict:
    """Train ``model`` in place on normalised images and their label images.

    Each epoch visits every image once, in a random order, ``batch_size`` per
    step, as an augmented random crop (:func:`data.augmented_crop`).

    Parameters
    ----------
    model : torchvision MaskRCNN
    images : sequence of float32 ndarray, each (Y, X)
        Normalised (:func:`data.normalized`).
    labels : sequence of int ndarray, each (Y, X)
    settings : TrainSettings
    seed : int
        Seeds the crops, their order and the augmentations.
    device : torch.device
    progress : callable, optional
        ``progress(epoch, epochs, mean loss of the epoch)`` after each epoch.

    Returns
    -------
    dict
        ``steps``, ``seconds``, ``final_loss`` (mean total loss of the last epoch)
        and ``loss_parts`` (its mean per torchvision loss term).
    """
    rng = np.random.default_rng(seed)
    n = len(images)
    steps_per_epoch = math.ceil(n / settings.batch_size)
    total = settings.epochs * steps_per_epoch
    warmup = max(1, round(settings.warmup_fraction * total))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params, lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total, warmup)
    )
    model.to(device).train()
    start = time.perf_counter()
    epoch_loss, parts = float("nan"), {}
    for epoch in range(settings.epochs):
        order = rng.permutation(n)
        sums: dict[str, float] = {}
        for first in range(0, n, settings.batch_size):
            inputs, batch_targets = [], []
            for i in order[first : first + settings.batch_size]:
                image, lab = data.augmented_crop(images[i], labels[i], settings.crop_size, rng)
                inputs.append(data.to_input(image).to(device))
                batch_targets.append({k: v.to(device) for k, v in data.targets(lab).items()})
            losses = model(inputs, batch_targets)
            loss = sum(losses.values())
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"maskrcnn: training diverged at epoch {epoch + 1} (loss {float(loss)}); "
                    "lower learning_rate"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
            optimizer.step()
            scheduler.step()
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + value.item()
        parts = {k: v / steps_per_epoch for k, v in sums.items()}
        epoch_loss = sum(parts.values())
        if progress is not None:
            progress(epoch + 1, settings.epochs, epoch_loss)
    model.eval()
    return {
        "steps": total,
        "seconds": time.perf_counter() - start,
        "final_loss": epoch_loss,
        "loss_parts": parts,
    }
