"""Sample grid and realism tables of a gan checkpoint, for the plugin README.

Usage (from the repository root; about a minute on one CPU thread)::

    OMP_NUM_THREADS=1 .venv/bin/python plugins/gan/scripts/make_docs.py \
        --reference /tmp/gan-reference --out plugins/gan/docs

``--reference`` is a procedural dataset made with the same parameters as the
training data but another seed (the command is printed when it is missing).
Writes ``samples.png`` (rows: generated masks, generated images, generated
images with spots, reference images), ``realism.json`` / ``realism.md`` (full
generator vs reference) and ``realism-images.json`` / ``realism-images.md``
(pix2pixHD alone, rendering the reference masks, vs reference).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

import segbench
from segbench_gan.generator import SHIPPED_CHECKPOINT, GanGenerator
from segbench_gan.pix2pixhd import ImageRenderer
from segbench_gan.realism import load_labelled, realism_report
from segbench_gan.snapshots import save_image_grid

REFERENCE_COMMAND = (
    "segbench generate procedural --n 256 --out {ref} --seed 2 "
    "--param shape=[64,64] n_objects=[3,10] radius=6.0 radius_std=1.0 touching_fraction=0.2"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED_CHECKPOINT)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=256, help="generated images for the realism table")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.reference.is_dir():
        print("make the reference data first:\n  " + REFERENCE_COMMAND.format(ref=args.reference), file=sys.stderr)
        return 2
    reference = load_labelled(args.reference)
    gan = GanGenerator(checkpoint=args.checkpoint, device="cpu")
    generated = list(gan.generate(args.n, seed=0))
    spotted = list(GanGenerator(checkpoint=args.checkpoint, device="cpu", spot_clouds=2, spots_per_cloud=6,
                                spot_covariance=[[6.0, 3.0], [3.0, 4.0]], spot_sigma=0.8,
                                spot_amplitude=1.0).generate(8, seed=0))
    rows = [[s.labels > 0 for s in generated[:8]], [s.image for s in generated[:8]],
            [s.image for s in spotted], [s.image for s in reference[:8]]]
    args.out.mkdir(parents=True, exist_ok=True)
    save_image_grid(args.out / "samples.png", [tile for row in rows for tile in row], ncols=8)

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
