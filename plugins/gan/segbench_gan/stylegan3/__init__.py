"""StyleGAN3 cell-mask generator: networks, training, sampling and safe loading.

Written from the papers (Karras et al. 2021, "Alias-Free Generative Adversarial
Networks"; Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"
and "Training Generative Adversarial Networks with Limited Data") in plain PyTorch; no
custom CUDA kernels, so it runs on the CPU and uses CUDA when available.

Public API:

- :func:`train_masks` trains on the masks of a segbench dataset folder;
- :func:`load_mask_generator` loads a trained generator (or an official
  ``network-snapshot-*.pkl``, through a restricted unpickler) as a
  :class:`MaskGenerator`, whose ``sample(n, seed)`` returns instance label images;
- :func:`masks_to_labels` turns a generated mask into instance labels;
- :func:`export_mask_generator` writes the small sampling-only file of a snapshot.
"""

from .checkpoint import export_mask_generator
from .config import StyleGAN3Config
from .labels import masks_to_labels
from .sample import MaskGenerator, load_mask_generator
from .train import TrainingResult, TrainingStatus, train_masks

__all__ = [
    "MaskGenerator",
    "StyleGAN3Config",
    "TrainingResult",
    "TrainingStatus",
    "export_mask_generator",
    "load_mask_generator",
    "masks_to_labels",
    "train_masks",
]
