"""Do two datasets rank the segmenters alike? Rank agreement and transfer.

segbench's claim is that generated images rank segmentation methods the way
real images do. This module measures it on a results table (one row per
dataset x image x variant x threshold, see :mod:`segbench.results`):

- :func:`rankings`: each dataset's score of each variant (or, with
  ``level="segmenter"``, of each segmenter's best variant), pooled over its
  images exactly as the leaderboard pools them, plus ``n_boot`` bootstrap
  replicates (images drawn with replacement within the dataset, the same draw
  for every variant of the dataset, seeded per dataset name).
- :func:`compare`: how one dataset tells the truth about a reference: of the
  reference's decisive pairs (:mod:`segbench.paired`), how many it
  keeps, reverses, confirms and contradicts; the pairs tied on the reference
  that it calls decisive (spurious); the calibration error (mean absolute
  score difference, with an interval); Kendall tau-b and Spearman rho with
  percentile bootstrap intervals, beside the reference's own noise ceiling
  (tau-b between random halves of its images); whether both pick the same
  winner, and the largest rank swaps.
- :func:`agreement`: every pair of datasets (or each dataset against one
  ``reference``), plus the transfer matrix.
- :func:`transfer_matrix`: models trained on one dataset and tested on
  another: one score per (segmenter, train dataset, test dataset).
- How the two fail: each dataset's share of true objects merged, split and
  missed, and of predictions spurious (:mod:`segbench.metrics.errors`),
  averaged over the variants both score: where a synthetic dataset ranks
  wrongly, this says which kind of error it makes too rare or too common.

Which rows are compared: a ranking uses the rows whose model was trained on
the dataset it is tested on, or not trained at all (``train_dataset`` is the
dataset or ``""``): the protocol "each method trained on the train split of
the kind of data it is tested on". Rows of models trained elsewhere go to the
transfer matrix. A variant is identified across datasets by its model config
(``config_id``: plugin, constructor params, training settings) and its
post-processing params, not by the suite entry's label, so entries that differ
only in ``train_on`` are the same variant.

Ties: scores are compared at the precision the leaderboard shows
(:data:`segbench.paired.TIE_DIGITS` decimals); equal scores are
ties, which tau-b and the average ranks of rho account for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .errors import did_you_mean
from .io import strict_json
from .leaderboard import ERROR_FRACTIONS, build_leaderboards, error_fractions, short_labels, stored_thresholds
from .paired import (
    N_BOOT,
    bootstrap_weights,
    decisive_pairs,
    half_weights,
    percentile_interval,
    pooled_values,
    shown,
)
from .results import Col, RankKey, parse_metric_key

__all__ = [
    "LEVELS",
    "Agreement",
    "PairAgreement",
    "Ranking",
    "Swap",
    "TransferCell",
    "agreement",
    "compare",
    "kendall_tau_b",
    "rankings",
    "spearman_rho",
    "transfer_matrix",
]

#: ``level`` values: every variant, or each segmenter's best variant
LEVELS = ("variant", "segmenter")
#: swaps listed per pair
N_SWAPS = 3
#: random half splits of the reference's images behind the tau-b ceiling
N_HALVES = 200
_ID = "_variant_id"


@dataclass(frozen=True)
class Ranking:
    """One dataset's scores of its variants (or segmenters).

    Attributes
    ----------
    dataset : str
    names : tuple of str
        Display names, one per variant (or segmenter), unique.
    scores : ndarray, shape (n,)
        The pooled metric over the dataset's images (NaN where undefined).
    resampled : ndarray, shape (n_boot, n)
        The same, for each bootstrap replicate of the images.
    n_images : int
    place : ndarray of int, shape (n,)
        Place on the dataset's leaderboard (0 = first; for a segmenter, its
        best variant's), which breaks ties as the leaderboard does.
    halves : ndarray, shape (n_splits, 2, n)
        The scores on the two halves of each of :data:`N_HALVES` random
        splits of the images (none without bootstrap replicates): the data
        of the noise ceiling of tau-b.
    """

    dataset: str
    names: tuple[str, ...]
    scores: np.ndarray
    resampled: np.ndarray
    n_images: int
    place: np.ndarray
    halves: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 0)))


@dataclass(frozen=True)
class Swap:
    """A variant ranked ``rank_a`` on one dataset and ``rank_b`` on the other
    (competition ranks among the shared variants at the shown precision: ties
    share the best rank); ``tied_a``/``tied_b``: another shared variant has
    the same shown score there."""

    name: str
    rank_a: int
    rank_b: int
    tied_a: bool = False
    tied_b: bool = False

    def text(self) -> str:
        """``3= -> 1``: the ranks, ``=`` marking a tie."""
        return f"{self.rank_a}{'=' if self.tied_a else ''} -> {self.rank_b}{'=' if self.tied_b else ''}"


@dataclass(frozen=True)
class PairAgreement:
    """How dataset ``a`` ranks the ``n`` variants it shares with ``b``, the
    reference (see :mod:`segbench.paired` for "decisive").

    Rank correlation: ``kendall_tau`` is tau-b and ``spearman_rho``
    Spearman's rho of the scores (NaN when either side ties every variant);
    ``*_ci`` their 95% percentile bootstrap intervals. ``tau_ceiling`` is the
    mean tau-b between the two halves of random splits of ``b``'s images
    (``tau_ceiling_ci`` its 2.5-97.5% range over the splits): the agreement
    ``b`` reaches with itself on half the images, the tau a second dataset
    of that kind can be expected to reach.

    Decisive pairs (pairs of shared variants, scores as shown):
    ``decisive_reference`` of them are decisive on ``b``; ``a`` orders
    ``decisive_kept`` the same way and ``decisive_reversed`` the other way
    (the rest tie on ``a``); ``decisive_confirmed`` are decisive on ``a`` in
    the same direction and ``decisive_contradicted`` decisive on ``a`` in
    the opposite one. ``tied_reference`` pairs are not decisive on ``b``;
    ``spurious`` of them are decisive on ``a``. ``reversed_pairs`` lists the
    reversed ones as ``(better on b, worse on b)``, ``spurious_pairs`` the
    spurious ones as ``(better on a, worse on a)``.

    Calibration: ``calibration_mae`` is the mean absolute difference of the
    scores over the shared variants, ``calibration_ci`` its 95% percentile
    interval over paired replicates of both datasets.

    Ranks: ``same_winner`` is True when some variant is best (ties included)
    on both; ``winner_a``/``winner_b`` are the shared variants placed highest
    on each dataset's leaderboard (which breaks ties by its further score
    columns). ``swaps``: the largest rank differences, largest first.
    ``variants``: ``(name, score_a, score_b)`` of every shared variant, in
    ``a``'s order.

    Errors: ``errors_a`` and ``errors_b`` map each kind of
    :data:`segbench.leaderboard.ERROR_FRACTIONS` (``merged``, ``split``,
    ``missed``: fractions of the true objects; ``spurious``: of the
    predictions) to its mean over the ``error_variants`` variants that both
    datasets scored with error counts (empty when none did).
    """

    a: str
    b: str
    n: int
    kendall_tau: float
    kendall_ci: tuple[float, float]
    spearman_rho: float
    spearman_ci: tuple[float, float]
    same_winner: bool
    winner_a: str
    winner_b: str
    swaps: tuple[Swap, ...]
    variants: tuple[tuple[str, float, float], ...]
    decisive_reference: int = 0
    decisive_kept: int = 0
    decisive_reversed: int = 0
    decisive_confirmed: int = 0
    decisive_contradicted: int = 0
    tied_reference: int = 0
    spurious: int = 0
    reversed_pairs: tuple[tuple[str, str], ...] = ()
    spurious_pairs: tuple[tuple[str, str], ...] = ()
    calibration_mae: float = float("nan")
    calibration_ci: tuple[float, float] = (float("nan"), float("nan"))
    tau_ceiling: float = float("nan")
    tau_ceiling_ci: tuple[float, float] = (float("nan"), float("nan"))
    errors_a: dict[str, float] = field(default_factory=dict)
    errors_b: dict[str, float] = field(default_factory=dict)
    error_variants: int = 0


@dataclass(frozen=True)
class TransferCell:
    """The best ``variant`` of ``segmenter`` trained on ``train_dataset`` and
    tested on ``test_dataset`` scores ``value``."""

    segmenter: str
    train_dataset: str
    test_dataset: str
    value: float
    variant: str


@dataclass
class Agreement:
    """Rank agreement of every compared pair of datasets, and the transfer matrix.

    ``unpaired`` lists ``(a, b, n_shared)`` for the pairs that share fewer
    than two variants (nothing to rank).
    """

    metric: RankKey
    level: str
    reference: str | None
    n_boot: int
    seed: int
    pairs: list[PairAgreement] = field(default_factory=list)
    unpaired: list[tuple[str, str, int]] = field(default_factory=list)
    transfer: list[TransferCell] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain Python (NaN where a statistic is undefined): ``metric``, ``level``, ``pairs`` (``a``,
        ``b``, ``n``, ``kendall_tau``, ``kendall_ci``, ``spearman_rho``,
        ``same_winner``, then ``spearman_ci``, ``winner_a``, ``winner_b``,
        ``swaps``, ``variants``), ``reference``, ``n_boot``, ``seed``,
        ``not_compared`` and ``transfer``."""
        pairs = [
            {
                "a": p.a,
                "b": p.b,
                "n": p.n,
                "kendall_tau": p.kendall_tau,
                "kendall_ci": list(p.kendall_ci),
                "spearman_rho": p.spearman_rho,
                "same_winner": p.same_winner,
                "spearman_ci": list(p.spearman_ci),
                "winner_a": p.winner_a,
                "winner_b": p.winner_b,
                "swaps": [
                    {"name": s.name, "rank_a": s.rank_a, "rank_b": s.rank_b, "tied_a": s.tied_a, "tied_b": s.tied_b}
                    for s in p.swaps
                ],
                "variants": [{"name": n, "score_a": sa, "score_b": sb} for n, sa, sb in p.variants],
                "decisive_reference": p.decisive_reference,
                "decisive_kept": p.decisive_kept,
                "decisive_reversed": p.decisive_reversed,
                "decisive_confirmed": p.decisive_confirmed,
                "decisive_contradicted": p.decisive_contradicted,
                "tied_reference": p.tied_reference,
                "spurious": p.spurious,
                "reversed_pairs": [list(pair) for pair in p.reversed_pairs],
                "spurious_pairs": [list(pair) for pair in p.spurious_pairs],
                "calibration_mae": p.calibration_mae,
                "calibration_ci": list(p.calibration_ci),
                "tau_ceiling": p.tau_ceiling,
                "tau_ceiling_ci": list(p.tau_ceiling_ci),
                "errors_a": p.errors_a,
                "errors_b": p.errors_b,
                "error_variants": p.error_variants,
            }
            for p in self.pairs
        ]
        payload = {
            "metric": self.metric.key,
            "level": self.level,
            "pairs": pairs,
            "reference": self.reference,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "not_compared": [{"a": a, "b": b, "n": n} for a, b, n in self.unpaired],
            "transfer": [
                {
                    "segmenter": c.segmenter,
                    "train_dataset": c.train_dataset,
                    "test_dataset": c.test_dataset,
                    "value": c.value,
                    "variant": c.variant,
                }
                for c in self.transfer
            ],
        }
        return payload

    def to_json(self) -> str:
        """Strict JSON of :meth:`as_dict` (NaN becomes null)."""
        return strict_json(self.as_dict())


# ---------------------------------------------------------------------------
# statistics


def kendall_tau_b(x, y):
    """Kendall's tau-b of two score vectors (ties in either counted as ties).

    ``(C - D) / sqrt((n0 - n1) (n0 - n2))``, with ``C``/``D`` the concordant
    and discordant pairs, ``n0 = n (n - 1) / 2`` and ``n1``/``n2`` the pairs
    tied in ``x``/``y``: the same as :func:`scipy.stats.kendalltau`, for many
    vectors at once (the bootstrap replicates).

    Parameters
    ----------
    x, y : array_like, shape (n,) or (m, n)
        Scores of the same ``n`` items; with 2-D input, row ``k`` of ``x`` is
        compared with row ``k`` of ``y``.

    Returns
    -------
    float or ndarray of shape (m,)
        NaN where either vector is constant, has a NaN, or ``n < 2``.

    Examples
    --------
    >>> round(kendall_tau_b([1, 2, 3], [1, 3, 2]), 4)
    0.3333
    >>> round(kendall_tau_b([1, 1, 2], [1, 2, 3]), 4)  # one tie in x: 2 / sqrt(2 * 3)
    0.8165
    """
    x, y, single = _rows(x, y)
    upper = np.triu_indices(x.shape[1], 1)
    dx = np.sign(x[:, :, None] - x[:, None, :])[:, upper[0], upper[1]]
    dy = np.sign(y[:, :, None] - y[:, None, :])[:, upper[0], upper[1]]
    untied = np.sqrt((dx != 0).sum(1) * (dy != 0).sum(1))
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(untied > 0, (dx * dy).sum(1) / untied, np.nan)
    return float(tau[0]) if single else tau


def spearman_rho(x, y):
    """Spearman's rho: the Pearson correlation of the average ranks
    (:func:`scipy.stats.rankdata`), as :func:`scipy.stats.spearmanr`.

    Parameters and returns as :func:`kendall_tau_b`.

    Examples
    --------
    >>> round(spearman_rho([1, 2, 3, 4], [1, 3, 2, 4]), 4)
    0.8
    """
    x, y, single = _rows(x, y)
    rx = stats.rankdata(x, axis=1)
    ry = stats.rankdata(y, axis=1)
    rx = rx - rx.mean(1, keepdims=True)
    ry = ry - ry.mean(1, keepdims=True)
    norm = np.sqrt((rx**2).sum(1) * (ry**2).sum(1))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(norm > 0, (rx * ry).sum(1) / norm, np.nan)
    rho[np.isnan(x).any(1) | np.isnan(y).any(1)] = np.nan
    return float(rho[0]) if single else rho


def _rows(x, y) -> tuple[np.ndarray, np.ndarray, bool]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim not in (1, 2):
        raise ValueError(f"x and y must have the same shape, (n,) or (m, n); got {x.shape} and {y.shape}")
    single = x.ndim == 1
    return np.atleast_2d(x), np.atleast_2d(y), single


# ---------------------------------------------------------------------------
# rankings


def rankings(
    results: pd.DataFrame, metric: str = "f1@0.5", level: str = "variant", n_boot: int = N_BOOT, seed: int = 0
) -> dict[str, Ranking]:
    """Each dataset's :class:`Ranking` of its in-domain variants.

    Parameters
    ----------
    results : DataFrame
        The results table.
    metric : str
        A metric key at a stored threshold (``f1@0.5``, ``ap@0.75``) or a
        summary metric (``dsb``, ``seg``, ``aji``); higher is better.
    level : {"variant", "segmenter"}
        Score every variant, or each segmenter (plugin) by its best variant
        on that dataset (chosen again in every bootstrap replicate).
    n_boot : int
        Bootstrap replicates (0 for none).
    seed : int
        Seed of the replicates; a dataset's draw depends only on ``seed``,
        its name and its number of images, so it is the same in every pair.

    Returns
    -------
    dict
        Dataset name -> Ranking, in the order the datasets appear.

    Raises
    ------
    ValueError
        Unknown ``metric`` or ``level`` (one line, with the accepted values).
    """
    key = _key(metric, results)
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}{did_you_mean(level, LEVELS)}; use one of {', '.join(LEVELS)}")
    domain = _in_domain(results)
    rows = _rows_at(domain, key)
    names = _display_names(rows)
    out: dict[str, Ranking] = {}
    for dataset, frame in rows.groupby(Col.DATASET, sort=False):
        images = list(pd.unique(frame[Col.IMAGE]))
        n_images = len(images)
        weights = np.vstack([
            np.ones((1, n_images)),
            bootstrap_weights(n_images, n_boot, seed, str(dataset)),
            half_weights(n_images, N_HALVES if n_boot else 0, seed, f"{dataset}:halves").reshape(-1, n_images),
        ])
        ids, values = pooled_values(frame, key, weights, by=_ID, images=images)
        place = _leaderboard_places(domain[domain[Col.DATASET] == dataset], key, ids)
        if level == "segmenter":
            plugin = frame.drop_duplicates(_ID).set_index(_ID).loc[ids, Col.SEGMENTER_NAME].to_numpy()
            groups = list(pd.unique(plugin))
            values = np.stack([_nanmax(values[:, plugin == g]) for g in groups], axis=1)
            place = np.array([place[plugin == g].min() for g in groups])
            labels = tuple(str(g) for g in groups)
        else:
            labels = tuple(names[i] for i in ids)
        boot, halves = values[1 : 1 + n_boot], values[1 + n_boot :].reshape(-1, 2, len(labels))
        out[str(dataset)] = Ranking(str(dataset), labels, values[0], boot, int(n_images), place, halves)
    return out


def _key(metric: str, results: pd.DataFrame) -> RankKey:
    return parse_metric_key(metric, stored_thresholds(results))


def _in_domain(results: pd.DataFrame) -> pd.DataFrame:
    """Rows of untrained models and of models trained on the dataset they are
    tested on, with the variant id column; where two suite entries give one
    variant id on one dataset, only the first entry's rows."""
    frame = results.copy()
    trained_on = _train_dataset(frame)
    frame = _with_variant_id(frame[(trained_on == "") | (trained_on == frame[Col.DATASET])])
    # Two suite entries with one config on one dataset (e.g. train_on: itself): keep the first.
    first = frame.groupby([Col.DATASET, _ID], sort=False)[Col.VARIANT].transform("first")
    return frame[frame[Col.VARIANT] == first]


def _with_variant_id(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the column ``_ID``: what identifies a variant across
    datasets, its model config and its post-processing params."""
    return frame.assign(**{_ID: frame[Col.CONFIG_ID].astype(str) + "|" + frame[Col.PARAMS].astype(str)})


def _leaderboard_places(frame: pd.DataFrame, key: RankKey, ids: list[str]) -> np.ndarray:
    """Each variant's place (0 = first) on the dataset's leaderboard ranked by
    ``key``, whose ties are broken by the leaderboard's further score columns."""
    board = build_leaderboards(frame, key.key, stored_thresholds(frame))[0]
    id_of = dict(zip(frame[Col.VARIANT], frame[_ID]))
    place = {id_of[row["variant"]]: i for i, row in enumerate(board.rows)}
    return np.array([place[i] for i in ids])


def _train_dataset(frame: pd.DataFrame) -> pd.Series:
    if Col.TRAIN_DATASET not in frame:
        return pd.Series("", index=frame.index)
    return frame[Col.TRAIN_DATASET].fillna("").astype(str)


def _rows_at(frame: pd.DataFrame, key: RankKey) -> pd.DataFrame:
    """The rows the metric is pooled from: those at its threshold, or one per
    (variant, image) for a summary metric."""
    if key.threshold is not None:
        return frame[np.isclose(frame[Col.THRESHOLD].astype(float), key.threshold)]
    return frame.drop_duplicates([Col.DATASET, _ID, Col.IMAGE])


def _display_names(rows: pd.DataFrame) -> dict[str, str]:
    """Variant id -> a short unique name: the plugin plus the params that vary
    among its variants (:func:`~segbench.leaderboard.short_labels`)."""
    first = rows.drop_duplicates(_ID)
    entries = [
        {"segmenter": str(r[Col.SEGMENTER_NAME]), "params": json.loads(r[Col.PARAMS] or "{}"), "variant": str(r[Col.VARIANT])}
        for _, r in first.iterrows()
    ]
    labels = short_labels(entries)
    if len(set(labels)) < len(labels):  # same params, other training settings: keep the suite labels apart
        labels = [f"{label} [{cid}]" for label, cid in zip(labels, first[Col.CONFIG_ID])]
    return dict(zip(first[_ID], labels))


def _nanmax(values: np.ndarray) -> np.ndarray:
    """Row-wise max ignoring NaN (NaN where a row is all NaN)."""
    return np.fmax.reduce(values, axis=1)


# ---------------------------------------------------------------------------
# pairs


def compare(a: Ranking, b: Ranking) -> PairAgreement:
    """Agreement of two rankings over the names they share with a score on both.

    Raises
    ------
    ValueError
        Fewer than two shared names.
    """
    shared = [n for n in a.names if n in b.names]
    ia = np.array([a.names.index(n) for n in shared], dtype=int)
    ib = np.array([b.names.index(n) for n in shared], dtype=int)
    finite = np.isfinite(a.scores[ia]) & np.isfinite(b.scores[ib]) if len(shared) else np.array([], bool)
    shared = [n for n, ok in zip(shared, finite) if ok]
    ia, ib = ia[finite], ib[finite]
    if len(shared) < 2:
        raise ValueError(f"{a.dataset} and {b.dataset} share {len(shared)} scored variant(s); at least 2 are needed")
    sa, sb = shown(a.scores[ia]), shown(b.scores[ib])
    n_boot = min(len(a.resampled), len(b.resampled))
    boot_a, boot_b = shown(a.resampled[:n_boot, ia]), shown(b.resampled[:n_boot, ib])
    taus, rhos = kendall_tau_b(boot_a, boot_b), spearman_rho(boot_a, boot_b)
    rank_a = stats.rankdata(-sa, method="min").astype(int)
    rank_b = stats.rankdata(-sb, method="min").astype(int)
    order = sorted(range(len(shared)), key=lambda i: (-abs(rank_a[i] - rank_b[i]), rank_a[i], shared[i]))
    tied_a, tied_b = _tied(sa), _tied(sb)
    swaps = tuple(
        Swap(shared[i], int(rank_a[i]), int(rank_b[i]), bool(tied_a[i]), bool(tied_b[i]))
        for i in order
        if rank_a[i] != rank_b[i]
    )
    ceiling = kendall_tau_b(shown(b.halves[:, 0, ib]), shown(b.halves[:, 1, ib])) if len(b.halves) else np.zeros(0)
    calibration = _row_means(np.abs(a.resampled[:n_boot, ia] - b.resampled[:n_boot, ib]))
    return PairAgreement(
        a=a.dataset,
        b=b.dataset,
        n=len(shared),
        kendall_tau=kendall_tau_b(sa, sb),
        kendall_ci=percentile_interval(taus),
        spearman_rho=spearman_rho(sa, sb),
        spearman_ci=percentile_interval(rhos),
        same_winner=bool(np.any((rank_a == 1) & (rank_b == 1))),
        winner_a=shared[int(np.argmin(a.place[ia]))],
        winner_b=shared[int(np.argmin(b.place[ib]))],
        swaps=swaps[:N_SWAPS],
        variants=tuple((n, float(x), float(y)) for n, x, y in zip(shared, a.scores[ia], b.scores[ib])),
        **_decisive_counts(shared, sa, decisive_pairs(a.resampled[:, ia]), decisive_pairs(b.resampled[:, ib])),
        calibration_mae=float(np.mean(np.abs(a.scores[ia] - b.scores[ib]))),
        calibration_ci=percentile_interval(np.asarray(calibration)),
        tau_ceiling=_finite_mean(ceiling),
        tau_ceiling_ci=percentile_interval(ceiling),
    )


def _finite_mean(values) -> float:
    """Mean of the finite values (a sequence or array); NaN when there is none."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _tied(scores: np.ndarray) -> np.ndarray:
    """For each score, whether another one equals it."""
    return (scores[:, None] == scores[None, :]).sum(1) > 1


def _row_means(values: np.ndarray) -> np.ndarray:
    """Mean of the finite entries of each row of ``values`` (m, n); NaN for a row with none."""
    finite = np.isfinite(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(finite, values, 0).sum(1) / finite.sum(1)


def _decisive_counts(names: list[str], shown_a: np.ndarray, decisive_a: np.ndarray, decisive_b: np.ndarray) -> dict:
    """The decisive-pair fields of :class:`PairAgreement` for the shared
    variants ``names``: ``shown_a`` their scores on ``a`` as shown,
    ``decisive_a``/``decisive_b`` the signs of :func:`~segbench.paired.decisive_pairs`."""
    counts = dict.fromkeys(
        ("decisive_reference", "decisive_kept", "decisive_reversed", "decisive_confirmed",
         "decisive_contradicted", "tied_reference", "spurious"), 0
    )
    reversed_pairs, spurious_pairs = [], []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            on_b, on_a, order_a = decisive_b[i, j], decisive_a[i, j], np.sign(shown_a[i] - shown_a[j])
            if on_b == 0:
                counts["tied_reference"] += 1
                if on_a != 0:
                    counts["spurious"] += 1
                    spurious_pairs.append((names[i], names[j]) if on_a > 0 else (names[j], names[i]))
                continue
            better, worse = (names[i], names[j]) if on_b > 0 else (names[j], names[i])
            counts["decisive_reference"] += 1
            counts["decisive_kept"] += int(order_a == on_b)
            counts["decisive_confirmed"] += int(on_a == on_b)
            counts["decisive_contradicted"] += int(on_a == -on_b)
            if order_a == -on_b:
                counts["decisive_reversed"] += 1
                reversed_pairs.append((better, worse))
    return {**counts, "reversed_pairs": tuple(reversed_pairs), "spurious_pairs": tuple(spurious_pairs)}


def agreement(
    results: pd.DataFrame,
    metric: str = "f1@0.5",
    level: str = "variant",
    reference: str | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Agreement:
    """Rank agreement between the datasets of a results table, and the transfer matrix.

    Parameters
    ----------
    results : DataFrame
        The results table (``results.parquet``).
    metric, level, n_boot, seed
        As in :func:`rankings`.
    reference : str, optional
        Compare every other dataset against this one only (``a`` = the other
        dataset, ``b`` = the reference); by default every pair, in the order
        the datasets appear.

    Returns
    -------
    Agreement
        Pairs sharing fewer than two variants are listed in ``unpaired``.

    Raises
    ------
    ValueError
        Unknown metric, level or reference dataset (one line).
    """
    ranks = rankings(results, metric, level, n_boot, seed)
    datasets = [str(d) for d in pd.unique(results[Col.DATASET])]
    if reference is not None and reference not in datasets:
        raise ValueError(
            f"reference dataset {reference!r} is not in the results{did_you_mean(reference, datasets)}; "
            f"datasets: {', '.join(datasets)}"
        )
    if reference is None:
        pairs = [(a, b) for i, a in enumerate(datasets) for b in datasets[i + 1 :]]
    else:
        pairs = [(a, reference) for a in datasets if a != reference]
    out = Agreement(_key(metric, results), level, reference, n_boot, seed, transfer=transfer_matrix(results, metric))
    empty = Ranking("", (), np.zeros(0), np.zeros((n_boot, 0)), 0, np.zeros(0, int))
    profiles = _error_profiles(_in_domain(results))
    for a, b in pairs:
        ra, rb = ranks.get(a, empty), ranks.get(b, empty)
        try:
            pair = compare(ra, rb)
        except ValueError:
            out.unpaired.append((a, b, len(set(ra.names) & set(rb.names))))
            continue
        out.pairs.append(replace(pair, **_error_means(profiles.get(a, {}), profiles.get(b, {}))))
    return out


def _error_profiles(domain: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """Dataset -> variant id -> its pooled error fractions (in-domain rows;
    variants scored without error counts are left out)."""
    images = domain.drop_duplicates([Col.DATASET, _ID, Col.IMAGE])
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (dataset, variant), group in images.groupby([Col.DATASET, _ID], sort=False):
        fractions = error_fractions(group)
        if None not in fractions.values():
            out.setdefault(str(dataset), {})[str(variant)] = fractions
    return out


def _error_means(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> dict[str, Any]:
    """``errors_a``, ``errors_b`` (each kind's mean over the variants both
    datasets profile) and ``error_variants``, their number."""
    shared = [variant for variant in a if variant in b]
    if not shared:
        return {"errors_a": {}, "errors_b": {}, "error_variants": 0}

    def means(profiles):
        return {kind: _finite_mean([profiles[v][kind] for v in shared]) for kind in ERROR_FRACTIONS}

    return {"errors_a": means(a), "errors_b": means(b), "error_variants": len(shared)}


# ---------------------------------------------------------------------------
# transfer


def transfer_matrix(results: pd.DataFrame, metric: str = "f1@0.5") -> list[TransferCell]:
    """Scores of trained models on every dataset they were tested on.

    One cell per (segmenter plugin, train dataset, test dataset) that has
    results: the score of the segmenter's best variant among the models
    trained on the train dataset (so a sweep shows its best setting). Rows
    without a ``train_dataset`` (untrained segmenters, or a table without
    the column) give no cells.

    Returns
    -------
    list of TransferCell
        Ordered by segmenter, train dataset, test dataset, each in order of
        first appearance (datasets in the table's dataset order).
    """
    key = _key(metric, results)
    frame = results.copy()
    frame[Col.TRAIN_DATASET] = _train_dataset(frame)
    frame = frame[frame[Col.TRAIN_DATASET] != ""]
    if frame.empty:
        return []
    frame = _with_variant_id(frame).drop_duplicates([Col.DATASET, Col.TRAIN_DATASET, _ID, Col.IMAGE, Col.THRESHOLD])
    rows = _rows_at(frame, key)
    names = _display_names(rows)
    order = {d: i for i, d in enumerate(pd.unique(results[Col.DATASET]))}
    cells = []
    for (plugin, train, test), group in rows.groupby([Col.SEGMENTER_NAME, Col.TRAIN_DATASET, Col.DATASET], sort=False):
        ids, values = pooled_values(group, key, np.ones((1, group[Col.IMAGE].nunique())), by=_ID)
        scores = values[0]
        if not np.isfinite(scores).any():
            continue
        best = int(np.nanargmax(scores))
        cells.append(TransferCell(str(plugin), str(train), str(test), float(scores[best]), names[ids[best]]))
    plugins = {p: i for i, p in enumerate(dict.fromkeys(c.segmenter for c in cells))}
    return sorted(
        cells,
        key=lambda c: (plugins[c.segmenter], order.get(c.train_dataset, len(order)), c.train_dataset, order[c.test_dataset]),
    )

