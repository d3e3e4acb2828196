"""Network inputs built from label images: label channels, instance edge map, and
the mapping between image intensities and the generator's ``[-1, 1]`` range."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .config import Pix2PixHDConfig

__all__ = ["instance_edges", "label_input", "to_unit_range", "from_unit_range"]


def instance_edges(instances: torch.Tensor) -> torch.Tensor:
    """Edge map of an instance image: 1 where a 4-neighbour has a different id.

    Both pixels on either side of a boundary are marked, so two touching cells
    stay separated by a two-pixel line and a cell's rim against the background
    is marked too.

    Parameters
    ----------
    instances : Tensor
        ``(B, 1, H, W)`` integer instance ids.

    Returns
    -------
    Tensor
        ``(B, 1, H, W)`` float32 of 0 and 1.

    Examples
    --------
    >>> import torch
    >>> ids = torch.tensor([[[[1, 1, 2, 2]]]])
    >>> instance_edges(ids)[0, 0, 0].tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    if instances.ndim != 4 or instances.shape[1] != 1:
        raise ValueError(f"instances: expected shape (B, 1, H, W), got {tuple(instances.shape)}")
    edge = torch.zeros(instances.shape, dtype=torch.bool, device=instances.device)
    dx = instances[..., :, 1:] != instances[..., :, :-1]
    dy = instances[..., 1:, :] != instances[..., :-1, :]
    edge[..., :, 1:] |= dx
    edge[..., :, :-1] |= dx
    edge[..., 1:, :] |= dy
    edge[..., :-1, :] |= dy
    return edge.float()


def label_input(instances: torch.Tensor, config: Pix2PixHDConfig, semantic: torch.Tensor | None = None) -> torch.Tensor:
    """Label map and edge map channels (the discriminator's condition; the
    generator's input before any feature channels).

    Parameters
    ----------
    instances : Tensor
        ``(B, 1, H, W)`` integer instance ids, 0 = background.
    config : Pix2PixHDConfig
        ``label_nc == 0``: the label channel is the binary foreground ``instances > 0``;
        ``label_nc >= 2``: one-hot of ``semantic``.
    semantic : Tensor, optional
        ``(B, 1, H, W)`` class ids in ``[0, label_nc)``; required when ``label_nc >= 2``.

    Returns
    -------
    Tensor
        ``(B, config.label_channels, H, W)`` float32.
    """
    if config.label_nc == 0:
        channels = [(instances > 0).float()]
    else:
        if semantic is None:
            raise ValueError(f"semantic: a class map is required when label_nc={config.label_nc}")
        if semantic.shape != instances.shape:
            raise ValueError(
                f"semantic: shape {tuple(semantic.shape)} differs from instances {tuple(instances.shape)}"
            )
        if int(semantic.min()) < 0 or int(semantic.max()) >= config.label_nc:
            raise ValueError(
                f"semantic: class ids must lie in [0, {config.label_nc}), "
                f"got [{int(semantic.min())}, {int(semantic.max())}]"
            )
        one_hot = F.one_hot(semantic[:, 0].long(), config.label_nc)  # B, H, W, C
        channels = [one_hot.permute(0, 3, 1, 2).float()]
    if config.use_edges:
        channels.append(instance_edges(instances))
    return torch.cat(channels, dim=1)


def to_unit_range(image: np.ndarray | torch.Tensor, low: float, high: float):
    """Map intensities linearly so ``low -> -1`` and ``high -> 1``, clipped to ``[-1, 1]``."""
    if not high > low:
        raise ValueError(f"intensity range: need high > low, got low={low}, high={high}")
    scaled = (image - low) / (high - low) * 2 - 1
    return scaled.clamp(-1, 1) if isinstance(scaled, torch.Tensor) else np.clip(scaled, -1, 1)


def from_unit_range(x: np.ndarray | torch.Tensor, low: float, high: float):
    """Inverse of :func:`to_unit_range` (without the clipping)."""
    return (x + 1) / 2 * (high - low) + low
