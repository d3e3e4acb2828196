"""Reading and writing images, label images and dataset folders.

- :mod:`~segbench.io.images`: single files (TIFF, PNG), axes, voxel size.
- :mod:`~segbench.io.layouts`: the dataset folder layouts (segbench/StarDist
  ``images/`` + ``masks/``, Cellpose ``NAME_masks``) and pairing by name.
- :mod:`~segbench.io.public_layouts`: BBBC038 (DSB 2018) and Cell Tracking
  Challenge folders as downloaded; per-object masks merged; the
  ``fluorescence_only`` filter.
- :mod:`~segbench.io.datasets`: lazy and eager dataset reading, writing.
- :mod:`~segbench.io.hashing`: content hashes for cache keys.
- :mod:`~segbench.io.label_check`: masks that are not label images (intensity
  images, binary masks), one warning per dataset.
- :func:`atomic_path`, :func:`atomic_write_text`: write any file atomically
  (temporary file + rename); every file segbench writes goes through them.
- :func:`plain`, :func:`strict_json`: JSON-ready copies of computed results.

Every bad input raises or returns a :class:`segbench.errors.InputError`, whose
message is one line: the file, what is wrong, and how to fix it. The layouts,
dtypes and messages are described in ``docs/data.md``.
"""

from ._atomic import atomic_path, atomic_write_text
from .datasets import (
    META_FILE,
    open_dataset,
    read_dataset,
    read_dataset_meta,
    read_sample,
    write_dataset,
)
from .hashing import content_hash
from .images import (
    SUPPORTED_SUFFIXES,
    read_image,
    read_labels,
    read_spacing,
    write_image,
    write_labels,
)
from .jsonable import plain, strict_json
from .label_check import MaskCheck, label_image_doubt
from .layouts import FilePair, find_label_files, find_pairs

__all__ = [
    "FilePair",
    "MaskCheck",
    "META_FILE",
    "SUPPORTED_SUFFIXES",
    "atomic_path",
    "atomic_write_text",
    "content_hash",
    "find_label_files",
    "find_pairs",
    "label_image_doubt",
    "open_dataset",
    "plain",
    "read_dataset",
    "read_dataset_meta",
    "read_image",
    "read_labels",
    "read_sample",
    "read_spacing",
    "strict_json",
    "write_dataset",
    "write_image",
    "write_labels",
]
