"""Paired resampling of a dataset's test images: which differences are real.

All variants of one dataset are scored on the same images, so their scores are
resampled together: each bootstrap replicate draws the images with
replacement once and pools every variant's counts over that draw (as
challengeR does for biomedical challenges). From the replicates:

- :func:`rank_intervals`: each variant's 95% rank interval, the 2.5% and
  97.5% quantiles of its rank over the replicates;
- :func:`decisive_pairs`: a pair is *decisive* when the 95% percentile
  interval of its pooled-metric difference excludes 0.

Replicates are given as image multiplicities (a weight matrix, one row per
replicate, one column per image), so one function pools any draw, the data as
it is (all ones), a bootstrap draw, or a split into halves
(:func:`half_weights`).

Ties: scores are compared at the precision the tables show
(:data:`TIE_DIGITS` decimals).
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from .results import Col, RankKey

__all__ = [
    "LEVEL",
    "N_BOOT",
    "TIE_DIGITS",
    "bootstrap_weights",
    "decisive_pairs",
    "half_weights",
    "metric_of_sums",
    "parts_of",
    "percentile_interval",
    "pooled_metric",
    "pooled_values",
    "rank_intervals",
    "shown",
]

#: digits at which two scores count as tied (what the tables show)
TIE_DIGITS = 3
#: coverage of every interval (rank intervals, decisive differences, CIs)
LEVEL = 0.95
#: bootstrap replicates behind every interval (leaderboards, agreement)
N_BOOT = 1000


def shown(values: np.ndarray) -> np.ndarray:
    """Scores at the precision the tables show (equal there = tied)."""
    return np.round(np.asarray(values, dtype=float), TIE_DIGITS)


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of the finite ``values`` (NaN, NaN when none)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def _rng(seed: int, name: str | None) -> np.random.Generator:
    """The generator of a dataset's draws: ``seed`` alone, or with ``name``
    mixed in so that two datasets' replicates are independent."""
    return np.random.default_rng(seed if name is None else [seed, zlib.crc32(name.encode())])


def bootstrap_weights(n_images: int, n_boot: int, seed: int = 0, name: str | None = None) -> np.ndarray:
    """Image multiplicities of ``n_boot`` bootstrap replicates.

    Returns
    -------
    ndarray, shape (n_boot, n_images)
        How often each image is drawn in each replicate (rows sum to
        ``n_images``). Replicate ``k`` draws
        ``default_rng(seed).integers(0, n_images, (n_boot, n_images))[k]``
        (with ``name``: the generator seeded ``[seed, crc32(name)]``).
    """
    draws = _rng(seed, name).integers(0, max(n_images, 1), size=(n_boot, n_images))
    counts = np.zeros((n_boot, n_images))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n_images), draws.ravel()), 1)
    return counts


def half_weights(n_images: int, n_splits: int, seed: int = 0, name: str | None = None) -> np.ndarray:
    """Random splits of the images into two halves.

    Returns
    -------
    ndarray, shape (n_splits, 2, n_images)
        ``[k, 0]`` marks (1) the first ``n_images // 2`` images of the ``k``-th
        random permutation, ``[k, 1]`` the rest; every image is in exactly one
        half of each split.
    """
    rng = _rng(seed, name)
    out = np.zeros((n_splits, 2, n_images))
    for k in range(n_splits):
        first = rng.permutation(n_images)[: n_images // 2]
        out[k, 0, first] = 1
    out[:, 1] = 1 - out[:, 0]
    return out


def pooled_metric(name: str, tp, n_true, n_pred, matched) -> np.ndarray:
    """A thresholded metric from pooled counts, with the conventions of
    :func:`segbench.metrics.match` (1 with no object on either side, 0 with no TP)."""
    fp, fn = n_pred - tp, n_true - tp
    safe = np.maximum(tp, 1e-300)
    value = {
        "f1": lambda: 2 * tp / np.maximum(2 * tp + fp + fn, 1e-300),
        "ap": lambda: tp / np.maximum(tp + fp + fn, 1e-300),
        "precision": lambda: tp / np.maximum(n_pred, 1e-300),
        "recall": lambda: tp / np.maximum(n_true, 1e-300),
        "pq": lambda: matched / np.maximum(tp + fp / 2 + fn / 2, 1e-300),
        "miou": lambda: matched / safe,
    }[name]()
    value = np.where(tp == 0, 0.0, value)
    return np.where((n_true == 0) & (n_pred == 0), 1.0, value)


#: the per-image parts each kind of metric is pooled from
_PARTS = {
    "threshold": (Col.TP, Col.N_TRUE, Col.N_PRED, Col.SUM_MATCHED_SCORE),
    "dsb": (Col.DSB,),
    "seg": (Col.SEG_SUM, Col.SEG_N),
    "aji": (Col.AJI_INTERSECTION, Col.AJI_UNION),
}


def pooled_values(
    frame: pd.DataFrame, key: RankKey, weights: np.ndarray, by: str, images: list | None = None
) -> tuple[list, np.ndarray]:
    """The metric of each variant of one dataset under each row of ``weights``.

    Parameters
    ----------
    frame : DataFrame
        One dataset's rows at ``key.threshold`` (one row per variant and
        image; any one per image for a summary metric).
    key : RankKey
        The metric.
    weights : ndarray, shape (m, n_images)
        Image multiplicities, columns in the order of ``images``.
    by : str
        The column naming a variant.
    images : list, optional
        The image names of the columns of ``weights``; by default the
        images of ``frame`` in order of appearance.

    Returns
    -------
    ids : list
        The variants, in order of appearance.
    values : ndarray, shape (m, len(ids))
        NaN where a replicate draws no image the variant has a result for
        (a failed cell adds nothing to a variant).
    """
    columns = parts_of(key)
    ids = list(pd.unique(frame[by]))
    images = list(pd.unique(frame[Col.IMAGE])) if images is None else list(images)
    grid = pd.MultiIndex.from_product([ids, images])
    table = frame.set_index([by, Col.IMAGE])[list(columns)].astype(float).reindex(grid)
    present = table[columns[0]].notna().to_numpy().reshape(len(ids), len(images)).astype(float)
    parts = table.fillna(0.0).to_numpy().reshape(len(ids), len(images), len(columns))
    return ids, metric_of_sums(key, np.einsum("ri,vik->rvk", weights, parts), weights @ present.T)


def parts_of(key: RankKey) -> tuple[str, ...]:
    """The per-image columns the metric ``key`` is pooled from."""
    return _PARTS["threshold" if key.metric.at_threshold else key.metric.name]


def metric_of_sums(key: RankKey, sums: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """The pooled metric from its parts summed over drawn images.

    Parameters
    ----------
    sums : ndarray, shape (..., len(parts_of(key)))
        The weighted sums of the parts.
    drawn : ndarray, shape (...)
        How many drawn images had a result (the metric is NaN where none did).
    """
    name = key.metric.name
    s = [sums[..., j] for j in range(sums.shape[-1])]
    with np.errstate(divide="ignore", invalid="ignore"):
        if key.metric.at_threshold:
            values = pooled_metric(name, *s)
        elif name == "dsb":
            values = s[0] / drawn
        elif name == "seg":
            values = np.where(s[1] > 0, s[0] / s[1], np.nan)
        else:  # aji
            values = np.where(s[1] > 0, s[0] / s[1], 1.0)
    return np.where(drawn > 0, values, np.nan)


def _ranks(values: np.ndarray) -> np.ndarray:
    """Competition ranks (1 = best, ties share the best rank) of each row of
    ``values`` (m, n) at the shown precision; NaN ranks last."""
    v = np.where(np.isnan(values), -np.inf, shown(values))
    return 1 + (v[:, None, :] > v[:, :, None]).sum(axis=2)


def rank_intervals(resampled: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Each variant's rank interval over bootstrap replicates.

    Parameters
    ----------
    resampled : ndarray, shape (n_boot, n)
        The variants' scores in each replicate (higher is better).

    Returns
    -------
    low, high : ndarray of int, shape (n,)
        The ``(1 - level) / 2`` quantile of the variant's competition rank
        (rounded down to a rank that occurs) and the ``(1 + level) / 2``
        quantile (rounded up); ``(0, 0)`` without replicates.

    Examples
    --------
    >>> low, high = rank_intervals(np.array([[0.9, 0.8], [0.7, 0.8], [0.9, 0.1]]))
    >>> low.tolist(), high.tolist()
    ([1, 1], [2, 2])
    """
    if not len(resampled):
        n = resampled.shape[1]
        return np.zeros(n, int), np.zeros(n, int)
    ranks = _ranks(resampled)
    alpha = (1 - level) / 2
    low = np.quantile(ranks, alpha, axis=0, method="lower")
    high = np.quantile(ranks, 1 - alpha, axis=0, method="higher")
    return low.astype(int), high.astype(int)


def decisive_pairs(resampled: np.ndarray, level: float = LEVEL) -> np.ndarray:
    """Which variants are told apart: the sign of each decisive difference.

    Parameters
    ----------
    resampled : ndarray, shape (n_boot, n)
        The variants' scores in each paired replicate (higher is better).

    Returns
    -------
    ndarray of int, shape (n, n)
        ``[i, j]`` is +1 when the percentile interval of ``score_i -
        score_j`` over the replicates lies above 0 (``i`` decisively
        better), -1 when it lies below 0, and 0 otherwise (a tie within
        noise, a NaN score, or no replicates). Antisymmetric.

    Examples
    --------
    >>> decisive_pairs(np.array([[0.9, 0.5, 0.6], [0.8, 0.6, 0.5], [0.7, 0.5, 0.5]])).tolist()
    [[0, 1, 1], [-1, 0, 0], [-1, 0, 0]]
    """
    n = resampled.shape[1]
    if not len(resampled):
        return np.zeros((n, n), int)
    diff = resampled[:, :, None] - resampled[:, None, :]
    alpha = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        low, high = np.quantile(diff, [alpha, 1 - alpha], axis=0)
    sign = np.where(low > 0, 1, np.where(high < 0, -1, 0))
    sign[np.isnan(low) | np.isnan(high)] = 0
    np.fill_diagonal(sign, 0)
    return sign.astype(int)
