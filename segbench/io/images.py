"""Read and write single image files: intensity images and label images.

Files are TIFF (read and written with tifffile) or PNG (read with imageio).
Arrays come back with their axes in segbench's order: ``(Y, X)``,
``(Z, Y, X)``, and for intensity images channels last, ``(Y, X, C)`` or
``(Z, Y, X, C)``. Length-1 axes other than Y and X are dropped, and an
ImageJ hyperstack's channel axis (``CYX``, ``ZCYX``) is moved last.

The voxel size (``spacing``, micrometres, one entry per spatial axis in axis
order) is read from ImageJ TIFFs (``unit``, ``spacing`` and the X/Y resolution
tags) and from TIFFs written by segbench; other files have no known spacing.

Every problem with a file raises :class:`segbench.errors.InputError`, whose
message is one line: the file, what is wrong, and how to fix it.
"""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..errors import InputError
from ._atomic import atomic_path

__all__ = [
    "SUPPORTED_SUFFIXES",
    "read_image",
    "read_labels",
    "read_spacing",
    "write_image",
    "write_labels",
]

#: File name endings segbench reads (case-insensitive).
SUPPORTED_SUFFIXES = (".tif", ".tiff", ".png")
_TIFF_SUFFIXES = (".tif", ".tiff")

# ImageJ writes "micron"; others write the symbol in one of several spellings.
_MICROMETRES_PER_UNIT = {
    "micron": 1.0,
    "microns": 1.0,
    "um": 1.0,
    "\u00b5m": 1.0,
    "\u03bcm": 1.0,
    "\\u00b5m": 1.0,
    "nm": 1e-3,
    "nanometer": 1e-3,
    "mm": 1e3,
    "millimeter": 1e3,
}
# ImageJ can store these dtypes; labels that need uint32 go to a plain TIFF.
_IMAGEJ_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
_SAVE_AS_INTEGER = (
    "save it as an integer image (uint16, or uint32 for more than 65535 objects), "
    "e.g. with segbench.io.write_labels or Fiji's Image > Type > 16-bit"
)


# --------------------------------------------------------------------------- reading


def read_image(path: str | Path) -> np.ndarray:
    """Read an intensity image.

    Parameters
    ----------
    path : str or Path
        A ``.tif``, ``.tiff`` or ``.png`` file holding one 2-D or 3-D image.

    Returns
    -------
    ndarray
        ``(Y, X)``, ``(Z, Y, X)``, ``(Y, X, C)`` or ``(Z, Y, X, C)`` in the
        file's own integer or float dtype (boolean pixels become uint8).

    Raises
    ------
    segbench.errors.InputError
        The file is missing, unreadable, truncated, of an unsupported type, or
        does not hold one 2-D or 3-D image.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> path = Path(tempfile.mkdtemp()) / "cells.tif"
    >>> write_image(path, np.arange(12, dtype=np.uint16).reshape(3, 4))
    >>> read_image(path).shape
    (3, 4)
    """
    return _read(path)[0]


def read_labels(path: str | Path) -> np.ndarray:
    """Read a label image (0 = background, one positive integer id per object).

    Parameters
    ----------
    path : str or Path
        A ``.tif``, ``.tiff`` or ``.png`` file holding one 2-D or 3-D,
        single-channel, integer image. Palette PNGs give their palette indices;
        a boolean mask gives one object with id 1.

    Returns
    -------
    ndarray
        ``(Y, X)`` or ``(Z, Y, X)`` in the file's integer dtype (boolean
        pixels become uint8). Ids need not be contiguous.

    Raises
    ------
    segbench.errors.InputError
        Besides :func:`read_image`'s problems: floating-point pixels, negative
        values, or colour channels (an RGB rendering rather than a label image).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> path = Path(tempfile.mkdtemp()) / "cells.tif"
    >>> write_labels(path, np.array([[0, 1], [2, 2]]))
    >>> read_labels(path)
    array([[0, 1],
           [2, 2]], dtype=uint16)
    """
    labels, axes, _ = _read(path, labels=True)
    return _check_labels(path, labels, axes)


def read_spacing(path: str | Path) -> tuple[float, ...] | None:
    """Voxel size of an image file, in micrometres, per spatial axis.

    Read from an ImageJ TIFF (its length ``unit``, ``spacing`` for Z, and the
    X/Y resolution tags) or from a TIFF written by :func:`write_image` or
    :func:`write_labels`.

    Parameters
    ----------
    path : str or Path
        An image file.

    Returns
    -------
    tuple of float or None
        ``(dy, dx)`` or ``(dz, dy, dx)``; None when the file does not say (all
        PNGs, uncalibrated TIFFs, units that are not lengths).

    Raises
    ------
    segbench.errors.InputError
        The file is missing or unreadable.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> path = Path(tempfile.mkdtemp()) / "stack.tif"
    >>> write_image(path, np.zeros((4, 8, 8), np.uint16), spacing=(2.0, 0.5, 0.5))
    >>> read_spacing(path)
    (2.0, 0.5, 0.5)
    """
    path = _check_path(path)
    if path.suffix.lower() not in _TIFF_SUFFIXES:
        return None
    import tifffile

    try:
        with _quiet_tifffile(), tifffile.TiffFile(path) as tif:
            axes = _segbench_axes(path, tif.series[0].shape, tif.series[0].axes)[1]
            return _tiff_spacing(tif, _spatial(axes))
    except InputError:
        raise
    except Exception as err:  # tifffile raises many types for damaged files
        raise _unreadable(path, "TIFF", err) from None


def _read(path: str | Path, labels: bool = False) -> tuple[np.ndarray, str, tuple | None]:
    """Pixels in segbench's axis order, their axes letters, and the spacing."""
    path = _check_path(path)
    if path.suffix.lower() in _TIFF_SUFFIXES:
        data, axes, spacing = _read_tiff(path)
    else:
        data = _read_png(path, labels)
        axes, spacing = ("YX" if data.ndim == 2 else "YXC"), None
    if data.dtype == bool:
        data = data.astype(np.uint8)
    if not (np.issubdtype(data.dtype, np.integer) or np.issubdtype(data.dtype, np.floating)):
        raise InputError(
            path,
            f"has {data.dtype} pixels, which segbench cannot use",
            "save it with an integer or floating-point pixel type",
        )
    return data, axes, spacing


def _check_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InputError(
            path,
            f"unsupported file type {path.suffix or '(no extension)'!r}",
            "save it as TIFF (.tif) or PNG (.png)",
        )
    if not path.is_file():
        problem = "is a folder, not an image file" if path.is_dir() else "file not found"
        raise InputError(path, problem, "check the path")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty (0 bytes)", "copy or export it again")
    return path


def _unreadable(path: Path, kind: str, err: Exception) -> InputError:
    detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return InputError(
        path,
        f"cannot be read as {kind} ({detail}); the file is damaged, truncated, or not a {kind}",
        "copy or export it again",
    )


@contextmanager
def _quiet_tifffile() -> Iterator[None]:
    """Silence tifffile's log records about damaged files while we read one:
    the InputError raised instead is the one line the user sees."""
    logger = logging.getLogger("tifffile")
    mute = logging.Filter("segbench-mute")  # passes no tifffile record
    logger.addFilter(mute)
    try:
        yield
    finally:
        logger.removeFilter(mute)


def _read_tiff(path: Path) -> tuple[np.ndarray, str, tuple | None]:
    import tifffile

    try:
        with _quiet_tifffile(), tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            data = series.asarray()
            squeeze, axes, order = _segbench_axes(path, data.shape, series.axes)
            spacing = _tiff_spacing(tif, _spatial(axes))
    except InputError:
        raise
    except Exception as err:  # tifffile raises many types for damaged files
        raise _unreadable(path, "TIFF", err) from None
    return np.transpose(data.reshape(squeeze), order), axes, spacing


def _read_png(path: Path, labels: bool) -> np.ndarray:
    import imageio.v3 as iio

    try:
        # A palette PNG's pixels are ids for labels, colours for images.
        mode = "P" if labels and iio.immeta(path, plugin="pillow").get("mode") == "P" else None
        data = iio.imread(path, plugin="pillow", mode=mode)
    except Exception as err:  # pillow raises OSError, ValueError, SyntaxError...
        raise _unreadable(path, "PNG", err) from None
    return np.asarray(data)


def _segbench_axes(
    path: Path, shape: Sequence[int], tiff_axes: str
) -> tuple[tuple[int, ...], str, tuple[int, ...]]:
    """Map tifffile's axes to segbench's: drop length-1 axes other than Y and X,
    call the channel axis (``C`` or samples ``S``) ``C`` and put it last, and
    call the remaining non-YX axis ``Z``.

    Returns the squeezed shape, the new axes letters, and the transpose order
    that takes the squeezed array to them.
    """
    kept = [(n, a) for n, a in zip(shape, tiff_axes) if n > 1 or a in "YX"]
    letters = "".join(a for _, a in kept)
    fix = "save one 2-D or 3-D image per file (axes YX or ZYX, channels last)"
    if "Y" not in letters or "X" not in letters or letters.count("Y") + letters.count("X") != 2:
        raise InputError(path, f"has axes {tiff_axes} with shape {tuple(shape)}", fix)
    if "T" in letters:
        frames = kept[letters.index("T")][0]
        raise InputError(path, f"is a time-lapse ({frames} time points)", fix)
    channels = [i for i, a in enumerate(letters) if a in "CS"]
    planes = [i for i, a in enumerate(letters) if a not in "CSYX"]
    if len(channels) > 1 or len(planes) > 1:
        raise InputError(path, f"has {len(kept)} axes {letters} (shape {tuple(shape)})", fix)
    order = planes + [letters.index("Y"), letters.index("X")] + channels
    axes = "Z" * len(planes) + "YX" + "C" * len(channels)
    return tuple(n for n, _ in kept), axes, tuple(order)


def _spatial(axes: str) -> str:
    return axes.replace("C", "")


def _tiff_spacing(tif, spatial_axes: str) -> tuple[float, ...] | None:
    """Spacing in micrometres from ImageJ metadata or segbench's own metadata."""
    if tif.is_imagej:
        return _imagej_spacing(tif, spatial_axes)
    meta = tif.shaped_metadata[0] if tif.is_shaped and tif.shaped_metadata else {}
    return _valid_spacing(meta.get("spacing"), len(spatial_axes))


def _imagej_spacing(tif, spatial_axes: str) -> tuple[float, ...] | None:
    meta = tif.imagej_metadata or {}
    scale = _MICROMETRES_PER_UNIT.get(str(meta.get("unit", "")).strip().lower())
    if scale is None:
        return None
    tags = tif.pages.first.tags
    yx = [_inverse_resolution(tags.get(name)) for name in ("YResolution", "XResolution")]
    z = [meta.get("spacing")] if "Z" in spatial_axes else []
    values = z + yx
    if any(v is None for v in values):
        return None
    return _valid_spacing([float(v) * scale for v in values], len(spatial_axes))


def _inverse_resolution(tag) -> float | None:
    """Pixel size from a resolution tag (pixels per unit, as a rational)."""
    if tag is None:
        return None
    value = tag.value
    numerator, denominator = value if isinstance(value, tuple) else (value, 1)
    if not numerator or not denominator:
        return None
    return denominator / numerator


def _valid_spacing(spacing, ndim: int) -> tuple[float, ...] | None:
    try:
        values = tuple(float(v) for v in spacing)
    except (TypeError, ValueError):
        return None
    if len(values) != ndim or not all(math.isfinite(v) and v > 0 for v in values):
        return None
    return values


def _check_labels(path: str | Path, labels: np.ndarray, axes: str) -> np.ndarray:
    if "C" in axes:
        raise InputError(
            path,
            f"has {labels.shape[-1]} colour channels (shape {labels.shape}), "
            "but a label image has one channel with one integer id per object",
            "save the label image itself as a single-channel integer TIFF, "
            "not a coloured rendering of it",
        )
    if np.issubdtype(labels.dtype, np.floating):
        raise InputError(path, f"label image has floating-point pixels ({labels.dtype})",
                         _SAVE_AS_INTEGER)
    low = labels.min() if labels.size and np.issubdtype(labels.dtype, np.signedinteger) else 0
    if low < 0:
        raise InputError(
            path,
            f"label image has negative values (minimum {low})",
            "use 0 for background and positive integers for objects",
        )
    return labels


# --------------------------------------------------------------------------- writing


def write_image(
    path: str | Path,
    image: np.ndarray,
    spacing: Sequence[float] | None = None,
    *,
    axes: str | None = None,
) -> None:
    """Write an intensity image as a compressed TIFF, atomically.

    ``uint8``, ``uint16`` and ``float32`` images without channels are written
    as ImageJ TIFFs (Fiji shows their voxel size); others as plain TIFFs that
    carry the axes and spacing in their description. Missing parent folders
    are created.

    Parameters
    ----------
    path : str or Path
        Destination ending in ``.tif`` or ``.tiff``.
    image : ndarray
        Any integer or float dtype (boolean is written as uint8).
    spacing : sequence of float, optional
        Voxel size in micrometres, one per spatial axis: ``(dy, dx)`` or
        ``(dz, dy, dx)``.
    axes : {"YX", "ZYX", "YXC", "ZYXC"}, optional
        The image's axes. By default 2-D is ``YX``, 4-D is ``ZYXC``, and 3-D
        is ``YXC`` when the last axis has at most 4 entries, else ``ZYX``.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> path = Path(tempfile.mkdtemp()) / "rgb.tif"
    >>> write_image(path, np.zeros((32, 32, 3), np.uint8))
    >>> read_image(path).shape
    (32, 32, 3)
    """
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8)
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise ValueError(
            f"write_image: image must have an integer or float dtype, got {image.dtype}"
        )
    if axes is None:
        axes = _default_axes(image)
    if axes not in ("YX", "ZYX", "YXC", "ZYXC") or len(axes) != image.ndim:
        raise ValueError(
            f"write_image: axes must be one of YX, ZYX, YXC, ZYXC and match image.ndim="
            f"{image.ndim}, got {axes!r}"
        )
    spacing = _check_spacing("write_image", spacing, _spatial(axes))
    _write_tiff("write_image", path, image, axes, spacing)


def write_labels(
    path: str | Path, labels: np.ndarray, spacing: Sequence[float] | None = None
) -> None:
    """Write a label image as a compressed TIFF, atomically.

    Stored as ``uint16`` when the largest id is below 65536, else ``uint32``.

    Parameters
    ----------
    path : str or Path
        Destination ending in ``.tif`` or ``.tiff``.
    labels : ndarray
        ``(Y, X)`` or ``(Z, Y, X)`` integer (or boolean) array, 0 = background,
        no negative values.
    spacing : sequence of float, optional
        Voxel size in micrometres, one per axis.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> path = Path(tempfile.mkdtemp()) / "many.tif"
    >>> write_labels(path, np.array([[0, 70000]]))
    >>> read_labels(path).dtype
    dtype('uint32')
    """
    labels = np.asarray(labels)
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise ValueError(f"write_labels: labels must be an integer array, got {labels.dtype}")
    if labels.ndim not in (2, 3):
        raise ValueError(
            f"write_labels: labels must be (Y, X) or (Z, Y, X), got shape {labels.shape}"
        )
    low = int(labels.min()) if labels.size else 0
    high = int(labels.max()) if labels.size else 0
    if low < 0:
        raise ValueError(f"write_labels: labels must not be negative, got minimum {low}")
    if high >= 2**32:
        raise ValueError(f"write_labels: label ids must be below 2**32, got {high}")
    dtype = np.uint16 if high < 2**16 else np.uint32
    axes = "YX" if labels.ndim == 2 else "ZYX"
    spacing = _check_spacing("write_labels", spacing, axes)
    _write_tiff("write_labels", path, labels.astype(dtype), axes, spacing)


def _default_axes(image: np.ndarray) -> str:
    if image.ndim == 3:
        return "YXC" if image.shape[-1] <= 4 else "ZYX"
    return {2: "YX", 4: "ZYXC"}.get(image.ndim, "?" * image.ndim)


def _check_spacing(func: str, spacing, spatial_axes: str) -> tuple[float, ...] | None:
    if spacing is None:
        return None
    values = _valid_spacing(spacing, len(spatial_axes))
    if values is None:
        raise ValueError(
            f"{func}: spacing must be {len(spatial_axes)} positive numbers "
            f"({', '.join('d' + a.lower() for a in spatial_axes)}), got {spacing!r}"
        )
    return values


def _write_tiff(func: str, path: str | Path, data: np.ndarray, axes: str, spacing) -> None:
    import tifffile

    path = Path(path)
    if path.suffix.lower() not in _TIFF_SUFFIXES:
        raise ValueError(f"{func}: path must end in .tif or .tiff, got {str(path)!r}")
    options: dict = {"compression": "zlib", "photometric": "minisblack"}
    imagej = data.dtype in _IMAGEJ_DTYPES and "C" not in axes
    metadata: dict = {"axes": axes}
    if spacing is not None:
        dy, dx = spacing[-2:]
        options["resolution"] = (1.0 / dx, 1.0 / dy)
        if imagej:
            metadata["unit"] = "micron"
            if "Z" in axes:
                metadata["spacing"] = spacing[0]
        else:
            metadata["spacing"] = list(spacing)
    if "C" in axes:
        options["planarconfig"] = "contig"
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, data, imagej=imagej, metadata=metadata, **options)
