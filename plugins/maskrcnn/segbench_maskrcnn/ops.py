"""torchvision with pure-torch stand-ins for its compiled operators, where they are missing.

torchvision's wheels are built against one torch build; on a torch without a
matching ``torchvision/_C`` (here: the CPU build of torch 2.13 with the CUDA
wheel of torchvision 0.28) ``import torchvision`` fails with ``operator
torchvision::nms does not exist``. Mask R-CNN needs two of torchvision's
operators: ``nms`` (RPN proposals and per-class detections, through
``batched_nms``) and ``roi_align`` (``MultiScaleRoIAlign`` and the mask targets).
It uses no ``roi_pool``, ``ps_roi_*``, ``deform_conv2d`` or quantised operator.

:func:`import_torchvision` first tries to load torchvision's compiled library
exactly as torchvision does. Only when that fails and ``torchvision::nms`` is
not defined by anyone else does it define ``torchvision::nms`` (and
its quantised twin ``qnms``) with :func:`nms_reference` (``torch.library``, the
schemas of the compiled operators), so
``import torchvision`` succeeds; it then lets ``torchvision.ops.nms`` call it,
and makes torchvision's own pure-Python ``roi_align`` (which it selects whenever
its compiled library is missing) run eagerly instead of through
``torch.compile``, which would need a C++ toolchain and minutes of compilation
in every worker process.

Import this module before anything imports torchvision.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

__all__ = ["REGISTERED", "import_torchvision", "nms_reference", "compiled_library_loaded"]

#: Names of the operators this module defined (empty where torchvision's own exist).
REGISTERED: tuple[str, ...] = ()
_LIBRARY: torch.library.Library | None = None  # kept alive: dropping it unregisters the ops


def nms_reference(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression, the semantics of ``torchvision.ops.nms``.

    Boxes are visited in decreasing score order (ties: lower index first); a box
    is kept unless its IoU with an already kept box is greater than
    ``iou_threshold``.

    Parameters
    ----------
    dets : Tensor, shape (N, 4)
        Boxes ``(x1, y1, x2, y2)`` in pixels, ``x1 <= x2``, ``y1 <= y2``.
    scores : Tensor, shape (N,)
    iou_threshold : float
        Boxes overlapping a kept box with IoU > this are discarded.

    Returns
    -------
    Tensor of int64, shape (K,)
        Indices of the kept boxes, in decreasing score order.
    """
    if dets.dim() != 2 or dets.size(1) != 4:
        raise ValueError(f"nms: boxes must have shape (N, 4), got {tuple(dets.shape)}")
    if scores.dim() != 1 or scores.size(0) != dets.size(0):
        raise ValueError(f"nms: scores must have shape ({dets.size(0)},), got {tuple(scores.shape)}")
    n = dets.size(0)
    if n == 0:
        return torch.empty(0, dtype=torch.long, device=dets.device)
    order = torch.argsort(scores, descending=True, stable=True)
    boxes = dets[order].to(torch.float64)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    lt = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    rb = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=2)
    iou = inter / (area[:, None] + area[None, :] - inter)
    overlapping = (iou > iou_threshold).cpu().numpy()
    suppressed = [False] * n
    kept = []
    for i in range(n):
        if suppressed[i]:
            continue
        kept.append(i)
        row = overlapping[i]
        for j in row[i + 1 :].nonzero()[0]:
            suppressed[i + 1 + j] = True
    return order[torch.as_tensor(kept, dtype=torch.long, device=dets.device)]


def roi_align_reference(
    input: torch.Tensor,
    rois: torch.Tensor,
    spatial_scale: float,
    pooled_height: int,
    pooled_width: int,
    sampling_ratio: int,
    aligned: bool,
) -> torch.Tensor:
    """RoIAlign with the semantics of torchvision's kernel, from ``grid_sample``.

    Each output bin is the mean of ``grid_h x grid_w`` bilinear samples, evenly
    spread over the bin; a sample more than one pixel outside the feature map
    counts as 0, one within a pixel of its edge takes the edge value.
    Differentiable with respect to ``input``.

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W)
    rois : Tensor, shape (K, 5)
        ``(batch index, x1, y1, x2, y2)`` in input-image pixels.
    spatial_scale : float
        Feature-map pixels per input pixel.
    pooled_height, pooled_width : int
        Output bins per roi.
    sampling_ratio : int
        Samples per bin along each axis; <= 0: ``ceil(roi size / bins)`` per roi.
    aligned : bool
        Shift boxes by half a pixel (pixel centres at half-integers).

    Returns
    -------
    Tensor, shape (K, C, pooled_height, pooled_width)
    """
    n_rois = rois.size(0)
    _, channels, height, width = input.shape
    out = input.new_zeros((n_rois, channels, pooled_height, pooled_width))
    if n_rois == 0:
        return out
    rois = rois.to(input.dtype)
    offset = 0.5 if aligned else 0.0
    start = rois[:, 1:3] * spatial_scale - offset  # (K, 2) x, y
    size = rois[:, 3:5] * spatial_scale - offset - start
    if not aligned:
        size = size.clamp(min=1.0)
    bins = torch.tensor([pooled_width, pooled_height], dtype=input.dtype, device=input.device)
    bin_size = size / bins  # (K, 2)
    if sampling_ratio > 0:
        grid = torch.full_like(size, float(sampling_ratio))
    else:
        grid = torch.ceil(size / bins).clamp(min=1)
    gx, gy = int(grid[:, 0].max()), int(grid[:, 1].max())
    samples = []
    for axis, (n_bins, n_max) in enumerate(((pooled_width, gx), (pooled_height, gy))):
        b = torch.arange(n_bins, dtype=input.dtype, device=input.device)
        i = torch.arange(n_max, dtype=input.dtype, device=input.device)
        g = grid[:, axis, None, None]
        pos = (start[:, axis, None, None] + b[None, :, None] * bin_size[:, axis, None, None]
               + (i[None, None, :] + 0.5) * bin_size[:, axis, None, None] / g)  # (K, bins, n_max)
        limit = width if axis == 0 else height
        valid = (i[None, None, :] < g) & (pos >= -1.0) & (pos <= limit)
        samples.append((pos, valid, limit))
    (x, x_ok, _), (y, y_ok, _) = samples
    # grid_sample coordinates (align_corners=False): pixel p -> (2p + 1) / size - 1
    xn = (2 * x + 1) / width - 1  # (K, PW, gx)
    yn = (2 * y + 1) / height - 1  # (K, PH, gy)
    weight = (y_ok[:, :, :, None, None] & x_ok[:, None, None, :, :]).to(input.dtype)
    weight = weight / (grid[:, 0] * grid[:, 1])[:, None, None, None, None]  # (K, PH, gy, PW, gx)
    shape = (n_rois, pooled_height, gy, pooled_width, gx)
    coords = torch.stack(
        (xn[:, None, None, :, :].expand(shape), yn[:, :, :, None, None].expand(shape)), dim=-1
    )
    batch = rois[:, 0].long()
    parts = []
    for b in torch.unique(batch).tolist():
        index = (batch == b).nonzero().squeeze(1)
        g = coords[index].reshape(1, -1, pooled_width * gx, 2)
        sampled = torch.nn.functional.grid_sample(
            input[b : b + 1], g, mode="bilinear", padding_mode="border", align_corners=False
        )  # (1, C, k * PH * gy, PW * gx)
        sampled = sampled.reshape(channels, index.numel(), pooled_height, gy, pooled_width, gx)
        pooled = (sampled * weight[index][None]).sum(dim=(3, 5)).transpose(0, 1)
        parts.append((index, pooled))
    return out.index_put((torch.cat([i for i, _ in parts]),), torch.cat([p for _, p in parts]))


def _torchvision_dir() -> Path | None:
    spec = importlib.util.find_spec("torchvision")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def compiled_library_loaded() -> bool:
    """Load torchvision's compiled operators (``torchvision/_C``) as torchvision does.

    Returns
    -------
    bool
        True when the library loaded (its operators are then defined).
    """
    folder = _torchvision_dir()
    if folder is None:
        return False
    for path in sorted(folder.glob("_C.*")):
        if path.suffix in (".so", ".pyd", ".dylib"):
            try:
                torch.ops.load_library(str(path))
                return True
            except (OSError, ImportError, RuntimeError):
                return False
    return False


def _op_defined(name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


def _define_operators() -> None:
    """Define ``torchvision::nms``, ``torchvision::qnms`` (it takes the integer
    representation of quantised boxes; IoU depends on neither their scale nor zero
    point) and ``torchvision::roi_align`` (composite: autograd differentiates the
    ``grid_sample`` it is made of)."""
    global _LIBRARY, REGISTERED
    _LIBRARY = torch.library.Library("torchvision", "DEF")
    for name in ("nms", "qnms"):
        _LIBRARY.define(f"{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _LIBRARY.impl(name, nms_reference, "CompositeExplicitAutograd")
    _LIBRARY.define(
        "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor"
    )
    _LIBRARY.impl("roi_align", roi_align_reference, "CompositeImplicitAutograd")
    REGISTERED = ("nms", "qnms", "roi_align")


def _assert_nms_defined() -> None:
    if not _op_defined("nms"):  # pragma: no cover - defined above whenever this is installed
        raise RuntimeError("torchvision::nms is not defined")


def _use_stand_ins() -> None:
    """Route torchvision's Python wrappers to the stand-ins (only when they are in use)."""
    boxes = sys.modules["torchvision.ops.boxes"]
    roi_align = sys.modules["torchvision.ops.roi_align"]  # the attribute is the function
    # boxes.nms refuses to run without the compiled library; ours is defined
    boxes._assert_has_ops = _assert_nms_defined
    # torchvision's roi_align falls back to a pure-Python version compiled with torch.compile
    # on first use (a C++ toolchain and minutes in every process; eager, it needs gigabytes)
    roi_align._roi_align = torch.ops.torchvision.roi_align


def import_torchvision():
    """Import torchvision, defining pure-torch operators first where the compiled ones are absent.

    Returns
    -------
    module
        ``torchvision``.
    """
    if "torchvision" not in sys.modules and not compiled_library_loaded() and not _op_defined("nms"):
        _define_operators()
    import torchvision

    if REGISTERED:
        _use_stand_ins()
    return torchvision
