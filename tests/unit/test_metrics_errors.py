"""segbench.metrics.errors: found, merged, split, missed and spurious objects,
on label images where every object's fate is worked out by hand, and against
a per-object reading of the definitions on random label images."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from segbench.leaderboard import ERROR_FRACTIONS, build_leaderboards
from segbench.metrics import ERROR_KEYS, error_counts, error_profile, evaluate_image, overlap_table
from segbench.results import ERROR_COLUMNS

# gt                                   pred
# 1 1 1 1 0 2 2 0 3 3 3 3 0 4 4 0 5 5 5 5 0 0
# 1 1 1 1 0 2 2 0 3 3 3 3 0 4 4 0 5 5 5 5 0 0
# pred:
# 6 6 6 6 0 7 7 7 7 7 7 0 0 0 0 0 8 8 9 9 0 10
# 6 6 6 0 0 7 7 7 7 7 7 0 0 0 0 0 8 8 9 9 0 10
#
# gt 1 (8 px): pred 6 holds 7 of its pixels and nothing else: found.
# gt 2 (4 px) and gt 3 (8 px): pred 7 (12 px) holds all of gt 2 and 6 of gt 3's 8: a merge of both.
# gt 4 (4 px): no prediction: missed.
# gt 5 (8 px): preds 8 and 9 (4 px each) lie inside it, neither covers most of it: split.
# pred 10: on background, covers nothing: spurious.
GT = np.array([
    [1, 1, 1, 1, 0, 2, 2, 0, 3, 3, 3, 3, 0, 4, 4, 0, 5, 5, 5, 5, 0, 0],
    [1, 1, 1, 1, 0, 2, 2, 0, 3, 3, 3, 3, 0, 4, 4, 0, 5, 5, 5, 5, 0, 0],
])
PRED = np.array([
    [6, 6, 6, 6, 0, 7, 7, 7, 7, 7, 7, 0, 0, 0, 0, 0, 8, 8, 9, 9, 0, 10],
    [6, 6, 6, 0, 0, 7, 7, 7, 7, 7, 7, 0, 0, 0, 0, 0, 8, 8, 9, 9, 0, 10],
])


def test_each_kind_of_error_is_counted_once():
    assert error_counts(overlap_table(GT, PRED)) == {
        "n_found": 1, "n_merged": 2, "n_split": 1, "n_missed": 1, "n_spurious": 1,
    }


def test_a_perfect_prediction_finds_everything_and_an_empty_one_misses_everything():
    assert error_counts(overlap_table(GT, GT)) == {
        "n_found": 5, "n_merged": 0, "n_split": 0, "n_missed": 0, "n_spurious": 0,
    }
    assert error_counts(overlap_table(GT, np.zeros_like(GT))) == {
        "n_found": 0, "n_merged": 0, "n_split": 0, "n_missed": 5, "n_spurious": 0,
    }
    assert error_counts(overlap_table(np.zeros_like(GT), PRED)) == {
        "n_found": 0, "n_merged": 0, "n_split": 0, "n_missed": 0, "n_spurious": 5,
    }


def test_half_is_not_most():
    gt = np.array([[1, 1, 1, 1, 0, 0]])
    # pred 2 holds exactly half of gt 1 and lies half on background: it covers nothing,
    # and is not spurious (not more than half on background); gt 1 is missed
    pred = np.array([[0, 0, 2, 2, 2, 2]])
    assert error_counts(overlap_table(gt, pred)) == {
        "n_found": 0, "n_merged": 0, "n_split": 0, "n_missed": 1, "n_spurious": 0,
    }


def test_a_merge_that_also_holds_a_piece_of_a_split_object_counts_the_object_merged():
    # gt 1 and gt 2 both covered by pred 5 (a merge); pred 6 and pred 7 lie inside gt 2 too:
    # merged wins over split, so each object is counted once
    gt = np.array([[1, 1, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2]])
    pred = np.array([[5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 7, 7]])
    assert error_counts(overlap_table(gt, pred)) == {
        "n_found": 0, "n_merged": 2, "n_split": 0, "n_missed": 0, "n_spurious": 0,
    }


def test_the_counts_are_in_each_images_summary():
    summary = evaluate_image(GT, PRED).summary()
    assert {k: summary[k] for k in ERROR_KEYS} == error_counts(overlap_table(GT, PRED))
    assert ERROR_COLUMNS == ERROR_KEYS  # the results table stores them under these names


def _by_definition(gt: np.ndarray, pred: np.ndarray) -> dict[str, int]:
    """The module docstring's definitions, object by object, with masks."""
    true_ids = [i for i in np.unique(gt) if i]
    pred_ids = [j for j in np.unique(pred) if j]

    def covers(j, i):
        return 2 * np.sum((pred == j) & (gt == i)) > np.sum(gt == i)

    def inside(j, i):
        return 2 * np.sum((pred == j) & (gt == i)) > np.sum(pred == j)

    merges = {j for j in pred_ids if sum(covers(j, i) for i in true_ids) >= 2}
    counts = dict.fromkeys(ERROR_KEYS, 0)
    for i in true_ids:
        coverers = [j for j in pred_ids if covers(j, i)]
        if coverers and coverers[0] in merges:
            counts["n_merged"] += 1
        elif sum(inside(j, i) for j in pred_ids) >= 2:
            counts["n_split"] += 1
        elif not coverers:
            counts["n_missed"] += 1
        else:
            counts["n_found"] += 1
    for j in pred_ids:
        on_background = 2 * np.sum((pred == j) & (gt == 0)) > np.sum(pred == j)
        counts["n_spurious"] += on_background and not any(covers(j, i) for i in true_ids)
    return counts


def _boxes(rng, shape, n, first_id):
    """A label image of ``n`` random boxes (later ones painted over earlier ones)."""
    labels = np.zeros(shape, int)
    for index in range(n):
        start = [rng.integers(0, s - 3) for s in shape]
        box = tuple(slice(a, min(a + rng.integers(2, 9), s)) for a, s in zip(start, shape))
        labels[box] = first_id + index
    return labels


def _damaged(rng, gt):
    """``gt`` shifted, with objects merged, cut in two, dropped, and boxes added on top."""
    pred = np.roll(gt, rng.integers(-1, 2), axis=-1)
    ids = [i for i in np.unique(pred) if i]
    top = max(ids, default=0) + 1
    for i in ids:
        fate = rng.integers(0, 5)
        if fate == 0 and len(ids) > 1:  # merged into another object
            pred[pred == i] = rng.choice([j for j in ids if j != i])
        elif fate == 1:  # cut in two along the last axis
            where = np.argwhere(pred == i)
            cut = np.median(where[:, -1])
            half = tuple(where[where[:, -1] > cut].T)
            pred[half] = top
            top += 1
        elif fate == 2:  # dropped
            pred[pred == i] = 0
    extra = _boxes(rng, gt.shape, 3, top)
    return np.where(extra > 0, extra, pred)


@pytest.mark.parametrize("seed", range(12))
def test_counts_follow_the_definitions_object_by_object(seed):
    rng = np.random.default_rng(seed)
    gt = _boxes(rng, (32, 32) if seed % 2 else (8, 16, 16), 12, 1)
    pred = _damaged(rng, gt)
    counts = error_counts(overlap_table(gt, pred))
    assert counts == _by_definition(gt, pred)
    assert sum(counts[f"n_{k}"] for k in ("found", "merged", "split", "missed")) == len(np.unique(gt[gt > 0]))


def test_the_random_cases_meet_every_kind_of_error():
    totals = dict.fromkeys(ERROR_KEYS, 0)
    for seed in range(12):
        rng = np.random.default_rng(seed)
        gt = _boxes(rng, (32, 32) if seed % 2 else (8, 16, 16), 12, 1)
        for key, value in error_counts(overlap_table(gt, _damaged(rng, gt))).items():
            totals[key] += value
    assert min(totals.values()) >= 5, totals


def test_the_profile_pools_counts_over_images():
    images = [
        {"n_found": 3, "n_merged": 2, "n_split": 0, "n_missed": 1, "n_spurious": 1, "n_true": 6, "n_pred": 5},
        {"n_found": 1, "n_merged": 0, "n_split": 2, "n_missed": 1, "n_spurious": 0, "n_true": 4, "n_pred": 4},
    ]
    profile = error_profile(images)
    assert profile == {
        "found": float(Fraction(4, 10)), "merged": float(Fraction(2, 10)), "split": float(Fraction(2, 10)),
        "missed": float(Fraction(2, 10)), "spurious": float(Fraction(1, 9)), "n_true": 10, "n_pred": 9,
    }
    empty = error_profile([{**dict.fromkeys(ERROR_KEYS, 0), "n_true": 0, "n_pred": 0}])
    assert all(np.isnan(empty[k]) for k in ("found", "merged", "split", "missed", "spurious"))


def _results(with_errors: bool) -> pd.DataFrame:
    """Two images of one variant at two thresholds, scored as the runner scores them."""
    rows = []
    for image, (gt, pred) in {"a": (GT, PRED), "b": (GT, GT)}.items():
        scores = evaluate_image(gt, pred, thresholds=(0.5, 0.75))
        for row in scores.rows:
            rows.append({"dataset": "d", "image": image, "segmenter": "s", "variant": "s", "params": "{}",
                         **row, **scores.summary(), "predict_seconds": 0.1, "postprocess_seconds": 0.0,
                         "train_seconds": None})
    frame = pd.DataFrame(rows)
    return frame if with_errors else frame.drop(columns=list(ERROR_COLUMNS))


def test_leaderboard_rows_show_the_pooled_fractions_once_per_image():
    (board,) = build_leaderboards(_results(True), "f1@0.5", (0.5, 0.75))
    (row,) = board.rows
    # 10 true objects over the two images (5 each): a merges 2, splits 1, misses 1; b finds all
    # 10 predictions (5 each): a has 1 spurious
    assert {k: row[k] for k in ERROR_FRACTIONS} == {"merged": 0.2, "split": 0.1, "missed": 0.1, "spurious": 0.1}
    assert [k for k, _ in board.columns()][-4:] == list(ERROR_FRACTIONS)


def test_results_scored_before_the_counts_existed_show_no_error_columns():
    (board,) = build_leaderboards(_results(False), "f1@0.5", (0.5, 0.75))
    assert all(board.rows[0][k] is None for k in ERROR_FRACTIONS)
    assert not {k for k, _ in board.columns()} & set(ERROR_FRACTIONS)
