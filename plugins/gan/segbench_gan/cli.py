"""``segbench gan``: train the mask and image models, and measure realism.

Sampling goes through the core: ``segbench generate gan --n N --out DIR
--param checkpoint=DIR``.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

from segbench.errors import SegbenchError

__all__ = ["add_parser"]

DESCRIPTION = """\
Train the two networks of the `gan` generator and measure how realistic its
images are. A checkpoint for `segbench generate gan --param checkpoint=DIR` is
a folder with masks/ (from train-masks) and images/ (from train-images).
Both trainings write periodic snapshots with PNG sample grids and stats.jsonl
into --out and resume from the last snapshot when run again with the same --out."""

EPILOG = """\
examples:
  segbench generate procedural --n 200 --out data/nuclei --param shape=[64,64]
  segbench gan train-masks --data data/nuclei --out models/gan/masks --resolution 64
  segbench gan train-images --data data/nuclei --out models/gan/images --steps 2000
  segbench generate gan --n 100 --out data/gan --param checkpoint=models/gan
  segbench gan realism --real data/nuclei --fake data/gan --json realism.json
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
    parser = subparsers.add_parser("gan", help="train the gan generator's networks, measure realism",
                                   description=DESCRIPTION, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=lambda args: _usage(parser))
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_train_masks(commands)
    _add_train_images(commands)
    _add_realism(commands)
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

def _add_train_masks(commands) -> None:
    p = commands.add_parser("train-masks", help="train the StyleGAN3 mask generator on a dataset's masks",
                            description="Train StyleGAN3 on the binary masks of a dataset folder "
                            "(see docs/stylegan3.md for the architecture).")
    _common_training(p)
    p.add_argument("--resolution", type=int, help="mask resolution, a power of 2 (masks are resized to it)")
    p.add_argument("--config", choices=["t", "r"], help="StyleGAN3-T (translation) or -R (rotation) equivariance")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--steps", type=int, help="optimisation steps in total")
    p.add_argument("--kimg", type=float, help="thousands of real masks shown in total (instead of --steps)")
    p.add_argument("--lr-g", type=float, help="generator learning rate")
    p.add_argument("--lr-d", type=float, help="discriminator learning rate")
    p.add_argument("--r1-gamma", type=float, help="R1 regularisation weight")
    p.add_argument("--ema-kimg", type=float, help="half-life of the generator EMA, thousands of images")
    p.add_argument("--no-augment", dest="augment", action="store_false", default=None,
                   help="no adaptive augmentation")
    p.add_argument("--snapshot-every", type=int, metavar="STEPS")
    p.set_defaults(func=_train_masks)


def _train_masks(args: argparse.Namespace) -> int:
    from .stylegan3 import train_masks

    wanted = {
        "resolution": args.resolution, "config": args.config, "batch_size": args.batch_size,
        "steps": args.steps, "kimg": args.kimg, "lr_g": args.lr_g, "lr_d": args.lr_d,
        "r1_gamma": args.r1_gamma, "ema_kimg": args.ema_kimg, "augment": args.augment,
        "snapshot_every": args.snapshot_every, "time_limit": args.time_limit,
    }
    accepted = inspect.signature(train_masks).parameters
    kwargs = {k: v for k, v in wanted.items() if v is not None and k in accepted}
    _set_threads(args.threads)
    try:
        last = train_masks(args.data, args.out, seed=args.seed, device=_device(args.device),
                           progress=not args.quiet, **kwargs)
    except (SegbenchError, ValueError) as err:
        return _fail("train-masks", str(err))
    print(f"mask generator snapshot: {last}")
    return 0


# --------------------------------------------------------------------- train-images

def _add_train_images(commands) -> None:
    from .pix2pixhd import TrainOptions

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


# --------------------------------------------------------------------- realism

def _add_realism(commands) -> None:
    p = commands.add_parser(
        "realism", help="compare generated with reference data (Wasserstein distances)",
        description="Wasserstein distances between generated and reference data of object area, "
        "eccentricity, solidity, objects per image, nearest-neighbour distance (masks) and "
        "foreground/background intensities (images), next to the same distances between two "
        "halves of the reference data (the floor).")
    p.add_argument("--real", type=Path, required=True, metavar="DIR", help="reference dataset folder")
    p.add_argument("--fake", type=Path, required=True, metavar="DIR", help="generated dataset folder")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the table as JSON")
    p.add_argument("--max-pixels", type=int, default=200_000,
                   help="intensities sampled per set and class (default: 200000)")
    p.set_defaults(func=_realism)


def _realism(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .realism import load_labelled, realism_report

    try:
        report = realism_report(load_labelled(args.real), load_labelled(args.fake), args.max_pixels)
    except (SegbenchError, ValueError) as err:
        return _fail("realism", str(err))
    Console().print(report.rich_table())
    if args.json:
        print(f"wrote {report.write_json(args.json)}")
    return 0


def _device(name: str):
    from .pix2pixhd.render import resolve_device

    return resolve_device(name)


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(max(1, threads))
