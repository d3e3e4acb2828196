"""The cellpose 3 / 4 keyword mappings and the image-layout helpers (pure functions)."""

from __future__ import annotations

import numpy as np
import pytest

from segbench.errors import SegbenchError
from segbench_cellpose import compat
from segbench_cellpose.layout import anisotropy_from_spacing, cellpose_axes, image_axes


def test_installed_version_is_cellpose_3():
    assert compat.major_version() == 3
    assert compat.major_version("4.0.5") == 4 and compat.major_version("3.1.1.3") == 3


def test_model_kwargs_per_version():
    assert compat.model_kwargs(3) == {"nchan": 2, "mkldnn": False}
    assert compat.model_kwargs(3, diam_mean=17.0) == {"nchan": 2, "mkldnn": False, "diam_mean": 17.0}
    assert compat.model_kwargs(4) == {}
    assert compat.model_kwargs(4, use_bfloat16=False) == {"use_bfloat16": False}
    with pytest.raises(SegbenchError, match="use_bfloat16 is a cellpose 4 option"):
        compat.model_kwargs(3, use_bfloat16=False)


def test_eval_kwargs_per_version():
    assert compat.eval_kwargs(3, channels=[2, 3], scaling=0.5, diameter=60.0) == {
        "channels": [2, 3], "rescale": 0.5, "diameter": None,
    }
    assert compat.eval_kwargs(4, channels=None, scaling=0.5, diameter=60.0) == {"diameter": 60.0}
    with pytest.raises(SegbenchError, match="channels is not used by cellpose 4"):
        compat.eval_kwargs(4, channels=[0, 0], scaling=1.0, diameter=None)
    assert compat.convert_kwargs(3, [1, 0]) == {"channels": [1, 0], "nchan": 2}


class _Model:
    diam_mean = np.float32(30.0)
    diam_labels = np.float32(12.0)


def test_scaling_and_default_niter():
    assert compat.scaling(3, _Model, None) == 2.5  # diam_mean / diam_labels
    assert compat.scaling(3, _Model, 15.0) == 2.0  # diam_mean / diameter
    assert compat.scaling(4, _Model, 15.0) == 2.0 and compat.scaling(4, _Model, None) == 1.0
    assert compat.default_niter(3, 2.5) == 80.0 and compat.default_niter(4, 0.3) == 666
    assert compat.dynamics_kwargs(3) == {"interp": True} and compat.dynamics_kwargs(4) == {}


@pytest.mark.parametrize(
    "shape, axes, cellpose",
    [
        ((64, 64), "YX", (None, None)),
        ((64, 64, 3), "YXC", (2, None)),
        ((5, 64, 64), "ZYX", (None, 0)),
        ((5, 64, 64, 2), "ZYXC", (3, 0)),
    ],
)
def test_image_axes(shape, axes, cellpose):
    assert image_axes(np.zeros(shape)) == axes
    assert tuple(cellpose_axes(axes).values()) == cellpose


def test_image_axes_rejects_other_shapes():
    with pytest.raises(ValueError, match=r"image: expected YX, YXC, ZYX or ZYXC .* got shape \(64,\)"):
        image_axes(np.zeros(64))
    with pytest.raises(ValueError, match=r"got shape \(4, 8, 8, 8\)"):
        image_axes(np.zeros((4, 8, 8, 8)))


def test_anisotropy_from_spacing():
    assert anisotropy_from_spacing((3.0, 0.5, 2.0)) == 3.0  # dz / sqrt(dy dx)
    assert anisotropy_from_spacing(None) is None and anisotropy_from_spacing((1.0, 1.0)) is None
    with pytest.raises(SegbenchError, match=r"spacing: expected 2 or 3 positive voxel sizes .* got \(1.0,\)"):
        anisotropy_from_spacing((1.0,))
