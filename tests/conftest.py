"""Fixtures of the core tests.

Report tests: ``default_like_results`` is a results table shaped like the
default suite's (three Cellpose variants of one config: a cellprob_threshold
sweep with bsize set; StarDist; otsu-watershed), scored at the suite's and the
DSB thresholds; ``results_folder`` writes a results folder as the runner does,
from real images, with or without saved predictions.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from segbench.metrics import DSB_THRESHOLDS

SUITE_THRESHOLDS = (0.5, 0.75, 0.9)
THRESHOLDS = tuple(sorted({*SUITE_THRESHOLDS, *(round(t, 6) for t in DSB_THRESHOLDS)}))

#: variant label -> (segmenter, params, base IoU quality, miss rate, train seconds)
VARIANTS = {
    "cellpose bsize=288 cellprob_threshold=-1.0": ("cellpose", {"bsize": 288, "cellprob_threshold": -1.0}, 0.90, 0.0, 252.0),
    "cellpose bsize=288 cellprob_threshold=0.0": ("cellpose", {"bsize": 288, "cellprob_threshold": 0.0}, 0.93, 0.0, 252.0),
    "cellpose bsize=288 cellprob_threshold=1.0": ("cellpose", {"bsize": 288, "cellprob_threshold": 1.0}, 0.95, 0.0, 252.0),
    "otsu-watershed": ("otsu-watershed", {}, 0.88, 0.05, None),
    "stardist": ("stardist", {}, 0.80, 0.1, 80.3),
}


def results_frame(datasets=("nuclei-clean", "nuclei-crowded"), n_images: int = 8, n_objects: int = 20,
                  prediction_paths: dict | None = None) -> pd.DataFrame:
    """Rows (dataset, image, variant, threshold) with consistent counts: each
    object's IoU is drawn around the variant's quality; misses add FN and FP."""
    rng = np.random.default_rng(0)
    rows = []
    for dataset in datasets:
        for variant, (segmenter, params, quality, miss, train) in VARIANTS.items():
            for i in range(n_images):
                image = f"img{i:02d}"
                ious = np.clip(rng.normal(quality, 0.03, n_objects), 0.3, 1.0)
                missed = rng.random(n_objects) < miss
                ious[missed] = 0.3
                per_t = []
                for t in THRESHOLDS:
                    hit = ious >= t
                    per_t.append((t, int(hit.sum()), float(ious[hit].sum())))
                seg = float(np.where(ious > 0.5, ious, 0).sum())
                dsb = float(np.mean([tp / (2 * n_objects - tp) for t, tp, _ in per_t if t in THRESHOLDS]))
                for t, tp, matched in per_t:
                    rows.append({
                        "dataset": dataset, "image": image, "segmenter": segmenter, "segmenter_name": segmenter,
                        "variant": variant, "config_id": segmenter[:4], "params": json.dumps(params, sort_keys=True),
                        "train_settings": "", "threshold": t, "criterion": "iou",
                        "tp": tp, "fp": n_objects - tp, "fn": n_objects - tp, "n_true": n_objects,
                        "n_pred": n_objects, "sum_matched_score": matched,
                        "precision": tp / n_objects, "recall": tp / n_objects, "f1": tp / n_objects,
                        "accuracy": tp / (2 * n_objects - tp),
                        "mean_matched_iou": matched / max(tp, 1), "panoptic_quality": matched / n_objects,
                        "seg": seg / n_objects, "seg_sum": seg, "seg_n": n_objects, "aji": 0.8,
                        "aji_intersection": 800, "aji_union": 1000, "dsb_mean_accuracy": dsb,
                        "predict_seconds": 0.7 if segmenter == "cellpose" else 0.02, "postprocess_seconds": 0.04,
                        "train_seconds": train, "describe": "{}", "host": "testhost", "seed": 0,
                        "segbench_version": "0.1.0", "plugin_distribution": "segbench-" + segmenter,
                        "plugin_version": "0.1.0", "suite": "fluorescent", "cell_key": f"{dataset}-{variant}-{i}",
                        "prediction_path": (prediction_paths or {}).get((dataset, variant, image), ""),
                    })
    return pd.DataFrame(rows)


def damage(gt: np.ndarray) -> np.ndarray:
    """A prediction with every kind of error: the first object missed, the second
    split in two, the third and fourth merged, a false positive in a corner."""
    pred = gt.copy()
    ids = [i for i in np.unique(gt) if i]
    pred[gt == ids[0]] = 0
    ys, xs = np.nonzero(gt == ids[1])
    left = xs < np.median(xs)
    pred[ys[left], xs[left]] = gt.max() + 1
    pred[gt == ids[3]] = ids[2]
    pred[:4, :4] = gt.max() + 2
    return pred


def write_results_folder(root, predictions: bool = True, n_images: int = 4):
    """A results folder as the runner writes it, from real images: a procedural
    dataset under data/, three variants scored with segbench.metrics
    ("perfect", "otsu-watershed" predicted for real, "damaged"), predicted label
    images under predictions/ (when ``predictions``), suite.json and run.json.

    Returns the folder's Path."""
    from pathlib import Path

    from segbench.builtin.otsu_watershed import OtsuWatershed
    from segbench.builtin.procedural import Procedural
    from segbench.io import write_dataset, write_labels
    from segbench.metrics import evaluate_image
    from segbench.results import RESULTS_FILE, RUN_RECORD, SUITE_RECORD, prediction_relpath

    root = Path(root)
    samples = list(Procedural(shape=[96, 96], n_objects=8).generate(n_images, seed=3))
    write_dataset(root / "data" / "nuclei", samples)
    otsu = OtsuWatershed(min_distance=4)
    variants = {
        "perfect": ("perfect", lambda s: s.labels.copy()),
        "otsu-watershed min_distance=4": ("otsu-watershed", lambda s: otsu.predict(s.image)),
        "damaged": ("damaged", lambda s: damage(s.labels)),
    }
    rows = []
    for variant, (segmenter, predict) in variants.items():
        for sample in samples:
            pred = predict(sample).astype(np.int32)
            relpath = ""
            if predictions:
                relpath = prediction_relpath("nuclei", sample.name, variant, segmenter, "0")
                write_labels(root / relpath, pred)
            scores = evaluate_image(sample.labels, pred, thresholds=THRESHOLDS)
            image_level = {**scores.summary(), "seg": scores.seg, "aji": scores.aji}
            for row in scores.rows:
                rows.append({
                    "dataset": "nuclei", "image": sample.name, "segmenter": segmenter,
                    "segmenter_name": segmenter, "variant": variant, "config_id": segmenter,
                    "params": json.dumps({"min_distance": 4} if "min" in variant else {}),
                    "train_settings": "", "predict_seconds": 0.01, "postprocess_seconds": 0.0,
                    "train_seconds": None, "describe": "{}", "host": "testhost", "seed": 0,
                    "segbench_version": "0.1.0", "plugin_distribution": "segbench", "plugin_version": "0.1.0",
                    "suite": "report-test", "cell_key": f"{variant}-{sample.name}", "prediction_path": relpath,
                    **row, **image_level,
                })
    pd.DataFrame(rows).to_parquet(root / RESULTS_FILE)
    (root / SUITE_RECORD).write_text(json.dumps({
        "name": "report-test", "seed": 0, "iou_thresholds": list(SUITE_THRESHOLDS), "criterion": "iou",
        "rank_by": "f1@0.5", "datasets": [{"name": "nuclei", "folder": str(root / "data" / "nuclei"),
                                           "reference": False}],
    }))
    (root / RUN_RECORD).write_text(json.dumps({"suite": "report-test", "cells": 12, "failures": []}))
    return root


@pytest.fixture(scope="session")
def default_like_results() -> pd.DataFrame:
    return results_frame()


@pytest.fixture
def results_folder(tmp_path):
    """``results_folder(predictions=True)`` -> the folder (see :func:`write_results_folder`)."""
    return lambda predictions=True: write_results_folder(tmp_path / "out", predictions)
