"""Shared fixtures: tiny procedural data and a tiny U-Net trained once per session."""

from __future__ import annotations

import pytest

from segbench import Dataset
from segbench.builtin.procedural import Procedural

torch = pytest.importorskip("torch", reason="segbench-unet's tests need torch (pip install -e plugins/unet)")
pytest.importorskip("segbench_unet", reason="segbench-unet is not installed (pip install -e plugins/unet)")

#: a few steps of a tiny network: enough to check the plumbing, seconds on 2 cores
TINY_FIT = dict(epochs=2, steps_per_epoch=3, batch_size=2, patch_size=32, seed=0)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tests run with one torch thread (results must not depend on it)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_data():
    """(train Dataset of 4 images, 1 held-out sample): 48 x 48, 5 nuclei of radius ~6 px."""
    samples = list(Procedural(shape=(48, 48), n_objects=5, radius=6.0).generate(5, seed=0))
    return Dataset("tiny", samples[:4], spacing=samples[0].spacing), samples[4]


@pytest.fixture(scope="session")
def trained_unet(tmp_path_factory, tiny_data):
    """(constructor params, workdir) of a tiny padded U-Net trained with TINY_FIT."""
    from segbench_unet.segmenter import UNetSegmenter

    params = dict(depth=2, base_channels=4)
    workdir = tmp_path_factory.mktemp("unet")
    UNetSegmenter(**params).fit(tiny_data[0], workdir, **TINY_FIT)
    return params, workdir


@pytest.fixture
def tiny_fit():
    """A copy of TINY_FIT, the fit() settings of the session's tiny U-Net."""
    return dict(TINY_FIT)
