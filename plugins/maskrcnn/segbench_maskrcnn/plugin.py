"""segbench entry point (group ``segbench``, name ``maskrcnn``): registers the segmenter."""

import segbench

from .segmenter import MaskRCNNSegmenter


@segbench.hookimpl
def segbench_register_segmenters():
    return [MaskRCNNSegmenter]
