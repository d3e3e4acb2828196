"""segbench-stardist: StarDist (2D and 3D) as a segbench segmenter named ``stardist``.

Importing this package does not import TensorFlow; that happens when a model is
first loaded or trained.
"""

from importlib.metadata import PackageNotFoundError, version as _version

from .segmenter import StarDistSegmenter

try:
    __version__ = _version("segbench-stardist")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["StarDistSegmenter", "__version__"]
