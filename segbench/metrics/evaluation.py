"""All scores of one image, and of a dataset of images, from one overlap table each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .aggregate import pool, summarize
from .challenge import aji_from_parts, aji_parts, dsb_mean_accuracy, seg_from_parts, seg_parts
from .errors import error_counts
from .matching import rows_from_table
from .overlap import overlap_table
from .validation import MetricInputError, check_criterion, check_thresholds


@dataclass(frozen=True)
class ImageScores:
    """Scores of one prediction against its ground truth.

    Attributes
    ----------
    rows : list of dict
        One row per threshold, as :func:`match` returns.
    seg : float
        Cell Tracking Challenge SEG: ``seg_sum / seg_n`` (NaN when the
        ground truth has no object).
    seg_sum : float
        Sum over reference objects of the IoU with the predicted object
        covering more than half of it (0 when there is none).
    seg_n : int
        Number of reference (ground-truth) objects.
    aji : float
        Aggregated Jaccard Index, ``aji_intersection / aji_union`` (1 when
        neither image has objects).
    aji_intersection, aji_union : int
        Aggregated intersection and union, in pixels.
    dsb_mean_accuracy : float
        Mean of ``tp / (tp + fp + fn)`` over IoU thresholds 0.50:0.05:0.95
        (always IoU, whatever the rows' criterion).
    errors : dict
        Found, merged, split and missed true objects and spurious
        predictions (:func:`segbench.metrics.errors.error_counts`).
    """

    rows: list[dict]
    seg: float
    seg_sum: float
    seg_n: int
    aji: float
    aji_intersection: int
    aji_union: int
    dsb_mean_accuracy: float
    errors: dict

    def summary(self) -> dict:
        """The image's scalar scores and their parts, one value per key.

        Returns
        -------
        dict
            Keys ``seg``, ``seg_sum``, ``seg_n``, ``aji``, ``aji_intersection``,
            ``aji_union`` and ``dsb_mean_accuracy`` (what :func:`summarize`
            needs to combine images exactly), and the error counts
            ``n_found``, ``n_merged``, ``n_split``, ``n_missed``, ``n_spurious``.
        """
        return {
            "seg": self.seg,
            "seg_sum": self.seg_sum,
            "seg_n": self.seg_n,
            "aji": self.aji,
            "aji_intersection": self.aji_intersection,
            "aji_union": self.aji_union,
            "dsb_mean_accuracy": self.dsb_mean_accuracy,
            **self.errors,
        }


@dataclass(frozen=True)
class DatasetScores:
    """Scores of a dataset of predictions.

    Attributes
    ----------
    pooled : list of dict
        One row per threshold with the counts pooled over all images
        (:func:`pool`).
    images : list of dict
        One dict per (image, threshold): ``image`` (the name), the keys of
        the :func:`match` row and the keys of ``ImageScores.summary()``.
    summary : dict
        ``seg``, ``aji``, ``dsb_mean_accuracy`` and ``n_images``
        (:func:`summarize`).
    """

    pooled: list[dict]
    images: list[dict]
    summary: dict


def evaluate_image(
    gt, pred, thresholds: float | Sequence[float] = (0.5,), criterion: str = "iou"
) -> ImageScores:
    """Every score of one prediction, from one overlap table.

    Parameters
    ----------
    gt, pred : array_like of int, same shape, e.g. (Y, X) or (Z, Y, X)
        Ground-truth and predicted label images, 0 = background.
    thresholds : float or sequence of float
        Thresholds of the rows, each ``0 < t <= 1``.
    criterion : {"iou", "iot", "iop"}
        Score the rows' thresholds apply to.

    Returns
    -------
    ImageScores

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([[1, 1, 1, 1, 0, 2, 2]])
    >>> pred = np.array([[3, 3, 3, 0, 0, 0, 0]])
    >>> scores = evaluate_image(gt, pred)
    >>> scores.rows[0]["tp"], scores.seg, scores.aji
    (1, 0.375, 0.5)
    """
    thresholds = check_thresholds(thresholds)
    check_criterion(criterion)
    table = overlap_table(gt, pred)
    rows = rows_from_table(table, thresholds, criterion)
    seg_sum, seg_n = seg_parts(table)
    aji_intersection, aji_union = aji_parts(table)
    return ImageScores(
        rows=rows,
        seg=seg_from_parts(seg_sum, seg_n),
        seg_sum=seg_sum,
        seg_n=seg_n,
        aji=aji_from_parts(aji_intersection, aji_union),
        aji_intersection=aji_intersection,
        aji_union=aji_union,
        dsb_mean_accuracy=dsb_mean_accuracy(table, known_rows=rows),
        errors=error_counts(table),
    )


def evaluate_dataset(
    pairs: Iterable[tuple[str, np.ndarray, np.ndarray]],
    thresholds: float | Sequence[float] = (0.5,),
    criterion: str = "iou",
) -> DatasetScores:
    """Score a dataset of predictions, per image and pooled.

    Parameters
    ----------
    pairs : iterable of (str, ndarray, ndarray)
        ``(name, gt, pred)`` per image, names unique; read lazily, one image
        pair in memory at a time.
    thresholds : float or sequence of float
        Thresholds of the rows, each ``0 < t <= 1``.
    criterion : {"iou", "iot", "iop"}
        Score the thresholds apply to.

    Returns
    -------
    DatasetScores

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[1, 1, 0, 2]])
    >>> scores = evaluate_dataset([("a", a, a), ("b", a, np.zeros_like(a))])
    >>> scores.pooled[0]["tp"], scores.pooled[0]["fn"], scores.summary["n_images"]
    (2, 2, 2)
    """
    thresholds = check_thresholds(thresholds)
    check_criterion(criterion)
    image_rows: list[dict] = []
    image_scores: list[ImageScores] = []
    names: set[str] = set()
    for index, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 3):
            raise MetricInputError(
                f"pairs[{index}]: expected a (name, gt, pred) tuple, got {type(pair).__name__}"
            )
        name, gt, pred = pair
        if name in names:
            raise MetricInputError(
                f"pairs[{index}]: image name {name!r} repeats; names must be unique"
            )
        names.add(name)
        try:
            scores = evaluate_image(gt, pred, thresholds, criterion)
        except MetricInputError as error:
            raise MetricInputError(f"image {name!r}: {error}") from error
        image_scores.append(scores)
        image_summary = scores.summary()
        image_rows.extend({"image": name, **row, **image_summary} for row in scores.rows)
    return DatasetScores(
        pooled=pool(image_rows),
        images=image_rows,
        summary=summarize(image_scores),
    )
