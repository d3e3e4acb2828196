"""How far does StarDist trained on segbench's procedural nuclei transfer to a real image?

Trains StarDist exactly as a suite does (the suite's dataset, train split,
settings and seed, through segbench's own training, :mod:`segbench.run.training`;
reusing the suite's trained model when the suite has run), then scores it with segbench.metrics on

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
from dataclasses import dataclass
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


class NoTrainingEntry(LookupError):
    """The suite has no StarDist entry with ``train:`` for the dataset."""


@dataclass
class Transfer:
    """What :func:`transfer` measured."""

    train_settings: dict
    record: dict
    devices: list
    thresholds: dict
    procedural: list
    real: list
    real_sweep: dict


def transfer(suite_file: str, dataset: str, segmenter_label: str, output: str | None = None) -> Transfer:
    """Train (or reload) the suite's StarDist on ``dataset`` and score it on the held-out
    procedural images and on StarDist's real test image.

    Raises
    ------
    NoTrainingEntry
        When the suite has no entry ``segmenter_label`` with ``train:`` for ``dataset``.
    """
    from segbench.plugins import load_registry
    from segbench.run.plan import plan_suite
    from segbench.run.training import model_for, train
    from segbench.suite import load_suite
    from stardist.data import test_image_nuclei_2d

    registry = load_registry()
    suite = load_suite(suite_file, registry, output)
    plan = plan_suite(suite, registry)
    trainings = [t for t in plan.trainings.values() if t.dataset == dataset and t.label == segmenter_label]
    if not trainings:
        raise NoTrainingEntry(f"no entry {segmenter_label!r} with train: on dataset {dataset!r} in {suite_file}")
    training = trainings[0]
    _, record = train(training)  # the suite's own training; its record when the suite already ran it
    segmenter, _ = model_for(training.cls, training.params, training.spacing, training)
    thresholds = (0.5, 0.75, 0.9)

    test_ds = plan.datasets[dataset]
    test = [ref.load(test_ds.spacing) for ref in test_ds.test]
    raws = [segmenter.predict_raw(s.image) for s in test]
    image, truth = test_image_nuclei_2d(return_mask=True)
    real_raw = [segmenter.predict_raw(image)]
    return Transfer(
        train_settings=training.settings,
        record=record,
        devices=segmenter.describe()["devices"],
        thresholds=segmenter.thresholds,
        procedural=_pooled_rows(segmenter, raws, [s.labels for s in test], thresholds),
        real=_pooled_rows(segmenter, real_raw, [truth], thresholds),
        real_sweep={
            float(p): _pooled_rows(segmenter, real_raw, [truth], (0.5,), prob_thresh=float(p))[0]
            for p in np.round(np.arange(0.1, 0.95, 0.1), 2)
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="suites/fluorescent.yaml", help="suite YAML (default: %(default)s)")
    parser.add_argument("--dataset", default="nuclei-clean", help="procedural dataset to train on (default: %(default)s)")
    parser.add_argument("--segmenter", default="stardist", help="label of the StarDist entry with train: (default: %(default)s)")
    parser.add_argument("--output", help="override the suite's output folder")
    args = parser.parse_args(argv)
    try:
        result = transfer(args.suite, args.dataset, args.segmenter, args.output)
    except NoTrainingEntry as err:
        print(err, file=sys.stderr)
        return 2
    record = result.record
    print(
        f"StarDist `train: {result.train_settings}` on {args.dataset} "
        f"({record['n_train_images']} images, some held out for validation and optimize_thresholds): "
        f"fit took {record['seconds']:.0f} s on {', '.join(result.devices)}\n"
    )
    print(f"model thresholds (optimize_thresholds on the validation images): {result.thresholds}\n")
    print(_table(f"{args.dataset}: held-out procedural images", result.procedural))
    print()
    print(_table("stardist.data.test_image_nuclei_2d (real, DSB 2018), model thresholds", result.real))
    print()
    print("Same image, prob_thresh swept (an oracle choice on the test image itself; for orientation only):\n")
    print("| prob_thresh | F1@0.5 | accuracy@0.5 |")
    print("|---|---|---|")
    for prob, row in result.real_sweep.items():
        print(f"| {prob:.1f} | {row['f1']:.3f} | {row['accuracy']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
