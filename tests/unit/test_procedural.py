"""The ``procedural`` generator: determinism, shapes, exact labels, layout
control, spots, the camera model, and parameter validation."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import ndimage

from segbench import Sample
from segbench.builtin.procedural import Procedural
from segbench.cli.generate import parameter_docs
from segbench.errors import SegbenchError
from segbench.plugins import load_registry

DOCS = Path(__file__).resolve().parents[2] / "docs" / "procedural.md"
SMALL = dict(shape=[96, 96], n_objects=8, radius=8.0)


def touching_fraction(labels: np.ndarray) -> float:
    """Fraction of objects with a pixel next to (diagonals included) another object's."""
    footprint = np.ones((3,) * labels.ndim, dtype=bool)
    above = labels.max() + 1
    largest = ndimage.maximum_filter(labels, footprint=footprint, mode="constant")
    smallest = ndimage.minimum_filter(
        np.where(labels == 0, above, labels), footprint=footprint, mode="constant", cval=above
    )
    touching = np.unique(labels[(labels > 0) & ((largest > labels) | (smallest < labels))])
    return len(touching) / len(np.unique(labels[labels > 0]))


def assert_same(a: Sample, b: Sample) -> None:
    assert a.name == b.name and a.spacing == b.spacing
    assert a.image.dtype == b.image.dtype and a.labels.dtype == b.labels.dtype
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_registered_as_builtin_generator():
    assert load_registry().get("generator", "procedural").cls is Procedural


def test_same_seed_gives_bit_identical_samples():
    first = list(Procedural(**SMALL).generate(3, seed=7))
    second = list(Procedural(**SMALL).generate(3, seed=7))
    assert [s.name for s in first] == ["img0000", "img0001", "img0002"]
    for a, b in zip(first, second):
        assert_same(a, b)


def test_different_seeds_and_indices_give_different_images():
    a, b = Procedural(**SMALL).generate(2, seed=1)
    (c,) = Procedural(**SMALL).generate(1, seed=2)
    assert not np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)
    assert not np.array_equal(a.labels, c.labels)


def test_image_i_does_not_depend_on_n():
    short = list(Procedural(**SMALL).generate(2, seed=3))
    long = list(Procedural(**SMALL).generate(4, seed=3))
    for a, b in zip(short, long):
        assert_same(a, b)


def test_2d_shapes_dtypes_and_spacing():
    (sample,) = Procedural(shape=[64, 80], n_objects=4, radius=6.0, pixel_size=0.3).generate(1, 0)
    assert sample.image.shape == sample.labels.shape == (64, 80)
    assert sample.image.dtype == np.uint16 and sample.labels.dtype == np.uint16
    assert sample.spacing == (0.3, 0.3)


def test_3d_shapes_spacing_and_anisotropic_objects():
    gen = Procedural(shape=[16, 64, 64], n_objects=6, radius=9.0, radius_std=0.0, aspect_ratio=1.0,
                     irregularity=0.0, touching_fraction=0.0, pixel_size=0.25, z_step=1.0)
    (sample,) = gen.generate(1, seed=0)
    assert sample.image.shape == sample.labels.shape == (16, 64, 64)
    assert sample.image.dtype == np.uint16 and sample.labels.dtype == np.uint16
    assert sample.spacing == (1.0, 0.25, 0.25)
    # a ball of radius 9 lateral pixels reaches 9 / 4 slices from its centre;
    # its widest slice is at most half a slice (2 px) off the centre
    boxes = ndimage.find_objects(sample.labels)
    whole = [b for b in boxes if b[0].start > 0 and b[0].stop < 16 and b[1].start > 0 and b[1].stop < 64]
    assert whole
    for box in whole:
        assert box[1].stop - box[1].start in (17, 18)  # rows within sqrt(9**2 - 2**2) px
        assert box[0].stop - box[0].start in (4, 5)  # slices within 9 / 4 of the centre


def test_labels_are_exact_and_consistent():
    gen = Procedural(shape=[128, 128], n_objects=12, touching_fraction=0.5, spots_per_object=2)
    rendering = gen.render(seed=4, index=0)
    labels = rendering.sample.labels
    # the signal before blur is positive exactly on the labelled pixels
    np.testing.assert_array_equal(rendering.signal > 0, labels > 0)
    ids = np.unique(labels[labels > 0])
    np.testing.assert_array_equal(ids, np.arange(1, 13))
    full = np.ones((3, 3), dtype=bool)
    for i, box in enumerate(ndimage.find_objects(labels), start=1):
        assert box is not None
        assert ndimage.label(labels[box] == i, structure=full)[1] == 1


def test_labels_do_not_depend_on_appearance_and_noise_parameters():
    layout = dict(SMALL, touching_fraction=0.4)
    plain = next(Procedural(**layout).generate(1, seed=5))
    noisy = next(Procedural(**layout, intensity=50.0, read_noise=8.0, psf_sigma=2.0,
                            illumination_falloff=0.5).generate(1, seed=5))
    np.testing.assert_array_equal(plain.labels, noisy.labels)
    assert not np.array_equal(plain.image, noisy.image)


def test_per_image_scale_keeps_sizes_within_an_image_and_coverage():
    varied = Procedural(shape=[128, 128], n_objects=20, radius=6.0, radius_std=0.3, touching_fraction=0.0,
                        scale_variation=0.5)
    means, counts, coverage = [], [], []
    for i in range(8):
        labels = varied.layout(seed=2, index=i)
        areas = np.bincount(labels.ravel())[1:]
        radii = np.sqrt(areas / np.pi)
        assert radii.std() / radii.mean() < 0.2  # one image: one scale
        means.append(radii.mean())
        counts.append(len(areas))
        coverage.append(areas.sum())
    # images differ in scale, and the object count falls with the square of it
    assert max(means) / min(means) > 1.5
    assert np.corrcoef(np.log(means), np.log(counts))[0, 1] < -0.8
    assert max(coverage) / min(coverage) < 2.5


def test_per_image_exposure_scales_signal_and_background_only():
    base = dict(SMALL, background=40.0, psf_sigma=0.0)
    plain = Procedural(**base).render(seed=3, index=1)
    exposed = Procedural(**base, exposure_variation=1.0).render(seed=3, index=1)
    np.testing.assert_array_equal(plain.sample.labels, exposed.sample.labels)
    factor = exposed.expected / plain.expected
    assert factor.std() < 1e-4 * factor.mean() and abs(np.log(factor.mean())) > 1e-3
    np.testing.assert_allclose(exposed.signal, plain.signal * factor.mean(), rtol=1e-4)


def test_no_per_image_variation_leaves_images_as_they_were():
    """The per-image factors come from their own stream: without variation an
    image is bit-identical to the one drawn without the parameters."""
    a = next(Procedural(**SMALL).generate(1, seed=9))
    b = next(Procedural(**SMALL, scale_variation=0.0, exposure_variation=0.0).generate(1, seed=9))
    np.testing.assert_array_equal(a.image, b.image)
    c = next(Procedural(**SMALL, exposure_variation=0.5).generate(1, seed=9))
    np.testing.assert_array_equal(a.labels, c.labels)


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.6, 1.0])
def test_touching_fraction_is_as_requested_2d(fraction):
    gen = Procedural(shape=[256, 256], n_objects=30, touching_fraction=fraction)
    for sample in gen.generate(2, seed=0):
        assert sample.labels.max() == 30
        assert touching_fraction(sample.labels) == pytest.approx(round(fraction * 30) / 30)


def test_touching_fraction_is_as_requested_3d():
    gen = Procedural(shape=[24, 96, 96], n_objects=10, radius=8.0, touching_fraction=0.4)
    sample = next(gen.generate(1, seed=1))
    assert sample.labels.max() == 10
    assert touching_fraction(sample.labels) == pytest.approx(0.4)


def test_crowded_images_place_what_fits():
    gen = Procedural(shape=[96, 96], n_objects=60, radius=8.0)
    labels = next(gen.generate(1, seed=0)).labels
    assert 10 < labels.max() < 60
    np.testing.assert_array_equal(np.unique(labels[labels > 0]), np.arange(1, labels.max() + 1))


def test_clustered_placement_brings_objects_together():
    def mean_neighbour_distance(placement):
        gen = Procedural(shape=[256, 256], n_objects=20, radius=6.0, placement=placement,
                         n_clusters=1, cluster_spread=25.0, touching_fraction=0.0)
        labels = next(gen.generate(1, seed=0)).labels
        centres = np.array(ndimage.center_of_mass(labels > 0, labels, range(1, labels.max() + 1)))
        distances = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        np.fill_diagonal(distances, np.inf)
        return distances.min(axis=1).mean()

    assert mean_neighbour_distance("clustered") < 0.6 * mean_neighbour_distance("random")


def test_spots_lie_inside_their_objects_and_only_there():
    spotted = dict(SMALL, spots_per_object=3, spot_intensity=500.0, spot_sigma=1.0)
    rendering = Procedural(**spotted).render(seed=0, index=0)
    plain = Procedural(**dict(spotted, spots_per_object=0)).render(seed=0, index=0)
    labels = rendering.sample.labels
    assert len(rendering.spots) > 5 and len(plain.spots) == 0
    pixels = tuple(np.rint(rendering.spots).astype(int).T)
    np.testing.assert_array_equal(labels[pixels], rendering.spot_labels)
    assert np.all(rendering.spot_labels > 0)
    spots_signal = rendering.signal - plain.signal
    assert np.all(spots_signal[labels == 0] == 0)
    assert spots_signal.max() >= 500.0 * 0.999
    assert np.all(spots_signal[pixels] >= 500.0 * 0.999)


def test_stretched_spot_clouds_follow_the_covariance():
    gen = Procedural(shape=[256, 256], n_objects=10, radius=14.0, aspect_ratio=1.0,
                     touching_fraction=0.0, spots_per_object=30,
                     spot_covariance=[[2.0, 0.0], [0.0, 60.0]])
    rendering = gen.render(seed=0, index=0)
    labels = rendering.sample.labels
    centres = np.array(ndimage.center_of_mass(labels > 0, labels, range(1, labels.max() + 1)))
    offsets = rendering.spots - centres[rendering.spot_labels - 1]
    spread_y, spread_x = offsets.std(axis=0)
    assert spread_x > 3 * spread_y


def test_camera_model_mean_and_variance():
    # background only, flat, no blur: ADU = gain * Poisson(100) + offset
    gen = Procedural(shape=[128, 128], n_objects=0, background=100.0, background_variation=0.0,
                     psf_sigma=0.0, gain=2.0, read_noise=0.0, offset=50.0)
    image = next(gen.generate(1, seed=0)).image.astype(float)
    assert image.mean() == pytest.approx(250.0, rel=0.005)
    assert image.var() == pytest.approx(400.0, rel=0.05)
    assert np.all((image - 50) % 2 == 0)


def test_read_noise_adds_variance():
    gen = Procedural(shape=[128, 128], n_objects=0, background=100.0, background_variation=0.0,
                     psf_sigma=0.0, gain=1.0, read_noise=10.0, offset=100.0)
    image = next(gen.generate(1, seed=0)).image.astype(float)
    assert image.var() == pytest.approx(100.0 + 100.0, rel=0.05)


def test_uneven_illumination_falloff():
    gen = Procedural(shape=[128, 128], n_objects=0, background=100.0, background_variation=0.0,
                     illumination_falloff=0.6)
    expected = gen.render(seed=0, index=0).expected
    assert expected.max() == pytest.approx(100.0, rel=0.01)
    assert expected.min() == pytest.approx(40.0, rel=0.03)


def test_quantisation_clips_to_uint16():
    gen = Procedural(**SMALL, intensity=1e6, gain=10.0)
    image = next(gen.generate(1, seed=0)).image
    assert image.dtype == np.uint16 and image.max() == 65535


@pytest.mark.parametrize(
    "params, message",
    [
        ({"shape": [0, 64]}, "parameter 'shape' must be a list of 2 (Y, X) or 3 (Z, Y, X) integers >= 1"),
        ({"shape": [64]}, "parameter 'shape'"),
        ({"touching_fraction": 1.5}, "parameter 'touching_fraction' must be a number in [0, 1], got 1.5"),
        ({"placement": "grid"}, "parameter 'placement' must be one of 'random', 'clustered', got 'grid'"),
        ({"n_objects": [9, 3]}, "parameter 'n_objects' must be a [low, high] pair with low <= high"),
        ({"n_objects": 2.5}, "parameter 'n_objects' must be an integer"),
        ({"radius": True}, "parameter 'radius' must be a number in [2, inf)"),
        ({"aspect_ratio": 0.5}, "parameter 'aspect_ratio' must be a number in [1, inf)"),
        ({"gain": 0}, "parameter 'gain' must be a number in (0, inf)"),
        ({"psf_sigma": "wide"}, "parameter 'psf_sigma'"),
        ({"spot_covariance": [[1, 2], [2, 1]]}, "parameter 'spot_covariance' must be a variance > 0 "
         "or a symmetric positive definite 2x2 matrix"),
        ({"spot_covariance": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}, "parameter 'spot_covariance'"),
        ({"scale_variation": -0.1}, "parameter 'scale_variation' must be a number in [0, 2]"),
        ({"exposure_variation": 4}, "parameter 'exposure_variation' must be a number in [0, 3]"),
    ],
)
def test_bad_parameters_are_refused_naming_them(params, message):
    with pytest.raises(SegbenchError) as info:
        Procedural(**params)
    assert message in str(info.value)


def test_unknown_parameter_is_refused():
    with pytest.raises(TypeError, match="n_images"):
        Procedural(n_images=4)


@pytest.mark.parametrize("n, seed, name", [(-1, 0, "'n'"), (2, -3, "'seed'"), (1.5, 0, "'n'")])
def test_generate_validates_n_and_seed(n, seed, name):
    with pytest.raises(SegbenchError, match=name):
        list(Procedural(**SMALL).generate(n, seed))


def test_every_parameter_is_documented():
    names = set(Procedural.constructor_params())
    docstring = parameter_docs(Procedural)
    assert set(docstring) == names
    assert all(text for _, text in docstring.values())
    table = set(re.findall(r"^\| `(\w+)` \|", DOCS.read_text(encoding="utf-8"), flags=re.M))
    assert names <= table


def test_documented_variants_are_valid():
    variants = documented_variants()
    assert set(variants) == {"nuclei-clean", "nuclei-crowded-noisy"}
    for params in variants.values():
        sample = next(Procedural(**params).generate(1, seed=0))
        assert sample.labels.max() > 0


def documented_variants() -> dict[str, dict]:
    """The generator params of the named yaml examples in docs/procedural.md
    (without ``n_images``, which is ``generate``'s ``n``)."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)
    variants = {}
    for block in map(yaml.safe_load, blocks):
        if "name" in block:
            params = dict(block["params"])
            params.pop("n_images")
            variants[block["name"]] = params
    return variants
