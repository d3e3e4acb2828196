"""Run a suite: prepare data, plan cells, train, predict, score, store.

The unit of work, caching and resumption is one prediction: (dataset, image,
segmenter config). Its cache key hashes everything its numbers depend on (the
image and mask bytes, the segmenter, its version, constructor params, training
settings and train-split content, the post-processing grid, thresholds,
criterion, seed, segbench's version); a cell whose key is already stored is
never recomputed, and each finished cell is stored at once, so a run killed at
any moment resumes where it stopped.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .. import __version__
from ..errors import SegbenchError
from ..plugins import Registry
from ..suite import SegmenterConfig, Suite, derive_seed, stable_hash
from .data import PreparedDataset, prepare_dataset
from .executors import make_executor
from .jobs import CellFailure, PredictJob, TrainJob, run_job
from .store import ResultStore, atomic_write_text

__all__ = ["Cell", "Failure", "Plan", "group_failures", "RunSummary", "SUITE_RECORD", "plan_suite", "run_suite", "scoring_thresholds", "suite_record"]


#: what `segbench report` needs to know about the suite that wrote a results folder
SUITE_RECORD = "suite.json"


def suite_record(suite: Suite) -> dict[str, Any]:
    return {
        "name": suite.name,
        "path": str(suite.path),
        "seed": suite.seed,
        "iou_thresholds": list(suite.metrics.iou_thresholds),
        "criterion": suite.metrics.criterion,
        "rank_by": suite.metrics.rank_by,
    }


def scoring_thresholds(suite: Suite) -> tuple[float, ...]:
    """The suite's IoU thresholds plus the DSB ones (0.50:0.05:0.95), sorted."""
    from ..metrics import DSB_THRESHOLDS

    return tuple(sorted({round(float(t), 6) for t in (*suite.metrics.iou_thresholds, *DSB_THRESHOLDS)}))


@dataclass
class Cell:
    """One prediction of the matrix and whether its result is already stored."""

    job: PredictJob
    cached: bool


@dataclass
class Plan:
    """The expanded matrix of a suite."""

    suite: Suite
    cells: list[Cell] = field(default_factory=list)
    trainings: dict[tuple[str, str], TrainJob] = field(default_factory=dict)
    datasets: dict[str, PreparedDataset] = field(default_factory=dict)
    #: datasets not generated yet (dry run): name -> expected test images
    pending_datasets: dict[str, int | None] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    @property
    def keys(self) -> list[tuple[str, str]]:
        return [(c.job.dataset, c.job.key) for c in self.cells]


@dataclass(frozen=True)
class Failure:
    """One failed cell (``where`` = ``dataset/image``) or training or dataset."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


def group_failures(failures: list[Failure], show: int = 3) -> list[str]:
    """One line per distinct message, naming up to ``show`` of the places it hit."""
    groups: dict[str, list[str]] = {}
    for failure in failures:
        groups.setdefault(failure.message, []).append(failure.where)
    lines = []
    for message, wheres in groups.items():
        wheres = [w for w in wheres if w]
        if len(wheres) <= 1:
            lines.append(f"{wheres[0]}: {message}" if wheres else message)
        else:
            named = ", ".join(wheres[:show]) + (f", ... ({len(wheres)} cells)" if len(wheres) > show else "")
            lines.append(f"{named}: {message}")
    return lines


@dataclass
class RunSummary:
    suite: str
    output: Path
    n_cells: int = 0
    n_cached: int = 0
    n_done: int = 0
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
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
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "segbench_version": __version__,
            "host": platform.node(),
        }


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=False,
    )


def _cell_key(suite: Suite, ds: PreparedDataset, sample: str, config: SegmenterConfig, info, thresholds) -> str:
    return stable_hash(
        {
            "image": ds.hashes[sample],
            "segmenter": config.name,
            "plugin": [info.distribution, info.version],
            "params": config.params,
            "postprocess": list(config.postprocess_grid),
            "train": config.train,
            "train_data": ds.train_hash if config.train is not None else None,
            "thresholds": list(thresholds),
            "criterion": suite.metrics.criterion,
            "seed": suite.seed,
            "segbench": __version__,
        }
    )[:24]


def plan_suite(
    suite: Suite, registry: Registry, *, generate: bool = True, console: Console | None = None
) -> Plan:
    """Expand the suite into cells, marking the ones already stored.

    With ``generate=False`` (a dry run), generated datasets that do not exist yet
    are listed in ``plan.pending_datasets`` instead of being generated.
    """
    console = console or Console(stderr=True, soft_wrap=True, highlight=False)
    plan = Plan(suite)
    store = ResultStore(suite.output)
    thresholds = scoring_thresholds(suite)
    metric_classes = tuple(info.cls for info in registry.plugins["metric"].values())
    with _progress(console) as progress:
        for spec in suite.datasets:
            if not generate and spec.source != "path" and not (suite.output / "data" / spec.name).is_dir():
                plan.pending_datasets[spec.name] = spec.split["test"] if spec.split else spec.n_images
                continue
            task = progress.add_task(f"data {spec.name}", total=spec.n_images)
            try:
                ds = prepare_dataset(
                    spec, suite.seed, suite.output, registry,
                    progress=lambda done, total, t=task: progress.update(t, completed=done, total=total),
                )
            except SegbenchError as exc:
                plan.failures.append(Failure("", str(exc)))
                continue
            finally:
                progress.update(task, visible=progress.tasks[task].completed > 0)
            plan.datasets[spec.name] = ds
            for problem in ds.problems:
                console.print(f"[yellow]warning:[/] datasets.{spec.name}: {problem}", highlight=False)
            _plan_dataset(plan, suite, registry, ds, store, thresholds, metric_classes)
    return plan


def _plan_dataset(plan, suite, registry, ds, store, thresholds, metric_classes) -> None:
    for config in suite.configs:
        info = registry.get("segmenter", config.name)
        train_job = None
        if config.train is not None:
            if not ds.train:
                plan.failures.append(Failure(
                    f"segmenters.{config.label}.train",
                    f"dataset {ds.name!r} has no train split; add split: {{train: N, test: M}} to it "
                    f"or remove train: ({config.label} skipped on {ds.name})",
                ))
                continue
            # keyed by what the model is, not by its label: two labels of one config share it
            workdir = suite.output / "train" / ds.name / f"{_slug(config.name)}-{config.config_id}-{ds.train_hash[:8]}"
            train_job = TrainJob(
                ds.name, config, info.cls, ds.train, ds.spacing, str(workdir),
                derive_seed(suite.seed, "train", ds.name, config.config_id),
            )
            plan.trainings[(ds.name, config.config_id)] = train_job
        provenance = {
            "suite": suite.name,
            "seed": suite.seed,
            "segbench_version": __version__,
            "plugin_distribution": info.distribution,
            "plugin_version": info.version,
        }
        for ref in ds.test:
            key = _cell_key(suite, ds, ref.name, config, info, thresholds)
            job = PredictJob(
                ds.name, ref, key, config, info.cls, train_job, thresholds,
                suite.metrics.criterion, ds.spacing, provenance, metric_classes,
            )
            plan.cells.append(Cell(job, store.has(ds.name, key)))


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:40]


def run_suite(
    suite: Suite, registry: Registry, *, console: Console | None = None, csv: bool = False
) -> RunSummary:
    """Run every pending cell of the suite; returns the summary (also written to
    ``<output>/run.json``). Failures are collected per cell, never fatal."""
    console = console or Console(stderr=True, soft_wrap=True, highlight=False)
    start = time.perf_counter()
    suite.output.mkdir(parents=True, exist_ok=True)
    atomic_write_text(suite.output / SUITE_RECORD, json.dumps(suite_record(suite), indent=2))
    summary = RunSummary(suite.name, suite.output)
    summary.warnings = [str(p) for p in suite.problems] + list(suite.skipped)
    plan = plan_suite(suite, registry, console=console)
    summary.failures.extend(plan.failures)
    summary.n_cells = len(plan.cells)
    summary.n_cached = sum(c.cached for c in plan.cells)
    pending = [c.job for c in plan.cells if not c.cached]
    store = ResultStore(suite.output)
    fresh = {}  # cells computed now, kept for the final table

    if pending:
        ex = suite.executor
        with make_executor(ex.kind, ex.workers, ex.address) as executor, _progress(console) as progress:
            _execute(plan, pending, executor, progress, store, summary, fresh)

    summary.results = store.combine(plan.keys, csv=csv, loaded=fresh)
    summary.seconds = time.perf_counter() - start
    atomic_write_text(suite.output / "run.json", json.dumps(summary.as_dict(), indent=2))
    return summary


def _execute(plan: Plan, pending: list[PredictJob], executor, progress, store, summary, fresh) -> None:
    """Trainings first, with the predictions that need no training beside them;
    then the predictions of every config whose training succeeded. Each result
    is stored the moment it arrives."""
    needed = {(j.dataset, j.config.config_id) for j in pending if j.train is not None}
    trainings = [plan.trainings[key] for key in sorted(needed)]
    free = [j for j in pending if j.train is None]
    waiting = [j for j in pending if j.train is not None]
    train_task = progress.add_task("train", total=len(trainings), visible=bool(trainings))
    predict_task = progress.add_task("predict", total=len(pending))
    trained: dict[tuple[str, str], float] = {}

    def record(job, result, exc) -> None:
        if isinstance(job, TrainJob):
            progress.advance(train_task)
            if exc is None:
                trained[(job.dataset, job.config.config_id)] = float(result["seconds"])
                return
            skipped = [j for j in waiting if j.train is job]
            progress.advance(predict_task, len(skipped))
            summary.failures.append(Failure(
                f"{job.dataset}: training {job.config.label!r}",
                f"{_one_line(exc)}; its {len(skipped)} cells were skipped",
            ))
            return
        progress.advance(predict_task)
        if exc is not None:
            summary.failures.append(_failure(job, exc))
            return
        fresh[(job.dataset, job.key)] = store.write(job.dataset, job.key, result)
        summary.n_done += 1

    for outcome in executor.run(run_job, [*trainings, *free]):
        record(*outcome)
    runnable = []
    for job in waiting:
        key = (job.dataset, job.config.config_id)
        if key in trained:  # a failed training was reported once, with its cells
            job.provenance["train_seconds"] = trained[key]
            runnable.append(job)
    for outcome in executor.run(run_job, runnable):
        record(*outcome)


def _one_line(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, SegbenchError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def _failure(job: PredictJob, exc: BaseException) -> Failure:
    where = f"{job.dataset}/{job.sample.name}"
    if isinstance(exc, CellFailure):
        return Failure(where, _one_line(exc))
    return Failure(where, f"segmenter {job.config.label!r}: {_one_line(exc)}")
