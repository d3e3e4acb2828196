"""Training a cellpose network on a segbench train split with cellpose's own
``train.train_seg``, cached on disk.

Cellpose trains on 2D planes: a 2D sample is one plane; a ZYX sample gives its
XY planes and, after resampling Z by the anisotropy, its ZY and ZX planes (the
three views cellpose's 3D mode runs the network on). Images are converted and
normalised exactly as ``CellposeModel.eval`` does before its network pass.

A finished training leaves ``<workdir>/cellpose-<key>/`` holding ``weights``
(cellpose's file format) and ``training.json`` (what was trained, the diameter
and the time it took). The key hashes the train split's pixels, the starting
weights and every setting, so a rerun loads the folder instead of training.
Training writes into a temporary folder that is renamed into place when done,
so a killed run leaves nothing that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from segbench.api import Sample
from segbench.errors import SegbenchError

from . import compat
from .layout import cellpose_axes, image_axes

WEIGHTS_FILE = "weights"
RECORD_FILE = "training.json"
#: cellpose's floor on a training image's median diameter (pixels).
MIN_DIAMETER = 5.0


@dataclass(frozen=True)
class TrainSettings:
    """What ``fit`` was asked for (see ``CellposeSegmenter.fit``)."""

    epochs: int
    learning_rate: float
    weight_decay: float
    batch_size: int
    crop_size: int
    min_train_masks: int
    nimg_per_epoch: int | None
    seed: int

    def __post_init__(self):
        checks = {
            "epochs": self.epochs >= 0,
            "learning_rate": self.learning_rate > 0,
            "weight_decay": self.weight_decay >= 0,
            "batch_size": self.batch_size >= 1,
            "crop_size": self.crop_size >= 32 and self.crop_size % 16 == 0,
            "min_train_masks": self.min_train_masks >= 0,
            "nimg_per_epoch": self.nimg_per_epoch is None or self.nimg_per_epoch >= 1,
        }
        hints = {
            "epochs": "an integer >= 0",
            "learning_rate": "a number > 0",
            "weight_decay": "a number >= 0",
            "batch_size": "an integer >= 1",
            "crop_size": "a multiple of 16, at least 32 (pixels)",
            "min_train_masks": "an integer >= 0",
            "nimg_per_epoch": "an integer >= 1, or null for every training plane",
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"train.{name}: must be {hints[name]}, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class TrainingRecord:
    """The contents of ``training.json``.

    Attributes
    ----------
    key : str
        Hash of the inputs (train split, starting weights, settings).
    weights : str or None
        File name of the weights in the record's folder; None when ``epochs`` was
        0 (the starting weights are used as they are, with the measured diameter).
    diameter : float
        Mean over training planes of their median object diameter (pixels),
        the way cellpose defines it (``utils.diameters``, floored at 5).
    n_planes : int
        Training planes with at least ``min_train_masks`` objects.
    train_seconds : float
        Wall time of ``train_seg``.
    final_loss : float or None
        Training loss of the last epoch.
    start : str
        ``scratch``, ``builtin:<name>`` or ``file:<sha256>``.
    cellpose : str
        Cellpose version that trained it.
    """

    key: str
    weights: str | None
    diameter: float
    n_planes: int
    train_seconds: float
    final_loss: float | None
    start: str
    cellpose: str

    @classmethod
    def read(cls, folder: Path) -> "TrainingRecord":
        return cls(**json.loads((folder / RECORD_FILE).read_text()))

    def write(self, folder: Path) -> None:
        (folder / RECORD_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")


def training_planes(
    samples: Iterable[Sample],
    *,
    channels: Sequence[int] | None,
    normalize: dict[str, Any],
    anisotropy: float | None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Normalised 2D training planes and their labels.

    Returns
    -------
    images : list of ndarray
        ``(2, Y, X)`` float32 (cellpose 3's channel-to-segment and nuclear channel).
    labels : list of ndarray
        ``(Y, X)`` int32.
    """
    from cellpose import transforms

    major = compat.major_version()
    images: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for sample in samples:
        axes = check_train_sample(sample)
        x = transforms.convert_image(
            sample.image, do_3D="Z" in axes, **cellpose_axes(axes), **compat.convert_kwargs(major, channels)
        )
        x = transforms.normalize_img(x, **normalize)
        lab = np.asarray(sample.labels).astype(np.int32)
        if "Z" not in axes:
            images.append(np.ascontiguousarray(x.transpose(2, 0, 1)))
            labels.append(lab)
            continue
        for plane_x, plane_lab in _orthogonal_planes(x, lab, anisotropy):
            images.append(np.ascontiguousarray(plane_x.transpose(2, 0, 1)))
            labels.append(np.ascontiguousarray(plane_lab))
    return images, labels


def check_train_sample(sample: Sample) -> str:
    """The image's axes; :class:`SegbenchError` unless its labels have its spatial shape."""
    axes = image_axes(sample.image)
    spatial = sample.image.shape[: len(axes.replace("C", ""))]
    if sample.labels is None or tuple(sample.labels.shape) != tuple(spatial):
        got = None if sample.labels is None else sample.labels.shape
        raise SegbenchError(
            f"train sample {sample.name!r}: labels of shape {got} do not match image axes "
            f"{axes} of shape {sample.image.shape}; give every train image its label image"
        )
    return axes


def _orthogonal_planes(volume: np.ndarray, labels: np.ndarray, anisotropy: float | None):
    """XY, ZY and ZX planes of a ``(Z, Y, X, C)`` volume, Z resampled by ``anisotropy``."""
    import cv2
    from cellpose import transforms

    for z in range(volume.shape[0]):
        yield volume[z], labels[z]
    if anisotropy and anisotropy != 1.0:
        depth = max(1, int(round(volume.shape[0] * anisotropy)))
        lx = volume.shape[2]
        # (Y, Z, X, C) is a stack of ZX planes; resize each to (depth, X)
        volume = transforms.resize_image(volume.transpose(1, 0, 2, 3), Ly=depth, Lx=lx).transpose(1, 0, 2, 3)
        labels = transforms.resize_image(
            labels.transpose(1, 0, 2), Ly=depth, Lx=lx, no_channels=True,
            interpolation=cv2.INTER_NEAREST,
        ).transpose(1, 0, 2)
    for y in range(volume.shape[1]):
        yield volume[:, y], labels[:, y]
    for x in range(volume.shape[2]):
        yield volume[:, :, x], labels[:, :, x]


def measured_diameter(labels: Sequence[np.ndarray], min_train_masks: int) -> tuple[float, int]:
    """Cellpose's training diameter and the number of planes it trains on.

    Each plane's diameter is the median over its objects of ``2 sqrt(area/pi)``
    (``cellpose.utils.diameters``), floored at 5 pixels; planes with fewer than
    ``min_train_masks`` objects are dropped; the result is the mean over the
    rest (what ``train_seg`` stores as the network's ``diam_labels``).

    Examples
    --------
    >>> import numpy as np
    >>> lab = np.zeros((40, 40), int); lab[:10, :10] = 1; lab[20:30, 20:30] = 2
    >>> d, n = measured_diameter([lab], min_train_masks=1)
    >>> round(d, 3), n
    (11.284, 1)
    """
    from cellpose import utils

    diameters, counts = [], []
    for lab in labels:
        median, per_object = utils.diameters(lab)
        diameters.append(max(float(median), MIN_DIAMETER))
        counts.append(len(per_object))
    keep = np.asarray(counts) >= min_train_masks
    if not keep.any():
        raise SegbenchError(
            f"train: no training image has at least min_train_masks={min_train_masks} objects "
            f"(most: {max(counts, default=0)}); lower train.min_train_masks"
        )
    return float(np.mean(np.asarray(diameters)[keep])), int(keep.sum())


def cache_key(samples: Sequence[Sample], fields: dict[str, Any]) -> str:
    """SHA-256 over the train split's names, pixels, labels and spacing, and ``fields``."""
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode())
    for sample in samples:
        digest.update(sample.name.encode() + b"\0")
        for array in (sample.image, sample.labels):
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.tobytes())
        digest.update(repr(sample.spacing).encode())
    return digest.hexdigest()


def record_folder(workdir: Path, key: str) -> Path:
    return Path(workdir) / f"cellpose-{key[:16]}"


def train_or_load(
    samples: Sequence[Sample],
    workdir: Path,
    settings: TrainSettings,
    *,
    start: str,
    start_model: Callable[[], Any],
    channels: Sequence[int] | None,
    normalize: dict[str, Any],
    anisotropy: float | None,
) -> tuple[Path, TrainingRecord]:
    """The cached training for these inputs, training it first when missing.

    Parameters
    ----------
    samples : sequence of Sample
        The train split.
    workdir : Path
        An existing folder; the training is kept in a subfolder named by its key.
    settings : TrainSettings
    start : str
        Identity of the starting weights: ``scratch``, ``builtin:<name>``, ``file:<sha256>``.
    start_model : callable
        ``start_model(diameter) -> CellposeModel`` with the starting weights,
        called only when training actually runs.
    channels, normalize, anisotropy
        As the segmenter uses them at inference.

    Returns
    -------
    folder : Path
        The record's folder.
    record : TrainingRecord
    """
    if settings.epochs == 0 and start == "scratch":
        raise ValueError(
            "train.epochs: 0 only measures the diameter for given weights; "
            "training from scratch needs epochs >= 1 (or set model / pretrained_model)"
        )
    for sample in samples:
        check_train_sample(sample)
    fields = {
        "settings": asdict(settings), "start": start, "channels": channels,
        "normalize": normalize, "anisotropy": anisotropy, "cellpose": compat.cellpose_version(),
    }
    key = cache_key(samples, fields)
    folder = record_folder(workdir, key)
    if (folder / RECORD_FILE).is_file():
        return folder, TrainingRecord.read(folder)

    images, labels = training_planes(samples, channels=channels, normalize=normalize, anisotropy=anisotropy)
    diameter, n_planes = measured_diameter(labels, settings.min_train_masks)
    staging = Path(tempfile.mkdtemp(prefix=".cellpose-training-", dir=workdir))
    try:
        weights, seconds, loss = None, 0.0, None
        if settings.epochs > 0:
            seconds, loss = _train(start_model, diameter, images, labels, settings, staging)
            weights = WEIGHTS_FILE
        record = TrainingRecord(
            key=key, weights=weights, diameter=diameter, n_planes=n_planes, train_seconds=seconds,
            final_loss=loss, start=start, cellpose=compat.cellpose_version(),
        )
        record.write(staging)
        try:
            os.replace(staging, folder)
        except OSError:  # another process finished the same training first: use theirs
            if not (folder / RECORD_FILE).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder, TrainingRecord.read(folder)


def _train(start_model, diameter, images, labels, settings: TrainSettings, staging: Path):
    """Run ``train_seg``; leave ``staging/weights``; return (seconds, final loss)."""
    import torch
    from cellpose import train

    numpy_state = np.random.get_state()  # train_seg reseeds numpy's global RNG every epoch
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            model = start_model(diameter)
            tic = time.perf_counter()
            path, losses, _ = train.train_seg(
                model.net, train_data=images, train_labels=labels,
                normalize={"normalize": False},  # already normalised as eval does; a dict
                # also keeps train_seg from changing cellpose's global normalize defaults
                n_epochs=settings.epochs, learning_rate=settings.learning_rate,
                weight_decay=settings.weight_decay, batch_size=settings.batch_size,
                bsize=settings.crop_size, min_train_masks=settings.min_train_masks,
                nimg_per_epoch=settings.nimg_per_epoch, save_path=staging, model_name=WEIGHTS_FILE,
            )
            seconds = time.perf_counter() - tic
    finally:
        np.random.set_state(numpy_state)
    os.replace(path, staging / WEIGHTS_FILE)
    shutil.rmtree(staging / "models", ignore_errors=True)
    return seconds, float(losses[-1])
