"""segbench entry point (group ``segbench``, name ``unet``): registers ``unet``, ``vnet`` and ``u2net``."""

from segbench import kit

from .segmenter import UNetSegmenter, U2NetSegmenter, VNetSegmenter

plugin = kit.plugin(UNetSegmenter, VNetSegmenter, U2NetSegmenter)
