"""pix2pixHD's training options, without torch (the ``segbench gan train-images``
command line shows their defaults, and listing commands must not import torch)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainOptions:
    """How to train (not what: the architecture is a :class:`Pix2PixHDConfig`).

    Attributes
    ----------
    steps : int
        Total optimisation steps (a resumed run continues up to this number).
    batch_size : int
    crop : int
        Side of the random square training patches, pixels; a multiple of the
        model's ``size_multiple``, at most the smallest image side.
    lr, beta1 : float
        Adam learning rate and first-moment decay (pix2pixHD: 2e-4, 0.5).
    decay_steps : int
        The learning rate falls linearly to 0 over the last ``decay_steps`` steps.
    lambda_feat : float
        Weight of the feature-matching loss (0 turns it off).
    lambda_vgg : float
        Weight of the VGG19 perceptual loss (used only with ``vgg_weights``).
    vgg_weights : str or None
        Local torchvision VGG19 state dict file; None = no perceptual loss.
    augment : bool
        Random flips and 90-degree rotations of the patches.
    snapshot_every, log_every : int
        Steps between snapshots and between ``stats.jsonl`` lines.
    grid_size : int
        Training images shown in the snapshot sample grids.
    seed : int
        Seeds weight initialisation and patch drawing.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda:0"``, ...
    time_limit : float or None
        Stop (with a snapshot) after this many seconds of this call.
    init_from : str or None
        Warm start: a sampling checkpoint folder (``config.json`` +
        ``latest_net_G.pth``, e.g. the shipped ``images/``) whose generator
        weights, architecture and intensity range start a new run; the
        discriminators and the feature encoder start fresh (so the generator
        relearns what the encoder's features mean). Ignored when resuming.
    """

    steps: int = 2000
    batch_size: int = 4
    crop: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    decay_steps: int = 0
    lambda_feat: float = 10.0
    lambda_vgg: float = 10.0
    vgg_weights: str | None = None
    augment: bool = True
    snapshot_every: int = 500
    log_every: int = 10
    grid_size: int = 4
    seed: int = 0
    device: str = "auto"
    time_limit: float | None = None
    init_from: str | None = None

    def __post_init__(self):
        for name in ("steps", "batch_size", "crop", "snapshot_every", "log_every", "grid_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "lambda_feat", "lambda_vgg", "decay_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"beta1: must be in [0, 1), got {self.beta1}")
