"""segbench entry point (group ``segbench``, name ``stardist``): registers the segmenter ``stardist``."""

from segbench import kit

from .segmenter import StarDistSegmenter

plugin = kit.plugin(StarDistSegmenter)
