"""scripts/gpu_retrain.py on the CPU at a tiny size: warm starts, selection, export, realism tables."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import segbench
from segbench.builtin.procedural import Procedural
from segbench.errors import InputError
from segbench.io import write_dataset
from segbench_gan.generator import SHIPPED_CHECKPOINT, GanGenerator
from segbench_gan.stylegan3 import train_masks

torch.set_num_threads(1)

SCRIPT = Path(__file__).parents[1] / "scripts" / "gpu_retrain.py"


def _script():
    spec = importlib.util.spec_from_file_location("gpu_retrain", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny(n, seed):
    """64 x 64 px uint8 procedural nuclei with masks (the shipped models' size and grey range)."""
    for s in Procedural(shape=(64, 64), n_objects=(2, 5), radius=5.0, radius_std=0.5).generate(n, seed=seed):
        image = s.image.astype(float)
        image = 255 * (image - image.min()) / (np.ptp(image) + 1e-9)
        yield segbench.Sample(s.name, image.astype(np.uint8), s.labels)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-dsb")
    write_dataset(folder / "train", _tiny(4, 0), {"part": "train"})
    write_dataset(folder / "heldout-tiles", _tiny(4, 1), {"part": "heldout tiles"})
    return folder


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    work = tmp_path_factory.mktemp("gpu-retrain")
    argv = ["--data", str(data), "--work", str(work), "--device", "cpu", "--mask-steps", "2", "--image-steps", "2",
            "--batch-size", "4", "--snapshot-every", "1", "--select-tiles", "8", "--eval-tiles", "4"]
    assert _script().main(argv) == 0
    return work


def test_both_models_warm_start_from_the_shipped_pair(run):
    masks = json.loads((run / "masks" / "training.json").read_text())
    assert masks["init_from"] == str(SHIPPED_CHECKPOINT / "masks" / "generator.pt")
    assert masks["options"]["batch_size"] == 4 and masks["options"]["r1_gamma"] == 2.0
    images = json.loads((run / "ship" / "images" / "training.json").read_text())
    assert images["step"] == 2 and images["options"]["init_from"] == str(SHIPPED_CHECKPOINT / "images")


def test_the_new_pair_samples_and_is_measured(run):
    summary = json.loads((run / "summary.json").read_text())
    select = summary["select"]
    assert set(select["candidates"]) == {"generator.pt", "snapshot-0000001.pt", "snapshot-0000002.pt"}
    layers = json.loads((run / "ship" / "masks" / "sampling.json").read_text())["mask_layers"]
    assert layers == select["mask_layers"] and 1 <= layers <= 8
    assert summary["masks"]["steps"] == 2 and summary["realism_ratios"]["new"]["area"] >= 0
    for name in ("new", "new-images", "start", "start-images"):
        assert (run / "realism" / f"{name}.json").is_file() and (run / "realism" / f"{name}.md").is_file()
    sample = next(GanGenerator(weights=run / "ship", device="cpu").generate(1, seed=0))
    assert sample.image.shape == (64, 64) and sample.labels.max() >= 1


def test_deadline_leaves_room_for_the_later_stages():
    deadline = _script().Deadline(300.0)
    assert deadline.budget(500.0, "masks") == pytest.approx(60.0, abs=1)  # 300 - 240 kept for the rest
    assert deadline.budget(100.0, "images") == pytest.approx(100.0)
    assert _script().Deadline(10.0).budget(100.0, "masks") == 1.0


def test_warm_start_refuses_another_architecture(data, tmp_path):
    with pytest.raises(InputError, match="holds a generator of another architecture .*z_dim: 64 there vs 32 now"):
        train_masks(data / "train", tmp_path / "masks", resolution=64, z_dim=32, w_dim=64, num_layers=4,
                    channel_base=1024, channel_max=32, margin_size=3, d_channel_base=2048, d_channel_max=64,
                    batch_size=4, steps=1, device="cpu", init_from=SHIPPED_CHECKPOINT / "masks" / "generator.pt")
