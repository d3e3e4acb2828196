"""Training StarDist on a segbench train split, into a work directory.

A training leaves one model folder, ``<workdir>/stardist``, in StarDist's own
layout: ``config.json`` (every setting, the rays and the 3D anisotropy),
``weights_best.h5`` (the weights of the lowest validation loss, the ones used),
``weights_last.h5`` and ``thresholds.json`` (``prob`` / ``nms``, tuned on the
validation images unless ``optimize_thresholds`` is off). Loading that folder
gives back the trained model exactly. segbench's core decides when to train
and keeps its own record beside it.
"""

from __future__ import annotations

import copy
import importlib.util
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from segbench import Dataset, kit
from segbench.errors import SegbenchError

from ._runtime import LOG, quiet, start_tensorflow
from .images import normalize_image

MODEL_NAME = "stardist"

#: ``progress(epoch, total, loss)``: called after each epoch, epochs counted from 1.
Progress = Callable[[int, int, "float | None"], None]

#: Config attributes that TrainSettings (or the data) set; `config` may not override them.
_OWNED = {
    "axes": "the images",
    "n_channel_in": "the images",
    "n_dim": "the images",
    "n_rays": "train.n_rays",
    "rays_json": "train.n_rays",
    "anisotropy": "spacing",
    "grid": "train.grid",
    "train_patch_size": "train.patch_size",
    "train_epochs": "train.epochs",
    "train_steps_per_epoch": "train.steps_per_epoch",
    "train_batch_size": "train.batch_size",
    "train_learning_rate": "train.learning_rate",
    "train_tensorboard": "train.tensorboard",
}


@dataclass(frozen=True)
class TrainSettings:
    """The suite's ``train:`` settings for StarDist, validated.

    Attributes
    ----------
    n_rays : int
        Rays per star-convex polygon (2D) or polyhedron (3D, golden-spiral rays).
    grid : tuple of int or None
        Subsampling of the output per axis (powers of 2). None: ``(2, 2)`` in 2D;
        in 3D 1 along axes whose anisotropy exceeds 1.5, else 2 (StarDist's rule).
    epochs, steps_per_epoch : int
        Training length (``steps_per_epoch`` batches per epoch). The defaults
        (300 steps) train in 2-3 minutes on two CPU cores; StarDist's own
        (400 x 100) are meant for a GPU.
    patch_size : tuple of int or None
        Training patch per axis; None: the smallest image extent, at most 128
        (2D) or 64 (3D) pixels, rounded down to what the U-Net can divide.
    batch_size : int or None
        Patches per step; None: StarDist's default (4 in 2D, 1 in 3D).
    augment : bool
        Random flips, 90-degree rotations in YX, intensity changes and noise.
    optimize_thresholds : bool
        Tune ``prob``/``nms`` thresholds on the validation images
        (``model.optimize_thresholds``); otherwise StarDist's 0.5 / 0.4.
    validation_fraction : float
        Share of the train split held out for validation (at least one image).
    learning_rate : float
        Adam learning rate (StarDist's default 3e-4 suits its 40,000 steps; 1e-3
        learns more in the short default schedule).
    tensorboard : bool
        Write TensorBoard logs into the model folder (needs ``tensorboard``).
    config : dict
        Any other ``Config2D``/``Config3D`` attribute, e.g. ``unet_n_depth``,
        ``unet_n_filter_base``, ``net_conv_after_unet``, ``train_dist_loss``.
    seed : int
        Seeds the split, patch sampling, augmentation and weight initialisation.
    """

    n_rays: int = 32
    grid: tuple[int, ...] | None = None
    epochs: int = 15
    steps_per_epoch: int = 20
    patch_size: tuple[int, ...] | None = None
    batch_size: int | None = None
    augment: bool = True
    optimize_thresholds: bool = True
    validation_fraction: float = 0.15
    learning_rate: float = 1e-3
    tensorboard: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_rays", "epochs", "steps_per_epoch"):
            _check_positive_int(name, getattr(self, name))
        if self.batch_size is not None:
            _check_positive_int("batch_size", self.batch_size)
        if self.grid is not None:
            grid = _int_tuple("grid", self.grid)
            if any(g & (g - 1) for g in grid):
                raise SegbenchError(f"stardist train.grid: values must be powers of 2, got {list(grid)}")
            object.__setattr__(self, "grid", grid)
        if self.patch_size is not None:
            object.__setattr__(self, "patch_size", _int_tuple("patch_size", self.patch_size))
        for name in ("augment", "optimize_thresholds", "tensorboard"):
            if not isinstance(getattr(self, name), bool):
                raise SegbenchError(f"stardist train.{name}: expected true or false, got {getattr(self, name)!r}")
        if not 0 < self.validation_fraction < 1:
            raise SegbenchError(
                f"stardist train.validation_fraction: expected a number in (0, 1), got {self.validation_fraction!r}"
            )
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise SegbenchError(f"stardist train.learning_rate: expected a positive number, got {self.learning_rate!r}")
        if not isinstance(self.config, dict):
            raise SegbenchError(f"stardist train.config: expected a mapping of Config attributes, got {self.config!r}")
        for key in self.config:
            if key in _OWNED:
                raise SegbenchError(f"stardist train.config.{key}: set by {_OWNED[key]}, not by config")
        if self.tensorboard:
            if importlib.util.find_spec("tensorboard") is None:
                raise SegbenchError(
                    "stardist train.tensorboard: the tensorboard package is not installed; "
                    "pip install 'segbench-stardist[tensorboard]' or set tensorboard: false"
                )
        if not isinstance(self.seed, (int, np.integer)):
            raise SegbenchError(f"stardist train.seed: expected an integer, got {self.seed!r}")


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise SegbenchError(f"stardist train.{name}: expected a positive integer, got {value!r}")


def _int_tuple(name: str, value: Any) -> tuple[int, ...]:
    values = (value,) if isinstance(value, (int, np.integer)) else value
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    if not values or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in values
    ):
        raise SegbenchError(f"stardist train.{name}: expected a positive integer or a list of them, got {value!r}")
    return tuple(int(v) for v in values)


@dataclass
class TrainingData:
    """Normalised training images and hole-filled labels, all YX or all ZYX."""

    names: list[str]
    images: list[np.ndarray]
    labels: list[np.ndarray]

    @property
    def n_dim(self) -> int:
        return self.labels[0].ndim

    @property
    def smallest_shape(self) -> tuple[int, ...]:
        return tuple(int(min(s)) for s in zip(*(y.shape for y in self.labels)))


def collect_training_data(train: Dataset, pmin: float, pmax: float) -> TrainingData:
    """Load, check and normalise the train split.

    Raises
    ------
    SegbenchError
        Fewer than two samples, a sample without labels, labels whose shape differs
        from the image, mixed or unsupported dimensions (training takes
        single-channel ``YX`` or ``ZYX`` images).
    """
    from stardist import fill_label_holes

    data = TrainingData([], [], [])
    for sample in kit.train_samples(train, "stardist", minimum=2):  # one is held out for validation
        where = f"stardist: training sample {sample.name!r} of dataset {train.name!r}"
        image, labels = np.asarray(sample.image), np.asarray(sample.labels)
        if labels.ndim not in (2, 3) or image.shape != labels.shape:
            raise SegbenchError(
                f"{where}: image {image.shape} and labels {labels.shape} must have one shape, YX or ZYX "
                "(training takes single-channel images)"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise SegbenchError(f"{where}: labels have dtype {labels.dtype}; expected integers")
        if data.labels and labels.ndim != data.n_dim:
            raise SegbenchError(f"{where} is {labels.ndim}D but earlier samples are {data.n_dim}D")
        data.names.append(sample.name)
        data.images.append(normalize_image(image, "YX" if image.ndim == 2 else "ZYX", pmin, pmax))
        data.labels.append(fill_label_holes(labels))
    return data


def anisotropy_for(data: TrainingData, spacing: Sequence[float] | None) -> tuple[float, ...] | None:
    """3D object anisotropy: from the voxel size when known, else from label extents.

    With voxel size ``(dz, dy, dx)``, a round object spans ``1/d`` voxels per unit
    length, so StarDist's anisotropy ``max(extent) / extent`` is ``d / min(d)``.
    Without it, StarDist's recipe: median bounding-box extents of the labels.
    None in 2D.
    """
    if data.n_dim == 2:
        return None
    if spacing is not None:
        if len(spacing) != 3:
            raise SegbenchError(f"stardist: spacing {tuple(spacing)} has {len(spacing)} values; 3D data needs (dz, dy, dx)")
        smallest = min(spacing)
        return tuple(float(s) / smallest for s in spacing)
    from stardist import calculate_extents

    extents = np.asarray(calculate_extents(data.labels), dtype=float)
    if np.any(extents <= 0):
        return None
    return tuple(float(v) for v in extents.max() / extents)


def build_config(data: TrainingData, settings: TrainSettings, anisotropy: tuple[float, ...] | None) -> Any:
    """A StarDist ``Config2D``/``Config3D`` for ``data`` and ``settings``."""
    from stardist.models import Config2D, Config3D
    from stardist.rays3d import Rays_GoldenSpiral

    n_dim = data.n_dim
    if settings.grid is not None and len(settings.grid) not in (1, n_dim):
        raise SegbenchError(f"stardist train.grid: {list(settings.grid)} for {n_dim}D images; give 1 or {n_dim} values")
    if n_dim == 2:
        grid = settings.grid or (2, 2)
        base = Config2D(axes="YX", n_rays=settings.n_rays, grid=grid, n_channel_in=1)
    else:
        grid = settings.grid or tuple(1 if a > 1.5 else 2 for a in (anisotropy or (1, 1, 1)))
        with quiet("Config3D"):
            rays = Rays_GoldenSpiral(settings.n_rays, anisotropy=anisotropy)
            base = Config3D(axes="ZYX", rays=rays, grid=grid, anisotropy=anisotropy, n_channel_in=1)
    unknown = sorted(k for k in settings.config if not hasattr(base, k))
    if unknown:
        raise SegbenchError(
            f"stardist train.config: unknown {type(base).__name__} attribute(s) {', '.join(unknown)}"
        )
    base.update_parameters(False, **settings.config)
    return _with_schedule(base, data, settings)


def _with_schedule(config: Any, data: TrainingData, settings: TrainSettings) -> Any:
    """``config`` with the training schedule of ``settings`` (patch size,
    epochs, steps, learning rate, batch size, TensorBoard) set in place."""
    updates = dict(
        train_patch_size=_patch_size(data, settings, config),
        train_epochs=settings.epochs,
        train_steps_per_epoch=settings.steps_per_epoch,
        train_learning_rate=float(settings.learning_rate),
        train_tensorboard=settings.tensorboard,
    )
    if settings.batch_size is not None:
        updates["train_batch_size"] = settings.batch_size
    config.update_parameters(False, **updates)
    return config


def _patch_size(data: TrainingData, settings: TrainSettings, config: Any) -> tuple[int, ...]:
    depth = int(config.unet_n_depth)
    divisor = tuple(int(p) ** depth * int(g) for p, g in zip(config.unet_pool, config.grid))
    smallest = data.smallest_shape
    if settings.patch_size is None:
        cap = 128 if data.n_dim == 2 else 64
        patch = tuple((min(s, cap) // d) * d for s, d in zip(smallest, divisor))
    else:
        patch = settings.patch_size * data.n_dim if len(settings.patch_size) == 1 else settings.patch_size
        if len(patch) != data.n_dim:
            raise SegbenchError(
                f"stardist train.patch_size: {list(patch)} for {data.n_dim}D images; give 1 or {data.n_dim} values"
            )
        bad = [p for p, d in zip(patch, divisor) if p % d]
        if bad:
            raise SegbenchError(
                f"stardist train.patch_size: {list(patch)} must be divisible by {list(divisor)} per axis "
                "(grid x unet_pool^unet_n_depth)"
            )
    if any(s < d for s, d in zip(smallest, divisor)):
        raise SegbenchError(
            f"stardist: the smallest training image {list(smallest)} is smaller than the network's "
            f"input unit {list(divisor)} (grid x unet_pool^unet_n_depth per axis); use larger images "
            "or lower train.grid / train.config.unet_n_depth"
        )
    if any(p > s for p, s in zip(patch, smallest)):
        raise SegbenchError(
            f"stardist train.patch_size: {list(patch)} exceeds the smallest training image {list(smallest)}"
        )
    return tuple(int(p) for p in patch)


def augment(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Random augmentation of one normalised training patch ``x`` and its labels ``y``.

    Flips along every axis (probability 1/2 each), a rotation by a random multiple
    of 90 degrees in the YX plane when it is square, intensity ``x * a + b`` with
    ``a ~ U(0.6, 2)``, ``b ~ U(-0.2, 0.2)``, and Gaussian noise of standard
    deviation ``~ U(0, 0.03)``. Draws from NumPy's global generator, which
    StarDist's ``train(seed=...)`` seeds.
    """
    for axis in range(y.ndim):
        if np.random.rand() < 0.5:
            x, y = np.flip(x, axis), np.flip(y, axis)
    if y.shape[-1] == y.shape[-2]:
        turns = np.random.randint(4)
        x, y = np.rot90(x, turns, axes=(-2, -1)), np.rot90(y, turns, axes=(-2, -1))
    x = x * np.random.uniform(0.6, 2.0) + np.random.uniform(-0.2, 0.2)
    x = x + np.random.normal(0.0, np.random.uniform(0.0, 0.03), x.shape)
    return np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y)


def split(names: Sequence[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of (training, validation) images: a seeded shuffle, at least one of each.

    Examples
    --------
    >>> trn, val = split([f"img{i}" for i in range(10)], 0.15, seed=0)
    >>> len(trn), len(val), sorted(trn + val) == list(range(10))
    (8, 2, True)
    """
    order = np.random.default_rng(seed).permutation(len(names)).tolist()
    n_val = min(max(1, round(fraction * len(names))), len(names) - 1)
    return sorted(order[n_val:]), sorted(order[:n_val])


def train(
    train: Dataset,
    workdir: Path,
    settings: TrainSettings,
    pmin: float,
    pmax: float,
    spacing: Sequence[float] | None,
    progress: Progress | None = None,
    start: Any = None,
) -> None:
    """Train a StarDist model on ``train`` into ``workdir/stardist``: from scratch,
    or fine-tuning ``start``.

    Parameters
    ----------
    train : Dataset
        Single-channel ``YX`` or ``ZYX`` images with labels.
    workdir : Path
        Created when missing; a model folder already in it is replaced.
    settings : TrainSettings
    pmin, pmax : float
        Percentiles of the per-image normalisation (as at prediction).
    spacing : sequence of float, optional
        Voxel size for the 3D anisotropy; default the dataset's.
    progress : callable, optional
        ``progress(epoch, total, loss)`` after each epoch, with Keras' training
        loss of that epoch (the weighted sum of StarDist's probability and
        distance losses).
    start : StarDist2D or StarDist3D, optional
        A model to fine-tune: the new model has its configuration (rays, grid,
        U-Net, anisotropy) with this training's settings, and starts from its
        weights. ``settings.n_rays``, ``grid`` and ``config`` are not used.
    """
    start_tensorflow()
    data = collect_training_data(train, pmin, pmax)
    if start is None:
        anisotropy = anisotropy_for(data, spacing if spacing is not None else train.spacing)
        config = build_config(data, settings, anisotropy)
    else:
        config = fine_tune_config(start.config, data, settings)
    folder = Path(workdir) / MODEL_NAME
    if folder.exists():
        shutil.rmtree(folder)
    _train(data, config, folder, settings, progress, None if start is None else start.keras_model.get_weights())


def fine_tune_config(config: Any, data: TrainingData, settings: TrainSettings) -> Any:
    """A copy of a trained model's ``config`` with this training's settings.

    Raises
    ------
    SegbenchError
        The model is not for single-channel images of the data's dimensionality.
    """
    if config.n_dim != data.n_dim or config.n_channel_in != 1:
        raise SegbenchError(
            f"stardist: the weights are a {config.n_dim}D model for {config.n_channel_in}-channel images; "
            f"fine-tuning here needs a {data.n_dim}D single-channel model"
        )
    return _with_schedule(copy.deepcopy(config), data, settings)


def _train(
    data: TrainingData, config: Any, folder: Path, settings: TrainSettings, progress: Progress | None,
    start_weights: list[np.ndarray] | None = None,
) -> None:
    import keras
    from stardist.models import StarDist2D, StarDist3D

    trn, val = split(data.names, settings.validation_fraction, settings.seed)
    x_trn, y_trn = [data.images[i] for i in trn], [data.labels[i] for i in trn]
    x_val, y_val = [data.images[i] for i in val], [data.labels[i] for i in val]
    cls = StarDist2D if data.n_dim == 2 else StarDist3D

    keras.utils.set_random_seed(int(settings.seed))
    started = time.perf_counter()
    with quiet(f"training StarDist into {folder}"), warnings.catch_warnings():
        # StarDist hands Keras a generator that shuffles itself; Keras warns that its own
        # shuffle=True is then unused.
        warnings.filterwarnings("ignore", message=".*shuffle=True.* was passed, but will be ignored")
        try:
            model = cls(config, name=folder.name, basedir=str(folder.parent))
        except (ValueError, TypeError) as err:
            message = " ".join(str(err).split())
            raise SegbenchError(f"stardist train.config: StarDist rejects this configuration ({message})") from None
        if start_weights is not None:
            model.keras_model.set_weights(start_weights)
        if progress is not None:
            model.prepare_for_training()  # what train() does first; then its callbacks exist
            model.callbacks.append(_progress_callback(progress, settings.epochs))
        model.train(
            x_trn,
            y_trn,
            validation_data=(x_val, y_val),
            augmenter=augment if settings.augment else None,
            seed=int(settings.seed),
        )
    train_seconds = time.perf_counter() - started
    threshold_seconds = 0.0
    if settings.optimize_thresholds:
        started = time.perf_counter()
        with quiet("optimize_thresholds"):
            model.optimize_thresholds(x_val, y_val, optimize_kwargs={"verbose": 0})
        threshold_seconds = time.perf_counter() - started
    LOG.info(
        "stardist: trained %s on %d images (%d for validation) in %.1f s (thresholds %.1f s)",
        cls.__name__, len(trn), len(val), train_seconds, threshold_seconds,
    )


def _progress_callback(progress: Progress, total: int) -> Any:
    """A Keras callback that calls ``progress(epoch, total, loss)`` after each epoch."""
    import keras

    class EpochProgress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("loss")
            progress(epoch + 1, total, None if loss is None else float(loss))

    return EpochProgress()
