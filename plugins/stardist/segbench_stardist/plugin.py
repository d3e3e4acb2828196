"""segbench entry point (group ``segbench``, name ``stardist``)."""

import segbench

from .segmenter import StarDistSegmenter


@segbench.hookimpl
def segbench_register_segmenters():
    return [StarDistSegmenter]
