"""Retrain the shipped ``gan`` pair on one GPU in under 10 minutes, then measure it.

Resumes (warm-starts) from the shipped checkpoints: the StyleGAN3 mask model
with the settings the CPU runs could not afford (batch 32, ``r1_gamma`` 2
instead of 0.1, which let the discriminator win and the generator collapse to
empty tiles), then the pix2pixHD image model. Each stage has a wall-clock
budget, and the whole run a deadline, so it stops on time; without CUDA it
runs the same on the CPU (slowly: use it there only for a smoke test).

Stages, in order:

``prepare``
    With ``--dsb`` (the 2018 Data Science Bowl folder: ``images/``,
    ``masks/``, ``manifest.json``): the split and rescaling of
    ``train_dsb2018.py --stages prepare`` into ``WORK/train`` and
    ``WORK/heldout-tiles``. With ``--data DIR``: ``DIR/train`` and
    ``DIR/heldout-tiles`` are used as they are.
``masks``
    StyleGAN3 from ``--from/masks/generator.pt`` (fresh discriminator,
    optimisers and ADA) for ``--mask-seconds``; a snapshot every
    ``--snapshot-every`` steps.
``select``
    The candidate mask models (the starting one and every snapshot) each draw
    ``--select-tiles`` tiles; the one whose mean nuclei per tile is nearest
    that of the held-out tiles is exported to ``WORK/ship/masks``, with
    ``sampling.json``: the number of stacked layers
    (:func:`segbench_gan.objects.layers_for_density`) that brings it to the
    held-out density.
``images``
    pix2pixHD from ``--from/images`` (fresh discriminators and encoder) for
    ``--image-seconds``, exported to ``WORK/ship/images``.
``evaluate``
    ``segbench.realism`` tables against the held-out tiles, for the new pair
    and the starting one (full generator; pix2pixHD alone on the held-out
    masks): ``WORK/realism/{new,start}{,-images}.{json,md}``, and
    ``WORK/summary.json`` (budgets, steps, selection, density, ratios).

Usage (from the repository root, on a machine with one GPU; about 9 minutes)::

    .venv/bin/python plugins/gan/scripts/gpu_retrain.py --dsb ../shared/data/dsb2018 --work /tmp/gan-gpu
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

#: seconds a training stage leaves for the stages after it (select + images + evaluate; evaluate)
STAGE_RESERVE = {"masks": 240.0, "images": 60.0}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Deadline:
    """Wall-clock budget of the whole run, shared out to the stages."""

    def __init__(self, seconds: float):
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()

    def budget(self, wanted: float, stage: str) -> float:
        """``wanted`` seconds, less what the later stages need; at least 1 s."""
        return max(1.0, min(wanted, self.left() - STAGE_RESERVE[stage]))


# ------------------------------------------------------------------ stages

def prepare(args: argparse.Namespace) -> Path:
    """The prepared data folder (``train/`` + ``heldout-tiles/``)."""
    if args.data is not None:
        return args.data
    sys.path.insert(0, str(Path(__file__).parent))
    from train_dsb2018 import prepare as prepare_dsb

    prepare_dsb(argparse.Namespace(dsb=args.dsb, work=args.work, split_seed=0, held_out=100, nucleus_area=150.0,
                                   resolution=64, max_tiles=512))
    return args.work


def train_mask_model(args: argparse.Namespace, data: Path, seconds: float) -> dict:
    from segbench_gan.fit import MASK_ARCH
    from segbench_gan.stylegan3 import train_masks

    arch = {**MASK_ARCH, "batch_size": args.batch_size, "ema_kimg": args.batch_size * 10 / 32}
    result = train_masks(data / "train", args.work / "masks", resolution=64, steps=args.mask_steps,
                         r1_gamma=args.r1_gamma, augment_target=args.augment_target, tick_every=25,
                         snapshot_every=args.snapshot_every, seed=args.seed, device=args.device,
                         time_limit=seconds, init_from=args.start / "masks" / "generator.pt", **arch)
    log(f"masks: step {result.step} ({result.kimg:.1f} kimg) in {result.seconds:.0f} s")
    return {"steps": result.step, "kimg": result.kimg, "seconds": round(result.seconds, 1)}


def _nuclei_per_tile(tiles: list) -> float:
    return float(np.mean([int(np.asarray(t).max()) for t in tiles]))


def select_masks(args: argparse.Namespace, data: Path) -> dict:
    """Export the candidate nearest the held-out density, with its ``sampling.json``."""
    from segbench.realism import load_labelled
    from segbench_gan.objects import layers_for_density
    from segbench_gan.stylegan3 import export_mask_generator, load_mask_generator

    target = _nuclei_per_tile([s.labels for s in load_labelled(data / "heldout-tiles")])
    candidates = [args.start / "masks" / "generator.pt", *sorted((args.work / "masks").glob("snapshot-*.pt"))]
    density = {}
    for path in candidates:
        density[path] = _nuclei_per_tile(load_mask_generator(path, device=args.device).sample(args.select_tiles, 0))
        log(f"select: {path.name}: {density[path]:.2f} nuclei per tile (held-out {target:.2f})")
    best = min(candidates, key=lambda p: (abs(density[p] - target), -candidates.index(p)))
    out = args.work / "ship" / "masks"
    out.mkdir(parents=True, exist_ok=True)
    if best.name.startswith("snapshot-"):
        export_mask_generator(best, out / "generator.pt")
        for name in ("training.json", "stats.jsonl"):
            (out / name).write_bytes((args.work / "masks" / name).read_bytes())
    else:
        (out / "generator.pt").write_bytes(best.read_bytes())
    tiles = load_mask_generator(out / "generator.pt", device=args.device).sample(8 * args.select_tiles, 1)
    layers = layers_for_density(tiles, target)
    why = (f"{best.name} draws {density[best]:.2f} nuclei per 64 px tile ({args.select_tiles} tiles, seed 0); "
           f"the held-out tiles hold {target:.2f}; {layers} stacked layers come nearest "
           f"(segbench_gan.objects.layers_for_density on {len(tiles)} tiles, seed 1)")
    (out / "sampling.json").write_text(json.dumps({"mask_layers": layers, "why": why}, indent=2) + "\n")
    log(f"select: {why}")
    return {"chosen": best.name, "nuclei_per_tile": density[best], "held_out_per_tile": target,
            "mask_layers": layers, "candidates": {p.name: d for p, d in density.items()}}


def train_image_model(args: argparse.Namespace, data: Path, seconds: float) -> dict:
    from segbench_gan.fit import IMAGE_BATCH
    from segbench_gan.pix2pixhd import TrainOptions, train_images
    from segbench_gan.pix2pixhd.checkpoint import export_for_sampling

    options = TrainOptions(steps=args.image_steps, batch_size=IMAGE_BATCH * args.image_batch_factor, crop=64,
                           snapshot_every=max(1, args.image_steps), log_every=25, seed=args.seed,
                           device=str(args.device), time_limit=seconds, init_from=str(args.start / "images"))
    train_images(data / "train", args.work / "images", None, options, warn=log)
    export_for_sampling(args.work / "images", args.work / "ship" / "images")
    state = json.loads((args.work / "ship" / "images" / "training.json").read_text())
    log(f"images: step {state['step']} in {state['seconds']} s")
    return {"steps": state["step"], "seconds": state["seconds"]}


def _rendered(checkpoint: Path, reference: list, device) -> list:
    """pix2pixHD of ``checkpoint`` rendering the reference masks."""
    import segbench
    from segbench_gan.pix2pixhd import ImageRenderer

    renderer = ImageRenderer.from_checkpoint(checkpoint / "images", device=device)
    return [segbench.Sample(s.name, np.clip(np.rint(renderer.render(s.labels, np.random.default_rng(i))),
                                            0, 65535).astype(np.uint16), s.labels)
            for i, s in enumerate(reference)]


def evaluate(args: argparse.Namespace, data: Path) -> dict:
    """Realism of the new and the starting pair against the held-out tiles."""
    from segbench.realism import load_labelled, realism_report
    from segbench_gan.generator import GanGenerator

    reference = load_labelled(data / "heldout-tiles")[: args.eval_tiles]
    out = args.work / "realism"
    out.mkdir(parents=True, exist_ok=True)
    ratios = {}
    for label, checkpoint in (("new", args.work / "ship"), ("start", args.start)):
        fake = list(GanGenerator(weights=checkpoint, device=str(args.device)).generate(len(reference), seed=0))
        for part, samples in (("", fake), ("-images", _rendered(checkpoint, reference, args.device))):
            report = realism_report(reference, samples)
            report.write_json(out / f"{label}{part}.json")
            (out / f"{label}{part}.md").write_text(report.to_markdown() + "\n", encoding="utf-8")
            ratios[f"{label}{part}"] = {row.key: row.ratio for row in report.rows}
            log(f"{label}{part}: {report.n_fake} generated vs {report.n_real} held-out tiles\n{report.to_markdown()}")
        ratios[f"{label}-nuclei-per-image"] = float(np.mean([s.labels.max() for s in fake]))
    return ratios


# ------------------------------------------------------------------ main

def parse(argv: list[str] | None = None) -> argparse.Namespace:
    from segbench_gan.generator import SHIPPED_CHECKPOINT

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dsb", type=Path, help="DSB 2018 folder (images/, masks/, manifest.json)")
    source.add_argument("--data", type=Path, help="prepared folder holding train/ and heldout-tiles/")
    parser.add_argument("--work", type=Path, required=True, help="output folder (WORK/ship is the new pair)")
    parser.add_argument("--from", dest="start", type=Path, default=SHIPPED_CHECKPOINT,
                        help="checkpoint pair to start from (default: the shipped one)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available, else CPU), cpu, cuda, ...")
    parser.add_argument("--deadline", type=float, default=570.0, help="seconds for the whole run (default: 570)")
    parser.add_argument("--mask-seconds", type=float, default=300.0, help="StyleGAN3 budget (default: 300)")
    parser.add_argument("--image-seconds", type=float, default=150.0, help="pix2pixHD budget (default: 150)")
    parser.add_argument("--mask-steps", type=int, default=1_000_000, help="StyleGAN3 step cap")
    parser.add_argument("--image-steps", type=int, default=1_000_000, help="pix2pixHD step cap")
    parser.add_argument("--batch-size", type=int, default=32, help="StyleGAN3 batch (default: 32)")
    parser.add_argument("--r1-gamma", type=float, default=2.0, help="StyleGAN3 R1 weight (default: 2; shipped: 0.1)")
    parser.add_argument("--augment-target", type=float, default=0.6, help="ADA target (default: 0.6)")
    parser.add_argument("--image-batch-factor", type=int, default=4,
                        help="pix2pixHD batch = 4 x this (default: 4, i.e. 16)")
    parser.add_argument("--snapshot-every", type=int, default=250, help="StyleGAN3 steps per snapshot")
    parser.add_argument("--select-tiles", type=int, default=256, help="tiles drawn per candidate mask model")
    parser.add_argument("--eval-tiles", type=int, default=512, help="held-out tiles in the realism tables")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    args = parser.parse_args(argv)
    from segbench.kit import torch_device

    args.device = torch_device(args.device)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    deadline = Deadline(args.deadline)
    log(f"device {args.device}; deadline {args.deadline:.0f} s; starting from {args.start}")
    summary: dict = {"device": str(args.device), "start": str(args.start),
                     "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                                  if k not in ("device", "start")}}
    data = prepare(args)
    summary["masks"] = train_mask_model(args, data, deadline.budget(args.mask_seconds, "masks"))
    summary["select"] = select_masks(args, data)
    summary["images"] = train_image_model(args, data, deadline.budget(args.image_seconds, "images"))
    summary["realism_ratios"] = evaluate(args, data)
    summary["seconds"] = round(args.deadline - deadline.left(), 1)
    (args.work / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    log(f"done in {summary['seconds']} s: new pair in {args.work / 'ship'}, tables in {args.work / 'realism'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
