"""The pure-torch torchvision operators: equal to brute-force references, used by
torchvision only where its compiled ones are missing."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from segbench_maskrcnn import ops


def nms_brute(boxes, scores, threshold):
    """Greedy NMS over Python lists: best remaining box first, drop overlaps > threshold."""
    def iou(a, b):
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0

    remaining = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept = []
    while remaining:
        best = remaining.pop(0)
        kept.append(best)
        remaining = [i for i in remaining if not iou(boxes[best], boxes[i]) > threshold]
    return kept


def random_boxes(rng, n, ties=False):
    xy = rng.uniform(0, 50, (n, 2))
    wh = rng.uniform(1, 20, (n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1)
    scores = rng.integers(0, 5, n).astype(float) if ties else rng.uniform(0, 1, n)
    return torch.tensor(boxes, dtype=torch.float32), torch.tensor(scores, dtype=torch.float32)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.9])
def test_nms_equals_brute_force(seed, threshold):
    rng = np.random.default_rng(seed)
    boxes, scores = random_boxes(rng, 60, ties=seed % 2 == 1)
    kept = ops.nms_reference(boxes, scores, threshold)
    assert kept.dtype == torch.int64
    assert kept.tolist() == nms_brute(boxes.double().tolist(), scores.tolist(), threshold)


def test_nms_edge_cases():
    empty = ops.nms_reference(torch.zeros(0, 4), torch.zeros(0), 0.5)
    assert empty.shape == (0,) and empty.dtype == torch.int64
    same = torch.tensor([[0.0, 0, 10, 10]] * 3)
    assert ops.nms_reference(same, torch.tensor([0.2, 0.9, 0.5]), 0.5).tolist() == [1]
    # IoU exactly at the threshold is kept (torchvision discards IoU > threshold only)
    half = torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 5]])
    assert ops.nms_reference(half, torch.tensor([1.0, 0.5]), 0.5).tolist() == [0, 1]
    with pytest.raises(ValueError, match="shape"):
        ops.nms_reference(torch.zeros(3, 5), torch.zeros(3), 0.5)


def bilinear_brute(img, y, x):
    """torchvision's C++ ``bilinear_interpolate`` on nested lists."""
    height, width = len(img), len(img[0])
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= height - 1:
        y0 = y1 = height - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= width - 1:
        x0 = x1 = width - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * img[y0][x0] + (1 - ly) * lx * img[y0][x1]
            + ly * (1 - lx) * img[y1][x0] + ly * lx * img[y1][x1])


def roi_align_brute(inp, rois, scale, out_h, out_w, sampling_ratio, aligned):
    """torchvision's C++ ``roi_align`` forward, transcribed to loops over nested lists."""
    out, offset = [], 0.5 if aligned else 0.0
    for b, x1, y1, x2, y2 in rois:
        sx, sy = x1 * scale - offset, y1 * scale - offset
        w, h = x2 * scale - offset - sx, y2 * scale - offset - sy
        if not aligned:
            w, h = max(w, 1.0), max(h, 1.0)
        bw, bh = w / out_w, h / out_h
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(h / out_h)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(w / out_w)
        count = max(gh * gw, 1)
        out.append([
            [[sum(bilinear_brute(img, sy + ph * bh + (iy + 0.5) * bh / gh, sx + pw * bw + (ix + 0.5) * bw / gw)
                  for iy in range(gh) for ix in range(gw)) / count
              for pw in range(out_w)] for ph in range(out_h)]
            for img in inp[int(b)]
        ])
    return out


@pytest.mark.parametrize("sampling_ratio", [2, 0, 3])
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_roi_align_equals_brute_force(sampling_ratio, aligned, scale):
    g = torch.Generator().manual_seed(sampling_ratio)
    x = torch.rand(2, 3, 9, 11, generator=g, dtype=torch.float64)
    xy = torch.rand(12, 2, generator=g, dtype=torch.float64) * 16 - 4  # some rois leave the map
    wh = torch.rand(12, 2, generator=g, dtype=torch.float64) * 9
    rois = torch.cat([torch.randint(0, 2, (12, 1), generator=g).double(), xy, xy + wh], 1)
    ours = ops.roi_align_reference(x, rois, scale, 4, 3, sampling_ratio, aligned)
    expected = torch.tensor(
        roi_align_brute(x.tolist(), rois.tolist(), scale, 4, 3, sampling_ratio, aligned), dtype=torch.float64
    )
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-12)


def test_roi_align_is_differentiable_and_handles_no_rois():
    x = torch.rand(1, 2, 8, 8, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0, 1.0, 1.0, 6.0, 5.0]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: ops.roi_align_reference(t, rois, 1.0, 3, 3, 2, False), (x,))
    assert ops.roi_align_reference(x, rois[:0], 1.0, 3, 3, 2, False).shape == (0, 2, 3, 3)


def test_torchvision_uses_the_stand_ins_only_without_its_compiled_library():
    torchvision = ops.import_torchvision()
    assert (ops.REGISTERED == ()) == ops.compiled_library_loaded()
    if not ops.REGISTERED:
        pytest.skip("torchvision's compiled operators are present and used")
    assert ops.REGISTERED == ("nms", "qnms", "roi_align")
    boxes, scores = random_boxes(np.random.default_rng(0), 40)
    assert torchvision.ops.nms(boxes, scores, 0.4).tolist() == ops.nms_reference(boxes, scores, 0.4).tolist()
    x = torch.rand(1, 4, 16, 16)
    rois = torch.tensor([[0, 2.0, 3.0, 12.0, 9.0]])
    torch.testing.assert_close(
        torchvision.ops.roi_align(x, rois, (5, 5), 1.0, 2), ops.roi_align_reference(x, rois, 1.0, 5, 5, 2, False)
    )


def test_existing_operators_are_not_replaced():
    """Where torchvision's operators exist (defined here before the import, as its compiled
    library would), nothing is registered and the existing kernels stay in use."""
    script = textwrap.dedent("""
        import torch
        lib = torch.library.Library("torchvision", "DEF")
        for name in ("nms", "qnms"):
            lib.define(name + "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            lib.impl(name, lambda dets, scores, t: torch.full((1,), 42, dtype=torch.long),
                     "CompositeExplicitAutograd")
        from segbench_maskrcnn import ops
        ops.import_torchvision()
        kept = torch.ops.torchvision.nms(torch.zeros(2, 4), torch.zeros(2), 0.5)
        print(ops.REGISTERED, kept.tolist())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[-2] == "() [42]"
