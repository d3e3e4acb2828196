"""Post-processing: cellpose's dynamics on flows, checked with the ideal flows of
known labels (what a perfect network would output) and against the calls
CellposeModel.eval makes itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cellpose import dynamics, models

from segbench.errors import SegbenchError
from segbench.metrics import match
from segbench_cellpose import CellposeSegmenter
from segbench_cellpose.masks import check_raw, renumber

CPU = torch.device("cpu")


def ideal_raw(labels: np.ndarray, per_plane: bool = False) -> dict[str, np.ndarray]:
    """Flows and cell-probability logits a perfect network would give for ``labels``."""
    if per_plane:
        flows = np.stack([dynamics.masks_to_flows(plane) for plane in labels], axis=1)
    else:
        flows = dynamics.masks_to_flows(labels)
    return {
        "dP": (5.0 * flows).astype(np.float32),  # cellpose trains on 5 x the unit flows
        "cellprob": np.where(labels > 0, 4.0, -4.0).astype(np.float32),
        "scaling": np.asarray(1.0),
    }


@pytest.fixture(scope="module")
def segmenter():
    return CellposeSegmenter()  # post-processing needs no weights


@pytest.fixture(scope="module")
def touching(make_samples):
    return make_samples(1, seed=5, shape=(96, 96), n_objects=12, radius=7.0, touching_fraction=0.6)[0].labels


def test_ideal_flows_give_back_every_object(segmenter, touching):
    labels = segmenter.postprocess(ideal_raw(touching))
    assert labels.dtype == np.int32 and labels.shape == touching.shape
    assert set(np.unique(labels)) == set(range(touching.max() + 1))
    scores = match(touching, labels, thresholds=(0.5, 0.8))
    assert [s["f1"] for s in scores] == [1.0, 1.0]


def test_equals_cellpose_eval_mask_step_2d(segmenter, touching):
    raw = ideal_raw(touching)
    raw["cellprob"] += np.random.default_rng(0).normal(0, 3, touching.shape).astype(np.float32)
    net = models.CellposeModel(pretrained_model=False, device=CPU)
    for cellprob_threshold, flow_threshold, min_size in [(0.0, 0.4, 15), (-1.0, 0.0, 30), (1.5, 0.8, 5)]:
        ours = segmenter.postprocess(
            raw, cellprob_threshold=cellprob_threshold, flow_threshold=flow_threshold, min_size=min_size
        )
        theirs = net._compute_masks(
            (1, *touching.shape, 2), raw["dP"][:, None], raw["cellprob"][None],
            cellprob_threshold=cellprob_threshold, flow_threshold=flow_threshold, min_size=min_size,
            niter=200.0,
        )
        np.testing.assert_array_equal(ours, renumber(theirs))


def test_cellprob_threshold_sweep_changes_only_the_mask_step(segmenter, touching):
    raw = ideal_raw(touching)
    raw["cellprob"] = np.where(touching > 0, np.where(touching % 2 == 0, 3.0, 0.5), -4.0).astype(np.float32)
    n_objects = {t: segmenter.postprocess(raw, cellprob_threshold=t).max() for t in (-2.0, 0.0, 1.0, 4.0)}
    even = len([i for i in np.unique(touching) if i and i % 2 == 0])
    assert n_objects == {-2.0: touching.max(), 0.0: touching.max(), 1.0: even, 4.0: 0}


def test_flow_error_filter_drops_objects_with_wrong_flows(segmenter, touching):
    raw = ideal_raw(touching)
    target = touching == 3
    dy, dx = raw["dP"][:, target]
    angle = np.deg2rad(70)  # a swirl: pixels still converge, but the flows are not the mask's
    raw["dP"][0, target] = np.cos(angle) * dy - np.sin(angle) * dx
    raw["dP"][1, target] = np.sin(angle) * dy + np.cos(angle) * dx
    kept_all = segmenter.postprocess(raw, flow_threshold=0.0)
    filtered = segmenter.postprocess(raw, flow_threshold=0.4)
    assert kept_all.max() == touching.max() and kept_all[target].all()
    assert filtered.max() == touching.max() - 1 and not filtered[target].any()


def test_min_size_and_renumbering(segmenter, touching):
    sizes = np.bincount(touching.ravel())[1:]
    cut = int(np.sort(sizes)[2]) + 1  # removes the three smallest objects
    labels = segmenter.postprocess(ideal_raw(touching), min_size=cut)
    assert labels.max() == touching.max() - 3
    assert set(np.unique(labels)) == set(range(labels.max() + 1))  # 1..N, no gaps


def test_3d_flows_and_per_plane_stitching(segmenter, volume):
    gt = volume.labels
    labels_3d = segmenter.postprocess(ideal_raw(gt))
    assert labels_3d.shape == gt.shape and labels_3d.dtype == np.int32
    assert match(gt, labels_3d)[0]["f1"] == 1.0
    stitched = segmenter.postprocess(ideal_raw(gt, per_plane=True), min_size=5)
    assert match(gt, stitched)[0]["f1"] == 1.0
    unstitched = segmenter.postprocess(ideal_raw(gt, per_plane=True), min_size=5, stitch_threshold=1.0)
    assert unstitched.max() > gt.max()  # planes of one object are not joined at IoU 1


def test_stitch_threshold_needs_per_plane_flows(segmenter, volume):
    with pytest.raises(SegbenchError, match="stitch_threshold=0.25 joins per-plane masks.*do_3D: false"):
        segmenter.postprocess(ideal_raw(volume.labels), stitch_threshold=0.25)
    with pytest.raises(SegbenchError, match=r"stitch_threshold: must be in \(0, 1\]"):
        segmenter.postprocess(ideal_raw(volume.labels, per_plane=True), stitch_threshold=0.0)


def test_bad_raw_and_bad_thresholds_are_named(segmenter, touching):
    raw = ideal_raw(touching)
    with pytest.raises(ValueError, match=r"raw: missing \['scaling'\]"):
        segmenter.postprocess({"dP": raw["dP"], "cellprob": raw["cellprob"]})
    with pytest.raises(ValueError, match="raw: dP shape"):
        check_raw({**raw, "cellprob": raw["cellprob"][:10]})
    with pytest.raises(SegbenchError, match=r"parameter 'flow_threshold' must be a number in \[0, inf\), got -0.1"):
        segmenter.postprocess(raw, flow_threshold=-0.1)
    with pytest.raises(SegbenchError, match="parameter 'cellprob_threshold' must be a number"):
        segmenter.postprocess(raw, cellprob_threshold=float("nan"))
    assert check_raw(raw) == "2D"


def test_renumber():
    labels = np.array([[0, 7, 7], [3, 0, 65540]], dtype=np.uint32)
    assert renumber(labels).tolist() == [[0, 2, 2], [1, 0, 3]]
    assert renumber(np.array([[4, 4], [9, 9]])).tolist() == [[1, 1], [2, 2]]  # no background
