"""Train the shipped ``gan`` checkpoint pair on real nuclei (DSB 2018) and measure it.

A development script: it reads the 2018 Data Science Bowl fluorescence subset
(``--dsb``, a folder of ``images/NAME.tif``, ``masks/NAME.tif`` and
``manifest.json``; 400 images, CC0) once, and writes everything else under
``--work``. Nothing in the plugin reads that folder at run time.

Stages (``--stages``, default all, in this order; each can be re-run alone,
and a training stage resumes from its last snapshot):

``prepare``
    Split the images by a seeded permutation into ``--held-out`` held-out
    images and the rest for training. Every image is rescaled (bilinear with
    anti-aliasing; masks nearest neighbour) so that its median nucleus area is
    ``--nucleus-area`` px (scale clipped to [0.25, 2]): DSB mixes
    magnifications whose median nuclei range from 70 to 2000 px, which a
    64 px model cannot all hold. Writes ``WORK/train`` and ``WORK/heldout``
    (whole rescaled images) and ``WORK/heldout-tiles``: non-overlapping
    ``--resolution`` px tiles of the held-out images, ordered so that even
    positions come from one half of the held-out images and odd positions
    from the other (the realism floor, even vs odd, then measures
    image-to-image variation, not that of neighbouring tiles of one image).
``masks``
    StyleGAN3 on the training masks (tiles covering each rescaled image),
    the architecture of ``segbench_gan.fit.MASK_ARCH``, for ``--mask-seconds``
    (or ``--mask-steps``, whichever comes first).
``images``
    pix2pixHD on random ``--resolution`` px (mask, image) patches of the
    rescaled training images, the architecture of
    ``segbench_gan.fit.IMAGE_ARCH``, for ``--image-seconds`` (or
    ``--image-steps``).
``export``
    ``WORK/ship``: the sampling files of both (``segbench gan export``).
``evaluate``
    Realism tables of ``WORK/ship`` (and of ``--baseline``, another
    checkpoint folder, when given) against the held-out tiles, the full
    generator and pix2pixHD alone on the held-out masks; writes
    ``WORK/realism/real-trained*.json`` and ``*.md`` (and
    ``BASELINE_FOLDER_NAME*``) and prints them.

Usage (from the repository root; one CPU thread: 25 + 15 min of training by
the default time limits, plus about 10 min of evaluation on a loaded machine)::

    nohup .venv/bin/python plugins/gan/scripts/train_dsb2018.py \
        --dsb ../shared/data/dsb2018 --work /tmp/gan-dsb > /tmp/gan-dsb.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

STAGES = ("prepare", "masks", "images", "export", "evaluate")




def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------ prepare

def _scale_for(labels: np.ndarray, target_area: float) -> float:
    areas = np.bincount(labels.ravel())[1:]
    areas = areas[areas > 0]
    return float(np.clip(np.sqrt(target_area / np.median(areas)), 0.25, 2.0)) if len(areas) else 1.0


def _rescaled(image: np.ndarray, labels: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    from skimage.segmentation import relabel_sequential
    from skimage.transform import rescale

    if scale == 1.0:
        return image, labels
    img = rescale(image.astype(np.float32), scale, order=1, anti_aliasing=scale < 1, preserve_range=True)
    lab = rescale(labels, scale, order=0, anti_aliasing=False, preserve_range=True).astype(np.int32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), relabel_sequential(lab)[0].astype(np.int32)


def _tiles(sample, size: int):
    """Non-overlapping ``size`` tiles of a sample (labels renumbered per tile)."""
    import segbench
    from skimage.segmentation import relabel_sequential

    h, w = sample.labels.shape
    for y in range(0, h - size + 1, size):
        for x in range(0, w - size + 1, size):
            lab = relabel_sequential(sample.labels[y:y + size, x:x + size])[0].astype(np.int32)
            yield segbench.Sample(f"{sample.name}-{y}-{x}", sample.image[y:y + size, x:x + size], lab)


def _builtin_sample_ids() -> set[str]:
    """DSB stage-1 ids of the stratified part of ``dataset: dsb2018-sample``.

    They are left out before the held-out split, so that suites testing on
    that built-in sample (``suites/sim2real.yaml``) never test on images the
    GAN saw: the sample's other part is this script's held-out set itself
    (``scripts/make_dsb2018_sample.py``), which ``prepare`` checks.
    """
    record = _sample_record()
    return set(record.get("stratified_ids", record["stage1_train_ids"]))


def _sample_record() -> dict:
    """The built-in sample's ``dataset.json``."""
    from segbench.builtin.dsb2018 import sample_folder

    return json.loads((sample_folder() / "dataset.json").read_text())


def prepare(args: argparse.Namespace) -> None:
    import segbench
    from segbench.io import read_image, read_labels, write_dataset

    manifest = json.loads((args.dsb / "manifest.json").read_text())
    excluded = _builtin_sample_ids()
    names = sorted(entry["name"] for entry in manifest if entry["stage1_train_id"] not in excluded)
    log(f"{len(manifest) - len(names)} images of segbench's dsb2018-sample left out (never trained on)")
    order = np.random.default_rng(args.split_seed).permutation(len(names))
    held = sorted(names[i] for i in order[: args.held_out])
    train = sorted(names[i] for i in order[args.held_out:])
    ids = {entry["name"]: entry["stage1_train_id"] for entry in manifest}
    shipped_heldout = set(_sample_record().get("gan_heldout_ids", []))
    if shipped_heldout and {ids[n] for n in train} & shipped_heldout:
        raise SystemExit("prepare: this split would train on images of segbench's dsb2018-sample; "
                         "use the default --held-out 100 --split-seed 0")

    def samples(chosen):
        for name in chosen:
            image, labels = read_image(args.dsb / "images" / f"{name}.tif"), read_labels(args.dsb / "masks" / f"{name}.tif")
            image, labels = _rescaled(image, labels, _scale_for(labels, args.nucleus_area))
            yield segbench.Sample(name, image, labels)

    meta = {"source": "2018 Data Science Bowl stage 1 train, fluorescence subset (CC0; Caicedo et al. 2019)",
            "split_seed": args.split_seed, "held_out": args.held_out, "nucleus_area": args.nucleus_area,
            "left_out": f"{len(excluded)} images of segbench's dsb2018-sample"}
    write_dataset(args.work / "train", samples(train), {**meta, "part": "train"}, overwrite=True)
    heldout = list(samples(held))
    write_dataset(args.work / "heldout", heldout, {**meta, "part": "heldout"}, overwrite=True)
    halves = [[t for s in heldout[k::2] for t in _tiles(s, args.resolution)] for k in (0, 1)]
    rng = np.random.default_rng(args.split_seed)
    n = min(len(halves[0]), len(halves[1]), args.max_tiles // 2)
    picked = [[half[i] for i in sorted(rng.choice(len(half), n, replace=False))] for half in halves]
    tiles = [segbench.Sample(f"t{2 * i + k:05d}-{s.name}", s.image, s.labels)
             for i in range(n) for k, s in ((0, picked[0][i]), (1, picked[1][i]))]
    write_dataset(args.work / "heldout-tiles", tiles, {**meta, "part": "heldout tiles"}, overwrite=True)
    log(f"prepared: {len(train)} training images, {len(held)} held-out images, {len(tiles)} held-out tiles")


# ------------------------------------------------------------------ training

def train_mask_model(args: argparse.Namespace) -> None:
    from segbench_gan.fit import MASK_ARCH
    from segbench_gan.stylegan3 import train_masks

    result = train_masks(args.work / "train", args.work / "masks", resolution=args.resolution, steps=args.mask_steps,
                         tick_every=25, snapshot_every=100, seed=args.seed, device="cpu",
                         time_limit=args.mask_seconds, **MASK_ARCH)
    log(f"masks: step {result.step} ({result.kimg:.1f} kimg) in {result.seconds:.0f} s, finished={result.finished}")


def train_image_model(args: argparse.Namespace) -> None:
    from segbench_gan.fit import IMAGE_ARCH, IMAGE_BATCH
    from segbench_gan.pix2pixhd import Pix2PixHDConfig, TrainOptions, train_images

    options = TrainOptions(steps=args.image_steps, batch_size=IMAGE_BATCH, crop=args.resolution, snapshot_every=250,
                           log_every=25, seed=args.seed, device="cpu", time_limit=args.image_seconds)
    train_images(args.work / "train", args.work / "images", Pix2PixHDConfig(**IMAGE_ARCH), options,
                 warn=lambda line: log(line))
    stats = (args.work / "images" / "stats.jsonl").read_text().splitlines()
    log(f"images: last stats {stats[-1] if stats else None}")


def export(args: argparse.Namespace) -> None:
    from segbench_gan.pix2pixhd.checkpoint import export_for_sampling
    from segbench_gan.stylegan3 import export_mask_generator

    export_mask_generator(args.work / "masks", args.work / "ship" / "masks" / "generator.pt")
    export_for_sampling(args.work / "images", args.work / "ship" / "images")
    for name in ("training.json", "stats.jsonl"):  # provenance of the mask run (images/ gets its own)
        (args.work / "ship" / "masks" / name).write_bytes((args.work / "masks" / name).read_bytes())
    size = sum(f.stat().st_size for f in (args.work / "ship").rglob("*") if f.is_file()) / 1e6
    log(f"exported {args.work / 'ship'} ({size:.2f} MB)")


# ------------------------------------------------------------------ evaluate

def evaluate(args: argparse.Namespace) -> None:
    import segbench
    from segbench.realism import load_labelled, realism_report
    from segbench_gan.generator import GanGenerator
    from segbench_gan.pix2pixhd import ImageRenderer

    real = load_labelled(args.work / "heldout-tiles")
    out = args.work / "realism"
    out.mkdir(parents=True, exist_ok=True)
    checkpoints = {"real-trained": args.work / "ship", **({args.baseline.name: args.baseline} if args.baseline else {})}
    for label, checkpoint in checkpoints.items():
        fake = list(GanGenerator(weights=checkpoint, device="cpu").generate(len(real), seed=0))
        renderer = ImageRenderer.from_checkpoint(Path(checkpoint) / "images", device="cpu")
        rendered = [segbench.Sample(s.name, np.clip(np.rint(renderer.render(s.labels, np.random.default_rng(i))),
                                                    0, 65535).astype(np.uint16), s.labels)
                    for i, s in enumerate(real)]
        for part, samples in (("", fake), ("-images", rendered)):
            report = realism_report(real, samples)
            report.write_json(out / f"{label}{part}.json")
            (out / f"{label}{part}.md").write_text(report.to_markdown() + "\n", encoding="utf-8")
            log(f"{label}{part}: {report.n_fake} generated vs {report.n_real} held-out tiles\n{report.to_markdown()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsb", type=Path, help="DSB 2018 folder (images/, masks/, manifest.json); for prepare")
    parser.add_argument("--work", type=Path, required=True, help="output folder")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--held-out", type=int, default=100, help="held-out images (default: 100)")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--nucleus-area", type=float, default=150.0,
                        help="median nucleus area after rescaling, px (default: 150)")
    parser.add_argument("--max-tiles", type=int, default=512, help="held-out tiles for the realism tables")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--mask-steps", type=int, default=20000)
    parser.add_argument("--mask-seconds", type=float, default=1500.0)
    parser.add_argument("--image-steps", type=int, default=20000)
    parser.add_argument("--image-seconds", type=float, default=900.0)
    parser.add_argument("--baseline", type=Path, help="another checkpoint folder to measure, e.g. the procedural-trained pair")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if "prepare" in args.stages and args.dsb is None:
        parser.error("prepare needs --dsb")
    steps = {"prepare": prepare, "masks": train_mask_model, "images": train_image_model, "export": export,
             "evaluate": evaluate}
    for stage in STAGES:
        if stage in args.stages:
            log(f"stage {stage}")
            steps[stage](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
