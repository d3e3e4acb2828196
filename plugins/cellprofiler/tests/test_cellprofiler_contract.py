"""CellProfiler against segbench's plugin contract (``segbench.testing.check_segmenter``):
the shipped pipeline, untrained (CellProfiler pipelines are not trained; no
post-processing parameters, so no sweep). Skips without a CellProfiler environment."""

from __future__ import annotations

from segbench.testing import check_segmenter
from segbench_cellprofiler import CellProfilerSegmenter


def test_segmenter_contract(cellprofiler_python, tmp_path):
    check_segmenter(CellProfilerSegmenter, workdir=tmp_path)
