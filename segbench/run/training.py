"""Training and fitting: fit once, keep the model, load it everywhere.

A segmenter's training (a suite entry with ``train:``) and a generator's fit
(a dataset with ``fit_on:``, or ``segbench generate --fit DIR``) are one
thing here: a train split goes in, a workdir comes out, a record is written
last, and the model is cached by what it is and what it learnt from
(docs/training.md).

Layout under a suite's output folder::

    train/<train dataset>/<plugin>-<key16>/
        ...                       whatever the plugin's fit wrote (weights, config)
        segbench-training.json    the record, written last (its presence = trained)
        .segbench-progress.json   epoch, total, loss of a training in progress

``key16`` starts the :attr:`Training.key`: a hash of the kind (segmenter or
generator), the plugin's name, distribution and version, its constructor
params, its ``fit`` settings, the train split's content and the seed. A
workdir without a record is an unfinished training and is trained again.

Parameter routing (one place): the constructor gets the params, plus
``spacing`` (the voxel size, micrometres per axis) when it accepts it;
``fit(train, workdir, **settings)`` gets the suite's settings plus ``seed``
and ``progress`` when it accepts them (:data:`segbench.suite.model.RESERVED_TRAIN_SETTINGS`
may not be set by a suite); ``load(workdir)`` restores the model in every
process that uses it. Post-processing params never reach this module.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .. import __version__
from ..errors import SegbenchError
from ..io import atomic_write_text, content_hash
from ..results import slug
from ..suite import config_id, derive_seed, stable_hash
from .data import SampleRef, split_dataset
from .store import safe_rmtree

if TYPE_CHECKING:
    from ..plugins import PluginInfo
    from .data import PreparedDataset

__all__ = [
    "TRAIN_RECORD", "PROGRESS_FILE", "TRAIN_FOLDER", "Training", "plan_training", "segmenter_seed", "generator_seed",
    "train", "trained_record", "build", "model_for", "ProgressFile", "TrainingProgress", "read_progress",
    "record_problem", "TrainedModel", "list_models",
]

#: the core's record of one finished training, in its workdir
TRAIN_RECORD = "segbench-training.json"
#: the running training's latest progress report (hidden: not part of the model's files hash)
PROGRESS_FILE = ".segbench-progress.json"
#: folder of the output that holds every training workdir
TRAIN_FOLDER = "train"

#: ``progress(epoch, total, loss)``: what ``fit`` calls as it goes
Progress = Callable[[int, int, "float | None"], None]


@dataclass(frozen=True)
class Training:
    """One model to fit once: a plugin config and the train split it learns from.

    Picklable (sample paths, the class by reference), so it travels to a
    process pool or a Dask worker. Made by :func:`plan_training`, never by hand.
    """

    #: "segmenter" or "generator"
    kind: str
    #: the plugin's registered name, and the suite's label for it (a segmenter
    #: entry's label, a generated dataset's name)
    name: str
    label: str
    cls: type
    #: constructor params (no post-processing ones, no ``n_images``)
    params: dict[str, Any]
    #: keywords for ``fit`` from the suite (``train:`` or ``fit:``)
    settings: dict[str, Any]
    #: the train dataset's name, its train split, voxel size and content hash
    dataset: str
    train_refs: tuple[SampleRef, ...]
    spacing: tuple[float, ...] | None
    train_hash: str
    seed: int
    #: the plugin's distribution and version (a new version trains a new model)
    plugin: tuple[str, str]
    #: the cache key (hex) and the workdir it names
    key: str
    workdir: str

    @property
    def config_id(self) -> str:
        """What the model is, without the data (:func:`segbench.suite.config_id`)."""
        return config_id(self.name, self.params, self.settings)


def segmenter_seed(suite_seed: int, train_name: str, name: str, params: dict[str, Any],
                   settings: dict[str, Any] | None) -> int:
    """The ``fit`` seed of segmenter ``name`` trained on dataset ``train_name``."""
    return derive_seed(suite_seed, "train", train_name, config_id(name, params, settings))


def generator_seed(suite_seed: int, dataset_name: str, name: str, params: dict[str, Any],
                   settings: dict[str, Any] | None) -> int:
    """The ``fit`` seed of generator ``name`` making dataset ``dataset_name``
    (derived as segbench 0.2 did, so fitted datasets stay bit-identical)."""
    return derive_seed(suite_seed, "fit", dataset_name,
                       stable_hash({"generator": name, "params": params, "fit": settings})[:12])


def plan_training(
    kind: str, info: PluginInfo, label: str, params: dict[str, Any], settings: dict[str, Any] | None,
    train: PreparedDataset, output: str | Path, seed: int, where: str,
) -> Training:
    """The training of plugin ``info`` (``kind`` "segmenter" or "generator")
    with ``params`` and ``settings`` on ``train``'s train split, after
    checking that split once.

    ``where`` names the suite key (or command-line option) in error messages;
    ``seed`` is the one passed to ``fit`` (part of the key): suites derive it
    with :func:`segmenter_seed` or :func:`generator_seed`.

    Raises
    ------
    SegbenchError
        One line: the train split is empty, has an image without a mask, or
        holds images of a dimensionality the plugin declares it cannot handle.
    """
    settings = dict(settings or {})
    problem = _split_problem(info.cls, params, train)
    if problem:
        raise SegbenchError(f"{where}: {problem}")
    key = stable_hash({
        "kind": kind,
        "plugin": [info.name, info.distribution, info.version],
        "params": params,
        "settings": settings,
        "train": train.train_hash,
        "seed": seed,
    })
    workdir = Path(output) / TRAIN_FOLDER / train.name / f"{slug(info.name)[:40]}-{key[:16]}"
    return Training(
        kind, info.name, label, info.cls, dict(params), settings, train.name, train.train, train.spacing,
        train.train_hash, seed, (info.distribution, info.version), key, str(workdir),
    )


def _split_problem(cls: type, params: dict[str, Any], train: PreparedDataset) -> str:
    """What makes ``train``'s train split unusable for ``cls``, or ``""``."""
    if not train.train:
        return (f"dataset {train.name!r} has no train split; give it split: {{train: N, test: M}}, "
                "or train on another dataset")
    unlabelled = [ref.name for ref in train.train if ref.mask_path is None]
    if unlabelled:
        return (f"dataset {train.name!r}: {len(unlabelled)} of its {len(train.train)} train images have no mask "
                f"(first: {unlabelled[0]}); training needs every train image annotated: add the masks "
                "or train on another dataset")
    reason = cls.skip(train.ndim, params) if train.ndim else None
    if reason:
        return f"{cls.name} cannot learn from {train.ndim}D dataset {train.name!r}: {reason}"
    return ""


def trained_record(training: Training) -> dict[str, Any] | None:
    """The record of ``training`` when it already ran to the end, else None."""
    record, _ = _read_record(Path(training.workdir) / TRAIN_RECORD)
    return record


def train(training: Training, progress: Progress | None = None) -> tuple[Any, dict[str, Any]]:
    """Fit ``training`` in this process, unless it already ran: returns the
    fitted model (None when it was cached) and the record.

    A workdir without a record (an interrupted training) is cleared first.
    ``progress`` defaults to a :class:`ProgressFile` in the workdir (read by
    the runner, maybe on another machine). The record is written last.
    """
    record = trained_record(training)
    if record is not None:
        return None, record
    workdir = Path(training.workdir)
    if workdir.exists():  # leftovers of an interrupted training; under OUTPUT/train/DATASET/
        safe_rmtree(workdir, workdir.parents[2])
    workdir.mkdir(parents=True)
    model = build(training.cls, training.params, training.spacing if training.kind == "segmenter" else None)
    settings = dict(training.settings)
    accepted = training.cls.train_params()
    if accepted is None or "seed" in accepted:
        settings.setdefault("seed", training.seed)
    if accepted is None or "progress" in accepted:
        settings["progress"] = progress or ProgressFile(workdir)
    dataset = split_dataset(f"{training.dataset}:train", training.train_refs, training.spacing)
    start = time.perf_counter()
    model.fit(dataset, workdir, **settings)
    seconds = time.perf_counter() - start
    return model, _write_record(training, seconds)


def _write_record(training: Training, seconds: float) -> dict[str, Any]:
    """Write the record of ``training``, which just ended after ``seconds``,
    hashing the files it left; returns the record."""
    workdir = Path(training.workdir)
    (workdir / PROGRESS_FILE).unlink(missing_ok=True)
    files = [p for p in workdir.rglob("*") if p.is_file()]
    record = {
        "seconds": round(float(seconds), 3),
        "kind": training.kind,
        training.kind: training.name,
        "label": training.label,
        "key": training.key,
        "config_id": training.config_id,
        "params": training.params,
        "train_settings": training.settings,
        "seed": training.seed,
        "train_dataset": training.dataset,
        "train_hash": training.train_hash,
        "n_train_images": len(training.train_refs),
        "plugin_distribution": training.plugin[0],
        "plugin_version": training.plugin[1],
        "files_sha256": content_hash(workdir) if files else "",
        "host": platform.node(),
        "segbench_version": __version__,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_text(workdir / TRAIN_RECORD, json.dumps(record, indent=2, default=str))
    return record


# ---------------------------------------------------------------------------
# models in a worker


def build(cls: type, params: dict[str, Any], spacing: tuple[float, ...] | None) -> Any:
    """``cls(**params)``, with ``spacing`` (a segmenter's voxel size) added when
    the constructor accepts it and the params do not set it; a constructor
    that rejects its params is a SegbenchError."""
    params = dict(params)
    accepted = cls.constructor_params()
    if spacing is not None and "spacing" not in params and (accepted is None or "spacing" in accepted):
        params["spacing"] = tuple(spacing)
    try:
        return cls(**params)
    except TypeError as exc:
        raise SegbenchError(f"bad parameters: {exc}") from None


#: the model this process used last, by what it is: one is kept (they can be large)
_MODEL: dict[str, Any] = {}
#: training records read by this process, by workdir (each read once)
_RECORDS: dict[str, dict[str, Any]] = {}


def model_for(
    cls: type, params: dict[str, Any], spacing: tuple[float, ...] | None, training: Training | None
) -> tuple[Any, dict[str, Any] | None]:
    """The model a prediction uses and its training record (None when untrained):
    built with the test dataset's ``spacing``, then restored with
    ``load(workdir)`` from what its training left. The last model and every
    record read are kept per process, so consecutive predictions with one
    config build and load once, and a record is read once."""
    workdir = training.workdir if training else None
    cache_key = json.dumps([cls.__module__, cls.__qualname__, params, workdir, spacing], sort_keys=True, default=str)
    if cache_key not in _MODEL:
        _MODEL.clear()
        model = build(cls, params, spacing)
        if training is not None:
            model.load(Path(training.workdir))
        _MODEL[cache_key] = model
    if training is not None and workdir not in _RECORDS:
        record = trained_record(training)
        if record is None:
            raise SegbenchError(f"its training left no record in {workdir}; run the suite again to train it")
        _RECORDS[workdir] = record
    return _MODEL[cache_key], _RECORDS.get(workdir) if workdir else None


# ---------------------------------------------------------------------------
# progress while training


class ProgressFile:
    """The ``progress(epoch, total, loss)`` callback given to ``fit`` in a
    worker: it records the latest report in the workdir, where the runner (in
    another process, or on another machine of a Dask cluster sharing the
    folder) reads it with :func:`read_progress`.

    Parameters
    ----------
    workdir : Path
        The training's workdir (created when missing).
    """

    def __init__(self, workdir: Path):
        self.path = Path(workdir) / PROGRESS_FILE
        self.start = time.time()

    def __call__(self, epoch: int, total: int, loss: float | None = None) -> None:
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


# ---------------------------------------------------------------------------
# records and the listing behind ``segbench models``


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
