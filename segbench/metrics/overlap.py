"""The overlap table of two label images: one pass over the pixels.

Every score in :mod:`segbench.metrics` is a function of the joint histogram
of label pairs ``(gt[i], pred[i])`` over all pixels ``i``: its non-zero cells
give the object areas (a label against anything) and the intersections of
every overlapping pair of objects.

The histogram is built in one vectorised pass over the pixels (in chunks
that stay in the CPU cache): along the flattened image, consecutive pixels mostly carry the same label pair, so the
pass finds the runs of equal pairs (two comparisons per pixel; the runs
also hold every label value, which is where negative values are caught) and
the histogram is a ``np.bincount`` over the runs weighted by their lengths,
typically 10 to 40 times fewer elements than pixels. Labels are relabelled
to ``0..n`` (a lookup table over the runs) only when the raw ids would make
the histogram larger than the image; when even the relabelled histogram
would be that large (many thousands of objects on both sides), its non-zero
cells are found by sorting the runs' keys instead. No step loops over
objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import check_criterion, check_label_pair, check_non_negative

# Pixels per chunk of the pass over the images: the chunk's two boolean
# buffers (256 KiB each) stay in the CPU cache.
_CHUNK = 1 << 18


@dataclass(frozen=True)
class OverlapTable:
    """Object areas and pairwise intersections of a ground truth and a prediction.

    Objects are indexed ``0..n_true-1`` and ``0..n_pred-1`` in ascending
    order of their label ids; only pairs of objects that share at least one
    pixel are listed, sorted by true then predicted index.

    Attributes
    ----------
    true_ids : ndarray, shape (n_true,)
        Label ids of the ground-truth objects, ascending (0 excluded).
    pred_ids : ndarray, shape (n_pred,)
        Label ids of the predicted objects, ascending (0 excluded).
    true_areas, pred_areas : ndarray of int64, shapes (n_true,), (n_pred,)
        Object sizes in pixels (voxels in 3D).
    pair_true, pair_pred : ndarray of intp, shape (n_pairs,)
        Object indices of each overlapping pair.
    intersections : ndarray of int64, shape (n_pairs,)
        Shared pixels of each pair, all > 0.
    """

    true_ids: np.ndarray
    pred_ids: np.ndarray
    true_areas: np.ndarray
    pred_areas: np.ndarray
    pair_true: np.ndarray
    pair_pred: np.ndarray
    intersections: np.ndarray

    @property
    def n_true(self) -> int:
        """Number of ground-truth objects."""
        return len(self.true_ids)

    @property
    def n_pred(self) -> int:
        """Number of predicted objects."""
        return len(self.pred_ids)

    def unions(self) -> np.ndarray:
        """Pixels in either object of each pair, shape (n_pairs,), int64."""
        return (
            self.true_areas[self.pair_true]
            + self.pred_areas[self.pair_pred]
            - self.intersections
        )

    def scores(self, criterion: str = "iou") -> np.ndarray:
        """Score of each overlapping pair, shape (n_pairs,), float64 in (0, 1].

        Parameters
        ----------
        criterion : {"iou", "iot", "iop"}
            Intersection over union, over the true object's area, or over
            the predicted object's area.
        """
        check_criterion(criterion)
        if criterion == "iou":
            denominator = self.unions()
        elif criterion == "iot":
            denominator = self.true_areas[self.pair_true]
        else:
            denominator = self.pred_areas[self.pair_pred]
        return self.intersections / denominator


def overlap_table(gt, pred) -> OverlapTable:
    """Areas and pairwise intersections of the objects of two label images.

    Parameters
    ----------
    gt, pred : array_like of int, same shape (any number of axes, e.g.
        (Y, X) or (Z, Y, X))
        Label images, 0 = background; ids need not be contiguous.

    Returns
    -------
    OverlapTable

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([[1, 1, 0, 7]])
    >>> pred = np.array([[0, 2, 2, 2]])
    >>> t = overlap_table(gt, pred)
    >>> t.true_ids.tolist(), t.true_areas.tolist(), t.pred_areas.tolist()
    ([1, 7], [2, 1], [3])
    >>> t.intersections.tolist(), t.scores("iou").tolist()
    ([1, 1], [0.25, 0.3333333333333333])
    """
    gt, pred = check_label_pair(gt, pred)
    g, p, lengths = _runs(gt.reshape(-1), pred.reshape(-1))
    check_non_negative(g, "gt")  # the runs hold every value of the images
    check_non_negative(p, "pred")
    limit = max(gt.size, 1 << 16)  # most histogram cells we allocate densely
    g_max = int(g.max()) if g.size else 0
    p_max = int(p.max()) if p.size else 0

    g_ids = p_ids = None
    if (g_max + 1) * (p_max + 1) > limit and g_max >= p_max:
        g_ids, g = _relabel(g, g_max, limit)
        g_max = len(g_ids) - 1
    if (g_max + 1) * (p_max + 1) > limit:
        p_ids, p = _relabel(p, p_max, limit)
        p_max = len(p_ids) - 1
    if (g_max + 1) * (p_max + 1) > limit and g_ids is None:
        g_ids, g = _relabel(g, g_max, limit)
        g_max = len(g_ids) - 1

    n_cols = p_max + 1
    # The values are small by now (below ``limit`` or relabelled), so the
    # unsafe casts (from uint64, say) are exact.
    key = np.multiply(g, n_cols, dtype=np.int64, casting="unsafe")
    np.add(key, p, out=key, casting="unsafe")
    if (g_max + 1) * n_cols <= limit:
        histogram = np.bincount(key, weights=lengths, minlength=(g_max + 1) * n_cols)
        cells = np.flatnonzero(histogram != 0)
        counts = histogram[cells]
    else:
        cells, inverse = np.unique(key, return_inverse=True)
        counts = np.bincount(inverse.reshape(-1), weights=lengths)
    rows, cols = np.divmod(cells, n_cols)
    return _table(rows, cols, counts.astype(np.int64), g_max + 1, n_cols, g_ids, p_ids)


def _runs(g: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal ``(g, p)`` along two flat label arrays of one length.

    Returns the labels of each run (``g``'s and ``p``'s dtypes, shape
    (n_runs,)) and its length in pixels (intp). The arrays are scanned in
    chunks whose boolean buffers stay in the CPU cache; a run also ends at
    the end of a chunk, which keeps the counts exact.
    """
    new_run = np.empty(min(_CHUNK, g.size), np.bool_)
    p_changes = np.empty_like(new_run)
    run_g, run_p, run_lengths = [g[:0]], [p[:0]], [np.zeros(0, np.intp)]
    for start in range(0, g.size, _CHUNK):
        g_part, p_part = g[start : start + _CHUNK], p[start : start + _CHUNK]
        n = g_part.size
        new_run[0] = True
        np.not_equal(g_part[1:], g_part[:-1], out=new_run[1:n])
        np.not_equal(p_part[1:], p_part[:-1], out=p_changes[1:n])
        np.logical_or(new_run[1:n], p_changes[1:n], out=new_run[1:n])
        starts = np.flatnonzero(new_run[:n])
        lengths = np.empty_like(starts)
        np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
        lengths[-1] = n - starts[-1]
        run_g.append(g_part[starts])
        run_p.append(p_part[starts])
        run_lengths.append(lengths)
    return np.concatenate(run_g), np.concatenate(run_p), np.concatenate(run_lengths)


def _relabel(labels: np.ndarray, top: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Map the ids present in ``labels`` to ``0..n`` (0 stays background).

    Returns ``(ids, relabelled)``: ``ids[k]`` is the original id of new label
    ``k`` (``ids[0] == 0``); ``relabelled`` is intp, of ``labels``' shape.
    """
    if top < limit:  # a lookup table indexed by the original ids is affordable
        present = np.zeros(top + 1, np.bool_)
        present[labels] = True
        present[0] = True
        ids = np.flatnonzero(present)
        lookup = np.zeros(top + 1, np.intp)
        lookup[ids] = np.arange(len(ids))
        return ids, lookup[labels]
    ids, relabelled = np.unique(labels, return_inverse=True)
    relabelled = relabelled.reshape(-1)
    if ids[0] != 0:
        ids = np.concatenate([np.zeros(1, ids.dtype), ids])
        relabelled += 1
    return ids, relabelled


def _table(rows, cols, counts, n_rows, n_cols, g_ids, p_ids) -> OverlapTable:
    """Build the table from the non-zero histogram cells ``(rows, cols) -> counts``.

    ``rows < n_rows`` and ``cols < n_cols`` are label ids, relabelled ones
    when ``g_ids`` / ``p_ids`` (new id -> original id) are given.
    """
    true_areas = np.bincount(rows, weights=counts, minlength=n_rows).astype(np.int64)
    pred_areas = np.bincount(cols, weights=counts, minlength=n_cols).astype(np.int64)
    true_labels = np.flatnonzero(true_areas[1:]) + 1
    pred_labels = np.flatnonzero(pred_areas[1:]) + 1
    true_index = np.zeros(n_rows, np.intp)
    true_index[true_labels] = np.arange(len(true_labels))
    pred_index = np.zeros(n_cols, np.intp)
    pred_index[pred_labels] = np.arange(len(pred_labels))
    pairs = (rows > 0) & (cols > 0)
    return OverlapTable(
        true_ids=true_labels if g_ids is None else g_ids[true_labels],
        pred_ids=pred_labels if p_ids is None else p_ids[pred_labels],
        true_areas=true_areas[true_labels],
        pred_areas=pred_areas[pred_labels],
        pair_true=true_index[rows[pairs]],
        pair_pred=pred_index[cols[pairs]],
        intersections=counts[pairs],
    )
