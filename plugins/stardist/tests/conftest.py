"""Shared fixtures: tiny procedural data and tiny StarDist models trained once per session.

The models are small enough to train on two CPU cores in seconds (16 rays, a
two-level U-Net with 8 base filters) yet, on 96 x 96 images with eight nuclei,
they learn to find them.
"""

from __future__ import annotations

import pytest

from segbench import Dataset
from segbench.builtin.procedural import Procedural

pytest.importorskip("stardist", reason="segbench-stardist's tests need stardist and tensorflow (pip install -e plugins/stardist)")
pytest.importorskip("segbench_stardist", reason="segbench-stardist is not installed (pip install -e plugins/stardist)")

TINY_NET = {"unet_n_depth": 2, "unet_n_filter_base": 8, "net_conv_after_unet": 16}

#: fit() settings of the tiny 2D model (about 400 training steps)
TINY_2D = dict(
    n_rays=16,
    epochs=20,
    steps_per_epoch=20,
    patch_size=64,
    learning_rate=3e-3,
    config=TINY_NET,
    seed=0,
)

#: fit() settings of the tiny 3D model (a few steps: the test checks the plumbing)
TINY_3D = dict(
    n_rays=16,
    epochs=2,
    steps_per_epoch=4,
    learning_rate=3e-3,
    optimize_thresholds=False,
    config={**TINY_NET, "unet_n_depth": 1},
    seed=0,
)


@pytest.fixture(scope="session")
def data_2d():
    """(train Dataset of 6 images, 2 held-out samples): 96 x 96, 8 nuclei of radius ~7 px."""
    samples = list(Procedural(shape=(96, 96), n_objects=8, radius=7.0).generate(8, seed=0))
    return Dataset("tiny-2d", samples[:6], spacing=samples[0].spacing), samples[6:]


@pytest.fixture(scope="session")
def trained_2d_run(tmp_path_factory, data_2d):
    """(segmenter after fit, its workdir, the progress(epoch, total, loss) calls,
    the per-epoch losses in Keras' History) for the tiny 2D model."""
    from stardist.models import StarDist2D

    from segbench_stardist import StarDistSegmenter

    workdir = tmp_path_factory.mktemp("stardist-2d")
    segmenter = StarDistSegmenter()
    calls, histories = [], []
    train = StarDist2D.train

    def recorded(*args, **kwargs):
        history = train(*args, **kwargs)
        histories.append(history.history["loss"])
        return history

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StarDist2D, "train", recorded)
        segmenter.fit(data_2d[0], workdir, **TINY_2D, progress=lambda *args: calls.append(args))
    (losses,) = histories
    return segmenter, workdir, calls, losses


@pytest.fixture(scope="session")
def trained_2d(trained_2d_run):
    """(segmenter after fit, its workdir) for the tiny 2D model."""
    return trained_2d_run[:2]


@pytest.fixture(scope="session")
def data_3d():
    """(train Dataset of 3 volumes, 1 held-out): 16 x 48 x 48, z step twice the pixel size."""
    generator = Procedural(shape=(16, 48, 48), pixel_size=0.5, z_step=1.0, n_objects=5, radius=6.0)
    samples = list(generator.generate(4, seed=0))
    return Dataset("tiny-3d", samples[:3], spacing=samples[0].spacing), samples[3:]


@pytest.fixture(scope="session")
def trained_3d(tmp_path_factory, data_3d):
    """(segmenter after fit, its workdir) for the tiny 3D model."""
    from segbench_stardist import StarDistSegmenter

    workdir = tmp_path_factory.mktemp("stardist-3d")
    segmenter = StarDistSegmenter(spacing=data_3d[0].spacing)
    segmenter.fit(data_3d[0], workdir, **TINY_3D)
    return segmenter, workdir


@pytest.fixture(scope="session")
def tiny_2d_settings():
    """A copy of the fit() settings of the tiny 2D model."""
    return {**TINY_2D, "config": dict(TINY_NET)}
