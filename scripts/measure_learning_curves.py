"""Learning curves of the learned segmenters on real nuclei (development tool).

F1@0.5 on held-out real images against the training budget, per method, to
choose budgets near convergence for ``suites/sim2real.yaml``. Two steps::

    python scripts/measure_learning_curves.py suite --data /tmp/s2r/data/dev --out /tmp/lc
    segbench run /tmp/lc/learning-curves.yaml
    python scripts/measure_learning_curves.py plot /tmp/lc/results --png docs/img/learning_curves.png

``--data`` is a labelled dataset folder (``scripts/make_sim2real_dev.py``
writes one from the development copy of DSB 2018); the suite names it
``dev`` with a 24 / 120 split, so its train and test images are those of
``dev`` in the sim2real development run, trains each method at each budget of
:data:`BUDGETS` and tests on the rest. ``plot`` draws F1@0.5 with its 95%
paired-bootstrap interval against epochs, one line per method, and prints
the table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import yaml

from segbench.report import load_results
from segbench.paired import bootstrap_weights, percentile_interval, pooled_values
from segbench.results import Col, parse_metric_key

#: method -> (its other training settings, the epochs to train for); the
#: sim2real budgets (Cellpose 25, StarDist 15 and 60, U-Net 12 and 24, Mask R-CNN 5 epochs) among them
BUDGETS = {
    "unet": ({"steps_per_epoch": 20}, [6, 12, 24, 48]),
    "stardist": ({"steps_per_epoch": 20, "patch_size": 128, "learning_rate": 0.001}, [15, 30, 60]),
    "cellpose": ({"crop_size": 128}, [25, 50]),
    "maskrcnn": ({}, [5, 10, 20]),
}
#: Cellpose's constructor params in sim2real (cellprob_threshold -1, its better variant there)
PARAMS = {"cellpose": {"bsize": 288, "cellprob_threshold": -1.0}}


def suite(data: Path, out: Path, n_train: int, n_test: int, methods: list[str]) -> dict:
    """The learning-curve suite of ``methods``: one entry per (method, epochs), labelled ``METHOD-eEPOCHS``."""
    entries = [
        {"name": name, "label": f"{name}-e{epochs}", "optional": True, "train": {"epochs": epochs, **settings},
         **({"params": PARAMS[name]} if name in PARAMS else {})}
        for name, (settings, budgets) in BUDGETS.items() if name in methods
        for epochs in budgets
    ]
    return {
        "name": "learning-curves",
        "seed": 0,
        "output": str(out / "results"),
        "datasets": [{"name": "dev", "path": str(data), "split": {"train": n_train, "test": n_test}}],
        "segmenters": entries,
        "metrics": {"iou_thresholds": [0.5], "rank_by": "f1@0.5"},
        "executor": {"kind": "processes", "workers": 2},
    }


def curves(results_dir: Path, n_boot: int = 1000) -> dict[str, list[tuple[int, float, float, float]]]:
    """method -> [(epochs, F1@0.5, CI low, CI high)], from the suite's results."""
    results, _ = load_results(results_dir)
    key = parse_metric_key("f1@0.5")
    rows = results[np.isclose(results[Col.THRESHOLD].astype(float), 0.5)]
    images = list(dict.fromkeys(rows[Col.IMAGE]))
    ids, point = pooled_values(rows, key, np.ones((1, len(images))), by=Col.VARIANT, images=images)
    _, boot = pooled_values(rows, key, bootstrap_weights(len(images), n_boot), by=Col.VARIANT, images=images)
    out: dict[str, list] = {}
    for i, variant in enumerate(ids):
        method, epochs = str(variant).split(" ")[0].rsplit("-e", 1)
        low, high = percentile_interval(boot[:, i])
        out.setdefault(method, []).append((int(epochs), float(point[0, i]), low, high))
    return {m: sorted(v) for m, v in out.items()}


def plot(table: dict, png: Path) -> None:
    """F1@0.5 against epochs, one line per method, with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for method, points in table.items():
        epochs, f1, low, high = (np.array(c) for c in zip(*points))
        ax.errorbar(epochs, f1, yerr=[f1 - low, high - f1], marker="o", capsize=3, label=method)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training epochs (24 real images)")
    ax.set_ylabel("F1@0.5 on held-out real images")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    make = sub.add_parser("suite", help="write the learning-curve suite")
    make.add_argument("--data", type=Path, required=True, help="a labelled dataset folder")
    make.add_argument("--out", type=Path, required=True)
    make.add_argument("--train", type=int, default=24)
    make.add_argument("--test", type=int, default=120)
    make.add_argument("--methods", nargs="+", choices=list(BUDGETS), default=list(BUDGETS),
                      help="the methods to train (default: all)")
    draw = sub.add_parser("plot", help="table and plot from the suite's results")
    draw.add_argument("results", type=Path, nargs="+", help="results folders of learning-curve suites, drawn together")
    draw.add_argument("--png", type=Path)
    args = parser.parse_args(argv)
    if args.step == "suite":
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / "learning-curves.yaml"
        path.write_text(yaml.safe_dump(suite(args.data.resolve(), args.out.resolve(), args.train, args.test, args.methods),
                                       sort_keys=False))
        print(path)
        return
    table = {method: points for folder in args.results for method, points in curves(folder).items()}
    print(json.dumps(table, indent=1))
    if args.png:
        plot(table, args.png)


if __name__ == "__main__":
    main()
