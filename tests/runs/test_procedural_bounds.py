"""Procedural parameters are bounded by what the image can hold (issue 22).

Values that hung, exhausted memory, traced back or silently produced nothing
are refused when the generator is made, with one line naming the key, the
value, the bound and what to do; objects that do not fit are reported once per
dataset with the count actually placed. Defaults, the shipped suites' values
and fitted values stay accepted.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import ndimage

from segbench.builtin.procedural import Procedural
from segbench.builtin.synth.optics import expose
from segbench.builtin.synth.spots import _peak
from segbench.errors import SegbenchError

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"shape": [48, 48], "n_objects": 5}

#: (params, key, bound as printed, fix): each refused in one line
REFUSED = [
    ({"aspect_ratio": 1e12}, "aspect_ratio", "at most 400", "lower aspect_ratio or raise radius"),
    ({"aspect_ratio": [1.0, 1e3]}, "aspect_ratio", "at most 400", "lower aspect_ratio"),
    ({"min_gap": 1e5}, "min_gap", "at most 48", "lower min_gap"),
    ({"n_control_points": 10**8}, "n_control_points", "at most 256", "lower n_control_points"),
    ({"psf_sigma": 1e6}, "psf_sigma", "at most 48", "lower psf_sigma"),
    ({"spot_sigma": 1e6, "spots_per_object": 1}, "spot_sigma", "at most 48", "lower spot_sigma"),
    ({"n_clusters": 10**9, "placement": "clustered"}, "n_clusters", "at most 2304", "lower n_clusters"),
    ({"n_clusters": 10**9}, "n_clusters", "at most 2304", "lower n_clusters"),
    ({"spots_per_object": 1e9}, "spots_per_object", "at most 314", "lower spots_per_object"),
    ({"intensity": 1e308}, "intensity", "at most 1e+09", "lower intensity"),
    ({"background": 1e300}, "background", "at most 1e+09", "lower background"),
    ({"spot_intensity": 1e300}, "spot_intensity", "at most 1e+09", "lower spot_intensity"),
    ({"read_noise": 1e300}, "read_noise", "at most 1e+09", "lower read_noise"),
    ({"intensity_cv": 1e300}, "intensity_cv", "at most 10", "lower intensity_cv"),
    ({"texture_strength": 1e300}, "texture_strength", "at most 10", "lower texture_strength"),
    ({"background_variation": 1e300}, "background_variation", "at most 10", "lower background_variation"),
    ({"radius": 1e300}, "radius", "at most 48", "lower radius or enlarge shape"),
    ({"radius_std": 1e300}, "radius_std", "at most 48", "lower radius_std"),
    ({"cluster_spread": 1e300, "placement": "clustered"}, "cluster_spread", "at most 48", "lower cluster_spread"),
    ({"spot_covariance": 1e300}, "spot_covariance", "at most 2304", "lower spot_covariance"),
    ({"gain": 1e300}, "gain", "at most 1e+06", "lower gain"),
    ({"gain": 1e-300}, "gain", "at least 0.0001", "raise gain"),
    ({"pixel_size": 1e-300}, "pixel_size", "at least 0.0001", "give pixel_size in micrometres"),
    ({"pixel_size": 1e300}, "pixel_size", "at most 10000", "give pixel_size in micrometres"),
    ({"z_step": 1e300}, "z_step", "at most 10000", "give z_step in micrometres"),
    ({"shape": [8, 32, 32], "z_step": 1000.0}, "z_step", "[0.01, 100]", "bring z_step and pixel_size closer"),
    ({"shape": [8, 32, 32], "pixel_size": 1000.0}, "z_step", "[0.01, 100]", "bring z_step and pixel_size closer"),
    ({"shape": [8, 32, 32], "psf_sigma_z": 1e6}, "psf_sigma_z", "at most 8", "lower psf_sigma_z"),
    ({"shape": [100000, 100000], "n_objects": 1}, "shape", "134,217,728", "make the images smaller"),
]


@pytest.mark.parametrize("params, key, bound, fix", REFUSED, ids=[f"{c[1]}={list(c[0].values())[0]}" for c in REFUSED])
def test_out_of_bounds_is_one_line(params, key, bound, fix):
    with pytest.raises(SegbenchError) as err:  # refused by the constructor, before any image is drawn
        Procedural(**{**SMALL, **params})
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{key}: "), message
    assert bound in message and fix in message, message


def test_the_issue_cases_name_value_and_bound():
    with pytest.raises(SegbenchError, match=r"^min_gap: 100000 px is wider than the \[48, 48\] image \(at most 48\); lower min_gap$"):
        Procedural(**SMALL, min_gap=1e5)
    with pytest.raises(SegbenchError, match=r"^aspect_ratio: 1e\+12 makes objects of radius 10 px 2e-05 px across"):
        Procedural(**SMALL, aspect_ratio=1e12)
    with pytest.raises(SegbenchError, match=r"^intensity: 1e\+308 e-/px .*\(at most 1e\+09\); lower intensity$"):
        Procedural(**SMALL, intensity=1e308)
    with pytest.raises(SegbenchError, match=r"^n_control_points: 100000000 is more than the 256 angles"):
        Procedural(**SMALL, n_control_points=10**8)


def test_a_suite_user_gets_the_key_in_one_line(tmp_path):
    """What `segbench run` prints as `failed: ...` for the dataset (the registry
    stubbed: loading every plugin takes seconds)."""
    from types import SimpleNamespace

    from segbench.errors import SegbenchError
    from segbench.run.data import prepare_dataset
    from segbench.suite import DatasetSpec

    info = SimpleNamespace(cls=Procedural, distribution="segbench", version="test")
    registry = SimpleNamespace(get=lambda kind, name: info)
    spec = DatasetSpec("far", "generator", "procedural", {"n_images": 2, "shape": [48, 48], "min_gap": 1e5}, None)
    with pytest.raises(SegbenchError) as err:
        prepare_dataset(spec, 0, tmp_path, registry)
    assert str(err.value) == ("datasets.far.params: generator 'procedural' rejected them: min_gap: 100000 px "
                              "is wider than the [48, 48] image (at most 48); lower min_gap")


def test_a_shortfall_is_reported_once_per_dataset_with_the_count(caplog):
    caplog.set_level(logging.WARNING, logger="segbench")
    samples = list(Procedural(**SMALL, min_gap=30.0).generate(3, seed=0))
    placed = np.mean([s.labels.max() for s in samples])
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1, messages
    assert messages[0] == (f"procedural: placed {placed:.3g} of 5 nuclei per image on average: "
                           "min_gap 30 px leaves no room; lower min_gap or n_objects")


def test_crowding_names_its_cause(caplog):
    caplog.set_level(logging.WARNING, logger="segbench")
    list(Procedural(shape=[32, 32], n_objects=20, radius=4.0, radius_std=0.0).generate(2, seed=0))
    list(Procedural(shape=[64, 64], n_objects=40, radius=4.0, placement="clustered", n_clusters=1,
                    cluster_spread=3.0).generate(2, seed=0))
    first, second = (r.getMessage() for r in caplog.records)
    assert "the [32, 32] image is too full for objects of radius 4 px 2 px apart; lower n_objects" in first
    assert "1 clusters of spread 3 px are too crowded" in second and "raise cluster_spread" in second


def test_no_report_when_everything_fits(caplog):
    caplog.set_level(logging.WARNING, logger="segbench")
    list(Procedural(shape=[96, 96], n_objects=8, radius=8.0).generate(3, seed=5))
    list(Procedural(shape=[48, 48], n_objects=0).generate(2, seed=0))
    list(Procedural(**SMALL).generate(0, seed=0))
    assert not caplog.records


def _suite_params() -> list[dict]:
    found = []
    for path in sorted((ROOT / "suites").glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text())["datasets"]:
            if entry.get("generator") == "procedural":
                found.append({k: v for k, v in (entry.get("params") or {}).items() if k != "n_images"})
    return found


def test_defaults_shipped_suites_and_fits_stay_accepted():
    assert len(_suite_params()) >= 2
    for params in [{}, *_suite_params()]:
        Procedural(**params)
    # docs/procedural.md: the fit on 300 images of the 2018 Data Science Bowl, and the fit test's truth
    Procedural(radius=12.0, radius_std=2.8, scale_variation=0.54, scale_density_exponent=0.61,
               aspect_ratio=[1.0, 1.85], irregularity=0.10, n_objects=[5, 37], touching_fraction=0.13,
               touching_variation=0.21, intensity=486.0, intensity_cv=0.36, exposure_variation=0.59,
               texture_strength=0.21, texture_variation=0.45, psf_sigma=1.6, psf_scale_exponent=0.53,
               gain=0.088, offset=0.0)
    Procedural(shape=[128, 128], radius=8.0, radius_std=1.5, aspect_ratio=[1.0, 1.6], irregularity=0.08,
               n_objects=[10, 16], touching_fraction=0.3, touching_overlap=0.2, intensity=400.0,
               intensity_cv=0.3, texture_strength=0.2, background=30.0, illumination_falloff=0.2,
               background_variation=0.1, psf_sigma=1.5, gain=2.0, offset=200.0, read_noise=3.0)
    # the fit's calibration bounds that do not depend on the image
    Procedural(gain=1e-3, intensity=1e7, background=1e7, intensity_cv=10.0, texture_strength=10.0,
               background_variation=10.0, aspect_ratio=[1.0, 7.0], radius=2.0, n_clusters=8,
               placement="clustered")
    # docs: spots, and the 3D variant
    Procedural(spots_per_object=4, spot_covariance=[[4.0, 0.0], [0.0, 40.0]], spot_intensity=400.0)
    Procedural(shape=[32, 256, 256], z_step=1.0, pixel_size=0.25, psf_sigma_z=1.5)


def test_values_at_the_bounds_generate():
    for params in [
        {"psf_sigma": 48.0}, {"spot_sigma": 48.0, "spots_per_object": 2.0}, {"n_control_points": 256},
        {"n_clusters": 2304, "placement": "clustered"}, {"spots_per_object": 314.0}, {"intensity": 1e9},
        {"intensity": 1e9, "intensity_cv": 10.0, "exposure_variation": 3.0}, {"aspect_ratio": 400.0},
        {"min_gap": 48.0}, {"cluster_spread": 48.0, "placement": "clustered"}, {"spot_covariance": 2304.0,
        "spots_per_object": 3.0}, {"gain": 1e6, "read_noise": 1e9}, {"gain": 1e-4},
        {"background": 1e9, "background_variation": 10.0}, {"texture_strength": 10.0, "texture_variation": 2.0},
        {"shape": [8, 32, 32], "psf_sigma_z": 8.0, "spot_sigma": 32.0, "spots_per_object": 1.0},
        {"shape": [8, 32, 32], "z_step": 50.0}, {"shape": [8, 32, 32], "pixel_size": 100.0, "z_step": 1.0},
    ]:
        sample = next(Procedural(**{**SMALL, **params}).generate(1, seed=0))
        assert sample.image.dtype == np.uint16 and sample.image.shape == tuple(params.get("shape", SMALL["shape"])), params


def test_an_image_scale_never_blurs_beyond_the_image(monkeypatch):
    import segbench.builtin.procedural as procedural

    sigmas = []
    real_blur = procedural.blur
    monkeypatch.setattr(procedural, "blur", lambda light, sigma: sigmas.append(sigma) or real_blur(light, sigma))
    generator = Procedural(shape=[32, 32], n_objects=2, radius=3.0, scale_variation=2.0, psf_scale_exponent=2.0,
                           scale_density_exponent=0.0)
    list(generator.generate(10, seed=0))
    assert len(sigmas) == 10 and max(max(s) for s in sigmas) <= 32  # capped at the image's side


def test_an_image_scale_never_asks_for_more_objects_than_fit(monkeypatch):
    """A small scale divides the count by scale**2 (here 2461 objects of 2 px in a
    12 x 12 image): no more are drawn than the image may be asked to hold."""
    import segbench.builtin.procedural as procedural

    drawn = []
    real_shape = procedural.random_shape
    monkeypatch.setattr(procedural, "random_shape", lambda *args: drawn.append(args) or real_shape(*args))
    generator = Procedural(shape=[12, 12], n_objects=1, radius=2.0, radius_std=0.0, scale_variation=2.0)
    rendering = generator.render(0, 3)
    assert rendering.n_requested > 8 * 12 * 12 / (np.pi * 2**2)
    assert 0 < len(drawn) <= procedural._room(procedural._MIN_RADIUS, (12, 12))  # the most any radius may ask for


def test_small_images_accept_the_defaults():
    for shape in ([1, 1], [4, 4], [1, 1, 1], [2, 8, 8]):
        Procedural(shape=shape, n_objects=0)


def test_the_camera_saturates_instead_of_failing():
    rng = np.random.default_rng(0)
    image = expose(rng, np.full((2, 2), 1e30, dtype=np.float32), 1e-4, 0.0, 0.0)
    assert image.tolist() == [[65535, 65535], [65535, 65535]]


@pytest.mark.parametrize("sigmas", [[0.8, 0.8], [0.3, 2.2], [0.2, 0.8, 0.8], [1.7, 0.5, 3.1]])
def test_the_spot_peak_is_the_full_filter_s(sigmas):
    """The separable peak equals the one of an (8 sigma)**ndim float32 impulse, bit for bit."""
    sigmas = np.asarray(sigmas)
    half = np.ceil(4 * sigmas).astype(int)
    impulse = np.zeros(tuple(2 * half + 1), dtype=np.float32)
    impulse[tuple(half)] = 1.0
    full = float(ndimage.gaussian_filter(impulse, sigmas, mode="constant")[tuple(half)])
    assert _peak(sigmas) == full


def test_a_shortfall_reaches_the_run_summary_and_every_rerun(tmp_path, capsys):
    """Under `segbench run` the live display would swallow a logged warning: the
    runner collects it as the dataset's warning (terminal, run.json) and keeps
    it in the dataset's marker, so a warm rerun says it again."""
    import json

    from segbench.cli import main

    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"name: gap\noutput: {tmp_path / 'out'}\n"
        "datasets:\n  - name: far\n    generator: procedural\n"
        "    params: {n_images: 2, shape: [48, 48], n_objects: 5, radius: 4.0, min_gap: 30.0}\n"
        "segmenters:\n  - name: otsu-watershed\nexecutor: {kind: local}\n"
    )
    expected = "datasets.far: procedural: placed"
    for _ in range(2):  # cold, then warm
        main(["run", str(suite), "--no-html", "--no-plots"])
        err = " ".join(capsys.readouterr().err.split())
        assert expected in err and "lower min_gap or n_objects" in err
        run = json.loads((tmp_path / "out" / "run.json").read_text())
        assert sum(expected in w for w in run["warnings"]) == 1
