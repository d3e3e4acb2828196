"""How a prediction fails: each ground-truth object found, merged, split or
missed, and the predictions that lie on background.

Threshold-free counts from the overlap table (one pass over the pixels, no
matching), with "mostly" meaning more than half of an object's pixels:

- a prediction **covers** a true object when it holds most of its pixels
  (at most one prediction does: SEG's match), and **lies inside** a true
  object when most of its own pixels are in it;
- a prediction is a **merge** when it covers two or more true objects;
- a true object is **merged** when a merge covers it; **split** when it is
  not merged and two or more predictions lie inside it; **missed** when it is
  neither and no prediction covers it; **found** otherwise (one prediction
  covers it and covers nothing else). The four counts add up to the number
  of true objects;
- a prediction is **spurious** when it covers no true object and most of its
  pixels are background (in no true object).

``found`` is not ``tp``: a prediction that covers a true object but spills
far beyond it is found here and may still miss the IoU threshold there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .overlap import OverlapTable

#: the kinds of true objects, in the order they are reported; they partition the true objects
TRUE_KINDS = ("found", "merged", "split", "missed")
#: the per-image counts :func:`error_counts` returns (``n_`` + kind, and spurious predictions)
ERROR_KEYS = tuple(f"n_{kind}" for kind in TRUE_KINDS) + ("n_spurious",)


@dataclass(frozen=True)
class Coverage:
    """Which predictions cover and lie inside which true objects.

    Attributes
    ----------
    pieces : ndarray of int, shape (n_true,)
        Predictions lying mostly inside each true object.
    covers : ndarray of int, shape (n_pred,)
        True objects each prediction covers mostly.
    covered_by : ndarray of int, shape (n_true,)
        Index of the prediction covering each true object, -1 where none does.
    """

    pieces: np.ndarray
    covers: np.ndarray
    covered_by: np.ndarray

    @property
    def merge(self) -> np.ndarray:
        """Predictions that cover two or more true objects, bool (n_pred,)."""
        return self.covers >= 2

    @property
    def split(self) -> np.ndarray:
        """True objects with two or more predictions inside, bool (n_true,)."""
        return self.pieces >= 2


def coverage(table: OverlapTable) -> Coverage:
    """The covering and lying-inside relations of ``table`` (module docstring)."""
    inside = 2 * table.intersections > table.pred_areas[table.pair_pred]
    covering = 2 * table.intersections > table.true_areas[table.pair_true]
    covered_by = np.full(table.n_true, -1, dtype=np.intp)
    covered_by[table.pair_true[covering]] = table.pair_pred[covering]
    return Coverage(
        pieces=np.bincount(table.pair_true[inside], minlength=table.n_true),
        covers=np.bincount(table.pair_pred[covering], minlength=table.n_pred),
        covered_by=covered_by,
    )


def error_counts(table: OverlapTable) -> dict[str, int]:
    """Found, merged, split and missed true objects, and spurious predictions.

    Parameters
    ----------
    table : OverlapTable

    Returns
    -------
    dict
        ``n_found``, ``n_merged``, ``n_split``, ``n_missed`` (adding up to
        ``table.n_true``) and ``n_spurious`` (of ``table.n_pred``).

    Examples
    --------
    >>> from segbench.metrics import overlap_table
    >>> gt = np.array([[1, 1, 0, 2, 2, 0, 3, 3, 3, 3, 0, 4, 4, 0, 0]])
    >>> pred = np.array([[5, 5, 5, 5, 5, 0, 6, 6, 7, 7, 0, 0, 0, 0, 8]])
    >>> error_counts(overlap_table(gt, pred))
    {'n_found': 0, 'n_merged': 2, 'n_split': 1, 'n_missed': 1, 'n_spurious': 1}
    """
    cover = coverage(table)
    covered = cover.covered_by >= 0
    merged = np.zeros(table.n_true, dtype=bool)
    merged[covered] = cover.merge[cover.covered_by[covered]]
    split = ~merged & cover.split
    missed = ~merged & ~split & ~covered
    in_objects = np.bincount(table.pair_pred, weights=table.intersections, minlength=table.n_pred)
    spurious = (cover.covers == 0) & (2 * in_objects < table.pred_areas)
    counts = {
        "n_merged": int(merged.sum()),
        "n_split": int(split.sum()),
        "n_missed": int(missed.sum()),
    }
    return {"n_found": table.n_true - sum(counts.values()), **counts, "n_spurious": int(spurious.sum())}


def error_profile(images) -> dict[str, float]:
    """Pooled error fractions of a dataset, from per-image counts.

    Parameters
    ----------
    images : iterable of mapping
        Per-image mappings with :data:`ERROR_KEYS` and ``n_true``, ``n_pred``
        (a results table's rows, one per image).

    Returns
    -------
    dict
        ``found``, ``merged``, ``split``, ``missed``: that count summed over the
        images over the summed true objects; ``spurious``: spurious
        predictions over the summed predictions; ``n_true``, ``n_pred``. A
        fraction with nothing to divide by is NaN.

    Examples
    --------
    >>> error_profile([{"n_found": 3, "n_merged": 2, "n_split": 0, "n_missed": 1, "n_spurious": 1,
    ...                 "n_true": 6, "n_pred": 5}])["merged"]
    0.3333333333333333
    """
    totals = dict.fromkeys((*ERROR_KEYS, "n_true", "n_pred"), 0)
    for image in images:
        for key in totals:
            totals[key] += int(image[key])
    n_true, n_pred = totals["n_true"], totals["n_pred"]
    profile = {kind: totals[f"n_{kind}"] / n_true if n_true else float("nan") for kind in TRUE_KINDS}
    profile["spurious"] = totals["n_spurious"] / n_pred if n_pred else float("nan")
    return {**profile, "n_true": n_true, "n_pred": n_pred}
