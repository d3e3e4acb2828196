"""The ``procedural`` parameters behind the difficulty features (per-image
touching and texture variation, a PSF that follows the image's scale): default
images unchanged, bounds, and what they do (their fit: ``test_procedural_fit.py``)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from segbench.builtin.procedural import Procedural
from segbench.difficulty import difficulty_features
from segbench.errors import SegbenchError

#: sha256 (first 16 hex digits) of image bytes + label bytes, recorded before these
#: parameters existed: Procedural().generate(2, seed=0) and a small 96 x 96 setting
DEFAULT_HASHES = ["f5980c51b71a122c", "cc590aa149a6532b"]
SMALL_HASHES = ["e80ccf2c8d76d94f", "b33866f4cb36f4d6", "804f848ab19143b3"]


def _hashes(generator: Procedural, n: int, seed: int) -> list[str]:
    return [hashlib.sha256(s.image.tobytes() + s.labels.tobytes()).hexdigest()[:16]
            for s in generator.generate(n, seed)]


def test_default_images_are_bit_identical_to_before_these_parameters():
    assert _hashes(Procedural(), 2, 0) == DEFAULT_HASHES
    assert _hashes(Procedural(shape=[96, 96], n_objects=8, radius=8.0), 3, 5) == SMALL_HASHES


@pytest.mark.parametrize("name, value, bounds", [
    ("touching_variation", 0.6, "[0, 0.5]"), ("touching_variation", -0.1, "[0, 0.5]"),
    ("psf_scale_exponent", 2.5, "[0, 2]"), ("texture_variation", -1.0, "[0, 2]"),
])
def test_new_parameters_are_bounded_naming_the_key(name, value, bounds):
    with pytest.raises(SegbenchError) as err:
        Procedural(**{name: value})
    assert str(err.value) == f"parameter {name!r} must be a number in {bounds}, got {float(value)!r}"


def _per_image(generator: Procedural, n: int, key: str) -> np.ndarray:
    return np.array([difficulty_features(s.image, s.labels)[key] for s in generator.generate(n, 0)])


def test_touching_variation_spreads_the_per_image_fraction_around_its_mean():
    params = dict(shape=[192, 192], n_objects=30, radius=7.0, touching_fraction=0.3)
    steady = _per_image(Procedural(**params), 16, "touching")
    varied = _per_image(Procedural(**params, touching_variation=0.2), 16, "touching")
    assert steady.std() < 0.06
    assert 0.12 < varied.std() < 0.28
    assert abs(varied.mean() - steady.mean()) < 0.1


def test_psf_follows_the_scale_only_when_asked():
    params = dict(shape=[128, 128], n_objects=6, radius=8.0, scale_variation=0.5, psf_sigma=1.5)
    steady, follows = Procedural(**params), Procedural(**params, psf_scale_exponent=1.0)
    for index in range(4):
        a, b = steady.render(0, index), follows.render(0, index)
        np.testing.assert_array_equal(a.sample.labels, b.sample.labels)
        np.testing.assert_array_equal(a.signal, b.signal)
    widths = [(difficulty_features(a.image, a.labels)["edge_width"],
               np.sqrt(np.median(np.unique(a.labels[a.labels > 0], return_counts=True)[1])))
              for a in follows.generate(12, 0)]
    edge, radius = np.array(widths).T  # radius: proportional to the image's scale factor
    assert np.corrcoef(edge, radius)[0, 1] > 0.7  # magnified nuclei, wider edges


def test_texture_variation_changes_only_the_texture():
    params = dict(shape=[96, 96], n_objects=6, radius=10.0, texture_strength=0.2)
    steady, varied = Procedural(**params), Procedural(**params, texture_variation=0.5)
    a, b = steady.render(3, 0), varied.render(3, 0)
    np.testing.assert_array_equal(a.sample.labels, b.sample.labels)
    assert not np.array_equal(a.signal, b.signal)
    np.testing.assert_array_equal(a.signal > 0, b.signal > 0)
