"""From the network's flows and cell probability to a label image, with cellpose's
own dynamics (``dynamics.resize_and_compute_masks``: Euler integration of the
flows, the flow-error filter, hole filling and the minimum size), the same calls
``CellposeModel.eval`` makes after its network pass.

The raw output of one network pass (see :func:`check_raw`) is one of

=========================  ===================  ===================  =====================
flows                      ``dP``               ``cellprob``         masks
=========================  ===================  ===================  =====================
2D image                   ``(2, Y, X)``        ``(Y, X)``           2D dynamics
ZYX stack, ``do_3D``       ``(3, Z, Y, X)``     ``(Z, Y, X)``        3D dynamics
ZYX stack, per plane       ``(2, Z, Y, X)``     ``(Z, Y, X)``        2D per plane, stitched
=========================  ===================  ===================  =====================

plus ``scaling``, the factor the image was resized by before the network
(cellpose's ``rescale``), from which cellpose's default number of dynamics
steps follows.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from segbench.kit import ParameterError

from . import compat

#: cellpose.utils.stitch3D's own default IoU for joining masks of adjacent planes.
DEFAULT_STITCH_THRESHOLD = 0.25


def check_raw(raw: Mapping[str, Any]) -> str:
    """Validate the output of ``predict_raw``; return its kind: ``2D``, ``3D`` or ``planes``."""
    missing = {"dP", "cellprob", "scaling"} - set(raw)
    if missing:
        raise ValueError(f"raw: missing {sorted(missing)}; pass the dict that predict_raw returned")
    dP, cellprob = np.asarray(raw["dP"]), np.asarray(raw["cellprob"])
    if dP.shape[1:] != cellprob.shape or cellprob.ndim not in (2, 3):
        raise ValueError(
            f"raw: dP shape {dP.shape} does not fit cellprob shape {cellprob.shape}"
        )
    if cellprob.ndim == 2 and dP.shape[0] == 2:
        return "2D"
    if cellprob.ndim == 3 and dP.shape[0] == 3:
        return "3D"
    if cellprob.ndim == 3 and dP.shape[0] == 2:
        return "planes"
    raise ValueError(f"raw: dP has {dP.shape[0]} flow components for a {cellprob.ndim}-d image")


def flows_to_labels(
    raw: Mapping[str, Any],
    *,
    cellprob_threshold: float,
    flow_threshold: float,
    min_size: int,
    max_size_fraction: float,
    stitch_threshold: float | None,
    niter: int | None,
    device,
) -> np.ndarray:
    """Label image from one network pass (see the module docstring for ``raw``).

    Parameters
    ----------
    raw : mapping
        ``dP``, ``cellprob`` and ``scaling`` as returned by ``predict_raw``.
    cellprob_threshold : float
        Pixels whose cell probability (a logit) exceeds it take part in dynamics.
    flow_threshold : float
        Maximum flow error of a 2D mask (0 keeps all); not applied to 3D flows.
    min_size : int
        Masks with fewer pixels (voxels) are removed; negative keeps all.
    max_size_fraction : float
        Masks larger than this fraction of the image are removed.
    stitch_threshold : float or None
        IoU for joining per-plane masks of a ZYX stack into 3D objects (None:
        0.25). Must be None for 3D flows; ignored for 2D images.
    niter : int or None
        Dynamics steps; None is cellpose's default, ``200 / scaling``.
    device : torch.device
        Where dynamics run.

    Returns
    -------
    ndarray of int32
        Labels ``1..N`` without gaps, 0 = background, the image's spatial shape.
    """
    from cellpose import dynamics, utils

    kind = check_raw(raw)
    dP = np.asarray(raw["dP"], dtype=np.float32)
    cellprob = np.asarray(raw["cellprob"], dtype=np.float32)
    major = compat.major_version()
    if niter is None:
        niter = compat.default_niter(major, float(raw["scaling"]))
    common = dict(
        niter=niter, cellprob_threshold=cellprob_threshold, flow_threshold=flow_threshold,
        max_size_fraction=max_size_fraction, device=device, **compat.dynamics_kwargs(major),
    )
    if kind == "3D":
        if stitch_threshold is not None:
            raise ParameterError(
                f"stitch_threshold={stitch_threshold} joins per-plane masks, but this stack "
                "was segmented with 3D flows (do_3D: true); remove stitch_threshold or set do_3D: false"
            )
        labels = dynamics.resize_and_compute_masks(dP, cellprob, do_3D=True, min_size=min_size, **common)
    elif kind == "2D":
        labels = dynamics.resize_and_compute_masks(dP, cellprob, min_size=min_size, **common)
    else:
        stitch = DEFAULT_STITCH_THRESHOLD if stitch_threshold is None else stitch_threshold
        if not 0 < stitch <= 1:
            raise ParameterError(
                f"stitch_threshold: must be in (0, 1] to join the per-plane masks of a ZYX stack, "
                f"got {stitch}"
            )
        planes = [
            dynamics.resize_and_compute_masks(dP[:, z], cellprob[z], min_size=-1, **common)
            for z in range(cellprob.shape[0])
        ]
        # uint32: new ids accumulate over planes and can pass 65535 (cellpose keeps uint16)
        labels = utils.stitch3D(np.stack(planes).astype(np.uint32), stitch_threshold=stitch)
        labels = utils.fill_holes_and_remove_small_masks(labels, min_size=min_size)
    return renumber(labels)


def renumber(labels: np.ndarray) -> np.ndarray:
    """Labels ``1..N`` in the order of their old ids, 0 kept as background, as int32.

    Cellpose 3's own metric counts gaps in label ids as objects; segbench's does
    not, but consecutive labels keep both agreeing.

    Examples
    --------
    >>> import numpy as np
    >>> renumber(np.array([[0, 7, 7], [3, 0, 9]])).tolist()
    [[0, 2, 2], [1, 0, 3]]
    """
    ids, inverse = np.unique(labels, return_inverse=True)
    if ids.size and ids[0] == 0:
        out = inverse
    else:
        out = inverse + 1
    return out.reshape(labels.shape).astype(np.int32)
