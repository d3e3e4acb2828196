"""Checkpoint files: one ``torch.save`` of plain data, read with ``weights_only=True``.

A checkpoint is a dict ``{"format", "config", "state_dict", "history"}``:
``config`` describes the network (segmenter name, dims, target, head,
architecture, pooling factors) and is compared with the segmenter's own
before the weights are used; ``history`` is the training record of
:class:`segbench_unet.training.History` (or None). A bare ``state_dict`` (a
dict of tensors, as ``torch.save(net.state_dict())`` writes) loads too, when
it fits the configured network.
"""

from __future__ import annotations

from pathlib import Path

import torch

from segbench.errors import SegbenchError
from segbench.io import atomic_path

FORMAT = "segbench-unet/1"
#: the file ``fit`` writes into its workdir and ``load`` reads
FILENAME = "model.pt"


def save(path: Path, config: dict, state_dict: dict, history: dict | None) -> None:
    """Write the checkpoint atomically (:func:`segbench.io.atomic_path`): a
    killed training never leaves a half-written file."""
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "config": config, "state_dict": state_dict, "history": history}, tmp)


def read(path: Path) -> tuple[dict | None, dict, dict | None]:
    """(config or None for a bare state dict, state_dict, history) of a checkpoint file."""
    path = Path(path)
    if not path.is_file():
        raise SegbenchError(f"{path}: weights file not found; give the path of a file written by segbench-unet (model.pt) or by torch.save(net.state_dict())")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SegbenchError(f"{path}: not a loadable weights file ({first}); give a checkpoint saved with plain tensors (torch.load(weights_only=True) must read it)") from None
    if isinstance(blob, dict) and blob.get("format") == FORMAT:
        return blob["config"], blob["state_dict"], blob.get("history")
    if isinstance(blob, dict) and blob and all(isinstance(v, torch.Tensor) for v in blob.values()):
        return None, blob, None
    raise SegbenchError(f"{path}: neither a segbench-unet checkpoint nor a state dict of tensors")


def check_config(path: Path, found: dict, expected: dict) -> None:
    """Raise a one-line error naming the first setting where the file's network differs."""
    for key in sorted(set(found) | set(expected)):
        if found.get(key) != expected.get(key):
            raise SegbenchError(
                f"{path}: these weights are for {key}={found.get(key)!r}, the segmenter is configured "
                f"with {key}={expected.get(key)!r}; set the segmenter's parameters to match the weights"
            )

