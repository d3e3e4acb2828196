"""StarDist against segbench's plugin contract (``segbench.testing.check_segmenter``):
a 2D model trained from scratch, restored by ``load`` in a new instance (tuned
thresholds included), and a threshold sweep over one network pass per image."""

from __future__ import annotations

from segbench.testing import check_segmenter
from segbench_stardist import StarDistSegmenter


def test_segmenter_contract(tmp_path, tiny_2d_settings):
    # 300 steps on check_segmenter's 64 x 64 discs: past the all-background phase (the
    # tuned thresholds find the discs), so load is checked on real objects; seconds on a CPU
    fit = {**tiny_2d_settings, "epochs": 30, "steps_per_epoch": 10}
    check_segmenter(
        StarDistSegmenter, workdir=tmp_path, fit=fit,
        sweep={"prob_thresh": [0.3, 0.5, 0.7], "nms_thresh": [0.3, 0.5]},
    )
