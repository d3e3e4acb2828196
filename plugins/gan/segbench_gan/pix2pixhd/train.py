"""Train pix2pixHD on (instance mask, image) pairs of a segbench dataset.

One step follows pix2pixHD: the generator renders the batch's label maps;
the multiscale discriminator scores (condition, fake) and (condition, real);
the generator minimises the LSGAN loss plus ``lambda_feat`` x feature matching
(plus ``lambda_vgg`` x the VGG19 perceptual loss when a local VGG19 weight
file is given); the discriminator minimises the mean of its real and fake LSGAN
losses. Adam, ``betas = (beta1, 0.999)``. With ``feat_num > 0`` the encoder is
trained with the generator, and every snapshot re-clusters the instance
features of the training set.

Every ``snapshot_every`` steps (and at the end) the output folder gets the
generator weights (and feature clusters) for sampling, ``training_state.pth``
(all weights, the optimiser and random states), and ``samples/step-NNNNNNN.png``
(rows: mask outlines, real, generated); a later call with the same folder
resumes from there, bit-identically on the CPU. ``stats.jsonl`` gets one line
every ``log_every`` steps.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import segbench
from segbench.errors import InputError
from segbench.kit import torch_device

from ..snapshots import StatsLog, atomic_save, save_image_grid
from .checkpoint import (
    FEATURES_FILE, G_FILE, STATE_FILE, CheckpointInfo, load_into, load_weights_file, read_info, write_info,
)
from .config import Pix2PixHDConfig
from .data import Pair, center_crop, load_pairs, random_batch
from .features import FeatureClusters, instance_classes
from .inputs import from_unit_range, instance_edges, label_input, to_unit_range
from .losses import feature_matching_loss, lsgan_loss
from .networks import build_discriminator, build_encoder, build_generator
from .options import TrainOptions
from .vgg import VGG19Features, VGGLoss

__all__ = ["TrainOptions", "train_images"]

STATS_FILE = "stats.jsonl"
SAMPLES_DIR = "samples"


class _Models:
    """Generator, discriminator, optional encoder and perceptual loss, with optimisers."""

    def __init__(self, config: Pix2PixHDConfig, options: TrainOptions, device: torch.device):
        torch.manual_seed(options.seed)
        self.config = config
        self.G = build_generator(config).to(device)
        self.D = build_discriminator(config).to(device)
        self.E = build_encoder(config)
        if self.E is not None:
            self.E.to(device)
        g_params = list(self.G.parameters()) + (list(self.E.parameters()) if self.E is not None else [])
        betas = (options.beta1, 0.999)
        self.opt_G = torch.optim.Adam(g_params, lr=options.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=options.lr, betas=betas)
        self.vgg = VGGLoss(VGG19Features.from_file(options.vgg_weights)).to(device) if options.vgg_weights else None

    def generator_input(self, labels: torch.Tensor, real: torch.Tensor | None,
                        features: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(generator input, discriminator condition) of a batch."""
        condition = label_input(labels, self.config)
        if self.E is None:
            return condition, condition
        if features is None:
            features = self.E(real, labels)
        return torch.cat([condition, features], dim=1), condition

    def step(self, labels: torch.Tensor, real: torch.Tensor, options: TrainOptions) -> dict[str, float]:
        """One generator and one discriminator update; returns the losses."""
        g_in, condition = self.generator_input(labels, real)
        fake = self.G(g_in)
        pred_fake_detached = self.D(torch.cat([condition, fake.detach()], dim=1))
        pred_real = self.D(torch.cat([condition, real], dim=1))
        pred_fake = self.D(torch.cat([condition, fake], dim=1))
        losses = {
            "loss_D_fake": lsgan_loss(pred_fake_detached, False),
            "loss_D_real": lsgan_loss(pred_real, True),
            "loss_G_GAN": lsgan_loss(pred_fake, True),
            "loss_G_FM": feature_matching_loss(pred_fake, pred_real) * options.lambda_feat,
        }
        if self.vgg is not None:
            losses["loss_G_VGG"] = self.vgg(fake, real) * options.lambda_vgg
        loss_G = losses["loss_G_GAN"] + losses["loss_G_FM"] + losses.get("loss_G_VGG", 0.0)
        loss_D = (losses["loss_D_fake"] + losses["loss_D_real"]) * 0.5
        self.opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        self.opt_G.step()
        self.opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        self.opt_D.step()
        return {k: float(v.detach()) for k, v in losses.items()}

    def set_lr(self, lr: float) -> None:
        for opt in (self.opt_G, self.opt_D):
            for group in opt.param_groups:
                group["lr"] = lr


def _to_tensors(labels: np.ndarray, images: np.ndarray, info: CheckpointInfo, device: torch.device):
    return (torch.from_numpy(labels).to(device),
            to_unit_range(torch.from_numpy(images), info.low, info.high).to(device))


@torch.no_grad()
def _cluster_features(models: _Models, pairs: list[Pair], info: CheckpointInfo, device: torch.device,
                      seed: int) -> FeatureClusters:
    """Encode every training image, take each instance's mean feature, k-means per class."""
    models.E.eval()
    per_class: dict[int, list[np.ndarray]] = {}
    m = models.config.size_multiple
    for pair in pairs:
        h, w = (pair.labels.shape[0] // m) * m, (pair.labels.shape[1] // m) * m
        labels, image = pair.labels[:h, :w], pair.image[:, :h, :w]
        lab_t, img_t = _to_tensors(labels[None, None], image[None], info, device)
        feats = models.E(img_t, lab_t)[0].cpu().numpy()
        for inst, cls in instance_classes(labels, None).items():
            first = np.argwhere(labels == inst)[0]
            per_class.setdefault(cls, []).append(feats[:, first[0], first[1]])
    models.E.train()
    return FeatureClusters.fit(per_class, models.config.n_clusters, seed)


@torch.no_grad()
def _sample_grid(models: _Models, grid: list[Pair], crop: int, info: CheckpointInfo, device: torch.device,
                 path: Path) -> None:
    """Rows: mask outlines, real patches, generated patches (features encoded from the real)."""
    labels, images = zip(*(center_crop(p, crop) for p in grid))
    lab_t, img_t = _to_tensors(np.stack(labels), np.stack(images), info, device)
    models.G.eval()
    g_in, _ = models.generator_input(lab_t, img_t)
    fake = models.G(g_in)
    models.G.train()
    outlines = ((lab_t > 0).float() - instance_edges(lab_t) * (lab_t > 0).float()).clamp(0, 1)
    rows = [outlines[:, 0].cpu().numpy(), img_t[:, 0].cpu().numpy(), fake[:, 0].cpu().numpy()]
    tiles = [row[i] for row in rows for i in range(len(grid))]
    tiles[len(grid):] = [from_unit_range(t, info.low, info.high) for t in tiles[len(grid):]]
    save_image_grid(path, tiles, ncols=len(grid))


def _snapshot(out: Path, models: _Models, step: int, rng: np.random.Generator, pairs: list[Pair],
              info: CheckpointInfo, options: TrainOptions, device: torch.device, elapsed: float) -> None:
    """Write the sampling files, a sample grid, and (last, in one atomic file) everything
    a resumed run needs, so a run killed mid-snapshot resumes from the previous one."""
    atomic_save(models.G.state_dict(), out / G_FILE)
    if models.E is not None:
        _cluster_features(models, pairs, info, device, options.seed).save(out / FEATURES_FILE)
    _sample_grid(models, pairs[: options.grid_size], options.crop, info, device,
                 out / SAMPLES_DIR / f"step-{step:07d}.png")
    atomic_save({"step": step, "elapsed": elapsed, "G": models.G.state_dict(), "D": models.D.state_dict(),
                 "E": models.E.state_dict() if models.E is not None else None,
                 "opt_G": models.opt_G.state_dict(), "opt_D": models.opt_D.state_dict(),
                 "rng": rng.bit_generator.state, "options": asdict(options)}, out / STATE_FILE)


def _resume(out: Path, models: _Models, rng: np.random.Generator) -> tuple[int, float]:
    """Load the last snapshot of ``out`` into ``models`` and ``rng``; returns (step, elapsed)."""
    path = out / STATE_FILE
    state = load_weights_file(path)
    load_into(models.G, state["G"], path)
    load_into(models.D, state["D"], path)
    if models.E is not None:
        load_into(models.E, state["E"], path)
    models.opt_G.load_state_dict(state["opt_G"])
    models.opt_D.load_state_dict(state["opt_D"])
    rng.bit_generator.state = state["rng"]
    return int(state["step"]), float(state["elapsed"])


def _intensity_range(pairs: list[Pair]) -> tuple[float, float]:
    low = float(min(p.image.min() for p in pairs))
    high = float(max(p.image.max() for p in pairs))
    return low, (high if high > low else low + 1.0)


def train_images(
    data: str | Path | segbench.Dataset,
    out: str | Path,
    config: Pix2PixHDConfig | None = None,
    options: TrainOptions | None = None,
    *,
    progress: bool = False,
    warn: Callable[[str], None] | None = None,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
) -> Path:
    """Train (or resume training) a pix2pixHD mask-to-image model.

    Parameters
    ----------
    data : str, Path or segbench.Dataset
        (image, mask) pairs: a dataset folder or a dataset; 2D images. The
        intensity range mapped to the generator's ``[-1, 1]`` is the training
        set's minimum to maximum.
    out : str or Path
        Checkpoint folder. When it holds a snapshot, training resumes from it
        (``config`` must then be None or equal to the stored one).
    config : Pix2PixHDConfig, optional
        Architecture (default ``Pix2PixHDConfig()``); ``label_nc`` must be 0, as
        dataset folders hold instance masks only.
    options : TrainOptions, optional
    progress : bool
        Show a rich progress bar with the latest losses.
    warn : callable, optional
        Receives one line per skipped input file (default: ignored).
    on_log : callable, optional
        Called as ``on_log(step, losses)`` with each ``stats.jsonl`` line's
        step and mean losses (every ``options.log_every`` steps and at the end).

    Returns
    -------
    Path
        ``out``, a checkpoint folder that :class:`~segbench_gan.pix2pixhd.ImageRenderer`
        loads.
    """
    out = Path(out)
    options = options or TrainOptions()
    resuming = (out / STATE_FILE).is_file()
    if resuming:
        stored = read_info(out)
        if config is not None and config != stored.config:
            raise InputError(out / "config.json", "holds a different architecture than requested",
                             "resume with the same settings, or train into a new folder")
        config = stored.config
    elif options.init_from is not None:
        stored = read_info(options.init_from)
        if config is not None and config != stored.config:
            raise InputError(Path(options.init_from) / "config.json", "holds a different architecture than requested",
                             "warm-start with the architecture it was trained with, or leave config out")
        config = stored.config
    config = config or Pix2PixHDConfig()
    if config.label_nc:
        raise ValueError("label_nc: dataset folders hold instance masks only; train with label_nc=0")
    if options.crop % config.size_multiple:
        raise ValueError(f"crop: {options.crop} is not a multiple of {config.size_multiple} "
                         "(2 ** the model's downsamplings)")
    device = torch_device(options.device)
    pairs, problems = load_pairs(data, config.output_nc, options.crop)
    for problem in problems:
        (warn or (lambda _: None))(f"skipped: {problem}")
    warm = not resuming and options.init_from is not None
    info = stored if resuming or warm else CheckpointInfo(config, *_intensity_range(pairs))
    models = _Models(config, options, device)
    if warm:
        load_into(models.G, load_weights_file(Path(options.init_from) / G_FILE), Path(options.init_from) / G_FILE)
    rng = np.random.default_rng(options.seed)
    stats = StatsLog(out / STATS_FILE)
    step, elapsed_before = 0, 0.0
    if resuming:
        step, elapsed_before = _resume(out, models, rng)
        stats.truncate_after(step)
    else:
        write_info(out, info)
    start = time.perf_counter()
    window: dict[str, list[float]] = {}
    with _progress(progress, options.steps, step) as bar:
        while step < options.steps:
            if options.decay_steps:
                models.set_lr(options.lr * min(1.0, (options.steps - step) / options.decay_steps))
            labels, images = random_batch(pairs, options.batch_size, options.crop, rng, options.augment)
            losses = models.step(*_to_tensors(labels, images, info, device), options)
            step += 1
            if not np.isfinite(list(losses.values())).all():
                raise FloatingPointError(f"step {step}: non-finite loss {losses}; lower the learning rate")
            for k, v in losses.items():
                window.setdefault(k, []).append(v)
            elapsed = elapsed_before + time.perf_counter() - start
            if step % options.log_every == 0 or step == options.steps:
                means = {k: float(np.mean(v)) for k, v in window.items()}
                stats.write(step=step, seconds=round(elapsed, 3), lr=models.opt_G.param_groups[0]["lr"], **means)
                window.clear()
                bar.update(step, means)
                if on_log is not None:
                    on_log(step, means)
            out_of_time = options.time_limit is not None and time.perf_counter() - start > options.time_limit
            if step % options.snapshot_every == 0 or step == options.steps or out_of_time:
                _snapshot(out, models, step, rng, pairs, info, options, device, elapsed)
            if out_of_time:
                break
    return out


class _progress:
    """Rich progress bar (or nothing) showing step and latest mean losses."""

    def __init__(self, enabled: bool, total: int, done: int):
        self.enabled, self.total, self.done = enabled, total, done

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("pix2pixHD"), BarColumn(bar_width=20), MofNCompleteColumn(), TimeElapsedColumn(),
                                TimeRemainingColumn(), TextColumn("{task.fields[losses]}"))
            self.bar.__enter__()
            self.task = self.bar.add_task("train", total=self.total, completed=self.done, losses="")
        return self

    def update(self, step: int, losses: dict[str, float]) -> None:
        if self.enabled:
            text = (f"D real/fake {losses['loss_D_real']:.2f}/{losses['loss_D_fake']:.2f} "
                    f"G {losses['loss_G_GAN']:.2f} FM {losses['loss_G_FM']:.2f}")
            if "loss_G_VGG" in losses:
                text += f" VGG {losses['loss_G_VGG']:.2f}"
            self.bar.update(self.task, completed=step, losses=text)

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)
        return False
