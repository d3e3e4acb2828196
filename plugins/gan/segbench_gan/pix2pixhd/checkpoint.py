"""pix2pixHD checkpoint folders and weight files.

A checkpoint folder holds:

- ``config.json``: ``{"format": "segbench-gan/pix2pixhd", "config": {...},
  "intensity": {"low": ..., "high": ...}}`` (architecture and the intensity range
  that ``[-1, 1]`` maps to);
- ``latest_net_G.pth`` (generator state dict, pix2pixHD key layout), and
  ``features.npz`` (appearance clusters) when ``feat_num > 0``;
- from training: ``training_state.pth`` (step, generator, discriminator and
  encoder weights, optimiser and random states, in one file written last at
  every snapshot), ``stats.jsonl`` and ``samples/*.png``.

Every weight file is read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from segbench.errors import InputError

from ..weights_only import load_weights_only, refusal_reason
from .config import Pix2PixHDConfig

__all__ = [
    "FORMAT",
    "CheckpointInfo",
    "read_info",
    "write_info",
    "load_weights_file",
    "load_into",
    "config_from_state_dict",
    "export_for_sampling",
]

FORMAT = "segbench-gan/pix2pixhd"
INFO_FILE = "config.json"
G_FILE = "latest_net_G.pth"
FEATURES_FILE = "features.npz"
STATE_FILE = "training_state.pth"


@dataclass(frozen=True)
class CheckpointInfo:
    """What ``config.json`` says: the architecture and the intensity range.

    Attributes
    ----------
    config : Pix2PixHDConfig
    low, high : float
        Image intensities that the generator's -1 and +1 stand for.
    """

    config: Pix2PixHDConfig
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "config": self.config.to_dict(),
                "intensity": {"low": self.low, "high": self.high}}


def write_info(folder: str | Path, info: CheckpointInfo) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / INFO_FILE).write_text(json.dumps(info.to_dict(), indent=2) + "\n", encoding="utf-8")


def read_info(folder: str | Path) -> CheckpointInfo:
    """Read ``folder/config.json``; :class:`InputError` naming the file when it is
    missing or malformed."""
    path = Path(folder) / INFO_FILE
    if not path.is_file():
        raise InputError(path, "not found; this is not a pix2pixHD checkpoint folder",
                         "give the folder written by `segbench gan train-images` (it holds config.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(path, f"is not valid JSON ({exc})", "restore it from the training output") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(path, f"format is {data.get('format') if isinstance(data, dict) else None!r}, "
                         f"expected {FORMAT!r}", "give a pix2pixHD checkpoint folder")
    try:
        config = Pix2PixHDConfig.from_dict(data["config"], source=str(path))
        low, high = float(data["intensity"]["low"]), float(data["intensity"]["high"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"bad content: {exc}", "restore it from the training output") from None
    if not high > low:
        raise InputError(path, f"intensity range low={low} high={high} is empty", "need high > low")
    return CheckpointInfo(config, low, high)


def load_weights_file(path: str | Path) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` on the CPU, with one-line errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "weight file not found", "check the checkpoint folder")
    try:
        return load_weights_only(path)
    except Exception as exc:  # noqa: BLE001 - every unreadable file is the same user error
        raise InputError(path, f"is not a weights-only state dict, so segbench will not load it ({refusal_reason(exc)})",
                         "give a state dict saved with torch.save(net.state_dict())") from None


def _strip_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop a ``module.`` prefix that ``nn.DataParallel`` adds to every key."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def load_into(net: nn.Module, state: Mapping[str, torch.Tensor], source: str | Path) -> None:
    """Load ``state`` into ``net`` strictly; a mismatch raises :class:`InputError`
    naming ``source`` and the first differing key or shape."""
    state = _strip_prefix(state)
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (first: {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (first: {unexpected[0]})")
        raise InputError(source, "does not match the architecture: " + ", ".join(parts),
                         "build the model with the settings it was trained with (see config_from_state_dict)")
    for key, value in own.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise InputError(source, f"{key} has shape {tuple(state[key].shape)}, the model expects "
                             f"{tuple(value.shape)}", "build the model with the settings it was trained with")
    net.load_state_dict(state)


_BLOCK = re.compile(r"^(model\d*(?:_\d)?)\.(\d+)\.conv_block\.1\.weight$")
_CONV = re.compile(r"^(model\d*(?:_\d)?)\.(\d+)\.weight$")


def config_from_state_dict(state: Mapping[str, torch.Tensor], *, label_nc: int = 0, use_edges: bool = True,
                           feat_num: int = 0) -> Pix2PixHDConfig:
    """Infer the generator architecture of a pix2pixHD ``latest_net_G.pth`` state dict.

    Widths, downsamplings, residual blocks, local enhancers and the norm type are
    read from the keys and shapes; how the input channels split into label, edge
    and feature channels is not stored, so give ``label_nc``, ``use_edges`` and
    ``feat_num`` (their channel count must equal the stored input channels).
    Discriminator and encoder settings keep their defaults.

    Parameters
    ----------
    state : mapping of str to Tensor
        A generator state dict (``module.`` prefixes are dropped).
    label_nc, use_edges, feat_num
        As in :class:`Pix2PixHDConfig`.

    Returns
    -------
    Pix2PixHDConfig

    Raises
    ------
    ValueError
        When the keys are not those of a pix2pixHD generator or the channel count disagrees.
    """
    state = _strip_prefix(state)
    norm = "batch" if any(k.endswith("running_mean") for k in state) else "instance"
    convs: dict[str, list[tuple[int, torch.Tensor]]] = {}
    blocks: dict[str, int] = {}
    for key, value in state.items():
        if m := _BLOCK.match(key):
            blocks[m[1]] = blocks.get(m[1], 0) + 1
        elif (m := _CONV.match(key)) and value.ndim == 4:
            convs.setdefault(m[1], []).append((int(m[2]), value))
    if "model" not in convs:
        raise ValueError("state dict has no 'model.<i>.weight' convolutions: not a pix2pixHD generator")
    trunk = [w for _, w in sorted(convs["model"], key=lambda t: t[0])]
    n_local = sum(1 for name in convs if re.fullmatch(r"model\d+_1", name))
    stem = trunk[0]
    input_nc = stem.shape[1]
    if n_local == 0:
        # stem, n_down stride-2 convs, n_down transposed convs (weights stored in x out), head
        n_down = (len(trunk) - 2) // 2
        ngf, output_nc = stem.shape[0], trunk[-1].shape[0]
    else:
        n_down = (len(trunk) - 1) // 2
        head = [w for _, w in sorted(convs[f"model{n_local}_2"], key=lambda t: t[0])][-1]
        ngf, output_nc = head.shape[1], head.shape[0]
    expected = max(label_nc, 1) + int(use_edges) + feat_num
    if expected != input_nc:
        raise ValueError(f"the generator takes {input_nc} input channels, but label_nc={label_nc}, "
                         f"use_edges={use_edges}, feat_num={feat_num} give {expected}")
    return Pix2PixHDConfig(
        label_nc=label_nc, use_edges=use_edges, feat_num=feat_num, output_nc=output_nc,
        netG="local" if n_local else "global", ngf=ngf, n_downsample_global=n_down,
        n_blocks_global=blocks.get("model", 0), n_local_enhancers=max(n_local, 1),
        n_blocks_local=blocks.get("model1_2", 0) if n_local else 3, norm=norm,
    )


def export_for_sampling(folder: str | Path, dest: str | Path) -> Path:
    """Copy what sampling needs from a training folder to ``dest``; returns ``dest``.

    Copies ``config.json``, ``latest_net_G.pth`` and, with a feature encoder,
    ``features.npz``; adds the provenance: ``stats.jsonl`` and ``training.json``
    (step, training seconds and training options of the last snapshot). The
    discriminator, encoder, optimiser states and sample grids stay behind, which
    makes the checkpoint small enough to ship.
    """
    folder, dest = Path(folder), Path(dest)
    info = read_info(folder)
    names = [INFO_FILE, G_FILE] + ([FEATURES_FILE] if info.config.feat_num else [])
    for name in names + [STATE_FILE]:
        if not (folder / name).is_file():
            raise InputError(folder / name, "not found", "train (or resume) until a snapshot is written")
    state = load_weights_file(folder / STATE_FILE)
    dest.mkdir(parents=True, exist_ok=True)
    for name in names + (["stats.jsonl"] if (folder / "stats.jsonl").is_file() else []):
        shutil.copyfile(folder / name, dest / name)
    provenance = {"step": int(state["step"]), "seconds": round(float(state["elapsed"]), 1),
                  "options": state.get("options", {})}
    (dest / "training.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    return dest
