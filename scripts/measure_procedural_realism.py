"""Realism of the ``procedural`` generator, defaults and fitted, against held-out real nuclei (development tool).

Reads the development copy of the 2018 Data Science Bowl fluorescence images
(``--dsb``, e.g. ``../shared/data/dsb2018``: ``images/``, ``masks/``); the
product never reads it. A permutation with ``--split-seed`` holds out
``--held-out`` images; the generator is fitted on the others
(:meth:`Procedural.fit`, default rounds), then ``--n`` images of 256 x 256
are generated with the defaults and with the fit for each ``--gen-seeds``, and
``segbench.realism`` compares each set with the held-out images. Prints the
tables (markdown), the fitted parameters, and a summary of every feature's
ratio to its real-vs-real floor (morphology, intensity and the difficulty
features) for each set, next to the fitted ratios of an earlier run
(``--baseline``, its ``realism.json``) when given; writes ``WORK/realism.json``.

Run from the repository root (a few minutes on one core)::

    python scripts/measure_procedural_realism.py --dsb ../shared/data/dsb2018 --work /tmp/procedural-realism \
        [--baseline /tmp/earlier-run/realism.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from segbench import Dataset
from segbench.builtin.procedural import Procedural
from segbench.io import open_dataset
from segbench.realism import realism_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsb", type=Path, required=True, help="DSB 2018 folder (images/, masks/)")
    parser.add_argument("--work", type=Path, required=True, help="output folder (the fit, realism.json)")
    parser.add_argument("--held-out", type=int, default=100, help="held-out images (default: 100)")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=100, help="generated images per set (default: 100)")
    parser.add_argument("--gen-seeds", type=int, nargs="+", default=[0, 7, 13])
    parser.add_argument("--baseline", type=Path, help="realism.json of an earlier run, to compare ratios with")
    args = parser.parse_args()

    dataset, problems = open_dataset(args.dsb)
    if problems:
        raise SystemExit(f"{args.dsb}: {problems[0]}")
    samples = list(dataset)
    order = np.random.default_rng(args.split_seed).permutation(len(samples))
    held = [samples[i] for i in order[: args.held_out]]
    fit_on = Dataset("dsb2018-fit", [samples[i] for i in order[args.held_out:]])

    fitted = Procedural()
    fitted.fit(fit_on, args.work / "fit", seed=0,
               progress=lambda r, n, e: print(f"fit round {r}/{n}: mismatch {e:.3f}", flush=True))
    out = {"n_fit": len(fit_on), "n_held_out": len(held), "fitted_params": fitted.params(), "reports": {}}
    sets = {"defaults": (Procedural(), [0]), "fitted": (fitted, args.gen_seeds)}
    for label, (generator, seeds) in sets.items():
        for seed in seeds:
            report = realism_report(held, list(generator.generate(args.n, seed)))
            out["reports"][f"{label}, seed {seed}"] = report.to_dict()
            print(f"\n## {label}, generation seed {seed}\n\n{report.to_markdown()}", flush=True)
    print("\nfitted parameters:", json.dumps(out["fitted_params"], indent=1))
    baseline = json.loads(args.baseline.read_text(encoding="utf-8")) if args.baseline else None
    print("\n## ratio to the floor, every feature\n\n" + ratio_summary(out, baseline))
    (args.work / "realism.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


def ratio_summary(out: dict, baseline: dict | None = None) -> str:
    """Markdown table: per feature, its floor and its ratio to the floor in every
    report of ``out`` (columns), after the fitted reports of ``baseline`` (columns
    marked "before") when given."""
    columns = [] if baseline is None else [
        (f"before: {label}", report) for label, report in baseline["reports"].items() if label.startswith("fitted")]
    columns += list(out["reports"].items())
    first = next(iter(out["reports"].values()))["features"]
    lines = ["| feature | floor | " + " | ".join(label for label, _ in columns) + " |",
             "|---|---:|" + "---:|" * len(columns)]
    for i, row in enumerate(first):
        ratios = [_fmt(report["features"][i]["ratio"]) for _, report in columns]
        lines.append(f"| {row['name']} | {_fmt(row['floor'])} | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


if __name__ == "__main__":
    raise SystemExit(main())
