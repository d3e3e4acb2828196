"""Training the mask GAN: StyleGAN3 generator against a StyleGAN2 discriminator.

One training step (Karras et al. 2020 and 2021):

1. generator: ``loss_G = softplus(-D(aug(G(z))))``, one Adam step;
2. discriminator: ``loss_D = softplus(D(aug(G(z')))) + softplus(-D(aug(x)))`` on a
   batch of real tiles ``x``, one Adam step; the generator's running averages
   (``w_avg``, layer magnitudes) are updated on this pass;
3. every ``r1_interval`` steps: ``r1_gamma / 2 * ||grad_x D(aug(x))||^2 * r1_interval``
   (lazy R1), one more Adam step of the discriminator, whose learning rate and betas are
   adjusted for the interval as in StyleGAN2 (``lr * c``, ``beta ** c``,
   ``c = interval / (interval + 1)``);
4. the EMA generator moves towards the generator with a half-life of ``ema_kimg``
   thousand images (ramped up over the first ``ema_rampup`` of training);
5. every ``augment_interval`` steps the ADA probability is adjusted.

Every random draw comes from one seeded ``torch.Generator`` saved in each snapshot,
so training stopped at a snapshot and resumed gives, on the CPU, bit-identical weights.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import imageio.v3 as iio
import numpy as np
import torch
from segbench import Dataset, Sample
from segbench.errors import InputError
from segbench.kit import torch_device

from ..snapshots import StatsLog, atomic_save
from .augment import AdaptiveAugment, random_dihedral, soften
from .checkpoint import FORMAT_SNAPSHOT, latest_snapshot, read_checkpoint, snapshot_path
from .config import StyleGAN3Config
from .data import mask_tiles
from .discriminator import Discriminator
from .generator import Generator
from .loss import discriminator_loss, generator_loss, r1_penalty

__all__ = ["TrainingOptions", "TrainingStatus", "TrainingResult", "train_masks"]


@dataclass(frozen=True)
class TrainingOptions:
    """Training settings (stored in each snapshot; may change when resuming).

    Attributes
    ----------
    batch_size : int
        Images per step.
    total_steps : int
        Steps to train in all (resumed runs included).
    lr_g, lr_d : float
        Adam learning rates (StyleGAN3: 0.0025 and 0.002; betas 0 and 0.99).
    r1_gamma : float
        R1 weight.
    r1_interval : int
        Steps between R1 steps (lazy regularisation).
    ema_kimg : float
        Half-life of the EMA generator, thousand images.
    ema_rampup : float or None
        Cap the half-life at this fraction of the images seen so far (None: no cap).
    augment : bool
        Adaptive augmentation on.
    augment_p : float
        Initial augmentation probability.
    augment_target : float
        ADA target of ``E[sign(D(real))]``.
    augment_speed_kimg : float
        Thousand images for ``p`` to move from 0 to 1.
    augment_interval : int
        Steps between adjustments of ``p``.
    mirror : bool
        Random flips and 90-degree rotations of the real tiles (dataset augmentation).
    mask_blur : float
        Gaussian blur of the real tiles, pixels (:func:`.augment.soften`).
    scale : float
        Resampling factor of the label images before tiling.
    border_gap : bool
        Background line between touching objects in the training masks.
    tick_every, snapshot_every : int
        Steps between stats lines and between snapshots.
    grid_size : int
        Samples in each snapshot's PNG grid.
    seed : int
        Seed of every random draw.
    """

    batch_size: int
    total_steps: int
    lr_g: float
    lr_d: float
    r1_gamma: float
    r1_interval: int
    ema_kimg: float
    ema_rampup: float | None
    augment: bool
    augment_p: float
    augment_target: float
    augment_speed_kimg: float
    augment_interval: int
    mirror: bool
    mask_blur: float
    scale: float
    border_gap: bool
    tick_every: int
    snapshot_every: int
    grid_size: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrainingStatus:
    """What the ``progress`` callback of :func:`train_masks` gets after every step.

    Attributes
    ----------
    step, total_steps : int
        Steps done and to do in all.
    kimg : float
        Thousand real images shown so far.
    augment_p : float
        Current augmentation probability.
    tick : dict or None
        The stats line just written (after the last step of a tick), else None.
    snapshot : Path or None
        The snapshot just written, else None.
    """

    step: int
    total_steps: int
    kimg: float
    augment_p: float
    tick: dict | None = None
    snapshot: Path | None = None


@dataclass(frozen=True)
class TrainingResult:
    """Outcome of :func:`train_masks`.

    Attributes
    ----------
    snapshot : Path
        The last snapshot written.
    step : int
        Steps done in all.
    kimg : float
        Thousand real images shown in all.
    seconds : float
        Training time in all (resumed sessions included), seconds.
    finished : bool
        True when ``total_steps`` was reached (False: stopped by ``time_limit``).
    resumed_from : int or None
        Step of the snapshot this call resumed from.
    """

    snapshot: Path
    step: int
    kimg: float
    seconds: float
    finished: bool
    resumed_from: int | None


class _Trainer:
    """The networks, optimisers and state of one training run."""

    def __init__(self, cfg: StyleGAN3Config, opts: TrainingOptions, tiles: np.ndarray, device: torch.device):
        self.cfg, self.opts, self.device = cfg, opts, device
        self.rng = torch.Generator().manual_seed(opts.seed)
        with torch.random.fork_rng(devices=[]):  # seeded initialisation, caller's RNG untouched
            torch.manual_seed(opts.seed)
            self.G = Generator(cfg).to(device).train()
            self.D = Discriminator(cfg).to(device).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=opts.lr_g, betas=(0.0, 0.99), eps=1e-8)
        c = opts.r1_interval / (opts.r1_interval + 1)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=opts.lr_d * c, betas=(0.0, 0.99**c), eps=1e-8)
        self.augment = AdaptiveAugment(
            p=opts.augment_p, target=opts.augment_target, speed_kimg=opts.augment_speed_kimg, adjust=opts.augment,
        )
        self.tiles = torch.from_numpy(tiles)
        self.step = 0
        self.cur_nimg = 0
        self.seconds = 0.0

    # -- state ---------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "format": FORMAT_SNAPSHOT,
            "config": self.cfg.to_dict(),
            "options": self.opts.to_dict(),
            "step": self.step,
            "cur_nimg": self.cur_nimg,
            "seconds": self.seconds,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "augment": self.augment.state_dict(),
            "rng": self.rng.get_state(),
        }

    def load(self, data: dict[str, Any]) -> None:
        self.G.load_state_dict(data["G"])
        self.D.load_state_dict(data["D"])
        self.G_ema.load_state_dict(data["G_ema"])
        self.opt_G.load_state_dict(data["opt_G"])
        self.opt_D.load_state_dict(data["opt_D"])
        # The (possibly changed) learning rates of this call win over the stored ones.
        c = self.opts.r1_interval / (self.opts.r1_interval + 1)
        for group in self.opt_G.param_groups:
            group["lr"] = self.opts.lr_g
        for group in self.opt_D.param_groups:
            group["lr"], group["betas"] = self.opts.lr_d * c, (0.0, 0.99**c)
        self.augment.load_state_dict(data["augment"])
        if not self.opts.augment:
            self.augment.p = self.opts.augment_p
        self.rng.set_state(data["rng"])
        self.step, self.cur_nimg, self.seconds = int(data["step"]), int(data["cur_nimg"]), float(data["seconds"])

    # -- one step ----------------------------------------------------------------
    def _latents(self) -> torch.Tensor:
        return torch.randn(self.opts.batch_size, self.cfg.z_dim, generator=self.rng).to(self.device)

    def _reals(self) -> torch.Tensor:
        index = torch.randint(0, len(self.tiles), (self.opts.batch_size,), generator=self.rng)
        x = self.tiles[index].unsqueeze(1).float() * 2 - 1
        if self.opts.mirror:
            x = random_dihedral(x, self.rng)
        return soften(x.to(self.device), self.opts.mask_blur)

    def _d(self, images: torch.Tensor) -> torch.Tensor:
        return self.D(self.augment(images, self.rng))

    def train_step(self) -> dict[str, float]:
        opts = self.opts
        losses: dict[str, float] = {}

        self.D.requires_grad_(False)
        loss_G = generator_loss(self._d(self.G(self._latents())))
        self.opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        self.opt_G.step()
        self.D.requires_grad_(True)
        losses["loss_G"] = float(loss_G.detach())

        with torch.no_grad():
            fake = self.G(self._latents(), update_emas=True)
        reals = self._reals()
        real_logits = self._d(reals)
        self.augment.accumulate(real_logits)
        loss_D = discriminator_loss(real_logits, self._d(fake))
        self.opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        self.opt_D.step()
        losses["loss_D"] = float(loss_D.detach())

        if self.step % opts.r1_interval == 0:
            r1 = r1_penalty(self._d, reals).mean()
            self.opt_D.zero_grad(set_to_none=True)
            (r1 * (opts.r1_gamma / 2) * opts.r1_interval).backward()
            self.opt_D.step()
            losses["r1"] = float(r1.detach())

        self.step += 1
        self.cur_nimg += opts.batch_size
        self._update_ema()
        if self.step % opts.augment_interval == 0:
            self.augment.update(opts.batch_size * opts.augment_interval)
        return losses

    @torch.no_grad()
    def _update_ema(self) -> None:
        ema_nimg = self.opts.ema_kimg * 1000
        if self.opts.ema_rampup is not None:
            ema_nimg = min(ema_nimg, self.cur_nimg * self.opts.ema_rampup)
        beta = 0.5 ** (self.opts.batch_size / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.copy_(torch.lerp(p, p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    @torch.no_grad()
    def sample_grid(self, path: Path) -> None:
        """PNG grid of ``grid_size`` EMA samples from fixed latents, -1 black, +1 white."""
        n = self.opts.grid_size
        z = torch.randn(n, self.cfg.z_dim, generator=torch.Generator().manual_seed(self.opts.seed))
        images = self.G_ema(z.to(self.device)).mean(dim=1).clamp(-1, 1).cpu().numpy()
        write_grid(path, images)


def write_grid(path: Path, images: np.ndarray, gap: int = 2) -> None:
    """Write images in ``[-1, 1]`` of shape ``(n, H, W)`` as a near-square PNG grid."""
    n, h, w = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), 128, dtype=np.uint8)
    pixels = np.round((images + 1) * 127.5).astype(np.uint8)
    for k in range(n):
        r, c = divmod(k, cols)
        grid[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = pixels[k]
    iio.imwrite(path, grid, extension=".png")


def _total_steps(steps: int | None, kimg: float | None, batch_size: int) -> int:
    if steps is not None and kimg is not None:
        raise ValueError("give steps or kimg, not both")
    if steps is not None:
        if not (isinstance(steps, int) and steps >= 1):
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        return steps
    kimg = 1000.0 if kimg is None else kimg
    if not kimg > 0:
        raise ValueError(f"kimg must be > 0, got {kimg!r}")
    return max(1, math.ceil(kimg * 1000 / batch_size))


def _check_resumable(out_dir: Path, stored: dict[str, Any], cfg: StyleGAN3Config) -> None:
    if stored != cfg.to_dict():
        diff = sorted(k for k in set(stored) | set(cfg.to_dict()) if stored.get(k) != cfg.to_dict().get(k))
        details = ", ".join(f"{k}: {stored.get(k)!r} there vs {cfg.to_dict().get(k)!r} now" for k in diff)
        raise InputError(
            out_dir, f"holds a training of another architecture ({details})",
            "resume with the same architecture settings, or train into another folder",
        )


def _warm_start(trainer: _Trainer, source: str | Path) -> None:
    """Start ``trainer``'s G and G_ema from the EMA generator of ``source`` (an exported
    generator or a snapshot); the discriminator, optimisers and ADA start fresh.

    The architectures must agree except ``magnitude_ema_beta``, which follows the
    batch size.
    """
    data = read_checkpoint(source)
    stored, now = dict(data["config"]), trainer.cfg.to_dict()
    stored.pop("magnitude_ema_beta", None)
    now.pop("magnitude_ema_beta", None)
    if stored != now:
        details = ", ".join(f"{k}: {stored.get(k)!r} there vs {now.get(k)!r} now"
                            for k in sorted(set(stored) | set(now)) if stored.get(k) != now.get(k))
        raise InputError(source, f"holds a generator of another architecture ({details})",
                         "warm-start with the architecture it was trained with (segbench_gan.fit.MASK_ARCH "
                         "for the shipped one)")
    trainer.G.load_state_dict(data["G_ema"])
    trainer.G_ema.load_state_dict(data["G_ema"])


def train_masks(
    data: str | Path | Dataset | Iterable[Sample],
    out_dir: str | Path,
    *,
    resolution: int = 256,
    config: str = "t",
    z_dim: int = 512,
    w_dim: int = 512,
    mapping_layers: int = 2,
    num_layers: int = 14,
    channel_base: int | None = None,
    channel_max: int | None = None,
    margin_size: int = 10,
    d_channel_base: int = 32768,
    d_channel_max: int = 512,
    batch_size: int = 32,
    steps: int | None = None,
    kimg: float | None = None,
    lr_g: float = 0.0025,
    lr_d: float = 0.002,
    r1_gamma: float | None = None,
    r1_interval: int = 16,
    ema_kimg: float | None = None,
    ema_rampup: float | None = 0.05,
    augment: bool = True,
    augment_p: float = 0.0,
    augment_target: float = 0.6,
    augment_speed_kimg: float = 100.0,
    augment_interval: int = 4,
    mirror: bool = True,
    mask_blur: float = 0.7,
    scale: float = 1.0,
    border_gap: bool = True,
    tick_every: int | None = None,
    snapshot_every: int | None = None,
    grid_size: int = 16,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: Callable[[TrainingStatus], None] | None = None,
    time_limit: float | None = None,
    init_from: str | Path | None = None,
) -> TrainingResult:
    """Train a StyleGAN3 generator of binary cell masks; resume when ``out_dir`` holds
    snapshots.

    Writes to ``out_dir``: ``snapshot-NNNNNNN.pt`` (every ``snapshot_every`` steps and
    at the end; see :mod:`.checkpoint`), ``samples-NNNNNNN.png`` (EMA samples from fixed
    latents, one per snapshot), ``stats.jsonl`` (one line per tick: ``step``, ``kimg``,
    ``loss_G``, ``loss_D``, ``r1`` (None in ticks without an R1 step), ``augment_p``,
    ``seconds``) and ``training.json`` (architecture and settings, for people).

    Parameters
    ----------
    data : str, Path, Dataset or iterable of Sample
        Labelled 2D dataset: a dataset folder or samples (see :func:`.data.mask_tiles`).
    out_dir : str or Path
        Output folder; when it holds snapshots, training resumes from the newest (its
        architecture must equal the requested one).
    resolution, config, z_dim, w_dim, mapping_layers, num_layers, channel_base,
    channel_max, margin_size, d_channel_base, d_channel_max
        Architecture (:class:`StyleGAN3Config`; ``config`` is ``'t'`` or ``'r'``).
    batch_size : int
        Images per step (a multiple of 4 keeps minibatch-stddev groups of 4).
    steps, kimg : optional
        Training length in steps or thousand images, at most one (default 1000 kimg).
    lr_g, lr_d : float
        Adam learning rates.
    r1_gamma : float, optional
        R1 weight; default ``0.0002 * resolution**2 / batch_size`` (the StyleGAN2-ADA
        heuristic).
    r1_interval : int
        Lazy R1 interval in steps.
    ema_kimg : float, optional
        EMA half-life in thousand images; default ``batch_size * 10 / 32``.
    ema_rampup : float or None
        EMA ramp-up fraction (None disables it).
    augment, augment_p, augment_target, augment_speed_kimg, augment_interval
        Adaptive augmentation (see :class:`.augment.AdaptiveAugment`); with
        ``augment=False``, ``augment_p`` is a fixed probability (0 = no augmentation).
    mirror : bool
        Random flips/90-degree rotations of real tiles.
    mask_blur : float
        Gaussian blur of the real tiles in pixels, so their edges are as soft as the
        band-limited generator can draw (0: binary tiles).
    scale : float
        Resampling factor of the label images before tiling.
    border_gap : bool
        Background line between touching objects in the training masks.
    tick_every, snapshot_every : int, optional
        Steps per stats line (default: 4 kimg) and per snapshot (default: 10 ticks).
    grid_size : int
        Images in each sample grid.
    seed : int
        Seed of initialisation and every random draw.
    device : str or torch.device, optional
        Default CUDA when available, else CPU.
    progress : callable, optional
        Called with a :class:`TrainingStatus` after every step.
    time_limit : float, optional
        Stop (with a snapshot) once this call has trained this many seconds.
    init_from : str or Path, optional
        Warm start: an exported generator (``generator.pt``) or snapshot file whose
        EMA weights start G and G_ema of a new run (fresh discriminator, optimisers
        and augmentation; same architecture, any batch size). Ignored when
        ``out_dir`` holds snapshots (the run resumes from them).

    Returns
    -------
    TrainingResult

    Raises
    ------
    segbench.errors.InputError
        Unreadable data, or ``out_dir`` holds a training of another architecture.
    """
    out_dir = Path(out_dir)
    cfg = StyleGAN3Config(
        resolution=resolution, architecture=config, z_dim=z_dim, w_dim=w_dim, mapping_layers=mapping_layers,
        num_layers=num_layers, channel_base=channel_base, channel_max=channel_max, margin_size=margin_size,
        d_channel_base=d_channel_base, d_channel_max=d_channel_max,
        magnitude_ema_beta=0.5 ** (batch_size / 20000),
    )
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    for name, value in (("r1_interval", r1_interval), ("augment_interval", augment_interval)):
        if not (isinstance(value, int) and value >= 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    tick_every = tick_every or max(1, math.ceil(4000 / batch_size))
    opts = TrainingOptions(
        batch_size=batch_size,
        total_steps=_total_steps(steps, kimg, batch_size),
        lr_g=lr_g, lr_d=lr_d,
        r1_gamma=0.0002 * resolution**2 / batch_size if r1_gamma is None else float(r1_gamma),
        r1_interval=r1_interval,
        ema_kimg=batch_size * 10 / 32 if ema_kimg is None else float(ema_kimg),
        ema_rampup=ema_rampup,
        augment=augment, augment_p=augment_p, augment_target=augment_target,
        augment_speed_kimg=augment_speed_kimg, augment_interval=augment_interval,
        mirror=mirror, mask_blur=float(mask_blur), scale=scale, border_gap=border_gap,
        tick_every=tick_every, snapshot_every=snapshot_every or 10 * tick_every,
        grid_size=grid_size, seed=seed,
    )
    dev = torch_device(device)
    tiles = mask_tiles(data, resolution, scale=scale, border_gap=border_gap)

    trainer = _Trainer(cfg, opts, tiles, dev)
    stats = StatsLog(out_dir / "stats.jsonl")
    resumed_from = None
    previous = latest_snapshot(out_dir)
    if previous is not None:
        stored = read_checkpoint(previous)
        _check_resumable(out_dir, stored["config"], cfg)
        trainer.load(stored)
        resumed_from = trainer.step
        stats.truncate_after(trainer.step)
    elif init_from is not None:
        _warm_start(trainer, init_from)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {"config": cfg.to_dict(), "options": opts.to_dict(), "tiles": len(tiles)}
    if init_from is not None and previous is None:
        record["init_from"] = str(init_from)
    (out_dir / "training.json").write_text(json.dumps(record, indent=2) + "\n")

    started = time.perf_counter()
    session_base = trainer.seconds
    last_snapshot = previous
    tick_losses: dict[str, list[float]] = {"loss_G": [], "loss_D": [], "r1": []}
    while trainer.step < opts.total_steps:
        for key, value in trainer.train_step().items():
            tick_losses[key].append(value)
        trainer.seconds = session_base + time.perf_counter() - started
        out_of_time = time_limit is not None and time.perf_counter() - started >= time_limit
        done = trainer.step >= opts.total_steps
        tick = None
        if trainer.step % opts.tick_every == 0 or done or out_of_time:
            tick = {
                "step": trainer.step,
                "kimg": trainer.cur_nimg / 1000,
                **{k: (float(np.mean(v)) if v else None) for k, v in tick_losses.items()},
                "augment_p": trainer.augment.p,
                "seconds": round(trainer.seconds, 3),
            }
            stats.write(**tick)
            tick_losses = {k: [] for k in tick_losses}
        written = None
        if trainer.step % opts.snapshot_every == 0 or done or out_of_time:
            written = snapshot_path(out_dir, trainer.step)
            atomic_save(trainer.state(), written)
            trainer.sample_grid(out_dir / f"samples-{trainer.step:07d}.png")
            last_snapshot = written
        if progress is not None:
            progress(TrainingStatus(trainer.step, opts.total_steps, trainer.cur_nimg / 1000, trainer.augment.p,
                                    tick, written))
        if out_of_time:
            break

    assert last_snapshot is not None  # a fresh run trains >= 1 step and snapshots at its end
    return TrainingResult(
        snapshot=last_snapshot, step=trainer.step, kimg=trainer.cur_nimg / 1000, seconds=trainer.seconds,
        finished=trainer.step >= opts.total_steps, resumed_from=resumed_from,
    )
