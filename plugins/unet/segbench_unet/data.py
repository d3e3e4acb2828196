"""Training data: normalised images, targets, random augmented patches.

Images are normalised per image with ``segbench.normalize(image, 1, 99.8)``
(the same at prediction time). A patch is taken at a random position (a
random shift), then flipped along each axis with probability 1/2 and rotated
by a random multiple of 90 degrees in the YX plane (when the patch is
square in YX). For networks with valid convolutions the image is
mirror-padded by the network's margin first, so the target patch covers
image pixels up to the border while the input patch carries the context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

import segbench

from .targets import make_target


@dataclass
class Example:
    """One training image: ``image`` ``(1, *padded_shape)`` float32 (mirror-padded
    by the network's margin), ``target`` the unpadded target (class indices, or
    ``(2, *shape)`` foreground and distance)."""

    image: np.ndarray
    target: np.ndarray


def prepare(image: np.ndarray, labels: np.ndarray, target: str, margin: Sequence[int], min_shape: Sequence[int], boundary_width: int) -> Example:
    """Normalise ``image``, make its target, pad both so that every axis holds
    at least ``min_shape`` output pixels, and pad the image by ``margin``."""
    x = segbench.normalize(image, 1, 99.8)
    y = make_target(labels, target, boundary_width)
    grow = [max(0, m - s) for m, s in zip(min_shape, x.shape)]
    if any(grow):
        x = np.pad(x, [(0, g) for g in grow], mode="symmetric")
        y = np.pad(y, [(0, 0)] * (y.ndim - len(grow)) + [(0, g) for g in grow], mode="symmetric")
    x = np.pad(x, [(int(m), int(m)) for m in margin], mode="symmetric")
    return Example(image=x[None].astype(np.float32), target=y)


def sample_patch(
    example: Example, out_shape: Sequence[int], margin: Sequence[int], rng: np.random.Generator, augment: bool
) -> tuple[np.ndarray, np.ndarray]:
    """A random patch: input ``(1, *(out_shape + 2 margin))``, target over ``out_shape``."""
    spatial = example.target.shape[-len(out_shape):]
    origin = [int(rng.integers(0, s - o + 1)) for s, o in zip(spatial, out_shape)]
    x = example.image[(slice(None),) + tuple(slice(o, o + n + 2 * m) for o, n, m in zip(origin, out_shape, margin))]
    lead = (slice(None),) * (example.target.ndim - len(out_shape))
    y = example.target[lead + tuple(slice(o, o + n) for o, n in zip(origin, out_shape))]
    if augment:
        x, y = _augment(x, y, len(out_shape), rng)
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


def _augment(x: np.ndarray, y: np.ndarray, dims: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    for axis in range(1, dims + 1):
        if rng.random() < 0.5:
            x = np.flip(x, axis=-axis)
            y = np.flip(y, axis=-axis)
    if x.shape[-1] == x.shape[-2] and y.shape[-1] == y.shape[-2]:
        k = int(rng.integers(0, 4))
        x = np.rot90(x, k, axes=(-2, -1))
        y = np.rot90(y, k, axes=(-2, -1))
    return x, y


def fixed_patches(example: Example, out_shape: Sequence[int], margin: Sequence[int], limit: int = 4) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to ``limit`` non-overlapping patches on a regular grid (validation)."""
    spatial = example.target.shape[-len(out_shape):]
    starts = [list(range(0, s - o + 1, o)) for s, o in zip(spatial, out_shape)]
    out = []
    for origin in np.array(np.meshgrid(*starts, indexing="ij")).reshape(len(out_shape), -1).T[:limit]:
        x = example.image[(slice(None),) + tuple(slice(o, o + n + 2 * m) for o, n, m in zip(origin, out_shape, margin))]
        lead = (slice(None),) * (example.target.ndim - len(out_shape))
        y = example.target[lead + tuple(slice(o, o + n) for o, n in zip(origin, out_shape))]
        out.append((np.ascontiguousarray(x), np.ascontiguousarray(y)))
    return out
