"""Checkpoint files of the mask GAN, written with ``torch.save`` and read with
``torch.load(weights_only=True)`` (tensors, numbers, strings, lists and dicts only).

Two kinds, told apart by their ``"format"`` entry:

- a training snapshot ``snapshot-NNNNNNN.pt`` (``FORMAT_SNAPSHOT``): ``config`` (the
  architecture, :meth:`StyleGAN3Config.to_dict`), ``options`` (training settings),
  ``step``, ``cur_nimg``, ``seconds``, the state dicts ``G``, ``D``, ``G_ema``,
  ``opt_G``, ``opt_D``, ``augment`` (ADA state) and ``rng`` (the training random
  generator's state): everything needed to resume bit for bit;
- an exported generator (``FORMAT_GENERATOR``): ``config``, ``G_ema`` and ``info``
  (provenance), all that sampling needs (a third of a snapshot's size).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from segbench.errors import InputError

from ..snapshots import atomic_save
from ..weights_only import load_weights_only, refusal_reason
from .config import StyleGAN3Config
from .generator import Generator

__all__ = [
    "FORMAT_SNAPSHOT",
    "FORMAT_GENERATOR",
    "snapshot_path",
    "latest_snapshot",
    "read_checkpoint",
    "generator_from_checkpoint",
    "export_mask_generator",
]

FORMAT_SNAPSHOT = "segbench-stylegan3-snapshot/1"
FORMAT_GENERATOR = "segbench-stylegan3-generator/1"
_SNAPSHOT_NAME = re.compile(r"^snapshot-(\d+)\.pt$")


def snapshot_path(out_dir: str | Path, step: int) -> Path:
    """``out_dir / snapshot-{step:07d}.pt``."""
    return Path(out_dir) / f"snapshot-{step:07d}.pt"


def latest_snapshot(out_dir: str | Path) -> Path | None:
    """The snapshot with the highest step in ``out_dir``, or None."""
    folder = Path(out_dir)
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _SNAPSHOT_NAME.match(p.name))]
    return max(found)[1] if found else None


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a snapshot or exported generator onto the CPU, safely.

    Raises
    ------
    segbench.errors.InputError
        The file is missing, not loadable with ``weights_only=True``, or not one of
        the two formats.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such checkpoint file", "check the path")
    try:
        data = load_weights_only(path)
    except Exception as err:  # noqa: BLE001 - torch raises many types for bad files
        raise InputError(path, f"cannot be read as a weights-only torch checkpoint ({refusal_reason(err)})",
                         "give a file written by segbench's StyleGAN3 training or export") from None
    fmt = data.get("format") if isinstance(data, dict) else None
    if fmt not in (FORMAT_SNAPSHOT, FORMAT_GENERATOR):
        raise InputError(path, f"is not a segbench StyleGAN3 checkpoint (format {fmt!r})",
                         "give a snapshot-*.pt or an exported generator file")
    return data


def generator_from_checkpoint(data: dict[str, Any], path: str | Path = "checkpoint") -> Generator:
    """Rebuild the EMA generator of a loaded checkpoint (CPU, eval mode, no grad).

    Raises
    ------
    segbench.errors.InputError
        The stored config or weights do not fit together.
    """
    try:
        cfg = StyleGAN3Config.from_dict(data["config"])
        G = Generator(cfg)
        G.load_state_dict(data["G_ema"])
    except (KeyError, ValueError, RuntimeError, TypeError) as err:
        raise InputError(path, f"holds an inconsistent generator ({str(err).splitlines()[0]})",
                         "write the checkpoint again with this version of segbench-gan") from None
    return G.eval().requires_grad_(False)


def export_mask_generator(snapshot: str | Path, dest: str | Path) -> Path:
    """Write the EMA generator of a training snapshot (config + weights + provenance)
    to ``dest``, the small file to ship or to pass to :func:`load_mask_generator`.

    Parameters
    ----------
    snapshot : str or Path
        A ``snapshot-*.pt`` file, or a training folder (its newest snapshot).
    dest : str or Path
        Output file (``.pt``); its folder is created.

    Returns
    -------
    Path
        ``dest``.
    """
    snapshot = Path(snapshot)
    if snapshot.is_dir():
        found = latest_snapshot(snapshot)
        if found is None:
            raise InputError(snapshot, "holds no snapshot-*.pt files", "point at a training output folder")
        snapshot = found
    data = read_checkpoint(snapshot)
    if data["format"] != FORMAT_SNAPSHOT:
        raise InputError(snapshot, "is already an exported generator", "give a training snapshot")
    info = {
        "step": data["step"],
        "kimg": data["cur_nimg"] / 1000,
        "seconds": data["seconds"],
        "options": data["options"],
        "snapshot": snapshot.name,
    }
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_save({"format": FORMAT_GENERATOR, "config": data["config"], "G_ema": data["G_ema"], "info": info}, dest)
    return dest
