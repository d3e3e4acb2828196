"""Getting a cellpose network: a built-in model, a local weights file, or a fresh
network to train from scratch.

Built-in weights are fetched by cellpose itself into its model folder,
``$CELLPOSE_LOCAL_MODELS_PATH`` when set (read when cellpose is imported),
``~/.cellpose/models`` otherwise. Local files are read with
``torch.load(weights_only=True)`` (cellpose's own loader).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from segbench.errors import InputError, SegbenchError
from segbench.kit import ParameterError

from . import compat


def builtin_names() -> list[str]:
    """Names of the models the installed cellpose can fetch (``cyto3``, ``nuclei``, ...)."""
    from cellpose import models

    return list(dict.fromkeys(models.MODEL_NAMES))


def builtin_or_none(weights: str) -> str | None:
    """``weights`` when it names a built-in model and no file of that name exists, else None
    (a path, checked when the weights are loaded)."""
    if Path(weights).expanduser().is_file():
        return None
    return weights if weights in builtin_names() else None


def check_builtin_name(name: str) -> None:
    """:class:`segbench.kit.ParameterError` naming the choices unless ``name`` is a built-in model."""
    names = builtin_names()
    if name not in names:
        raise ParameterError(
            f"weights: {name!r} is not a built-in cellpose model (built-in: {', '.join(names)}) "
            "nor a weights file; give a built-in name or the path of a cellpose weights file"
        )


def model_folder() -> Path:
    """The folder cellpose keeps fetched weights in."""
    from cellpose import models

    return Path(models.MODEL_DIR)


def load_builtin(name: str, device, **model_kwargs: Any):
    """A ``CellposeModel`` with the built-in weights ``name``, fetched when missing.

    Raises
    ------
    segbench.kit.ParameterError
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
        "pass a local file with `weights: path/to/weights`, "
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
            "give weights the path of a file saved by cellpose training or by `train:`, or a built-in model name",
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
            "set weights: cpsam to fine-tune it, or install cellpose 3.1.1 to train a CPnet"
        )
    return models.CellposeModel(
        device=device, pretrained_model=False, **compat.model_kwargs(major, diam_mean=diam_mean)
    )

