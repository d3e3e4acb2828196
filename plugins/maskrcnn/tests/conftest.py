"""Shared fixtures: small procedural images, a tiny network's settings, and one tiny
Mask R-CNN trained once per session. Every test runs torch on one thread (small
networks run as fast on one, which does not fight other jobs for the cores)."""

from __future__ import annotations

import pytest

import segbench
from segbench.builtin.procedural import Procedural

pytest.importorskip("torch", reason="segbench-maskrcnn's tests need torch (pip install -e plugins/maskrcnn)")
pytest.importorskip("segbench_maskrcnn", reason="segbench-maskrcnn is not installed (pip install -e plugins/maskrcnn)")
# torchvision through the plugin, which registers the operators a CPU-only torchvision may lack
pytest.importorskip("segbench_maskrcnn.network", reason="segbench-maskrcnn's tests need torchvision")

#: Small, well separated nuclei: diameter about 11 px.
GENERATOR_2D = dict(shape=(64, 64), n_objects=6, radius=5.5, touching_fraction=0.0)
#: A network small enough to build and run in about a second.
TINY_MODEL = dict(backbone="resnet18", proposals=50, box_batch_size_per_image=32, max_detections=50)
#: Two training steps.
TINY_TRAINING = dict(epochs=1, batch_size=2, crop_size=64)


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def samples():
    """``samples(n, seed, **generator params)``: procedural 64 x 64 nuclei."""
    def make(n: int, seed: int, **params) -> list[segbench.Sample]:
        return list(Procedural(**{**GENERATOR_2D, **params}).generate(n, seed=seed))
    return make


@pytest.fixture(scope="session")
def tiny_model() -> dict:
    return dict(TINY_MODEL)


@pytest.fixture(scope="session")
def tiny_training() -> dict:
    return dict(TINY_TRAINING)


@pytest.fixture(scope="session")
def tiny_trained(tmp_path_factory, samples, one_torch_thread):
    """(segmenter, workdir, progress calls) of a tiny model trained for two steps on 4 images."""
    from segbench_maskrcnn import MaskRCNNSegmenter

    workdir = tmp_path_factory.mktemp("maskrcnn-train")
    calls = []
    seg = MaskRCNNSegmenter(**TINY_MODEL, device="cpu")
    seg.fit(segbench.Dataset("tiny", samples(4, seed=1)), workdir, seed=3,
            progress=lambda epoch, total, loss: calls.append((epoch, total, loss)), **TINY_TRAINING)
    return seg, workdir, calls
