"""Weights: pretrained names (online and offline), model folders, and parameter checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from segbench.errors import InputError, SegbenchError
from segbench_stardist import StarDistSegmenter

URL = "https://github.com/stardist/stardist-models/releases/download/v0.1/python_2D_versatile_fluo.zip"


@pytest.fixture
def offline(monkeypatch):
    """No network: the download inside keras.utils.get_file fails as it does offline."""
    import socket
    import urllib.error

    import keras.src.utils.file_utils as file_utils

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(file_utils, "urlretrieve", no_network)


def test_offline_pretrained_fails_with_one_clear_line(offline):
    segmenter = StarDistSegmenter(weights="2D_versatile_fluo")  # no download yet
    with pytest.raises(SegbenchError) as info:
        segmenter.predict(np.zeros((32, 32), np.uint16))
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "stardist: could not fetch the pretrained weights '2D_versatile_fluo' (URL fetch failure on "
        f"{URL}: None -- [Errno -2] Name or service not known); download {URL} where there is "
        "network, unzip it, and set weights to the unzipped folder (config.json + weights_best.h5)"
    )


def test_downloads_go_to_keras_home_not_the_home_directory(offline):
    with pytest.raises(SegbenchError, match="could not fetch"):
        StarDistSegmenter(weights="3D_demo").predict(np.zeros((8, 32, 32)))
    assert (Path(os.environ["KERAS_HOME"]) / "models" / "StarDist3D" / "3D_demo").is_dir()
    assert not (Path.home() / ".keras" / "models" / "StarDist3D" / "3D_demo").exists()


def test_pretrained_name_loads_through_from_pretrained(trained_2d, data_2d, tmp_path, monkeypatch):
    """Online path without network: get_file hands back an unpacked model folder."""
    import csbdeep.models.pretrained as pretrained

    _, workdir = trained_2d
    folder = tmp_path / "2D_demo"
    shutil.copytree(workdir / "stardist", folder)
    requested = []
    monkeypatch.setattr(pretrained, "get_file", lambda **kw: requested.append(kw) or str(folder))
    segmenter = StarDistSegmenter(weights="2D_demo")
    image = data_2d[1][0].image
    np.testing.assert_array_equal(segmenter.predict(image), StarDistSegmenter(weights=folder).predict(image))
    assert requested[0]["fname"] == "2D_demo.zip" and requested[0]["cache_subdir"] == "models/StarDist2D/2D_demo"
    assert segmenter.describe()["source"] == "pretrained:2D_demo"
    assert segmenter.thresholds == StarDistSegmenter(weights=folder).thresholds


def test_unknown_pretrained_name_lists_the_registered_ones():
    with pytest.raises(SegbenchError, match=r"unknown pretrained model '2D_versatile'; registered: .*2D_versatile_fluo.*3D_demo"):
        StarDistSegmenter(weights="2D_versatile").predict(np.zeros((32, 32)))


def test_model_dir_problems_name_the_folder(tmp_path, trained_2d):
    with pytest.raises(InputError, match=f"{tmp_path / 'missing'}: weights: not a folder"):
        StarDistSegmenter(weights=tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="weights: no config.json in the folder"):
        StarDistSegmenter(weights=tmp_path / "empty")
    _, workdir = trained_2d
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    shutil.copy(workdir / "stardist" / "config.json", no_weights)
    with pytest.raises(InputError, match=r"weights: no weights \(\*.h5\) in the folder"):
        StarDistSegmenter(weights=no_weights)
    (no_weights / "weights_best.h5").write_bytes(b"not hdf5")
    (no_weights / "config.json").write_text("{")
    with pytest.raises(InputError, match="config.json: not a StarDist config"):
        StarDistSegmenter(weights=no_weights)


def test_corrupt_weights_fail_with_the_folder_named(tmp_path, trained_2d):
    _, workdir = trained_2d
    folder = tmp_path / "corrupt"
    shutil.copytree(workdir / "stardist", folder)
    for weights in folder.glob("*.h5"):
        weights.write_bytes(b"not hdf5")
    with pytest.raises(InputError, match=f"{folder}: StarDist could not load this model"):
        StarDistSegmenter(weights=folder).predict(np.zeros((32, 32)))


def test_no_weights_at_all():
    with pytest.raises(SegbenchError, match="stardist: no weights; set weights .* or give the suite entry a train: key"):
        StarDistSegmenter().predict(np.zeros((32, 32)))
    assert StarDistSegmenter().describe()["source"] == "untrained (fit has not run)"


@pytest.mark.parametrize(
    "params, message",
    [
        ({"weights": ""}, "parameter 'weights' must be a StarDist model folder or a pretrained name"),
        ({"pmin": -1}, r"parameter 'pmin' must be a number in \[0, 100\], got -1"),
        ({"pmin": 50, "pmax": 40}, r"pmin \(50\) must be below pmax \(40\)"),
        ({"n_tiles": 0}, "parameter 'n_tiles' must be a positive integer or a list of them, got 0"),
        ({"n_tiles": [2, 1.5]}, "parameter 'n_tiles' must be a positive integer"),
        ({"scale": [1.0, -2.0]}, "parameter 'scale' must be a positive number or a list of them"),
        ({"spacing": "0.5"}, "parameter 'spacing' must be a positive number or a list of them"),
    ],
)
def test_constructor_checks_its_parameters(params, message):
    with pytest.raises(SegbenchError, match=message):
        StarDistSegmenter(**params)


def test_old_weight_names_are_renamed_to_weights():
    # a suite giving an old name is refused with the new one (tests/unit/test_renamed_params.py);
    # check_segmenter (test_stardist_contract.py) checks the old names are gone from the signature
    assert StarDistSegmenter.renamed_params == {"model": "weights", "model_dir": "weights"}


def test_scale_and_tiles_must_fit_the_image_axes(trained_2d):
    _, workdir = trained_2d
    image = np.zeros((64, 64), np.uint16)
    with pytest.raises(SegbenchError, match=r"scale has 3 values but the image has 2 spatial axes \(YX\)"):
        StarDistSegmenter(weights=workdir / "stardist", scale=[1, 1, 1]).predict(image)
    with pytest.raises(SegbenchError, match=r"n_tiles has 3 values but the image has 2 spatial axes \(YX\)"):
        StarDistSegmenter(weights=workdir / "stardist", n_tiles=[1, 1, 2]).predict(image)


def test_plugin_is_registered_without_importing_tensorflow():
    code = (
        "import sys\n"
        "from segbench.plugins import load_registry\n"
        "info = load_registry().get('segmenter', 'stardist')\n"
        "seg = info.cls(weights='2D_versatile_fluo')\n"
        "print(info.distribution, info.cls.postprocess_params(), 'tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[-2] == "segbench-stardist ('prob_thresh', 'nms_thresh') False"


def test_runner_parameter_routing():
    assert StarDistSegmenter.postprocess_params() == ("prob_thresh", "nms_thresh")
    assert StarDistSegmenter.constructor_params() == (
        "weights", "pmin", "pmax", "n_tiles", "scale", "spacing",
    )
    assert StarDistSegmenter.train_params() == (
        "n_rays", "grid", "epochs", "steps_per_epoch", "patch_size", "batch_size", "augment",
        "optimize_thresholds", "validation_fraction", "learning_rate", "tensorboard", "config", "seed",
        "progress",
    )
