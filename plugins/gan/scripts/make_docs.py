"""Sample grid and realism tables of a gan checkpoint, for the plugin README.

Usage (from the repository root; a few minutes on one CPU thread)::

    OMP_NUM_THREADS=1 .venv/bin/python plugins/gan/scripts/make_docs.py \
        --reference /tmp/gan-dsb/heldout-tiles --out plugins/gan/docs

``--reference`` is a labelled dataset folder of the kind the checkpoint should
imitate; for the shipped checkpoint, the held-out DSB 2018 tiles that
``scripts/train_dsb2018.py --stages prepare`` writes. Writes ``samples.png``
(rows: generated masks, generated images, generated images with spots,
reference images), ``stylegan3-samples.png`` (16 reference masks, 16
generated masks, their logits) with a mask summary printed for
``docs/stylegan3.md``, ``realism.json`` / ``realism.md`` (full generator vs
reference) and ``realism-images.json`` / ``realism-images.md`` (pix2pixHD
alone, rendering the reference masks, vs reference), with as many generated
images as there are reference images.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

import segbench
from segbench.realism import load_labelled, realism_report
from segbench_gan.generator import SHIPPED_CHECKPOINT, GanGenerator
from segbench_gan.pix2pixhd import ImageRenderer
from segbench_gan.snapshots import save_image_grid


def mask_docs(gan: GanGenerator, reference: list, out: Path, n: int = 200) -> None:
    """``stylegan3-samples.png`` and a printed table: generated vs reference masks."""
    logits = gan.masks.sample_logits(16, seed=0)
    masks = gan.masks.sample_masks(16, seed=0)
    tiles = [s.labels > 0 for s in reference[:16]]
    grid = [t for row in range(4) for t in (*tiles[4 * row:4 * row + 4], *masks[4 * row:4 * row + 4],
                                             *np.clip(logits[4 * row:4 * row + 4], -1, 1))]
    save_image_grid(out / "stylegan3-samples.png", grid, ncols=12)
    generated = gan.masks.sample(n, seed=0)
    rows = []
    for name, labels in (("generated", [np.asarray(g) for g in generated]),
                         ("reference", [s.labels for s in reference[:n]])):
        areas = np.concatenate([np.bincount(lab.ravel())[1:] for lab in labels])
        rows.append(f"| {name} | {np.mean([len(np.unique(lab)) - 1 for lab in labels]):.2f} | "
                    f"{np.median(areas[areas > 0]):.0f} | {np.mean([(lab > 0).mean() for lab in labels]):.3f} |")
    print(f"masks, {n} generated (seed 0, psi 1) vs {n} reference\n"
          "| | objects per image | median object area, px | foreground fraction |\n|---|---|---|---|\n"
          + "\n".join(rows) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED_CHECKPOINT)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    reference = load_labelled(args.reference)
    gan = GanGenerator(weights=args.checkpoint, device="cpu")
    generated = list(gan.generate(len(reference), seed=0))
    spotted = list(GanGenerator(weights=args.checkpoint, device="cpu", spot_clouds=2, spots_per_cloud=6,
                                spot_covariance=[[6.0, 3.0], [3.0, 4.0]], spot_sigma=0.8,
                                spot_amplitude=1.0).generate(8, seed=0))
    rows = [[s.labels > 0 for s in generated[:8]], [s.image for s in generated[:8]],
            [s.image for s in spotted], [s.image for s in reference[:8]]]
    args.out.mkdir(parents=True, exist_ok=True)
    save_image_grid(args.out / "samples.png", [tile for row in rows for tile in row], ncols=8)
    mask_docs(gan, reference, args.out)

    full = realism_report(reference, generated)
    renderer = ImageRenderer.from_checkpoint(args.checkpoint / "images", device="cpu")
    rendered = [segbench.Sample(s.name, np.clip(np.rint(renderer.render(s.labels, np.random.default_rng(i))),
                                                0, 65535).astype(np.uint16), s.labels)
                for i, s in enumerate(reference)]
    images_only = realism_report(reference, rendered)
    for name, report in (("realism", full), ("realism-images", images_only)):
        report.write_json(args.out / f"{name}.json")
        (args.out / f"{name}.md").write_text(report.to_markdown() + "\n", encoding="utf-8")
        print(f"{name}: {report.n_fake} generated vs {report.n_real} reference\n{report.to_markdown()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
