"""The ``stardist`` segmenter: StarDist2D/StarDist3D behind segbench's Segmenter API."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import segbench
from segbench import kit
from segbench.errors import InputError, SegbenchError

from ._runtime import devices, library_versions
from .images import image_axes, normalize_image, rescale, tile_counts, zoom_factors
from .training import MODEL_NAME, Progress, TrainSettings
from .training import train as train_model
from .weights import check_model_folder, load_model_folder, load_pretrained, weights_sha256


class StarDistSegmenter(segbench.Segmenter):
    """StarDist: star-convex polygons (2D) or polyhedra (3D) predicted by a U-Net, then NMS.

    Weights come from ``weights`` (a model folder StarDist trained into, or a
    registered pretrained name, downloaded into ``$KERAS_HOME`` when online) or
    from :meth:`fit` on the suite's train split (a ``train:`` key in the suite;
    another process restores that training with :meth:`load`); ``weights``
    together with a ``train:`` key fine-tunes those weights.

    Parameters
    ----------
    weights : str or Path, optional
        A model folder (``config.json`` plus weights, ``weights_best.h5``; its
        ``thresholds.json`` gives the default thresholds), or a pretrained name
        or alias StarDist registers, e.g. ``'2D_versatile_fluo'``,
        ``'2D_paper_dsb2018'``, ``'3D_demo'`` (checked when the model is first
        used, so constructing a segmenter never starts TensorFlow).
    pmin, pmax : float
        Percentiles (0-100) of the per-image normalisation
        ``(x - p_min) / (p_max - p_min)`` (CSBDeep's, per channel for ``YXC``).
    n_tiles : int or sequence of int, optional
        Tiles per spatial axis for large images (one value for all axes or one per
        axis). None: each axis is cut into tiles of at most 1024 pixels (2D) or
        128 voxels (3D).
    scale : float or sequence of float, optional
        Resize the image by this factor (per spatial axis) before the network and
        map the objects back (StarDist's ``predict_instances(scale=...)``), for
        objects much smaller or larger than the model was trained on.
    spacing : sequence of float, optional
        Pixel/voxel size ``(dy, dx)`` or ``(dz, dy, dx)`` (the runner passes the
        dataset's). Sets the anisotropy of a 3D model trained by :meth:`fit`.

    Examples
    --------
    >>> seg = StarDistSegmenter(weights="2D_versatile_fluo", pmin=1, pmax=99.8)
    >>> StarDistSegmenter.postprocess_params()
    ('prob_thresh', 'nms_thresh')
    """

    name = "stardist"
    description = "StarDist 2D/3D (stardist package): pretrained, from a model folder, or trained"
    renamed_params = {"model": "weights", "model_dir": "weights"}

    def __init__(
        self,
        weights: str | Path | None = None,
        pmin: float = 1.0,
        pmax: float = 99.8,
        n_tiles: int | Sequence[int] | None = None,
        scale: float | Sequence[float] | None = None,
        spacing: Sequence[float] | None = None,
    ):
        if weights is not None and not (isinstance(weights, (str, Path)) and str(weights)):
            raise kit.ParameterError(
                f"parameter 'weights' must be a StarDist model folder or a pretrained name such as "
                f"'2D_versatile_fluo', got {weights!r}"
            )
        for key, value in (("pmin", pmin), ("pmax", pmax)):
            kit.number(key, value, 0, 100)
        if not pmin < pmax:
            raise kit.ParameterError(f"stardist: pmin ({pmin}) must be below pmax ({pmax})")
        #: a model folder (Path), or a pretrained name (str); None: trained by fit
        self.weights: Path | str | None = None
        if weights is not None:
            folder = Path(weights).expanduser()
            looks_like_path = isinstance(weights, Path) or any(sep in str(weights) for sep in "/\\")
            self.weights = folder if folder.exists() or looks_like_path else str(weights)
        if isinstance(self.weights, Path):
            check_model_folder(self.weights)
        self.pmin = float(pmin)
        self.pmax = float(pmax)
        self.n_tiles = _positive_tuple("n_tiles", n_tiles, integer=True)
        self.scale = _positive_tuple("scale", scale, integer=False)
        self.spacing = _positive_tuple("spacing", spacing, integer=False)
        self._network: Any = None
        self._source: str | None = None
        self._weights_sha256: str | None = None

    # ----------------------------------------------------------------- weights
    def fit(
        self,
        train: segbench.Dataset,
        workdir: Path,
        *,
        n_rays: int = TrainSettings.n_rays,
        grid: int | Sequence[int] | None = None,
        epochs: int = TrainSettings.epochs,
        steps_per_epoch: int = TrainSettings.steps_per_epoch,
        patch_size: int | Sequence[int] | None = None,
        batch_size: int | None = None,
        augment: bool = TrainSettings.augment,
        optimize_thresholds: bool = TrainSettings.optimize_thresholds,
        validation_fraction: float = TrainSettings.validation_fraction,
        learning_rate: float = TrainSettings.learning_rate,
        tensorboard: bool = TrainSettings.tensorboard,
        config: dict[str, Any] | None = None,
        seed: int = TrainSettings.seed,
        progress: Progress | None = None,
    ) -> None:
        """Train on ``train`` into ``workdir/stardist``, then :meth:`load` it.

        Trains from scratch, or fine-tunes ``weights`` when given: the network
        then keeps their architecture (their ``n_rays``, ``grid`` and U-Net
        configuration; the settings here set the training). Always trains
        (segbench's core decides when a training can be reused).
        The model used afterwards is the one loaded from the folder (the weights
        of the best validation loss and the tuned thresholds), exactly what
        :meth:`load` gives in any other process.

        Parameters
        ----------
        train : segbench.Dataset
            Single-channel ``YX`` or ``ZYX`` images with integer labels; a seeded
            ``validation_fraction`` of them (at least one) is held out for
            validation and threshold tuning.
        workdir : Path
            The model folder is written to ``workdir/stardist`` (StarDist's layout:
            ``config.json``, ``weights_best.h5``, ``thresholds.json``), replacing
            one already there.
        n_rays, grid, epochs, steps_per_epoch, patch_size, batch_size, augment,
        optimize_thresholds, validation_fraction, learning_rate, tensorboard, config, seed
            See :class:`segbench_stardist.training.TrainSettings`.
        progress : callable, optional
            ``progress(epoch, total, loss)`` after each epoch (1 to ``epochs``), with
            the epoch's training loss as Keras reports it.
        """
        settings = TrainSettings(
            n_rays=n_rays,
            grid=grid,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            patch_size=patch_size,
            batch_size=batch_size,
            augment=augment,
            optimize_thresholds=optimize_thresholds,
            validation_fraction=validation_fraction,
            learning_rate=learning_rate,
            tensorboard=tensorboard,
            config=dict(config or {}),
            seed=seed,
        )
        start = None if self.weights is None else self._given_model()
        train_model(train, Path(workdir), settings, self.pmin, self.pmax, self.spacing, progress, start=start)
        self.load(workdir)

    def load(self, workdir: Path) -> None:
        """Use the model :meth:`fit` trained into ``workdir`` (its ``stardist`` folder).

        Raises
        ------
        InputError
            ``workdir`` holds no trained model, or StarDist cannot load it.
        """
        folder = Path(workdir) / MODEL_NAME
        if not (folder / "config.json").is_file():
            raise InputError(workdir, f"no StarDist model ({MODEL_NAME}/config.json): no training finished here",
                             "train again (fit)")
        self._weights_sha256 = None
        self._network = load_model_folder(folder)
        self._source = f"trained:{folder.resolve()}"

    def _given_model(self) -> Any:
        """The model ``weights`` names, loaded (and its source recorded)."""
        if isinstance(self.weights, Path):
            self._source = f"folder:{self.weights.resolve()}"
            return load_model_folder(self.weights)
        self._source = f"pretrained:{self.weights}"
        return load_pretrained(self.weights)

    @property
    def stardist_model(self) -> Any:
        """The underlying ``StarDist2D``/``StarDist3D`` model, loaded on first use.

        Raises
        ------
        SegbenchError
            When no weights are configured, or pretrained weights cannot be fetched.
        """
        if self._network is None:
            if self.weights is None:
                raise SegbenchError(
                    "stardist: no weights; set weights (a StarDist model folder, or a pretrained name "
                    "such as 2D_versatile_fluo), or give the suite entry a train: key"
                )
            self._network = self._given_model()
        return self._network

    @property
    def thresholds(self) -> dict[str, float]:
        """The model's default ``prob`` and ``nms`` thresholds (its ``thresholds.json``,
        else StarDist's 0.5 and 0.4)."""
        model = self.stardist_model
        return {"prob": float(model.thresholds.prob), "nms": float(model.thresholds.nms)}

    # --------------------------------------------------------------- inference
    def predict_raw(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """The network pass: object probabilities and ray distances.

        Parameters
        ----------
        image : ndarray
            ``(Y, X)`` / ``(Z, Y, X)`` (channels last if the model has several), any dtype.

        Returns
        -------
        dict of ndarray
            ``prob``: float32, the image's spatial shape (times ``scale``) divided
            by the model's grid; ``dist``: float32, ``prob.shape + (n_rays,)``,
            distances in (rescaled) pixels; ``image_shape``: int64, the spatial
            shape of ``image``; ``scale``: float64, the zoom per spatial axis.
        """
        model = self.stardist_model
        image = np.asarray(image)
        axes = image_axes(image, model.config.n_dim, model.config.n_channel_in)
        factors = zoom_factors(self.scale, axes)
        x = rescale(normalize_image(image, axes, self.pmin, self.pmax), factors)
        n_spatial = model.config.n_dim
        prob, dist = model.predict(
            x, axes=axes, n_tiles=tile_counts(x.shape, axes, self.n_tiles), show_tile_progress=False
        )[:2]
        return {
            "prob": prob,
            "dist": dist,
            "image_shape": np.asarray(image.shape[:n_spatial], dtype=np.int64),
            "scale": np.asarray(factors[:n_spatial] if factors else (1.0,) * n_spatial, dtype=np.float64),
        }

    def postprocess(
        self,
        raw: dict[str, np.ndarray],
        prob_thresh: float | None = None,
        nms_thresh: float | None = None,
    ) -> np.ndarray:
        """Objects from one network pass: StarDist's polygon/polyhedron NMS and rendering.

        Exactly ``predict_instances(normalised image, prob_thresh=..., nms_thresh=...,
        n_tiles=..., scale=..., sparse=False)`` of StarDist, without the network pass.

        Parameters
        ----------
        raw : dict of ndarray
            What :meth:`predict_raw` returned (possibly read back from disk).
        prob_thresh : float, optional
            Candidates are pixels whose object probability exceeds this, in [0, 1];
            None: the model's threshold.
        nms_thresh : float, optional
            Two candidates overlapping more than this (intersection over the smaller
            area/volume), in [0, 1], are one object; None: the model's threshold.

        Returns
        -------
        ndarray of int32
            Labels of the image's spatial shape, 0 = background.
        """
        model = self.stardist_model
        prob, dist, shape, scale = _unpack_raw(raw, model.config.n_dim, model.config.n_rays)
        thresholds = model.thresholds
        prob_thresh = thresholds.prob if prob_thresh is None else _unit_interval("prob_thresh", prob_thresh)
        nms_thresh = thresholds.nms if nms_thresh is None else _unit_interval("nms_thresh", nms_thresh)
        spatial = "YX" if len(shape) == 2 else "ZYX"
        scale_by_axis = None if np.all(scale == 1) else dict(zip(spatial, scale.tolist()))
        labels, _ = model._instances_from_prediction(
            shape, prob, dist, prob_thresh=prob_thresh, nms_thresh=nms_thresh, scale=scale_by_axis
        )
        return labels.astype(np.int32, copy=False)

    # -------------------------------------------------------------- provenance
    def describe(self) -> dict[str, Any]:
        """Library versions, weights source and hash, model config, thresholds, settings."""
        info: dict[str, Any] = {
            "versions": library_versions(),
            "pmin": self.pmin,
            "pmax": self.pmax,
            "n_tiles": None if self.n_tiles is None else list(self.n_tiles),
            "scale": None if self.scale is None else list(self.scale),
            "spacing": None if self.spacing is None else list(self.spacing),
        }
        if self._network is None and self.weights is None:
            info["source"] = "untrained (fit has not run)"
            return info
        model = self.stardist_model
        if self._weights_sha256 is None:
            self._weights_sha256 = weights_sha256(model.keras_model)
        info.update(
            source=self._source,
            model_class=type(model).__name__,
            config=dict(vars(model.config)),
            weights_sha256=self._weights_sha256,
            thresholds=self.thresholds,
            devices=devices(),
        )
        return info


def _positive_tuple(name: str, value: Any, integer: bool) -> tuple | None:
    """None, or ``value`` (a number or a sequence of them, all > 0) as a tuple."""
    if value is None:
        return None
    values = (value,) if isinstance(value, (int, float, np.number)) else value
    kind = "integer" if integer else "number"
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    ok = bool(values) and all(
        not isinstance(v, bool)
        and isinstance(v, (int, np.integer) if integer else (int, float, np.number))
        and math.isfinite(v)
        and v > 0
        for v in values
    )
    if not ok:
        raise kit.ParameterError(f"parameter {name!r} must be a positive {kind} or a list of them, got {value!r}")
    return tuple(int(v) if integer else float(v) for v in values)


def _unit_interval(name: str, value: Any) -> float:
    return kit.number(name, value, 0, 1)


def _unpack_raw(raw: Any, n_dim: int, n_rays: int) -> tuple[np.ndarray, np.ndarray, tuple[int, ...], np.ndarray]:
    """Check that ``raw`` is a :meth:`StarDistSegmenter.predict_raw` output of this model."""
    missing = {"prob", "dist", "image_shape", "scale"} - set(raw)
    if missing:
        raise SegbenchError(f"stardist: raw prediction lacks {sorted(missing)}; recompute it with predict_raw")
    prob, dist = np.asarray(raw["prob"]), np.asarray(raw["dist"])
    shape = tuple(int(s) for s in np.asarray(raw["image_shape"]))
    scale = np.asarray(raw["scale"], dtype=np.float64)
    if prob.ndim != n_dim or dist.shape != prob.shape + (n_rays,) or len(shape) != n_dim or scale.shape != (n_dim,):
        raise SegbenchError(
            f"stardist: raw prediction (prob {prob.shape}, dist {dist.shape}) does not come from this "
            f"{n_dim}D model with {n_rays} rays; recompute it with predict_raw"
        )
    return prob, dist, shape, scale
