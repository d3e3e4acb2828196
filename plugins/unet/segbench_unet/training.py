"""The training loop shared by every network of the package.

Adam with a cosine learning-rate schedule (from ``learning_rate`` down to 1 %
of it over all steps), random augmented patches, a held-out validation part
scored after every epoch, and the weights of the epoch with the lowest
validation loss kept (the last epoch's without validation images). Seeded:
the same seed, data and settings give the same weights on the same machine.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from . import data, losses

#: ``progress(epoch, total, loss)``, called after each epoch
Progress = Callable[[int, int, "float | None"], None]


@dataclass
class Settings:
    """What :func:`train` needs besides the network and the data (see ``fit``)."""

    epochs: int
    steps_per_epoch: int
    batch_size: int
    patch_shape: tuple[int, ...]
    margin: tuple[int, ...]
    learning_rate: float
    loss: str
    head: str
    target: str
    class_weights: list[float]
    boundary_width: int
    val_fraction: float
    augment: bool
    seed: int


@dataclass
class History:
    """Per-epoch mean training loss and validation loss, the epoch kept, seconds."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"train_loss": self.train_loss, "val_loss": self.val_loss, "best_epoch": self.best_epoch, "seconds": self.seconds}


def balanced_weights(targets: Sequence[np.ndarray], target: str) -> list[float]:
    """Inverse class frequencies over the training targets, scaled so the mean
    pixel weight is 1: ``w_c = 1 / (K f_c)`` (frequencies below 0.1 % count as 0.1 %)."""
    n_classes = 3 if target == "classes" else 2
    counts = np.zeros(n_classes)
    for t in targets:
        idx = t if target == "classes" else t[0].astype(np.uint8)
        counts += np.bincount(idx.ravel(), minlength=n_classes)[:n_classes]
    freq = np.maximum(counts / counts.sum(), 1e-3)
    return [float(w) for w in 1.0 / (n_classes * freq)]


def split(n: int, val_fraction: float, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Indices (train, validation): ``round(n * val_fraction)`` validation images,
    at least one when the fraction is positive and ``n >= 2``, never all."""
    n_val = 0 if val_fraction <= 0 or n < 2 else min(n - 1, max(1, round(n * val_fraction)))
    order = rng.permutation(n)
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


def loss_function(settings: Settings) -> Callable[[torch.Tensor | list, torch.Tensor], torch.Tensor]:
    """``loss(outputs, target)`` for a batch; a list of outputs (deep supervision) sums."""
    segmentation = losses.segmentation_loss(settings.loss, settings.head, settings.class_weights)

    def one(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if settings.target == "classes":
            onehot = nn.functional.one_hot(target.long(), 3).movedim(-1, 1).float()
            return segmentation(logits, onehot)
        fg = target[:, :1]
        seg = segmentation(torch.cat([-logits[:, :1], logits[:, :1]], dim=1), torch.cat([1 - fg, fg], dim=1))
        return seg + losses.distance_loss(torch.sigmoid(logits[:, 1:2]), target[:, 1:2])

    def loss(outputs, target):
        if isinstance(outputs, (list, tuple)):
            return sum(one(o, target) for o in outputs)
        return one(outputs, target)

    return loss


def train(
    net: nn.Module,
    examples: Sequence[data.Example],
    settings: Settings,
    device: torch.device,
    progress: Progress | None = None,
) -> History:
    """Train ``net`` in place on ``examples`` (prepared with the network's margin).

    Returns the :class:`History`; ``net`` holds the kept epoch's weights.
    """
    start = time.perf_counter()
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    train_idx, val_idx = split(len(examples), settings.val_fraction, rng)
    val_patches = [p for i in val_idx for p in data.fixed_patches(examples[i], settings.patch_shape, settings.margin)]
    loss_fn = loss_function(settings)
    net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    total = settings.epochs * settings.steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step, total) / max(total, 1)))
    )
    history = History()
    best_loss, best_state = math.inf, None
    for epoch in range(settings.epochs):
        net.train()
        epoch_losses = []
        for _ in range(settings.steps_per_epoch):
            batch = [
                data.sample_patch(examples[int(rng.choice(train_idx))], settings.patch_shape, settings.margin, rng, settings.augment)
                for _ in range(settings.batch_size)
            ]
            x = torch.from_numpy(np.stack([b[0] for b in batch])).to(device)
            y = torch.from_numpy(np.stack([b[1] for b in batch])).to(device)
            loss = loss_fn(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            epoch_losses.append(float(loss.detach()))
        history.train_loss.append(float(np.mean(epoch_losses)))
        if val_patches:
            val = validation_loss(net, val_patches, loss_fn, device)
            history.val_loss.append(val)
            if val < best_loss:
                best_loss, best_state = val, copy.deepcopy(net.state_dict())
                history.best_epoch = epoch + 1
        else:
            history.best_epoch = epoch + 1
        if progress is not None:
            progress(epoch + 1, settings.epochs, history.train_loss[-1])
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    history.seconds = time.perf_counter() - start
    return history


@torch.no_grad()
def validation_loss(net: nn.Module, patches, loss_fn, device: torch.device) -> float:
    """Mean loss over fixed validation patches, network in evaluation mode."""
    net.eval()
    values = []
    for x, y in patches:
        out = net(torch.from_numpy(x)[None].to(device))
        values.append(float(loss_fn(out, torch.from_numpy(y)[None].to(device))))
    return float(np.mean(values))

