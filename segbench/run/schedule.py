"""Scheduling: trainings and predictions on one set of workers.

Predictions that need no training (or whose model is already trained) are
ready at once; a training's predictions become ready the moment it ends.
While predictions are ready, one slot is kept for them (all slots when there
is only one), so they run beside the trainings; otherwise every free slot
starts a training. Each result is stored the moment it arrives, and each
failure becomes one line (:class:`segbench.run.plan.Failure`).
"""

from __future__ import annotations

from ..errors import InputError, SegbenchError
from .jobs import CellFailure, PredictJob, run_job
from .plan import Failure
from .progress import RunProgress
from .training import Training, read_progress, trained_record

__all__ = ["PROGRESS_POLL_SECONDS", "execute"]

#: seconds between looks at the running trainings' progress files
PROGRESS_POLL_SECONDS = 0.5


class _Schedule:
    """Which job starts next, as jobs finish (see the module docstring)."""

    def __init__(self, pending: list[PredictJob]):
        self.trainings: list[Training] = []
        self.waiting: dict[str, list[PredictJob]] = {}
        self.ready: list[PredictJob] = []
        self.running_trainings: set[str] = set()
        #: trainings already done (cached from an earlier run), by workdir
        self.trained: set[str] = set()
        for job in pending:
            training = job.train
            if training is None:
                self.ready.append(job)
                continue
            key = training.workdir
            if key not in self.trained and key not in self.waiting:
                if trained_record(training) is not None:
                    self.trained.add(key)
                else:
                    self.trainings.append(training)
            if key in self.trained:
                self.ready.append(job)
            else:
                self.waiting.setdefault(key, []).append(job)

    def next_job(self, slots: int) -> Training | PredictJob | None:
        max_trainings = max(slots - 1, 0) if self.ready else slots
        if self.trainings and len(self.running_trainings) < max_trainings:
            job = self.trainings.pop(0)
            self.running_trainings.add(job.workdir)
            return job
        if self.ready:
            return self.ready.pop(0)
        return None

    def training_done(self, job: Training, ok: bool) -> list[PredictJob]:
        """Mark a training finished; returns its predictions (ready if ``ok``,
        else to be reported as skipped)."""
        self.running_trainings.discard(job.workdir)
        unlocked = self.waiting.pop(job.workdir, [])
        if ok:
            self.ready.extend(unlocked)
        return unlocked


def execute(pending: list[PredictJob], executor, progress, store, summary, fresh: dict) -> None:
    """Run the ``pending`` predictions and the trainings they need on
    ``executor``; each result is stored at once (``fresh[(dataset, key)]`` =
    its rows), each failure added to ``summary.failures``, and ``progress``
    (a rich Progress) shows each running training with its epoch and loss."""
    schedule = _Schedule(pending)
    shown = RunProgress(progress, len(schedule.trainings), len(pending))

    def record(job, result, exc) -> None:
        if isinstance(job, Training):
            unlocked = schedule.training_done(job, exc is None)
            shown.training_finished(job, result if exc is None else None, len(unlocked))
            if exc is not None:
                summary.failures.append(Failure(
                    f"{job.dataset}: training {job.label!r}", f"{_one_line(exc)}; its {len(unlocked)} cells were skipped",
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

    def start(slots: int) -> Training | PredictJob | None:
        job = schedule.next_job(slots)
        if isinstance(job, Training):
            shown.training_started(job)
        elif job is not None:
            shown.prediction_started()
        return job

    for outcomes in executor.stream(run_job, start, lambda: PROGRESS_POLL_SECONDS if shown.running else None):
        for outcome in outcomes:
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
