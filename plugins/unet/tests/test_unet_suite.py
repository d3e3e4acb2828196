"""The segmenters through segbench's runner: trained on a suite's train split,
a post-processing sweep over one network pass per image (counted), and the
suite's validation of parameter names."""

from __future__ import annotations

import json
from pathlib import Path
import textwrap

import pandas as pd
import pytest

from segbench.plugins import load_registry
from segbench.run.runner import run_suite
from segbench.suite import SuiteLoadError, load_suite
from segbench_unet.segmenter import NetworkSegmenter


def test_postprocess_sweep_runs_the_network_once_per_image(tmp_path, monkeypatch, tiny_fit):
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(textwrap.dedent(f"""\
        name: unet-tiny
        seed: 0
        output: {tmp_path / 'out'}
        datasets:
          - name: blobs
            generator: procedural
            params: {{n_images: 5, shape: [48, 48], n_objects: 5, radius: 6.0}}
            split: {{train: 3, test: 2}}
        segmenters:
          - name: unet
            train: {json.dumps({**tiny_fit, "epochs": 1})}
            params:
              depth: 2
              base_channels: 4
              interior_threshold: [0.3, 0.5, 0.7]
              prob_threshold: [0.4, 0.6]
        metrics: {{iou_thresholds: [0.5], rank_by: f1@0.5}}
        executor: {{kind: local}}
        """))
    passes = []
    original = NetworkSegmenter._network_pass

    def counted(self, image):
        passes.append(image.shape)
        return original(self, image)

    monkeypatch.setattr(NetworkSegmenter, "_network_pass", counted)
    registry = load_registry()
    summary = run_suite(load_suite(suite_file, registry), registry)
    assert summary.ok, [str(f) for f in summary.failures]
    assert passes == [(1, 48, 48), (1, 48, 48)]  # 2 test images, 6 post-processing variants each
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert len(results[results["threshold"] == 0.5]) == 2 * 6
    params = results["params"].map(json.loads)
    assert {(p["interior_threshold"], p["prob_threshold"]) for p in params} == {
        (i, p) for i in (0.3, 0.5, 0.7) for p in (0.4, 0.6)
    }
    describe = json.loads(results["describe"].iloc[0])
    assert describe["segmenter"] == "unet" and len(describe["weights_sha256"]) == 64


def test_suite_validation_knows_every_parameter(tmp_path):
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(textwrap.dedent(f"""\
        name: typo
        output: {tmp_path / 'out'}
        datasets:
          - name: blobs
            generator: procedural
            params: {{n_images: 2, shape: [32, 32]}}
            split: {{train: 1, test: 1}}
        segmenters:
          - name: u2net
            train: {{epochs: 1, steps_per_epch: 2}}
        """))
    with pytest.raises(SuiteLoadError, match="steps_per_epch.*did you mean 'steps_per_epoch'"):
        load_suite(suite_file, load_registry())


def test_the_example_suite_validates():
    suite = load_suite(Path(__file__).parents[1] / "suites" / "unet-3d.yaml", load_registry())
    assert {s.name for s in suite.segmenters} == {"unet", "vnet", "u2net"}
