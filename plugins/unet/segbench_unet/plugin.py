"""segbench entry point (group ``segbench``, name ``unet``): registers ``unet``, ``vnet`` and ``u2net``."""

import segbench

from .segmenter import U2NetSegmenter, UNetSegmenter, VNetSegmenter


@segbench.hookimpl
def segbench_register_segmenters():
    return [UNetSegmenter, VNetSegmenter, U2NetSegmenter]
