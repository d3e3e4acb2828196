"""Jobs and the functions that run them inside a worker.

Jobs are small picklable records: they carry file paths, not arrays, and the
segmenter class by reference, so they travel to a process pool or a Dask worker
unchanged. A worker keeps the most recently used model in memory, so
consecutive predictions with one segmenter config build (and load) it once.
"""

from __future__ import annotations

import json
import platform
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..api import Dataset, Sample, Segmenter
from ..errors import InputError, SegbenchError
from ..results import Col, prediction_relpath
from ..suite import SegmenterConfig, stable_hash
from .models import ProgressFile, read_training_record, write_training_record
from .store import safe_rmtree

__all__ = [
    "SampleRef", "TrainJob", "PredictJob", "CellFailure", "split_dataset",
    "run_job", "run_training", "run_prediction",
]


@dataclass(frozen=True)
class SampleRef:
    """Where one sample lives on disk (see :class:`segbench.io.FilePair`)."""

    name: str
    image_path: str
    #: a label image file, or a folder of one binary mask per object
    mask_path: str | None
    #: read the image as grey when its colour channels are equal
    grey: bool = False

    def load(self, spacing: tuple[float, ...] | None = None) -> Sample:
        """Read the sample (InputError naming the file when it is bad)."""
        from ..io import read_sample

        return read_sample(self.image_path, self.mask_path, self.name, spacing, self.grey)


def split_dataset(name: str, refs, spacing: tuple[float, ...] | None) -> Dataset:
    """A :class:`segbench.Dataset` that reads the samples of ``refs`` lazily."""
    return Dataset(name, names=[r.name for r in refs], loaders=[lambda r=r: r.load(spacing) for r in refs],
                   spacing=spacing)


@dataclass(frozen=True)
class TrainJob:
    """Train one segmenter config on one dataset's train split, once.

    ``dataset`` is the train dataset; ``train_hash`` the content hash of its
    train split; ``provenance`` the plugin's distribution and version (for the
    training record).
    """

    dataset: str
    config: SegmenterConfig
    cls: type
    train_refs: tuple[SampleRef, ...]
    spacing: tuple[float, ...] | None
    workdir: str
    seed: int
    train_hash: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)

    def train_dataset(self) -> Dataset:
        return split_dataset(self.dataset + ":train", self.train_refs, self.spacing)


@dataclass(frozen=True)
class PredictJob:
    """One prediction: (dataset, image, segmenter config), scored at every
    post-processing variant and threshold. ``train`` is the training whose
    model it uses (None for a segmenter used as it is)."""

    dataset: str
    sample: SampleRef
    key: str
    config: SegmenterConfig
    cls: type
    train: TrainJob | None
    thresholds: tuple[float, ...]
    criterion: str
    spacing: tuple[float, ...] | None
    provenance: dict[str, Any] = field(default_factory=dict)
    metric_classes: tuple[type, ...] = ()
    #: the output folder when predicted label images are kept, else None
    predictions_root: str | None = None


class CellFailure(SegbenchError):
    """A cell failed; its message is the one line shown in the summary."""


# ---------------------------------------------------------------------------
# model construction (cached per worker process)

_MODEL_CACHE: dict[str, Any] = {}


def _build(cls: type[Segmenter], config: SegmenterConfig, spacing) -> Segmenter:
    params = dict(config.params)
    accepted = cls.constructor_params()
    if spacing is not None and "spacing" not in params and (accepted is None or "spacing" in accepted):
        params["spacing"] = tuple(spacing)
    try:
        return cls(**params)
    except TypeError as exc:
        raise CellFailure(f"segmenter {config.label!r}: bad parameters: {exc}") from None


def _fit(model: Segmenter, job: TrainJob, progress=None) -> float:
    """Call ``fit`` with the suite's ``train:`` settings, plus ``seed`` and
    ``progress`` where ``fit`` accepts them; returns the seconds it took."""
    settings = dict(job.config.train or {})
    accepted = type(model).train_params()
    if "seed" not in settings and (accepted is None or "seed" in accepted):
        settings["seed"] = job.seed
    if progress is not None and (accepted is None or "progress" in accepted):
        settings["progress"] = progress
    workdir = Path(job.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    model.fit(job.train_dataset(), workdir, **settings)  # type: ignore[attr-defined]
    return time.perf_counter() - start


def _model_for(cls, config: SegmenterConfig, train: TrainJob | None, spacing) -> Segmenter:
    """The model for a prediction: built, then restored with ``load(workdir)``
    from what its training left (a plugin without ``load`` gets ``fit`` again:
    the legacy path). One model is kept per worker process."""
    cache_key = json.dumps([cls.__module__, cls.__qualname__, config.config_id, train.workdir if train else None, spacing])
    cached = _MODEL_CACHE.get(cache_key)
    if cached is not None:
        return cached
    _MODEL_CACHE.clear()  # keep one model per worker: they can be large
    model = _build(cls, config, spacing)
    if train is not None:
        if type(model).can_load():
            model.load(Path(train.workdir))  # type: ignore[attr-defined]
        else:
            _fit(model, train)
    _MODEL_CACHE[cache_key] = model
    return model


def run_training(job: TrainJob) -> dict[str, Any]:
    """Train one config: clear its workdir, call ``fit`` once, and write the
    training record (:data:`segbench.run.models.TRAIN_RECORD`). Returns the record.

    The record is written last, so a workdir without one is an unfinished
    training (a killed run) and is trained again from scratch."""
    workdir = Path(job.workdir)
    if workdir.exists():  # leftovers of an interrupted training; under OUTPUT/train/DATASET/
        safe_rmtree(workdir, workdir.parents[2])
    model = _build(job.cls, job.config, job.spacing)
    seconds = _fit(model, job, progress=ProgressFile(workdir))
    return write_training_record(
        workdir, seconds,
        train_dataset=job.dataset, train_hash=job.train_hash, n_train_images=len(job.train_refs),
        segmenter=job.config.name, label=job.config.label, config_id=job.config.config_id,
        params=job.config.params, train_settings=job.config.train, seed=job.seed, **job.provenance,
    )

# ---------------------------------------------------------------------------
# prediction


@contextmanager
def _time_limit(seconds: float | None, what: str):
    """Raise CellFailure after ``seconds`` (SIGALRM; only in a main thread on POSIX).

    Elsewhere (e.g. Dask worker threads) the limit is checked after the call."""
    usable = seconds and hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        start = time.perf_counter()
        yield
        if seconds and time.perf_counter() - start > seconds:
            raise CellFailure(f"{what} exceeded the per-image timeout of {seconds:g} s")
        return

    def on_alarm(signum, frame):
        raise CellFailure(f"{what} exceeded the per-image timeout of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _check_labels(labels: Any, shape: tuple[int, ...], label: str) -> np.ndarray:
    if not isinstance(labels, np.ndarray):
        raise CellFailure(f"segmenter {label!r} returned {type(labels).__name__}, expected a numpy label image")
    if labels.shape != shape:
        raise CellFailure(f"segmenter {label!r} returned shape {labels.shape}, expected {shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise CellFailure(f"segmenter {label!r} returned dtype {labels.dtype}, expected an integer label image")
    if labels.size and labels.min() < 0:
        raise CellFailure(f"segmenter {label!r} returned negative labels")
    return labels


def _score_rows(job: PredictJob, gt: np.ndarray, pred: np.ndarray) -> list[dict[str, Any]]:
    from ..metrics import evaluate_image

    scores = evaluate_image(gt, pred, thresholds=job.thresholds, criterion=job.criterion)
    image_level = {
        "seg": scores.seg,
        "seg_sum": scores.seg_sum,
        "seg_n": scores.seg_n,
        "aji": scores.aji,
        "aji_intersection": scores.aji_intersection,
        "aji_union": scores.aji_union,
        "dsb_mean_accuracy": scores.dsb_mean_accuracy,
    }
    for metric_cls in job.metric_classes:
        for name, value in metric_cls().compute(gt, pred).items():
            image_level[f"{metric_cls.name}.{name}"] = float(value)
    return [{**row, **image_level} for row in scores.rows]


def run_prediction(job: PredictJob) -> list[dict[str, Any]]:
    """Predict one image with one config, post-process every variant, score every
    threshold; returns the result rows. Raises CellFailure (one line) on failure."""
    sample = job.sample.load(job.spacing)
    if sample.labels is None:
        raise CellFailure(f"{job.sample.image_path}: no ground-truth mask to score against")
    config = job.config
    try:
        model = _model_for(job.cls, config, job.train, job.spacing)
    except InputError as exc:  # the segmenter's own file (weights), not the dataset's
        raise CellFailure(f"segmenter {config.label!r}: {exc}") from None
    except SegbenchError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CellFailure(f"segmenter {config.label!r} failed to load/train: {type(exc).__name__}: {exc}") from exc
    what = f"segmenter {config.label!r}"
    outputs: list[tuple[dict[str, Any], np.ndarray, float]] = []
    try:
        if type(model).has_raw_split():
            with _time_limit(config.timeout, what):
                start = time.perf_counter()
                raw = model.predict_raw(sample.image)
                raw_seconds = time.perf_counter() - start
            for variant in config.postprocess_grid:
                with _time_limit(config.timeout, what):
                    start = time.perf_counter()
                    labels = model.postprocess(raw, **variant)
                    outputs.append((variant, labels, time.perf_counter() - start))
        else:
            with _time_limit(config.timeout, what):
                start = time.perf_counter()
                labels = model.predict(sample.image)
                raw_seconds = time.perf_counter() - start
            outputs.append(({}, labels, 0.0))
    except InputError as exc:  # a file of the segmenter's, not the dataset's
        raise CellFailure(f"{what}: {exc}") from None
    except SegbenchError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CellFailure(f"{what} raised {type(exc).__name__}: {exc}") from exc

    describe = _describe(model)
    training = _training_columns(job.train)
    rows: list[dict[str, Any]] = []
    for variant, labels, post_seconds in outputs:
        labels = _check_labels(labels, sample.labels.shape, config.label)
        params = {**config.params, **variant}
        base = {
            Col.DATASET: job.dataset,
            Col.IMAGE: job.sample.name,
            Col.SEGMENTER: config.label,
            Col.SEGMENTER_NAME: config.name,
            Col.VARIANT: config.variant_label(variant),
            Col.CONFIG_ID: config.config_id,
            Col.PARAMS: json.dumps(params, sort_keys=True, default=str),
            Col.TRAIN_SETTINGS: json.dumps(config.train, sort_keys=True) if config.train is not None else "",
            **training,
            Col.PREDICT_SECONDS: raw_seconds,
            Col.POSTPROCESS_SECONDS: post_seconds,
            Col.DESCRIBE: json.dumps(describe, sort_keys=True, default=str),
            Col.HOST: platform.node(),
            Col.CELL_KEY: job.key,
            Col.PREDICTION_PATH: _save_prediction(job, variant, labels),
            **job.provenance,
        }
        rows.extend({**base, **row} for row in _score_rows(job, sample.labels, labels))
    return rows


def _save_prediction(job: PredictJob, variant: dict[str, Any], labels: np.ndarray) -> str:
    """Keep the predicted label image (compressed TIFF) when the suite asks;
    returns its path relative to the output folder, or ""."""
    if job.predictions_root is None:
        return ""
    from ..io import write_labels

    config = job.config
    relpath = prediction_relpath(
        job.dataset, job.sample.name, config.variant_label(variant), config.config_id, stable_hash(variant)[:8]
    )
    write_labels(Path(job.predictions_root) / relpath, labels, job.spacing)
    return relpath


def _training_columns(train: TrainJob | None) -> dict[str, Any]:
    """``train_dataset`` ("" for an untrained segmenter) and ``train_seconds``
    (NaN when unknown) of the model that made a prediction."""
    if train is None:
        return {Col.TRAIN_DATASET: "", Col.TRAIN_SECONDS: float("nan")}
    record = read_training_record(train.workdir) or {}
    return {Col.TRAIN_DATASET: train.dataset, Col.TRAIN_SECONDS: float(record.get("seconds", float("nan")))}


def _describe(model: Segmenter) -> dict[str, Any]:
    try:
        return dict(model.describe() or {})
    except Exception as exc:  # noqa: BLE001 - provenance must not fail a cell
        return {"describe_error": f"{type(exc).__name__}: {exc}"}


def run_job(job: TrainJob | PredictJob):
    """Run either kind of job, so one executor stream can carry trainings and the
    predictions that need none side by side."""
    return run_training(job) if isinstance(job, TrainJob) else run_prediction(job)
