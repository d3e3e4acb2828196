"""Training a cellpose network on a segbench train split with cellpose's own
``train.train_seg``.

Cellpose trains on 2D planes: a 2D sample is one plane; a ZYX sample gives its
XY planes and, after resampling Z by the anisotropy, its ZY and ZX planes (the
three views cellpose's 3D mode runs the network on). Images are converted and
normalised exactly as ``CellposeModel.eval`` does before its network pass.

A training leaves two files in its work directory (segbench's core decides when
to train and keeps its own record beside them):

- ``weights``: the trained network in cellpose's file format (absent when
  ``epochs`` is 0: the starting weights are used with the measured diameter);
- ``cellpose.json``: what prediction needs besides the weights (the measured
  diameter, the identity of the starting weights) and what ``describe`` reports.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from segbench import Sample
from segbench.errors import InputError, SegbenchError
from segbench.kit import ParameterError

from . import compat
from .layout import cellpose_axes, image_axes

WEIGHTS_FILE = "weights"
MODEL_FILE = "cellpose.json"
#: cellpose's floor on a training image's median diameter (pixels).
MIN_DIAMETER = 5.0

#: ``progress(epoch, total, loss)``: called after each epoch, epochs counted from 1.
Progress = Callable[[int, int, "float | None"], None]


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
    #: torch's CPU threads during the training; None: as they are (the worker's share)
    threads: int | None = None

    def __post_init__(self):
        checks = {
            "epochs": self.epochs >= 0,
            "learning_rate": self.learning_rate > 0,
            "weight_decay": self.weight_decay >= 0,
            "batch_size": self.batch_size >= 1,
            "crop_size": self.crop_size >= 32 and self.crop_size % 16 == 0,
            "min_train_masks": self.min_train_masks >= 0,
            "nimg_per_epoch": self.nimg_per_epoch is None or self.nimg_per_epoch >= 1,
            "threads": self.threads is None or self.threads >= 1,
        }
        hints = {
            "epochs": "an integer >= 0",
            "learning_rate": "a number > 0",
            "weight_decay": "a number >= 0",
            "batch_size": "an integer >= 1",
            "crop_size": "a multiple of 16, at least 32 (pixels)",
            "min_train_masks": "an integer >= 0",
            "nimg_per_epoch": "an integer >= 1, or null for every training plane",
            "threads": "an integer >= 1, or null for the worker's share of the cores",
        }
        for name, ok in checks.items():
            if not ok:
                raise ParameterError(f"train.{name}: must be {hints[name]}, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class TrainedModel:
    """The contents of ``cellpose.json``.

    Attributes
    ----------
    weights : str or None
        File name of the trained weights in the work directory; None when
        ``epochs`` was 0 (the starting weights are used as they are, with the
        measured diameter).
    diameter : float
        Mean over training planes of their median object diameter (pixels),
        the way cellpose defines it (``utils.diameters``, floored at 5).
    n_planes : int
        Training planes with at least ``min_train_masks`` objects.
    final_loss : float or None
        ``train_seg``'s training loss of the last epoch.
    start : str
        The starting weights: ``scratch``, ``builtin:<name>`` or ``file:<sha256>``.
    cellpose : str
        Cellpose version that trained it.
    threads : int or None
        torch's CPU threads during the training (the weights depend on it);
        None in records written before it was kept.
    """

    weights: str | None
    diameter: float
    n_planes: int
    final_loss: float | None
    start: str
    cellpose: str
    threads: int | None = None

    @classmethod
    def read(cls, workdir: Path) -> "TrainedModel":
        """What :func:`train` left in ``workdir``; :class:`InputError` naming the file otherwise."""
        path = Path(workdir) / MODEL_FILE
        try:
            model = cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise InputError(
                workdir, f"no {MODEL_FILE}: no cellpose training finished here", "train again (fit)"
            ) from None
        except (ValueError, TypeError) as exc:
            raise InputError(path, f"not a cellpose training description ({exc})", "train again (fit)") from None
        if model.weights is not None and not (Path(workdir) / model.weights).is_file():
            raise InputError(Path(workdir) / model.weights, "trained weights missing", "train again (fit)")
        return model

    def write(self, workdir: Path) -> None:
        (Path(workdir) / MODEL_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")


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




def train(
    samples: Sequence[Sample],
    workdir: Path,
    settings: TrainSettings,
    *,
    start: str,
    start_model: Callable[[float], Any],
    channels: Sequence[int] | None,
    normalize: dict[str, Any],
    anisotropy: float | None,
    progress: Progress | None = None,
) -> TrainedModel:
    """Train with ``train_seg`` (or, with 0 epochs, only measure the diameter) into ``workdir``.

    Parameters
    ----------
    samples : sequence of Sample
        The train split.
    workdir : Path
        Folder for ``weights`` and ``cellpose.json`` (created when missing; earlier
        ones are replaced).
    settings : TrainSettings
    start : str
        Identity of the starting weights: ``scratch``, ``builtin:<name>``, ``file:<sha256>``.
    start_model : callable
        ``start_model(diameter) -> CellposeModel`` with the starting weights,
        called only when training actually runs.
    channels, normalize, anisotropy
        As the segmenter uses them at inference.
    progress : callable, optional
        ``progress(epoch, total, loss)`` after each epoch, with ``train_seg``'s
        training loss of that epoch.

    Returns
    -------
    TrainedModel
        What was written to ``cellpose.json``.
    """
    if settings.epochs == 0 and start == "scratch":
        raise ParameterError(
            "train.epochs: 0 only measures the diameter for given weights; "
            "training from scratch needs epochs >= 1 (or set weights)"
        )
    for sample in samples:
        check_train_sample(sample)
    images, labels = training_planes(samples, channels=channels, normalize=normalize, anisotropy=anisotropy)
    diameter, n_planes = measured_diameter(labels, settings.min_train_masks)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for name in (MODEL_FILE, WEIGHTS_FILE):  # a half-finished earlier training is not reused
        (workdir / name).unlink(missing_ok=True)
    weights, loss = None, None
    with torch_threads(settings.threads) as threads:
        if settings.epochs > 0:
            loss = _train_seg(start_model, diameter, images, labels, settings, workdir, progress)
            weights = WEIGHTS_FILE
    model = TrainedModel(
        weights=weights, diameter=diameter, n_planes=n_planes, final_loss=loss, start=start,
        cellpose=compat.cellpose_version(), threads=threads,
    )
    model.write(workdir)  # last: its presence means the training finished
    return model


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the block on ``threads`` torch CPU threads (None: as they are), restored
    afterwards; yields the number used. On a CPU, the trained weights depend on it:
    torch splits the sums of its gradients across the threads."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _train_seg(start_model, diameter, images, labels, settings: TrainSettings, workdir: Path, progress) -> float:
    """Run ``train_seg`` from ``start_model(diameter)``; leave ``workdir/weights``; return the final loss."""
    import torch
    from cellpose import train

    numpy_state = np.random.get_state()  # train_seg reseeds numpy's global RNG every epoch
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)  # the initial weights of a network trained from scratch
            model = start_model(diameter)
            with _epoch_losses(model.net, settings.epochs, progress):
                path, losses, _ = train.train_seg(
                    model.net, train_data=images, train_labels=labels,
                    normalize={"normalize": False},  # already normalised as eval does; a dict
                    # also keeps train_seg from changing cellpose's global normalize defaults
                    n_epochs=settings.epochs, learning_rate=settings.learning_rate,
                    weight_decay=settings.weight_decay, batch_size=settings.batch_size,
                    bsize=settings.crop_size, min_train_masks=settings.min_train_masks,
                    nimg_per_epoch=settings.nimg_per_epoch, save_path=workdir, model_name=WEIGHTS_FILE,
                )
    finally:
        np.random.set_state(numpy_state)
    os.replace(path, workdir / WEIGHTS_FILE)
    shutil.rmtree(workdir / "models", ignore_errors=True)
    return float(losses[-1])


# -- per-epoch losses ---------------------------------------------------------------
#
# train_seg logs its loss only every tenth epoch and returns the per-epoch losses
# at the end. To report each epoch as it ends, the batch losses are read where
# train_seg computes them (its module-level ``_loss_fn_seg``, wrapped while any
# thread reports progress; each thread sees only its own training's batches), and
# an epoch ends where train_seg starts the next one (its ``net.train()`` call).

_LOSS_LOCK = threading.Lock()
_LOSS_USERS = 0
_THREAD = threading.local()


@contextmanager
def _epoch_losses(net, total: int, progress: Progress | None) -> Iterator[None]:
    """While active, call ``progress(epoch, total, loss)`` after each epoch of
    ``train_seg`` on ``net``; ``loss`` is train_seg's own per-epoch training loss
    (the batch losses weighted by batch size, averaged over the epoch's crops)."""
    if progress is None:
        yield
        return
    epoch = {"done": 0, "sum": 0.0, "crops": 0}

    def batch(loss: float, crops: int) -> None:
        epoch["sum"] += loss * crops
        epoch["crops"] += crops

    def epoch_end() -> None:
        if epoch["crops"]:
            epoch["done"] += 1
            progress(epoch["done"], total, epoch["sum"] / epoch["crops"])
            epoch.update(sum=0.0, crops=0)

    module_train = type(net).train

    def train_mode(mode: bool = True):
        if mode:  # train_seg calls net.train() at the start of every epoch
            epoch_end()
        return module_train(net, mode)

    net.train = train_mode
    _install_loss_wrapper()
    _THREAD.batch = batch
    try:
        yield
        epoch_end()
    finally:
        _THREAD.batch = None
        _remove_loss_wrapper()
        del net.train


def _install_loss_wrapper() -> None:
    global _LOSS_USERS
    from cellpose import train

    with _LOSS_LOCK:
        if _LOSS_USERS == 0:
            original = train._loss_fn_seg

            def recorded(lbl, y, device):
                loss = original(lbl, y, device)
                batch = getattr(_THREAD, "batch", None)
                if batch is not None:
                    batch(loss.item(), len(lbl))
                return loss

            recorded.original = original
            train._loss_fn_seg = recorded
        _LOSS_USERS += 1


def _remove_loss_wrapper() -> None:
    global _LOSS_USERS
    from cellpose import train

    with _LOSS_LOCK:
        _LOSS_USERS -= 1
        if _LOSS_USERS == 0:
            train._loss_fn_seg = train._loss_fn_seg.original
