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

from segbench.metrics import DEFAULT_THRESHOLDS, DSB_THRESHOLDS
from segbench.metrics.scores import score_row
from segbench.results import Col
from segbench.suite.model import MetricsSpec

THRESHOLDS = tuple(sorted({*DEFAULT_THRESHOLDS, *(round(t, 6) for t in DSB_THRESHOLDS)}))

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
                        Col.DATASET: dataset, Col.IMAGE: image, Col.SEGMENTER: segmenter,
                        Col.SEGMENTER_NAME: segmenter, Col.VARIANT: variant, Col.CONFIG_ID: segmenter[:4],
                        Col.PARAMS: json.dumps(params, sort_keys=True), Col.TRAIN_SETTINGS: "",
                        **score_row(t, "iou", tp, n_true=n_objects, n_pred=n_objects, sum_matched_score=matched),
                        Col.SEG: seg / n_objects, Col.SEG_SUM: seg, Col.SEG_N: n_objects, Col.AJI: 0.8,
                        Col.AJI_INTERSECTION: 800, Col.AJI_UNION: 1000, Col.DSB: dsb,
                        Col.PREDICT_SECONDS: 0.7 if segmenter == "cellpose" else 0.02, Col.POSTPROCESS_SECONDS: 0.04,
                        Col.TRAIN_SECONDS: train, **_provenance("segbench-" + segmenter, "fluorescent"),
                        Col.CELL_KEY: f"{dataset}-{variant}-{i}",
                        Col.PREDICTION_PATH: (prediction_paths or {}).get((dataset, variant, image), ""),
                    })
    return pd.DataFrame(rows)


def _provenance(distribution: str, suite: str) -> dict:
    """The provenance columns of a test row (the same on every row)."""
    return {Col.DESCRIBE: "{}", Col.HOST: "testhost", Col.SEED: 0, Col.SEGBENCH_VERSION: "0.1.0",
            Col.PLUGIN_DISTRIBUTION: distribution, Col.PLUGIN_VERSION: "0.1.0", Col.SUITE: suite}


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
            image_level = scores.summary()
            for row in scores.rows:
                rows.append({
                    Col.DATASET: "nuclei", Col.IMAGE: sample.name, Col.SEGMENTER: segmenter,
                    Col.SEGMENTER_NAME: segmenter, Col.VARIANT: variant, Col.CONFIG_ID: segmenter,
                    Col.PARAMS: json.dumps({"min_distance": 4} if "min" in variant else {}),
                    Col.TRAIN_SETTINGS: "", Col.PREDICT_SECONDS: 0.01, Col.POSTPROCESS_SECONDS: 0.0,
                    Col.TRAIN_SECONDS: None, **_provenance("segbench", "report-test"),
                    Col.CELL_KEY: f"{variant}-{sample.name}", Col.PREDICTION_PATH: relpath,
                    **row, **image_level,
                })
    pd.DataFrame(rows).to_parquet(root / RESULTS_FILE)
    defaults = MetricsSpec()
    (root / SUITE_RECORD).write_text(json.dumps({
        "name": "report-test", "seed": 0, "iou_thresholds": list(defaults.iou_thresholds),
        "criterion": defaults.criterion, "rank_by": defaults.rank_by,
        "datasets": [{"name": "nuclei", "folder": str(root / "data" / "nuclei"), "reference": False}],
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
