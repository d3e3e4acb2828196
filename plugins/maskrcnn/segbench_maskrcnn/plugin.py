"""segbench entry point (group ``segbench``, name ``maskrcnn``): registers the segmenter ``maskrcnn``."""

from segbench import kit

from .segmenter import MaskRCNNSegmenter

plugin = kit.plugin(MaskRCNNSegmenter)
