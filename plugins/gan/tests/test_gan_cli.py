"""`segbench gan ...` subcommands and the plugin's registration."""

import json

import numpy as np
import pytest
import torch

import segbench
from segbench.cli import main
from segbench.io import write_dataset
from segbench.plugins import load_registry
from segbench_gan.generator import GanGenerator

torch.set_num_threads(1)


@pytest.fixture
def pairs(tmp_path):
    """A folder of 3 (image, mask) pairs of 32 x 32 px."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:32, :32]
    samples = []
    for i in range(3):
        labels = np.zeros((32, 32), np.int32)
        labels[(yy - 10 - i) ** 2 + (xx - 12) ** 2 <= 20] = 1
        labels[(yy - 22) ** 2 + (xx - 20 - i) ** 2 <= 12] = 2
        image = (rng.normal(100, 2, (32, 32)) + 300 * (labels > 0)).astype(np.uint16)
        samples.append(segbench.Sample(f"p{i}", image, labels))
    return write_dataset(tmp_path / "pairs", samples)


TINY = ["--ngf", "4", "--n-downsample-global", "1", "--n-blocks-global", "1", "--ndf", "4",
        "--n-layers-D", "1", "--num-D", "1", "--batch-size", "1", "--crop", "16", "--device", "cpu",
        "--log-every", "1", "--threads", "1", "--quiet"]


def test_gan_is_registered():
    registry = load_registry()
    info = registry.get("generator", "gan")
    assert info.cls is GanGenerator
    assert info.distribution == "segbench-gan"
    assert not [p for p in registry.problems if p.distribution == "segbench-gan"]


def test_train_images_then_resume(pairs, tmp_path, capsys):
    out = tmp_path / "images"
    assert main(["gan", "train-images", "--data", str(pairs), "--out", str(out), "--steps", "2",
                 "--snapshot-every", "1", *TINY]) == 0
    assert f"pix2pixHD checkpoint: {out}" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["ngf"], config["n_downsample_global"], config["num_D"]) == (4, 1, 1)
    # resumed without architecture flags: the stored ones are used
    assert main(["gan", "train-images", "--data", str(pairs), "--out", str(out), "--steps", "3",
                 "--batch-size", "1", "--crop", "16", "--device", "cpu", "--log-every", "1", "--quiet"]) == 0
    steps = [json.loads(x)["step"] for x in (out / "stats.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    assert sorted(p.name for p in (out / "samples").iterdir()) == [
        "step-0000001.png", "step-0000002.png", "step-0000003.png"]


def test_train_images_reports_bad_input_in_one_line(pairs, tmp_path, capsys):
    code = main(["gan", "train-images", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), *TINY])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("segbench gan train-images: ") and "missing" in err
    assert len(err.splitlines()) == 1
    code = main(["gan", "train-images", "--data", str(pairs), "--out", str(tmp_path / "o"), *TINY,
                 "--crop", "15"])
    assert code == 2 and "crop: 15 is not a multiple of 2" in capsys.readouterr().err


def test_gan_without_a_subcommand_prints_help(capsys):
    assert main(["gan"]) == 2
    assert "train-masks" in capsys.readouterr().out


def test_generate_lists_the_gan_parameters(capsys):
    assert main(["generate", "gan", "--list-params"]) == 0
    out = capsys.readouterr().out
    for name in ("weights", "shape", "shape_mode", "truncation_psi", "spot_clouds", "spot_covariance",
                 "spots_inside_cells", "device"):
        assert f"  {name} = " in out
    assert "checkpoint = " not in out  # renamed to weights


def test_every_train_masks_flag_is_a_train_masks_keyword():
    import inspect

    from segbench_gan.cli import _MASK_FLAGS
    from segbench_gan.stylegan3 import train_masks

    accepted = inspect.signature(train_masks).parameters
    assert set(_MASK_FLAGS) | {"augment", "mirror", "seed", "device", "time_limit", "progress"} <= set(accepted)


TINY_MASKS = ["--resolution", "16", "--z-dim", "8", "--w-dim", "8", "--mapping-layers", "1", "--num-layers", "4",
              "--channel-base", "256", "--channel-max", "16", "--d-channel-base", "256", "--d-channel-max", "16",
              "--batch-size", "4", "--tick-every", "1", "--grid-size", "4", "--device", "cpu", "--quiet"]


def test_train_export_generate_and_measure(pairs, tmp_path, capsys):
    masks, images, ship, fake = (tmp_path / n for n in ("masks", "images", "ship", "fake"))
    assert main(["gan", "train-masks", "--data", str(pairs), "--out", str(masks), "--steps", "2",
                 *TINY_MASKS]) == 0
    assert "snapshot-0000002.pt (step 2, finished)" in capsys.readouterr().out
    assert main(["gan", "train-images", "--data", str(pairs), "--out", str(images), "--steps", "1", *TINY]) == 0
    assert main(["gan", "export", "--masks", str(masks), "--images", str(images), "--out", str(ship)]) == 0
    assert sorted(str(p.relative_to(ship)) for p in ship.rglob("*") if p.is_file()) == [
        "images/config.json", "images/latest_net_G.pth", "images/stats.jsonl", "images/training.json",
        "masks/generator.pt"]
    provenance = json.loads((ship / "images" / "training.json").read_text())
    assert provenance["step"] == 1 and provenance["options"]["crop"] == 16
    assert main(["generate", "gan", "--n", "2", "--out", str(fake), "--param", f"weights={ship}",
                 "device=cpu", "shape=[32,32]"]) == 0
    capsys.readouterr()
    assert main(["realism", "--real", str(pairs), "--fake", str(fake)]) == 0
    assert "2 generated vs 3 reference images" in capsys.readouterr().out


def test_export_reports_a_missing_training_folder(tmp_path, capsys):
    assert main(["gan", "export", "--masks", str(tmp_path / "m"), "--images", str(tmp_path / "i"),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("segbench gan export: ") and str(tmp_path / "m") in err
