"""segbench.metrics against brute-force definitions on many random inputs.

- The overlap table equals a pixel-by-pixel count, whichever of its code
  paths (raw ids, lookup-table relabelling, sorted relabelling, sorted keys)
  an input takes.
- The sparse assignment finds as many matches as the dense StarDist
  definition (linear_sum_assignment over the full score matrix with cost
  -(s >= t) - s / (2 n_min)), and its matches are part of an assignment
  that is exactly as good under that cost.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.optimize import linear_sum_assignment

from segbench.metrics import match, overlap_table
from segbench.metrics.assignment import optimal_matches


def brute_force_table(gt: np.ndarray, pred: np.ndarray):
    """(true areas, pred areas, intersections) as dicts keyed by label id(s)."""
    pairs = Counter(zip(gt.ravel().tolist(), pred.ravel().tolist()))
    true_areas, pred_areas, intersections = Counter(), Counter(), {}
    for (g, p), count in pairs.items():
        if g:
            true_areas[g] += count
        if p:
            pred_areas[p] += count
        if g and p:
            intersections[g, p] = count
    return dict(true_areas), dict(pred_areas), intersections


def assert_table_matches_brute_force(gt, pred):
    table = overlap_table(gt, pred)
    true_areas, pred_areas, intersections = brute_force_table(gt, pred)
    assert table.true_ids.tolist() == sorted(true_areas)
    assert table.pred_ids.tolist() == sorted(pred_areas)
    assert table.true_areas.tolist() == [true_areas[i] for i in sorted(true_areas)]
    assert table.pred_areas.tolist() == [pred_areas[i] for i in sorted(pred_areas)]
    listed = {
        (int(table.true_ids[t]), int(table.pred_ids[p])): int(n)
        for t, p, n in zip(table.pair_true, table.pair_pred, table.intersections)
    }
    assert listed == intersections
    assert len(listed) == len(table.intersections)  # each pair once
    order = np.lexsort((table.pair_pred, table.pair_true))
    assert (order == np.arange(len(order))).all()  # sorted by true, then pred


def blobs(rng: np.random.Generator, shape, n_objects: int, max_distance: float = 4.0) -> np.ndarray:
    """Voronoi cells of random seeds, clipped near the seeds: touching objects and gaps."""
    markers = np.zeros(shape, np.int64)
    seeds = rng.integers(0, np.array(shape), size=(n_objects, len(shape)))
    markers[tuple(seeds.T)] = np.arange(1, n_objects + 1)
    distance, nearest = ndi.distance_transform_edt(markers == 0, return_indices=True)
    labels = markers[tuple(nearest)]
    labels[distance > max_distance] = 0
    return labels


@pytest.mark.parametrize("seed", range(6))
def test_overlap_table_small_ids(seed):
    rng = np.random.default_rng(seed)
    gt = blobs(rng, (30, 40), 12)
    pred = np.roll(blobs(rng, (30, 40), 15), 2, axis=1)
    assert_table_matches_brute_force(gt, pred)
    assert_table_matches_brute_force(gt.astype(np.uint8), pred.astype(np.uint16))


def test_overlap_table_3d():
    rng = np.random.default_rng(7)
    gt = blobs(rng, (6, 20, 20), 10)
    pred = np.roll(gt, 1, axis=0) * 3
    assert_table_matches_brute_force(gt, pred)


def test_overlap_table_large_ids_relabelled_by_lookup_table():
    # ids up to 60000 in a 32x32 image: the raw histogram would be far larger
    # than the image, so both sides are relabelled with a lookup table.
    rng = np.random.default_rng(1)
    gt = blobs(rng, (32, 32), 9) * 6000
    pred = blobs(rng, (32, 32), 9) * 7000 + (blobs(rng, (32, 32), 9) > 0)
    assert gt.max() > 50_000
    assert_table_matches_brute_force(gt, pred)
    assert_table_matches_brute_force(gt.astype(np.uint32), pred.astype(np.int64))


def test_overlap_table_huge_ids_relabelled_by_sorting():
    rng = np.random.default_rng(2)
    gt = blobs(rng, (32, 32), 9) * 10**12
    ids = blobs(rng, (32, 32), 9).astype(np.uint64)
    pred = np.where(ids > 0, ids + np.uint64(2**63), np.uint64(0))
    assert int(pred.max()) > 2**63  # does not fit int64
    assert_table_matches_brute_force(gt, pred)


def test_overlap_table_many_objects_on_both_sides_uses_sorted_keys():
    # Every pixel its own object on both sides: 601 x 601 histogram cells
    # exceed 2**16 even after relabelling.
    rng = np.random.default_rng(3)
    gt = rng.permutation(np.arange(1, 601)).reshape(20, 30)
    pred = rng.permutation(np.arange(5, 605)).reshape(20, 30)
    pred[rng.random((20, 30)) < 0.2] = 0
    assert_table_matches_brute_force(gt, pred)


@pytest.mark.parametrize(
    "gt, pred",
    [
        (np.array([[5]]), np.array([[5]])),
        (np.array([[0]]), np.array([[3]])),
        (np.full((4, 4), 2), np.full((4, 4), 2)),
        (np.zeros((3, 0), np.int32), np.zeros((3, 0), np.int32)),
        (np.array([1, 1, 2, 2, 0, 3]), np.array([1, 2, 2, 0, 0, 3])),
    ],
)
def test_overlap_table_edge_shapes(gt, pred):
    assert_table_matches_brute_force(gt, pred)


# --------------------------------------------------------------------------- assignment


def dense_optimum(scores: np.ndarray, threshold: float) -> tuple[int, float]:
    """(tp, total cost) of StarDist's dense assignment on a full score matrix."""
    n_min = min(scores.shape)
    if n_min == 0:
        return 0, 0.0
    cost = -(scores >= threshold).astype(float) - scores / (2 * n_min)
    rows, cols = linear_sum_assignment(cost)
    return int((scores[rows, cols] >= threshold).sum()), float(cost[rows, cols].sum())


def best_cost_with(scores: np.ndarray, threshold: float, matched: list[tuple[int, int]]) -> float:
    """Lowest dense cost of an assignment that contains ``matched`` as its
    pairs >= threshold and otherwise only pairs below threshold."""
    n_min = min(scores.shape)
    cost = -(scores >= threshold).astype(float) - scores / (2 * n_min)
    fixed = sum(cost[r, c] for r, c in matched)
    rest = cost.copy()
    rest[scores >= threshold] = np.inf  # no further pair >= threshold
    rows = np.setdiff1d(np.arange(scores.shape[0]), [r for r, _ in matched])
    cols = np.setdiff1d(np.arange(scores.shape[1]), [c for _, c in matched])
    rest = np.where(np.isinf(rest), 10.0, rest)[np.ix_(rows, cols)]
    if min(rest.shape) == 0:
        return fixed
    r, c = linear_sum_assignment(rest)
    assert (rest[r, c] < 10.0).all()
    return fixed + float(rest[r, c].sum())


def check_against_dense(pair_true, pair_pred, scores, n_true, n_pred, threshold):
    full = np.zeros((n_true, n_pred))
    full[pair_true, pair_pred] = scores
    matched = optimal_matches(pair_true, pair_pred, scores, n_true, n_pred, threshold)
    tp, dense_cost = dense_optimum(full, threshold)
    assert int(matched.sum()) == tp
    pairs = list(zip(pair_true[matched].tolist(), pair_pred[matched].tolist()))
    assert len({r for r, _ in pairs}) == len({c for _, c in pairs}) == len(pairs)
    assert all(full[r, c] >= threshold for r, c in pairs)
    if tp:
        assert best_cost_with(full, threshold, pairs) == pytest.approx(dense_cost, abs=1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_assignment_equals_dense_definition_on_label_images(seed):
    rng = np.random.default_rng(seed)
    gt = blobs(rng, (36, 36), int(rng.integers(2, 25)))
    if seed % 2:
        pred = blobs(rng, (36, 36), int(rng.integers(2, 25)))
    else:  # shifted copy with every other object split in two
        pred = np.roll(gt, int(rng.integers(-3, 4)), axis=1) * 2
        pred[(pred % 4 == 0) & (pred > 0) & (np.indices(pred.shape)[0] > 18)] += 1
    table = overlap_table(gt, pred)
    for criterion in ("iou", "iot", "iop"):
        scores = table.scores(criterion)
        for threshold in (0.1, 0.3, 0.5, 0.7):
            check_against_dense(
                table.pair_true, table.pair_pred, scores, table.n_true, table.n_pred, threshold
            )


@pytest.mark.parametrize("seed", range(40))
def test_assignment_equals_dense_definition_on_random_graphs(seed):
    # Dense conflict graphs (many pairs >= t per object), far from images.
    rng = np.random.default_rng(100 + seed)
    n_true, n_pred = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    n_pairs = int(rng.integers(1, n_true * n_pred + 1))
    cells = rng.choice(n_true * n_pred, n_pairs, replace=False)
    pair_true, pair_pred = np.divmod(np.sort(cells), n_pred)
    scores = rng.choice([0.1, 0.25, 0.5, 0.75, 1.0], n_pairs) if seed % 2 else rng.random(n_pairs)
    scores = np.maximum(scores, 1e-3)
    for threshold in (0.05, 0.3, 0.5, 0.8):
        check_against_dense(pair_true, pair_pred, scores, n_true, n_pred, threshold)


def test_match_reports_the_assignment_it_counts():
    rng = np.random.default_rng(11)
    gt = blobs(rng, (40, 40), 20)
    pred = np.roll(gt, 2, axis=0)
    table = overlap_table(gt, pred)
    for row in match(gt, pred, (0.2, 0.5, 0.8)):
        scores = table.scores("iou")
        matched = optimal_matches(
            table.pair_true, table.pair_pred, scores, table.n_true, table.n_pred, row["threshold"]
        )
        assert row["tp"] == matched.sum()
        assert row["sum_matched_score"] == pytest.approx(scores[matched].sum(), rel=1e-15)
