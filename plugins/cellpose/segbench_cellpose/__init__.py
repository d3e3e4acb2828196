"""segbench-cellpose: the Cellpose segmenter plugin for segbench.

``CellposeSegmenter`` (suite name ``cellpose``) drives the installed cellpose
package: its network for flows (``predict_raw``), its dynamics for masks
(``postprocess``, so threshold sweeps reuse one network pass), and its
``train_seg`` for training on a suite's train split (``fit``).
"""

from importlib.metadata import PackageNotFoundError, version as _version

from .segmenter import CellposeSegmenter

try:
    __version__ = _version("segbench-cellpose")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["CellposeSegmenter", "__version__"]
