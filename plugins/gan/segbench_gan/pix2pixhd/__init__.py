"""pix2pixHD (Wang et al., CVPR 2018) for rendering cell masks as fluorescence images.

- :mod:`.networks`: global generator, local enhancer, feature encoder, multiscale discriminators.
- :mod:`.inputs`: label and instance-edge channels, intensity scaling.
- :mod:`.losses`, :mod:`.vgg`: LSGAN, feature matching, optional VGG19 perceptual loss.
- :mod:`.features`: k-means appearance clusters of instance features.
- :mod:`.checkpoint`: checkpoint folders, weights-only loading, official ``latest_net_G.pth`` files.
- :mod:`.train`: the training loop (:mod:`.options`: its options); :mod:`.render`: sampling.

The names below are imported from their modules on first use, so importing
the package (or :mod:`.options`) does not import torch.
"""

from __future__ import annotations

import importlib

#: public name -> the submodule defining it
_MODULES = {
    "CheckpointInfo": "checkpoint",
    "Encoder": "networks",
    "FeatureClusters": "features",
    "GlobalGenerator": "networks",
    "ImageRenderer": "render",
    "LocalEnhancer": "networks",
    "MultiscaleDiscriminator": "networks",
    "NLayerDiscriminator": "networks",
    "Pix2PixHDConfig": "config",
    "TrainOptions": "options",
    "build_discriminator": "networks",
    "build_encoder": "networks",
    "build_generator": "networks",
    "config_from_state_dict": "checkpoint",
    "instance_edges": "inputs",
    "kmeans": "features",
    "label_input": "inputs",
    "load_into": "checkpoint",
    "load_weights_file": "checkpoint",
    "read_info": "checkpoint",
    "train_images": "train",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str):
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_MODULES[name]}", __name__), name)
