"""segbench.metrics equals StarDist's and Cellpose's metrics where their definitions agree.

Skipped when the peers are not installed (``pip install segbench[peers]``).
Where the definitions differ (empty images, float32 scores, label gaps),
the tests pin down the difference that docs/metrics.md describes.

Precision: both peers count matches exactly as segbench does, so counts and
count ratios agree exactly. StarDist computes the scores in float32, so its
score sums and means agree to float32 precision (relative 1e-6), and
Cellpose returns its ratios as float32 arrays (absolute 1e-7).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.segmentation import relabel_sequential

from segbench.metrics import DSB_THRESHOLDS, match, overlap_table, pool

THRESHOLDS = (0.3, 0.5, 0.7, 0.9)


def cells(rng: np.random.Generator, shape, n_objects: int) -> np.ndarray:
    """Touching Voronoi cells clipped to balls around their seeds, ids 1..n."""
    markers = np.zeros(shape, np.int32)
    seeds = rng.integers(0, np.array(shape), size=(n_objects, len(shape)))
    markers[tuple(seeds.T)] = np.arange(1, n_objects + 1)
    distance, nearest = ndi.distance_transform_edt(markers == 0, return_indices=True)
    labels = markers[tuple(nearest)]
    labels[distance > 0.6 * (np.prod(shape) / n_objects) ** (1 / len(shape))] = 0
    return relabel_sequential(labels)[0]


def prediction(rng: np.random.Generator, gt: np.ndarray) -> np.ndarray:
    """``gt`` shifted, with some objects dropped, merged into a neighbour and split."""
    pred = np.roll(gt, tuple(rng.integers(-2, 3, size=gt.ndim)), axis=tuple(range(gt.ndim)))
    lookup = np.arange(pred.max() + 1)
    ids = np.arange(1, pred.max() + 1)
    lookup[rng.choice(ids, len(ids) // 10, replace=False)] = 0
    merged = rng.choice(ids[:-1], len(ids) // 10, replace=False)
    lookup[merged + 1] = lookup[merged]  # ids are spatially random: not all touch
    pred = lookup[pred]
    split = np.isin(pred, rng.choice(ids, len(ids) // 10, replace=False))
    pred[split & (np.indices(pred.shape)[-1] % 8 < 4)] += pred.max()
    return relabel_sequential(pred)[0]


def pairs_2d_and_3d():
    rng = np.random.default_rng(2024)
    pairs = []
    for _ in range(3):
        gt = cells(rng, (96, 96), 40)
        pairs.append((gt, prediction(rng, gt)))
    gt = cells(rng, (12, 40, 40), 30)
    pairs.append((gt, prediction(rng, gt)))
    return pairs


PAIRS = pairs_2d_and_3d()


def assert_float32_decides_alike(thresholds, criterion="iou"):
    """Guard: StarDist compares float32 scores with the threshold cast to
    float32 (a Python float under NumPy 2), which must decide every pair of
    these images as the exact float64 comparison does."""
    for gt, pred in PAIRS:
        scores = overlap_table(gt, pred).scores(criterion)
        for t in thresholds:
            assert ((scores.astype(np.float32) >= np.float32(t)) == (scores >= t)).all()


def assert_same_as_stardist(ours: dict, theirs) -> None:
    for key in ("tp", "fp", "fn", "n_true", "n_pred"):
        assert ours[key] == getattr(theirs, key), key
    for key in ("precision", "recall", "f1", "accuracy"):
        assert ours[key] == pytest.approx(getattr(theirs, key), abs=1e-9), key
    assert ours["mean_matched_iou"] == pytest.approx(theirs.mean_matched_score, rel=1e-6)
    assert ours["panoptic_quality"] == pytest.approx(theirs.panoptic_quality, rel=1e-6)
    assert ours["sum_matched_score"] == pytest.approx(
        theirs.mean_true_score * theirs.n_true, rel=1e-6
    )


# --------------------------------------------------------------------------- StarDist


@pytest.mark.parametrize("criterion", ["iou", "iot", "iop"])
def test_match_equals_stardist_matching(criterion):
    stardist = pytest.importorskip("stardist.matching")
    assert_float32_decides_alike(THRESHOLDS, criterion)
    for gt, pred in PAIRS:
        theirs = stardist.matching(gt, pred, thresh=THRESHOLDS, criterion=criterion)
        ours = match(gt, pred, THRESHOLDS, criterion)
        for row, stats in zip(ours, theirs):
            assert row["threshold"] == stats.thresh and row["criterion"] == stats.criterion
            assert_same_as_stardist(row, stats)


def test_match_equals_stardist_with_label_gaps():
    stardist = pytest.importorskip("stardist.matching")
    gt, pred = PAIRS[0]
    gt, pred = gt * 7, np.where(pred > 0, pred + 1000, 0)  # StarDist relabels internally
    theirs = stardist.matching(gt, pred, thresh=DSB_THRESHOLDS)
    for row, stats in zip(match(gt, pred, DSB_THRESHOLDS), theirs):
        assert_same_as_stardist(row, stats)


def test_pool_equals_stardist_matching_dataset():
    stardist = pytest.importorskip("stardist.matching")
    assert_float32_decides_alike(DSB_THRESHOLDS)
    theirs = stardist.matching_dataset(
        [gt for gt, _ in PAIRS], [pred for _, pred in PAIRS], thresh=DSB_THRESHOLDS,
        by_image=False, show_progress=False,
    )
    ours = pool(row for gt, pred in PAIRS for row in match(gt, pred, DSB_THRESHOLDS))
    assert [row["tp"] for row in ours] != [0] * len(ours)
    for row, stats in zip(ours, theirs):
        assert_same_as_stardist(row, stats)


def test_stardist_tie_break_case():
    stardist = pytest.importorskip("stardist.matching")
    # The case of test_metrics.test_tie_break_counts_the_scores_of_pairs_below_threshold.
    gt = np.array([[1] * 10 + [2] * 10])
    pred = np.array([[1] * 4 + [2] * 8 + [0] * 8])
    assert_same_as_stardist(match(gt, pred, 0.3)[0], stardist.matching(gt, pred, thresh=0.3))


def test_stardist_differs_on_empty_images():
    stardist = pytest.importorskip("stardist.matching")
    empty = np.zeros((8, 8), np.int32)
    theirs = stardist.matching(empty, empty, thresh=0.5)
    (ours,) = match(empty, empty, 0.5)
    # StarDist: 0 when nothing can match; segbench: 1 (nothing to find, nothing found).
    assert (theirs.precision, theirs.recall, theirs.f1, theirs.accuracy) == (0, 0, 0, 0)
    assert (ours["precision"], ours["recall"], ours["f1"], ours["accuracy"]) == (1, 1, 1, 1)
    # With objects on one side only, both give 0.
    one = empty.copy()
    one[2:4, 2:4] = 1
    for gt, pred in ((one, empty), (empty, one)):
        assert_same_as_stardist(match(gt, pred, 0.5)[0], stardist.matching(gt, pred, thresh=0.5))


def test_stardist_float32_scores_can_flip_a_match_near_the_threshold():
    stardist = pytest.importorskip("stardist.matching")
    # IoU = 11744054 / 16777221 = 0.69999996 < 0.7, but StarDist's float32
    # score rounds to float32(0.7), and it compares with float32(0.7).
    n, inside = 16_777_221, 11_744_054
    gt = np.ones((1, n), np.uint8)
    pred = np.zeros((1, n), np.uint8)
    pred[0, :inside] = 2
    assert inside / n < 0.7 and np.float32(inside / n) == np.float32(0.7)
    assert match(gt, pred, 0.7)[0]["tp"] == 0
    assert stardist.matching(gt, pred, thresh=0.7).tp == 1


# --------------------------------------------------------------------------- Cellpose


@pytest.fixture(scope="module")
def cellpose_metrics():
    return pytest.importorskip("cellpose.metrics")


def test_match_equals_cellpose_average_precision(cellpose_metrics):
    gts, preds = [gt for gt, _ in PAIRS], [pred for _, pred in PAIRS]
    ap, tp, fp, fn = cellpose_metrics.average_precision(gts, preds, threshold=list(DSB_THRESHOLDS))
    for i, (gt, pred) in enumerate(PAIRS):
        rows = match(gt, pred, DSB_THRESHOLDS)
        assert [row["tp"] for row in rows] == tp[i].tolist()
        assert [row["fp"] for row in rows] == fp[i].tolist()
        assert [row["fn"] for row in rows] == fn[i].tolist()
        assert [row["accuracy"] for row in rows] == pytest.approx(ap[i].tolist(), abs=1e-7)
    assert tp.sum() > 0


def test_cellpose_counts_label_gaps_as_missed_objects(cellpose_metrics):
    gt, pred = PAIRS[0]
    gapped = np.where(gt > 0, gt + 5, 0)  # ids 6..n+5: Cellpose counts n_true = max = n + 5
    _, tp, fp, fn = cellpose_metrics.average_precision(gapped, pred, threshold=[0.5])
    (row,) = match(gapped, pred, 0.5)
    assert (row["tp"], row["fp"]) == (tp[0], fp[0])
    assert fn[0] == row["fn"] + 5


def test_cellpose_differs_on_empty_images(cellpose_metrics):
    empty = np.zeros((8, 8), np.int32)
    with np.errstate(invalid="ignore"):
        ap, *_ = cellpose_metrics.average_precision(empty, empty, threshold=[0.5])
    assert math.isnan(ap[0])  # 0 / 0
    assert match(empty, empty, 0.5)[0]["accuracy"] == 1.0
