"""Open, read and write dataset folders.

A dataset folder holds ``images/NAME.tif`` and ``masks/NAME.tif`` (or another
layout of :mod:`segbench.io.layouts`, including the public benchmarks of
:mod:`segbench.io.public_layouts`) and, when segbench wrote it, a
``dataset.json`` with the writer's metadata (generator, params, seed,
spacing, ...) and ``n_images``. ``dataset.json`` is written last, so its
presence marks a complete dataset.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .samples import Dataset, Sample
from ..errors import InputError
from ._atomic import atomic_path
from .images import (
    SUPPORTED_SUFFIXES,
    _check_labels,
    _read,
    _spatial,
    _valid_spacing,
    write_image,
    write_labels,
)
from .layouts import IMAGES_DIR, MASKS_DIR, find_pairs
from .public_layouts import read_intensity, read_object_masks, shape_mismatch

__all__ = [
    "META_FILE",
    "open_dataset",
    "read_dataset",
    "read_dataset_meta",
    "read_sample",
    "write_dataset",
]

#: The metadata file of a dataset folder written by segbench.
META_FILE = "dataset.json"


def read_sample(
    image_path: str | Path,
    mask_path: str | Path | None = None,
    name: str | None = None,
    spacing: tuple[float, ...] | None = None,
    grey: bool = False,
) -> Sample:
    """Read one image and its mask into a :class:`segbench.Sample`.

    Parameters
    ----------
    image_path : str or Path
        The image file.
    mask_path : str or Path, optional
        Its label image, or a folder of binary masks, one per object (merged
        by :func:`segbench.io.public_layouts.read_object_masks`); None for an
        unlabelled sample.
    name : str, optional
        Sample name; default the image file's name without extension.
    spacing : tuple of float, optional
        Voxel size (micrometres) to use when neither file carries one.
    grey : bool
        Read the image as grey when its colour channels are equal (see
        :func:`segbench.io.public_layouts.read_intensity`).

    Returns
    -------
    Sample
        ``spacing`` is the image file's, else the mask file's, else ``spacing``.

    Raises
    ------
    segbench.errors.InputError
        Either file is bad (see :func:`segbench.io.read_image` and
        :func:`segbench.io.read_labels`), the image holds NaN or infinite
        values, or the mask's shape is not the image's spatial shape.
    """
    image_path = Path(image_path)
    image, axes, image_spacing = read_intensity(image_path, grey)
    if np.issubdtype(image.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(image)))
        if bad:
            raise InputError(
                image_path,
                f"{bad} pixel(s) are NaN or infinite",
                "replace them (e.g. with the background value) or leave the image out",
            )
    labels, mask_spacing = None, None
    spatial_shape = image.shape[: len(_spatial(axes))]
    if mask_path is not None and Path(mask_path).is_dir():
        labels = read_object_masks(mask_path, spatial_shape, image_path.name)
    elif mask_path is not None:
        raw, mask_axes, mask_spacing = _read(mask_path, labels=True)
        labels = _check_labels(mask_path, raw, mask_axes)
        if labels.shape != spatial_shape:
            raise shape_mismatch(mask_path, labels.shape, spatial_shape, image_path.name)
    return Sample(
        name=image_path.stem if name is None else name,
        image=image,
        labels=labels,
        spacing=image_spacing or mask_spacing or spacing,
    )


def open_dataset(
    folder: str | Path, name: str | None = None, *, fluorescence_only: bool = False
) -> tuple[Dataset, list[InputError]]:
    """Open a dataset folder lazily: find and pair its files, read none.

    Parameters
    ----------
    folder : str or Path
        A dataset folder in any layout of :mod:`segbench.io.layouts`.
    name : str, optional
        Dataset name; default the folder's name.
    fluorescence_only : bool
        Keep only fluorescence-like images (see :func:`find_pairs`; this reads
        every image once).

    Returns
    -------
    dataset : segbench.Dataset
        One lazy sample per paired image (per image, in an unlabelled folder).
        Loading a sample reads and checks its files and raises
        :class:`~segbench.errors.InputError` naming the file when one is bad.
        ``dataset.spacing`` comes from ``dataset.json`` when it has one.
    problems : list of InputError
        Files that could not be paired, a missing or empty folder, a broken
        ``dataset.json``, or one that counts a different number of images.

    Examples
    --------
    >>> import tempfile, numpy as np, segbench
    >>> folder = Path(tempfile.mkdtemp()) / "nuclei"
    >>> sample = segbench.Sample("a", np.zeros((8, 8), np.uint16), np.ones((8, 8), int))
    >>> _ = write_dataset(folder, [sample])
    >>> dataset, problems = open_dataset(folder)
    >>> dataset.names, problems, int(dataset[0].labels.max())
    (['a'], [], 1)
    """
    folder = Path(folder)
    pairs, problems = find_pairs(folder, fluorescence_only=fluorescence_only)
    meta: dict[str, Any] = {}
    try:
        meta = read_dataset_meta(folder)
    except InputError as err:
        problems.append(err)
    spacing = None
    if meta.get("spacing") is not None:
        raw = meta["spacing"]
        spacing = _valid_spacing(raw, len(raw)) if isinstance(raw, list) else None
        if spacing is None or len(spacing) not in (2, 3):
            spacing = None
            problems.append(
                InputError(
                    folder / META_FILE,
                    f"'spacing' must be a list of 2 or 3 positive numbers, got {raw!r}",
                    "fix it, or remove it",
                )
            )
    expected = meta.get("n_images")
    if isinstance(expected, int) and expected != len(pairs):
        problems.append(
            InputError(
                folder / META_FILE,
                f"lists {expected} images but {len(pairs)} image/mask pairs were found",
                "the dataset was written incompletely or changed since; write it again",
            )
        )
    dataset = Dataset(
        name or folder.resolve().name,
        names=[p.name for p in pairs],
        loaders=[partial(read_sample, p.image, p.mask, p.name, spacing, p.grey) for p in pairs],
        spacing=spacing,
    )
    return dataset, problems


def read_dataset(
    folder: str | Path, name: str | None = None, *, fluorescence_only: bool = False
) -> tuple[list[Sample], list[InputError]]:
    """Read every sample of a dataset folder, skipping the bad ones.

    Parameters
    ----------
    folder : str or Path
        A dataset folder (see :func:`open_dataset`).
    name : str, optional
        Dataset name; default the folder's name.
    fluorescence_only : bool
        Keep only fluorescence-like images (see :func:`open_dataset`).

    Returns
    -------
    samples : list of Sample
        Every sample whose files could be read, in name order.
    problems : list of InputError
        :func:`open_dataset`'s problems, then one per sample that was skipped.
    """
    dataset, problems = open_dataset(folder, name, fluorescence_only=fluorescence_only)
    samples = []
    for index in range(len(dataset)):
        try:
            samples.append(dataset[index])
        except InputError as err:
            problems.append(err)
    return samples, problems


def read_dataset_meta(folder: str | Path) -> dict[str, Any]:
    """The contents of a dataset folder's ``dataset.json``; ``{}`` when absent.

    Raises
    ------
    segbench.errors.InputError
        ``dataset.json`` is not valid JSON, or not a JSON object.
    """
    path = Path(folder) / META_FILE
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, f"is not valid JSON ({err})", "fix it, or delete it") from None
    if not isinstance(meta, dict):
        raise InputError(path, "is not a JSON object", "fix it, or delete it")
    return meta


def write_dataset(
    folder: str | Path,
    samples: Iterable[Sample],
    meta: Mapping[str, Any] | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write samples as a dataset folder that :func:`open_dataset` reads back.

    Writes ``images/NAME.tif`` and, for labelled samples, ``masks/NAME.tif``
    (see :func:`segbench.io.write_image` and :func:`segbench.io.write_labels`;
    each file atomically), then ``dataset.json`` holding ``meta`` plus
    ``n_images``. Samples are consumed one at a time, so a generator of
    samples is never held in memory at once.

    Parameters
    ----------
    folder : str or Path
        Destination; created if missing.
    samples : iterable of Sample
        Unique names that are valid file names; either all labelled or none.
    meta : mapping, optional
        JSON-serialisable metadata (numpy scalars and arrays are converted),
        e.g. ``{"generator": "procedural", "params": {...}, "seed": 0}``.
    overwrite : bool
        Allow a non-empty ``folder``: its image files under ``images/`` and
        ``masks/`` and its ``dataset.json`` are deleted first; nothing else is.

    Returns
    -------
    Path
        ``folder``.

    Raises
    ------
    FileExistsError
        ``folder`` is not empty and ``overwrite`` is False.
    ValueError
        A sample's name is unusable or repeated, its labels do not fit its
        image, or labelled and unlabelled samples are mixed.
    TypeError
        ``meta`` is not JSON-serialisable.
    """
    folder = Path(folder)
    meta = dict(meta or {})
    json.dumps(meta, default=_json_default)  # fail before writing anything
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"write_dataset: folder {str(folder)!r} is not empty; "
                "pass overwrite=True to replace the dataset in it"
            )
        _remove_dataset_files(folder)
    (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    names: set[str] = set()
    labelled: bool | None = None
    for sample in samples:
        _check_sample(sample, names, labelled)
        labelled = sample.labels is not None
        names.add(sample.name)
        write_image(folder / IMAGES_DIR / f"{sample.name}.tif", sample.image, sample.spacing)
        if labelled:
            write_labels(folder / MASKS_DIR / f"{sample.name}.tif", sample.labels, sample.spacing)
    meta["n_images"] = len(names)
    with atomic_path(folder / META_FILE) as tmp:
        tmp.write_text(json.dumps(meta, indent=2, default=_json_default) + "\n", encoding="utf-8")
    return folder


def _check_sample(sample: Sample, names: set[str], labelled: bool | None) -> None:
    name = getattr(sample, "name", None)
    if not isinstance(name, str) or not name or name.startswith(".") or any(
        c in name for c in '/\\:*?"<>|\0'
    ):
        raise ValueError(
            f"write_dataset: sample name {name!r} is not usable as a file name "
            "(non-empty, no path separators or :*?\"<>|, not starting with a dot)"
        )
    if name in names:
        raise ValueError(f"write_dataset: two samples are named {name!r}")
    if labelled is not None and labelled != (sample.labels is not None):
        raise ValueError(
            f"write_dataset: sample {name!r} is {'un' if labelled else ''}labelled but the "
            "samples before it are not; give labels for all samples or for none"
        )
    if sample.labels is not None:
        image_shape, label_shape = np.shape(sample.image), np.shape(sample.labels)
        if label_shape not in (image_shape, image_shape[:-1]):
            raise ValueError(
                f"write_dataset: sample {name!r} has labels of shape {label_shape} "
                f"for an image of shape {image_shape}"
            )


def _remove_dataset_files(folder: Path) -> None:
    (folder / META_FILE).unlink(missing_ok=True)
    for sub in (IMAGES_DIR, MASKS_DIR):
        if (folder / sub).is_dir():
            for path in (folder / sub).iterdir():
                stale_temp = path.name.startswith(".") and path.suffix == ".tmp"
                if path.is_file() and (path.suffix.lower() in SUPPORTED_SUFFIXES or stale_temp):
                    path.unlink()


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(
        f"write_dataset: meta value {value!r} ({type(value).__name__}) is not JSON-serialisable"
    )
