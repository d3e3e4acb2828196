"""Slow: the default suite's settings on nuclei-clean reach the F1 the README reports."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import segbench
from segbench.builtin.procedural import Procedural
from segbench.metrics import evaluate_dataset
from segbench_maskrcnn import MaskRCNNSegmenter

SUITE = Path(__file__).resolve().parents[3] / "suites" / "fluorescent.yaml"
#: The settings recommended for the default suite (README).
SUITE_TRAIN = dict(epochs=6, batch_size=2, crop_size=256)


@pytest.mark.slow
def test_nuclei_clean_f1_at_half(tmp_path):
    suite = yaml.safe_load(SUITE.read_text())
    params = dict(next(d for d in suite["datasets"] if d["name"] == "nuclei-clean")["params"])
    n = params.pop("n_images")
    samples = list(Procedural(**params).generate(n, seed=0))
    seg = MaskRCNNSegmenter(device="cpu")
    seg.fit(segbench.Dataset("nuclei-clean", samples[:16]), tmp_path, seed=0, **SUITE_TRAIN)
    pairs = [(s.name, s.labels, seg.postprocess(seg.predict_raw(s.image))) for s in samples[16:]]
    scores = evaluate_dataset(pairs, thresholds=(0.5,))
    assert scores.pooled[0]["f1"] >= 0.85
