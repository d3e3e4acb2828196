"""Which difficulty features predict where a method fails, on real nuclei (development tool).

Reads the development copy of the 2018 Data Science Bowl fluorescence images
(``--dsb``, e.g. ``../shared/data/dsb2018``: ``images/``, ``masks/``); the
product never reads it. For each image (all, or ``--n`` drawn with
``--seed``): F1 at IoU 0.5 of the built-in ``otsu-watershed`` segmenter with
its defaults, and the :data:`segbench.difficulty.DIFFICULTY` features of the
image and its ground truth. Prints, per feature, Spearman's rank correlation
with the per-image F1 over the images where the feature is defined, with a
95 % bootstrap interval (images resampled ``--bootstrap`` times), and the
feature's median and quartiles. Also prints each feature's realism floor (the
Wasserstein distance between the even and odd halves, as ``segbench realism``
computes it) on the ``--held-out`` images that
``scripts/measure_procedural_realism.py`` holds out with the same
``--split-seed``, so its tables can be read against them. Writes
``--json`` on request.

Run from the repository root (a few minutes on one core)::

    python scripts/measure_difficulty.py --dsb ../shared/data/dsb2018 --json /tmp/difficulty.json
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import ConstantInputWarning, spearmanr

from segbench.builtin.otsu_watershed import OtsuWatershed
from segbench.difficulty import DIFFICULTY, difficulty_features
from segbench.io import open_dataset
from segbench.metrics import evaluate_image
from segbench.realism import compare, features_of


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsb", type=Path, required=True, help="DSB 2018 folder (images/, masks/)")
    parser.add_argument("--n", type=int, help="images drawn for the correlations (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw and the bootstrap")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples (default: 2000)")
    parser.add_argument("--held-out", type=int, default=100, help="images of the floors (default: 100)")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()

    dataset, problems = open_dataset(args.dsb)
    if problems:
        raise SystemExit(f"{args.dsb}: {problems[0]}")
    samples = list(dataset)
    rng = np.random.default_rng(args.seed)
    if args.n is not None and args.n < len(samples):
        samples = [samples[i] for i in np.sort(rng.choice(len(samples), args.n, replace=False))]
    f1, features = per_image(samples)
    out = {"n_images": len(samples), "segmenter": "otsu-watershed (defaults)", "metric": "f1@0.5",
           "mean_f1": float(np.mean(f1)), "features": {}}
    for key in DIFFICULTY:
        out["features"][key] = correlation(f1, features[key], rng, args.bootstrap)
    all_samples = list(dataset)
    held = [all_samples[i] for i in np.random.default_rng(args.split_seed).permutation(len(all_samples))[: args.held_out]]
    floor = compare(features_of(held[0::2]), features_of(held[1::2]))
    for key in DIFFICULTY:
        out["features"][key]["floor"] = floor[key]
    print(markdown(out, args.held_out))
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


def per_image(samples) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-image F1@0.5 of otsu-watershed (n,) and each difficulty feature (n,), NaN where undefined."""
    segmenter = OtsuWatershed()
    f1, rows = [], []
    for i, sample in enumerate(samples):
        image, labels = np.asarray(sample.image), np.asarray(sample.labels)
        if image.ndim == 3:  # YXC
            image = image.mean(axis=-1)
        f1.append(evaluate_image(labels, segmenter.predict(image), 0.5).rows[0]["f1"])
        rows.append(difficulty_features(image, labels))
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{len(samples)} images", flush=True)
    return np.array(f1), {key: np.array([r[key] for r in rows]) for key in DIFFICULTY}


def correlation(f1: np.ndarray, values: np.ndarray, rng: np.random.Generator, n_boot: int) -> dict:
    """Spearman's rho of F1 with the feature over the images where it is defined, a 95 %
    percentile bootstrap interval, and the feature's quartiles."""
    defined = np.isfinite(values)
    x, y = values[defined], f1[defined]
    rho = float(spearmanr(x, y).statistic)
    draws = rng.integers(0, len(x), size=(n_boot, len(x)))
    with warnings.catch_warnings():  # a resample of a mostly constant feature may be constant: NaN, left out
        warnings.simplefilter("ignore", ConstantInputWarning)
        boot = np.array([spearmanr(x[d], y[d]).statistic for d in draws])
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    return {"n": int(defined.sum()), "rho": rho, "ci95": [float(low), float(high)],
            "quartiles": [float(q1), float(median), float(q3)]}


def markdown(out: dict, n_held: int) -> str:
    lines = [f"{out['n_images']} images, {out['segmenter']}, mean per-image {out['metric']} "
             f"{out['mean_f1']:.3f}; floors on {n_held} held-out images", "",
             "| feature | unit | n | Spearman rho with F1@0.5 | 95 % bootstrap interval "
             "| median (quartiles) | realism floor |",
             "|---|---|---:|---:|---|---|---:|"]
    for key, (name, unit) in DIFFICULTY.items():
        f = out["features"][key]
        q1, median, q3 = f["quartiles"]
        lines.append(f"| {name} | {unit} | {f['n']} | {f['rho']:+.2f} | [{f['ci95'][0]:+.2f}, {f['ci95'][1]:+.2f}] "
                     f"| {median:.3g} ({q1:.3g}-{q3:.3g}) | {f['floor']:.3g} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
