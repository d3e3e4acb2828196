"""Augmentations applied to every image the discriminator sees.

:class:`AdaptiveAugment` follows ADA (Karras et al. 2020, "Training Generative
Adversarial Networks with Limited Data"): each op is applied to each image with
probability ``p``, the same pipeline runs on real and generated images (so it cannot
leak into the generator as long as ``p`` stays below ~0.8), and ``p`` is tuned from the
overfitting heuristic ``r_t = E[sign(D(real))]``: raised when ``r_t`` exceeds the target,
lowered otherwise. The ops are those that keep a binary mask binary and are
differentiable through plain indexing: x-flip, rotation by multiples of 90 degrees, and
integer translation with reflected borders.

:func:`random_dihedral` is the dataset-side x-flip/rotation ("mirror") applied to real
images only, valid because rotated or mirrored cell masks are just as real.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .ops import upfirdn2d

__all__ = ["AdaptiveAugment", "random_dihedral", "soften"]


def _uniform(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator)


def _select(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample ``a if mask else b`` for ``(N, C, H, W)`` tensors."""
    return torch.where(mask.to(a.device).reshape(-1, 1, 1, 1), a, b)


def _rotate90(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Rotate sample ``i`` by ``k[i] * 90`` degrees (square images)."""
    out = x
    for quarter in (1, 2, 3):
        out = _select(k == quarter, torch.rot90(x, quarter, dims=(2, 3)), out)
    return out


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Mirror out-of-range indices back into ``[0, size)`` (no edge repeat, |shift| < size)."""
    index = index.abs()
    return torch.where(index >= size, 2 * (size - 1) - index, index)


def _translate(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Shift sample ``i`` by ``shift[i] = (dy, dx)`` pixels, reflecting at the borders."""
    n, _, h, w = x.shape
    shift = shift.to(x.device)
    rows = _reflect(torch.arange(h, device=x.device)[None, :] - shift[:, 0:1], h)  # (N, H)
    cols = _reflect(torch.arange(w, device=x.device)[None, :] - shift[:, 1:2], w)  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return x.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def random_dihedral(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Apply one of the 8 flips/rotations of the square, uniformly at random, per sample.

    Parameters
    ----------
    x : Tensor
        ``(N, C, H, H)``.
    generator : torch.Generator
        CPU generator for the random choices.
    """
    n = x.shape[0]
    flip = _uniform(n, generator) < 0.5
    k = torch.randint(0, 4, (n,), generator=generator)
    return _rotate90(_select(flip, x.flip(3), x), k)


def soften(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of standard deviation ``sigma`` pixels (replicated borders).

    Real masks are binary with step edges, which a band-limited generator cannot draw;
    softening them gives the discriminator no such giveaway, and a straight edge still
    crosses 0 where the binary edge was, so thresholding at 0 recovers the mask.

    Parameters
    ----------
    x : Tensor
        ``(N, C, H, W)``.
    sigma : float
        Standard deviation in pixels; 0 returns ``x``.
    """
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    taps = torch.exp(-0.5 * (t / sigma) ** 2)
    return upfirdn2d(F.pad(x, [radius] * 4, mode="replicate"), taps / taps.sum())


class AdaptiveAugment:
    """ADA-style augmentation with adaptive probability.

    Parameters
    ----------
    p : float
        Initial probability of each op, in ``[0, 1]``.
    target : float
        Target of ``r_t = E[sign(D(real))]`` (ADA: 0.6).
    speed_kimg : float
        ``p`` can move from 0 to 1 in this many thousand real images.
    adjust : bool
        Tune ``p`` (False: fixed ``p``).
    max_translation : float
        Largest shift as a fraction of the image size (ADA: 0.125).

    Examples
    --------
    >>> import torch
    >>> aug = AdaptiveAugment(p=0.0)
    >>> x = torch.randn(4, 1, 8, 8)
    >>> bool(torch.equal(aug(x, torch.Generator().manual_seed(0)), x))
    True
    """

    def __init__(
        self,
        p: float = 0.0,
        target: float = 0.6,
        speed_kimg: float = 100.0,
        adjust: bool = True,
        max_translation: float = 0.125,
    ):
        if not 0 <= p <= 1:
            raise ValueError(f"p must lie in [0, 1], got {p}")
        if speed_kimg <= 0:
            raise ValueError(f"speed_kimg must be > 0, got {speed_kimg}")
        self.p = float(p)
        self.target = target
        self.speed_kimg = speed_kimg
        self.adjust = adjust
        self.max_translation = max_translation
        self.sign_sum = 0.0
        self.sign_count = 0

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augment a batch ``(N, C, H, H)``; differentiable with respect to ``x``.

        The same number of random draws is made whatever ``p`` is, so the random
        stream (and hence a resumed run) does not depend on ``p``'s history.
        """
        n, _, h, _ = x.shape
        apply_flip = _uniform(n, generator) < self.p
        flip = _uniform(n, generator) < 0.5
        apply_rot = _uniform(n, generator) < self.p
        k = torch.randint(0, 4, (n,), generator=generator)
        apply_shift = _uniform(n, generator) < self.p
        limit = self.max_translation * h
        shift = torch.round((torch.rand(n, 2, generator=generator) * 2 - 1) * limit).long()
        if self.p == 0:
            return x
        x = _select(apply_flip & flip, x.flip(3), x)
        x = _rotate90(x, torch.where(apply_rot, k, torch.zeros_like(k)))
        return _translate(x, shift * apply_shift[:, None])

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Record the signs of the discriminator's outputs on (augmented) real images."""
        self.sign_sum += float(torch.sign(real_logits.detach()).sum())
        self.sign_count += int(real_logits.numel())

    def update(self, num_images: int) -> None:
        """Move ``p`` by ``sign(r_t - target) * num_images / (speed_kimg * 1000)``, clipped
        to ``[0, 1]``, using
        the signs accumulated since the last update, then reset the accumulator.

        Parameters
        ----------
        num_images : int
            Real images shown since the last update.
        """
        if not self.adjust or self.sign_count == 0:
            return
        r_t = self.sign_sum / self.sign_count
        step = num_images / (self.speed_kimg * 1000)
        direction = (r_t > self.target) - (r_t < self.target)
        self.p = float(min(max(self.p + direction * step, 0.0), 1.0))
        self.sign_sum, self.sign_count = 0.0, 0

    def state_dict(self) -> dict:
        """``p`` and the pending accumulator (plain numbers)."""
        return {"p": self.p, "sign_sum": self.sign_sum, "sign_count": self.sign_count}

    def load_state_dict(self, state: dict) -> None:
        self.p = float(state["p"])
        self.sign_sum = float(state["sign_sum"])
        self.sign_count = int(state["sign_count"])
