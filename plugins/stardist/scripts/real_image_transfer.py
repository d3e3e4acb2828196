"""How far does StarDist trained on segbench's procedural nuclei transfer to a real image?

Trains StarDist exactly as a suite does (the suite's dataset, train split,
settings and seed; reusing the suite's cached model when the suite has run),
then scores it with segbench.metrics on

1. the suite's held-out procedural test images, and
2. the annotated fluorescence image StarDist ships
   (``stardist.data.test_image_nuclei_2d(return_mask=True)``, from the 2018
   Data Science Bowl), which the model never saw anything like.

Run from the repository root::

    python plugins/stardist/scripts/real_image_transfer.py
    python plugins/stardist/scripts/real_image_transfer.py --dataset nuclei-crowded

Prints Markdown tables (pooled counts per IoU threshold).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def _pooled_rows(segmenter, raws, truths, thresholds, **postprocess):
    """Pooled match rows of the post-processed network outputs ``raws``."""
    from segbench.metrics import match, pool

    rows = []
    for raw, truth in zip(raws, truths):
        rows.extend(match(truth, segmenter.postprocess(raw, **postprocess), thresholds=thresholds))
    return pool(rows)


def _table(title: str, rows) -> str:
    lines = [
        f"**{title}**",
        "",
        "| IoU | n true | n pred | tp | fp | fn | precision | recall | F1 | accuracy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['threshold']:.2f} | {r['n_true']} | {r['n_pred']} | {r['tp']} | {r['fp']} | {r['fn']} | "
            f"{r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['accuracy']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="suites/fluorescent.yaml", help="suite YAML (default: %(default)s)")
    parser.add_argument("--dataset", default="nuclei-clean", help="procedural dataset to train on (default: %(default)s)")
    parser.add_argument("--segmenter", default="stardist", help="label of the StarDist entry with train: (default: %(default)s)")
    parser.add_argument("--output", help="override the suite's output folder")
    args = parser.parse_args(argv)

    from segbench.plugins import load_registry
    from segbench.run.jobs import run_training
    from segbench.run.runner import plan_suite
    from segbench.suite import load_suite
    from stardist.data import test_image_nuclei_2d

    from segbench_stardist import StarDistSegmenter

    registry = load_registry()
    suite = load_suite(args.suite, registry, args.output)
    plan = plan_suite(suite, registry)
    jobs = [
        job for (dataset, _), job in plan.trainings.items()
        if dataset == args.dataset and job.config.label == args.segmenter
    ]
    if not jobs:
        print(f"no trained entry {args.segmenter!r} on dataset {args.dataset!r} in {args.suite}", file=sys.stderr)
        return 2
    job = jobs[0]
    started = time.perf_counter()
    record = run_training(job)
    print(
        f"StarDist `train: {job.config.train}` on {args.dataset} ({len(job.train_refs)} images): "
        f"{'cached from the suite run' if record['cached'] else 'trained now'}, "
        f"training took {record['seconds']:.0f} s ({time.perf_counter() - started:.0f} s this call)\n"
    )
    segmenter = StarDistSegmenter(model_dir=Path(job.workdir) / "stardist")
    thresholds = (0.5, 0.75, 0.9)
    print(f"model thresholds (optimize_thresholds on the validation images): {segmenter.thresholds}\n")

    test = [ref.load(job.spacing) for ref in plan.datasets[args.dataset].test]
    raws = [segmenter.predict_raw(s.image) for s in test]
    rows = _pooled_rows(segmenter, raws, [s.labels for s in test], thresholds)
    print(_table(f"{args.dataset}: {len(test)} held-out procedural images", rows))
    print()

    image, truth = test_image_nuclei_2d(return_mask=True)
    raw = [segmenter.predict_raw(image)]
    rows = _pooled_rows(segmenter, raw, [truth], thresholds)
    print(_table("stardist.data.test_image_nuclei_2d (real, DSB 2018), model thresholds", rows))
    print()
    print("Same image, prob_thresh swept (an oracle choice on the test image itself; for orientation only):\n")
    print("| prob_thresh | F1@0.5 | accuracy@0.5 |")
    print("|---|---|---|")
    for prob in np.round(np.arange(0.1, 0.95, 0.1), 2):
        (row,) = _pooled_rows(segmenter, raw, [truth], (0.5,), prob_thresh=float(prob))
        print(f"| {prob:.1f} | {row['f1']:.3f} | {row['accuracy']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
