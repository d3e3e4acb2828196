"""segbench.metrics on tiny label images whose scores are worked out by hand."""

from __future__ import annotations

import doctest
import importlib
import math
from fractions import Fraction

import numpy as np
import pytest

from segbench.errors import SegbenchError
from segbench.metrics import (
    CRITERIA,
    DSB_THRESHOLDS,
    ROW_KEYS,
    DatasetScores,
    ImageScores,
    MetricInputError,
    evaluate_dataset,
    evaluate_image,
    match,
    overlap_table,
    pool,
    summarize,
)

# The worked example used throughout (ids need not be contiguous):
#
#   gt                      pred
#   1  1  1  0  2  2        5  5  5  0  9  9
#   1  1  1  0  2  2        5  5  0  0  9  9
#   0  0  0  0  0  0        0  0  0  0  9  9
#   30 30 0  0  0  0        0  0  0  0  0  7
#
# Areas: gt 1 = 6, gt 2 = 4, gt 30 = 2; pred 5 = 5, pred 9 = 6, pred 7 = 1.
# Overlaps: (1, 5) share 5 pixels: IoU 5/6, IoT 5/6, IoP 5/5 = 1.
#           (2, 9) share 4 pixels: IoU 4/6 = 2/3, IoT 4/4 = 1, IoP 4/6 = 2/3.
# gt 30 and pred 7 overlap nothing.
GT = np.array(
    [
        [1, 1, 1, 0, 2, 2],
        [1, 1, 1, 0, 2, 2],
        [0, 0, 0, 0, 0, 0],
        [30, 30, 0, 0, 0, 0],
    ]
)
PRED = np.array(
    [
        [5, 5, 5, 0, 9, 9],
        [5, 5, 0, 0, 9, 9],
        [0, 0, 0, 0, 9, 9],
        [0, 0, 0, 0, 0, 7],
    ]
)


def approx(value) -> object:
    return pytest.approx(float(value), rel=1e-12, abs=1e-12)


def assert_row(row: dict, **expected) -> None:
    for key, value in expected.items():
        if isinstance(value, Fraction):
            assert row[key] == approx(value), key
        else:
            assert row[key] == value, key


# --------------------------------------------------------------------------- match


def test_match_rows_have_exactly_the_documented_keys_in_threshold_order():
    rows = match(GT, PRED, thresholds=(0.9, 0.5, 0.75))
    assert [tuple(row) for row in rows] == [ROW_KEYS] * 3
    assert [row["threshold"] for row in rows] == [0.9, 0.5, 0.75]
    assert {row["criterion"] for row in rows} == {"iou"}


def test_match_worked_example_iou():
    at_50, at_75, at_90 = match(GT, PRED, thresholds=(0.5, 0.75, 0.9))
    # t = 0.5: both overlapping pairs match; gt 30 is missed, pred 7 is spurious.
    # sum = 5/6 + 2/3 = 3/2; PQ = (3/2) / (2 + 1/2 + 1/2) = 1/2.
    assert_row(
        at_50, tp=2, fp=1, fn=1, n_true=3, n_pred=3,
        precision=Fraction(2, 3), recall=Fraction(2, 3), f1=Fraction(2, 3),
        accuracy=Fraction(1, 2), mean_matched_iou=Fraction(3, 4),
        panoptic_quality=Fraction(1, 2), sum_matched_score=Fraction(3, 2),
    )
    # t = 0.75: only (1, 5) with 5/6. PQ = (5/6) / (1 + 1 + 1) = 5/18.
    assert_row(
        at_75, tp=1, fp=2, fn=2,
        precision=Fraction(1, 3), recall=Fraction(1, 3), f1=Fraction(1, 3),
        accuracy=Fraction(1, 5), mean_matched_iou=Fraction(5, 6),
        panoptic_quality=Fraction(5, 18), sum_matched_score=Fraction(5, 6),
    )
    # t = 0.9: nothing matches; every ratio is 0.
    assert_row(
        at_90, tp=0, fp=3, fn=3, precision=0.0, recall=0.0, f1=0.0, accuracy=0.0,
        mean_matched_iou=0.0, panoptic_quality=0.0, sum_matched_score=0.0,
    )


def test_match_intersection_over_true_and_over_pred():
    # IoT: (1, 5) = 5/6, (2, 9) = 1; at 0.9 only (2, 9) matches.
    (iot,) = match(GT, PRED, 0.9, criterion="iot")
    assert_row(iot, criterion="iot", tp=1, fp=2, fn=2, sum_matched_score=Fraction(1))
    # IoP: (1, 5) = 1, (2, 9) = 2/3; at 0.9 only (1, 5) matches.
    (iop,) = match(GT, PRED, 0.9, criterion="iop")
    assert_row(iop, criterion="iop", tp=1, sum_matched_score=Fraction(1))
    # At 0.6 both match under either: IoT sum 5/6 + 1, IoP sum 1 + 2/3.
    assert match(GT, PRED, 0.6, "iot")[0]["sum_matched_score"] == approx(Fraction(11, 6))
    assert match(GT, PRED, 0.6, "iop")[0]["sum_matched_score"] == approx(Fraction(5, 3))


def test_match_accepts_a_single_threshold_and_numpy_numbers():
    assert match(GT, PRED, 0.5) == match(GT, PRED, [np.float32(0.5)])


def test_match_3d_and_exact_threshold_counts():
    # A 2x2x2 cube and the same cube shifted one plane in z: they share one
    # 2x2 plane (4 voxels) of 12 in their union. IoU = 1/3, IoT = IoP = 1/2.
    gt = np.zeros((3, 2, 2), np.uint16)
    gt[0:2] = 4
    pred = np.zeros((3, 2, 2), np.uint16)
    pred[1:3] = 6
    low, half = match(gt, pred, (0.3, 0.5))
    assert_row(low, tp=1, fp=0, fn=0, mean_matched_iou=Fraction(1, 3))
    assert_row(half, tp=0, fp=1, fn=1)
    # A score equal to the threshold counts: IoT = 1/2 >= 0.5.
    assert match(gt, pred, 0.5, criterion="iot")[0]["tp"] == 1


def test_optimal_assignment_beats_greedy():
    # One row; greedy matching by score takes (A, X) = 9/11 first and then
    # has no partner left for B or Y. The optimal assignment matches both:
    #   gt:   A A A A A A A A A A B B B      A = 0..9 (10 px), B = 10..12 (3 px)
    #   pred: Y X X X X X X X X X X . .      Y = 0 (1 px), X = 1..10 (10 px)
    # IoU(A, X) = 9/11, IoU(A, Y) = 1/10, IoU(B, X) = 1/(3 + 10 - 1) = 1/12.
    gt = np.array([[1] * 10 + [2] * 3])
    pred = np.array([[1] + [2] * 10 + [0, 0]])
    (row,) = match(gt, pred, 0.08)  # 1/12 = 0.0833 >= 0.08
    assert_row(row, tp=2, fp=0, fn=0, sum_matched_score=Fraction(1, 10) + Fraction(1, 12))
    (row,) = match(gt, pred, 0.5)
    assert_row(row, tp=1, sum_matched_score=Fraction(9, 11))


def test_tie_break_counts_the_scores_of_pairs_below_threshold():
    # StarDist's rule: most pairs >= t, then the largest total score of ALL
    # assigned pairs, including those below t.
    #   gt:   A A A A A A A A A A B B B B B B B B B B   A = 0..9, B = 10..19
    #   pred: Y Y Y Y X X X X X X X X . . . . . . . .   Y = 0..3, X = 4..11
    # IoU(A, Y) = 4/10 = 0.4, IoU(A, X) = 6/12 = 0.5, IoU(B, X) = 2/16 = 0.125.
    # At t = 0.3 only one pair can be >= t (both strong pairs use A). The
    # assignment {(A, Y), (B, X)} has total 0.525 > 0.5 of {(A, X)}, so the
    # matched pair is (A, Y) with score 0.4, not the best-scoring (A, X).
    gt = np.array([[1] * 10 + [2] * 10])
    pred = np.array([[1] * 4 + [2] * 8 + [0] * 8])
    (row,) = match(gt, pred, 0.3)
    assert_row(
        row, tp=1, fp=1, fn=1, mean_matched_iou=Fraction(2, 5),
        panoptic_quality=Fraction(1, 5), sum_matched_score=Fraction(2, 5),
    )


def test_two_predictions_at_exactly_half_compete_for_one_object():
    # gt object of 8 px; two predicted halves of 4 px each: IoU 1/2 each.
    gt = np.array([[3] * 8])
    pred = np.array([[1] * 4 + [2] * 4])
    (row,) = match(gt, pred, 0.5)
    assert_row(row, tp=1, fp=1, fn=0, sum_matched_score=Fraction(1, 2))


def test_match_is_the_same_for_every_integer_dtype_and_memory_layout():
    expected = match(GT, PRED, DSB_THRESHOLDS)
    for dtype in (np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64):
        assert match(GT.astype(dtype), PRED.astype(dtype), DSB_THRESHOLDS) == expected
    strided = np.zeros((8, 12), np.int64)
    strided[::2, ::2] = GT
    assert match(strided[::2, ::2], np.asfortranarray(PRED), DSB_THRESHOLDS) == expected
    assert match(GT.tolist(), PRED.tolist(), DSB_THRESHOLDS) == expected
    # Rows and columns swapped in both images: the same objects, the same scores.
    assert match(GT.T, PRED.T, DSB_THRESHOLDS) == expected


def test_relabelling_the_objects_does_not_change_the_scores():
    gt_big = np.where(GT > 0, GT * 1_000_003 + 7, 0)
    pred_big = np.where(PRED > 0, PRED.astype(np.int64) * 2**40, 0)
    assert match(gt_big, pred_big, DSB_THRESHOLDS) == match(GT, PRED, DSB_THRESHOLDS)


# --------------------------------------------------------------------------- empty cases


def test_no_objects_on_either_side_is_perfect():
    empty = np.zeros((4, 4), np.uint16)
    for row in match(empty, empty, (0.5, 0.9)):
        assert_row(
            row, tp=0, fp=0, fn=0, n_true=0, n_pred=0, precision=1.0, recall=1.0, f1=1.0,
            accuracy=1.0, mean_matched_iou=1.0, panoptic_quality=1.0, sum_matched_score=0.0,
        )
    scores = evaluate_image(empty, empty)
    assert math.isnan(scores.seg) and (scores.seg_sum, scores.seg_n) == (0.0, 0)
    assert (scores.aji, scores.aji_intersection, scores.aji_union) == (1.0, 0, 0)
    assert scores.dsb_mean_accuracy == 1.0


def test_zero_size_images_count_as_empty():
    (row,) = match(np.zeros((0, 3), np.int32), np.zeros((0, 3), np.int32))
    assert (row["tp"], row["n_true"], row["n_pred"], row["f1"]) == (0, 0, 0, 1.0)


def test_prediction_without_ground_truth_scores_zero():
    gt = np.zeros((1, 5), np.int32)
    pred = np.array([[0, 4, 4, 4, 0]])
    (row,) = match(gt, pred)
    assert_row(
        row, tp=0, fp=1, fn=0, precision=0.0, recall=0.0, f1=0.0, accuracy=0.0,
        mean_matched_iou=0.0, panoptic_quality=0.0,
    )
    scores = evaluate_image(gt, pred)
    assert math.isnan(scores.seg) and scores.seg_n == 0  # SEG ignores predictions
    assert (scores.aji, scores.aji_intersection, scores.aji_union) == (0.0, 0, 3)
    assert scores.dsb_mean_accuracy == 0.0


def test_ground_truth_without_prediction_scores_zero():
    gt = np.array([[0, 4, 4, 4, 0]])
    pred = np.zeros((1, 5), np.int32)
    (row,) = match(gt, pred)
    assert_row(row, tp=0, fp=0, fn=1, precision=0.0, recall=0.0, f1=0.0, accuracy=0.0)
    scores = evaluate_image(gt, pred)
    assert (scores.seg, scores.seg_sum, scores.seg_n) == (0.0, 0.0, 1)
    assert (scores.aji, scores.aji_intersection, scores.aji_union) == (0.0, 0, 3)
    assert scores.dsb_mean_accuracy == 0.0


def test_objects_that_do_not_touch_score_zero():
    gt = np.array([[1, 1, 0, 0, 0]])
    pred = np.array([[0, 0, 0, 2, 2]])
    (row,) = match(gt, pred)
    assert_row(row, tp=0, fp=1, fn=1, f1=0.0, mean_matched_iou=0.0, panoptic_quality=0.0)
    scores = evaluate_image(gt, pred)
    assert (scores.seg, scores.aji, scores.aji_union) == (0.0, 0.0, 4)


# --------------------------------------------------------------------------- SEG, AJI, DSB


def test_evaluate_image_worked_example():
    scores = evaluate_image(GT, PRED, thresholds=(0.5, 0.75))
    assert isinstance(scores, ImageScores)
    assert scores.rows == match(GT, PRED, (0.5, 0.75))
    # SEG: gt 1 is covered 5 > 6/2 by pred 5 -> 5/6; gt 2 covered 4 > 4/2 by
    # pred 9 -> 2/3; gt 30 -> 0. (5/6 + 2/3) / 3 = 1/2.
    assert scores.seg_sum == approx(Fraction(3, 2)) and scores.seg_n == 3
    assert scores.seg == approx(Fraction(1, 2))
    # AJI: gt 1 -> pred 5 (I 5, U 6), gt 2 -> pred 9 (I 4, U 6), gt 30 alone
    # adds 2, unpaired pred 7 adds 1: 9 / 15.
    assert (scores.aji_intersection, scores.aji_union) == (9, 15)
    assert scores.aji == approx(Fraction(3, 5))
    # DSB: IoUs 5/6 and 2/3. t = 0.50..0.65 (4 thresholds): tp 2 -> 2/4;
    # t = 0.70..0.80 (3): tp 1 -> 1/5; t = 0.85..0.95 (3): 0.
    # (4 * 1/2 + 3 * 1/5) / 10 = 13/50.
    assert scores.dsb_mean_accuracy == approx(Fraction(13, 50))
    # errors: pred 5 covers gt 1 alone, pred 9 gt 2 alone (found); nothing covers gt 30
    # (missed); pred 7 covers nothing and lies on background (spurious)
    assert scores.summary() == {
        "seg": scores.seg, "seg_sum": scores.seg_sum, "seg_n": 3, "aji": scores.aji,
        "aji_intersection": 9, "aji_union": 15, "dsb_mean_accuracy": scores.dsb_mean_accuracy,
        "n_found": 2, "n_merged": 0, "n_split": 0, "n_missed": 1, "n_spurious": 1,
    }


def test_dsb_score_always_uses_iou():
    assert (
        evaluate_image(GT, PRED, criterion="iot").dsb_mean_accuracy
        == evaluate_image(GT, PRED).dsb_mean_accuracy
    )


def test_seg_needs_more_than_half_of_the_reference_object():
    # gt object of 4 px; prediction covers exactly 2 of them (IoU 2/4): not > half.
    gt = np.array([[1, 1, 1, 1]])
    assert evaluate_image(gt, np.array([[2, 2, 0, 0]])).seg == 0.0
    # Covering 3 of 4 (IoU 3/4) matches.
    assert evaluate_image(gt, np.array([[2, 2, 2, 0]])).seg == 0.75


def test_aji_pairs_each_true_object_with_its_best_prediction_even_if_reused():
    # One prediction covers two true objects; each is paired with it.
    #   gt:   1 1 0 2 2        pred: 7 7 7 7 7
    # IoU(1, 7) = 2/5, IoU(2, 7) = 2/5: I = 2 + 2, U = 5 + 5 (pred counted per pair).
    gt = np.array([[1, 1, 0, 2, 2]])
    pred = np.array([[7, 7, 7, 7, 7]])
    scores = evaluate_image(gt, pred)
    assert (scores.aji_intersection, scores.aji_union) == (4, 10)


def test_aji_breaks_ties_towards_the_lowest_predicted_id():
    # gt 1 (4 px) is split evenly between pred 8 and pred 3 (IoU 1/2 each):
    # it is paired with pred 3, and pred 8 adds its area to the union.
    gt = np.array([[1, 1, 1, 1]])
    pred = np.array([[8, 8, 3, 3]])
    scores = evaluate_image(gt, pred)
    assert (scores.aji_intersection, scores.aji_union) == (2, 4 + 2)


def test_dsb_thresholds_are_the_exact_decimals():
    assert DSB_THRESHOLDS == tuple(round(0.5 + 0.05 * k, 2) for k in range(10))
    assert DSB_THRESHOLDS[1] == 0.55 and len(DSB_THRESHOLDS) == 10
    assert CRITERIA == ("iou", "iot", "iop")


@pytest.mark.parametrize("numerator, denominator", [(11, 20), (7, 10), (3, 4), (19, 20)])
def test_a_score_equal_to_a_dsb_threshold_counts(numerator, denominator):
    # Scores are float64 quotients of pixel counts, so IoU = 11/20 equals the
    # float 0.55 exactly: the pair matches at t = 0.55.
    gt = np.ones((1, denominator), np.int32)
    pred = np.zeros_like(gt)
    pred[0, :numerator] = 2  # inside gt: IoU = numerator / denominator
    (row,) = match(gt, pred, numerator / denominator)
    assert row["tp"] == 1


# --------------------------------------------------------------------------- pooling


def _images():
    gt_only = np.array([[0, 4, 4, 4, 0]])
    empty = np.zeros((2, 2), np.int32)
    return [
        ("worked", GT, PRED),
        ("gt-only", gt_only, np.zeros_like(gt_only)),
        ("empty", empty, empty),
    ]


def test_pool_sums_counts_and_recomputes_ratios():
    rows = [row for _, gt, pred in _images() for row in match(gt, pred, (0.5, 0.75))]
    at_50, at_75 = pool(rows)
    # At 0.5: tp 2 + 0 + 0, n_true 3 + 1 + 0, n_pred 3 + 0 + 0, sum 3/2.
    assert_row(
        at_50, threshold=0.5, criterion="iou", tp=2, fp=1, fn=2, n_true=4, n_pred=3,
        precision=Fraction(2, 3), recall=Fraction(1, 2), f1=Fraction(4, 7),
        accuracy=Fraction(2, 5), mean_matched_iou=Fraction(3, 4),
        panoptic_quality=Fraction(3, 7), sum_matched_score=Fraction(3, 2),
    )
    assert_row(at_75, threshold=0.75, tp=1, fp=2, fn=3, accuracy=Fraction(1, 6))
    assert [tuple(row) for row in (at_50, at_75)] == [ROW_KEYS] * 2


def test_pool_keeps_criteria_apart_and_ignores_extra_keys():
    rows = [{"image": "a", **row} for row in match(GT, PRED, 0.9, "iot")]
    rows += match(GT, PRED, 0.9, "iou")
    pooled = pool(rows)
    assert [(row["criterion"], row["tp"]) for row in pooled] == [("iot", 1), ("iou", 0)]


def test_pool_of_empty_images_is_perfect_and_of_nothing_is_empty():
    empty = np.zeros((2, 2), np.int32)
    (row,) = pool(match(empty, empty) + match(empty, empty))
    assert (row["tp"], row["f1"], row["accuracy"]) == (0, 1.0, 1.0)
    assert pool([]) == []


def test_pool_names_the_row_that_lacks_a_key():
    rows = match(GT, PRED)
    del rows[0]["sum_matched_score"]
    with pytest.raises(MetricInputError, match=r"rows\[0\]: missing key 'sum_matched_score'"):
        pool(rows)


def test_summarize_pools_seg_and_aji_and_averages_dsb():
    images = [evaluate_image(gt, pred) for _, gt, pred in _images()]
    summary = summarize(images)
    # SEG over all 3 + 1 + 0 reference objects: (3/2 + 0) / 4.
    # AJI: (9 + 0 + 0) / (15 + 3 + 0). DSB: mean of 13/50, 0 and 1.
    assert summary == {
        "seg": approx(Fraction(3, 8)),
        "aji": approx(Fraction(1, 2)),
        "dsb_mean_accuracy": approx((Fraction(13, 50) + 1) / 3),
        "n_images": 3,
    }
    assert summarize([image.summary() for image in images]) == summary


def test_summarize_edge_cases():
    nothing = summarize([])
    assert nothing["n_images"] == 0
    assert all(math.isnan(nothing[key]) for key in ("seg", "aji", "dsb_mean_accuracy"))
    empty = np.zeros((2, 2), np.int32)
    only_empty = summarize([evaluate_image(empty, empty)])
    assert math.isnan(only_empty["seg"]) and only_empty["aji"] == 1.0
    with pytest.raises(MetricInputError, match=r"images\[0\]: missing key 'seg_sum'"):
        summarize([{"seg": 1.0}])


def test_evaluate_dataset_combines_images():
    scores = evaluate_dataset(iter(_images()), thresholds=(0.5, 0.75))
    assert isinstance(scores, DatasetScores)
    rows = [row for _, gt, pred in _images() for row in match(gt, pred, (0.5, 0.75))]
    assert scores.pooled == pool(rows)
    assert [(row["image"], row["threshold"]) for row in scores.images] == [
        ("worked", 0.5), ("worked", 0.75), ("gt-only", 0.5), ("gt-only", 0.75),
        ("empty", 0.5), ("empty", 0.75),
    ]
    first = scores.images[0]
    assert list(first) == ["image", *ROW_KEYS, *evaluate_image(GT, PRED).summary()]
    assert first["aji_union"] == 15 and first["tp"] == 2
    assert scores.summary == summarize([evaluate_image(gt, pred) for _, gt, pred in _images()])


def test_evaluate_dataset_names_the_bad_image():
    pairs = [("a", GT, PRED), ("b", GT, PRED[:, :5])]
    with pytest.raises(MetricInputError, match=r"^image 'b': pred: shape \(4, 5\) differs"):
        evaluate_dataset(pairs)
    with pytest.raises(MetricInputError, match=r"pairs\[1\]: image name 'a' repeats"):
        evaluate_dataset([("a", GT, PRED), ("a", GT, PRED)])
    with pytest.raises(MetricInputError, match=r"pairs\[0\]: expected a \(name, gt, pred\) tuple"):
        evaluate_dataset([(GT, PRED)])


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "gt, pred, message",
    [
        (GT.astype(float), PRED, r"^gt: dtype float64 is not an integer dtype; "),
        (GT, PRED > 0, r"^pred: is a boolean mask, not a label image; "),
        (GT - 1, PRED, r"^gt: has negative values \(minimum -1\); "),
        (GT, -PRED, r"^pred: has negative values \(minimum -9\); "),
        (GT, PRED[:3], r"^pred: shape \(3, 6\) differs from gt's shape \(4, 6\); "),
        (np.int32(3), np.int32(3), r"^gt: is a scalar, not a label image; "),
        (GT.astype(str), PRED, r"^gt: dtype <U\d+ is not an integer dtype"),
    ],
)
def test_bad_label_images_are_named(gt, pred, message):
    with pytest.raises(MetricInputError, match=message) as caught:
        match(gt, pred)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, SegbenchError) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "thresholds, message",
    [
        (0, r"^thresholds: 0.0 is outside \(0, 1\]"),
        ((0.5, 1.5), r"^thresholds: 1.5 is outside \(0, 1\]"),
        (float("nan"), r"^thresholds: nan is outside"),
        ((0.5, 0.5), r"^thresholds: 0.5 is given twice"),
        ((), r"^thresholds: is empty"),
        (("0.5",), r"^thresholds: '0.5' is not a number"),
        ((True,), r"^thresholds: True is not a number"),
        (None, r"^thresholds: None is neither a number nor a sequence"),
    ],
)
def test_bad_thresholds_are_named(thresholds, message):
    with pytest.raises(MetricInputError, match=message):
        match(GT, PRED, thresholds)
    with pytest.raises(MetricInputError, match=message):
        evaluate_image(GT, PRED, thresholds)


def test_bad_criterion_is_named():
    message = r"^criterion: 'dice' is not a known criterion; use one of 'iou', 'iot', 'iop'$"
    with pytest.raises(MetricInputError, match=message):
        match(GT, PRED, criterion="dice")
    with pytest.raises(MetricInputError, match="criterion: 'IoU'"):
        evaluate_dataset([("a", GT, PRED)], criterion="IoU")
    with pytest.raises(MetricInputError, match="criterion: 'x'"):
        overlap_table(GT, PRED).scores("x")


# --------------------------------------------------------------------------- docs


@pytest.mark.parametrize(
    "module",
    ["overlap", "assignment", "scores", "matching", "challenge", "aggregate", "evaluation"],
)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(f"segbench.metrics.{module}"))
    assert result.attempted > 0 and result.failed == 0
