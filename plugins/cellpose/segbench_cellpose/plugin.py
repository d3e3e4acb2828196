"""segbench entry point (group ``segbench``, name ``cellpose``): registers the segmenter ``cellpose``."""

from segbench import kit

from .segmenter import CellposeSegmenter

plugin = kit.plugin(CellposeSegmenter)
