"""Mask R-CNN against segbench's plugin contract (``segbench.testing.check_segmenter``):
trained, restored by ``load`` in a new instance, and a threshold sweep over one
network pass per image."""

from __future__ import annotations

import segbench
from segbench.testing import check_segmenter
from segbench_maskrcnn import MaskRCNNSegmenter


def test_segmenter_contract(tmp_path, samples, tiny_model, tiny_training):
    check_segmenter(
        MaskRCNNSegmenter, {**tiny_model, "device": "cpu"}, workdir=tmp_path, fit=tiny_training,
        dataset=segbench.Dataset("blobs", samples(3, seed=0)),
        sweep={"score_threshold": [0.0, 0.5], "nms_threshold": [0.3, 0.5, 0.7]},
    )
