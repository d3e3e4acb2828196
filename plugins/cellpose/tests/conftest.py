"""Shared fixtures: small procedural images and one tiny CPnet trained once per session.

The repository's top-level conftest points CELLPOSE_LOCAL_MODELS_PATH at a
temporary folder before cellpose is imported, so nothing here reads or writes
~/.cellpose.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest

import segbench
from segbench.builtin.procedural import Procedural

pytest.importorskip("cellpose", reason="segbench-cellpose's tests need cellpose and torch (pip install -e plugins/cellpose)")
pytest.importorskip("segbench_cellpose", reason="segbench-cellpose is not installed (pip install -e plugins/cellpose)")

#: Small, well separated nuclei: diameter about 11 px.
GENERATOR_2D = dict(shape=(64, 64), n_objects=8, radius=5.5, touching_fraction=0.0)
#: Settings that train a standard CPnet for a couple of steps in seconds.
TINY_TRAINING = dict(epochs=2, crop_size=32, batch_size=4, min_train_masks=1)


def procedural(n: int, seed: int, **params) -> list[segbench.Sample]:
    return list(Procedural(**{**GENERATOR_2D, **params}).generate(n, seed=seed))


@contextmanager
def one_torch_thread():
    """Small networks run as fast on one thread, which does not fight other jobs
    for the cores (two threads on two busy cores were several times slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread_per_module():
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def tiny_training() -> dict:
    """fit settings that train a standard CPnet for two steps (seconds on a CPU)."""
    return dict(TINY_TRAINING)


@pytest.fixture(scope="session")
def make_samples():
    """``make_samples(n, seed, **generator_params)``: procedural 2D samples."""
    return procedural


@pytest.fixture(scope="session")
def train_2d() -> segbench.Dataset:
    return segbench.Dataset("train-2d", procedural(4, seed=0))


@pytest.fixture(scope="session")
def test_image() -> np.ndarray:
    return procedural(1, seed=1)[0].image


@pytest.fixture(scope="session")
def volume() -> segbench.Sample:
    """A small ZYX stack, voxel size (dz, dy, dx) = (1.0, 0.5, 0.5) micrometres."""
    return list(
        Procedural(shape=(6, 32, 32), n_objects=4, radius=5.0, pixel_size=0.5, z_step=1.0).generate(1, seed=3)
    )[0]


@pytest.fixture(scope="session")
def small_volume() -> segbench.Sample:
    """A smaller ZYX stack for the (costlier) network passes, same voxel size."""
    return list(
        Procedural(shape=(4, 24, 24), n_objects=2, radius=5.0, pixel_size=0.5, z_step=1.0).generate(1, seed=4)
    )[0]


@pytest.fixture(scope="session")
def trained(train_2d, tmp_path_factory):
    """A segmenter trained from scratch (tiny), and the workdir holding its weights."""
    from segbench_cellpose import CellposeSegmenter

    workdir = tmp_path_factory.mktemp("cellpose-train")
    segmenter = CellposeSegmenter(bsize=80)
    with one_torch_thread():  # session fixtures are set up before the module's thread setting
        segmenter.fit(train_2d, workdir, **TINY_TRAINING)
    return segmenter, workdir
