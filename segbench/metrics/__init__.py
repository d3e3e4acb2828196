"""Exact, fast instance-segmentation scores: pure numpy/scipy.

- :func:`match`: tp/fp/fn, precision, recall, F1, accuracy (DSB/Cellpose
  "AP"), mean matched score and panoptic quality per threshold, with the
  optimal one-to-one assignment of StarDist's ``matching``.
- :func:`evaluate_image`: those rows plus Cell Tracking Challenge SEG, the
  Aggregated Jaccard Index and the 2018 Data Science Bowl score, all from
  one overlap table (:func:`overlap_table`), and the error counts of
  :mod:`segbench.metrics.errors` (found, merged, split, missed, spurious).
- :func:`pool`, :func:`summarize`, :func:`evaluate_dataset`: dataset-level
  scores (pooled counts, as StarDist's ``matching_dataset``).

Definitions and empty-case conventions: ``docs/metrics.md``.
"""

from .aggregate import pool, summarize
from .challenge import DSB_THRESHOLDS
from .errors import ERROR_KEYS, error_counts, error_profile
from .evaluation import DatasetScores, ImageScores, evaluate_dataset, evaluate_image
from .matching import match
from .overlap import OverlapTable, overlap_table
from .scores import ROW_KEYS
from .validation import CRITERIA, DEFAULT_THRESHOLDS, MetricInputError

__all__ = [
    "CRITERIA",
    "DEFAULT_THRESHOLDS",
    "DSB_THRESHOLDS",
    "ERROR_KEYS",
    "ROW_KEYS",
    "DatasetScores",
    "ImageScores",
    "MetricInputError",
    "OverlapTable",
    "evaluate_dataset",
    "error_counts",
    "error_profile",
    "evaluate_image",
    "match",
    "overlap_table",
    "pool",
    "summarize",
]
