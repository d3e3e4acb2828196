"""Public benchmarks as they are downloaded: the BBBC038 (2018 Data Science Bowl)
and Cell Tracking Challenge layouts.

BBBC038 / DSB 2018 (``stage1_train/``, ``stage1_test/``)::

    ID/images/ID.png        one RGB(A) PNG per image
    ID/masks/*.png          one binary PNG per nucleus (absent: unlabelled)

An image is read as grey (its first channel) when its colour channels are
equal, after dropping an alpha channel; the masks are merged into one label
image by :func:`read_object_masks`.

Cell Tracking Challenge::

    01/t000.tif             frames (t0000.tif in longer sequences)
    01_GT/SEG/man_seg000.tif  segmentation truth for some frames
    02/..., 02_GT/...

Only frames with a SEG mask are labelled samples, named ``01_t000``; without
any ``NN_GT/SEG`` the frames are an unlabelled dataset. Tracking truth
(``NN_GT/TRA``) and silver truth (``NN_ST``) are not read. SEG truth given per
slice of a 3-D frame (``man_seg_000_012.tif``) is not a full label image: such
sequences are skipped with one problem line.

:func:`segbench.io.find_pairs` tries these layouts only when the folder has no
``images/`` or ``masks/`` folder and no image files of its own, so the other
layouts are read exactly as before.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from .images import SUPPORTED_SUFFIXES, _read, _spatial, read_labels
from .layouts import IMAGES_DIR, MASKS_DIR, FilePair, _index

__all__ = ["find_public_pairs", "grey_channels", "keep_fluorescence", "read_intensity", "read_object_masks"]

_CTC_SEQUENCE = re.compile(r"\d+")
_CTC_FRAME = re.compile(r"t(\d+)")
_CTC_MASK = re.compile(r"man_seg(\d+)")
_CTC_SLICE_MASK = re.compile(r"man_seg_(\d+)_(\d+)")
#: alpha is the last channel of grey+alpha (2) and RGBA (4) images
_ALPHA_CHANNELS = (2, 4)


def find_public_pairs(folder: Path) -> tuple[list[FilePair], list[InputError]] | None:
    """Pairs of a folder in the Cell Tracking Challenge or DSB layout.

    A folder with numbered sub-folders holding ``tTTT.tif`` frames is a CTC
    dataset; else one with a sub-folder ``ID/images/ID.*`` is a DSB dataset.

    Parameters
    ----------
    folder : Path
        An existing folder.

    Returns
    -------
    tuple of (list of FilePair, list of InputError), or None
        The pairs, sorted by name, and the problems met (each leaves a sample
        or a sequence out); None when ``folder`` is in neither layout. DSB
        pairs have ``grey=True`` and the ``masks/`` folder as ``mask``.
    """
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    sequences = [p for p in subfolders if _CTC_SEQUENCE.fullmatch(p.name) and _ctc_frames(p)[0]]
    if sequences:
        return _ctc_pairs(folder, sequences)
    items = [p for p in subfolders if (p / IMAGES_DIR).is_dir()]
    if any(p.name in _index(p / IMAGES_DIR)[0] for p in items):
        return _dsb_pairs(items)
    return None


def _dsb_pairs(items: list[Path]) -> tuple[list[FilePair], list[InputError]]:
    labelled = any((p / MASKS_DIR).is_dir() for p in items)
    pairs, problems = [], []
    for item in items:
        found, item_problems = _index(item / IMAGES_DIR)
        problems += item_problems
        image = found.get(item.name) or (next(iter(found.values())) if len(found) == 1 else None)
        masks = item / MASKS_DIR
        if image is None:
            problems.append(InputError(
                item / IMAGES_DIR,
                f"holds {len(found)} image files, none named {item.name}.png",
                f"keep one image per folder, named {item.name}.png (the folder's name)",
            ))
        elif not labelled:
            pairs.append(FilePair(item.name, image, None, grey=True))
        elif not masks.is_dir():
            problems.append(InputError(
                image,
                f"image {item.name!r} has no mask (expected {item.name}/{MASKS_DIR}/*.png)",
                "add its masks, or remove the image's folder",
            ))
        elif not _mask_files(masks):
            problems.append(InputError(
                masks,
                "the masks folder is empty (no .png/.tif files)",
                "add one binary PNG per nucleus, or remove the image's folder",
            ))
        else:
            pairs.append(FilePair(item.name, image, masks, grey=True))
    return pairs, problems


def _ctc_pairs(folder: Path, sequences: list[Path]) -> tuple[list[FilePair], list[InputError]]:
    seg_folders = {s.name: folder / f"{s.name}_GT" / "SEG" for s in sequences}
    labelled = any(p.is_dir() for p in seg_folders.values())
    pairs, problems = [], []
    for sequence in sequences:
        frames, frame_problems = _ctc_frames(sequence)
        problems += frame_problems
        if not labelled:
            pairs += [FilePair(f"{sequence.name}_{p.stem}", p) for p in frames.values()]
            continue
        seg = seg_folders[sequence.name]
        if not seg.is_dir():
            problems.append(InputError(
                sequence,
                f"sequence {sequence.name} has no segmentation truth "
                f"({sequence.name}_GT/SEG/man_segTTT.tif); its frames are left out",
                "add the SEG folder, or remove the sequence",
            ))
            continue
        files, seg_problems = _index(seg)
        problems += seg_problems
        masks = {int(m[1]): p for n, p in files.items() if (m := _CTC_MASK.fullmatch(n))}
        per_slice = sum(bool(_CTC_SLICE_MASK.fullmatch(n)) for n in files)
        if per_slice:
            problems.append(InputError(
                seg,
                f"{per_slice} masks are single slices of 3-D frames (man_seg_TTT_ZZZ.tif), "
                "not full label images; "
                + ("they are ignored" if masks else f"sequence {sequence.name} is skipped"),
                "segbench scores full 2-D or 3-D label images (man_segTTT.tif)",
            ))
        for t, mask in sorted(masks.items()):
            if t in frames:
                pairs.append(FilePair(f"{sequence.name}_{frames[t].stem}", frames[t], mask))
            else:
                problems.append(InputError(
                    mask,
                    f"mask of frame {t} has no image in {sequence.name}/",
                    "add the frame, or remove the mask",
                ))
    return sorted(pairs, key=lambda p: p.name), problems


def _ctc_frames(sequence: Path) -> tuple[dict[int, Path], list[InputError]]:
    """The frames ``tTTT.tif`` of a sequence folder by time point."""
    files, problems = _index(sequence)
    return {int(m[1]): p for n, p in files.items() if (m := _CTC_FRAME.fullmatch(n))}, problems


def _mask_files(folder: Path) -> list[Path]:
    """The per-object mask files of a DSB ``masks/`` folder, in file-name order."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SUPPORTED_SUFFIXES
    )


def read_object_masks(folder: str | Path, shape: tuple[int, ...], image_name: str) -> np.ndarray:
    """Merge a folder of binary masks, one per object, into one label image.

    Object ``i`` (1-based, in file-name order) is the non-zero pixels of the
    ``i``-th mask. Where masks overlap, the later one wins; such pixels are
    counted and reported with one :class:`UserWarning` per call.

    Parameters
    ----------
    folder : str or Path
        A DSB ``masks/`` folder of PNG (or TIFF) files.
    shape : tuple of int
        The image's ``(Y, X)`` shape, which every mask must have.
    image_name : str
        The image's file name, for messages.

    Returns
    -------
    ndarray of uint16 (uint32 above 65535 objects), shape ``shape``
        0 = background, ids 1..n.

    Raises
    ------
    segbench.errors.InputError
        A mask is unreadable, not a single-channel integer image, or of
        another shape than the image; or the folder holds no masks.

    Examples
    --------
    >>> import tempfile, imageio.v3 as iio
    >>> folder = Path(tempfile.mkdtemp())
    >>> iio.imwrite(folder / "a.png", np.array([[255, 0], [0, 0]], np.uint8))
    >>> iio.imwrite(folder / "b.png", np.array([[0, 0], [0, 255]], np.uint8))
    >>> read_object_masks(folder, (2, 2), "x.png")
    array([[1, 0],
           [0, 2]], dtype=uint16)
    """
    folder = Path(folder)
    files = _mask_files(folder)
    if not files:
        raise InputError(folder, "the masks folder is empty (no .png/.tif files)",
                         "add one binary PNG per nucleus")
    labels = np.zeros(shape, np.uint16 if len(files) <= np.iinfo(np.uint16).max else np.uint32)
    overlap = 0
    for index, path in enumerate(files, 1):
        mask = read_labels(path)
        if mask.shape != tuple(shape):
            raise shape_mismatch(path, mask.shape, shape, image_name)
        inside = mask > 0
        overlap += int(np.count_nonzero(labels[inside]))
        labels[inside] = index
    if overlap:
        warnings.warn(
            f"{folder}: {overlap} pixel(s) lie in more than one of its {len(files)} masks; "
            "each was given to the later mask in file-name order",
            UserWarning,
            stacklevel=2,
        )
    return labels


def shape_mismatch(mask_path: Path, shape: tuple, image_shape: tuple, image_name: str) -> InputError:
    """The one line for a mask whose shape is not its image's spatial shape."""
    return InputError(
        mask_path,
        f"mask shape {tuple(shape)} does not match the shape {tuple(image_shape)} of image {image_name}",
        "check that the two files belong together; the mask must have the image's (Z,) Y, X shape",
    )


def read_intensity(path: str | Path, grey: bool = False) -> tuple[np.ndarray, str, tuple | None]:
    """Read an intensity image, optionally as grey.

    Parameters
    ----------
    path : str or Path
        An image file.
    grey : bool
        Drop an alpha channel (the last of 2 or 4 channels) and, when the
        remaining channels are equal, keep only the first: an R=G=B(A) PNG
        becomes ``(Y, X)``. Images with differing channels keep them.

    Returns
    -------
    image : ndarray
        Axes as in :func:`segbench.io.read_image`.
    axes : str
        Its axes letters (``YX``, ``ZYX``, ``YXC``, ``ZYXC``).
    spacing : tuple of float or None
        Voxel size in micrometres, when the file carries one.
    """
    image, axes, spacing = _read(path)
    if grey and axes.endswith("C"):
        image = grey_channels(image)
        axes = axes if image.ndim == len(axes) else _spatial(axes)
    return image, axes, spacing


def grey_channels(image: np.ndarray) -> np.ndarray:
    """A channels-last image without its alpha channel (the last of 2 or 4)
    and, when the remaining channels are equal, as its first channel alone.

    Examples
    --------
    >>> rgba = np.zeros((2, 3, 4), np.uint8); rgba[..., :3] = 7; rgba[..., 3] = 255
    >>> grey_channels(rgba).shape
    (2, 3)
    >>> rgba[0, 0, 0] = 9
    >>> grey_channels(rgba).shape
    (2, 3, 3)
    """
    if image.shape[-1] in _ALPHA_CHANNELS:
        image = image[..., :-1]
    return image[..., 0] if (image == image[..., :1]).all() else image


def keep_fluorescence(pairs: list[FilePair]) -> tuple[list[FilePair], list[InputError]]:
    """The pairs whose image looks like fluorescence: grey and dark background.

    An image is kept when, as read (see :func:`read_intensity` with the
    pair's ``grey``), it has no colour channels and its median is below its
    mean (a few bright objects on a dark background). Colour (H&E) images
    and grey images with a bright background (brightfield) are dropped.

    Parameters
    ----------
    pairs : list of FilePair
        Pairs from any layout.

    Returns
    -------
    kept : list of FilePair
        In the given order.
    problems : list of InputError
        One per image that could not be read (it is left out).
    """
    kept, problems = [], []
    for pair in pairs:
        try:
            image, axes, _ = read_intensity(pair.image, pair.grey)
        except InputError as err:
            problems.append(err)
            continue
        if "C" not in axes and np.median(image) < np.mean(image):
            kept.append(pair)
    return kept, problems
