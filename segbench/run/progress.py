"""What a run shows while it trains and predicts.

On a terminal: rich bars (trainings, predictions, one line per running
training with its epoch, loss and time left). Elsewhere (``segbench run ... >
log 2>&1``, CI): plain lines, so a log shows life: each training's start, a
line per tenth of its epochs, its end with its seconds, and the predictions'
count every tenth of them. Time left is estimated only from what was
measured: a training's from its own epoch times; the predictions' from their
recent pace, and none while every remaining prediction waits on a training.
At the end, :func:`group_failures` shows each distinct failure once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from ..errors import printable
from .training import Training, TrainingProgress

__all__ = ["RunProgress", "bars", "group_failures", "STEPS"]

#: plain lines come at every 1/STEPS of the predictions and of a training's epochs
STEPS = 10


class _TimeLeft(TimeRemainingColumn):
    """Time left: a task's own ``estimate`` field when it has one (seconds, or
    None: none known, shown blank), "after training" while it ``waits``, else
    rich's estimate from the task's recent pace."""

    def render(self, task: Task) -> Text:
        if task.fields.get("waits"):
            return Text("after training", style="progress.remaining")
        if "estimate" not in task.fields:
            return super().render(task)
        seconds = task.fields["estimate"]
        if seconds is None:
            return Text("")
        minutes, secs = divmod(int(round(seconds)), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"{hours}:{minutes:02d}:{secs:02d}", style="progress.remaining")


def bars(console: Console) -> Progress:
    """The run's rich progress display (disabled when ``console`` is not a terminal)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        _TimeLeft(),
        console=console,
        disable=not console.is_terminal,
        transient=False,
    )


@dataclass
class _Training:
    """A running training: its line, when it started and the last epoch seen."""

    job: Training
    line: int
    start: float
    epoch: int = 0
    total: int = 0
    seen: float = 0.0  # when ``epoch`` was first seen

    @property
    def name(self) -> str:
        return printable(f"{self.job.label} on {self.job.dataset}")

    def time_left(self, now: float) -> float | None:
        """From the seconds its epochs took so far; None before the first."""
        if self.epoch <= 0 or self.total <= 0:
            return None
        per_epoch = (self.seen - self.start) / self.epoch
        return max(per_epoch * (self.total - self.epoch) - (now - self.seen), 0.0)


class RunProgress:
    """The trainings and predictions of one run, shown on ``progress`` (from
    :func:`bars`) on a terminal, or as plain lines on its console otherwise."""

    def __init__(self, progress: Progress, n_trainings: int, n_predictions: int):
        self.progress, self.console = progress, progress.console
        self.plain = not self.console.is_terminal
        self.train_task = progress.add_task("train", total=n_trainings, visible=bool(n_trainings), estimate=None)
        self.predict_task = progress.add_task("predict", total=n_predictions)
        self.n_predictions, self.predicted, self.failed, self.in_flight = n_predictions, 0, 0, 0
        self.queued_trainings = n_trainings
        self.running: dict[str, _Training] = {}  # by workdir
        self.start = time.monotonic()

    def _say(self, text: str) -> None:
        if self.plain:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    # trainings

    def running_trainings(self) -> list[Training]:
        return [training.job for training in self.running.values()]

    def training_started(self, job: Training) -> None:
        line = self.progress.add_task(escape(f"  {job.label} on {job.dataset}"), total=None)
        training = _Training(job, line, time.monotonic())
        self.running[job.workdir] = training
        self.queued_trainings -= 1
        self._say(f"training {training.name}: started")

    def training_report(self, job: Training, report: TrainingProgress | None) -> None:
        """A training's latest progress report (None: none yet)."""
        training = self.running[job.workdir]
        now = time.monotonic()
        if report is not None and report.epoch != training.epoch:
            step = max(report.total // STEPS, 1)
            if report.epoch // step != training.epoch // step or report.epoch == report.total:
                loss = f", loss {report.loss:.4g}" if report.loss is not None else ""
                self._say(f"training {training.name}: epoch {report.epoch}/{report.total}{loss}, "
                          f"{now - training.start:.0f} s")
            training.epoch, training.total, training.seen = report.epoch, report.total, now
            loss = f" loss {report.loss:.4g}" if report.loss is not None else ""
            self.progress.update(training.line, completed=report.epoch, total=report.total,
                                 description=escape(f"  {job.label} on {job.dataset} "
                                                    f"epoch {report.epoch}/{report.total}{loss}"))
        self.progress.update(training.line, estimate=training.time_left(now))
        self.progress.update(self.train_task, estimate=self._trainings_left(now))

    def _trainings_left(self, now: float) -> float | None:
        """The trainings' time left: known only when none is queued and each
        running one has measured epochs."""
        left = [t.time_left(now) for t in self.running.values()]
        if self.queued_trainings or not left or None in left:
            return None
        return max(left)

    def training_finished(self, job: Training, record: dict | None, skipped: int) -> None:
        """A training ended: with its ``record``, or failed (None) and its
        ``skipped`` predictions count as done."""
        training = self.running.pop(job.workdir)
        self.progress.remove_task(training.line)
        self.progress.advance(self.train_task)
        if record is not None:
            self._say(f"training {training.name}: finished in {float(record.get('seconds', 0.0)):.1f} s")
            return
        self._say(f"training {training.name}: failed after {time.monotonic() - training.start:.1f} s; "
                  f"{skipped} predictions skipped")
        self._advance(skipped, failed=skipped)

    # predictions

    def prediction_started(self) -> None:
        self.in_flight += 1

    def prediction_finished(self, ok: bool) -> None:
        self.in_flight -= 1
        self._advance(1, failed=0 if ok else 1)

    def _advance(self, n: int, failed: int) -> None:
        before, self.predicted, self.failed = self.predicted, self.predicted + n, self.failed + failed
        self.progress.advance(self.predict_task, n)
        step = max(-(-self.n_predictions // STEPS), 1)
        if before // step != self.predicted // step or self.predicted == self.n_predictions:
            failures = f" ({self.failed} failed)" if self.failed else ""
            self._say(f"predictions: {self.predicted}/{self.n_predictions} done{failures}, "
                      f"{time.monotonic() - self.start:.0f} s")

    def waiting(self, ready: int) -> None:
        """Whether every remaining prediction waits on a training (``ready``:
        predictions that could start now)."""
        waits = not ready and not self.in_flight and self.predicted < self.n_predictions
        self.progress.update(self.predict_task, waits=waits)


def group_failures(failures: list, show: int = 3) -> list[str]:
    """One line per distinct message of ``failures`` (each with ``where`` and
    ``message``: :class:`segbench.run.plan.Failure`), naming up to ``show`` of
    the places it hit."""
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
