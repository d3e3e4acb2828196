"""segbench-gan: a two-stage generator of fluorescent cell images with exact ground truth.

StyleGAN3 (trained on binary cell masks) invents mask layouts; pix2pixHD (trained on
(mask, image) pairs) renders each mask as a fluorescence image; diffraction-limited
spots from 2D Gaussian point clouds can be composited on top. Registered with segbench
as the generator ``gan`` and the ``segbench gan`` subcommands.
"""

from segbench.kit import plugin_version

__version__ = plugin_version("segbench-gan")

__all__ = ["__version__"]
