"""Weights: built-in names offline (a one-line error, never a hang), built-ins
already in the model folder, local files, and parameter validation."""

from __future__ import annotations

import os
import shutil
import urllib.error
from pathlib import Path

import pytest
import torch
from cellpose import models

from segbench import kit
from segbench.errors import InputError, SegbenchError
from segbench_cellpose import CellposeSegmenter


def unreachable(url, dst, progress=True):
    """What cellpose's download sees without a network (raised at once, no waiting)."""
    raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))


def test_model_folder_is_the_test_cache_not_home():
    folder = Path(models.MODEL_DIR).resolve()
    assert folder == Path(os.environ["CELLPOSE_LOCAL_MODELS_PATH"]).resolve()
    assert Path.home().resolve() not in folder.parents


def test_builtin_model_offline_fails_with_one_clear_line(monkeypatch, test_image):
    monkeypatch.setattr("cellpose.utils.download_url_to_file", unreachable)
    segmenter = CellposeSegmenter(weights="nuclei")  # construction fetches nothing
    with pytest.raises(SegbenchError) as info:
        segmenter.predict_raw(test_image)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        "cellpose: could not fetch the weights of built-in model 'nuclei' from https://www.cellpose.org/models "
        f"into {models.MODEL_DIR} (URLError: <urlopen error [Errno -3] Temporary failure in name resolution>); "
    )
    assert message.endswith(
        "pass a local file with `weights: path/to/weights`, or train a model with a `train:` block"
    )
    assert list(Path(models.MODEL_DIR).glob("nuclei*")) == []  # nothing half-written


def test_builtin_model_in_the_model_folder_loads_offline(monkeypatch, tmp_path, trained, test_image):
    _, workdir = trained
    weights = workdir / "weights"
    shutil.copy(weights, tmp_path / "cyto3")  # as if fetched earlier
    monkeypatch.setattr(models, "MODEL_DIR", tmp_path)
    monkeypatch.setattr("cellpose.utils.download_url_to_file", unreachable)
    segmenter = CellposeSegmenter(weights="cyto3", bsize=80)
    raw = segmenter.predict_raw(test_image)
    assert raw["dP"].shape == (2, *test_image.shape)
    info = segmenter.describe()
    assert info["weights"] == "cyto3" and info["weights_sha256"] == kit.weights_sha256(tmp_path / "cyto3")
    assert info["diam_mean"] == 30.0  # built-in cyto models are run at cellpose's 30 px


def test_local_files_missing_broken_or_cellpose4(tmp_path, test_image):
    missing = tmp_path / "nope"
    with pytest.raises(InputError, match=f"^{missing}: no such cellpose weights file; give weights the path .*, or a built-in model name$"):
        CellposeSegmenter(weights=str(missing)).predict_raw(test_image)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match=f"^{garbage}: could not be read as cellpose 3.1.1.3 weights"):
        CellposeSegmenter(weights=str(garbage)).predict_raw(test_image)
    sam = tmp_path / "cpsam"
    torch.save({"W2": torch.zeros(1), "output.2.weight": torch.zeros(3)}, sam)
    with pytest.raises(InputError, match=r"is a Cellpose 4 \(Cellpose-SAM\) model; install cellpose>=4"):
        CellposeSegmenter(weights=str(sam)).predict_raw(test_image)


def test_no_weights_without_training(test_image):
    with pytest.raises(SegbenchError, match="^cellpose: no weights; set weights .* or add a train: block"):
        CellposeSegmenter().predict_raw(test_image)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"diameter": 0}, r"parameter 'diameter' must be a number in \(0, inf\), got 0"),
        ({"channels": [0, 5]}, r"channels: expected \[channel to segment, nuclear channel\]"),
        ({"channels": [1]}, r"channels: expected"),
        ({"normalize": {"percentile": [99, 1]}}, "normalize.percentile: need 0 <= low < high <= 100"),
        ({"normalize": {"tile_norm": 100}}, r"normalize: unknown option\(s\) \['tile_norm'\]"),
        ({"normalize": "yes"}, "normalize: expected true, false or a mapping"),
        ({"bsize": 100}, "parameter 'bsize' must be a multiple of 16"),
        ({"tile_overlap": 0.5}, r"parameter 'tile_overlap' must be a number in \[0, 0.5\)"),
        ({"spacing": (1.0, -0.5, 0.5)}, "spacing: expected 2 or 3 positive voxel sizes"),
        ({"anisotropy": 0}, r"parameter 'anisotropy' must be a number in \(0, inf\)"),
        ({"device": "gpu7"}, "parameter 'device' must be 'auto' or a torch device .*, got 'gpu7'"),
        ({"use_bfloat16": True}, "use_bfloat16 is a cellpose 4 option"),
    ],
)
def test_bad_parameters_are_named(params, message):
    with pytest.raises(SegbenchError, match=message):
        CellposeSegmenter(**params)


def test_spacing_gives_anisotropy_unless_given():
    assert CellposeSegmenter(spacing=(2.0, 0.5, 0.5)).anisotropy == 4.0
    assert CellposeSegmenter(spacing=(2.0, 0.5, 0.5), anisotropy=1.5).anisotropy == 1.5
    assert CellposeSegmenter(spacing=(0.5, 0.5)).anisotropy is None


def test_normalize_mapping_is_cellpose_complete():
    segmenter = CellposeSegmenter(normalize={"percentile": [2, 98], "invert": True})
    assert segmenter.normalize["percentile"] == [2.0, 98.0] and segmenter.normalize["invert"] is True
    assert segmenter.normalize["normalize"] is True and segmenter.normalize["tile_norm_blocksize"] == 0
    assert CellposeSegmenter(normalize=False).normalize["normalize"] is False


def test_registered_with_its_parameters():
    from segbench.plugins import load_registry

    info = load_registry().get("segmenter", "cellpose")
    assert info.cls is CellposeSegmenter and info.distribution == "segbench-cellpose"
    assert CellposeSegmenter.postprocess_params() == (
        "cellprob_threshold", "flow_threshold", "min_size", "max_size_fraction", "stitch_threshold", "niter",
    )
    assert [p for p in CellposeSegmenter.train_params() if p != "progress"] == [
        "epochs", "learning_rate", "weight_decay", "batch_size", "crop_size", "min_train_masks",
        "nimg_per_epoch", "seed", "threads",
    ]
    assert "spacing" in CellposeSegmenter.constructor_params()
    assert not set(CellposeSegmenter.constructor_params()) & set(CellposeSegmenter.postprocess_params())
    assert CellposeSegmenter.has_raw_split() and CellposeSegmenter.can_fit()


def test_old_weight_names_are_renamed_to_weights():
    # a suite giving an old name is refused with the new one (tests/unit/test_renamed_params.py);
    # check_segmenter (test_cellpose_contract.py) checks the old names are gone from the signature
    assert CellposeSegmenter.renamed_params == {"model": "weights", "pretrained_model": "weights"}
