"""Challenge scores: Cell Tracking Challenge SEG, Aggregated Jaccard Index, DSB 2018.

Each score is computed from an :class:`~segbench.metrics.overlap.OverlapTable`
and returned in parts (a numerator and a denominator) where a dataset-level
value needs them, so that pooling over images is exact.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .matching import rows_from_table
from .overlap import OverlapTable

#: IoU thresholds of the 2018 Data Science Bowl, 0.50 to 0.95 in steps of 0.05
#: (each the float nearest to its two-decimal value).
DSB_THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def seg_parts(table: OverlapTable) -> tuple[float, int]:
    """Numerator and denominator of the Cell Tracking Challenge SEG score.

    A reference (true) object ``R`` is matched by the predicted object ``S``
    with ``|R ∩ S| > |R| / 2`` (there is at most one) and then scores
    ``|R ∩ S| / |R ∪ S|``; otherwise it scores 0. Predicted objects that
    match nothing do not count.

    Parameters
    ----------
    table : OverlapTable

    Returns
    -------
    seg_sum : float
        Sum of the scores of all reference objects.
    seg_n : int
        Number of reference objects; SEG is ``seg_sum / seg_n``.
    """
    matched = 2 * table.intersections > table.true_areas[table.pair_true]
    score_sum = float((table.intersections[matched] / table.unions()[matched]).sum())
    return score_sum, table.n_true


def seg_from_parts(seg_sum: float, seg_n: int) -> float:
    """SEG from its parts; NaN when there is no reference object.

    Examples
    --------
    >>> seg_from_parts(1.5, 3), seg_from_parts(0.0, 0)
    (0.5, nan)
    """
    return seg_sum / seg_n if seg_n else math.nan


def aji_parts(table: OverlapTable) -> tuple[int, int]:
    """Aggregated intersection and union of the Aggregated Jaccard Index.

    Kumar et al. 2017 (IEEE TMI 36(7)): every true object ``G`` is paired
    with the predicted object ``S`` of highest IoU with it (ties: the lowest
    predicted id; a predicted object may be paired with several true
    objects), adding ``|G ∩ S|`` to the intersection and ``|G ∪ S|`` to the
    union. A true object that overlaps no prediction adds ``|G|`` to the
    union, and every predicted object paired with no true object adds its
    area to the union.

    Parameters
    ----------
    table : OverlapTable

    Returns
    -------
    intersection, union : int
        Pixel counts; AJI is ``intersection / union``.
    """
    iou = table.scores("iou")
    # Sort pairs by true object, then IoU descending, then predicted object.
    order = np.lexsort((table.pair_pred, -iou, table.pair_true))
    sorted_true = table.pair_true[order]
    first = np.ones(len(order), np.bool_)
    first[1:] = sorted_true[1:] != sorted_true[:-1]
    best = order[first]
    paired_pred = np.zeros(table.n_pred, np.bool_)
    paired_pred[table.pair_pred[best]] = True
    intersection = int(table.intersections[best].sum())
    union = (
        int(table.unions()[best].sum())
        + int(table.true_areas.sum() - table.true_areas[table.pair_true[best]].sum())
        + int(table.pred_areas[~paired_pred].sum())
    )
    return intersection, union


def aji_from_parts(intersection: int, union: int) -> float:
    """AJI from its parts; 1 when the union is empty (no object on either side).

    Examples
    --------
    >>> aji_from_parts(30, 40), aji_from_parts(0, 0)
    (0.75, 1.0)
    """
    return intersection / union if union else 1.0


def dsb_mean_accuracy(table: OverlapTable, known_rows: Sequence[dict] = ()) -> float:
    """Mean over :data:`DSB_THRESHOLDS` of ``tp / (tp + fp + fn)``, IoU criterion.

    The 2018 Data Science Bowl's per-image score, with matches as in
    :func:`segbench.metrics.match` (``IoU >= t``). It always uses IoU,
    whatever criterion the other rows use. 1 when neither image has objects.

    Parameters
    ----------
    table : OverlapTable
    known_rows : sequence of dict
        Rows of :func:`segbench.metrics.match` already computed from
        ``table``; those with criterion "iou" at a DSB threshold are reused.
    """
    accuracy = {
        row["threshold"]: row["accuracy"]
        for row in known_rows
        if row["criterion"] == "iou" and row["threshold"] in DSB_THRESHOLDS
    }
    missing = [t for t in DSB_THRESHOLDS if t not in accuracy]
    for row in rows_from_table(table, missing, "iou"):
        accuracy[row["threshold"]] = row["accuracy"]
    return sum(accuracy[t] for t in DSB_THRESHOLDS) / len(DSB_THRESHOLDS)
