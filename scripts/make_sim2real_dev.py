"""Make the development check of ``suites/sim2real.yaml`` on a larger real truth (development tool).

The shipped sim2real suite compares synthetic datasets with 16 real test
images (``dsb2018-sample``). This script writes a second real dataset from the
development copy of the 2018 Data Science Bowl fluorescence images
(``../shared/data/dsb2018``), disjoint from the shipped sample, and a suite
that is ``suites/sim2real.yaml`` plus that dataset, so one run measures every
synthetic dataset against both real truths and the two real truths against
each other. The product never reads ``../shared``; only this script does.

How images are chosen: the manifest's images minus the shipped sample's,
shuffled with ``numpy.random.default_rng(seed)``, the first ``--n`` taken;
each centre-cropped to at most ``--max-side`` px a side as the sample was
(:func:`make_dsb2018_sample.centre_crop`). The suite gives the dataset a
split of ``--train`` train images (the same as the sample's, so learned
methods get the same budget) and the rest as test images.

Run from the repository root::

    python scripts/make_sim2real_dev.py --source ../shared/data/dsb2018 --out /tmp/sim2real-dev
    segbench run /tmp/sim2real-dev/sim2real-dev.yaml
    segbench agreement /tmp/sim2real-dev/results --reference dev --json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import tifffile
import yaml
from make_dsb2018_sample import OUT as SAMPLE, centre_crop
from skimage.segmentation import relabel_sequential

from segbench import Sample
from segbench.io import write_dataset

SUITE = Path(__file__).resolve().parents[1] / "suites" / "sim2real.yaml"
DEV = "dev"


def choose(manifest: list[dict], excluded: set[str], n: int, seed: int) -> list[dict]:
    """``n`` manifest entries not in ``excluded``, in a seeded random order."""
    pool = sorted((e for e in manifest if e["name"] not in excluded), key=lambda e: e["name"])
    order = np.random.default_rng(seed).permutation(len(pool))
    return [pool[i] for i in order[:n]]


def dev_suite(folder: Path, results: Path, n_train: int, n_test: int) -> dict:
    """``suites/sim2real.yaml`` with the dev dataset added as the second real truth."""
    suite = yaml.safe_load(SUITE.read_text())
    suite["name"] = "sim2real-dev"
    suite["output"] = str(results)
    suite["datasets"].insert(
        1, {"name": DEV, "path": str(folder), "split": {"train": n_train, "test": n_test}}
    )
    return suite


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="folder with images/, masks/, manifest.json")
    parser.add_argument("--out", type=Path, required=True, help="new folder for the dataset, suite and results")
    parser.add_argument("--n", type=int, default=144, help="images in the dev dataset (train + test)")
    parser.add_argument("--train", type=int, default=24, help="of which train images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-side", type=int, default=360)
    args = parser.parse_args(argv)

    manifest = json.loads((args.source / "manifest.json").read_text())
    shipped = {p.stem for p in (SAMPLE / "images").iterdir()}
    samples = []
    for entry in choose(manifest, shipped, args.n, args.seed):
        image = tifffile.imread(args.source / "images" / f"{entry['name']}.tif")
        labels = tifffile.imread(args.source / "masks" / f"{entry['name']}.tif")
        y0, y1, x0, x1 = centre_crop(image.shape, args.max_side)
        labels = relabel_sequential(labels[y0:y1, x0:x1])[0].astype(np.uint16)
        samples.append(Sample(entry["name"], image[y0:y1, x0:x1], labels))
    folder = args.out / "data" / DEV
    write_dataset(folder, samples, meta={"source": str(args.source), "seed": args.seed, "max_side": args.max_side})
    suite = dev_suite(folder.resolve(), (args.out / "results").resolve(), args.train, len(samples) - args.train)
    suite_file = args.out / "sim2real-dev.yaml"
    suite_file.write_text(yaml.safe_dump(suite, sort_keys=False))
    n_nuclei = sum(int(s.labels.max()) for s in samples)
    print(f"{len(samples)} images ({n_nuclei} nuclei) in {folder}; suite {suite_file}")


if __name__ == "__main__":
    main()
