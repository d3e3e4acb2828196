"""How many real test images does a reference need to tell variants apart? (development tool)

Reads a results folder, takes one dataset's in-domain rows (models trained on
that dataset, or untrained), and measures by subsampling how often a paired
bootstrap over ``m`` of its test images finds a difference decisive:

- *power*: of the variant pairs whose difference on all the dataset's images
  is at least ``--delta`` (0.03 by default), the fraction that a random
  ``m``-image subset calls decisive in the right direction;
- *false calls*: of the pairs within ``--delta / 3`` on all images, the
  fraction that a subset calls decisive;
- the analytic size: for each pair, the number of images at which a
  difference of ``delta`` is found with 80% power by a two-sided 5% test,
  ``n * (2.8 * sd_n / delta)^2`` with ``sd_n`` the bootstrap SD of the
  difference on all ``n`` images, and the difference found with 80% power on
  the ``n`` images themselves, ``2.8 * sd_n``; median and quartiles over all
  pairs. The subsampling power is optimistic for ``delta``: most pairs that
  differ by at least ``delta`` differ by much more.

Run from the repository root::

    python scripts/measure_power.py RESULTS_DIR --dataset dev [--metric f1@0.5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from segbench.report import load_results
from segbench.leaderboard import stored_thresholds
from segbench.paired import bootstrap_weights, decisive_pairs, pooled_values
from segbench.results import Col, parse_metric_key

#: z of a two-sided 5% test plus z of 80% power
Z_POWER = 1.96 + 0.84


def in_domain(results: pd.DataFrame, dataset: str, metric: str) -> tuple[pd.DataFrame, object]:
    """The dataset's rows at the metric's threshold from untrained models or
    models trained on it, and the parsed metric key."""
    key = parse_metric_key(metric, stored_thresholds(results))
    frame = results[results[Col.DATASET] == dataset]
    if Col.TRAIN_DATASET in frame:
        trained_on = frame[Col.TRAIN_DATASET].fillna("").astype(str)
        frame = frame[(trained_on == "") | (trained_on == dataset)]
    frame = frame.drop_duplicates([Col.VARIANT, Col.IMAGE, Col.THRESHOLD])
    if key.threshold is not None:
        frame = frame[np.isclose(frame[Col.THRESHOLD].astype(float), key.threshold)]
    return frame, key


def subset_weights(n: int, m: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap weights ``(n_boot, n)`` over a random ``m``-image subset of ``n`` images."""
    chosen = rng.choice(n, size=m, replace=False)
    weights = np.zeros((n_boot, n))
    weights[:, chosen] = bootstrap_weights(m, n_boot, seed=int(rng.integers(2**32)))
    return weights


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--metric", default="f1@0.5")
    parser.add_argument("--delta", type=float, default=0.03, help="difference to detect")
    parser.add_argument("--sizes", default="8,16,24,40,60,80,100", help="subset sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--n-boot", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    results, _ = load_results(args.results)
    frame, key = in_domain(results, args.dataset, args.metric)
    images = list(pd.unique(frame[Col.IMAGE]))
    n = len(images)
    ids, full = pooled_values(frame, key, np.ones((1, n)), by=Col.VARIANT, images=images)
    _, boot = pooled_values(frame, key, bootstrap_weights(n, args.n_boot, args.seed), by=Col.VARIANT, images=images)
    diff = full[0][:, None] - full[0][None, :]
    upper = np.triu(np.ones_like(diff, bool), 1)
    large = upper & (np.abs(diff) >= args.delta)
    small = upper & (np.abs(diff) < args.delta / 3)
    sd = np.std(boot[:, :, None] - boot[:, None, :], axis=0)
    needed = n * (Z_POWER * sd[upper] / args.delta) ** 2
    print(f"{args.dataset}: {n} images, {len(ids)} variants, {upper.sum()} pairs; {large.sum()} differ by "
          f">= {args.delta} on all images, {small.sum()} by < {args.delta / 3:.3f}")
    resolved = Z_POWER * sd[upper]
    print(f"images for 80% power at {args.delta} (per pair, analytic): median {np.median(needed):.0f}, "
          f"quartiles {np.quantile(needed, 0.25):.0f}-{np.quantile(needed, 0.75):.0f}")
    print(f"difference found with 80% power on these {n} images (per pair): median {np.median(resolved):.3f}, "
          f"quartiles {np.quantile(resolved, 0.25):.3f}-{np.quantile(resolved, 0.75):.3f}")
    rng = np.random.default_rng(args.seed)
    print("   m  power  false calls")
    for m in (int(s) for s in args.sizes.split(",")):
        if m > n:
            break
        hits, false = [], []
        for _ in range(args.repeats):
            _, values = pooled_values(frame, key, subset_weights(n, m, args.n_boot, rng), by=Col.VARIANT,
                                      images=images)
            signs = decisive_pairs(values)
            hits.append(np.mean(signs[large] == np.sign(diff[large])) if large.any() else np.nan)
            false.append(np.mean(signs[small] != 0) if small.any() else np.nan)
        print(f"{m:4d}  {np.nanmean(hits):5.2f}  {np.nanmean(false):11.2f}")


if __name__ == "__main__":
    main()
