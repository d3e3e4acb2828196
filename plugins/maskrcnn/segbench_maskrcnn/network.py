"""Building torchvision's Mask R-CNN for nuclei: backbone choice, anchors, sample
counts, and a transform that keeps images at their own pixel size.

Everything here is torchvision's own code (``MaskRCNN``, ``resnet_fpn_backbone``'s
extractor, ``mobilenet_backbone``'s extractor, ``maskrcnn_resnet50_fpn``); this
module only chooses its arguments.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .ops import import_torchvision

torchvision = import_torchvision()

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torchvision.models import mobilenet_v3_large, resnet  # noqa: E402
from torchvision.models.detection._utils import overwrite_eps  # noqa: E402
from torchvision.models.detection import MaskRCNN, maskrcnn_resnet50_fpn  # noqa: E402
from torchvision.models.detection.anchor_utils import AnchorGenerator  # noqa: E402
from torchvision.models.detection.backbone_utils import (  # noqa: E402
    _mobilenet_extractor,
    _resnet_fpn_extractor,
)
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor  # noqa: E402
from torchvision.models.detection.mask_rcnn import MaskRCNNPredictor  # noqa: E402
from torchvision.models.detection.transform import GeneralizedRCNNTransform  # noqa: E402
from torchvision.ops import misc as misc_nn_ops  # noqa: E402

#: Backbones and the strides (pixels) of the feature maps their FPN returns.
BACKBONES: dict[str, tuple[int, ...]] = {
    "resnet50": (4, 8, 16, 32, 64),
    "resnet34": (4, 8, 16, 32, 64),
    "resnet18": (4, 8, 16, 32, 64),
    "mobilenet_v3": (8, 16, 32, 64),
}
#: ImageNet statistics, torchvision's default input normalisation (images arrive in ~[0, 1]).
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Architecture:
    """Everything that fixes the network's shape and its detection settings.

    Attributes
    ----------
    backbone : str
        A key of :data:`BACKBONES`.
    anchor_sizes : tuple of float
        Anchor side per feature map, pixels (three aspect ratios each: 0.5, 1, 2).
    num_classes : int
        Including background: 2 for nuclei, 91 for torchvision's COCO weights.
    frozen_norm : bool
        Frozen batch norm with all but the last three backbone stages frozen
        (torchvision's fine-tuning recipe for pretrained weights); otherwise
        trainable batch norm throughout (training from scratch).
    rpn_pre_nms_top_n, rpn_post_nms_top_n : int
        Proposals per image before and after the RPN's NMS (train and test alike).
    box_batch_size_per_image : int
        Proposals sampled per training image for the box and mask heads.
    candidate_score_threshold, candidate_nms_threshold : float
        Detections scoring below, or overlapping a better one of their class
        above this box IoU, are not returned by the network at all.
    max_detections : int
        Most detections returned per network input.
    """

    backbone: str = "resnet18"
    anchor_sizes: tuple[float, ...] = field(default_factory=tuple)
    num_classes: int = 2
    frozen_norm: bool = False
    rpn_pre_nms_top_n: int = 600
    rpn_post_nms_top_n: int = 300
    box_batch_size_per_image: int = 128
    candidate_score_threshold: float = 0.05
    candidate_nms_threshold: float = 0.7
    max_detections: int = 200

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["anchor_sizes"] = list(self.anchor_sizes)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Architecture":
        return cls(**{**data, "anchor_sizes": tuple(float(a) for a in data["anchor_sizes"])})


def default_anchor_sizes(backbone: str) -> tuple[float, ...]:
    """Twice each feature map's stride: 8..128 px for the ResNets, 16..128 for MobileNet."""
    return tuple(2.0 * s for s in BACKBONES[backbone])


class NativeSizeTransform(GeneralizedRCNNTransform):
    """torchvision's detection transform without the resize: objects keep their pixel
    size whatever the input's size (inputs are still normalised and batched)."""

    def resize(self, image, target=None):
        return image, target


def _detection_kwargs(arch: Architecture) -> dict[str, Any]:
    sizes = tuple((float(a),) for a in arch.anchor_sizes)
    return {
        "rpn_anchor_generator": AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes)),
        "rpn_pre_nms_top_n_train": arch.rpn_pre_nms_top_n,
        "rpn_pre_nms_top_n_test": arch.rpn_pre_nms_top_n,
        "rpn_post_nms_top_n_train": arch.rpn_post_nms_top_n,
        "rpn_post_nms_top_n_test": arch.rpn_post_nms_top_n,
        "box_batch_size_per_image": arch.box_batch_size_per_image,
        "box_score_thresh": arch.candidate_score_threshold,
        "box_nms_thresh": arch.candidate_nms_threshold,
        "box_detections_per_img": arch.max_detections,
    }


def _backbone(arch: Architecture) -> nn.Module:
    norm = misc_nn_ops.FrozenBatchNorm2d if arch.frozen_norm else nn.BatchNorm2d
    trainable = 3 if arch.frozen_norm else None
    if arch.backbone.startswith("resnet"):
        net = getattr(resnet, arch.backbone)(weights=None, norm_layer=norm)
        return _resnet_fpn_extractor(net, 5 if trainable is None else trainable)
    net = mobilenet_v3_large(weights=None, norm_layer=norm)
    # strides 8, 16 and 32 (torchvision's own MobileNet FPN starts at 16, too coarse for nuclei)
    n_stages = 6
    return _mobilenet_extractor(
        net, True, n_stages if trainable is None else trainable, returned_layers=[3, 4, 5]
    )


def build(arch: Architecture) -> MaskRCNN:
    """A Mask R-CNN with random weights for ``arch`` (torchvision's initialisation).

    Returns
    -------
    torchvision.models.detection.MaskRCNN
        In training mode. Inputs: lists of ``(3, H, W)`` float tensors in ~[0, 1].
    """
    if arch.backbone not in BACKBONES:
        raise ValueError(f"backbone: unknown {arch.backbone!r}; choose one of {', '.join(BACKBONES)}")
    if len(arch.anchor_sizes) != len(BACKBONES[arch.backbone]):
        raise ValueError(
            f"anchor_sizes: {arch.backbone} has {len(BACKBONES[arch.backbone])} feature maps "
            f"(strides {list(BACKBONES[arch.backbone])} px), got {len(arch.anchor_sizes)} sizes"
        )
    kwargs = _detection_kwargs(arch)
    if arch.backbone == "resnet50" and not arch.frozen_norm:
        # the published architecture, exactly as torchvision builds it
        model = maskrcnn_resnet50_fpn(
            weights=None, weights_backbone=None, num_classes=arch.num_classes, **kwargs
        )
    else:
        model = MaskRCNN(_backbone(arch), num_classes=arch.num_classes, **kwargs)
    if arch.frozen_norm:
        overwrite_eps(model, 0.0)  # as torchvision does for its COCO weights
    model.transform = NativeSizeTransform(1, 1, IMAGE_MEAN, IMAGE_STD)
    return model


def replace_heads(model: MaskRCNN, num_classes: int) -> None:
    """New box and mask predictors for ``num_classes`` (fine-tuning COCO weights on nuclei)."""
    box_in = model.roi_heads.box_predictor.cls_score.in_features
    model.roi_heads.box_predictor = FastRCNNPredictor(box_in, num_classes)
    mask_in = model.roi_heads.mask_predictor.conv5_mask.in_channels
    model.roi_heads.mask_predictor = MaskRCNNPredictor(mask_in, 256, num_classes)


def infer_from_state_dict(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Number of classes and norm kind a state dict was saved with.

    Returns
    -------
    dict
        ``num_classes`` (int) and ``frozen_norm`` (bool: no ``num_batches_tracked``).
    """
    key = "roi_heads.box_predictor.cls_score.weight"
    if key not in state:
        raise ValueError(f"not a torchvision Mask R-CNN state dict (no {key})")
    return {
        "num_classes": int(state[key].shape[0]),
        "frozen_norm": not any(k.endswith("num_batches_tracked") for k in state),
    }
