"""Leaderboards from a results table.

One leaderboard per dataset; one row per segmenter variant (a segmenter config
with one post-processing setting), ranked by the suite's ``rank_by``. Scores
are pooled over the dataset's test images (counts summed, then the ratio), as
StarDist's ``matching_dataset`` does; the F1 interval is a percentile bootstrap
over images.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import pool, summarize
from ..suite import parse_rank_key

__all__ = ["Leaderboard", "build_leaderboards", "bootstrap_f1", "pooled_by_threshold", "COLUMNS"]

#: (key, header) of the columns shown, in order; AP columns are added per threshold
COLUMNS = [
    ("rank", "#"),
    ("variant", "segmenter"),
    ("n_images", "images"),
    ("f1@0.5", "F1@0.5"),
    ("f1@0.5_ci", "95% CI"),
]
TAIL_COLUMNS = [
    ("dsb_mean_accuracy", "DSB AP"),
    ("panoptic_quality@0.5", "PQ@0.5"),
    ("seg", "SEG"),
    ("seconds_per_image", "s/image"),
    ("train_seconds", "train s"),
]


@dataclass
class Leaderboard:
    """The ranked rows of one dataset."""

    dataset: str
    rank_by: str
    thresholds: tuple[float, ...]
    rows: list[dict[str, Any]]

    def columns(self) -> list[tuple[str, str]]:
        ap = [(f"accuracy@{_t(t)}", f"AP@{_t(t)}") for t in self.thresholds]
        return COLUMNS + ap + TAIL_COLUMNS

    def as_records(self) -> list[dict[str, Any]]:
        return [{k: row.get(k) for k, _ in self.columns()} | {"segmenter_label": row["segmenter"]} for row in self.rows]


def _t(threshold: float) -> str:
    return f"{threshold:g}"


def bootstrap_f1(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of pooled F1 over images.

    Parameters
    ----------
    tp, fp, fn : ndarray, shape (n_images,)
        Per-image counts at one threshold.
    n_boot : int
        Resamples (images drawn with replacement).
    seed : int
        Seed of the resampling, so reports are reproducible.

    Returns
    -------
    (low, high) : tuple of float
        NaN when there are no images.
    """
    n = len(tp)
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    stp, sfp, sfn = tp[idx].sum(1), fp[idx].sum(1), fn[idx].sum(1)
    denom = 2 * stp + sfp + sfn
    f1 = np.where(denom > 0, 2 * stp / np.maximum(denom, 1), 1.0)
    alpha = (1 - level) / 2
    low, high = np.quantile(f1, [alpha, 1 - alpha])
    return float(low), float(high)


#: the per-image count columns that pooling sums, and the per-image challenge parts
POOL_COLUMNS = ("threshold", "criterion", "tp", "n_true", "n_pred", "sum_matched_score")
SUMMARY_COLUMNS = ("seg_sum", "seg_n", "aji_intersection", "aji_union", "dsb_mean_accuracy")


def pooled_by_threshold(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Pooled scores (see :func:`segbench.metrics.pool`) of one variant's rows,
    one dict per threshold, in increasing threshold order."""
    return sorted(pool(frame[list(POOL_COLUMNS)].to_dict("records")), key=lambda r: r["threshold"])


def _variant_row(frame: pd.DataFrame) -> dict[str, Any]:
    """Pooled scores of one variant on one dataset."""
    images = frame.drop_duplicates("image")
    row: dict[str, Any] = {
        "segmenter": frame["segmenter"].iloc[0],
        "variant": frame["variant"].iloc[0],
        "params": json.loads(frame["params"].iloc[0]),
        "n_images": int(len(images)),
    }
    for pooled in pooled_by_threshold(frame):
        for key in ("f1", "precision", "recall", "accuracy", "panoptic_quality", "mean_matched_iou"):
            row[f"{key}@{_t(pooled['threshold'])}"] = pooled[key]
    at_half = frame[np.isclose(frame["threshold"], 0.5)]
    if len(at_half):
        row["f1@0.5_ci"] = bootstrap_f1(at_half["tp"].to_numpy(), at_half["fp"].to_numpy(), at_half["fn"].to_numpy())
    summary = summarize(images[list(SUMMARY_COLUMNS)].to_dict("records"))
    row.update(seg=summary["seg"], aji=summary["aji"], dsb_mean_accuracy=summary["dsb_mean_accuracy"])
    # The raw pass is shared by a sweep's variants; report it plus this variant's post-processing.
    row["seconds_per_image"] = float((images["predict_seconds"] + images["postprocess_seconds"]).mean())
    train = images["train_seconds"] if "train_seconds" in images else pd.Series(dtype=float)
    row["train_seconds"] = float(train.iloc[0]) if len(train.dropna()) else None
    return row


def build_leaderboards(results: pd.DataFrame, rank_by: str, thresholds: tuple[float, ...]) -> list[Leaderboard]:
    """One :class:`Leaderboard` per dataset from a results table.

    Parameters
    ----------
    results : DataFrame
        The tidy results (one row per dataset x image x variant x threshold).
    rank_by : str
        ``metric@threshold`` (``f1@0.5``) or a summary metric (``seg``, ``aji``, ``dsb``).
    thresholds : tuple of float
        The suite's IoU thresholds (the AP columns shown).
    """
    column, threshold = parse_rank_key(rank_by, thresholds)
    rank_col = f"{column}@{_t(threshold)}" if threshold is not None else column
    boards = []
    for dataset, frame in results.groupby("dataset", sort=False):
        rows = [_variant_row(group) for _, group in frame.groupby("variant", sort=False)]
        rows.sort(key=lambda r: (-_num(r.get(rank_col)), r["variant"]))
        for i, row in enumerate(rows, 1):
            row["rank"] = i
        boards.append(Leaderboard(str(dataset), rank_by, tuple(thresholds), rows))
    return boards


def _num(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return float("-inf")
    return float("-inf") if np.isnan(value) else value
