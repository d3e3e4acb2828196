"""Trained models: the training record the core writes beside what ``fit``
left, the progress file a running training updates, and the listing behind
``segbench models``.

Layout under a suite's output folder::

    train/<train dataset>/<segmenter>-<config id>-<train hash>/
        ...                       whatever the plugin's fit wrote (weights, config)
        segbench-training.json    the record, written last (its presence = trained)
        .segbench-progress.json   epoch, total, loss of a training in progress

A workdir without a record is an unfinished training and is trained again.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__

__all__ = [
    "TRAIN_RECORD",
    "PROGRESS_FILE",
    "TRAIN_FOLDER",
    "training_workdir",
    "ProgressFile",
    "TrainingProgress",
    "TrainedModel",
    "write_training_record",
    "read_training_record",
    "record_problem",
    "read_progress",
    "list_models",
]

#: the core's record of one finished training, in its workdir
TRAIN_RECORD = "segbench-training.json"
#: the running training's latest progress report (hidden: not part of the model's files hash)
PROGRESS_FILE = ".segbench-progress.json"
#: folder of the output that holds every training workdir
TRAIN_FOLDER = "train"


def training_workdir(output: str | Path, train_dataset: str, name: str, model_id: str, train_hash: str) -> Path:
    """The workdir of one training: ``OUTPUT/train/TRAIN_DATASET/NAME-MODEL_ID-HASH8``
    (``model_id`` says what the model is; ``train_hash`` what it learnt from)."""
    from ..results import slug

    return Path(output) / TRAIN_FOLDER / train_dataset / f"{slug(name)[:40]}-{model_id}-{train_hash[:8]}"


class ProgressFile:
    """The ``progress(epoch, total, loss)`` callback given to ``fit``: it
    records the latest report in the workdir, where the runner (in another
    process, or on another machine of a Dask cluster sharing the folder) reads it.

    Parameters
    ----------
    workdir : Path
        The training's workdir (created when missing).
    """

    def __init__(self, workdir: Path):
        self.path = Path(workdir) / PROGRESS_FILE
        self.start = time.time()

    def __call__(self, epoch: int, total: int, loss: float | None = None) -> None:
        from .store import atomic_write_text

        report = {
            "epoch": int(epoch),
            "total": int(total),
            "loss": None if loss is None else float(loss),
            "seconds": round(time.time() - self.start, 3),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(report))


@dataclass(frozen=True)
class TrainingProgress:
    """The latest report of a running training."""

    epoch: int
    total: int
    loss: float | None


def read_progress(workdir: str | Path) -> TrainingProgress | None:
    """The latest progress report in ``workdir`` (None before the first one)."""
    try:
        data = json.loads((Path(workdir) / PROGRESS_FILE).read_text())
        return TrainingProgress(int(data["epoch"]), int(data["total"]), data.get("loss"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_training_record(workdir: str | Path, seconds: float, **fields: Any) -> dict[str, Any]:
    """Write the record of a training that just ended in ``workdir`` after
    ``seconds``, hashing the files it left; returns the record.

    ``fields`` describe what was trained on what: ``train_dataset``,
    ``train_hash``, ``n_train_images``, ``segmenter`` (or ``generator``),
    ``label``, ``config_id``, ``params``, ``train_settings``, ``seed``,
    ``plugin_distribution``, ``plugin_version``."""
    from ..io import content_hash
    from .store import atomic_write_text

    workdir = Path(workdir)
    (workdir / PROGRESS_FILE).unlink(missing_ok=True)
    files = [p for p in workdir.rglob("*") if p.is_file()]
    record = {
        "seconds": round(float(seconds), 3),
        **fields,
        "files_sha256": content_hash(workdir) if files else "",
        "host": platform.node(),
        "segbench_version": __version__,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_text(workdir / TRAIN_RECORD, json.dumps(record, indent=2, default=str))
    return record


def read_training_record(workdir: str | Path) -> dict[str, Any] | None:
    """The record of a finished training, or None (not trained, unreadable, or
    not a record segbench writes: see :func:`record_problem`)."""
    record, _ = _read_record(Path(workdir) / TRAIN_RECORD)
    return record


def record_problem(record: Any) -> str:
    """What makes ``record`` unlike a training record segbench writes, or ``""``:
    it must be an object whose ``seconds`` is a finite number of seconds and
    whose ``params`` and ``train_settings`` are objects (or null)."""
    if not isinstance(record, dict):
        return f"holds a {type(record).__name__}, not a JSON object"
    seconds = record.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < float("inf"):
        return f"'seconds' must be a number of seconds, got {seconds!r:.40}"
    for key in ("params", "train_settings"):
        if not isinstance(record.get(key), (dict, type(None))):
            return f"{key!r} must be an object, got {record[key]!r:.40}"
    return ""


def _read_record(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The record at ``path`` and ``""``, or None and why it cannot be used."""
    try:
        record = json.loads(path.read_text())
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    except ValueError as exc:
        return None, f"is not valid JSON ({exc})"
    problem = record_problem(record)
    return (None, problem) if problem else (record, "")


@dataclass(frozen=True)
class TrainedModel:
    """One finished training found in a results folder."""

    path: Path
    record: dict[str, Any]
    size_bytes: int


def list_models(output: str | Path) -> tuple[list[TrainedModel], list[str]]:
    """Every finished training under ``output/train``, sorted by train dataset
    and label, and one line for each record that cannot be used (left out)."""
    models, problems = [], []
    for record_path in sorted(Path(output, TRAIN_FOLDER).glob(f"*/*/{TRAIN_RECORD}")):
        record, problem = _read_record(record_path)
        if record is None:
            problems.append(f"{record_path}: {problem}; left out (a run of its suite trains it again)")
            continue
        size = sum(p.stat().st_size for p in record_path.parent.rglob("*") if p.is_file())
        models.append(TrainedModel(record_path.parent, record, size))
    models.sort(key=lambda m: (str(m.record.get("train_dataset")), str(m.record.get("label"))))
    return models, problems
