"""segbench: benchmark instance segmentation of fluorescent cells.

The plugin-facing API lives here: :class:`Segmenter`, :class:`Generator`,
:class:`Dataset`, :class:`Sample`, :class:`Metric`, :class:`DatasetSource`,
:data:`hookimpl`, and :func:`normalize`.
"""

from importlib.metadata import PackageNotFoundError, version as _version

from .api import Dataset, DatasetSource, Generator, Metric, Sample, Segmenter, normalize
from .plugins import hookimpl

try:
    __version__ = _version("segbench")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = [
    "Dataset",
    "DatasetSource",
    "Generator",
    "Metric",
    "Sample",
    "Segmenter",
    "hookimpl",
    "normalize",
    "__version__",
]
