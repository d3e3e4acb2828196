"""Cellpose against segbench's plugin contract (``segbench.testing.check_segmenter``):
trained from scratch, restored by ``load`` in a new instance, and a threshold
sweep over one network pass per image."""

from __future__ import annotations

import pytest

import segbench
from segbench.testing import check_segmenter
from segbench_cellpose import CellposeSegmenter

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def test_segmenter_contract(tmp_path, make_samples, tiny_training):
    check_segmenter(
        CellposeSegmenter, {"bsize": 80}, workdir=tmp_path, fit=tiny_training,
        dataset=segbench.Dataset("blobs", make_samples(3, seed=0)),
        sweep={"cellprob_threshold": [-1.0, 0.0, 1.0], "flow_threshold": [0.4, 0.8]},
    )
