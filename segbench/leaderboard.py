"""Leaderboards from a results table.

One leaderboard per dataset; one row per segmenter variant (a segmenter config
with one post-processing setting). Scores are pooled over the dataset's test
images (counts summed, then the ratio), as StarDist's ``matching_dataset``
does, at every threshold stored in the results, so a leaderboard can rank by
any metric at any of them (:func:`segbench.results.parse_metric_key`). The
interval of the ranking metric is a percentile bootstrap over images.

Ranking: by the rank metric as shown (3 decimals); rows that tie there are
ordered by the next score column of the table (:meth:`Leaderboard.score_keys`),
and so on, and marked: :attr:`Leaderboard.ties` says which rows tied and what
ordered them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Collection

import numpy as np
import pandas as pd

from .metrics import error_profile, pool, summarize
from .paired import (
    LEVEL,
    N_BOOT,
    TIE_DIGITS,
    bootstrap_weights,
    decisive_pairs,
    metric_of_sums,
    parts_of,
    percentile_interval,
    pooled_values,
    rank_intervals,
)
from .results import ERROR_COLUMNS, METRICS, POOL_COLUMNS, SUMMARY_COLUMNS, Col, RankKey, metric_key, parse_metric_key

__all__ = [
    "Leaderboard",
    "Tie",
    "bootstrap_ci",
    "bootstrap_f1",
    "build_leaderboards",
    "pooled_by_threshold",
    "short_labels",
    "stored_thresholds",
]

#: the metrics pooled at every stored threshold
THRESHOLD_METRICS = tuple(m for m in METRICS.values() if m.at_threshold)
SUMMARY_METRICS = tuple(m for m in METRICS.values() if not m.at_threshold)
#: how the variant fails (segbench.metrics.errors), key -> header: fractions of the true
#: objects merged, split and missed, and of the predictions spurious; last in the wide table
ERROR_FRACTIONS = {"merged": "merged %", "split": "split %", "missed": "missed %", "spurious": "spurious %"}


@dataclass(frozen=True)
class Tie:
    """Rows ``first..last`` (ranks) tie on the rank metric at ``value`` (as shown)
    and were ordered by the metrics ``by`` (keys; empty when all shown scores tie)."""

    first: int
    last: int
    value: float
    by: tuple[str, ...]


@dataclass
class Leaderboard:
    """The ranked rows of one dataset.

    ``rows`` are dicts with ``rank``, ``label`` (short: the segmenter and only
    the parameters that vary among its rows), ``variant`` (the full label),
    ``segmenter``, ``params``, ``n_images``, every metric key at every stored
    threshold (``f1@0.6``, ``ap@0.75``, ...), ``dsb``, ``seg``, ``aji``,
    ``ci`` (the bootstrap interval of the rank metric), ``rank_ci`` (the
    row's 95% rank interval, ``(low, high)``), ``decisive`` (True when the
    winner is decisively better than this row; False for the winner itself),
    ``tie`` (True when the row tied on the rank metric), ``seconds_per_image``,
    ``train_seconds``, and how it fails (:data:`ERROR_FRACTIONS`: ``merged``,
    ``split``, ``missed``, ``spurious``; None for results scored before
    segbench stored error counts). Intervals and decisive differences come from one
    paired bootstrap over the dataset's images (:mod:`segbench.paired`).
    """

    dataset: str
    rank_by: RankKey
    thresholds: tuple[float, ...]
    rows: list[dict[str, Any]]
    ties: list[Tie] = field(default_factory=list)

    def score_keys(self) -> list[str]:
        """The score columns of the table, in order: the rank metric first, then
        F1 at the lowest shown threshold, AP at each shown threshold, DSB AP,
        PQ, SEG. Ties are broken in this order."""
        low = self.thresholds[0] if self.thresholds else 0.5
        keys = [
            self.rank_by.key,
            metric_key("f1", low),
            *(metric_key("ap", t) for t in self.thresholds),
            "dsb",
            metric_key("pq", low),
            "seg",
        ]
        return list(dict.fromkeys(keys))

    def columns(self) -> list[tuple[str, str]]:
        """(key, header) of every column, in the order of the wide table."""
        score = [(k, header(k)) for k in self.score_keys()]
        return [
            ("rank", "#"),
            ("label", "segmenter"),
            score[0],
            ("ci", "95% CI"),
            ("rank_ci", "rank 95%"),
            *score[1:],
            ("seconds_per_image", "s/image"),
            ("train_seconds", "train s"),
            ("n_images", "images"),
            *(((key, head) for key, head in ERROR_FRACTIONS.items()) if self.has_error_profile() else ()),
        ]

    def has_error_profile(self) -> bool:
        """Whether any row has error fractions (results scored with error counts)."""
        return any(row.get("merged") is not None for row in self.rows)

    def as_records(self) -> list[dict[str, Any]]:
        """One flat dict per row (CSV/JSON): the table's columns, the full
        variant and segmenter, the interval as ``ci_low``/``ci_high``."""
        records = []
        for row in self.rows:
            record = {"rank": row["rank"], "variant": row["variant"], "segmenter": row["segmenter"]}
            for key, _ in self.columns():
                if key in ("rank", "label"):
                    continue
                if key == "ci":
                    record["ci_low"], record["ci_high"] = row["ci"]
                elif key == "rank_ci":
                    record["rank_low"], record["rank_high"] = row["rank_ci"]
                else:
                    record[key] = row.get(key)
            record["tie"] = row["tie"]
            record["decisive"] = row["decisive"]
            records.append(record)
        return records

    def tie_notes(self, hidden: Collection[str] = ()) -> list[str]:
        """One line per tie: ``ranks 1-3 tie at F1@0.5 = 1.000; ordered by DSB AP``;
        a column among ``hidden`` (keys of columns a narrow table leaves out)
        is marked ``(not shown)``."""
        notes = []
        for tie in self.ties:
            by = ", then ".join(header(k) + (" (not shown)" if k in hidden else "") for k in tie.by)
            by = by or "the unrounded score, then name (every shown score ties)"
            notes.append(
                f"= ranks {tie.first}-{tie.last} tie at {self.rank_by.header} = "
                f"{tie.value:.{TIE_DIGITS}f}; ordered by {by}"
            )
        return notes

    def uncertainty_notes(self) -> list[str]:
        """One line naming the rows the winner is not decisively better than
        (a 95% paired bootstrap interval of the difference that includes 0)."""
        if len(self.rows) < 2:
            return []
        close = [row["label"] for row in self.rows[1:] if not row["decisive"]]
        if not close:
            return [f"rank 95%: paired bootstrap over images; {self.rows[0]['label']} is decisively best"]
        return [
            f"rank 95%: paired bootstrap over images; not told apart from the winner: {', '.join(close)}"
        ]


def header(key: str) -> str:
    """The column header of a metric key (``ap@0.75 -> AP@0.75``)."""
    return parse_metric_key(key).header


def stored_thresholds(results: pd.DataFrame) -> tuple[float, ...]:
    """The distinct thresholds of a results table, ascending."""
    if Col.THRESHOLD not in results:
        return ()
    return tuple(sorted({round(float(t), 6) for t in results[Col.THRESHOLD].unique()}))


def bootstrap_ci(
    images: pd.DataFrame, key: RankKey, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL
) -> tuple[float, float]:
    """Percentile bootstrap interval of a pooled metric over images.

    Parameters
    ----------
    images : DataFrame
        One variant's results rows at ``key.threshold`` (any row per image for
        a summary metric); one row per image.
    key : RankKey
        The metric.
    n_boot : int
        Resamples (images drawn with replacement, :func:`~segbench.paired.bootstrap_weights`).
    seed : int
        Seed of the resampling, so reports are reproducible.

    Returns
    -------
    (low, high) : tuple of float
        NaN when there are no images.
    """
    if len(images) == 0:
        return float("nan"), float("nan")
    weights = bootstrap_weights(len(images), n_boot, seed)
    parts = images[list(parts_of(key))].to_numpy(dtype=float)  # one row per image: plain numpy, no reindexing
    present = ~np.isnan(parts[:, 0])  # as pooled_values counts a row with no result
    sums = weights @ np.nan_to_num(parts)
    return percentile_interval(metric_of_sums(key, sums, weights @ present), level)


def bootstrap_f1(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL
) -> tuple[float, float]:
    """Percentile bootstrap interval of pooled F1 over images, from per-image
    counts at one threshold (shape ``(n_images,)`` each); see :func:`bootstrap_ci`."""
    frame = pd.DataFrame({Col.TP: tp, Col.N_TRUE: tp + fn, Col.N_PRED: tp + fp, Col.SUM_MATCHED_SCORE: 0.0})
    return bootstrap_ci(frame, parse_metric_key("f1@0.5"), n_boot, seed, level)


def pooled_by_threshold(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Pooled scores (see :func:`segbench.metrics.pool`) of one variant's rows,
    one dict per threshold, in increasing threshold order."""
    return sorted(pool(frame[list(POOL_COLUMNS)].to_dict("records")), key=lambda r: r[Col.THRESHOLD])


def _variant_row(frame: pd.DataFrame, rank_by: RankKey) -> dict[str, Any]:
    """Pooled scores of one variant on one dataset."""
    images = frame.drop_duplicates(Col.IMAGE)
    row: dict[str, Any] = {
        "segmenter": frame[Col.SEGMENTER].iloc[0],
        "variant": frame[Col.VARIANT].iloc[0],
        "params": json.loads(frame[Col.PARAMS].iloc[0]) if Col.PARAMS in frame else {},
        "n_images": int(len(images)),
    }
    for pooled in pooled_by_threshold(frame):
        for metric in THRESHOLD_METRICS:
            row[metric_key(metric.name, pooled[Col.THRESHOLD])] = pooled[metric.column]
    summary = summarize(images[list(SUMMARY_COLUMNS)].to_dict("records"))
    for metric in SUMMARY_METRICS:
        row[metric.name] = summary[metric.column]
    # The raw pass is shared by a sweep's variants; report it plus this variant's post-processing.
    row["seconds_per_image"] = float((images[Col.PREDICT_SECONDS] + images[Col.POSTPROCESS_SECONDS]).mean())
    train = images[Col.TRAIN_SECONDS].dropna() if Col.TRAIN_SECONDS in images else pd.Series(dtype=float)
    row["train_seconds"] = float(train.iloc[0]) if len(train) else None
    row.update(error_fractions(images))
    return row


def error_fractions(images: pd.DataFrame) -> dict[str, float | None]:
    """The :data:`ERROR_FRACTIONS` of one variant's images (one results row
    each), pooled; None each when an image lacks its error counts (scored
    before they existed)."""
    if any(c not in images for c in ERROR_COLUMNS) or images[list(ERROR_COLUMNS)].isna().any(axis=None):
        return dict.fromkeys(ERROR_FRACTIONS)
    profile = error_profile(images[[*ERROR_COLUMNS, Col.N_TRUE, Col.N_PRED]].to_dict("records"))
    return {key: profile[key] for key in ERROR_FRACTIONS}


def short_labels(rows: list[dict[str, Any]]) -> list[str]:
    """Display labels: each row's segmenter plus only the parameters whose value
    differs among the rows of that segmenter (``cellpose cellprob_threshold=-1``);
    the full variant label where that would not tell two rows apart."""
    by_segmenter: dict[str, list[dict]] = {}
    for row in rows:
        by_segmenter.setdefault(row["segmenter"], []).append(row["params"])
    labels = []
    for row in rows:
        siblings = by_segmenter[row["segmenter"]]
        varying = [k for k in row["params"] if len({json.dumps(p.get(k), sort_keys=True) for p in siblings}) > 1]
        parts = [row["segmenter"], *(f"{k}={_short(row['params'][k])}" for k in varying)]
        labels.append(" ".join(parts))
    if len(set(labels)) < len(labels):
        return [row["variant"] for row in rows]
    return labels


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def build_leaderboards(results: pd.DataFrame, rank_by: str, thresholds: tuple[float, ...]) -> list[Leaderboard]:
    """One :class:`Leaderboard` per dataset from a results table.

    Parameters
    ----------
    results : DataFrame
        The tidy results (one row per dataset x image x variant x threshold).
    rank_by : str
        A metric key at any threshold stored in ``results`` (``f1@0.6``,
        ``ap@0.75``) or a summary metric (``dsb``, ``seg``, ``aji``).
    thresholds : tuple of float
        The suite's IoU thresholds (the AP columns shown).

    Raises
    ------
    ValueError
        ``rank_by`` is not a metric key, or its threshold is not stored.
    """
    key = parse_metric_key(rank_by, stored_thresholds(results))
    boards = []
    for dataset, frame in results.groupby(Col.DATASET, sort=False):
        rows = [_variant_row(group, key) for _, group in frame.groupby(Col.VARIANT, sort=False)]
        for row, label in zip(rows, short_labels(rows)):
            row["label"] = label
        board = Leaderboard(str(dataset), key, tuple(round(float(t), 6) for t in thresholds), rows)
        _rank(board)
        _paired_uncertainty(board, frame)
        boards.append(board)
    return boards


def _paired_uncertainty(board: Leaderboard, frame: pd.DataFrame) -> None:
    """Set each row's ``ci``, ``rank_ci`` and ``decisive`` from one paired
    bootstrap of the dataset's images (every variant pooled over the same
    draws; seed 0, :data:`N_BOOT` replicates)."""
    key = board.rank_by
    if key.threshold is not None:
        at = frame[np.isclose(frame[Col.THRESHOLD], key.threshold)]
    else:
        at = frame.drop_duplicates([Col.VARIANT, Col.IMAGE])
    images = list(pd.unique(frame[Col.IMAGE]))
    ids, values = pooled_values(at, key, bootstrap_weights(len(images), N_BOOT), by=Col.VARIANT, images=images)
    low, high = rank_intervals(values)
    decisive = decisive_pairs(values)
    column = {variant: i for i, variant in enumerate(ids)}
    winner = column.get(board.rows[0]["variant"]) if board.rows else None
    for row in board.rows:
        i = column.get(row["variant"])
        if i is None:  # no row at the rank threshold
            row["ci"], row["rank_ci"], row["decisive"] = (float("nan"), float("nan")), (0, 0), False
            continue
        row["ci"] = percentile_interval(values[:, i])
        row["rank_ci"] = (int(low[i]), int(high[i]))
        row["decisive"] = bool(winner is not None and decisive[winner, i] == 1)


def _rank(board: Leaderboard) -> None:
    """Sort the rows (ties at the shown precision broken by the next score
    column), number them, and record the ties."""
    keys = board.score_keys()
    rows = board.rows
    rows.sort(key=lambda r: (*(-_shown(r.get(k)) for k in keys), -_num(r.get(keys[0])), r["variant"]))
    for i, row in enumerate(rows, 1):
        row["rank"], row["tie"] = i, False
    start = 0
    while start < len(rows):
        value = _shown(rows[start].get(keys[0]))
        end = start
        while end + 1 < len(rows) and _shown(rows[end + 1].get(keys[0])) == value:
            end += 1
        if end > start:
            by = []
            for a, b in zip(rows[start:end], rows[start + 1:end + 1]):
                differ = next((k for k in keys[1:] if _shown(a.get(k)) != _shown(b.get(k))), None)
                if differ and differ not in by:
                    by.append(differ)
            for row in rows[start:end + 1]:
                row["tie"] = True
            board.ties.append(Tie(start + 1, end + 1, value, tuple(by)))
        start = end + 1


def _shown(value) -> float:
    """A score as the tables show it (rounded), -inf for a missing one."""
    value = _num(value)
    return value if value == float("-inf") else round(value, TIE_DIGITS)


def _num(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return float("-inf")
    return float("-inf") if np.isnan(value) else value
