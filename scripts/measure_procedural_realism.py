"""Realism of the ``procedural`` generator, defaults and fitted, against held-out real nuclei (development tool).

Reads the development copy of the 2018 Data Science Bowl fluorescence images
(``--dsb``, e.g. ``../shared/data/dsb2018``: ``images/``, ``masks/``); the
product never reads it. A permutation with ``--split-seed`` holds out
``--held-out`` images; the generator is fitted on the others
(:meth:`Procedural.fit`, default rounds), then ``--n`` images of 256 x 256
are generated with the defaults and with the fit for each ``--gen-seeds``, and
``segbench.realism`` compares each set with the held-out images. Prints the
tables (markdown) and the fitted parameters; writes ``WORK/realism.json``.

Run from the repository root (a few minutes on one core)::

    python scripts/measure_procedural_realism.py --dsb ../shared/data/dsb2018 --work /tmp/procedural-realism
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
    (args.work / "realism.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
