"""Feeding images of any size to a network: whole-image passes and tiles.

- :func:`predict_whole`: mirror-pad the image up to a multiple of the
  network's total down-sampling, one pass, crop back (same-size networks).
- :func:`predict_tiled`: the overlap-tile strategy of the U-Net paper for
  networks with valid convolutions: the image is mirror-padded by the
  network's margin, cut into input tiles whose output tiles cover it, and the
  outputs are stitched. Tile origins are multiples of the total down-sampling,
  so the pooling grid is the same in every tile and the stitched result
  equals one pass over the whole padded image.

Mirror padding is ``numpy.pad(mode="symmetric")`` (the edge pixel repeated,
then the image mirrored), which works for any pad width.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable, Sequence

import numpy as np
import torch

#: a network pass: ``(1, C_in, *in_shape)`` -> ``(1, C_out, *out_shape)``
Forward = Callable[[torch.Tensor], torch.Tensor]


def mirror_pad(image: np.ndarray, before: Sequence[int], after: Sequence[int]) -> np.ndarray:
    """Mirror-pad the spatial axes of ``image`` ``(C, *spatial)``."""
    widths = [(0, 0)] + [(int(b), int(a)) for b, a in zip(before, after)]
    return np.pad(image, widths, mode="symmetric")


def predict_whole(forward: Forward, image: np.ndarray, multiples: Sequence[int]) -> np.ndarray:
    """One pass over ``image`` ``(C, *spatial)``, padded at the end of each axis
    to a multiple of ``multiples``; returns ``(C_out, *spatial)``."""
    shape = image.shape[1:]
    after = [(-s) % m for s, m in zip(shape, multiples)]
    padded = mirror_pad(image, [0] * len(shape), after)
    out = forward(torch.from_numpy(np.ascontiguousarray(padded))[None])[0]
    return out[(slice(None),) + tuple(slice(0, s) for s in shape)].cpu().numpy()


def predict_tiled(
    forward: Forward,
    image: np.ndarray,
    out_tile: Sequence[int],
    step: Sequence[int],
    margin: Sequence[int],
) -> np.ndarray:
    """Overlap-tile prediction for a network with valid convolutions.

    Parameters
    ----------
    forward : callable
        Maps an input tile ``(1, C, *(out_tile + 2 * margin))`` to its output
        ``(1, C_out, *out_tile)``.
    image : ndarray, shape (C, *spatial)
    out_tile : sequence of int
        Output tile size per axis (a size the network can produce).
    step : sequence of int
        Distance between tile origins per axis, <= ``out_tile``, a multiple of
        the network's total down-sampling; each tile contributes its first
        ``step`` output pixels.
    margin : sequence of int
        Context the network consumes on each side, per axis.

    Returns
    -------
    ndarray, shape (C_out, *spatial)
    """
    shape = image.shape[1:]
    counts = [max(1, math.ceil((s - t) / p) + 1) if s > t else 1 for s, t, p in zip(shape, out_tile, step)]
    covered = [(n - 1) * p + t for n, p, t in zip(counts, step, out_tile)]
    padded = mirror_pad(image, margin, [c - s + m for c, s, m in zip(covered, shape, margin)])
    out = None
    for index in itertools.product(*(range(n) for n in counts)):
        origin = [i * p for i, p in zip(index, step)]
        window = tuple(slice(o, o + t + 2 * m) for o, t, m in zip(origin, out_tile, margin))
        tile = torch.from_numpy(np.ascontiguousarray(padded[(slice(None),) + window]))[None]
        result = forward(tile)[0].cpu().numpy()
        if out is None:
            out = np.zeros((result.shape[0], *covered), result.dtype)
        # every tile but the last along an axis gives its first `step` pixels
        keep = tuple(
            slice(0, p if i < n - 1 else t) for i, n, p, t in zip(index, counts, step, out_tile)
        )
        target = tuple(slice(o, o + k.stop) for o, k in zip(origin, keep))
        out[(slice(None),) + target] = result[(slice(None),) + keep]
    return out[(slice(None),) + tuple(slice(0, s) for s in shape)]
