"""Cellpose through segbench's runner: trained once on a suite's train split and
loaded for predicting, a threshold sweep over one network pass per image, and a
rerun that recomputes nothing."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest

from segbench.plugins import load_registry
from segbench.run.runner import run_suite
from segbench.suite import load_suite
from segbench_cellpose import CellposeSegmenter

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def test_trained_cellpose_sweeps_thresholds_over_one_pass(tmp_path, monkeypatch, tiny_training):
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(textwrap.dedent(f"""\
        name: cellpose-tiny
        seed: 0
        output: {tmp_path / 'out'}
        datasets:
          - name: blobs
            generator: procedural
            params: {{n_images: 5, shape: [64, 64], n_objects: 8, radius: 5.5}}
            split: {{train: 3, test: 2}}
        segmenters:
          - name: cellpose
            train: {json.dumps(tiny_training)}
            params:
              bsize: 80
              cellprob_threshold: [-1.0, 0.0, 1.0]
              flow_threshold: [0.4, 0.8]
        metrics: {{iou_thresholds: [0.5], rank_by: f1@0.5}}
        executor: {{kind: local}}
        """))
    passes, calls = [], []
    original = {name: getattr(CellposeSegmenter, name) for name in ("predict_raw", "fit", "load")}

    def counted(self, image):
        passes.append(image.shape)
        return original["predict_raw"](self, image)

    monkeypatch.setattr(CellposeSegmenter, "predict_raw", counted)
    for name in ("fit", "load"):
        monkeypatch.setattr(
            CellposeSegmenter, name,
            lambda self, *args, _name=name, **kwargs: calls.append(_name) or original[_name](self, *args, **kwargs),
        )
    registry = load_registry()
    summary = run_suite(load_suite(suite_file, registry), registry)
    assert summary.ok, [str(f) for f in summary.failures]
    assert passes == [(64, 64), (64, 64)]  # 2 test images, 6 threshold variants each
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    at_half = results[results["threshold"] == 0.5]
    assert len(at_half) == 2 * 6
    params = at_half["params"].map(json.loads)
    assert {(p["cellprob_threshold"], p["flow_threshold"]) for p in params} == {
        (c, f) for c in (-1.0, 0.0, 1.0) for f in (0.4, 0.8)
    }
    describe = json.loads(at_half["describe"].iloc[0])
    assert describe["training"]["start"] == "scratch" and describe["cellpose"].startswith("3.1.1")
    (workdir,) = [p.parent for p in (tmp_path / "out").rglob("cellpose.json")]
    assert {"weights", "segbench-training.json"} <= {p.name for p in workdir.iterdir()}
    assert calls == ["fit", "load", "load"]  # trained once (fit ends with load), loaded to predict

    again = run_suite(load_suite(suite_file, registry), registry)
    assert (again.n_done, again.n_cached) == (0, 2) and len(passes) == 2 and calls.count("fit") == 1
