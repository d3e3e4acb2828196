"""Where the weights come from and where they go: the training workdir, a local
state-dict file, or torchvision's COCO weights (downloaded by torchvision)."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path
from typing import Any

import torch

from segbench import kit
from segbench.errors import SegbenchError

from .network import Architecture

WEIGHTS_FILE = "maskrcnn.pt"
CONFIG_FILE = "maskrcnn.json"
#: ``weights:`` value naming torchvision's COCO weights (``MaskRCNN_ResNet50_FPN_Weights.DEFAULT``).
COCO = "DEFAULT"


def load_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a local file, read with ``torch.load(weights_only=True)``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise SegbenchError(f"maskrcnn: weights file {str(path)!r} does not exist; give an existing state-dict file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises pickle, runtime and zip errors alike
        raise SegbenchError(
            f"maskrcnn: cannot read weights file {str(path)!r} as a state dict "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
            "save one with torch.save(model.state_dict(), path)"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # torchvision's reference scripts save {"model": ..., ...}
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SegbenchError(
            f"maskrcnn: {str(path)!r} holds no state dict of tensors; "
            "save one with torch.save(model.state_dict(), path)"
        )
    return state


def coco_state_dict() -> dict[str, torch.Tensor]:
    """torchvision's COCO Mask R-CNN weights (ResNet-50-FPN), downloaded once by torchvision
    into the torch hub cache; one line saying what to do when that is not possible."""
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights

    weights = MaskRCNN_ResNet50_FPN_Weights.DEFAULT
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except (urllib.error.URLError, OSError, RuntimeError) as err:
        reason = getattr(err, "reason", None) or err
        raise SegbenchError(
            f"maskrcnn: weights: DEFAULT needs torchvision's COCO weights, which could not be "
            f"downloaded ({reason}); offline, fetch {weights.url} on a connected machine and "
            "pass it as weights: PATH"
        ) from None


def save(workdir: Path, state: dict[str, torch.Tensor], config: dict[str, Any]) -> str:
    """Write ``maskrcnn.pt`` (state dict) and ``maskrcnn.json`` (config) into ``workdir``.

    Returns
    -------
    str
        The weights file's :func:`segbench.kit.weights_sha256`.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    torch.save(state, workdir / WEIGHTS_FILE)
    sha = kit.weights_sha256(workdir / WEIGHTS_FILE)
    (workdir / CONFIG_FILE).write_text(json.dumps({**config, "weights_sha256": sha}, indent=2))
    return sha


def load_workdir(workdir: Path) -> tuple[dict[str, torch.Tensor], Architecture, dict[str, Any]]:
    """What :func:`save` wrote: state dict, architecture, and the whole config."""
    workdir = Path(workdir)
    if not (workdir / WEIGHTS_FILE).is_file() or not (workdir / CONFIG_FILE).is_file():
        raise SegbenchError(
            f"maskrcnn: {str(workdir)!r} holds no trained model ({WEIGHTS_FILE}, {CONFIG_FILE}); "
            "train it first (a train: block in the suite calls fit)"
        )
    config = json.loads((workdir / CONFIG_FILE).read_text())
    state = load_file(workdir / WEIGHTS_FILE)
    return state, Architecture.from_json(config["architecture"]), config
