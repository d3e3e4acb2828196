"""Tiles, detections and label images, with a stand-in network (no training)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segbench_maskrcnn import inference


@pytest.mark.parametrize("length, tile, overlap", [(50, 64, 16), (64, 64, 16), (200, 64, 16), (129, 64, 0)])
def test_tiles_cover_the_axis_with_overlap(length, tile, overlap):
    starts = inference.tile_starts(length, tile, overlap)
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s : s + tile] = True
    assert covered.all() and starts[0] == 0 and min(starts[-1] + tile, length) == length
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))
    bounds = inference._own_bounds(starts, tile, length)
    assert bounds[0][0] == 0 and bounds[-1][1] == length
    assert all(hi == lo for (_, hi), (lo, _) in zip(bounds, bounds[1:]))  # a partition


class DiskNetwork:
    """Stands in for Mask R-CNN in eval mode: one detection per bright disk (a pixel
    above 0.5 whose 3x3 neighbourhood is its maximum), box of +-r, round mask."""

    def __init__(self, radius=4):
        self.radius = radius
        self.calls = []

    def __call__(self, inputs):
        (x,) = inputs
        img = x[0].numpy()
        self.calls.append(img.shape)
        h, w = img.shape
        padded = np.pad(img, 1, constant_values=-1)
        peaks = [(y, x_) for y in range(h) for x_ in range(w)
                 if img[y, x_] > 0.5 and img[y, x_] == padded[y:y + 3, x_:x_ + 3].max()]
        yy, xx = np.mgrid[:h, :w]
        r = self.radius
        boxes = [[max(x_ - r, 0), max(y - r, 0), min(x_ + r + 1, w), min(y + r + 1, h)] for y, x_ in peaks]
        masks = [((yy - y) ** 2 + (xx - x_) ** 2 <= r * r).astype(np.float32) for y, x_ in peaks]
        return [{
            "scores": torch.tensor([float(img[p]) for p in peaks]),
            "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "masks": torch.tensor(np.array(masks)).reshape(-1, 1, h, w),
        }]


def disks(shape, centres, values):
    img = np.zeros(shape, np.float32)
    for (y, x), v in zip(centres, values):
        img[y, x] = v
    return img


def test_one_tile_equals_the_untiled_pass():
    img = disks((60, 50), [(10, 10), (30, 40), (50, 5)], [0.9, 0.8, 0.7])
    net = DiskNetwork()
    raw = inference.detect(net, img, tile_size=64, overlap=16, device=torch.device("cpu"))
    direct = inference.detect_tile(net, img, torch.device("cpu"))
    assert net.calls == [(60, 50), (60, 50)]
    np.testing.assert_array_equal(raw["scores"], direct["scores"])
    np.testing.assert_array_equal(raw["boxes"], direct["boxes"])
    for i, (y0, x0, y1, x1) in enumerate(raw["windows"]):
        window = raw["mask_values"][raw["mask_offsets"][i] : raw["mask_offsets"][i + 1]].reshape(y1 - y0, x1 - x0)
        full = np.zeros(img.shape, np.float32)
        full[y0:y1, x0:x1] = window
        np.testing.assert_array_equal(full, direct["masks"][i])  # nothing of the mask is cut off


def test_tiles_report_each_object_once_in_image_coordinates():
    centres = [(10, 10), (40, 60), (45, 70), (100, 100), (31, 31), (120, 5)]
    img = disks((128, 128), centres, np.linspace(0.9, 0.6, len(centres)))
    net = DiskNetwork()
    raw = inference.detect(net, img, tile_size=64, overlap=24, device=torch.device("cpu"))
    assert len(net.calls) == 9  # 3 x 3 tiles
    found = sorted(((b[1] + b[3]) / 2, (b[0] + b[2]) / 2) for b in raw["boxes"])
    assert len(found) == len(centres)
    labels = inference.labels_from_detections(raw, 0.5, 0.5, 0.5)
    assert {int(labels[c]) for c in centres} == set(range(1, len(centres) + 1))


def raw_of(shape, scores, boxes, masks):
    windows = [(int(b[1]), int(b[0]), int(b[3]), int(b[2])) for b in boxes]  # y0, x0, y1, x1
    values = [m[y0:y1, x0:x1].astype(np.float16).ravel() for m, (y0, x0, y1, x1) in zip(masks, windows)]
    return {
        "scores": np.asarray(scores, np.float32),
        "boxes": np.asarray(boxes, np.float32),
        "windows": np.asarray(windows, np.int32),
        "mask_offsets": np.concatenate([[0], np.cumsum([len(v) for v in values])]).astype(np.int64),
        "mask_values": np.concatenate(values) if values else np.zeros(0, np.float16),
        "shape": np.asarray(shape, np.int64),
    }


def square(shape, y0, x0, y1, x1, p=0.9):
    m = np.zeros(shape, np.float32)
    m[y0:y1, x0:x1] = p
    return m


def test_labels_thresholds_nms_and_overlaps_by_score():
    shape = (20, 20)
    masks = [square(shape, 0, 0, 8, 8), square(shape, 4, 4, 12, 12), square(shape, 0, 0, 8, 7, 0.6),
             square(shape, 14, 14, 18, 18, 0.4)]
    boxes = [[0, 0, 8, 8], [4, 4, 12, 12], [0, 0, 7, 8], [14, 14, 18, 18]]
    raw = raw_of(shape, [0.6, 0.9, 0.55, 0.8], boxes, masks)
    # score 0.5: all; nms 0.5 drops the 0.55 box (IoU 7/8 with the 0.6 one); mask 0.5 drops the 0.4 mask
    labels = inference.labels_from_detections(raw, 0.5, 0.5, 0.5)
    assert labels[5, 5] == 1 and labels[10, 10] == 1  # best score owns the overlap
    assert labels[0, 0] == 2 and labels[3, 7] == 2
    assert labels.max() == 2 and labels.dtype == np.int32
    # a lower mask threshold keeps the faint mask; a higher score threshold drops the 0.6 box
    assert inference.labels_from_detections(raw, 0.5, 0.3, 0.5).max() == 3
    only_best = inference.labels_from_detections(raw, 0.85, 0.5, 0.5)
    assert set(np.unique(only_best)) == {0, 1} and (only_best == 1).sum() == 64
    # without NMS the 0.55 detection only gets pixels nobody better claimed: none here
    assert inference.labels_from_detections(raw, 0.5, 0.5, 1.0).max() == 2


def test_no_detections_give_background():
    empty = raw_of((7, 9), [], np.zeros((0, 4)), [])
    assert not inference.labels_from_detections(empty, 0.0, 0.5, 0.5).any()
