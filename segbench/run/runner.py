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
import os
import platform
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.markup import escape

from .. import __version__
from ..errors import InputError, SegbenchError, printable
from ..plugins import Registry
from ..results import LOCK_FILE, OUTPUT_MARKER, RUN_HISTORY, RUN_RECORD, SUITE_RECORD
from ..suite import SegmenterConfig, Suite, derive_seed, stable_hash
from ..suite.model import AUTO_SAVE_MAX_IMAGES
from .data import PreparedDataset, dataset_folder, prepare_dataset
from .checks import silent_models
from .executors import check_address, make_executor
from .jobs import CellFailure, PredictJob, TrainJob, run_job
from .models import read_progress, read_training_record, training_workdir
from .progress import RunProgress, bars
from .store import ResultStore, atomic_write_text

__all__ = ["Cell", "Failure", "Plan", "claim_output", "group_failures", "RunSummary", "SUITE_RECORD", "plan_suite", "run_suite", "scoring_thresholds", "suite_record"]


def suite_record(suite: Suite) -> dict[str, Any]:
    """What ``segbench report`` needs to know about the suite (``suite.json``)."""
    return {
        "name": suite.name,
        "path": str(suite.path),
        "seed": suite.seed,
        "iou_thresholds": list(suite.metrics.iou_thresholds),
        "criterion": suite.metrics.criterion,
        "rank_by": suite.metrics.rank_by,
        "datasets": [
            {"name": d.name, "folder": str(dataset_folder(d, suite.output)), "reference": d.reference}
            for d in suite.datasets
        ],
    }


def _keeps_predictions(suite: Suite, ds: PreparedDataset) -> bool:
    if suite.save_predictions == "auto":
        return len(ds.test) <= AUTO_SAVE_MAX_IMAGES
    return bool(suite.save_predictions)


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
    #: one line each: things noticed and repaired (damaged cells, changed datasets)
    warnings: list[str] = field(default_factory=list)
    #: the stored cells found sound while planning, (dataset, key) -> their rows: read once per run
    sound: dict[tuple[str, str], Any] = field(default_factory=dict)

    def expected_work(self) -> tuple[int, int, int]:
        """``(predictions, cached, trainings)`` this plan will run, counting the
        datasets of a dry run that are not generated yet."""
        configs = self.suite.configs
        predictions = len(self.cells) + sum((n or 0) * len(configs) for n in self.pending_datasets.values())
        trainings = {k for k, job in self.trainings.items() if read_training_record(job.workdir) is None}
        for name in self.pending_datasets:
            for config in configs:
                if config.train is not None and config.train_on in (None, name):
                    trainings.add((name, config.config_id))
        return predictions, sum(c.cached for c in self.cells), len(trainings)

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


def _cell_key(suite: Suite, ds: PreparedDataset, sample: str, config: SegmenterConfig, info, thresholds, train_hash) -> str:
    return stable_hash(
        {
            "image": ds.hashes[sample],
            "name": sample,  # two images with the same bytes are two cells, each with its own rows
            "segmenter": config.name,
            "label": config.label,  # rows carry it: two entries sharing a model keep their own cells
            "plugin": [info.distribution, info.version],
            "params": config.params,
            "postprocess": list(config.postprocess_grid),
            "train": config.train,
            "train_data": train_hash,
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

    Every dataset is prepared first (a segmenter may ``train_on`` another
    dataset than the one it is tested on). With ``generate=False`` (a dry run),
    generated datasets that do not exist yet are listed in
    ``plan.pending_datasets`` instead of being generated.
    """
    console = console or Console(stderr=True, soft_wrap=True, highlight=False)
    plan = Plan(suite)
    with bars(console) as progress:
        # datasets a generator is fitted on come first
        for spec in sorted(suite.datasets, key=lambda d: d.fit_on is not None):
            if not generate and spec.source != "path" and not dataset_folder(spec, suite.output).is_dir():
                plan.pending_datasets[spec.name] = spec.split["test"] if spec.split else spec.n_images
                continue
            if spec.fit_on is not None and spec.fit_on not in plan.datasets:
                plan.failures.append(Failure(
                    f"datasets.{spec.name}.fit_on", f"dataset {spec.fit_on!r} is not available (see above); skipped",
                ))
                continue
            task = progress.add_task(f"data {spec.name}", total=spec.n_images)
            fit_task = progress.add_task(f"  fit {spec.target} on {spec.fit_on}", total=None, visible=False)

            def fit_progress(epoch, total, loss=None, t=fit_task, spec=spec):
                shown = f" loss {loss:.4g}" if loss is not None else ""
                progress.update(t, completed=epoch, total=total, visible=True,
                                description=f"  fit {spec.target} on {spec.fit_on} {epoch}/{total}{shown}")

            try:
                ds = prepare_dataset(
                    spec, suite.seed, suite.output, registry,
                    progress=lambda done, total, t=task: progress.update(t, completed=done, total=total),
                    fit_on=plan.datasets.get(spec.fit_on) if spec.fit_on else None,
                    fit_progress=fit_progress,
                )
            except SegbenchError as exc:
                plan.failures.append(Failure("", str(exc)))
                continue
            finally:
                written = next(t for t in progress.tasks if t.id == task).completed
                progress.update(task, visible=written > 0)
                progress.remove_task(fit_task)
            plan.datasets[spec.name] = ds
            plan.warnings.extend(f"datasets.{spec.name}: {problem}" for problem in ds.problems)
    store = ResultStore(suite.output)
    thresholds = scoring_thresholds(suite)
    metric_classes = tuple(info.cls for info in registry.plugins["metric"].values())
    for ds in plan.datasets.values():
        _plan_dataset(plan, suite, registry, ds, store, thresholds, metric_classes)
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/] {escape(printable(warning))}", highlight=False)
    return plan


def _training(plan: Plan, suite: Suite, config: SegmenterConfig, info, test_ds: PreparedDataset) -> TrainJob | None:
    """The training whose model ``config`` predicts ``test_ds`` with (shared by
    every dataset it is tested on); None, with a failure noted, when it cannot train."""
    train_name = config.train_on or test_ds.name
    train_ds = plan.datasets.get(train_name)
    where = f"segmenters.{config.label}"
    if train_ds is None:  # a train_on dataset that could not be prepared (reported above)
        plan.failures.append(Failure(
            f"{where}.train_on", f"dataset {train_name!r} is not available (see above); {config.label} skipped",
        ))
        return None
    if not train_ds.train:
        plan.failures.append(Failure(
            f"{where}.train",
            f"dataset {train_name!r} has no train split; add split: {{train: N, test: M}} to it, "
            f"name another dataset with train_on:, or remove train: ({config.label} skipped on {test_ds.name})",
        ))
        return None
    key = (train_name, config.config_id)
    if key not in plan.trainings:
        # keyed by what the model is, not by its label: two labels of one config share it
        # a new plugin version (new code, new defaults) trains a new model
        model_id = stable_hash([config.config_id, info.distribution, info.version])[:12]
        workdir = training_workdir(suite.output, train_name, config.name, model_id, train_ds.train_hash)
        plan.trainings[key] = TrainJob(
            train_name, config, info.cls, train_ds.train, train_ds.spacing, str(workdir),
            derive_seed(suite.seed, "train", train_name, config.config_id), train_ds.train_hash,
            {"plugin_distribution": info.distribution, "plugin_version": info.version},
        )
    return plan.trainings[key]


def _plan_dataset(plan, suite, registry, ds, store, thresholds, metric_classes) -> None:
    for config in suite.configs:
        info = registry.get("segmenter", config.name)
        train_job = None
        if config.train is not None:
            train_job = _training(plan, suite, config, info, ds)
            if train_job is None:
                continue
        provenance = {
            "suite": suite.name,
            "seed": suite.seed,
            "segbench_version": __version__,
            "plugin_distribution": info.distribution,
            "plugin_version": info.version,
        }
        train_hash = plan.datasets[train_job.dataset].train_hash if train_job else None
        for ref in ds.test:
            key = _cell_key(suite, ds, ref.name, config, info, thresholds, train_hash)
            job = PredictJob(
                ds.name, ref, key, config, info.cls, train_job, thresholds,
                suite.metrics.criterion, ds.spacing, provenance, metric_classes,
                str(suite.output) if _keeps_predictions(suite, ds) else None,
            )
            table, damage = store.load(ds.name, key) if store.has(ds.name, key) else (None, None)
            if damage is not None:  # not trusted: computed again, and replaced when it is
                plan.warnings.append(f"{store.cell_path(ds.name, key)}: {damage}; computed again")
            if table is not None:
                plan.sound[(ds.name, key)] = table
            plan.cells.append(Cell(job, table is not None))


def run_suite(
    suite: Suite, registry: Registry, *, console: Console | None = None, csv: bool = False
) -> RunSummary:
    """Run every pending cell of the suite; returns the summary (also written to
    ``<output>/run.json``). Failures are collected per cell, never fatal."""
    console = console or Console(stderr=True, soft_wrap=True, highlight=False)
    start = time.perf_counter()
    check_address(suite.executor.address, suite.executor.address_confirmed)
    claim_output(suite.output)
    with output_lock(suite.output):
        atomic_write_text(suite.output / SUITE_RECORD, json.dumps(suite_record(suite), indent=2))
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
        with make_executor(ex.kind, ex.workers, ex.address, ex.tls, ex.address_confirmed) as executor, bars(console) as progress:
            _execute(plan, pending, executor, progress, store, summary, fresh)
    summary.results = store.combine(plan.keys, csv=csv, loaded={**plan.sound, **fresh})
    summary.result_warnings = silent_models(summary.results, plan.trainings)


@contextmanager
def output_lock(output: Path):
    """Hold the output folder's lock for the block; a second run into the same
    folder stops at once with one line instead of interleaving its writes."""
    from filelock import FileLock, Timeout

    path = output / LOCK_FILE
    if path.is_symlink() or (path.exists() and not path.is_file()):
        kind = "a link" if path.is_symlink() else "a folder" if path.is_dir() else "a special file"
        raise SegbenchError(
            f"{path}: is {kind}, not segbench's lock file; remove it (segbench makes its own), then run again"
        )
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise SegbenchError(
            f"output: another segbench run is writing to {output} (it holds {LOCK_FILE}); "
            "wait for it to finish, or give this run another --output"
        ) from None
    except OSError as exc:  # e.g. /sys or a read-only folder
        raise SegbenchError(
            f"output: cannot lock {output} ({exc.strerror or exc}); choose a folder you can write to"
        ) from None
    try:
        yield
    finally:
        lock.release()


def claim_output(output: Path) -> None:
    """Make ``output`` segbench's: create it, or take an existing folder only
    when it is empty or segbench wrote it (it holds :data:`OUTPUT_MARKER`, or,
    from runs before the marker, the lock file); then mark it. Any
    other folder is the user's own and is never written into."""
    try:
        foreign = output.is_dir() and not _written_by_segbench(output) and any(output.iterdir())
    except OSError as exc:
        raise SegbenchError(f"output: cannot read {output} ({exc.strerror}); choose a folder you can write to") from None
    if foreign:
        raise SegbenchError(
            f"output: {output} already holds files and was not created by segbench (it has no {OUTPUT_MARKER}); "
            "segbench writes only into a new or empty folder: choose one with output: or --output"
        )
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SegbenchError(
            f"output: cannot create {output} ({exc.strerror}); choose a folder you can write to"
        ) from None
    if not os.access(output, os.W_OK | os.X_OK):
        raise SegbenchError(f"output: {output} is not writable; choose a folder you can write to")
    if not (output / OUTPUT_MARKER).is_file():
        atomic_write_text(output / OUTPUT_MARKER, f"written by segbench {__version__}\n")


def _written_by_segbench(folder: Path) -> bool:
    """True when ``folder`` carries segbench's output marker (or, from runs before
    the marker existed, the lock file every run leaves)."""
    return (folder / OUTPUT_MARKER).is_file() or (folder / LOCK_FILE).is_file()


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


#: seconds between looks at the running trainings' progress files
PROGRESS_POLL_SECONDS = 0.5


class _Schedule:
    """Which job starts next, as jobs finish.

    Predictions that need no training (or whose model is already trained) are
    ready at once; a training's predictions become ready the moment it ends.
    While predictions are ready, one slot is kept for them (all slots when
    there is only one), so they run beside the trainings; otherwise every free
    slot starts a training.
    """

    def __init__(self, plan: Plan, pending: list[PredictJob]):
        self.trainings: list[TrainJob] = []
        self.waiting: dict[tuple[str, str], list[PredictJob]] = {}
        self.ready: list[PredictJob] = []
        self.running_trainings: set[tuple[str, str]] = set()
        #: trainings already done: key -> record (cached from an earlier run)
        self.trained: dict[tuple[str, str], dict] = {}
        for job in pending:
            key = _train_key(job.train) if job.train is not None else None
            if key is None:
                self.ready.append(job)
                continue
            if key not in self.trained and key not in self.waiting:
                record = read_training_record(job.train.workdir)
                if record is not None:
                    self.trained[key] = record
                else:
                    self.trainings.append(job.train)
            if key in self.trained:
                self.ready.append(job)
            else:
                self.waiting.setdefault(key, []).append(job)

    def next_job(self, slots: int) -> TrainJob | PredictJob | None:
        max_trainings = max(slots - 1, 0) if self.ready else slots
        if self.trainings and len(self.running_trainings) < max_trainings:
            job = self.trainings.pop(0)
            self.running_trainings.add(_train_key(job))
            return job
        if self.ready:
            return self.ready.pop(0)
        return None

    def training_done(self, job: TrainJob, ok: bool) -> list[PredictJob]:
        """Mark a training finished; returns its predictions (ready if ``ok``,
        else to be reported as skipped)."""
        key = _train_key(job)
        self.running_trainings.discard(key)
        unlocked = self.waiting.pop(key, [])
        if ok:
            self.ready.extend(unlocked)
        return unlocked


def _train_key(job: TrainJob) -> tuple[str, str]:
    return (job.dataset, job.config.config_id)


def _execute(plan: Plan, pending: list[PredictJob], executor, progress, store, summary, fresh) -> None:
    """Run trainings and predictions on the same workers (see :class:`_Schedule`);
    each result is stored the moment it arrives, and :class:`RunProgress`
    shows each running training with its epoch and loss."""
    schedule = _Schedule(plan, pending)
    shown = RunProgress(progress, len(schedule.trainings), len(pending))

    def record(job, result, exc) -> None:
        if isinstance(job, TrainJob):
            unlocked = schedule.training_done(job, exc is None)
            shown.training_finished(job, result if exc is None else None, len(unlocked))
            if exc is not None:
                summary.failures.append(Failure(
                    f"{job.dataset}: training {job.config.label!r}",
                    f"{_one_line(exc)}; its {len(unlocked)} cells were skipped",
                ))
            return
        shown.prediction_finished(exc is None)
        if exc is not None:
            failure = _failure(job, exc)
            if not (isinstance(exc, InputError) and failure in summary.failures):  # a bad file: once
                summary.failures.append(failure)
            return
        try:
            fresh[(job.dataset, job.key)] = store.write(job.dataset, job.key, result)
        except OSError as exc:  # e.g. the disk is full: no cell is damaged (atomic writes); stop
            raise SegbenchError(
                f"cannot write {store.cell_path(job.dataset, job.key)} ({exc.strerror or exc}); "
                "free space or fix the folder, then run again: finished cells are kept"
            ) from None
        summary.n_done += 1

    while True:
        while executor.in_flight < executor.slots:
            job = schedule.next_job(executor.slots)
            if job is None:
                break
            if isinstance(job, TrainJob):
                shown.training_started(job)
            else:
                shown.prediction_started()
            executor.submit(run_job, job)
        if not executor.in_flight:
            break
        for outcome in executor.wait(timeout=PROGRESS_POLL_SECONDS if shown.running else None):
            record(*outcome)
        for job in shown.running_trainings():
            shown.training_report(job, read_progress(job.workdir))
        shown.waiting(len(schedule.ready))


def _one_line(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, SegbenchError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def _failure(job: PredictJob, exc: BaseException) -> Failure:
    where = f"{job.dataset}/{job.sample.name}"
    if isinstance(exc, InputError):  # reading the sample: a data problem (a segmenter's own files fail as CellFailure)
        return Failure("", f"datasets.{job.dataset}: {_one_line(exc)}")
    if isinstance(exc, CellFailure):
        return Failure(where, _one_line(exc))
    return Failure(where, f"segmenter {job.config.label!r}: {_one_line(exc)}")
