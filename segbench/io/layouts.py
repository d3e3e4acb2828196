"""Find the files of a dataset folder and pair images with their masks.

Three layouts are recognised automatically, files paired by name (the file
name without its extension; ``.tif``, ``.tiff`` and ``.png`` are read):

1. segbench's own and StarDist's: ``images/NAME.tif`` with ``masks/NAME.tif``
   (StarDist folders may use any supported extension on either side).
2. Cellpose's: ``NAME.tif`` beside ``NAME_masks.tif`` (or ``NAME_masks.png``)
   in one folder. Cellpose's by-products (``_flows``, ``_flows_0``..``_2``,
   ``_cellprob``, ``_cp_masks``, ``_cp_output``, ``_outlines``) are ignored
   there.
3. Images alone (``images/`` without ``masks/``, or a folder of images with
   no ``_masks`` files): an unlabelled dataset.
4. Public benchmarks as downloaded, tried only when the folder has neither
   ``images/`` nor ``masks/`` and no image files of its own: the Cell
   Tracking Challenge's ``01/t000.tif`` + ``01_GT/SEG/man_seg000.tif`` and
   BBBC038's (DSB 2018) ``ID/images/ID.png`` + ``ID/masks/*.png`` (see
   :mod:`segbench.io.public_layouts`).

Hidden files (names starting with a dot, such as segbench's temporary files)
are ignored everywhere.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .images import SUPPORTED_SUFFIXES

__all__ = ["FilePair", "find_pairs", "find_label_files"]

IMAGES_DIR = "images"
MASKS_DIR = "masks"
CELLPOSE_MASK_SUFFIX = "_masks"
#: Cellpose writes its predictions as NAME_cp_masks.png/.tif.
CELLPOSE_PREDICTION_SUFFIX = "_cp_masks"
#: What Cellpose writes beside the images of a folder (as its own reader skips).
_CELLPOSE_BYPRODUCTS = (
    CELLPOSE_PREDICTION_SUFFIX,
    "_flows",
    "_flows_0",
    "_flows_1",
    "_flows_2",
    "_cellprob",
    "_cp_output",
    "_outlines",
)
_SUPPORTED = "/".join(SUPPORTED_SUFFIXES)


@dataclass(frozen=True)
class FilePair:
    """One image file and its mask (None in an unlabelled dataset).

    ``mask`` is a label image file, or a folder of binary masks, one per
    object (the DSB layout). ``grey``: read the image as grey when its colour
    channels are equal (see :func:`segbench.io.public_layouts.read_intensity`).
    """

    name: str
    image: Path
    mask: Path | None = None
    grey: bool = False


def find_pairs(
    folder: str | Path, *, fluorescence_only: bool = False
) -> tuple[list[FilePair], list[InputError]]:
    """Pair the images of a dataset folder with their masks.

    Parameters
    ----------
    folder : str or Path
        A dataset folder in one of the layouts of this module's docstring.
    fluorescence_only : bool
        Keep only images that look like fluorescence: grey as read and darker
        than their mean in the median (reads every image; see
        :func:`segbench.io.public_layouts.keep_fluorescence`).

    Returns
    -------
    pairs : list of FilePair
        Sorted by name. In a labelled dataset every pair has a mask; in an
        unlabelled one (no masks at all) every ``mask`` is None.
    problems : list of InputError
        One per image without a mask, mask without an image, two files sharing
        a name, unreadable image (with ``fluorescence_only``), or a folder that
        is missing, empty or in no known layout. The pairs found are still
        returned.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from segbench.io import write_image, write_labels
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_image(folder / "cell.tif", np.zeros((8, 8), np.uint16))
    >>> write_labels(folder / "cell_masks.tif", np.zeros((8, 8), int))
    >>> pairs, problems = find_pairs(folder)
    >>> [(p.name, p.mask.name) for p in pairs], problems
    ([('cell', 'cell_masks.tif')], [])
    """
    pairs, problems = _find_pairs(Path(folder))
    if not fluorescence_only:
        return pairs, problems
    from .public_layouts import keep_fluorescence  # imports this module

    pairs, read_problems = keep_fluorescence(pairs)
    return pairs, problems + read_problems


def _find_pairs(folder: Path) -> tuple[list[FilePair], list[InputError]]:
    problem = _check_folder(folder)
    if problem:
        return [], [problem]
    if (folder / IMAGES_DIR).is_dir():
        images, problems = _index(folder / IMAGES_DIR)
        masks: dict[str, Path] | None = None
        if (folder / MASKS_DIR).is_dir():
            masks, mask_problems = _index(folder / MASKS_DIR)
            problems += mask_problems
        expected = f"{MASKS_DIR}/{{name}}.tif"
    elif (folder / MASKS_DIR).is_dir():
        return [], [
            InputError(
                folder,
                f"has a {MASKS_DIR}/ folder but no {IMAGES_DIR}/ folder",
                f"put the images in {IMAGES_DIR}/, named like their masks",
            )
        ]
    else:
        files, problems = _index(folder)
        if not files:
            from .public_layouts import find_public_pairs  # imports this module

            public = find_public_pairs(folder)
            if public is not None:
                return public[0], problems + public[1]
        files = {n: p for n, p in files.items() if not n.endswith(_CELLPOSE_BYPRODUCTS)}
        masks = _strip_suffix(files, CELLPOSE_MASK_SUFFIX) or None
        images = {n: p for n, p in files.items() if not n.endswith(CELLPOSE_MASK_SUFFIX)}
        expected = f"{{name}}{CELLPOSE_MASK_SUFFIX}.tif"
    if not images and not masks:
        where = folder / IMAGES_DIR if (folder / IMAGES_DIR).is_dir() else folder
        return [], problems + [_nothing_found(where, "images")]
    if masks is None:
        return [FilePair(n, p) for n, p in sorted(images.items())], problems
    pairs = []
    for name in sorted(images.keys() | masks.keys()):
        if name not in masks:
            problems.append(
                InputError(
                    images[name],
                    f"image {name!r} has no mask (expected {expected.format(name=name)})",
                    "add its mask, or remove the image",
                )
            )
        elif name not in images:
            problems.append(
                InputError(
                    masks[name],
                    f"mask {name!r} has no image with the same name",
                    "add the image, or remove the mask",
                )
            )
        else:
            pairs.append(FilePair(name, images[name], masks[name]))
    return pairs, problems


def find_label_files(folder: str | Path) -> tuple[dict[str, Path], list[InputError]]:
    """Find the label images of a folder of masks or predictions, by name.

    Looks, in this order, for ``masks/NAME.tif`` (a dataset folder),
    ``NAME_cp_masks.tif`` or ``NAME_masks.tif`` (Cellpose's output and
    training layouts; other files there are ignored), or else takes every
    ``NAME.tif`` in the folder. Any supported extension works in place of
    ``.tif``.

    Parameters
    ----------
    folder : str or Path
        The folder to search (not recursively).

    Returns
    -------
    files : dict of str to Path
        Label image path per name, sorted by name.
    problems : list of InputError
        Two files sharing a name, or a folder that is missing or empty.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from segbench.io import write_labels
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_labels(folder / "a_cp_masks.tif", np.zeros((8, 8), int))
    >>> files, problems = find_label_files(folder)
    >>> {name: path.name for name, path in files.items()}
    {'a': 'a_cp_masks.tif'}
    """
    folder = Path(folder)
    problem = _check_folder(folder)
    if problem:
        return {}, [problem]
    if (folder / MASKS_DIR).is_dir():
        files, problems = _index(folder / MASKS_DIR)
    else:
        files, problems = _index(folder)
        plain = {n: p for n, p in files.items() if not n.endswith(_CELLPOSE_BYPRODUCTS)}
        files = (
            _strip_suffix(files, CELLPOSE_PREDICTION_SUFFIX)
            or _strip_suffix(plain, CELLPOSE_MASK_SUFFIX)
            or plain
        )
    if not files:
        problems.append(_nothing_found(folder, "label images"))
    return dict(sorted(files.items())), problems


def _check_folder(folder: Path) -> InputError | None:
    if not folder.exists():
        return InputError(folder, "folder not found", "check the path")
    if not folder.is_dir():
        return InputError(
            folder,
            "is a file, not a folder",
            f"give the folder that holds {IMAGES_DIR}/ and {MASKS_DIR}/ "
            f"(or NAME.tif beside NAME{CELLPOSE_MASK_SUFFIX}.tif)",
        )
    return None


def _index(folder: Path) -> tuple[dict[str, Path], list[InputError]]:
    """Supported, non-hidden files of ``folder`` by name; names used twice, and
    names that are not valid text (bytes that are not UTF-8), are reported and
    left out."""
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SUPPORTED_SUFFIXES
    ]
    undecodable = [p for p in files if not _is_text(p.name)]
    files = [p for p in files if _is_text(p.name)]
    counts = Counter(p.stem for p in files)
    problems = [
        InputError(
            folder / p.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
            "its file name is not valid UTF-8",
            "rename the file (it was left out)",
        )
        for p in undecodable
    ] + [
        InputError(
            folder,
            f"{count} files are named {name!r} "
            f"({', '.join(sorted(p.name for p in files if p.stem == name))})",
            "keep one of them, or rename the others",
        )
        for name, count in sorted(counts.items())
        if count > 1
    ]
    return {p.stem: p for p in files if counts[p.stem] == 1}, problems


def _is_text(name: str) -> bool:
    """False for a file name holding bytes that are not UTF-8 (Python keeps
    them as surrogate escapes, which no text file or table can store)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _strip_suffix(files: dict[str, Path], suffix: str) -> dict[str, Path]:
    return {n[: -len(suffix)]: p for n, p in files.items() if n.endswith(suffix) and n != suffix}


def _nothing_found(folder: Path, what: str) -> InputError:
    others = Counter(
        p.suffix.lower() or p.name
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".")
    )
    found = ", ".join(f"{n} {ext}" for ext, n in sorted(others.items()))
    return InputError(
        folder,
        f"no {what} found ({_SUPPORTED} files)" + (f"; it holds {found} files" if found else ""),
        f"put images in {IMAGES_DIR}/NAME.tif and label images in {MASKS_DIR}/NAME.tif "
        f"(or NAME.tif beside NAME{CELLPOSE_MASK_SUFFIX}.tif); convert other formats to TIFF",
    )
