"""Training bookkeeping shared by both GANs: sample grids as PNG and stats as JSONL."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

import imageio.v3 as iio
import numpy as np

from segbench.io import atomic_path, atomic_write_text

__all__ = ["image_grid", "save_image_grid", "StatsLog", "atomic_save"]


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Scale one 2D array to 0..255: its minimum to 0 and its maximum to 255."""
    x = np.asarray(image, dtype=np.float64)
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        return np.zeros(x.shape, dtype=np.uint8)
    return np.round((x - lo) / (hi - lo) * 255).astype(np.uint8)


def image_grid(images: Sequence[np.ndarray], ncols: int, gap: int = 2) -> np.ndarray:
    """Tile 2D arrays into one uint8 image, row by row, each scaled to 0..255 on its own.

    Parameters
    ----------
    images : sequence of ndarray
        2D arrays of one shape ``(Y, X)``.
    ncols : int
        Tiles per row (>= 1).
    gap : int
        Pixels of black between tiles.

    Returns
    -------
    ndarray
        uint8, ``(rows * (Y + gap) - gap, ncols * (X + gap) - gap)``.

    Examples
    --------
    >>> import numpy as np
    >>> image_grid([np.zeros((4, 4)), np.eye(4)], ncols=2, gap=1).shape
    (4, 9)
    """
    if ncols < 1:
        raise ValueError(f"image_grid: ncols must be >= 1, got {ncols}")
    if len(images) == 0:
        raise ValueError("image_grid: images is empty")
    shapes = {np.shape(im) for im in images}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"image_grid: images must be 2D arrays of one shape, got shapes {sorted(shapes)}")
    h, w = next(iter(shapes))
    rows = math.ceil(len(images) / ncols)
    grid = np.zeros((rows * (h + gap) - gap, ncols * (w + gap) - gap), dtype=np.uint8)
    for k, image in enumerate(images):
        r, c = divmod(k, ncols)
        grid[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = _to_uint8(image)
    return grid


def save_image_grid(path: str | Path, images: Sequence[np.ndarray], ncols: int, gap: int = 2) -> Path:
    """Write :func:`image_grid` of ``images`` as a PNG file; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, image_grid(images, ncols, gap), extension=".png")
    return path


class StatsLog:
    """Training statistics as JSON Lines: one object per :meth:`write`, appended.

    Parameters
    ----------
    path : str or Path
        The ``.jsonl`` file (created with its folder on the first write).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, **record: float | int | str) -> None:
        """Append ``record`` (numbers become plain floats/ints) as one line."""
        clean = {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(clean) + "\n")

    def read(self) -> list[dict]:
        """Every record written so far (an empty list when the file does not exist)."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def truncate_after(self, step: int) -> None:
        """Drop records with ``step`` greater than ``step`` (used when resuming from a
        snapshot older than the log's last line, so no step is logged twice)."""
        kept = [r for r in self.read() if r.get("step", 0) <= step]
        atomic_write_text(self.path, "".join(json.dumps(record) + "\n" for record in kept))


def atomic_save(obj, path: str | Path) -> None:
    """``torch.save`` to a temporary file, then rename, so a killed run never leaves
    a half-written checkpoint behind (:func:`segbench.io.atomic_path`)."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
