"""pix2pixHD (Wang et al., CVPR 2018) for rendering cell masks as fluorescence images.

- :mod:`.networks`: global generator, local enhancer, feature encoder, multiscale discriminators.
- :mod:`.inputs`: label and instance-edge channels, intensity scaling.
- :mod:`.losses`, :mod:`.vgg`: LSGAN, feature matching, optional VGG19 perceptual loss.
- :mod:`.features`: k-means appearance clusters of instance features.
- :mod:`.checkpoint`: checkpoint folders, weights-only loading, official ``latest_net_G.pth`` files.
- :mod:`.train`: the training loop; :mod:`.render`: sampling.
"""

from .checkpoint import CheckpointInfo, config_from_state_dict, load_into, load_weights_file, read_info
from .config import Pix2PixHDConfig
from .features import FeatureClusters, kmeans
from .inputs import instance_edges, label_input
from .networks import (
    Encoder,
    GlobalGenerator,
    LocalEnhancer,
    MultiscaleDiscriminator,
    NLayerDiscriminator,
    build_discriminator,
    build_encoder,
    build_generator,
)
from .render import ImageRenderer
from .train import TrainOptions, train_images

__all__ = [
    "CheckpointInfo",
    "Encoder",
    "FeatureClusters",
    "GlobalGenerator",
    "ImageRenderer",
    "LocalEnhancer",
    "MultiscaleDiscriminator",
    "NLayerDiscriminator",
    "Pix2PixHDConfig",
    "TrainOptions",
    "build_discriminator",
    "build_encoder",
    "build_generator",
    "config_from_state_dict",
    "instance_edges",
    "kmeans",
    "label_input",
    "load_into",
    "load_weights_file",
    "read_info",
    "train_images",
]
