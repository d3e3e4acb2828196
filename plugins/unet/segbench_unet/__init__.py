"""segbench-unet: U-Net (original and padded), V-Net and U2-Net as segbench segmenters.

Networks are written from the papers in plain PyTorch, for 2D and 3D images:
:mod:`.unet`, :mod:`.vnet`, :mod:`.u2net`. Shared: :mod:`.layers` (building
blocks, anisotropic pooling), :mod:`.targets` and :mod:`.losses` (training
targets and losses), :mod:`.data` and :mod:`.training` (patches, augmentation,
the training loop), :mod:`.tiling` (whole-image and overlap-tile inference),
:mod:`.instances` (watershed post-processing), :mod:`.checkpoint` (weights
files) and :mod:`.segmenter` (the segbench classes).
"""

from segbench.kit import plugin_version

__version__ = plugin_version("segbench-unet")
