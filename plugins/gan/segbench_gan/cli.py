"""``segbench gan``: train the mask and image models, and export them for sampling.

Sampling goes through the core: ``segbench generate gan --n N --out DIR
--param weights=DIR``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segbench.errors import SegbenchError

__all__ = ["add_parser"]

DESCRIPTION = """\
Train the two networks of the `gan` generator (`segbench realism` measures how
realistic its images are). The weights for `segbench generate gan --param
weights=DIR` are a folder with masks/ (from train-masks) and images/ (from
train-images), as export writes it.
Both trainings write periodic snapshots with PNG sample grids and stats.jsonl
into --out and resume from the last snapshot when run again with the same --out."""

EPILOG = """\
examples:
  segbench generate procedural --n 200 --out data/nuclei --param shape=[64,64]
  segbench gan train-masks --data data/nuclei --out models/gan/masks --resolution 64
  segbench gan train-images --data data/nuclei --out models/gan/images --steps 2000
  segbench gan export --masks models/gan/masks --images models/gan/images --out models/gan/ship
  segbench generate gan --n 100 --out data/gan --param weights=models/gan/ship
  segbench realism --real data/nuclei --fake data/gan --json realism.json
"""

#: train-images flags that set the architecture (Pix2PixHDConfig fields)
_ARCH = {
    "netG": (str, "generator: global, or global + local enhancers (default: global)", ["global", "local"]),
    "ngf": (int, "filters of the generator's first layer (default: 64)", None),
    "n_downsample_global": (int, "stride-2 downsamplings of the global generator (default: 3)", None),
    "n_blocks_global": (int, "residual blocks of the global generator (default: 9)", None),
    "n_local_enhancers": (int, "local enhancers with --netG local (default: 1)", None),
    "n_blocks_local": (int, "residual blocks per local enhancer (default: 3)", None),
    "norm": (str, "normalisation layers (default: instance)", ["instance", "batch"]),
    "feat_num": (int, "instance feature channels; > 0 trains a feature encoder whose k-means "
                      "clusters choose each cell's appearance at sampling time (default: 0)", None),
    "nef": (int, "filters of the feature encoder (default: 16)", None),
    "n_downsample_E": (int, "downsamplings of the feature encoder (default: 4)", None),
    "n_clusters": (int, "k-means clusters of instance features (default: 10)", None),
    "ndf": (int, "filters of the discriminators' first layer (default: 64)", None),
    "n_layers_D": (int, "stride-2 layers per discriminator (default: 3)", None),
    "num_D": (int, "discriminator scales (default: 2)", None),
}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``segbench gan`` and its subcommands."""
    parser = subparsers.add_parser("gan", help="train the gan generator's networks and export them",
                                   description=DESCRIPTION, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=lambda args: _usage(parser))
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_train_masks(commands)
    _add_train_images(commands)
    _add_export(commands)
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _fail(command: str, message: str, code: int = 2) -> int:
    print(f"segbench gan {command}: {message}", file=sys.stderr)
    return code


def _common_training(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, metavar="DIR",
                   help="dataset folder of images/ + masks/ (e.g. from `segbench generate`)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="checkpoint folder (resumes from its last snapshot)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")
    p.add_argument("--time-limit", type=float, metavar="SECONDS",
                   help="stop with a snapshot after this many seconds")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads torch may use (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


# --------------------------------------------------------------------- train-masks

#: train-masks flags -> train_masks keyword (type, help); every one is passed when given
_MASK_FLAGS = {
    "resolution": (int, "mask resolution, a power of 2 (default: 256)"),
    "config": (str, "StyleGAN3-T (translation) or -R (rotation) equivariance: t or r (default: t)"),
    "z_dim": (int, "latent size (default: 512)"),
    "w_dim": (int, "intermediate latent size (default: 512)"),
    "mapping_layers": (int, "mapping network layers (default: 2)"),
    "num_layers": (int, "synthesis layers (default: 14)"),
    "channel_base": (int, "synthesis channel base (default: the StyleGAN3 config's)"),
    "channel_max": (int, "largest synthesis width (default: the StyleGAN3 config's)"),
    "d_channel_base": (int, "discriminator channel base (default: 32768)"),
    "d_channel_max": (int, "largest discriminator width (default: 512)"),
    "batch_size": (int, "images per step (default: 32)"),
    "steps": (int, "optimisation steps in total (or --kimg)"),
    "kimg": (float, "thousands of real masks shown in total (default: 1000)"),
    "lr_g": (float, "generator learning rate (default: 0.0025)"),
    "lr_d": (float, "discriminator learning rate (default: 0.002)"),
    "r1_gamma": (float, "R1 weight (default: 0.0002 * resolution^2 / batch size)"),
    "ema_kimg": (float, "generator EMA half-life, thousands of images (default: batch size * 10 / 32)"),
    "scale": (float, "resampling factor of the label images before tiling (default: 1)"),
    "tick_every": (int, "steps per stats.jsonl line (default: 4 kimg)"),
    "snapshot_every": (int, "steps per snapshot (default: 10 ticks)"),
    "grid_size": (int, "images per sample grid (default: 16)"),
}


def _add_train_masks(commands) -> None:
    p = commands.add_parser(
        "train-masks", help="train the StyleGAN3 mask generator on a dataset's masks",
        description="Train StyleGAN3 (alias-free generator, StyleGAN2 discriminator, adaptive "
        "augmentation) on the binary masks of a dataset folder; see docs/stylegan3.md. Export the "
        "small sampling file with `segbench gan export`.")
    _common_training(p)
    for name, (kind, text) in _MASK_FLAGS.items():
        choices = ["t", "r"] if name == "config" else None
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, choices=choices, help=text)
    p.add_argument("--no-augment", dest="augment", action="store_false", default=None,
                   help="no adaptive augmentation")
    p.add_argument("--no-mirror", dest="mirror", action="store_false", default=None,
                   help="no random flips / 90-degree rotations of the real masks")
    p.set_defaults(func=_train_masks)


def _train_masks(args: argparse.Namespace) -> int:
    from .stylegan3 import train_masks

    kwargs = {k: getattr(args, k) for k in (*_MASK_FLAGS, "augment", "mirror") if getattr(args, k) is not None}
    _set_threads(args.threads)
    try:
        with _MaskProgress(not args.quiet) as progress:
            result = train_masks(args.data, args.out, seed=args.seed, device=_device(args.device),
                                 time_limit=args.time_limit, progress=progress.update, **kwargs)
    except (SegbenchError, ValueError) as err:
        return _fail("train-masks", str(err))
    state = "finished" if result.finished else "stopped by --time-limit"
    print(f"mask generator snapshot: {result.snapshot} (step {result.step}, {state})")
    return 0


class _MaskProgress:
    """Rich progress bar fed by train_masks' per-step status callback."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.task = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("StyleGAN3"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.fields[losses]}"))
            self.bar.__enter__()
        return self

    def update(self, status) -> None:
        if not self.enabled:
            return
        if self.task is None:
            self.task = self.bar.add_task("train", total=status.total_steps, losses="")
        fields = {}
        if status.tick:
            fields["losses"] = " ".join(f"{k}={v:.3f}" for k, v in status.tick.items()
                                        if k.startswith("loss") and isinstance(v, (int, float)))
        self.bar.update(self.task, completed=status.step, **fields)

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)
        return False


# --------------------------------------------------------------------- train-images

def _add_train_images(commands) -> None:
    from .pix2pixhd.options import TrainOptions

    d = TrainOptions()
    p = commands.add_parser(
        "train-images", help="train pix2pixHD on (mask, image) pairs of a dataset",
        description="Train pix2pixHD to render instance masks as fluorescence images (binary "
        "foreground + instance edge map as input, LSGAN + feature matching, optional VGG19 "
        "perceptual loss from a local weight file). Architecture flags are fixed by the first run "
        "into --out; a resumed run may leave them out.")
    _common_training(p)
    arch = p.add_argument_group("architecture (pix2pixHD options; stored in OUT/config.json)")
    for name, (kind, text, choices) in _ARCH.items():
        arch.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, choices=choices, help=text)
    arch.add_argument("--no-edges", dest="use_edges", action="store_false", default=None,
                      help="do not feed the instance edge map (touching cells then merge)")
    train = p.add_argument_group("training")
    train.add_argument("--steps", type=int, default=d.steps, help=f"total steps (default: {d.steps})")
    train.add_argument("--batch-size", type=int, default=d.batch_size, help=f"(default: {d.batch_size})")
    train.add_argument("--crop", type=int, default=d.crop,
                       help=f"side of the random square training patches, px (default: {d.crop})")
    train.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default: {d.lr})")
    train.add_argument("--beta1", type=float, default=d.beta1, help=f"Adam beta1 (default: {d.beta1})")
    train.add_argument("--decay-steps", type=int, default=d.decay_steps,
                       help="linear learning-rate decay to 0 over the last N steps (default: 0)")
    train.add_argument("--lambda-feat", type=float, default=d.lambda_feat,
                       help=f"feature-matching weight (default: {d.lambda_feat})")
    train.add_argument("--vgg-weights", type=Path, metavar="FILE",
                       help="local torchvision VGG19 state dict: enables the perceptual loss (off by default)")
    train.add_argument("--lambda-vgg", type=float, default=d.lambda_vgg,
                       help=f"perceptual loss weight (default: {d.lambda_vgg})")
    train.add_argument("--no-augment", dest="augment", action="store_false",
                       help="no random flips / 90-degree rotations")
    train.add_argument("--snapshot-every", type=int, default=d.snapshot_every,
                       help=f"steps between snapshots (default: {d.snapshot_every})")
    train.add_argument("--log-every", type=int, default=d.log_every,
                       help=f"steps between stats.jsonl lines (default: {d.log_every})")
    p.set_defaults(func=_train_images)


def _train_images(args: argparse.Namespace) -> int:
    from .pix2pixhd import Pix2PixHDConfig, TrainOptions, train_images

    arch = {k: getattr(args, k) for k in (*_ARCH, "use_edges") if getattr(args, k) is not None}
    _set_threads(args.threads)
    try:
        config = Pix2PixHDConfig(**arch) if arch else None
        options = TrainOptions(
            steps=args.steps, batch_size=args.batch_size, crop=args.crop, lr=args.lr, beta1=args.beta1,
            decay_steps=args.decay_steps, lambda_feat=args.lambda_feat, lambda_vgg=args.lambda_vgg,
            vgg_weights=str(args.vgg_weights) if args.vgg_weights else None, augment=args.augment,
            snapshot_every=args.snapshot_every, log_every=args.log_every, seed=args.seed,
            device=args.device, time_limit=args.time_limit)
        out = train_images(args.data, args.out, config, options, progress=not args.quiet,
                           warn=lambda line: print(line, file=sys.stderr))
    except (SegbenchError, ValueError) as err:
        return _fail("train-images", str(err))
    print(f"pix2pixHD checkpoint: {out}")
    return 0


# --------------------------------------------------------------------- export

def _add_export(commands) -> None:
    p = commands.add_parser(
        "export", help="assemble a small checkpoint folder for `segbench generate gan`",
        description="Copy what sampling needs from the two training folders into OUT: "
        "OUT/masks/generator.pt (the StyleGAN3 EMA generator of the newest or given snapshot) and "
        "OUT/images/ (pix2pixHD config.json, latest_net_G.pth, features.npz). Use OUT with "
        "`segbench generate gan --param weights=OUT`.")
    p.add_argument("--masks", type=Path, required=True, metavar="PATH",
                   help="train-masks output folder, or one of its snapshot-*.pt files")
    p.add_argument("--images", type=Path, required=True, metavar="DIR", help="train-images output folder")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="checkpoint folder to write")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from .pix2pixhd.checkpoint import export_for_sampling
    from .stylegan3 import export_mask_generator

    try:
        masks = export_mask_generator(args.masks, args.out / "masks" / "generator.pt")
        images = export_for_sampling(args.images, args.out / "images")
    except (SegbenchError, ValueError) as err:
        return _fail("export", str(err))
    size = sum(f.stat().st_size for f in [masks, *images.iterdir()]) / 1e6
    print(f"wrote {args.out} ({size:.1f} MB): use --param weights={args.out}")
    return 0


def _device(name: str):
    from segbench.kit import torch_device

    return torch_device(name)


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(max(1, threads))
