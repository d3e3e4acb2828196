"""segbench-gan: a two-stage generator of fluorescent cell images with exact ground truth.

StyleGAN3 (trained on binary cell masks) invents mask layouts; pix2pixHD (trained on
(mask, image) pairs) renders each mask as a fluorescence image; diffraction-limited
spots from 2D Gaussian point clouds can be composited on top. Registered with segbench
as the generator ``gan`` and the ``segbench gan`` subcommands.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("segbench-gan")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
