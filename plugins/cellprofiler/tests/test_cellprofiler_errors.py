"""Each failure is one line naming the pipeline, the module and what to change;
CellProfiler restarts for the next image."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from segbench.errors import SegbenchError


def one_line_error(call) -> str:
    with pytest.raises(SegbenchError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and message.startswith("cellprofiler: ")
    return message


def test_a_pipeline_that_fails_to_load(cellprofiler_python, pipeline_text, write_pipeline, image):
    from segbench_cellprofiler import CellProfilerSegmenter

    path = write_pipeline(pipeline_text.replace("ConvertObjectsToImage:[", "NoSuchModule:["), "broken.cppipe")
    message = one_line_error(lambda: CellProfilerSegmenter(pipeline=path).predict(image))
    assert "pipeline broken.cppipe: module 'NoSuchModule' could not be loaded" in message
    assert "install it or remove the module" in message


def test_a_pipeline_that_is_not_a_pipeline(cellprofiler_python, write_pipeline, image):
    from segbench_cellprofiler import CellProfilerSegmenter

    path = write_pipeline("just some text\n", "notes.cppipe")
    message = one_line_error(lambda: CellProfilerSegmenter(pipeline=path).predict(image))
    assert "pipeline notes.cppipe: CellProfiler could not read it" in message


def test_a_missing_pipeline_file(tmp_path):
    from segbench_cellprofiler import CellProfilerSegmenter

    message = one_line_error(lambda: CellProfilerSegmenter(pipeline=tmp_path / "lab.cppipe"))
    assert "lab.cppipe' does not exist" in message


def test_a_pipeline_that_saves_no_label_image(cellprofiler_python, pipeline_text, write_pipeline, image):
    from segbench_cellprofiler import CellProfilerSegmenter

    text = pipeline_text[: pipeline_text.index("ConvertObjectsToImage:[")].replace("ModuleCount:7", "ModuleCount:5")
    path = write_pipeline(text, "nolabels.cppipe")
    message = one_line_error(lambda: CellProfilerSegmenter(pipeline=path).predict(image))
    assert "pipeline nolabels.cppipe: it saves no label image" in message
    assert "add ConvertObjectsToImage" in message and "one of: Nuclei" in message
    # naming the objects is the other fix
    assert CellProfilerSegmenter(pipeline=path, objects="Nuclei").predict(image).max() > 10


def test_a_setting_of_a_missing_module(cellprofiler_python, image):
    from segbench_cellprofiler import CellProfilerSegmenter

    segmenter = CellProfilerSegmenter(settings={"IdentifyPrimaryObjects #6: Threshold correction factor": 2})
    message = one_line_error(lambda: segmenter.predict(image))
    assert "names IdentifyPrimaryObjects #6, but module #6 is ConvertObjectsToImage" in message
    assert "IdentifyPrimaryObjects #5" in message  # the listing says where it is


def test_a_missing_setting(cellprofiler_python, image):
    from segbench_cellprofiler import CellProfilerSegmenter

    segmenter = CellProfilerSegmenter(settings={"IdentifyPrimaryObjects #5: Threshold fudge": 2})
    message = one_line_error(lambda: segmenter.predict(image))
    assert "IdentifyPrimaryObjects #5 has no setting 'Threshold fudge'; its settings are:" in message
    assert "Threshold correction factor" in message


def test_a_hidden_setting(cellprofiler_python, image):
    from segbench_cellprofiler import CellProfilerSegmenter

    segmenter = CellProfilerSegmenter(settings={"IdentifyPrimaryObjects #5: Size of adaptive window": 40})
    message = one_line_error(lambda: segmenter.predict(image))
    assert "'Size of adaptive window' of IdentifyPrimaryObjects #5 is hidden" in message


def test_a_value_that_is_not_a_choice(cellprofiler_python, image):
    from segbench_cellprofiler import CellProfilerSegmenter

    message = one_line_error(lambda: CellProfilerSegmenter(threshold_method="Triangle").predict(image))
    assert "'Thresholding method' cannot be 'Triangle'; choose one of: Minimum Cross-Entropy, Otsu" in message


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"settings": {"Threshold correction factor": 2}}, "is not 'ModuleName #N: Setting text'"),
        ({"settings": {"IdentifyPrimaryObjects #5: Threshold correction factor": [1, 2, 3]}}, "must be a number, text"),
        ({"settings": [{"IdentifyPrimaryObjects #5: Threshold correction factor": 2}]}, "a list of mappings is a sweep"),
        ({"threshold_correction": -1}, "threshold_correction must be a number >= 0"),
        ({"diameter_min": 40, "diameter_max": 20}, "diameter_min (40) is larger than diameter_max (20)"),
        ({"image_timeout": 0}, "image_timeout must be a positive number"),
    ],
)
def test_bad_parameters_are_rejected_before_cellprofiler_starts(params, expected, monkeypatch):
    from segbench_cellprofiler import CellProfilerSegmenter, environment

    monkeypatch.setenv(environment.ENV_VAR, "/bin/sh")  # any existing file: nothing is started
    assert expected in one_line_error(lambda: CellProfilerSegmenter(**params))


def test_the_worker_survives_a_crash(segmenter, image):
    from segbench_cellprofiler.process import driver_for

    expected = segmenter.predict(image)
    driver = driver_for(segmenter.python, segmenter.start_timeout)
    os.kill(driver.process.pid, signal.SIGSEGV)  # as if a C extension had segfaulted
    message = one_line_error(lambda: segmenter.predict(image))
    assert "pipeline nuclei.cppipe: CellProfiler crashed (killed by signal 11)" in message
    assert "Fatal Python error: Segmentation fault" in message
    assert "CellProfiler restarts for the next image" in message
    assert np.array_equal(segmenter.predict(image), expected)
    assert driver_for(segmenter.python, segmenter.start_timeout) is not driver


def test_a_timeout_stops_cellprofiler_and_the_next_image_restarts_it(segmenter, image):
    from segbench_cellprofiler import CellProfilerSegmenter

    expected = segmenter.predict(image)
    hasty = CellProfilerSegmenter(image_timeout=0.001)  # no image is segmented in a millisecond
    hasty.describe()  # load the pipeline within the start-up time
    message = one_line_error(lambda: hasty.predict(image))
    assert "pipeline nuclei.cppipe: CellProfiler took longer than 0.001 s segmenting an image" in message
    assert "raise `image_timeout`" in message
    assert np.array_equal(segmenter.predict(image), expected)


def test_an_interrupted_request_stops_cellprofiler(segmenter, image, monkeypatch):
    """The runner's own per-image timeout raises inside predict; the busy process
    must not answer the next request with this image's labels."""
    from segbench_cellprofiler import process

    expected = segmenter.predict(image)
    driver = process.driver_for(segmenter.python, segmenter.start_timeout)

    class Interrupted(Exception):
        pass

    def interrupted(*args):
        raise Interrupted()

    monkeypatch.setattr(process.select, "select", interrupted)
    with pytest.raises(Interrupted):
        segmenter.predict(image)
    monkeypatch.undo()
    assert not driver.alive
    assert np.array_equal(segmenter.predict(image), expected)


def test_rules_on_file_names_need_file_name(cellprofiler_python, pipeline_text, write_pipeline, image):
    from segbench_cellprofiler import CellProfilerSegmenter

    rule = 'Select the rule criteria:and (extension does isimage) (directory doesnot containregexp "[\\\\\\\\/]\\\\.")'
    assert rule in pipeline_text
    text = pipeline_text.replace("Filter images?:Images only", "Filter images?:Custom").replace(
        rule, 'Select the rule criteria:and (file does contain "DAPI")'
    )
    path = write_pipeline(text, "dapi.cppipe")
    message = one_line_error(lambda: CellProfilerSegmenter(pipeline=path).predict(image))
    assert "pipeline dapi.cppipe:" in message and "image.tif" in message
    assert "set `file_name:` to a name they accept" in message
    labels = CellProfilerSegmenter(pipeline=path, file_name="w1_DAPI.tif").predict(image)
    assert np.array_equal(labels, CellProfilerSegmenter().predict(image))
