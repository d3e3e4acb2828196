"""The segmenters against segbench's plugin contract (``segbench.testing.check_segmenter``):
trained, restored by ``load`` in a new instance, a post-processing sweep over one
network pass per image; and the example suite validates."""

from __future__ import annotations

from pathlib import Path

import pytest

from segbench.plugins import load_registry
from segbench.suite import load_suite
from segbench.testing import check_segmenter
from segbench_unet.segmenter import UNetSegmenter, VNetSegmenter


@pytest.mark.parametrize("cls, arch", [
    (UNetSegmenter, dict(depth=2, base_channels=4)),
    (UNetSegmenter, dict(variant="original", depth=2, base_channels=4, tile_size=32)),
    (VNetSegmenter, dict(depth=2, base_channels=4, kernel_size=3)),
])
def test_segmenter_contract(cls, arch, tmp_path, tiny_data, tiny_fit):
    # 50 steps: enough for a prediction with background (the contract asks for it), seconds on one thread
    fit = {**tiny_fit, "epochs": 5, "steps_per_epoch": 10, "learning_rate": 1e-2}
    check_segmenter(
        cls, arch, workdir=tmp_path, fit=fit, dataset=tiny_data[0],
        sweep={"interior_threshold": [0.3, 0.5, 0.7], "prob_threshold": [0.4, 0.6]},
    )


def test_the_example_suite_validates():
    suite = load_suite(Path(__file__).parents[1] / "suites" / "unet-3d.yaml", load_registry())
    assert {s.name for s in suite.segmenters} == {"unet", "vnet", "u2net"}
