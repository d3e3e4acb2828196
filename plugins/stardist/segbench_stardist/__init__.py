"""segbench-stardist: StarDist (2D and 3D) as a segbench segmenter named ``stardist``.

Importing this package does not import TensorFlow; that happens when a model is
first loaded or trained.
"""

from segbench.kit import plugin_version

from .segmenter import StarDistSegmenter

__version__ = plugin_version("segbench-stardist")

__all__ = ["StarDistSegmenter", "__version__"]
