"""Is a label image really one? The one check of every place that reads masks.

A file read as a label image may be something else that scores silently and
wrongly: an intensity image (every grey value an "object"), or a binary mask
(0/255, boolean) whose separate regions all share one id, so that they score
as a single object. :func:`label_image_doubt` says why a label image looks
like one of these; :class:`MaskCheck` gathers the doubts of one dataset (or
one ``evaluate`` folder) into a single warning line saying what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["MaskCheck", "label_image_doubt"]

#: a label image with at least this many ids is checked by :func:`intensity_like`
INTENSITY_MIN_IDS = 20
#: ... and flagged when its ids form this many times more separate regions than there are ids
INTENSITY_FRAGMENTS = 2.0

#: what to do about a doubtful mask, in every warning
FIX = ("give label images with one id per object: the masks, not the intensity images, and a binary "
       "mask numbered region by region (e.g. skimage.measure.label)")


def label_image_doubt(labels: np.ndarray) -> str:
    """Why ``labels`` does not look like a label image (one id per object), or ``""``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> label_image_doubt(rng.integers(0, 200, (64, 64)))[:44]
    'looks like an intensity image, not a label i'
    >>> mask = np.zeros((32, 32), np.uint8); mask[2:6, 2:6] = mask[20:25, 20:25] = 255
    >>> label_image_doubt(mask)
    'is a binary mask: its one id covers 2 separate regions, which score as one object'
    >>> labels = np.zeros((32, 32), int); labels[2:6, 2:6] = 1; labels[20:25, 20:25] = 2
    >>> label_image_doubt(labels)
    ''
    """
    ids = np.unique(labels)
    ids = ids[ids != 0]
    if len(ids) == 1:
        return _binary_with_regions(labels)
    suspicion = intensity_like(labels, len(ids))
    return f"looks like an intensity image, not a label image ({suspicion})" if suspicion else ""


def intensity_like(labels: np.ndarray, n_ids: int) -> str:
    """Why ``labels`` (with ``n_ids`` non-zero ids) looks like an intensity
    image, or ``""``.

    In a label image each id is (nearly always) one connected object, so the
    number of connected regions of equal value is close to the number of ids.
    In an intensity image every grey value is scattered over many separate
    patches: far more regions than ids (more than ``INTENSITY_FRAGMENTS``
    times, with at least ``INTENSITY_MIN_IDS`` ids).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> intensity_like(rng.integers(0, 200, (64, 64)), 199)
    '199 ids form 4035 separate regions; an object is one region'
    """
    from skimage.measure import label

    if n_ids < INTENSITY_MIN_IDS:
        return ""
    regions = int(label(labels, background=0, connectivity=1).max())
    if regions <= INTENSITY_FRAGMENTS * n_ids:
        return ""
    return f"{n_ids} ids form {regions} separate regions; an object is one region"


def _binary_with_regions(labels: np.ndarray) -> str:
    """A single id in several separate regions (touching diagonally counts as one)."""
    from skimage.measure import label

    regions = int(label(labels != 0, connectivity=labels.ndim).max())
    if regions < 2:
        return ""
    return f"is a binary mask: its one id covers {regions} separate regions, which score as one object"


@dataclass
class MaskCheck:
    """The doubtful masks of one dataset, reported in one warning line.

    Parameters
    ----------
    where : str
        What the line starts with: the dataset's suite key or folder.

    Examples
    --------
    >>> check = MaskCheck("--gt masks")
    >>> check.add("masks/a.tif", np.ones((4, 4), np.uint8))
    >>> check.warning() is None
    True
    >>> mask = np.zeros((8, 8), bool); mask[0, 0] = mask[5, 5] = True
    >>> check.add("masks/b.tif", mask)
    >>> check.warning()[:76]
    '--gt masks: 1 of 2 masks checked are not label images (e.g. masks/b.tif: is '
    """

    where: str
    checked: int = 0
    doubts: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path: str | Path, labels: np.ndarray) -> None:
        """Check the label image read from ``path``."""
        self.checked += 1
        doubt = label_image_doubt(labels)
        if doubt:
            self.doubts.append((str(path), doubt))

    def warning(self) -> str | None:
        """One line naming how many masks are doubtful, the first of them and
        what to do; None when every mask looked like a label image."""
        if not self.doubts:
            return None
        path, doubt = self.doubts[0]
        return (f"{self.where}: {len(self.doubts)} of {self.checked} masks checked are not label images "
                f"(e.g. {path}: {doubt}); they are scored as they are; {FIX}")
