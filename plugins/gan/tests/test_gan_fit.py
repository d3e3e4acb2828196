"""GanGenerator.fit / load: both networks trained for a few steps on a tiny crop set."""

import json

import numpy as np
import pytest
import torch

import segbench
from segbench.builtin.procedural import Procedural
from segbench.errors import InputError
from segbench_gan.generator import GanGenerator

torch.set_num_threads(1)

MASK_STEPS, IMAGE_STEPS = 3, 4

# a mask model trained for 3 steps draws no nuclei: generate's min_objects warning is expected here
pytestmark = pytest.mark.filterwarnings("ignore:gan. .* fewer than min_objects:UserWarning")


@pytest.fixture(scope="module")
def crops():
    """Four 40 x 40 px nuclei crops with masks (stand-ins for a lab's annotated images)."""
    samples = Procedural(shape=(40, 40), n_objects=(2, 5), radius=4.0, radius_std=0.5).generate(4, seed=3)
    return segbench.Dataset("crops", list(samples))


@pytest.fixture(scope="module")
def fitted(crops, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("gan-fit")
    calls = []
    generator = GanGenerator(device="cpu")
    generator.fit(crops, workdir, seed=1, progress=lambda *args: calls.append(args),
                  resolution=32, mask_steps=MASK_STEPS, image_steps=IMAGE_STEPS)
    return generator, workdir, calls


def test_fit_reports_finite_losses_over_both_trainings(fitted):
    _, workdir, calls = fitted
    total = MASK_STEPS + IMAGE_STEPS
    assert [step for step, _, _ in calls] == list(range(1, total + 1))
    assert {t for _, t, _ in calls} == {total}
    assert all(np.isfinite(loss) for _, _, loss in calls)
    for log in ("masks/stats.jsonl", "images/stats.jsonl"):
        lines = [json.loads(line) for line in (workdir / log).read_text().splitlines()]
        losses = [v for line in lines for k, v in line.items() if k.startswith("loss") and v is not None]
        assert losses and np.isfinite(losses).all()


def test_fit_leaves_a_checkpoint_pair_and_no_resumable_state(fitted):
    _, workdir, _ = fitted
    assert (workdir / "masks" / "generator.pt").is_file()
    assert {"config.json", "latest_net_G.pth", "features.npz"} <= {p.name for p in (workdir / "images").iterdir()}
    assert not list((workdir / "training").rglob("*.pt")) and not list((workdir / "training").rglob("*state*"))
    assert json.loads((workdir / "images" / "training.json").read_text())["step"] == IMAGE_STEPS


def test_fitted_generation_is_deterministic_and_survives_load(fitted):
    generator, workdir, _ = fitted
    a = list(generator.generate(3, seed=4))
    assert all(s.image.shape == (32, 32) and s.labels.shape == (32, 32) for s in a)  # shape follows resolution
    assert all(s.image.dtype == np.uint16 and s.labels.dtype == np.int32 for s in a)
    again = list(generator.generate(3, seed=4))
    worker = GanGenerator(device="cpu")  # what a worker does: construct, then load
    worker.load(workdir)
    loaded = list(worker.generate(3, seed=4))
    for x, y, z in zip(a, again, loaded):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.labels, y.labels)
        assert np.array_equal(x.image, z.image) and np.array_equal(x.labels, z.labels)
    assert not np.array_equal(a[0].image, next(generator.generate(1, seed=5)).image)


def test_explicit_shape_survives_load(fitted):
    _, workdir, _ = fitted
    worker = GanGenerator(device="cpu", shape=[48, 40])
    worker.load(workdir)
    assert next(worker.generate(1, seed=0)).image.shape == (48, 40)


def test_fit_refuses_unusable_data_before_training(crops, tmp_path):
    generator = GanGenerator(device="cpu")
    unlabelled = segbench.Dataset("raw", [segbench.Sample("a", crops[0].image)])
    with pytest.raises(InputError, match="has no mask"):
        generator.fit(unlabelled, tmp_path, mask_steps=1, image_steps=1)
    with pytest.raises(InputError, match="smaller than resolution 64"):
        generator.fit(crops, tmp_path, mask_steps=1, image_steps=1)
    with pytest.raises(ValueError, match="resolution: must be a power of 2"):
        generator.fit(crops, tmp_path, resolution=48, mask_steps=1, image_steps=1)
    assert not (tmp_path / "training").exists()


def test_load_names_the_missing_folder(tmp_path):
    (tmp_path / "masks").mkdir()
    with pytest.raises(InputError, match="has no images/ folder"):
        GanGenerator(device="cpu").load(tmp_path)
