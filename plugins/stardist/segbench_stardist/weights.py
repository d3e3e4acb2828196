"""Getting a StarDist model: a registered pretrained name, or a model folder.

A model folder is what StarDist writes when it trains: ``config.json``, weights
(``weights_best.h5``; any ``*.h5`` is accepted, ``best`` preferred, as CSBDeep
does), and optionally ``thresholds.json`` with the ``prob``/``nms`` thresholds
found by ``optimize_thresholds``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from segbench.errors import InputError, SegbenchError

from ._runtime import quiet, start_tensorflow

WEIGHT_PATTERNS = ("*.h5", "*.hdf5")


def check_model_folder(path: Path) -> int:
    """Validate a StarDist model folder without loading it; its spatial dimension.

    Raises
    ------
    InputError
        Naming the folder when it, its ``config.json`` or its weights are missing
        or unreadable.
    """
    if not path.is_dir():
        raise InputError(path, "weights: not a folder", "give the folder holding config.json and weights_best.h5")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise InputError(path, "weights: no config.json in the folder", "give the folder StarDist trained into (config.json + weights_best.h5)")
    if not any(next(path.glob(p), None) for p in WEIGHT_PATTERNS):
        raise InputError(path, "weights: no weights (*.h5) in the folder", "copy weights_best.h5 next to config.json")
    try:
        n_dim = json.loads(config_file.read_text())["n_dim"]
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(config_file, f"not a StarDist config ({type(err).__name__}: {err})") from None
    if n_dim not in (2, 3):
        raise InputError(config_file, f"n_dim is {n_dim!r}, expected 2 or 3")
    return n_dim


def load_model_folder(path: Path) -> Any:
    """Load a StarDist2D/3D model from its folder (with its ``thresholds.json``)."""
    n_dim = check_model_folder(path)
    start_tensorflow()
    from stardist.models import StarDist2D, StarDist3D

    cls = StarDist2D if n_dim == 2 else StarDist3D
    with quiet(f"loading {path}"):
        try:
            return cls(None, name=path.name, basedir=str(path.parent))
        except (OSError, ValueError) as err:
            message = " ".join(str(err).split())
            raise InputError(path, f"StarDist could not load this model ({message})") from None


def registered_models() -> dict[str, type]:
    """Every pretrained name and alias StarDist registers, mapped to its model class."""
    start_tensorflow()
    from csbdeep.models.pretrained import get_registered_models
    from stardist.models import StarDist2D, StarDist3D

    names: dict[str, type] = {}
    for cls in (StarDist2D, StarDist3D):
        keys, aliases = get_registered_models(cls)
        for key in keys:
            names[key] = cls
            names.update({alias: cls for alias in aliases[key]})
    return names


def load_pretrained(name: str) -> Any:
    """``StarDist2D/3D.from_pretrained(name)``, downloading into ``$KERAS_HOME`` when online.

    Raises
    ------
    SegbenchError
        One line when ``name`` is not registered, or when the weights cannot be
        fetched (offline) or unpacked; it says how to use a local model folder.
    """
    models = registered_models()
    if name not in models:
        known = ", ".join(sorted(models))
        raise SegbenchError(
            f"stardist: unknown pretrained model {name!r}; registered: {known} "
            "(or set weights to a StarDist model folder)"
        )
    cls = models[name]
    from csbdeep.models.pretrained import get_model_details

    key, _, details = get_model_details(cls, name)
    fix = (
        f"download {details['url']} where there is network, unzip it, and set "
        f"weights to the unzipped folder (config.json + weights_best.h5)"
    )
    with quiet(f"from_pretrained({name!r})"):
        try:
            model = cls.from_pretrained(name)
        except Exception as err:  # noqa: BLE001 - Keras raises a bare Exception when offline
            reason = " ".join(str(err).split())
            raise SegbenchError(
                f"stardist: could not fetch the pretrained weights {name!r} ({reason}); {fix}"
            ) from None
    if model is None:  # from_pretrained swallows ValueErrors, e.g. a checksum mismatch
        raise SegbenchError(
            f"stardist: the pretrained weights {name!r} ({cls.__name__}/{key}) did not load "
            f"(a corrupt download in $KERAS_HOME/models?); delete it and retry, or {fix}"
        )
    return model


def weights_sha256(keras_model: Any) -> str:
    """SHA-256 of a Keras model's weight values (dtype, shape and bytes of each array).

    Independent of the file format the weights were stored in, so the same
    weights give the same hash whether trained here, loaded from a folder or
    from a pretrained download.
    """
    digest = hashlib.sha256()
    for array in keras_model.get_weights():
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
