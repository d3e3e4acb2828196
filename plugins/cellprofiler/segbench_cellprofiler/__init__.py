"""segbench segmenter plugin: CellProfiler pipelines, run by CellProfiler in its own environment."""

from segbench.kit import plugin_version

from .segmenter import SHIPPED_PIPELINE, CellProfilerSegmenter

__version__ = plugin_version("segbench-cellprofiler")

__all__ = ["CellProfilerSegmenter", "SHIPPED_PIPELINE", "__version__"]
