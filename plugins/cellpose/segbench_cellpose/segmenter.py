"""The ``cellpose`` segmenter: cellpose's network for flows and cell probability
(``predict_raw``), cellpose's dynamics for masks (``postprocess``), and
cellpose's ``train_seg`` for training on a suite's train split (``fit``, and
``load`` to use that training in another process).

cellpose and torch are imported on first use, so listing plugins stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

import segbench
from segbench import kit
from segbench.errors import SegbenchError

from . import compat, masks, training
from . import weights as weights_mod
from .layout import anisotropy_from_spacing, cellpose_axes, image_axes

#: cellpose's normalisation options (``normalize`` may be a mapping of these).
NORMALIZE_DEFAULTS: dict[str, Any] = {
    "lowhigh": None,
    "percentile": None,
    "normalize": True,
    "norm3D": True,
    "sharpen_radius": 0,
    "smooth_radius": 0,
    "tile_norm_blocksize": 0,
    "tile_norm_smooth3D": 1,
    "invert": False,
}


class CellposeSegmenter(segbench.Segmenter):
    """Cellpose: flows and cell probability from a CPnet, masks from their dynamics.

    Weights come from ``weights`` (a local file, or a built-in cellpose model
    fetched by cellpose when online) or from training (``fit``, a suite's
    ``train:`` block) from scratch; ``weights`` together with training
    fine-tunes those weights.

    Parameters
    ----------
    weights : str, optional
        Path of a cellpose weights file (loaded as it is), or a built-in model
        name such as ``cyto3`` or ``nuclei``.
    diameter : float, optional
        Typical object diameter in pixels; images are resized so objects have
        the network's training diameter. Default: the diameter measured on the
        train split when trained (or ``train: {epochs: 0}``), else the model's own.
    channels : pair of int, optional
        Cellpose 3's ``[channel to segment, nuclear channel]``, 1..3 = R, G, B of
        a ``YXC`` image, 0 = grayscale / none. Default ``[0, 0]`` (single-channel
        fluorescence). Not used by cellpose 4.
    normalize : bool or mapping, default True
        Cellpose's percentile normalisation (1st..99th percentile to 0..1);
        a mapping gives cellpose's options (``percentile``, ``tile_norm_blocksize``,
        ``invert``, ...).
    do_3D : bool, default True
        For ZYX stacks: True runs the network on the YX, ZY and ZX planes and
        sums the flows (cellpose's 3D mode; ``flow_threshold`` is not applied
        in 3D); False segments each plane in 2D and joins them with
        ``stitch_threshold``.
    anisotropy : float, optional
        Z step over pixel size for ZYX stacks; default from ``spacing``.
    spacing : tuple of float, optional
        Voxel size ``(dz, dy, dx)`` (the runner passes the dataset's).
    augment : bool, default False
        Average the network over flipped, overlapping tiles.
    tile_overlap : float, default 0.1
        Fraction of overlap between tiles; cellpose always tiles images larger
        than ``bsize``.
    bsize : int, default 224
        Tile size in pixels.
    batch_size : int, default 8
        Tiles per network call.
    device : str, default "auto"
        ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda``, ``cuda:1``...
    use_bfloat16 : bool, optional
        Cellpose 4 only: bfloat16 (its default) or float32 weights.

    Examples
    --------
    >>> seg = CellposeSegmenter(weights="weights/my_model", diameter=17)  # doctest: +SKIP
    >>> labels = seg.postprocess(seg.predict_raw(image), cellprob_threshold=-1.0)  # doctest: +SKIP
    """

    name: ClassVar[str] = "cellpose"
    description: ClassVar[str] = (
        "Cellpose (flows + dynamics), built-in, local or trained weights; 2D and 3D"
    )
    renamed_params: ClassVar[dict[str, str]] = {"model": "weights", "pretrained_model": "weights"}

    def __init__(
        self,
        weights: str | None = None,
        diameter: float | None = None,
        channels: Sequence[int] | None = None,
        normalize: bool | Mapping[str, Any] = True,
        do_3D: bool = True,
        anisotropy: float | None = None,
        spacing: Sequence[float] | None = None,
        augment: bool = False,
        tile_overlap: float = 0.1,
        bsize: int = 224,
        batch_size: int = 8,
        device: str = "auto",
        use_bfloat16: bool | None = None,
    ):
        if diameter is not None:
            kit.number("diameter", diameter, low=0, low_open=True)
        if channels is not None:
            channels = _check_channels(channels)
        if anisotropy is not None:
            kit.number("anisotropy", anisotropy, low=0, low_open=True)
        if not 0 <= float(tile_overlap) < 0.5:
            raise kit.ParameterError(f"parameter 'tile_overlap' must be a number in [0, 0.5), got {tile_overlap!r}")
        if int(bsize) < 32 or int(bsize) % 16:
            raise kit.ParameterError(f"parameter 'bsize' must be a multiple of 16, at least 32, got {bsize!r}")
        kit.integer("batch_size", batch_size, low=1)
        self._major = compat.major_version()
        self._model_kwargs = compat.model_kwargs(self._major, use_bfloat16=use_bfloat16)
        compat.eval_kwargs(self._major, channels=channels, scaling=1.0, diameter=None)  # validates
        self.weights = None if weights is None else str(weights)
        #: the built-in model ``weights`` names (None: a file, or no weights)
        self.builtin = None if self.weights is None else weights_mod.builtin_or_none(self.weights)
        self.diameter = None if diameter is None else float(diameter)
        self.channels = channels
        self.normalize = _normalize_params(normalize)
        self.do_3D = bool(do_3D)
        spacing_anisotropy = anisotropy_from_spacing(spacing)
        self.anisotropy = float(anisotropy) if anisotropy is not None else spacing_anisotropy
        self.augment = bool(augment)
        self.tile_overlap = float(tile_overlap)
        self.bsize = int(bsize)
        self.batch_size = int(batch_size)
        self.device = kit.torch_device(device)
        self._model = None
        self._training: training.TrainedModel | None = None
        self._weights_path: Path | None = None

    # -- weights -----------------------------------------------------------------

    @property
    def model(self):
        """The ``cellpose.models.CellposeModel`` in use (loaded on first access)."""
        if self._model is None:
            self._model, self._weights_path = self._load_start_weights()
        return self._model

    def _load_start_weights(self):
        if self.builtin is not None:
            model = weights_mod.load_builtin(self.builtin, self.device, **self._model_kwargs)
            return model, Path(model.pretrained_model)
        if self.weights is not None:
            path = weights_mod.existing_file(self.weights)
            return weights_mod.load_file(path, self.device, **self._model_kwargs), path
        raise SegbenchError(
            "cellpose: no weights; set weights (a local file, or a built-in model such as cyto3), "
            "or add a train: block to train one"
        )

    def _start_identity(self) -> str:
        if self.builtin is not None:
            return f"builtin:{self.builtin}"
        if self.weights is not None:
            return f"file:{kit.weights_sha256(weights_mod.existing_file(self.weights))}"
        return "scratch"

    def _start_model(self, diameter: float):
        """A fresh copy of the starting network for training (never the one in use)."""
        if self.weights is None:
            return weights_mod.new_network(diameter, self.device)
        model, _ = self._load_start_weights()
        return model

    # -- training ----------------------------------------------------------------

    def fit(
        self,
        train: segbench.Dataset,
        workdir: Path,
        *,
        epochs: int = 100,
        learning_rate: float = 0.005,
        weight_decay: float = 1e-5,
        batch_size: int = 8,
        crop_size: int = 224,
        min_train_masks: int = 5,
        nimg_per_epoch: int | None = None,
        seed: int = 0,
        threads: int | None = None,
        progress: training.Progress | None = None,
    ) -> None:
        """Train on ``train`` with cellpose's ``train_seg``, into ``workdir``.

        Starts from scratch (a standard CPnet, trained at the train split's
        object diameter) unless ``weights`` was given, in which case those
        weights are fine-tuned. Always trains (segbench's core
        decides when a training can be reused); afterwards the trained weights
        and the measured diameter are used for prediction, and :meth:`load`
        restores them in another process.

        Parameters
        ----------
        train : segbench.Dataset
            Images with labels; ZYX stacks contribute their XY, ZY and ZX planes.
        workdir : Path
            Folder for ``weights`` (cellpose's file format) and ``cellpose.json``
            (the measured diameter and the starting weights); created when missing.
        epochs : int, default 100
            Passes over the training planes (``train_seg``'s ``n_epochs``). 0 trains
            nothing: it only measures the diameter, for given weights.
        learning_rate : float, default 0.005
            Peak learning rate of cellpose's schedule (AdamW).
        weight_decay : float, default 1e-5
        batch_size : int, default 8
            Crops per optimisation step.
        crop_size : int, default 224
            Side of the square training crops in pixels (cellpose's ``bsize``).
        min_train_masks : int, default 5
            Planes with fewer objects are not trained on.
        nimg_per_epoch : int, optional
            Planes drawn per epoch; default all.
        seed : int, default 0
            Seeds the network's initial weights (cellpose seeds its augmentations per epoch).
            The weights are bit-identical for the same seed, data, settings,
            torch thread count and kind of CPU (``torch.use_deterministic_algorithms``
            changes nothing on a CPU).
        threads : int, optional
            torch's CPU threads during the training; default: as they are (segbench
            gives each worker its share of the cores, so the count depends on the
            machine and the number of workers). Set it to train the same weights on
            another machine with the same kind of CPU; it is kept in ``cellpose.json``.
        progress : callable, optional
            ``progress(epoch, total, loss)`` after each epoch (from 1 to ``epochs``),
            with that epoch's training loss as ``train_seg`` computes it.
        """
        settings = training.TrainSettings(
            epochs=int(epochs), learning_rate=float(learning_rate), weight_decay=float(weight_decay),
            batch_size=int(batch_size), crop_size=int(crop_size), min_train_masks=int(min_train_masks),
            nimg_per_epoch=None if nimg_per_epoch is None else int(nimg_per_epoch), seed=int(seed),
            threads=None if threads is None else int(threads),
        )
        samples = kit.train_samples(train, self.name)
        training.train(
            samples, Path(workdir), settings, start=self._start_identity(),
            start_model=self._start_model, channels=self.channels, normalize=self.normalize,
            anisotropy=self.anisotropy, progress=progress,
        )
        self.load(workdir)

    def load(self, workdir: Path) -> None:
        """Use what :meth:`fit` left in ``workdir``: its weights, or (``epochs: 0``)
        the starting weights with the diameter measured on the train split.

        Raises
        ------
        InputError
            ``workdir`` holds no finished training.
        SegbenchError
            The starting weights (``weights``) are not those
            the training started from, e.g. the file changed since.
        """
        workdir = Path(workdir)
        trained = training.TrainedModel.read(workdir)
        start = self._start_identity()
        if trained.start != start:
            raise SegbenchError(
                f"cellpose: {workdir} was trained from {trained.start}, but this entry's starting "
                f"weights are {start}; delete {workdir} to train again"
            )
        if trained.weights is None:
            self._model, self._weights_path = None, None  # the starting weights, loaded on first use
        else:
            self._weights_path = workdir / trained.weights
            self._model = weights_mod.load_file(self._weights_path, self.device, **self._model_kwargs)
        self._training = trained

    # -- prediction --------------------------------------------------------------

    def _scaling_diameter(self) -> float | None:
        """The diameter (pixels) to scale images for, or None for the model's own
        (``diam_labels``: what trained weights were trained at)."""
        if self.diameter is not None:
            return self.diameter
        if self._training is not None and self._training.weights is None:
            return self._training.diameter  # train: {epochs: 0} measured it for given weights
        return None

    @property
    def effective_diameter(self) -> float | None:
        """Object diameter in pixels images are scaled for: ``diameter``, else the one
        measured on the train split, else the model's own (None on cellpose 4)."""
        chosen = self._scaling_diameter()
        if chosen is None and hasattr(self.model, "diam_labels"):
            return float(self.model.diam_labels)
        return chosen

    def predict_raw(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """One network pass: flows and cell probability at the image's size.

        Parameters
        ----------
        image : ndarray
            ``YX``, ``YXC``, ``ZYX`` or ``ZYXC``, any real dtype.

        Returns
        -------
        dict
            ``dP``: float32 flows, ``(2, Y, X)``, ``(3, Z, Y, X)`` (``do_3D``) or
            ``(2, Z, Y, X)`` (per plane); ``cellprob``: float32 logits of the
            spatial shape (in 3D the sum over the three views, as cellpose does);
            ``scaling``: 0-d float64, the resize factor applied before the network.
        """
        image = np.asarray(image)
        axes = image_axes(image)
        stack = "Z" in axes
        model = self.model
        diameter = self._scaling_diameter()
        scale = compat.scaling(self._major, model, diameter)
        _, flows, _ = model.eval(
            image,
            **cellpose_axes(axes),
            **compat.eval_kwargs(self._major, channels=self.channels, scaling=scale, diameter=diameter),
            normalize=dict(self.normalize),
            do_3D=stack and self.do_3D,
            # per-plane mode: any positive value makes eval normalise the stack as a whole,
            # as it does when stitching; the threshold itself is applied in postprocess
            stitch_threshold=1.0 if stack and not self.do_3D else 0.0,
            anisotropy=self.anisotropy if stack else None,
            augment=self.augment,
            tile_overlap=self.tile_overlap,
            bsize=self.bsize,
            batch_size=self.batch_size,
            compute_masks=False,
        )
        dP, cellprob = flows[1], flows[2]
        spatial = image.shape[: len(axes.replace("C", ""))]
        dP = dP.reshape(dP.shape[0], *spatial)  # eval squeezes singleton axes
        return {
            "dP": np.ascontiguousarray(dP, dtype=np.float32),
            "cellprob": np.ascontiguousarray(cellprob.reshape(spatial), dtype=np.float32),
            "scaling": np.asarray(scale, dtype=np.float64),
        }

    def postprocess(
        self,
        raw: Mapping[str, np.ndarray],
        cellprob_threshold: float = 0.0,
        flow_threshold: float = 0.4,
        min_size: int = 15,
        max_size_fraction: float = 0.4,
        stitch_threshold: float | None = None,
        niter: int | None = None,
    ) -> np.ndarray:
        """Masks from one network pass with cellpose's dynamics (cheap; sweepable).

        Parameters
        ----------
        raw : mapping
            What :meth:`predict_raw` returned.
        cellprob_threshold : float, default 0.0
            Cell-probability logit above which pixels are segmented; lower finds
            more and larger objects.
        flow_threshold : float, default 0.4
            Largest flow error of a kept 2D mask; 0 keeps all. Not applied to 3D
            flows (``do_3D``), as in cellpose.
        min_size : int, default 15
            Smallest object in pixels (voxels); smaller ones are removed.
        max_size_fraction : float, default 0.4
            Objects larger than this fraction of the image are removed.
        stitch_threshold : float, optional
            ``do_3D: false`` only: IoU above which masks in adjacent planes are
            one object (default 0.25).
        niter : int, optional
            Dynamics steps; default ``200 / scaling`` as in cellpose.

        Returns
        -------
        ndarray of int32
            Labels 1..N, 0 = background, the image's spatial shape.
        """
        kit.number("cellprob_threshold", cellprob_threshold)
        kit.number("flow_threshold", flow_threshold, low=0)
        kit.number("max_size_fraction", max_size_fraction, 0, 1, low_open=True)
        if niter is not None:
            kit.integer("niter", niter, low=1)
        return masks.flows_to_labels(
            raw,
            cellprob_threshold=float(cellprob_threshold),
            flow_threshold=float(flow_threshold),
            min_size=int(min_size),
            max_size_fraction=float(max_size_fraction),
            stitch_threshold=None if stitch_threshold is None else float(stitch_threshold),
            niter=None if niter is None else int(niter),
            device=self.device,
        )

    def describe(self) -> dict[str, Any]:
        """Versions, weights (name and SHA-256), diameter and settings, json-able."""
        import torch

        model = self.model
        info: dict[str, Any] = {
            "cellpose": compat.cellpose_version(),
            "torch": torch.__version__,
            "device": str(self.device),
            "weights": self.weights,
            "weights_sha256": kit.weights_sha256(self._weights_path) if self._weights_path else None,
            "diameter": self.effective_diameter,
            "diameter_source": (
                "given" if self.diameter is not None
                else "train split" if self._training is not None else "model (diam_labels)"
            ),
            "diam_mean": float(getattr(model, "diam_mean", compat.CP4_DIAMETER)),
            "scaling": compat.scaling(self._major, model, self._scaling_diameter()),
            "channels": self.channels,
            "normalize": self.normalize,
            "do_3D": self.do_3D,
            "anisotropy": self.anisotropy,
            "augment": self.augment,
            "tile_overlap": self.tile_overlap,
            "bsize": self.bsize,
        }
        if self._training is not None:
            info["training"] = {
                "start": self._training.start,
                "n_planes": self._training.n_planes,
                "final_loss": self._training.final_loss,
            }
        return info


def _check_channels(channels: Sequence[int]) -> list[int]:
    values = list(channels)
    if len(values) != 2 or not all(isinstance(c, (int, np.integer)) and 0 <= c <= 3 for c in values):
        raise kit.ParameterError(
            f"channels: expected [channel to segment, nuclear channel] with values 0..3 "
            f"(0 = grayscale/none, 1..3 = R, G, B), got {channels!r}"
        )
    return [int(c) for c in values]


def _normalize_params(normalize: bool | Mapping[str, Any]) -> dict[str, Any]:
    """Cellpose's full normalisation dict (always a new dict: cellpose mutates its default)."""
    params = dict(NORMALIZE_DEFAULTS)
    if isinstance(normalize, bool):
        params["normalize"] = normalize
        return params
    if not isinstance(normalize, Mapping):
        raise kit.ParameterError(f"normalize: expected true, false or a mapping, got {normalize!r}")
    unknown = sorted(set(normalize) - set(NORMALIZE_DEFAULTS))
    if unknown:
        raise kit.ParameterError(
            f"normalize: unknown option(s) {unknown}; cellpose's are {sorted(NORMALIZE_DEFAULTS)}"
        )
    params.update(normalize)
    if params["percentile"] is not None:
        low, high = (float(v) for v in params["percentile"])
        if not 0 <= low < high <= 100:
            raise kit.ParameterError(f"normalize.percentile: need 0 <= low < high <= 100, got {params['percentile']}")
        params["percentile"] = [low, high]
    return params
