"""Reading a results folder, and rendering what :mod:`segbench.leaderboard` and
:mod:`segbench.agreement` compute from it: terminal and Markdown tables, plots,
the HTML report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SegbenchError, printable
from ..results import RESULTS_FILE, SUITE_RECORD, Col
from ..suite.model import MetricsSpec

__all__ = ["load_results", "load_suite_record"]


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
        The folder does not exist, holds no results table, or one that
        segbench cannot have written (see :func:`check_results`).
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
    try:
        results = pd.read_parquet(results_path)
    except Exception as exc:  # noqa: BLE001 - a damaged file fails Parquet and Arrow in many ways
        raise SegbenchError(
            f"{results_path}: cannot be read as Parquet ({' '.join(str(exc).split())[:120]}); "
            "rerun the suite to rewrite it (its cells are kept)"
        ) from None
    check_results(results, results_path)
    return _printable_labels(results), load_suite_record(folder)


#: results columns that must hold a finite number on every row (counts and thresholds)
NUMBER_COLUMNS = (Col.THRESHOLD, Col.TP, Col.FP, Col.FN, Col.N_TRUE, Col.N_PRED, Col.SUM_MATCHED_SCORE,
                  Col.SEG_N, Col.AJI_INTERSECTION, Col.AJI_UNION)


def check_results(results: pd.DataFrame, path: Path) -> None:
    """Refuse, in one line, a results table no segbench run writes: a missing
    or non-finite number in :data:`NUMBER_COLUMNS`, a threshold outside (0, 1],
    or a ``params`` value that is not a JSON object."""
    fix = "rerun the suite (segbench run SUITE) to rewrite it from its cells"
    for column in (c for c in NUMBER_COLUMNS if c in results):
        values = pd.to_numeric(results[column], errors="coerce").to_numpy(dtype=float)
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise SegbenchError(f"{path}: {bad} row(s) have no finite number in column {column!r} (NaN, "
                                f"infinite or text); {fix}")
    if Col.THRESHOLD in results and not results[Col.THRESHOLD].between(0, 1, inclusive="right").all():
        raise SegbenchError(f"{path}: column 'threshold' holds values outside (0, 1]; {fix}")
    for value in results[Col.PARAMS].unique() if Col.PARAMS in results else ():
        try:
            parsed = json.loads(value)
        except (TypeError, ValueError):
            parsed = None
        if not isinstance(parsed, dict):
            raise SegbenchError(f"{path}: column 'params' holds {printable(value)[:60]!r}, not a JSON object; {fix}")


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
    (``name``: the folder's name; ``iou_thresholds``, ``criterion``, ``rank_by``:
    a suite's defaults, :class:`~segbench.suite.model.MetricsSpec`).

    Raises
    ------
    SegbenchError
        It is not valid JSON, not an object, or a key has the wrong type.
    """
    folder = Path(folder)
    record_path = folder / SUITE_RECORD
    fix = "rerun the suite to rewrite it"
    try:
        suite = json.loads(record_path.read_text()) if record_path.is_file() else {}
    except ValueError as exc:
        raise SegbenchError(f"{record_path}: not valid JSON ({exc}); {fix}") from None
    if not isinstance(suite, dict):
        raise SegbenchError(f"{record_path}: holds a {type(suite).__name__}, not a JSON object; {fix}")
    defaults = MetricsSpec()
    suite.setdefault("iou_thresholds", list(defaults.iou_thresholds))
    suite.setdefault("rank_by", defaults.rank_by)
    suite.setdefault("criterion", defaults.criterion)
    suite.setdefault("name", folder.name)
    problem = _suite_record_problem(suite)
    if problem:
        raise SegbenchError(f"{record_path}: {problem}; {fix}")
    return suite


def _suite_record_problem(suite: dict) -> str:
    """What is wrong with the types of a suite record's keys, or ``""``."""
    for key in ("name", "rank_by", "criterion"):
        if not isinstance(suite[key], str):
            return f"{key!r} must be text, got {printable(repr(suite[key]))[:60]}"
    thresholds = suite["iou_thresholds"]
    if not isinstance(thresholds, list) or not all(
        isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) for t in thresholds
    ):
        return f"'iou_thresholds' must be a list of numbers, got {printable(repr(thresholds))[:60]}"
    datasets = suite.get("datasets", [])
    if not isinstance(datasets, list) or not all(isinstance(d, dict) for d in datasets):
        return "'datasets' must be a list of objects"
    return ""
