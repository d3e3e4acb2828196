"""The ``maskrcnn`` segmenter: torchvision's Mask R-CNN, trained from scratch on a
suite's train split (``fit``), or loaded from a local file or torchvision's COCO weights.

torch and torchvision are imported on first use, so listing plugins stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

import segbench
from segbench import kit
from segbench.errors import SegbenchError


class MaskRCNNSegmenter(segbench.Segmenter):
    """Mask R-CNN (torchvision): detect boxes, segment each, resolve overlaps by score.

    Weights come from training (a suite's ``train:`` block calls :meth:`fit`:
    from scratch, or fine-tuning ``weights`` when given), a local state-dict
    file (``weights: PATH``), or torchvision's COCO weights (``weights: DEFAULT``,
    ResNet-50-FPN only, downloaded by torchvision when online). COCO weights
    used without training count a detection of any COCO class as an object.

    Parameters
    ----------
    backbone : {"resnet18", "resnet34", "resnet50", "mobilenet_v3"}, default "resnet18"
        Feature extractor with FPN. ``resnet50`` is the published
        ``maskrcnn_resnet50_fpn``; ``resnet18``/``resnet34`` the same with a
        smaller ResNet; ``mobilenet_v3`` MobileNetV3-Large with an FPN on its
        stride 8, 16 and 32 stages.
    weights : str, optional
        ``DEFAULT`` (torchvision's COCO weights, needs ``backbone: resnet50``)
        or the path of a state dict (``torch.save(model.state_dict())`` of a
        torchvision Mask R-CNN with this backbone and anchors).
    anchor_sizes : list of float, optional
        Anchor side per FPN level, pixels (aspect ratios 0.5, 1, 2 each).
        Default: twice each level's stride (8, 16, 32, 64, 128 for the ResNets;
        16, 32, 64, 128 for MobileNet), made for objects of ~8-150 px.
    proposals : int, default 300
        Region proposals kept per tile after the RPN's NMS (twice as many
        before it). torchvision's default, 1000-2000, costs more on CPU.
    box_batch_size_per_image : int, default 128
        Proposals sampled per training image for the box and mask heads
        (torchvision's default 512).
    candidate_score_threshold : float, default 0.05
        Detections scoring below this are not kept by the network pass
        (torchvision's ``box_score_thresh``); ``score_threshold`` sweeps above it.
    candidate_nms_threshold : float, default 0.7
        Box IoU above which the network pass already suppresses the worse of two
        detections (torchvision's ``box_nms_thresh``); ``nms_threshold`` sweeps below it.
    max_detections : int, default 200
        Most detections per tile.
    tile_size : int, default 512
        Images larger than this are predicted in overlapping tiles of this side,
        pixels. The network sees every tile at its own pixel size (no resizing),
        so the tile size bounds memory, not the objects' scale.
    tile_overlap : int, default 64
        Least overlap of neighbouring tiles, pixels (at most half a tile less
        one pixel is used); give at least an object's diameter.
    device : str, default "auto"
        ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda``, ``cuda:1``...

    Examples
    --------
    >>> seg = MaskRCNNSegmenter(backbone="resnet18")                    # doctest: +SKIP
    >>> seg.fit(train, Path("work"), epochs=6)                         # doctest: +SKIP
    >>> raw = seg.predict_raw(image)                                    # doctest: +SKIP
    >>> labels = seg.postprocess(raw, score_threshold=0.7)              # doctest: +SKIP
    """

    name: ClassVar[str] = "maskrcnn"
    description: ClassVar[str] = (
        "Mask R-CNN (torchvision), trained from scratch, local or COCO weights; tiled, 2D"
    )
    #: torchvision's Mask R-CNN detects in 2D images; a suite skips 3D datasets
    dimensions: ClassVar[tuple[int, ...]] = (2,)

    def __init__(
        self,
        backbone: str = "resnet18",
        weights: str | None = None,
        anchor_sizes: Sequence[float] | None = None,
        proposals: int = 300,
        box_batch_size_per_image: int = 128,
        candidate_score_threshold: float = 0.05,
        candidate_nms_threshold: float = 0.7,
        max_detections: int = 200,
        tile_size: int = 512,
        tile_overlap: int = 64,
        device: str = "auto",
    ):
        from . import network, weights as weights_mod

        kit.choice("backbone", backbone, tuple(network.BACKBONES))
        if weights == weights_mod.COCO and backbone != "resnet50":
            raise kit.ParameterError(
                f"weights: DEFAULT is torchvision's COCO ResNet-50-FPN model; set backbone: resnet50 "
                f"(got {backbone!r}) or pass a local file"
            )
        n_levels = len(network.BACKBONES[backbone])
        if anchor_sizes is None:
            anchors = network.default_anchor_sizes(backbone)
        else:
            anchors = tuple(float(a) for a in anchor_sizes)
            if len(anchors) != n_levels or not all(a > 0 for a in anchors):
                raise kit.ParameterError(
                    f"anchor_sizes: {backbone} needs {n_levels} positive sizes (one per FPN level), "
                    f"got {list(anchor_sizes)!r}"
                )
        for key, value, low in (
            ("proposals", proposals, 1),
            ("box_batch_size_per_image", box_batch_size_per_image, 1),
            ("max_detections", max_detections, 1),
            ("tile_overlap", tile_overlap, 0),
            ("tile_size", tile_size, 32),
        ):
            kit.integer(key, value, low=low)
        kit.number("candidate_score_threshold", candidate_score_threshold, 0, 1)
        kit.number("candidate_nms_threshold", candidate_nms_threshold, 0, 1)
        self.backbone = backbone
        self.weights = None if weights is None else str(weights)
        self.tile_size = int(tile_size)
        self.tile_overlap = int(tile_overlap)
        self.device = kit.torch_device(device)
        self._arch = network.Architecture(
            backbone=backbone,
            anchor_sizes=anchors,
            rpn_pre_nms_top_n=2 * int(proposals),
            rpn_post_nms_top_n=int(proposals),
            box_batch_size_per_image=int(box_batch_size_per_image),
            candidate_score_threshold=float(candidate_score_threshold),
            candidate_nms_threshold=float(candidate_nms_threshold),
            max_detections=int(max_detections),
        )
        self._model = None
        self._weights_sha256: str | None = None
        self._trained: dict[str, Any] | None = None  # the workdir's config once trained or loaded

    # -- weights -----------------------------------------------------------------

    def _start(self):
        """The network to train from, its architecture, and its weights' identity:
        the given weights, else random ones (``None``)."""
        import dataclasses

        from . import network, weights as weights_mod

        if self.weights is None:
            return network.build(self._arch), self._arch, None
        if self.weights == weights_mod.COCO:
            state, sha = weights_mod.coco_state_dict(), "torchvision:" + weights_mod.COCO
        else:
            state = weights_mod.load_file(self.weights)
            sha = kit.weights_sha256(self.weights)
        arch = dataclasses.replace(self._arch, **network.infer_from_state_dict(state))
        model = network.build(arch)
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise SegbenchError(
                f"maskrcnn: weights {self.weights!r} do not fit backbone {self.backbone!r} with "
                f"anchor_sizes {list(self._arch.anchor_sizes)} ({str(err).splitlines()[0]}); "
                "set the backbone and anchors they were trained with"
            ) from None
        return model, arch, sha

    @property
    def model(self):
        """The torchvision ``MaskRCNN`` in use, in eval mode: trained (``fit``/``load``),
        else built from ``weights`` on first access."""
        if self._model is None:
            if self.weights is None:
                raise SegbenchError(
                    "maskrcnn: no weights; add a train: block to train the network, or set "
                    "weights (a state-dict file, or DEFAULT for torchvision's COCO weights)"
                )
            model, _, self._weights_sha256 = self._start()
            self._model = model.to(self.device).eval()
        return self._model

    # -- training ----------------------------------------------------------------

    def fit(
        self,
        train: segbench.Dataset,
        workdir: Path,
        *,
        seed: int = 0,
        progress: Callable[[int, int, float | None], None] | None = None,
        epochs: int = 6,
        batch_size: int = 2,
        crop_size: int = 256,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        warmup_fraction: float = 0.1,
        grad_clip: float = 10.0,
    ) -> None:
        """Train on ``train`` and leave the weights in ``workdir``.

        Trains unconditionally: from random weights (torchvision's
        initialisation, seeded), or fine-tunes ``weights`` when given (COCO
        weights get new box and mask predictors for one class, ``nucleus``).
        Afterwards this segmenter predicts with the trained weights.

        Parameters
        ----------
        train : segbench.Dataset
            2D images with label images (instances become boxes and masks).
        workdir : Path
            Folder for ``maskrcnn.pt`` (the state dict) and ``maskrcnn.json``
            (architecture, settings, loss, time).
        seed : int, default 0
            Seeds the initial weights, the crops and the augmentations.
        progress : callable, optional
            ``progress(epoch, epochs, loss)`` after each epoch (mean total loss).
        epochs : int, default 6
            Passes over the train split; each visits every image once (6 epochs of
            16 images, 48 steps, reach F1@0.5 = 0.99 on the default suite's
            nuclei-clean; real images want more).
        batch_size : int, default 2
            Images (crops) per optimisation step.
        crop_size : int, default 256
            Side of the square random training crops, pixels (smaller images
            are used whole).
        learning_rate : float, default 1e-3
            Peak AdamW learning rate.
        weight_decay : float, default 1e-4
            AdamW weight decay.
        warmup_fraction : float, default 0.1
            Fraction of the steps with a linear learning-rate warm-up; a cosine
            decay to 0 follows.
        grad_clip : float, default 10.0
            Largest gradient norm (larger ones are scaled down).
        """
        import dataclasses

        import torch

        from . import data, network, training, weights as weights_mod

        for key, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("crop_size", crop_size, 32)):
            kit.integer(key, value, low=low)
        kit.number("learning_rate", learning_rate, low=0, low_open=True)
        kit.number("grad_clip", grad_clip, low=0, low_open=True)
        kit.number("weight_decay", weight_decay, low=0)
        if kit.number("warmup_fraction", warmup_fraction, 0, 1) == 1:
            raise kit.ParameterError(f"parameter 'warmup_fraction' must be a number in [0, 1), got {warmup_fraction!r}")
        settings = training.TrainSettings(
            epochs=int(epochs), batch_size=int(batch_size), crop_size=int(crop_size),
            learning_rate=float(learning_rate), weight_decay=float(weight_decay),
            warmup_fraction=float(warmup_fraction), grad_clip=float(grad_clip),
        )
        samples = kit.train_samples(train, self.name, ndim=2)
        images = [data.normalized(sample.image) for sample in samples]
        labels = [data.check_2d(sample.labels, f"labels of {sample.name!r}") for sample in samples]
        torch.manual_seed(int(seed))
        model, arch, start_sha = self._start()
        if arch.num_classes != 2:
            network.replace_heads(model, 2)
            arch = dataclasses.replace(arch, num_classes=2)
        record = training.train(
            model, images, labels, settings, seed=int(seed), device=self.device, progress=progress
        )
        config = {
            "architecture": arch.to_json(),
            "start": self.weights or "scratch",
            "start_sha256": start_sha,
            "train": settings.to_json(),
            "seed": int(seed),
            "n_train_images": len(images),
            **record,
        }
        self._weights_sha256 = weights_mod.save(Path(workdir), model.state_dict(), config)
        self._trained = config
        self._model = model.eval()

    def load(self, workdir: Path) -> None:
        """Restore what :meth:`fit` left in ``workdir``."""
        import dataclasses

        from . import network, weights as weights_mod

        state, arch, config = weights_mod.load_workdir(Path(workdir))
        if arch.backbone != self.backbone or arch.anchor_sizes != self._arch.anchor_sizes:
            raise SegbenchError(
                f"maskrcnn: {str(workdir)!r} holds a {arch.backbone} model with anchor_sizes "
                f"{list(arch.anchor_sizes)}, not {self.backbone} with {list(self._arch.anchor_sizes)}; "
                "use the settings it was trained with"
            )
        # the trained network with this entry's proposal and detection settings
        model = network.build(
            dataclasses.replace(self._arch, num_classes=arch.num_classes, frozen_norm=arch.frozen_norm)
        )
        model.load_state_dict(state)
        self._model = model.to(self.device).eval()
        self._weights_sha256 = config["weights_sha256"]
        self._trained = config

    # -- prediction --------------------------------------------------------------

    def predict_raw(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """The network pass: every candidate detection of a 2D image.

        Parameters
        ----------
        image : ndarray, (Y, X)
            Any real dtype; normalised with ``segbench.normalize(image, 1, 99.8)``.

        Returns
        -------
        dict of ndarray
            ``scores`` ``(N,)``, ``boxes`` ``(N, 4)`` ``(x1, y1, x2, y2)`` pixels,
            mask probabilities over each box's window (``windows``, ``mask_offsets``,
            ``mask_values``) and the image ``shape``; see ``inference.detect``.
        """
        from . import data, inference

        model = self.model
        overlap = min(self.tile_overlap, self.tile_size // 2 - 1)
        return inference.detect(model, data.normalized(image), self.tile_size, overlap, self.device)

    def postprocess(
        self,
        raw: dict[str, np.ndarray],
        score_threshold: float = 0.5,
        mask_threshold: float = 0.5,
        nms_threshold: float = 0.5,
    ) -> np.ndarray:
        """A label image from one network pass (cheap; sweepable).

        Parameters
        ----------
        raw : dict
            What :meth:`predict_raw` returned.
        score_threshold : float, default 0.5
            Least detection score (class probability) of an object.
        mask_threshold : float, default 0.5
            Mask probability above which a pixel belongs to its object.
        nms_threshold : float, default 0.5
            Of two boxes overlapping with IoU above this, the worse scoring is
            dropped (values above ``candidate_nms_threshold`` change nothing).

        Returns
        -------
        ndarray of int32
            Labels 1..N (decreasing score), 0 = background; a pixel claimed by
            several objects belongs to the best scoring one.
        """
        from . import inference

        for key, value in (
            ("score_threshold", score_threshold),
            ("mask_threshold", mask_threshold),
            ("nms_threshold", nms_threshold),
        ):
            kit.number(key, value, 0, 1)
        return inference.labels_from_detections(
            raw, float(score_threshold), float(mask_threshold), float(nms_threshold)
        )

    def describe(self) -> dict[str, Any]:
        """Backbone, weights and their hash, versions, settings; json-able."""
        import torch
        import torchvision

        model = self.model  # noqa: F841 - builds the network, so the hash is known
        return {
            "torchvision": torchvision.__version__,
            "torch": torch.__version__,
            "device": str(self.device),
            "backbone": self.backbone,
            "weights": self.weights,
            "weights_sha256": self._weights_sha256,
            "trained": None if self._trained is None else {
                k: self._trained.get(k) for k in ("start", "train", "seed", "steps", "seconds", "final_loss")
            },
            "architecture": self._arch.to_json(),
            "tile_size": self.tile_size,
            "tile_overlap": self.tile_overlap,
        }
