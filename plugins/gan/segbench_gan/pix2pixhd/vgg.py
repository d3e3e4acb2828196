"""VGG19 feature extractor for the optional perceptual loss, built from plain
``torch.nn`` layers (no torchvision) and loaded only from a local weight file.

The layer indices are those of torchvision's ``vgg19().features``, so a
torchvision VGG19 state dict file (keys ``features.0.weight``, ...) loads as is.
Nothing is ever downloaded.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from segbench.errors import InputError

__all__ = ["VGG19Features", "VGGLoss"]

#: VGG19 convolution widths; "M" is a 2x2 max pool.
_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)
#: indices (in ``features``) of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
TAPS = (1, 6, 11, 20, 29)
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class VGG19Features(nn.Module):
    """VGG19 convolutional layers up to relu5_1 (``features[0:30]``), frozen.

    ``forward`` takes images in ``[-1, 1]`` with 1 or 3 channels (one channel is
    repeated), applies the ImageNet normalisation, and returns the activations
    at relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1.
    """

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for item in _LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, item, 3, padding=1), nn.ReLU(inplace=False)]
                cin = item
        self.features = nn.Sequential(*layers[: TAPS[-1] + 1])
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_file(cls, path: str | Path) -> "VGG19Features":
        """Load the convolution weights from a torchvision-layout VGG19 state dict file
        (``torch.load(weights_only=True)``; keys outside ``features.0-29`` are ignored)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "VGG19 weight file not found",
                             "give the path of a local torchvision vgg19 state dict (.pth); nothing is downloaded")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
            raise InputError(path, f"cannot be read as a weights-only torch file ({type(exc).__name__}: {exc})",
                             "give a torchvision vgg19 state dict saved with torch.save(model.state_dict())") from None
        net = cls()
        wanted = net.features.state_dict().keys()
        found = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        missing = [k for k in wanted if k not in found]
        if missing:
            raise InputError(path, f"is not a VGG19 state dict: missing features.{missing[0]}",
                             "give torchvision's vgg19 weights (keys features.0.weight, ...)")
        for key in wanted:
            if found[key].shape != net.features.state_dict()[key].shape:
                raise InputError(path, f"features.{key} has shape {tuple(found[key].shape)}, "
                                 f"VGG19 needs {tuple(net.features.state_dict()[key].shape)}",
                                 "give VGG19 (not VGG16 or another net) weights")
        net.features.load_state_dict({k: found[k] for k in wanted})
        return net

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = ((x + 1) / 2 - self.mean) / self.std
        taps = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in TAPS:
                taps.append(x)
        return taps


class VGGLoss(nn.Module):
    """Perceptual loss: ``sum_i w_i * L1(vgg_i(fake), vgg_i(real))`` with weights
    1/32, 1/16, 1/8, 1/4, 1 at relu1_1 ... relu5_1 (the pix2pixHD weighting)."""

    WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)

    def __init__(self, vgg: VGG19Features):
        super().__init__()
        self.vgg = vgg

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        loss = fake.new_zeros(())
        for w, a, b in zip(self.WEIGHTS, self.vgg(fake), self.vgg(real)):
            loss = loss + w * nn.functional.l1_loss(a, b.detach())
        return loss
