"""Run a suite: the entry ``segbench run`` calls (:func:`run_suite`).

The unit of work, caching and resumption is one prediction: (dataset, image,
segmenter config). A run claims and locks its output folder
(:mod:`~segbench.run.output`), plans the cells and their trainings
(:mod:`~segbench.run.plan`, :mod:`~segbench.run.training`), runs what is not
stored yet (:mod:`~segbench.run.schedule`, shown by :mod:`~segbench.run.progress`),
and combines every cell into the results table. Each finished cell is stored
at once, so a run killed at any moment resumes where it stopped.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ContextManager

import pandas as pd
from rich.console import Console

from .. import __version__
from ..io import atomic_write_text
from ..plugins import Registry
from ..results import RUN_HISTORY, RUN_RECORD
from ..suite import Suite
from .checks import silent_models
from .executors import make_executor
from .output import open_output
from .plan import Failure, plan_suite
from .progress import bars
from .schedule import execute
from .store import ResultStore

__all__ = ["RunSummary", "run_suite", "plan_suite"]


@dataclass
class RunSummary:
    suite: str
    output: Path
    n_cells: int = 0
    n_cached: int = 0
    n_done: int = 0
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: warnings about the results themselves (a trained model that found almost
    #: nothing: :mod:`segbench.run.checks`), for the end of the run's output
    result_warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: stopped by Ctrl-C / SIGTERM; rerunning the same command resumes
    interrupted: bool = False
    #: the suite's combined results table (what results.parquet holds)
    results: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def n_failed(self) -> int:
        return len(self.failures)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "output": str(self.output),
            "cells": self.n_cells,
            "cached": self.n_cached,
            "computed": self.n_done,
            "failed": self.n_failed,
            "failures": [{"where": f.where, "message": f.message} for f in self.failures],
            "warnings": self.warnings + self.result_warnings,
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "segbench_version": __version__,
            "host": platform.node(),
        }


def run_suite(
    suite: Suite, registry: Registry, *, console: Console | None = None, csv: bool = False,
    around: Callable[[Path], ContextManager] | None = None,
) -> RunSummary:
    """Run every pending cell of the suite; returns the summary (also written to
    ``<output>/run.json``). Failures are collected per cell, never fatal.

    The run writes inside :func:`~segbench.run.output.open_output` (with
    ``around``, e.g. ``segbench run``'s log of what libraries print).
    """
    console = console or Console(stderr=True, soft_wrap=True, highlight=False)
    start = time.perf_counter()
    with open_output(suite, around):
        summary = RunSummary(suite.name, suite.output)
        summary.warnings = [str(p) for p in suite.problems] + list(suite.skipped)
        try:
            _run(suite, registry, console, csv, summary)
        except KeyboardInterrupt:
            summary.interrupted = True
            raise
        finally:
            summary.seconds = time.perf_counter() - start
            _write_run_record(suite.output, summary)
    return summary


def _run(suite: Suite, registry: Registry, console: Console, csv: bool, summary: RunSummary) -> None:
    plan = plan_suite(suite, registry, console=console)
    summary.failures.extend(plan.failures)
    summary.warnings.extend(plan.warnings)
    summary.n_cells = len(plan.cells)
    summary.n_cached = sum(c.cached for c in plan.cells)
    pending = [c.job for c in plan.cells if not c.cached]
    store = ResultStore(suite.output)
    fresh = {}  # cells computed now, kept for the final table
    if pending:
        ex = suite.executor
        with make_executor(ex.kind, ex.workers, ex.address, ex.tls) as executor, bars(console) as progress:
            execute(pending, executor, progress, store, summary, fresh)
    summary.results = store.combine(plan.keys, csv=csv, loaded={**plan.sound, **fresh})
    summary.result_warnings = silent_models(summary.results, plan.trainings)


def _write_run_record(output: Path, summary: RunSummary) -> None:
    """``run.json`` (this run) and one more line in ``run-history.jsonl``
    (every run, so a warm rerun does not hide the real run's summary)."""
    record = summary.as_dict()
    try:
        atomic_write_text(output / RUN_RECORD, json.dumps(record, indent=2))
        with open(output / RUN_HISTORY, "a", encoding="utf-8") as history:
            history.write(json.dumps(record) + "\n")
    except OSError:  # e.g. the disk is full: the cells are what matters, and they are kept
        pass
