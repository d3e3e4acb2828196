"""Train the generator's two networks on an annotated dataset (``GanGenerator.fit``).

The recipe is that of the shipped checkpoint pair (see the plugin README): a
small StyleGAN3-T on the binary masks (tiles of ``resolution`` px covering
every image) and a small pix2pixHD on random ``resolution`` px (mask, image)
patches. :func:`fit_pair` trains both from scratch into ``workdir/training/``
and exports the sampling files to ``workdir/masks/`` and ``workdir/images/``,
the layout of a ``checkpoint`` folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import segbench
from segbench.errors import InputError

__all__ = ["MASK_ARCH", "IMAGE_ARCH", "fit_pair", "check_dataset"]

#: StyleGAN3 architecture and batch of the shipped mask model (docs/stylegan3.md)
MASK_ARCH = dict(config="t", z_dim=64, w_dim=64, num_layers=4, channel_base=1024, channel_max=32, margin_size=3,
                 d_channel_base=2048, d_channel_max=64, batch_size=8, ema_kimg=0.25)
#: pix2pixHD architecture of the shipped image model (plugin README)
IMAGE_ARCH = dict(ngf=16, n_downsample_global=2, n_blocks_global=4, ndf=16, n_layers_D=3, num_D=2,
                  feat_num=3, nef=8, n_downsample_E=2)
#: pix2pixHD batch size of the shipped image model
IMAGE_BATCH = 4

Progress = Callable[[int, int, "float | None"], None]


def check_dataset(dataset: segbench.Dataset, resolution: int) -> None:
    """Refuse, in one line, what the two trainings cannot use.

    Raises
    ------
    segbench.errors.InputError
        No samples, a sample without labels, not 2D, or smaller than ``resolution``.
    """
    where = f"dataset {getattr(dataset, 'name', '')!r}"
    if not len(dataset):
        raise InputError(where, "holds no images", "fit the gan generator on an annotated dataset")
    for sample in dataset:
        if sample.labels is None:
            raise InputError(f"{where}/{sample.name}", "has no mask", "fit the gan generator on an annotated dataset")
        if sample.labels.ndim != 2 or sample.image.ndim != 2:
            raise InputError(f"{where}/{sample.name}", f"is {sample.image.ndim}D; the gan generator is 2D",
                             "fit on 2D single-channel images")
        if min(sample.labels.shape) < resolution:
            raise InputError(f"{where}/{sample.name}",
                             f"is {sample.labels.shape[0]}x{sample.labels.shape[1]} px, smaller than resolution "
                             f"{resolution}", "fit with a smaller resolution (a power of 2, e.g. 32)")


def fit_pair(
    dataset: segbench.Dataset,
    workdir: str | Path,
    *,
    resolution: int,
    mask_steps: int,
    image_steps: int,
    seed: int = 0,
    device: str = "auto",
    progress: Progress | None = None,
) -> Path:
    """Train the mask and the image model on ``dataset``; returns ``workdir``.

    Parameters
    ----------
    dataset : segbench.Dataset
        2D annotated samples (``.image`` of any dtype, ``.labels`` int, 0 =
        background), each at least ``resolution`` px a side.
    workdir : str or Path
        Output folder; ``training/`` in it (logs and sample grids of both
        runs) is replaced, ``masks/`` and ``images/`` are (re)written.
    resolution : int
        Side of the mask tiles and image patches, px (a power of 2 >= 16).
    mask_steps, image_steps : int
        Optimisation steps of StyleGAN3 (batch 8) and pix2pixHD (batch 4).
    seed : int
        Seed of both trainings (CPU training is deterministic for a seed and
        thread count).
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
    progress : callable, optional
        ``progress(step, total, loss)`` after each group of steps; ``step``
        counts mask steps, then ``mask_steps`` + image steps, ``total`` is
        ``mask_steps + image_steps``; ``loss`` is the generator's adversarial
        loss of the group.
    """
    from .pix2pixhd import Pix2PixHDConfig, TrainOptions, train_images
    from .pix2pixhd.checkpoint import export_for_sampling
    from segbench.kit import torch_device
    from .stylegan3 import export_mask_generator, train_masks

    for name, value in (("mask_steps", mask_steps), ("image_steps", image_steps)):
        if not (isinstance(value, int) and value >= 1):
            raise ValueError(f"{name}: must be a positive integer, got {value!r}")
    if not (isinstance(resolution, int) and resolution >= 16 and resolution & (resolution - 1) == 0):
        raise ValueError(f"resolution: must be a power of 2 >= 16, got {resolution!r}")
    check_dataset(dataset, resolution)
    workdir = Path(workdir)
    training = workdir / "training"
    shutil.rmtree(training, ignore_errors=True)  # fit trains from scratch, never resumes
    total = mask_steps + image_steps
    resolved = torch_device(device)

    def mask_status(status) -> None:
        if progress is not None and status.tick is not None:
            progress(status.step, total, status.tick.get("loss_G"))

    tick = max(1, min(25, mask_steps // 10))
    train_masks(dataset, training / "masks", resolution=resolution, steps=mask_steps, tick_every=tick,
                snapshot_every=mask_steps, grid_size=16, seed=seed, device=resolved, progress=mask_status,
                **MASK_ARCH)
    options = TrainOptions(steps=image_steps, batch_size=IMAGE_BATCH, crop=resolution,
                           snapshot_every=image_steps, log_every=max(1, min(25, image_steps // 10)), seed=seed,
                           device=str(resolved))
    train_images(dataset, training / "images", Pix2PixHDConfig(**IMAGE_ARCH), options,
                 on_log=(lambda step, losses: progress(mask_steps + step, total, losses.get("loss_G_GAN")))
                 if progress is not None else None)
    export_mask_generator(training / "masks", workdir / "masks" / "generator.pt")
    for name in ("training.json", "stats.jsonl"):
        shutil.copyfile(training / "masks" / name, workdir / "masks" / name)
    export_for_sampling(training / "images", workdir / "images")
    for state in [*(training / "masks").glob("snapshot-*.pt"), training / "images" / "training_state.pth"]:
        state.unlink()  # resumable states: fit never resumes; logs and sample grids stay
    return workdir
