"""Shared fixtures: CellProfiler's environment (or a clean skip), procedural nuclei,
and variants of the shipped pipeline.

Tests that run CellProfiler skip, with the reason, only when no CellProfiler
environment exists (``bash scripts/install.sh`` builds ``.venv-cellprofiler/``;
CI has it). The driver process is shared by every test of the session (it is
one per worker process, as in a suite run), so CellProfiler starts once unless
a test kills it.
"""

from __future__ import annotations

import numpy as np
import pytest

import segbench
from segbench.builtin.procedural import Procedural
from segbench.errors import SegbenchError

#: suites/fluorescent.yaml's nuclei-clean generator parameters (copied, not read).
NUCLEI_CLEAN = dict(
    shape=(256, 256),
    n_objects=20,
    touching_fraction=0.0,
    intensity=1000.0,
    intensity_cv=0.15,
    edge_darkening=0.2,
    texture_strength=0.1,
    background=10.0,
    background_variation=0.1,
    read_noise=1.5,
)


@pytest.fixture(scope="session")
def cellprofiler_python() -> str:
    from segbench_cellprofiler.environment import find_python

    try:
        return find_python()
    except SegbenchError as exc:
        pytest.skip(f"no CellProfiler environment ({exc})")


@pytest.fixture(scope="session")
def nuclei_clean() -> list[segbench.Sample]:
    """8 images as nuclei-clean's test split has (another seed than the suite's)."""
    return list(Procedural(**NUCLEI_CLEAN).generate(8, seed=1))


@pytest.fixture(scope="session")
def image(nuclei_clean) -> np.ndarray:
    return nuclei_clean[0].image


@pytest.fixture(scope="module")
def segmenter(cellprofiler_python):
    """The shipped pipeline, CellProfiler started (once per test module at most)."""
    from segbench_cellprofiler import CellProfilerSegmenter

    segmenter = CellProfilerSegmenter()
    segmenter.describe()  # starts CellProfiler and loads the pipeline
    return segmenter


@pytest.fixture(scope="session")
def pipeline_text() -> str:
    from segbench_cellprofiler import SHIPPED_PIPELINE

    return SHIPPED_PIPELINE.read_text()


@pytest.fixture
def write_pipeline(tmp_path):
    """``write_pipeline(text) -> path`` of a .cppipe holding ``text``."""

    def write(text: str, name: str = "variant.cppipe"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
