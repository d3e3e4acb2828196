"""The ``cellprofiler`` segmenter: a CellProfiler pipeline run by CellProfiler itself."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import tifffile

import segbench
from segbench.errors import SegbenchError

from .environment import HOW_TO_SET, find_python
from .process import DriverFailure, driver_for
from .settings import common_overrides, parse_settings

__all__ = ["CellProfilerSegmenter", "SHIPPED_PIPELINE"]

#: The nuclei pipeline used when no ``pipeline`` is given (see the README).
SHIPPED_PIPELINE = Path(str(resources.files("segbench_cellprofiler") / "pipelines" / "nuclei.cppipe"))

_counter = itertools.count()


class CellProfilerSegmenter(segbench.Segmenter):
    """A CellProfiler pipeline (.cppipe/.cpproj), run by CellProfiler in its own environment.

    Parameters
    ----------
    pipeline : path, optional
        A ``.cppipe`` or ``.cpproj`` whose objects are converted to a label
        image (ConvertObjectsToImage); default: the shipped nuclei pipeline.
    objects : str, optional
        Name of the objects to return, when the pipeline converts several (or none).
    threshold_method, threshold_correction, threshold_smoothing, diameter_min, diameter_max, declump_method, fill_holes
        Written into the pipeline's IdentifyPrimaryObjects module (None keeps
        the pipeline's value); see the README for the setting each one writes.
    settings : mapping, optional
        Any other setting, ``{"ModuleName #N: Setting text": value}``, N being
        the module's number in the pipeline; written after the common parameters.
    file_name : str
        Name of the TIFF file each image reaches CellProfiler as (``.tif``/``.tiff``):
        set it to a name that the pipeline's Images/Metadata/NamesAndTypes rules accept.
    image_timeout : float
        Seconds one image may take; CellProfiler is then stopped, the image
        fails and the next one restarts it.
    start_timeout : float
        Seconds CellProfiler may take to start.

    The Python that runs CellProfiler is the user's own (see
    :mod:`segbench_cellprofiler.environment`), never a parameter.
    """

    name = "cellprofiler"
    #: each image reaches CellProfiler as one 2D TIFF (the shipped pipeline is 2D;
    #: 3D pipelines are untested), so a suite skips 3D datasets
    dimensions = (2,)
    refused_params = {"executable": f"the interpreter that runs CellProfiler comes from your machine: {HOW_TO_SET}"}

    def __init__(
        self,
        pipeline: str | os.PathLike | None = None,
        objects: str | None = None,
        threshold_method: str | None = None,
        threshold_correction: float | None = None,
        threshold_smoothing: float | None = None,
        diameter_min: int | None = None,
        diameter_max: int | None = None,
        declump_method: str | None = None,
        fill_holes: bool | str | None = None,
        settings: Mapping[str, Any] | None = None,
        file_name: str = "image.tif",
        image_timeout: float = 300.0,
        start_timeout: float = 120.0,
    ):
        path = Path(pipeline).expanduser().absolute() if pipeline is not None else SHIPPED_PIPELINE
        if not path.is_file():
            raise SegbenchError(f"cellprofiler: pipeline {str(pipeline)!r} does not exist; give the path of a .cppipe or .cpproj file")
        for name, seconds in (("image_timeout", image_timeout), ("start_timeout", start_timeout)):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
                raise SegbenchError(f"cellprofiler: {name} must be a positive number of seconds, got {seconds!r}")
        if not isinstance(file_name, str) or Path(file_name).name != file_name or not file_name.lower().endswith((".tif", ".tiff")):
            raise SegbenchError(f"cellprofiler: file_name must be a plain file name ending in .tif or .tiff, got {file_name!r}")
        self.pipeline = path
        self.file_name = file_name
        self.objects = objects
        parsed = parse_settings(settings)
        self.overrides = common_overrides(
            threshold_method=threshold_method,
            threshold_correction=threshold_correction,
            threshold_smoothing=threshold_smoothing,
            diameter_min=diameter_min,
            diameter_max=diameter_max,
            declump_method=declump_method,
            fill_holes=fill_holes,
        ) + [(number, text, value) for number, text, value, _ in parsed]
        self.module_names = [(name, number) for number, _, _, name in parsed]
        self.python = find_python()
        self.image_timeout = float(image_timeout)
        self.start_timeout = float(start_timeout)
        content = hashlib.sha256(path.read_bytes()).hexdigest()
        # what the driver keeps a loaded pipeline under: file, content and settings
        self.key = hashlib.sha256(json.dumps([str(path), content, objects, self.overrides]).encode()).hexdigest()

    # ------------------------------------------------------------------
    def _fail(self, what: str) -> SegbenchError:
        return SegbenchError(f"cellprofiler: pipeline {self.pipeline.name}: {what}")

    def _driver(self):
        """The worker's running CellProfiler, with this pipeline loaded (once per process)."""
        try:
            driver = driver_for(self.python, self.start_timeout)
        except DriverFailure as exc:
            raise SegbenchError(f"cellprofiler: {self.python}: {exc}; is this the Python of a CellProfiler 5 environment?") from None
        if self.key not in driver.loaded:
            request = {
                "op": "load",
                "key": self.key,
                "pipeline": str(self.pipeline),
                "objects": self.objects,
                "overrides": self.overrides,
                "check": self.module_names,
            }
            try:
                reply = driver.request(request, self.start_timeout, "loading the pipeline")
            except DriverFailure as exc:
                raise self._fail(str(exc)) from None
            if not reply["ok"]:
                raise self._fail(reply["error"])
            driver.loaded[self.key] = reply
        return driver

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Segment one image with the pipeline.

        Parameters
        ----------
        image : ndarray
            ``(Y, X)`` grayscale, any integer or float dtype TIFF holds; it reaches
            CellProfiler as a TIFF file, bit for bit, and is scaled by the
            pipeline's NamesAndTypes setting as in any CellProfiler run.

        Returns
        -------
        ndarray of int32, shape of ``image``
            The returned objects' labels, renumbered 1..n (0 = background).
        """
        image = np.asarray(image)
        if image.dtype == bool:
            image = image.astype(np.uint8)
        driver = self._driver()
        folder = driver.workdir / f"image-{next(_counter)}"
        folder.mkdir()
        image_path = folder / self.file_name
        labels_path = driver.workdir / f"{folder.name}-labels.npy"
        tifffile.imwrite(image_path, image)
        try:
            reply = driver.request(
                {"op": "run", "key": self.key, "image": str(image_path), "out": str(labels_path)},
                self.image_timeout,
                "segmenting an image",
            )
            if not reply["ok"]:
                raise self._fail(reply["error"])
            labels = np.load(labels_path)
        except DriverFailure as exc:
            hint = "raise `image_timeout` if it was too short" if exc.timed_out else "see the module's settings"
            raise self._fail(f"{exc}; CellProfiler restarts for the next image ({hint})") from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            labels_path.unlink(missing_ok=True)
        return relabel(labels)

    def describe(self) -> dict[str, Any]:
        """CellProfiler version, the pipeline and its SHA-256, the settings written into it."""
        driver = self._driver()
        loaded = driver.loaded[self.key]
        return {
            "cellprofiler": driver.version,
            "pipeline": str(self.pipeline),
            "pipeline_sha256": loaded["sha256"],
            "objects": loaded["objects"],
            "settings": loaded["applied"],
            "python": self.python,
        }


def relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber the labels 1..n in order of their ids (0 stays background), as int32."""
    ids, inverse = np.unique(labels, return_inverse=True)
    if ids.size and ids[0] != 0:
        inverse = inverse + 1
    return inverse.reshape(labels.shape).astype(np.int32)
