"""The shipped pipeline, run by CellProfiler: scores, exact labels, settings."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import tifffile

from segbench.builtin.otsu_watershed import OtsuWatershed
from segbench.metrics import evaluate_dataset
from segbench_cellprofiler import CellProfilerSegmenter


def pooled_f1(samples, segment) -> float:
    scores = evaluate_dataset([(s.name, s.labels, segment(s.image)) for s in samples], thresholds=(0.5,))
    return scores.pooled[0]["f1"]


def test_a_suite_skips_3d_datasets():
    assert CellProfilerSegmenter.skip(3, {}) == "it handles 2D images only"
    assert CellProfilerSegmenter.skip(2, {}) is None


def test_shipped_pipeline_scores_like_otsu_watershed(segmenter, nuclei_clean):
    cellprofiler = pooled_f1(nuclei_clean, segmenter.predict)
    baseline = pooled_f1(nuclei_clean, OtsuWatershed().predict)
    assert cellprofiler == pytest.approx(baseline, abs=0.05)
    assert cellprofiler >= 0.95


def test_labels_are_int32_renumbered_and_of_the_image_shape(segmenter, image):
    labels = segmenter.predict(image)
    assert labels.dtype == np.int32 and labels.shape == image.shape
    ids = np.unique(labels)
    assert ids[0] == 0 and np.array_equal(ids, np.arange(len(ids)))
    assert len(ids) > 10


def test_labels_equal_those_of_the_cellprofiler_command(segmenter, image, cellprofiler_python, tmp_path):
    """`cellprofiler -c -r -p PIPELINE -i IN -o OUT -e imageio_reader` saves the same label image."""
    from segbench_cellprofiler import SHIPPED_PIPELINE

    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    tifffile.imwrite(folder / "nucleus.tif", image)
    command = Path(cellprofiler_python).parent / "cellprofiler"
    run = subprocess.run(
        [str(command), "-c", "-r", "-p", str(SHIPPED_PIPELINE), "-i", str(folder), "-o", str(out), "-e", "imageio_reader"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MPLCONFIGDIR": str(tmp_path / "mpl")},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    saved = tifffile.imread(out / "nucleus_labels.tiff")
    assert np.array_equal(segmenter.predict(image), saved)


def test_describe_names_version_pipeline_and_settings(cellprofiler_python):
    from segbench_cellprofiler import SHIPPED_PIPELINE, CellProfilerSegmenter

    described = CellProfilerSegmenter(diameter_max=30, threshold_method="otsu").describe()
    assert described["cellprofiler"].startswith("5.")
    assert described["pipeline"] == str(SHIPPED_PIPELINE)
    assert len(described["pipeline_sha256"]) == 64
    assert described["objects"] == "Nuclei"
    assert described["settings"] == {
        "IdentifyPrimaryObjects #5: Typical diameter of objects, in pixel units (Min,Max)": "10,30",
        "IdentifyPrimaryObjects #5: Use advanced settings?": "Yes",
        "IdentifyPrimaryObjects #5: Thresholding method": "Otsu",
    }


def test_a_settings_sweep_gives_different_label_images(cellprofiler_python, image):
    from segbench_cellprofiler import CellProfilerSegmenter

    key = "IdentifyPrimaryObjects #5: Threshold correction factor"
    sweep = [CellProfilerSegmenter(settings={key: factor}).predict(image) for factor in (0.5, 1.0, 2.0)]
    foreground = [int((labels > 0).sum()) for labels in sweep]
    assert foreground[0] > foreground[1] > foreground[2]  # a higher threshold keeps fewer pixels
    assert np.array_equal(sweep[1], CellProfilerSegmenter().predict(image))  # 1.0 is the shipped value


def test_common_parameters_change_the_segmentation(cellprofiler_python, image):
    from segbench_cellprofiler import CellProfilerSegmenter

    shipped = CellProfilerSegmenter().predict(image)
    narrow = CellProfilerSegmenter(diameter_min=21).predict(image)  # drops the smaller nuclei (13-24 px)
    assert 0 < narrow.max() < shipped.max()
    stricter = CellProfilerSegmenter(threshold_correction=1.5).predict(image)
    assert (stricter > 0).sum() < (shipped > 0).sum()
