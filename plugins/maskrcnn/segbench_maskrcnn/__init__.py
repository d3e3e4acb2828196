"""segbench plugin: torchvision Mask R-CNN (``maskrcnn`` segmenter)."""

from .segmenter import MaskRCNNSegmenter

__all__ = ["MaskRCNNSegmenter"]
