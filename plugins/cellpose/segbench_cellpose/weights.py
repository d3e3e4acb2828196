"""Getting a cellpose network: a built-in model, a local weights file, or a fresh
network to train from scratch.

Built-in weights are fetched by cellpose itself into its model folder,
``$CELLPOSE_LOCAL_MODELS_PATH`` when set (read when cellpose is imported),
``~/.cellpose/models`` otherwise. Local files are read with
``torch.load(weights_only=True)`` (cellpose's own loader).
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

from segbench.errors import InputError, SegbenchError

from . import compat


def resolve_device(device: str | None):
    """A ``torch.device``: the given one, else CUDA when present, else the CPU."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device: {device!r} is not a torch device ({exc})") from None


def builtin_names() -> list[str]:
    """Names of the models the installed cellpose can fetch (``cyto3``, ``nuclei``, ...)."""
    from cellpose import models

    return list(dict.fromkeys(models.MODEL_NAMES))


def check_builtin_name(name: str) -> None:
    """:class:`ValueError` naming the choices unless ``name`` is a built-in model."""
    names = builtin_names()
    if name not in names:
        raise ValueError(
            f"model: {name!r} is not a built-in cellpose model (built-in: {', '.join(names)}); "
            "for a weights file use pretrained_model: path/to/weights"
        )


def model_folder() -> Path:
    """The folder cellpose keeps fetched weights in."""
    from cellpose import models

    return Path(models.MODEL_DIR)


def load_builtin(name: str, device, **model_kwargs: Any):
    """A ``CellposeModel`` with the built-in weights ``name``, fetched when missing.

    Raises
    ------
    ValueError
        ``name`` is not a built-in model.
    SegbenchError
        The weights are not in the model folder and cannot be fetched (offline).
    """
    from cellpose import models

    check_builtin_name(name)
    weights_arg = {"pretrained_model": name} if compat.major_version() >= 4 else {"model_type": name}
    try:
        return models.CellposeModel(device=device, **weights_arg, **model_kwargs)
    except OSError as exc:  # URLError, timeouts and refused connections are OSErrors
        raise SegbenchError(offline_message(name, exc)) from exc


def offline_message(name: str, exc: BaseException) -> str:
    """The one line shown when built-in weights cannot be fetched."""
    from cellpose import models

    source = getattr(models, "_MODEL_URL", "the cellpose model server")
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())
    return (
        f"cellpose: could not fetch the weights of built-in model {name!r} from {source} "
        f"into {model_folder()} ({reason}); run once online to cache them there, "
        "pass a local file with `pretrained_model: path/to/weights`, "
        "or train a model with a `train:` block"
    )


def load_file(path: str | Path, device, **model_kwargs: Any):
    """A ``CellposeModel`` with the weights in ``path``, loaded as they are.

    Raises
    ------
    InputError
        The file is missing, or is not a weights file for the installed cellpose.
    """
    from cellpose import models

    path = existing_file(path)
    try:
        return models.CellposeModel(device=device, pretrained_model=str(path), **model_kwargs)
    except AssertionError:  # cellpose 3 asserts that the state dict is not a cellpose 4 one
        raise InputError(
            path, "is a Cellpose 4 (Cellpose-SAM) model",
            f"install cellpose>=4 to use it (installed: {compat.cellpose_version()}), "
            "or give cellpose 3 weights",
        ) from None
    except (RuntimeError, KeyError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        raise InputError(
            path, f"could not be read as cellpose {compat.cellpose_version()} weights ({reason})",
            "give a file saved by cellpose training or by `train:`",
        ) from None


def existing_file(path: str | Path) -> Path:
    """``path`` (user-expanded) when it is a file; :class:`InputError` otherwise."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(
            path, "no such cellpose weights file",
            "give pretrained_model the path of a file saved by cellpose training or by `train:`",
        )
    return path


def new_network(diam_mean: float, device):
    """An untrained cellpose 3 ``CellposeModel`` (standard CPnet) for training from scratch.

    Parameters
    ----------
    diam_mean : float
        Object diameter in pixels the network will be trained at (training
        images are rescaled so their objects have this median diameter).
    """
    from cellpose import models

    major = compat.major_version()
    if major >= 4:
        raise SegbenchError(
            "cellpose: cellpose 4 cannot train from scratch (only fine-tune Cellpose-SAM); "
            "set model: cpsam to fine-tune it, or install cellpose 3.1.1 to train a CPnet"
        )
    return models.CellposeModel(
        device=device, pretrained_model=False, **compat.model_kwargs(major, diam_mean=diam_mean)
    )


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
