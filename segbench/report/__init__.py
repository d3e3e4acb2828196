"""Leaderboards, renderings and plots from a results folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import SegbenchError
from .leaderboard import Leaderboard, bootstrap_f1, build_leaderboards

__all__ = ["Leaderboard", "bootstrap_f1", "build_leaderboards", "load_results"]


def load_results(folder: str | Path) -> tuple[pd.DataFrame, dict]:
    """Read ``results.parquet`` and the suite record from a results folder.

    Returns
    -------
    (results, suite) : (DataFrame, dict)
        ``suite`` has ``name``, ``iou_thresholds``, ``criterion`` and ``rank_by``.
    """
    folder = Path(folder)
    results_path = folder / "results.parquet"
    if not results_path.is_file():
        raise SegbenchError(
            f"{folder}: no results.parquet here; give the suite's output folder "
            "(run `segbench run SUITE` first)"
        )
    record_path = folder / "suite.json"
    suite = json.loads(record_path.read_text()) if record_path.is_file() else {}
    suite.setdefault("iou_thresholds", [0.5, 0.75, 0.9])
    suite.setdefault("rank_by", "f1@0.5")
    suite.setdefault("name", folder.name)
    return pd.read_parquet(results_path), suite
