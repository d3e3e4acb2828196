"""segbench-cellpose: the Cellpose segmenter plugin for segbench.

``CellposeSegmenter`` (suite name ``cellpose``) drives the installed cellpose
package: its network for flows (``predict_raw``), its dynamics for masks
(``postprocess``, so threshold sweeps reuse one network pass), and its
``train_seg`` for training on a suite's train split (``fit``).
"""

from segbench.kit import plugin_version

from .segmenter import CellposeSegmenter

__version__ = plugin_version("segbench-cellpose")

__all__ = ["CellposeSegmenter", "__version__"]
