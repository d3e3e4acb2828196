"""The plugin kit: what every segbench plugin needs and should not write again.

One public module for plugin authors (and segbench's own built-ins); the guide
is ``docs/plugin-kit.md``. Nothing here imports torch or any other heavy
library at import time, so a plugin built on the kit lists fast.

- **Parameters.** :class:`ParameterError` and the validators :func:`number`,
  :func:`integer`, :func:`flag`, :func:`choice`, :func:`number_range`,
  :func:`integer_range`, :func:`spatial_shape`, :func:`covariance`,
  :func:`at_most`, :func:`at_least`: each returns the value in canonical form
  or raises one line naming the parameter, what was expected and what was
  given. (A parameter's old name is refused when the suite loads:
  ``renamed_params`` on the class, :class:`segbench.Segmenter`.)
- **Devices.** :func:`torch_device`: ``"auto"`` (or None) is CUDA when torch
  sees a GPU, else the CPU; anything else must be a torch device string.
- **Weights.** :func:`weights_sha256`: the content hash of a weights file or
  folder, as segbench hashes everything it caches (:mod:`segbench.io.hashing`).
- **Training.** :func:`train_samples`: the train split checked (not empty,
  every image labelled, the dimensionality the segmenter trains on) and loaded.
- **Packaging.** :func:`plugin_version` for ``__version__``, and
  :func:`plugin` to build the entry point's plugin object from classes.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version as _dist_version
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from .errors import SegbenchError
from .io.hashing import content_hash
from .io.samples import Dataset, Sample
from .plugins import KINDS, hookimpl

__all__ = [
    "ParameterError",
    "at_least",
    "at_most",
    "choice",
    "covariance",
    "flag",
    "integer",
    "integer_range",
    "number",
    "number_range",
    "plugin",
    "plugin_version",
    "spatial_shape",
    "torch_device",
    "train_samples",
    "weights_sha256",
]


# -- parameters ------------------------------------------------------------------


class ParameterError(SegbenchError, ValueError):
    """A bad parameter value: a :class:`~segbench.errors.SegbenchError` (its
    message is the one line shown to the user; catch that), and a
    ``ValueError`` because code around a plugin's methods still catches those
    (``segbench generate --fit`` reports a fit's ValueError as ``fitting on
    DIR failed: ...``)."""


def _fail(name: str, expected: str, value) -> ParameterError:
    return ParameterError(f"parameter {name!r} must be {expected}, got {value!r}")


def _bounds(low, high, low_open) -> str:
    left = "(" if low_open else "["
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}" + ("]" if high is not None else ")")


def number(name: str, value, low=None, high=None, low_open: bool = False) -> float:
    """A finite real number in ``[low, high]`` (``(low, high]`` when ``low_open``), as float.

    Examples
    --------
    >>> number("sigma", 2, low=0)
    2.0
    >>> number("touching_fraction", 1.5, 0, 1)
    Traceback (most recent call last):
    ...
    segbench.kit.ParameterError: parameter 'touching_fraction' must be a number in [0, 1], got 1.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise _fail(name, f"a number in {_bounds(low, high, low_open)}", value)
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    if too_low or (high is not None and value > high):
        raise _fail(name, f"a number in {_bounds(low, high, low_open)}", value)
    return value


def integer(name: str, value, low=None, high=None) -> int:
    """An integer in ``[low, high]`` (booleans and floats are refused), as int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _fail(name, f"an integer in {_bounds(low, high, False)}", value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _fail(name, f"an integer in {_bounds(low, high, False)}", value)
    return int(value)


def flag(name: str, value) -> bool:
    """``True`` or ``False`` (numpy booleans too), as bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise _fail(name, "true or false", value)
    return bool(value)


def choice(name: str, value, options: Sequence[Any]) -> Any:
    """One of ``options``, as given."""
    if value not in options:
        raise _fail(name, "one of " + ", ".join(repr(o) for o in options), value)
    return value


def number_range(name: str, value, low=None, low_open: bool = False) -> tuple[float, float]:
    """A number ``v`` (read as ``(v, v)``) or a pair ``[lo, hi]`` with ``lo <= hi``."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise _fail(name, "a number or a [low, high] pair", value)
        lo, hi = (number(name, v, low=low, low_open=low_open) for v in value)
        if lo > hi:
            raise _fail(name, "a [low, high] pair with low <= high", value)
        return lo, hi
    v = number(name, value, low=low, low_open=low_open)
    return v, v


def integer_range(name: str, value, low: int = 0) -> tuple[int, int]:
    """An integer ``v`` (read as ``(v, v)``) or a pair ``[lo, hi]`` with ``lo <= hi``."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise _fail(name, "an integer or a [low, high] pair", value)
        lo, hi = (integer(name, v, low=low) for v in value)
        if lo > hi:
            raise _fail(name, "a [low, high] pair with low <= high", value)
        return lo, hi
    v = integer(name, value, low=low)
    return v, v


def spatial_shape(name: str, value, minimum: int = 1) -> tuple[int, ...]:
    """A ``(Y, X)`` or ``(Z, Y, X)`` sequence of integers >= ``minimum``, as a tuple."""
    expected = f"a list of 2 (Y, X) or 3 (Z, Y, X) integers >= {minimum}"
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) not in (2, 3):
        raise _fail(name, expected, value)
    for v in value:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum:
            raise _fail(name, expected, value)
    return tuple(int(v) for v in value)


def covariance(name: str, value, ndim: int) -> np.ndarray:
    """A variance ``v > 0`` (read as ``v * I``) or a symmetric positive definite
    ``ndim x ndim`` matrix, as a float ``(ndim, ndim)`` array."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return number(name, value, low=0, low_open=True) * np.eye(ndim)
    expected = f"a variance > 0 or a symmetric positive definite {ndim}x{ndim} matrix"
    try:
        matrix = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise _fail(name, expected, value) from None
    if matrix.shape != (ndim, ndim) or not np.all(np.isfinite(matrix)):
        raise _fail(name, expected, value)
    if not np.allclose(matrix, matrix.T) or np.linalg.eigvalsh(matrix).min() <= 0:
        raise _fail(name, expected, value)
    return matrix


def at_most(name: str, value, bound, why: str, fix: str):
    """``value`` when it is at most ``bound``; otherwise :class:`ParameterError`
    with one line naming the parameter, its value, why it is too large, the
    bound and what to do.

    Examples
    --------
    >>> at_most("min_gap", 100000, 48, "px is wider than the [48, 48] image", "lower min_gap")
    Traceback (most recent call last):
    ...
    segbench.kit.ParameterError: min_gap: 100000 px is wider than the [48, 48] image (at most 48); lower min_gap
    """
    if value > bound:
        raise ParameterError(f"{name}: {_show(value)} {why} (at most {_show(bound)}); {fix}")
    return value


def at_least(name: str, value, bound, why: str, fix: str):
    """``value`` when it is at least ``bound``; otherwise the one line of
    :func:`at_most`, with ``at least``."""
    if value < bound:
        raise ParameterError(f"{name}: {_show(value)} {why} (at least {_show(bound)}); {fix}")
    return value


def _show(value) -> str:
    """An integer as it is, a real number in ``%g`` form."""
    return str(value) if isinstance(value, numbers.Integral) else f"{value:g}"


# -- devices ---------------------------------------------------------------------


def torch_device(device="auto"):
    """The ``torch.device`` to run on.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` or None: ``cuda`` when torch sees a GPU, else ``cpu``;
        otherwise a torch device string (``cpu``, ``cuda``, ``cuda:1``, ``mps``)
        or a ``torch.device`` (returned as it is).

    Raises
    ------
    ParameterError
        ``device`` is not a torch device string.

    Notes
    -----
    torch is imported here, on the first call, never when the kit is imported.
    """
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        return device
    if isinstance(device, str):
        try:
            return torch.device(device)
        except (RuntimeError, TypeError, ValueError):
            pass
    raise _fail("device", "'auto' or a torch device such as 'cpu', 'cuda' or 'cuda:1'", device)


# -- weights ---------------------------------------------------------------------


def weights_sha256(path: str | Path) -> str:
    """SHA-256 (64 hex digits) identifying a weights file or model folder.

    segbench's content hash (:func:`segbench.io.content_hash`): the file's name,
    size and bytes, or those of every file of a folder (hidden ones skipped).
    The same for a copy under the same name anywhere; different when a byte
    or the file name changes.

    Raises
    ------
    segbench.errors.InputError
        ``path`` does not exist.
    """
    return content_hash(Path(path).expanduser())


# -- training --------------------------------------------------------------------


def train_samples(
    train: Dataset,
    segmenter: str,
    ndim: int | Iterable[int] = (2, 3),
    minimum: int = 1,
) -> list[Sample]:
    """The train split's samples, loaded, after checking that ``segmenter`` can train on them.

    Parameters
    ----------
    train : segbench.Dataset
        What ``fit`` was given.
    segmenter : str
        The segmenter's name, which starts every message.
    ndim : int or iterable of int, default (2, 3)
        Spatial dimensions the segmenter trains on (of the label images: a
        ``YXC`` image with ``YX`` labels is 2D).
    minimum : int, default 1
        Fewest train images it needs (StarDist holds one out, so 2).

    Returns
    -------
    list of Sample
        Every sample, in order, each with labels of the image's spatial shape.

    Raises
    ------
    SegbenchError
        One line naming the dataset (and the image) when the split has fewer
        than ``minimum`` images, an image has no labels, labels do not match
        the image's spatial shape, or they have another dimensionality.
    """
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    where = f"{segmenter}: the train split of {getattr(train, 'name', 'the dataset')!r}"
    samples = list(train)
    if len(samples) < minimum:
        have = "is empty" if not samples else f"has {len(samples)} image(s)"
        need = "" if minimum == 1 else f"; {segmenter} needs at least {minimum}"
        raise SegbenchError(f"{where} {have}{need}; give the dataset a split with train images")
    dims = " or ".join(f"{d}D" for d in allowed)
    for sample in samples:
        image = np.asarray(sample.image)
        if sample.labels is None:
            raise SegbenchError(
                f"{where}: image {sample.name!r} has no labels; training needs ground truth for every train image"
            )
        labels = np.asarray(sample.labels)
        if labels.ndim not in allowed:
            raise SegbenchError(
                f"{where}: image {sample.name!r} is {labels.ndim}D (labels {labels.shape}); "
                f"{segmenter} trains on {dims} images"
            )
        if image.shape[: labels.ndim] != labels.shape:
            raise SegbenchError(
                f"{where}: image {sample.name!r} has shape {image.shape} but its labels {labels.shape}; "
                "give labels of the image's spatial shape"
            )
    return samples


# -- packaging -------------------------------------------------------------------


def plugin_version(distribution: str) -> str:
    """The installed version of ``distribution`` (what pip installed), for ``__version__``;
    ``0.0.0+unknown`` in a source tree that is not installed.

    Examples
    --------
    >>> plugin_version("segbench") != ""
    True
    """
    try:
        return _dist_version(distribution)
    except PackageNotFoundError:
        return "0.0.0+unknown"


def plugin(*classes: type, commands: Callable[[Any], None] | None = None) -> SimpleNamespace:
    """The plugin object an entry point names (``pkg.plugin:plugin``), registering ``classes``.

    Each class goes to the hook of its base class: :class:`~segbench.Segmenter`,
    :class:`~segbench.Generator`, :class:`~segbench.Metric` or
    :class:`~segbench.DatasetSource`. ``segbench list`` and ``--help`` import
    the module that defines the classes, so keep torch and the like out of its
    top level (import them in the methods that need them).

    Parameters
    ----------
    *classes : type
        Plugin classes.
    commands : callable, optional
        ``commands(subparsers)`` adds the plugin's subcommands (the
        ``segbench_add_commands`` hook).

    Raises
    ------
    TypeError
        A class has none of the four base classes.

    Examples
    --------
    ``my_package/plugin.py``::

        from segbench.kit import plugin
        from my_package.segmenter import MySegmenter

        plugin = plugin(MySegmenter)

    with the entry point ``my-plugin = "my_package.plugin:plugin"``.
    """
    hooks: dict[str, Any] = {}
    for cls in classes:
        hook = next((h for h, base in KINDS.values() if isinstance(cls, type) and issubclass(cls, base)), None)
        if hook is None:
            raise TypeError(
                f"plugin: {cls!r} is not a subclass of segbench.Segmenter, Generator, Metric or DatasetSource"
            )
        hooks.setdefault(hook, []).append(cls)
    namespace = {hook: _returning(hook, registered) for hook, registered in hooks.items()}
    if commands is not None:
        namespace["segbench_add_commands"] = hookimpl(lambda subparsers: commands(subparsers))
    return SimpleNamespace(**namespace)


def _returning(name: str, classes: list[type]):
    """A hook implementation named ``name`` that returns ``classes``."""

    def hook():
        return list(classes)

    hook.__name__ = name
    return hookimpl(hook)
