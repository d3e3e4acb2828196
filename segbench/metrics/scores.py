"""Per-threshold scores from match counts, with the empty-case conventions.

The same function turns one image's counts (:func:`segbench.metrics.match`)
and a dataset's pooled counts (:func:`segbench.metrics.pool`) into a row, so
both follow the same definitions.
"""

from __future__ import annotations

#: Keys of every row returned by ``match``, ``pool`` and ``evaluate_image``, in order.
ROW_KEYS = (
    "threshold",
    "criterion",
    "tp",
    "fp",
    "fn",
    "precision",
    "recall",
    "f1",
    "accuracy",
    "mean_matched_iou",
    "panoptic_quality",
    "n_true",
    "n_pred",
    "sum_matched_score",
)


def score_row(
    threshold: float,
    criterion: str,
    tp: int,
    n_true: int,
    n_pred: int,
    sum_matched_score: float,
) -> dict:
    """One row of scores from the counts of a matching.

    Parameters
    ----------
    threshold : float
        The threshold the counts were obtained at.
    criterion : str
        The score the threshold applies to ("iou", "iot" or "iop").
    tp : int
        Matched pairs (true positives).
    n_true, n_pred : int
        Ground-truth and predicted objects.
    sum_matched_score : float
        Sum of the scores of the matched pairs.

    Returns
    -------
    dict
        The keys of :data:`ROW_KEYS`, with ``fp = n_pred - tp``,
        ``fn = n_true - tp``, ``precision = tp / n_pred``,
        ``recall = tp / n_true``, ``f1 = 2 tp / (2 tp + fp + fn)``,
        ``accuracy = tp / (tp + fp + fn)``,
        ``mean_matched_iou = sum_matched_score / tp`` and
        ``panoptic_quality = sum_matched_score / (tp + fp / 2 + fn / 2)``.
        With no object on either side all six ratios are 1 (nothing to
        find, nothing wrongly found); otherwise a ratio is 0 when ``tp`` is 0.

    Examples
    --------
    >>> row = score_row(0.5, "iou", tp=2, n_true=3, n_pred=4, sum_matched_score=1.5)
    >>> row["fp"], row["fn"], row["precision"], row["recall"], row["accuracy"]
    (2, 1, 0.5, 0.6666666666666666, 0.4)
    >>> score_row(0.5, "iou", 0, 0, 0, 0.0)["f1"]
    1.0
    """
    fp = n_pred - tp
    fn = n_true - tp
    if n_true == 0 and n_pred == 0:
        precision = recall = f1 = accuracy = mean_matched = quality = 1.0
    elif tp == 0:
        precision = recall = f1 = accuracy = mean_matched = quality = 0.0
    else:
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        f1 = (2 * tp) / (2 * tp + fp + fn)
        accuracy = tp / (tp + fp + fn)
        mean_matched = sum_matched_score / tp
        quality = sum_matched_score / (tp + fp / 2 + fn / 2)
    return {
        "threshold": float(threshold),
        "criterion": criterion,
        "tp": int(tp),
        "fp": int(fp),
        "fn": int(fn),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": accuracy,
        "mean_matched_iou": mean_matched,
        "panoptic_quality": quality,
        "n_true": int(n_true),
        "n_pred": int(n_pred),
        "sum_matched_score": float(sum_matched_score),
    }
