"""Matching of one ground-truth label image against one prediction."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .assignment import optimal_matches
from .overlap import OverlapTable, overlap_table
from .scores import score_row
from .validation import check_criterion, check_thresholds


def match(
    gt, pred, thresholds: float | Sequence[float] = (0.5,), criterion: str = "iou"
) -> list[dict]:
    """Match the objects of a prediction to those of its ground truth.

    For each threshold ``t`` the objects are paired one-to-one so that the
    number of pairs with score ``>= t`` is as large as possible, ties broken
    by the total score of the assigned pairs (the rule of StarDist's
    ``matching`` and Cellpose's ``average_precision``); a pair with score
    ``>= t`` is a true positive. All thresholds use one overlap table, built
    in one pass over the pixels.

    Parameters
    ----------
    gt, pred : array_like of int, same shape, e.g. (Y, X) or (Z, Y, X)
        Ground-truth and predicted label images: 0 = background, every
        other value one object; ids need not be contiguous.
    thresholds : float or sequence of float
        Each ``0 < t <= 1``, distinct; one row is returned per threshold, in
        this order.
    criterion : {"iou", "iot", "iop"}
        Score of a pair: intersection over union, over the true object, or
        over the predicted object.

    Returns
    -------
    list of dict
        One dict per threshold with the keys ``threshold``, ``criterion``,
        ``tp``, ``fp``, ``fn``, ``precision``, ``recall``, ``f1``,
        ``accuracy`` (``tp / (tp + fp + fn)``, "AP" in Cellpose and the 2018
        Data Science Bowl), ``mean_matched_iou`` (mean score of the matched
        pairs), ``panoptic_quality``, ``n_true``, ``n_pred`` and
        ``sum_matched_score`` (sum of the scores of the matched pairs). With
        no object in either image, precision, recall, f1, accuracy,
        mean_matched_iou and panoptic_quality are 1; otherwise they are 0
        when nothing matches.

    Raises
    ------
    MetricInputError
        If the images are not integer arrays of one shape with values >= 0,
        or a threshold or the criterion is invalid.

    See Also
    --------
    evaluate_image : the same rows plus SEG, AJI and the DSB score.
    pool : pooled counts over several images.

    Examples
    --------
    A 4x4 square shifted by one column: intersection 12, union 20.

    >>> import numpy as np
    >>> gt = np.zeros((8, 8), np.uint16)
    >>> gt[2:6, 2:6] = 1
    >>> pred = np.roll(gt, 1, axis=1) * 5
    >>> rows = match(gt, pred, thresholds=(0.5, 0.75))
    >>> [(r["threshold"], r["tp"], r["fp"], r["fn"]) for r in rows]
    [(0.5, 1, 0, 0), (0.75, 0, 1, 1)]
    >>> rows[0]["mean_matched_iou"]
    0.6
    >>> match(gt, pred, 0.75, criterion="iot")[0]["tp"]
    1
    """
    thresholds = check_thresholds(thresholds)
    check_criterion(criterion)
    return rows_from_table(overlap_table(gt, pred), thresholds, criterion)


def rows_from_table(table: OverlapTable, thresholds: Sequence[float], criterion: str) -> list[dict]:
    """The rows of :func:`match` from an overlap table (arguments already checked).

    Parameters
    ----------
    table : OverlapTable
        Areas and intersections of the two images.
    thresholds : sequence of float
        Valid, distinct thresholds in (0, 1].
    criterion : {"iou", "iot", "iop"}
        Score of a pair.

    Returns
    -------
    list of dict
        One row per threshold, as :func:`match` returns.
    """
    scores = table.scores(criterion)
    rows = []
    for threshold in thresholds:
        matched = optimal_matches(
            table.pair_true, table.pair_pred, scores, table.n_true, table.n_pred, threshold
        )
        rows.append(
            score_row(
                threshold,
                criterion,
                tp=int(np.count_nonzero(matched)),
                n_true=table.n_true,
                n_pred=table.n_pred,
                sum_matched_score=float(scores[matched].sum()),
            )
        )
    return rows
