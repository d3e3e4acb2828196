"""Render label images as fluorescence images with a trained pix2pixHD generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from segbench.kit import torch_device

from .checkpoint import FEATURES_FILE, G_FILE, CheckpointInfo, load_into, load_weights_file, read_info
from .features import FeatureClusters
from .inputs import from_unit_range, label_input
from .networks import build_generator

__all__ = ["ImageRenderer"]


class ImageRenderer:
    """A pix2pixHD generator ready to turn instance label images into images.

    Parameters
    ----------
    info : CheckpointInfo
        Architecture and intensity range.
    generator : torch.nn.Module
        The trained generator (moved to ``device``, put in eval mode).
    clusters : FeatureClusters or None
        Appearance clusters; required when ``info.config.feat_num > 0``.
    device : str or torch.device

    Use :meth:`from_checkpoint` to load one from a checkpoint folder.
    """

    def __init__(self, info: CheckpointInfo, generator: torch.nn.Module,
                 clusters: FeatureClusters | None = None, device: str | torch.device = "cpu"):
        if info.config.feat_num and clusters is None:
            raise ValueError("clusters: required when the generator takes feature channels (feat_num > 0)")
        self.info = info
        self.device = torch_device(device)
        self.generator = generator.to(self.device).eval()
        self.clusters = clusters

    @classmethod
    def from_checkpoint(cls, folder: str | Path, device: str | torch.device = "auto") -> "ImageRenderer":
        """Load ``config.json``, ``latest_net_G.pth`` (and ``features.npz``) from ``folder``."""
        folder = Path(folder)
        info = read_info(folder)
        generator = build_generator(info.config)
        load_into(generator, load_weights_file(folder / G_FILE), folder / G_FILE)
        # the encoder is only needed for training; sampling uses its clusters
        clusters = FeatureClusters.load(folder / FEATURES_FILE) if info.config.feat_num else None
        return cls(info, generator, clusters, device)

    @torch.no_grad()
    def render(self, instances: np.ndarray, rng: np.random.Generator,
               semantic: np.ndarray | None = None) -> np.ndarray:
        """Render one label image.

        Parameters
        ----------
        instances : ndarray
            ``(H, W)`` integer instance ids, 0 = background; any size (padded by
            reflection to a multiple of the generator's downsampling, then cropped back).
        rng : numpy.random.Generator
            Draws each instance's appearance cluster (unused without a feature encoder).
        semantic : ndarray, optional
            ``(H, W)`` class ids, for models trained with ``label_nc >= 2``.

        Returns
        -------
        ndarray
            ``(H, W)`` float32 image in the training data's intensity units
            (``output_nc == 1``; ``(H, W, C)`` otherwise).
        """
        instances = np.asarray(instances)
        if instances.ndim != 2 or not np.issubdtype(instances.dtype, np.integer):
            raise ValueError(f"instances: expected a 2D integer label image, got {instances.dtype} {instances.shape}")
        config = self.info.config
        h, w = instances.shape
        ids = torch.from_numpy(instances.astype(np.int64))[None, None]
        sem = None if semantic is None else torch.from_numpy(np.asarray(semantic, dtype=np.int64))[None, None]
        x = label_input(ids, config, sem)
        if config.feat_num:
            feats = self.clusters.feature_map(instances, rng, semantic)
            x = torch.cat([x, torch.from_numpy(feats)[None]], dim=1)
        m = config.size_multiple
        pad_h, pad_w = -h % m, -w % m
        if pad_h or pad_w:
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        out = self.generator(x.to(self.device))[0, :, :h, :w].float().cpu().numpy()
        image = from_unit_range(out, self.info.low, self.info.high).astype(np.float32)
        return image[0] if config.output_nc == 1 else np.moveaxis(image, 0, -1)
