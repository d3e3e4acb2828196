"""Detections of a whole image from overlapping tiles, and label images from detections.

:func:`detect` is the network pass (``predict_raw``): every detection the network
returns, with its score, box and mask probabilities, in image coordinates.
:func:`labels_from_detections` is the cheap part (``postprocess``): score
threshold, box NMS, mask threshold, overlaps resolved by score.
"""

from __future__ import annotations

import numpy as np
import torch

from . import data
from .ops import import_torchvision

torchvision = import_torchvision()

#: Extra pixels kept around each box when cropping the mask probabilities torchvision
#: pasted at tile size (its paste expands the 28 x 28 mask by one mask pixel).
MASK_MARGIN = 2


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Starts of windows of ``tile`` pixels covering ``range(length)``, neighbours
    overlapping by at least ``overlap`` pixels (the last one ends at ``length``)."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def _own_bounds(starts: list[int], tile: int, length: int) -> list[tuple[float, float]]:
    """Per tile, the part of the axis it is responsible for: up to the middle of its
    overlap with each neighbour."""
    cuts = [0.0] + [(nxt + cur + tile) / 2 for cur, nxt in zip(starts, starts[1:])] + [float(length)]
    return list(zip(cuts, cuts[1:]))


@torch.no_grad()
def detect_tile(model, norm: np.ndarray, device: torch.device) -> dict[str, np.ndarray]:
    """One network pass over a normalised 2D image at its own size.

    Returns
    -------
    dict
        ``scores`` float32 ``(N,)``; ``boxes`` float32 ``(N, 4)`` ``(x1, y1, x2, y2)``;
        ``masks`` float32 ``(N, Y, X)`` probabilities (torchvision's pasted masks).
    """
    out = model([data.to_input(norm).to(device)])[0]
    return {
        "scores": out["scores"].float().cpu().numpy(),
        "boxes": out["boxes"].float().cpu().numpy(),
        "masks": out["masks"][:, 0].float().cpu().numpy(),
    }


def detect(
    model, norm: np.ndarray, tile_size: int, overlap: int, device: torch.device
) -> dict[str, np.ndarray]:
    """Every detection of a normalised 2D image, from overlapping tiles.

    A detection is kept from the tile whose own part of the image (up to the middle
    of each overlap) holds its box centre, so an object seen by two tiles is
    reported once. An image no larger than ``tile_size`` is one tile.

    Parameters
    ----------
    model : torchvision MaskRCNN, in eval mode
    norm : float32 ndarray, (Y, X)
    tile_size, overlap : int
        Tile side and least overlap of neighbouring tiles, pixels.
    device : torch.device

    Returns
    -------
    dict of ndarray
        ``scores`` float32 ``(N,)``; ``boxes`` float32 ``(N, 4)`` image pixels;
        ``windows`` int32 ``(N, 4)`` ``(y0, x0, y1, x1)``, the region each mask covers;
        ``mask_offsets`` int64 ``(N + 1,)`` and ``mask_values`` float16, the masks'
        probabilities over their windows, flattened one after another;
        ``shape`` int64 ``(2,)``, the image's shape.
    """
    height, width = norm.shape
    ys, xs = tile_starts(height, tile_size, overlap), tile_starts(width, tile_size, overlap)
    own_y, own_x = _own_bounds(ys, tile_size, height), _own_bounds(xs, tile_size, width)
    scores, boxes, windows, values = [], [], [], []
    for y0, (ylo, yhi) in zip(ys, own_y):
        for x0, (xlo, xhi) in zip(xs, own_x):
            tile = norm[y0 : y0 + tile_size, x0 : x0 + tile_size]
            found = detect_tile(model, tile, device)
            th, tw = tile.shape
            for score, box, mask in zip(found["scores"], found["boxes"], found["masks"]):
                box = box + np.array([x0, y0, x0, y0], np.float32)
                cy, cx = (box[1] + box[3]) / 2, (box[0] + box[2]) / 2
                if not (ylo <= cy < yhi and xlo <= cx < xhi):
                    continue
                wy0 = max(int(np.floor(box[1])) - MASK_MARGIN - y0, 0)
                wx0 = max(int(np.floor(box[0])) - MASK_MARGIN - x0, 0)
                wy1 = min(int(np.ceil(box[3])) + MASK_MARGIN - y0, th)
                wx1 = min(int(np.ceil(box[2])) + MASK_MARGIN - x0, tw)
                scores.append(score)
                boxes.append(box)
                windows.append((wy0 + y0, wx0 + x0, wy1 + y0, wx1 + x0))
                values.append(mask[wy0:wy1, wx0:wx1].astype(np.float16).ravel())
    sizes = [len(v) for v in values]
    return {
        "scores": np.asarray(scores, np.float32).reshape(-1),
        "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
        "windows": np.asarray(windows, np.int32).reshape(-1, 4),
        "mask_offsets": np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64),
        "mask_values": np.concatenate(values) if values else np.zeros(0, np.float16),
        "shape": np.asarray(norm.shape, np.int64),
    }


def labels_from_detections(
    raw: dict[str, np.ndarray], score_threshold: float, mask_threshold: float, nms_threshold: float
) -> np.ndarray:
    """A label image from :func:`detect`'s output.

    Detections scoring below ``score_threshold`` are dropped; of boxes overlapping
    with IoU > ``nms_threshold`` the best scoring is kept (``torchvision.ops.nms``);
    each object is its mask's pixels with probability > ``mask_threshold``; a pixel
    claimed by several objects goes to the best scoring one, and objects left with
    no pixel are dropped.

    Returns
    -------
    ndarray of int32, shape ``raw["shape"]``
        Labels 1..N in decreasing score order, 0 = background.
    """
    shape = tuple(int(s) for s in raw["shape"])
    labels = np.zeros(shape, np.int32)
    scores = np.asarray(raw["scores"], np.float32)
    chosen = np.flatnonzero(scores >= score_threshold)
    if chosen.size == 0:
        return labels
    keep = torchvision.ops.nms(
        torch.from_numpy(raw["boxes"][chosen]), torch.from_numpy(scores[chosen]), nms_threshold
    ).numpy()
    offsets, values = raw["mask_offsets"], raw["mask_values"]
    next_id = 1
    for i in chosen[keep]:  # decreasing score
        y0, x0, y1, x1 = (int(v) for v in raw["windows"][i])
        mask = values[offsets[i] : offsets[i + 1]].reshape(y1 - y0, x1 - x0) > mask_threshold
        region = labels[y0:y1, x0:x1]
        free = mask & (region == 0)
        if free.any():
            region[free] = next_id
            next_id += 1
    return labels
