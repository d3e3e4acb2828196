"""Each loss on hand-made tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from segbench_unet import losses

# a 1 x 3 x 1 x 4 batch: pixels of class 0, 1, 2, 0
TARGET = torch.tensor([[[[1.0, 0, 0, 1]], [[0, 1, 0, 0]], [[0, 0, 1, 0]]]])
ONES = torch.ones(3)


def _confident(scale: float) -> torch.Tensor:
    """Logits that put ``scale`` on the right class of every pixel."""
    return TARGET * scale


def test_cross_entropy_uninformed_and_perfect():
    uniform = torch.zeros_like(TARGET)
    assert losses.cross_entropy(uniform, TARGET, "softmax", ONES).item() == pytest.approx(math.log(3))
    assert losses.cross_entropy(uniform, TARGET, "sigmoid", ONES).item() == pytest.approx(math.log(2))
    assert losses.cross_entropy(_confident(50.0), TARGET, "softmax", ONES).item() < 1e-12


def test_cross_entropy_class_weights_reweight_pixels():
    # right on background pixels (loss 0), uniform elsewhere (loss ln 3): weights shift the mean
    logits = torch.zeros_like(TARGET)
    logits[:, 0, :, [0, 3]] = 100.0
    plain = losses.cross_entropy(logits, TARGET, "softmax", ONES).item()
    assert plain == pytest.approx(2 * math.log(3) / 4)
    weighted = losses.cross_entropy(logits, TARGET, "softmax", torch.tensor([1.0, 3.0, 3.0])).item()
    assert weighted == pytest.approx(6 * math.log(3) / 8)  # (3 + 3) ln 3 over total weight 1 + 3 + 3 + 1


def test_dice_per_channel_with_weights():
    probs = TARGET.clone()
    assert losses.dice(probs, TARGET, ONES).item() == pytest.approx(0.0)
    probs = TARGET.clone()
    probs[0, :, 0, 2] = torch.tensor([1.0, 0.0, 0.0])  # the boundary pixel called background
    # channel 0: 1 - (2*2 + 1)/(3 + 2 + 1) = 1/6; channel 1: 0; channel 2: 1 - 1/(0 + 1 + 1) = 1/2
    assert losses.dice(probs, TARGET, ONES).item() == pytest.approx((1 / 6 + 0 + 1 / 2) / 3)
    weights = torch.tensor([1.0, 1.0, 2.0])
    assert losses.dice(probs, TARGET, weights).item() == pytest.approx((1 / 6 + 2 * 1 / 2) / 4)


def test_ce_dice_terms_start_at_the_same_magnitude():
    uniform = torch.zeros_like(TARGET)
    for head in losses.HEADS:
        assert losses.ce_dice(uniform, TARGET, head, ONES).item() == pytest.approx(1.0)
    assert losses.ce_dice(_confident(50.0), TARGET, "softmax", ONES).item() < 0.01


def test_focal_reduces_to_cross_entropy_without_focusing():
    logits = torch.randn(1, 3, 1, 4, generator=torch.Generator().manual_seed(0))
    ce = losses.cross_entropy(logits, TARGET, "softmax", ONES)
    assert losses.focal(logits, TARGET, "softmax", ONES, gamma=0.0).item() == pytest.approx(ce.item())
    # focusing down-weights the easy pixels: smaller than cross-entropy
    assert losses.focal(logits, TARGET, "softmax", ONES, gamma=2.0).item() < ce.item()


@pytest.mark.parametrize("head", losses.HEADS)
def test_focal_stays_finite_on_saturated_predictions(head):
    # confidently wrong (logits of +-1e4): log p would be -1e4 or -inf unclamped
    logits = (-_confident(1e4) + (1 - TARGET) * 1e4).requires_grad_(True)
    value = losses.focal(logits, TARGET, head, ONES)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
    assert value.item() == pytest.approx(-math.log(losses.EPS), rel=1e-3)  # the clamp, times (1 - 0)^2
    right = (TARGET * 2e4 - 1e4).requires_grad_(True)  # +1e4 on the right class, -1e4 elsewhere
    value = losses.focal(right, TARGET, head, ONES)
    value.backward()
    assert value.item() == pytest.approx(0.0, abs=1e-6) and torch.isfinite(right.grad).all()


def test_every_named_loss_is_differentiable_and_rejects_unknown_names():
    logits = torch.randn(2, 3, 8, 8, requires_grad=True)
    target = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 8, 8)), 3).movedim(-1, 1).float()
    for name in losses.LOSSES:
        for head in losses.HEADS:
            value = losses.segmentation_loss(name, head, [1.0, 2.0, 3.0])(logits, target)
            (grad,) = torch.autograd.grad(value, logits)
            assert torch.isfinite(value) and torch.isfinite(grad).all()
    with pytest.raises(ValueError, match="loss: 'bce' is not one of"):
        losses.segmentation_loss("bce", "softmax", [1.0] * 3)


def test_distance_loss_is_one_for_the_uninformed_prediction():
    target = torch.tensor([0.0, 0.2, 0.9, 1.0])
    assert losses.distance_loss(torch.full_like(target, 0.5), target).item() == pytest.approx(1.0)
    assert losses.distance_loss(target, target).item() == 0.0


def test_balanced_class_weights_are_inverse_frequencies_with_mean_pixel_weight_one():
    from segbench_unet.training import balanced_weights

    target = np.array([[0, 0, 0, 0, 0, 0, 1, 1, 2, 2]], np.uint8)  # frequencies 0.6, 0.2, 0.2
    weights = balanced_weights([target], "classes")
    assert weights == pytest.approx([1 / 1.8, 1 / 0.6, 1 / 0.6])
    assert np.mean([weights[k] for k in target.ravel()]) == pytest.approx(1.0)
