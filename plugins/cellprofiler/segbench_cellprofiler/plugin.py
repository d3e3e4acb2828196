"""segbench entry point (group ``segbench``, name ``cellprofiler``): registers the segmenter."""

import segbench

from .segmenter import CellProfilerSegmenter


@segbench.hookimpl
def segbench_register_segmenters():
    return [CellProfilerSegmenter]
