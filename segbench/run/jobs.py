"""Predictions, and the function a worker runs for any job.

Jobs are small picklable records: they carry file paths, not arrays, and the
segmenter class by reference, so they travel to a process pool or a Dask worker
unchanged. A prediction's model comes from :func:`segbench.run.training.model_for`
(one kept per worker); a training is :class:`segbench.run.training.Training`.
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

from ..api import Segmenter
from ..errors import InputError, SegbenchError
from ..results import Col, prediction_relpath
from ..suite import SegmenterConfig, stable_hash
from .data import SampleRef
from .training import Training, model_for, train

__all__ = ["PredictJob", "CellFailure", "run_job", "run_prediction"]


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
    train: Training | None
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
    image_level = scores.summary()
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
        model, record = model_for(job.cls, config.params, job.spacing, job.train)
    except SegbenchError as exc:  # its parameters, its own files (weights): not the dataset's
        raise CellFailure(f"segmenter {config.label!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001
        raise CellFailure(f"segmenter {config.label!r} failed to load: {type(exc).__name__}: {exc}") from exc
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
    training = _training_columns(job.train, record)
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


def _training_columns(train: Training | None, record: dict[str, Any] | None) -> dict[str, Any]:
    """``train_dataset`` ("" for an untrained segmenter) and ``train_seconds``
    (NaN when unknown) of the model that made a prediction."""
    if train is None:
        return {Col.TRAIN_DATASET: "", Col.TRAIN_SECONDS: float("nan")}
    return {Col.TRAIN_DATASET: train.dataset, Col.TRAIN_SECONDS: float((record or {}).get("seconds", float("nan")))}


def _describe(model: Segmenter) -> dict[str, Any]:
    try:
        return dict(model.describe() or {})
    except Exception as exc:  # noqa: BLE001 - provenance must not fail a cell
        return {"describe_error": f"{type(exc).__name__}: {exc}"}


def run_job(job: Training | PredictJob):
    """Run either kind of job, so one executor stream can carry trainings and the
    predictions that need none side by side; a training returns its record."""
    return train(job)[1] if isinstance(job, Training) else run_prediction(job)
