"""Mask R-CNN through segbench's runner: trained once, loaded to predict, and a
threshold sweep that runs the network once per image."""

from __future__ import annotations

import json
import textwrap

import pandas as pd

from segbench.plugins import load_registry
from segbench.run.runner import run_suite
from segbench.suite import load_suite
from segbench_maskrcnn import MaskRCNNSegmenter, inference


def test_sweep_over_one_network_pass_per_image(tmp_path, monkeypatch, tiny_model, tiny_training):
    params = "".join(f"\n              {k}: {json.dumps(v)}" for k, v in {**tiny_model, "device": "cpu"}.items())
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(textwrap.dedent(f"""\
        name: maskrcnn-tiny
        seed: 0
        output: {tmp_path / 'out'}
        datasets:
          - name: blobs
            generator: procedural
            params: {{n_images: 4, shape: [64, 64], n_objects: 6, radius: 5.5}}
            split: {{train: 2, test: 2}}
        segmenters:
          - name: maskrcnn
            train: {json.dumps(tiny_training)}
            params:{params}
              score_threshold: [0.0, 0.5]
              nms_threshold: [0.3, 0.5, 0.7]
        metrics: {{iou_thresholds: [0.5], rank_by: f1@0.5}}
        executor: {{kind: local}}
        """))
    passes, calls = [], []
    detect_tile = inference.detect_tile

    def counted(model, norm, device):
        passes.append(norm.shape)
        return detect_tile(model, norm, device)

    monkeypatch.setattr(inference, "detect_tile", counted)
    for name in ("fit", "load"):
        original = getattr(MaskRCNNSegmenter, name)
        monkeypatch.setattr(
            MaskRCNNSegmenter, name,
            lambda self, *a, _o=original, _n=name, **k: calls.append(_n) or _o(self, *a, **k),
        )
    registry = load_registry()
    summary = run_suite(load_suite(suite_file, registry), registry)
    assert summary.ok, [str(f) for f in summary.failures]
    assert passes == [(64, 64), (64, 64)]  # 2 test images, one tile each, 6 variants each
    assert calls.count("fit") == 1
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert len(results[results["threshold"] == 0.5]) == 2 * 6
    describe = json.loads(results["describe"].iloc[0])
    assert describe["backbone"] == "resnet18" and describe["trained"]["start"] == "scratch"
