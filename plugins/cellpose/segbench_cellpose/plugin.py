"""segbench entry point (group ``segbench``, name ``cellpose``): registers the segmenter."""

import segbench

from .segmenter import CellposeSegmenter


@segbench.hookimpl
def segbench_register_segmenters():
    return [CellposeSegmenter]
