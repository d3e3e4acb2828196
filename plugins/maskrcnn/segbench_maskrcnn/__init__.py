"""segbench plugin: torchvision Mask R-CNN (``maskrcnn`` segmenter)."""

from segbench.kit import plugin_version

from .segmenter import MaskRCNNSegmenter

__version__ = plugin_version("segbench-maskrcnn")

__all__ = ["MaskRCNNSegmenter", "__version__"]
