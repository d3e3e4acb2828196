"""Sampling masks from a trained (or official) StyleGAN3 generator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from segbench.errors import InputError
from segbench.kit import torch_device

from .checkpoint import generator_from_checkpoint, latest_snapshot, read_checkpoint
from .generator import Generator
from .labels import masks_to_labels
from .pickle_io import load_official_pickle

__all__ = ["MaskGenerator", "load_mask_generator", "EXPORTED_NAME"]

#: File name :func:`load_mask_generator` looks for first in a folder.
EXPORTED_NAME = "generator.pt"


class MaskGenerator:
    """Draws binary cell masks and their instance labels from a StyleGAN3 generator.

    Image ``i`` of ``sample(n, seed)`` comes from the latent
    ``numpy.random.default_rng((seed, i)).standard_normal(z_dim)`` and is computed in
    a batch of fixed composition, so it is the same for every ``n`` and every call.

    Parameters
    ----------
    generator : Generator
        The network (moved to ``device``, set to eval mode).
    device : str or torch.device, optional
        Default CUDA when available, else CPU.
    source : str
        Where the weights came from (for provenance).
    info : dict, optional
        Training provenance stored with the weights.

    Attributes
    ----------
    resolution : int
        Masks are ``(resolution, resolution)``.
    config : dict
        The architecture (:meth:`StyleGAN3Config.to_dict`).
    """

    #: Images per network pass; fixed so results never depend on ``n``.
    chunk = 8

    def __init__(self, generator: Generator, device: str | torch.device | None = None, source: str = "",
                 info: dict[str, Any] | None = None):
        self.device = torch_device(device)
        self.generator = generator.to(self.device).eval().requires_grad_(False)
        self.resolution = generator.cfg.resolution
        self.config = generator.cfg.to_dict()
        self.source = source
        self.info = dict(info or {})

    def __repr__(self) -> str:
        return f"MaskGenerator(resolution={self.resolution}, architecture={self.config['architecture']!r}, " \
               f"source={self.source!r})"

    def sample_logits(self, n: int, seed: int, truncation_psi: float = 1.0) -> np.ndarray:
        """Raw generator output, averaged over its channels.

        Parameters
        ----------
        n : int
            Number of masks (>= 0).
        seed : int
            Non-negative seed.
        truncation_psi : float
            1 = no truncation; smaller values trade variety for typicality.

        Returns
        -------
        ndarray
            ``(n, resolution, resolution)`` float32, roughly in ``[-1, 1]`` (> 0 = cell).
        """
        if not (isinstance(n, (int, np.integer)) and n >= 0):
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        if not (isinstance(seed, (int, np.integer)) and seed >= 0):
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        z_dim = self.generator.cfg.z_dim
        out = np.empty((n, self.resolution, self.resolution), dtype=np.float32)
        for start in range(0, n, self.chunk):
            z = np.stack([np.random.default_rng((seed, i)).standard_normal(z_dim)
                          for i in range(start, start + self.chunk)])
            with torch.no_grad():
                images = self.generator(torch.from_numpy(z).float().to(self.device), truncation_psi=truncation_psi)
            stop = min(start + self.chunk, n)
            out[start:stop] = images.mean(dim=1)[: stop - start].cpu().numpy()
        return out

    def sample_masks(self, n: int, seed: int, truncation_psi: float = 1.0, *, threshold: float = 0.0) -> np.ndarray:
        """``sample_logits(...) > threshold``: ``(n, resolution, resolution)`` bool."""
        return self.sample_logits(n, seed, truncation_psi) > threshold

    def sample(
        self,
        n: int,
        seed: int,
        truncation_psi: float = 1.0,
        *,
        threshold: float = 0.0,
        split_touching: bool = True,
        split_depth: float = 2.0,
        min_size: int = 4,
    ) -> list[np.ndarray]:
        """``n`` instance label images (int32, ``(resolution, resolution)``, 0 =
        background): thresholded masks split into objects by :func:`masks_to_labels`."""
        return [
            masks_to_labels(m, threshold=threshold, split_touching=split_touching, split_depth=split_depth,
                            min_size=min_size)
            for m in self.sample_logits(n, seed, truncation_psi)
        ]


def _resolve(path: Path) -> Path:
    if not path.is_dir():
        return path
    if (path / EXPORTED_NAME).is_file():
        return path / EXPORTED_NAME
    found = latest_snapshot(path)
    if found is None:
        raise InputError(path, f"holds neither {EXPORTED_NAME} nor snapshot-*.pt files",
                         "point at an exported generator, a snapshot, or a training folder")
    return found


def load_mask_generator(checkpoint: str | Path, device: str | torch.device | None = None) -> MaskGenerator:
    """Load a mask generator.

    Parameters
    ----------
    checkpoint : str or Path
        An exported generator (``generator.pt``), a training snapshot
        (``snapshot-*.pt``), a folder holding either (``generator.pt`` first, else the
        newest snapshot), or an official StyleGAN3 ``network-snapshot-*.pkl`` (read by
        the restricted unpickler of :mod:`.pickle_io`, which never runs pickled code).
    device : str or torch.device, optional
        Default CUDA when available, else CPU.

    Returns
    -------
    MaskGenerator

    Raises
    ------
    segbench.errors.InputError
        Missing or unreadable file, or weights that do not fit the architecture.
    segbench.errors.SegbenchError
        A pickle that needs a global outside the allow-list.
    """
    path = _resolve(Path(checkpoint))
    if path.suffix == ".pkl":
        cfg, state = load_official_pickle(path)
        G = Generator(cfg)
        G.load_state_dict(state)
        return MaskGenerator(G, device, source=str(path), info={"official_pickle": path.name})
    data = read_checkpoint(path)
    info = data.get("info") or {"step": data.get("step"), "kimg": data.get("cur_nimg", 0) / 1000}
    return MaskGenerator(generator_from_checkpoint(data, path), device, source=str(path), info=info)
