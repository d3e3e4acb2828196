"""Targets from label images and instances from hand-made network outputs."""

from __future__ import annotations

import numpy as np
import pytest

from segbench_unet import instances, targets


def _two_touching_squares() -> np.ndarray:
    labels = np.zeros((10, 14), np.int32)
    labels[2:8, 2:7] = 1
    labels[2:8, 7:12] = 2
    return labels


def test_class_map_marks_inner_boundaries_on_both_sides_of_a_contact():
    cls = targets.class_map(_two_touching_squares())
    assert cls[0].tolist() == [0] * 14
    # row 4: background, boundary, interior, boundary | boundary, interior, boundary, background
    assert cls[4].tolist() == [0, 0, 2, 1, 1, 1, 2, 2, 1, 1, 1, 2, 0, 0]
    assert (cls[2, 2:12] == 2).all()
    assert (targets.class_map(_two_touching_squares(), boundary_width=2)[4, 2:12] == [2, 2, 1, 2, 2, 2, 2, 1, 2, 2]).all()


def test_distance_map_is_normalised_per_object():
    labels = _two_touching_squares()
    labels[8:10, 0:2] = 3  # a small object on the image border
    dist = targets.distance_map(labels)
    assert dist[labels == 0].max() == 0.0
    for index in (1, 2, 3):
        assert dist[labels == index].max() == pytest.approx(1.0)
        assert dist[labels == index].min() > 0.0


def _three_class_output(labels: np.ndarray) -> dict:
    """Softmax-like probabilities that say exactly the class map."""
    cls = targets.class_map(labels)
    probs = np.stack([(cls == k).astype(np.float32) for k in range(3)])
    return {"probabilities": 0.9 * probs + 0.1 / 3}


def test_touching_nuclei_from_a_three_class_map_are_separated_and_regrown():
    labels = _two_touching_squares()
    out = instances.instances(_three_class_output(labels), 0.5, 0.5, min_size=1)
    assert out.dtype == np.int32 and set(np.unique(out)) == {0, 1, 2}
    # the boundary band is given back to the nuclei by the watershed: exact masks
    pairs = {(int(a), int(b)) for a, b in zip(labels.ravel(), out.ravel())}
    assert len(pairs) == 3


def test_a_foreground_component_without_seed_is_kept_and_min_size_drops_small_ones():
    labels = _two_touching_squares()
    raw = _three_class_output(labels)
    raw["probabilities"][:, 0, 0] = [0.1, 0.0, 0.9]  # a 1-pixel boundary-only blob in a corner
    out = instances.instances(raw, 0.5, 0.5, min_size=1)
    assert out.max() == 3 and out[0, 0] == 3
    assert instances.instances(raw, 0.5, 0.5, min_size=2).max() == 2


def test_thresholds_decide_foreground_and_seeds():
    labels = _two_touching_squares()
    raw = _three_class_output(labels)
    assert instances.instances(raw, 0.99, 0.5, 1).max() == 0  # no pixel is that sure of the foreground
    assert instances.instances(raw, 0.5, 0.99, 1).max() == 1  # no seed: the whole foreground is one


def test_distance_target_instances():
    labels = _two_touching_squares()
    raw = {"foreground": (labels > 0).astype(np.float32), "distance": targets.distance_map(labels)}
    out = instances.instances(raw, 0.5, 0.5, min_size=1)
    assert out.max() == 2
    assert {(int(a), int(b)) for a, b in zip(labels.ravel(), out.ravel())} == {(0, 0), (1, 1), (2, 2)}
