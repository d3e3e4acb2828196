"""Optimal one-to-one assignment of true to predicted objects (the StarDist rule).

Definition (StarDist's ``matching``, also Cellpose's ``average_precision``):
with ``s`` the ``n_true x n_pred`` matrix of scores (0 for pairs that do not
overlap) and ``n_min = min(n_true, n_pred)``, solve the linear assignment
problem with cost ``-(s >= t) - s / (2 * n_min)`` over the dense matrix
(``n_min`` pairs are assigned); a true positive is an assigned pair with
``s >= t``. Because the second term sums to less than 1/2 over any
assignment, this maximises the number of pairs with ``s >= t`` and, among
assignments with that number, the total score of *all* assigned pairs
(including those below ``t``).

This module computes the same assignment without the dense matrix:

1. Pairs without overlap have cost 0, so the dense optimum is the
   maximum-weight matching of the sparse overlap graph with weights
   ``w = (s >= t) + s / (2 * n_min)``, padded with zero-cost pairs.
2. A pair with ``s >= t`` ("strong") whose objects have no other strong pair
   belongs to every optimal assignment: an assignment without it could swap
   in the pair, gaining 1 in the count and losing less than 1/2 in the
   tie-break. When every object has at most one strong pair (always the
   case for IoU with ``t > 0.5``) that is the whole answer.
3. Otherwise the remaining objects form independent connected components of
   the overlap graph; components without a strong pair add no true positive.
   The others are solved together as one sparse assignment problem
   (``scipy.sparse.csgraph.min_weight_full_bipartite_matching``, a dummy
   partner per true object standing for "no overlapping partner").

The number of true positives is therefore identical to the dense
definition. Where several assignments are exactly optimal, the dense solver
and this one may pick different ones; only then can the sum of matched
scores differ.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching


def optimal_matches(
    pair_true: np.ndarray,
    pair_pred: np.ndarray,
    scores: np.ndarray,
    n_true: int,
    n_pred: int,
    threshold: float,
) -> np.ndarray:
    """Which overlapping pairs the StarDist rule matches at ``threshold``.

    Parameters
    ----------
    pair_true, pair_pred : ndarray of int, shape (n_pairs,)
        Object indices (in ``0..n_true-1`` and ``0..n_pred-1``) of the pairs
        that overlap; each pair listed once.
    scores : ndarray of float, shape (n_pairs,)
        Score of each pair, in (0, 1].
    n_true, n_pred : int
        Number of true and predicted objects.
    threshold : float
        A pair can only be a match when its score is ``>= threshold``
        (``0 < threshold <= 1``).

    Returns
    -------
    ndarray of bool, shape (n_pairs,)
        True for the pairs that are true positives; no object is in two.

    Examples
    --------
    True object 0 overlaps predictions 0 and 1; true object 1 overlaps only
    prediction 0. Greedy matching by score would pair (0, 0) and leave true
    object 1 unmatched; the optimal assignment matches both:

    >>> import numpy as np
    >>> optimal_matches(np.array([0, 0, 1]), np.array([0, 1, 0]),
    ...                 np.array([0.8, 0.6, 0.7]), 2, 2, 0.5).tolist()
    [False, True, True]
    """
    strong = scores >= threshold
    strong_degree_true = np.bincount(pair_true[strong], minlength=n_true)
    strong_degree_pred = np.bincount(pair_pred[strong], minlength=n_pred)
    if strong_degree_true.max(initial=0) <= 1 and strong_degree_pred.max(initial=0) <= 1:
        return strong

    matched = strong & (strong_degree_true[pair_true] == 1) & (strong_degree_pred[pair_pred] == 1)
    free_true = np.ones(n_true, np.bool_)
    free_true[pair_true[matched]] = False
    free_pred = np.ones(n_pred, np.bool_)
    free_pred[pair_pred[matched]] = False
    open_pairs = np.flatnonzero(free_true[pair_true] & free_pred[pair_pred])
    open_pairs = _in_components_with_strong_pairs(open_pairs, pair_true, pair_pred, strong)
    chosen = _max_weight_matching(
        pair_true[open_pairs],
        pair_pred[open_pairs],
        strong[open_pairs] + scores[open_pairs] / (2 * min(n_true, n_pred)),
    )
    matched[open_pairs[chosen & strong[open_pairs]]] = True
    return matched


def _in_components_with_strong_pairs(pairs, pair_true, pair_pred, strong) -> np.ndarray:
    """The pairs among ``pairs`` whose connected component has a strong pair."""
    trues, true_node = np.unique(pair_true[pairs], return_inverse=True)
    preds, pred_node = np.unique(pair_pred[pairs], return_inverse=True)
    n_nodes = len(trues) + len(preds)
    graph = coo_matrix(
        (np.ones(len(pairs), np.int8), (true_node, len(trues) + pred_node)),
        shape=(n_nodes, n_nodes),
    )
    _, component = connected_components(graph, directed=False)
    pair_component = component[true_node]
    return pairs[np.isin(pair_component, pair_component[strong[pairs]])]


def _max_weight_matching(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Maximum-weight matching of a bipartite graph given by its edges.

    Parameters
    ----------
    rows, cols : ndarray of int, shape (n_edges,)
        End points of each edge (any integer ids; each pair at most once).
    weights : ndarray of float, shape (n_edges,)
        Edge weights, all in (0, 2).

    Returns
    -------
    ndarray of bool, shape (n_edges,)
        The edges in the matching.
    """
    row_ids, row = np.unique(rows, return_inverse=True)
    col_ids, col = np.unique(cols, return_inverse=True)
    n_rows, n_cols = len(row_ids), len(col_ids)
    # Every row also gets its own dummy column (cost 2: left unmatched), so a
    # matching that covers all rows always exists; real edges cost 2 - w.
    dummy = np.arange(n_rows)
    biadjacency = csr_matrix(
        (
            np.concatenate([2.0 - weights, np.full(n_rows, 2.0)]),
            (np.concatenate([row, dummy]), np.concatenate([col, n_cols + dummy])),
        ),
        shape=(n_rows, n_cols + n_rows),
    )
    matched_row, matched_col = min_weight_full_bipartite_matching(biadjacency)
    real = matched_col < n_cols
    edge_key = row.astype(np.int64) * n_cols + col
    order = np.argsort(edge_key)
    matched_key = matched_row[real].astype(np.int64) * n_cols + matched_col[real]
    chosen = np.zeros(len(rows), np.bool_)
    chosen[order[np.searchsorted(edge_key[order], matched_key)]] = True
    return chosen
