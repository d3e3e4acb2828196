"""segbench segmenter plugin: CellProfiler pipelines, run by CellProfiler in its own environment."""

from .segmenter import SHIPPED_PIPELINE, CellProfilerSegmenter

__all__ = ["CellProfilerSegmenter", "SHIPPED_PIPELINE"]
