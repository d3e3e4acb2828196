"""The ``otsu-watershed`` baseline: accuracy on procedural images, splitting
touching objects, output shape and dtype, parameters."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from segbench.builtin.otsu_watershed import OtsuWatershed
from segbench.builtin.procedural import Procedural
from segbench.cli.generate import parameter_docs
from segbench.errors import SegbenchError
from segbench.metrics import match, pool
from segbench.plugins import load_registry

DOCS = Path(__file__).resolve().parents[2] / "docs" / "procedural.md"


def documented_variant(name: str) -> dict:
    """Generator params of the yaml example called ``name`` in docs/procedural.md."""
    for block in re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S):
        block = yaml.safe_load(block)
        if block.get("name") == name:
            return {k: v for k, v in block["params"].items() if k != "n_images"}
    raise LookupError(name)


def pooled_f1(samples, segmenter) -> float:
    rows = [row for s in samples for row in match(s.labels, segmenter.predict(s.image), (0.5,))]
    return pool(rows)[0]["f1"]


def two_touching(shape=(48, 64), radius=10, gap=17):
    """Two overlapping disks (balls when ``shape`` is 3D) along the last axis,
    as an image (bright domes, half as bright at the rim as at the centre, on a
    dark, slightly noisy background) and labels."""
    grids = np.indices(shape)
    centre = np.array(shape) / 2
    first, second = centre.copy(), centre.copy()
    first[-1] -= gap / 2
    second[-1] += gap / 2
    d1 = np.sqrt(sum((g - c) ** 2 for g, c in zip(grids, first)))
    d2 = np.sqrt(sum((g - c) ** 2 for g, c in zip(grids, second)))
    labels = np.zeros(shape, dtype=np.int32)
    labels[d1 <= radius] = 1
    labels[(d2 <= radius) & (d2 < d1)] = 2
    noise = np.random.default_rng(0).normal(0, 5, shape)
    nearest = np.minimum(d1, d2) / radius
    image = (100 + 900 * (labels > 0) * (1 - nearest**2 / 2) + noise).astype(np.uint16)
    return image, labels


def test_registered_as_builtin_segmenter():
    assert load_registry().get("segmenter", "otsu-watershed").cls is OtsuWatershed


def test_f1_on_the_clean_variant():
    samples = list(Procedural(**documented_variant("nuclei-clean")).generate(4, seed=0))
    assert pooled_f1(samples, OtsuWatershed()) > 0.95


def test_f1_on_the_crowded_noisy_variant():
    samples = list(Procedural(**documented_variant("nuclei-crowded-noisy")).generate(3, seed=0))
    f1 = pooled_f1(samples, OtsuWatershed())
    assert 0.6 < f1 < 0.9  # a hard variant: the baseline is far from perfect
    assert pooled_f1(samples, OtsuWatershed(threshold_method="li")) > f1


@pytest.mark.parametrize("seeds", ["distance", "intensity"])
def test_splits_two_touching_disks(seeds):
    image, truth = two_touching()
    labels = OtsuWatershed(seeds=seeds).predict(image)
    assert labels.dtype == np.int32 and labels.shape == image.shape
    assert labels.max() == 2
    rows = match(truth, labels, (0.8,))
    assert rows[0]["tp"] == 2


def test_one_seed_does_not_split_touching_disks():
    image, _ = two_touching()
    assert OtsuWatershed(min_distance=30).predict(image).max() == 1


def test_splits_two_touching_balls_in_3d():
    image, truth = two_touching(shape=(24, 32, 48), radius=9, gap=15)
    labels = OtsuWatershed(sigma=[0.5, 1.0, 1.0]).predict(image)
    assert labels.dtype == np.int32 and labels.shape == (24, 32, 48)
    assert match(truth, labels, (0.8,))[0]["tp"] == 2


def test_anisotropy_keeps_flat_nuclei_whole_in_3d():
    # z steps 4x the pixel size: nuclei are a few slices deep and wide across
    samples = list(Procedural(shape=[24, 96, 96], n_objects=10, radius=9.0).generate(2, seed=0))
    assert samples[0].spacing == (2.0, 0.5, 0.5)
    isotropic = pooled_f1(samples, OtsuWatershed())
    anisotropic = pooled_f1(samples, OtsuWatershed(anisotropy=4.0))
    assert anisotropic > 0.85 and anisotropic > isotropic + 0.3


def test_anisotropy_returns_labels_of_the_input_shape():
    image, truth = two_touching(shape=(7, 32, 48), radius=9, gap=15)
    labels = OtsuWatershed(anisotropy=2.5).predict(image)
    assert labels.shape == (7, 32, 48) and labels.dtype == np.int32
    assert OtsuWatershed(anisotropy=2.5).predict(image[:, :, :20].copy()).shape == (7, 32, 20)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32, np.float64])
def test_any_real_dtype_gives_int32_labels(dtype):
    image, _ = two_touching()
    labels = OtsuWatershed().predict((image // 8).astype(dtype))
    assert labels.dtype == np.int32 and labels.max() == 2


def test_constant_and_empty_images_give_no_objects():
    for image in (np.zeros((32, 32), np.uint16), np.full((8, 32, 32), 7.0)):
        labels = OtsuWatershed().predict(image)
        assert labels.shape == image.shape and labels.dtype == np.int32 and labels.max() == 0


def test_min_size_removes_small_objects_and_ids_stay_contiguous():
    image = np.full((40, 40), 10, np.uint16)
    image[5:15, 5:15] = 1000  # 100 px
    image[25:28, 25:28] = 1000  # 9 px
    image[30:38, 5:13] = 1000  # 64 px
    labels = OtsuWatershed(sigma=0, min_size=20).predict(image)
    assert sorted(np.bincount(labels.ravel())[1:]) == [64, 100]
    assert set(np.unique(labels)) == {0, 1, 2}
    assert OtsuWatershed(sigma=0, min_size=0).predict(image).max() == 3


def test_fill_holes():
    image = np.full((40, 40), 10, np.uint16)
    image[10:30, 10:30] = 1000
    image[18:22, 18:22] = 10  # a hole
    filled = OtsuWatershed(sigma=0, min_distance=20).predict(image)
    kept = OtsuWatershed(sigma=0, min_distance=20, fill_holes=False).predict(image)
    assert filled[20, 20] == 1 and (filled > 0).sum() == 400
    assert kept[20, 20] == 0 and (kept > 0).sum() == 384


def test_threshold_factor_shrinks_objects():
    image, _ = two_touching()  # dome-shaped: a higher threshold keeps a smaller core
    lenient = (OtsuWatershed(threshold_factor=0.8).predict(image) > 0).sum()
    default = (OtsuWatershed().predict(image) > 0).sum()
    strict = (OtsuWatershed(threshold_factor=1.3).predict(image) > 0).sum()
    assert strict < default < lenient


def test_unknown_parameter_is_refused():
    with pytest.raises(TypeError, match="threshold"):
        OtsuWatershed(threshold=0.5)
    assert set(OtsuWatershed.constructor_params()) == {
        "sigma", "threshold_method", "threshold_factor", "seeds", "min_distance", "min_size",
        "fill_holes", "anisotropy",
    }
    assert OtsuWatershed.postprocess_params() == ()


@pytest.mark.parametrize(
    "params, message",
    [
        ({"sigma": -1}, "parameter 'sigma' must be a number in [0, inf), got -1"),
        ({"sigma": [1, 1, 1, 1]}, "parameter 'sigma' must be a number or a list of 2 or 3"),
        ({"threshold_method": "triangle"}, "parameter 'threshold_method' must be one of 'otsu', 'li'"),
        ({"threshold_factor": 0}, "parameter 'threshold_factor' must be a number in (0, inf)"),
        ({"seeds": "h-maxima"}, "parameter 'seeds' must be one of 'distance', 'intensity'"),
        ({"min_distance": 0}, "parameter 'min_distance' must be an integer in [1, inf)"),
        ({"min_size": 2.5}, "parameter 'min_size' must be an integer"),
        ({"fill_holes": "yes"}, "parameter 'fill_holes' must be true or false"),
        ({"anisotropy": 0}, "parameter 'anisotropy' must be a number in (0, inf)"),
    ],
)
def test_bad_parameters_are_refused_naming_them(params, message):
    with pytest.raises(SegbenchError) as info:
        OtsuWatershed(**params)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros(16), "'image' must be a 2D (Y, X) or 3D (Z, Y, X) array"),
        (np.zeros((2, 3, 16, 16)), "got shape (2, 3, 16, 16)"),
        (np.zeros((16, 16), bool), "dtype bool"),
    ],
)
def test_bad_images_are_refused(image, message):
    with pytest.raises(SegbenchError) as info:
        OtsuWatershed().predict(image)
    assert message in str(info.value)


def test_per_axis_sigma_must_match_the_image():
    with pytest.raises(SegbenchError, match="'sigma' has 3 values for a 2D image"):
        OtsuWatershed(sigma=[1, 1, 1]).predict(np.zeros((16, 16)))


def test_every_parameter_is_documented():
    names = set(OtsuWatershed.constructor_params())
    docstring = parameter_docs(OtsuWatershed)
    assert set(docstring) == names and all(text for _, text in docstring.values())
    table = DOCS.read_text(encoding="utf-8").split("## `otsu-watershed`")[1]
    assert names <= set(re.findall(r"^\| `(\w+)` \|", table, flags=re.M))
