"""Leaderboards, renderings, plots and the HTML report of a results folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import SegbenchError, printable
from ..results import RESULTS_FILE, SUITE_RECORD, Col
from .leaderboard import Leaderboard, bootstrap_ci, bootstrap_f1, build_leaderboards

__all__ = ["Leaderboard", "bootstrap_ci", "bootstrap_f1", "build_leaderboards", "load_results", "load_suite_record"]


def load_results(folder: str | Path) -> tuple[pd.DataFrame, dict]:
    """Read the results table and the suite record of a results folder.

    Returns
    -------
    (results, suite) : (DataFrame, dict)
        ``suite`` has at least ``name``, ``iou_thresholds``, ``criterion`` and
        ``rank_by`` (defaults where ``suite.json`` lacks them), and ``datasets``
        when the runner recorded them.

    Raises
    ------
    SegbenchError
        The folder does not exist, or holds no results table.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SegbenchError(
            f"{folder}: folder does not exist; give a suite's output folder (its `output:` key), "
            "e.g. results/fluorescent"
        )
    results_path = folder / RESULTS_FILE
    if not results_path.is_file():
        raise SegbenchError(
            f"{folder}: no {RESULTS_FILE} here; give the suite's output folder "
            "(run `segbench run SUITE` first)"
        )
    return _printable_labels(pd.read_parquet(results_path)), load_suite_record(folder)


#: results columns that leaderboards print (a results folder may come from someone else)
LABEL_COLUMNS = (Col.DATASET, Col.SEGMENTER, Col.SEGMENTER_NAME, Col.VARIANT, Col.TRAIN_DATASET)


def _printable_labels(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with the text of its :data:`LABEL_COLUMNS` made printable
    (:func:`segbench.errors.printable`)."""
    for column in LABEL_COLUMNS:
        if column in results:
            results[column] = results[column].map(lambda value: printable(value) if isinstance(value, str) else value)
    return results


def load_suite_record(folder: str | Path) -> dict:
    """``suite.json`` of a results folder, with defaults for the keys it lacks
    (``name``: the folder's name, ``iou_thresholds``, ``criterion``, ``rank_by``)."""
    folder = Path(folder)
    record_path = folder / SUITE_RECORD
    try:
        suite = json.loads(record_path.read_text()) if record_path.is_file() else {}
    except ValueError as exc:
        raise SegbenchError(f"{record_path}: not valid JSON ({exc}); rerun the suite to rewrite it") from None
    suite.setdefault("iou_thresholds", [0.5, 0.75, 0.9])
    suite.setdefault("rank_by", "f1@0.5")
    suite.setdefault("criterion", "iou")
    suite.setdefault("name", folder.name)
    return suite
