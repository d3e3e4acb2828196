"""Dataset-level scores from per-image results.

``pool`` adds up the counts of the per-image rows of each threshold and
recomputes the ratios (StarDist's ``matching_dataset(..., by_image=False)``);
``summarize`` combines the per-image challenge scores: SEG over all
reference objects of the dataset (as the Cell Tracking Challenge does), AJI
from the dataset's aggregated intersection and union, and the DSB score as
the mean over images of the per-image score (as the 2018 Data Science Bowl
did).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

from .challenge import aji_from_parts, seg_from_parts
from .scores import score_row
from .validation import MetricInputError

_POOLED_KEYS = ("threshold", "criterion", "tp", "n_true", "n_pred", "sum_matched_score")
_SUMMARY_KEYS = ("seg_sum", "seg_n", "aji_intersection", "aji_union", "dsb_mean_accuracy")


def pool(rows: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Pool per-image rows into one row per (criterion, threshold).

    ``tp``, ``n_true``, ``n_pred`` and ``sum_matched_score`` are summed over
    the rows of each (criterion, threshold); ``fp``, ``fn`` and the ratios
    are recomputed from the sums with the conventions of :func:`match`. An
    image with no object on either side adds nothing.

    Parameters
    ----------
    rows : iterable of mapping
        Rows as returned by :func:`match` or ``ImageScores.rows``, for any
        number of images; extra keys (such as ``image``) are ignored.

    Returns
    -------
    list of dict
        Rows with the keys of :func:`match`, in order of first appearance.

    Examples
    --------
    >>> rows = [
    ...     {"threshold": 0.5, "criterion": "iou", "tp": 2, "n_true": 2, "n_pred": 3,
    ...      "sum_matched_score": 1.5},
    ...     {"threshold": 0.5, "criterion": "iou", "tp": 0, "n_true": 1, "n_pred": 0,
    ...      "sum_matched_score": 0.0},
    ... ]
    >>> pooled = pool(rows)[0]
    >>> pooled["tp"], pooled["fp"], pooled["fn"], pooled["accuracy"]
    (2, 1, 1, 0.5)
    """
    totals: dict[tuple[str, float], list] = {}
    for index, row in enumerate(rows):
        missing = [key for key in _POOLED_KEYS if key not in row]
        if missing:
            raise MetricInputError(
                f"rows[{index}]: missing key {missing[0]!r}; pass rows as returned by "
                f"match() or evaluate_image()"
            )
        group = (row["criterion"], float(row["threshold"]))
        total = totals.setdefault(group, [0, 0, 0, 0.0])
        total[0] += int(row["tp"])
        total[1] += int(row["n_true"])
        total[2] += int(row["n_pred"])
        total[3] += float(row["sum_matched_score"])
    return [
        score_row(threshold, criterion, tp, n_true, n_pred, sum_matched_score)
        for (criterion, threshold), (tp, n_true, n_pred, sum_matched_score) in totals.items()
    ]


def summarize(images: Sequence[Any]) -> dict:
    """Dataset-level SEG, AJI and DSB score from per-image scores.

    Parameters
    ----------
    images : sequence of ImageScores or of mapping
        Per-image scores: :class:`ImageScores`, or mappings with the keys of
        ``ImageScores.summary()`` (as stored in a results table), one per image.

    Returns
    -------
    dict
        ``seg``: sum of the per-object SEG scores over all reference objects
        of all images, divided by their number (NaN without any);
        ``aji``: the sum of the images' AJI intersections over the sum of
        their unions (1 when every image is empty on both sides);
        ``dsb_mean_accuracy``: mean over images of the per-image DSB score;
        ``n_images``. With no image, the three scores are NaN.

    Examples
    --------
    >>> summarize([
    ...     {"seg_sum": 1.5, "seg_n": 2, "aji_intersection": 30, "aji_union": 50,
    ...      "dsb_mean_accuracy": 0.5},
    ...     {"seg_sum": 0.0, "seg_n": 1, "aji_intersection": 0, "aji_union": 10,
    ...      "dsb_mean_accuracy": 0.0},
    ... ])
    {'seg': 0.5, 'aji': 0.5, 'dsb_mean_accuracy': 0.25, 'n_images': 2}
    """
    parts = []
    for index, image in enumerate(images):
        values = image.summary() if hasattr(image, "summary") else image
        missing = [key for key in _SUMMARY_KEYS if key not in values]
        if missing:
            raise MetricInputError(
                f"images[{index}]: missing key {missing[0]!r}; pass ImageScores or their "
                f".summary() dicts"
            )
        parts.append(values)
    if not parts:
        return {"seg": math.nan, "aji": math.nan, "dsb_mean_accuracy": math.nan, "n_images": 0}
    return {
        "seg": seg_from_parts(
            sum(float(p["seg_sum"]) for p in parts), sum(int(p["seg_n"]) for p in parts)
        ),
        "aji": aji_from_parts(
            sum(int(p["aji_intersection"]) for p in parts),
            sum(int(p["aji_union"]) for p in parts),
        ),
        "dsb_mean_accuracy": sum(float(p["dsb_mean_accuracy"]) for p in parts) / len(parts),
        "n_images": len(parts),
    }
