"""Rank keys: ``metric@threshold`` (``f1@0.5``) or a summary metric (``dsb``)."""

from __future__ import annotations

from ..errors import did_you_mean

#: metrics that take a threshold (``f1@0.5``), with their aliases
THRESHOLD_METRICS = {
    "f1": "f1",
    "precision": "precision",
    "recall": "recall",
    "accuracy": "accuracy",
    "ap": "accuracy",
    "pq": "panoptic_quality",
    "panoptic_quality": "panoptic_quality",
    "mean_matched_iou": "mean_matched_iou",
}
#: dataset-level metrics without a threshold
SUMMARY_METRICS = {"seg": "seg", "aji": "aji", "dsb": "dsb_mean_accuracy", "dsb_mean_accuracy": "dsb_mean_accuracy"}


def parse_rank_key(key: str, thresholds: tuple[float, ...]) -> tuple[str, float | None]:
    """Parse ``metric@threshold`` (e.g. ``f1@0.5``, ``ap@0.75``) or a summary
    metric (``seg``, ``aji``, ``dsb``) into ``(column, threshold or None)``.

    Raises ValueError naming the accepted forms.
    """
    metric, _, at = key.partition("@")
    metric = metric.strip().lower()
    if not at:
        if metric in SUMMARY_METRICS:
            return SUMMARY_METRICS[metric], None
        raise ValueError(
            f"cannot rank by {key!r}{did_you_mean(metric, [*SUMMARY_METRICS, *THRESHOLD_METRICS])}; "
            f"use METRIC@THRESHOLD with METRIC in {', '.join(THRESHOLD_METRICS)} (e.g. f1@0.5), "
            f"or one of {', '.join(SUMMARY_METRICS)}"
        )
    if metric not in THRESHOLD_METRICS:
        raise ValueError(
            f"cannot rank by {key!r}: unknown metric {metric!r}{did_you_mean(metric, THRESHOLD_METRICS)}; "
            f"use one of {', '.join(THRESHOLD_METRICS)}"
        )
    try:
        threshold = float(at)
    except ValueError:
        raise ValueError(f"cannot rank by {key!r}: {at!r} is not a number") from None
    if not any(abs(threshold - t) < 1e-9 for t in thresholds):
        raise ValueError(
            f"cannot rank by {key!r}: {threshold} is not among metrics.iou_thresholds "
            f"{list(thresholds)}; add it there or rank at one of those"
        )
    return THRESHOLD_METRICS[metric], threshold


