"""segbench entry point (group ``segbench``, name ``cellprofiler``): registers the segmenter ``cellprofiler``."""

from segbench import kit

from .segmenter import CellProfilerSegmenter

plugin = kit.plugin(CellProfilerSegmenter)
