"""Toy pix2pixHD training on the CPU: losses, snapshots, resume, round trip, sampling."""

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import segbench
from segbench.errors import InputError
from segbench_gan.pix2pixhd import ImageRenderer, Pix2PixHDConfig, TrainOptions, read_info, train_images
from segbench_gan.pix2pixhd.checkpoint import G_FILE

torch.set_num_threads(1)

TOY = Pix2PixHDConfig(ngf=4, n_downsample_global=2, n_blocks_global=1, ndf=4, n_layers_D=2, num_D=2,
                      feat_num=2, nef=4, n_downsample_E=2, n_clusters=3)


def toy_dataset(n=4, size=32):
    """Discs of two brightness levels on a noisy background, with exact masks."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    samples = []
    for i in range(n):
        labels = np.zeros((size, size), np.int32)
        image = rng.normal(100, 3, (size, size))
        for k, (cy, cx) in enumerate([(8, 8), (8, 20), (22, 14)], start=1):
            disc = (yy - cy - i % 2) ** 2 + (xx - cx) ** 2 <= 16
            labels[disc] = k
            image[disc] += 200 if k % 2 else 400
        samples.append(segbench.Sample(f"s{i}", np.clip(image, 0, None).astype(np.uint16), labels))
    return segbench.Dataset("toy", samples)


def options(**kw):
    base = dict(steps=4, batch_size=2, crop=32, snapshot_every=2, log_every=1, device="cpu", seed=3)
    return TrainOptions(**{**base, **kw})


def test_toy_training_writes_a_usable_checkpoint(tmp_path):
    out = train_images(toy_dataset(), tmp_path / "ckpt", TOY, options())
    files = sorted(p.name for p in out.iterdir())
    assert files == ["config.json", "features.npz", "latest_net_G.pth", "samples", "stats.jsonl",
                     "training_state.pth"]
    state = torch.load(out / "training_state.pth", weights_only=True)
    assert state["step"] == 4 and {"G", "D", "E", "opt_G", "opt_D", "rng"} <= set(state)
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step-0000002.png", "step-0000004.png"]
    grid = iio.imread(out / "samples" / "step-0000004.png")
    assert grid.shape == (3 * 34 - 2, 4 * 34 - 2) and grid.dtype == np.uint8  # 3 rows x 4 images of 32 px

    stats = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == [1, 2, 3, 4]
    for s in stats:
        assert set(s) == {"step", "seconds", "lr", "loss_D_fake", "loss_D_real", "loss_G_GAN", "loss_G_FM"}
        assert all(np.isfinite(v) for v in s.values())

    info = read_info(out)
    assert info.config == TOY
    assert (info.low, info.high) == (
        float(min(s.image.min() for s in toy_dataset())), float(max(s.image.max() for s in toy_dataset())))

    renderer = ImageRenderer.from_checkpoint(out, device="cpu")
    labels = toy_dataset()[0].labels
    a = renderer.render(labels, np.random.default_rng(1))
    b = renderer.render(labels, np.random.default_rng(1))
    assert a.shape == (32, 32) and a.dtype == np.float32 and np.array_equal(a, b)
    assert info.low <= a.min() and a.max() <= info.high
    odd = renderer.render(np.pad(labels, ((0, 5), (0, 3))), np.random.default_rng(1))  # not a multiple of 4
    assert odd.shape == (37, 35)


def test_resume_continues_bit_identically(tmp_path):
    straight = train_images(toy_dataset(), tmp_path / "straight", TOY, options(steps=4))
    first = train_images(toy_dataset(), tmp_path / "resumed", TOY, options(steps=2))
    assert [json.loads(x)["step"] for x in (first / "stats.jsonl").read_text().splitlines()] == [1, 2]
    resumed = train_images(toy_dataset(), tmp_path / "resumed", None, options(steps=4))
    a = torch.load(straight / G_FILE, weights_only=True)
    b = torch.load(resumed / G_FILE, weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    lines = (resumed / "stats.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2, 3, 4]
    strip = lambda line: {k: v for k, v in json.loads(line).items() if k != "seconds"}  # noqa: E731
    assert [strip(x) for x in lines] == [strip(x) for x in (straight / "stats.jsonl").read_text().splitlines()]


def test_resume_refuses_another_architecture(tmp_path):
    train_images(toy_dataset(), tmp_path / "c", TOY, options(steps=1, snapshot_every=1))
    with pytest.raises(InputError, match="config.json: holds a different architecture than requested"):
        train_images(toy_dataset(), tmp_path / "c", Pix2PixHDConfig(ngf=8), options(steps=2))


def test_training_without_encoder_and_with_lr_decay(tmp_path):
    config = Pix2PixHDConfig(ngf=4, n_downsample_global=1, n_blocks_global=1, ndf=4, n_layers_D=1, num_D=1)
    out = train_images(toy_dataset(2), tmp_path / "plain", config,
                       options(steps=3, decay_steps=2, crop=16, augment=False))
    stats = [json.loads(x) for x in (out / "stats.jsonl").read_text().splitlines()]
    assert [s["lr"] for s in stats] == pytest.approx([2e-4, 2e-4, 1e-4])
    assert not (out / "features.npz").exists()
    image = ImageRenderer.from_checkpoint(out, "cpu").render(np.zeros((16, 16), int), np.random.default_rng(0))
    assert image.shape == (16, 16)


def test_bad_training_input_is_reported(tmp_path):
    with pytest.raises(ValueError, match="crop: 30 is not a multiple of 4"):
        train_images(toy_dataset(), tmp_path / "x", TOY, options(crop=30))
    with pytest.raises(InputError, match="s0: image is 32x32, smaller than the 64px patch"):
        train_images(toy_dataset(), tmp_path / "x", TOY, options(crop=64))
    unlabelled = segbench.Dataset("u", [segbench.Sample("a", np.zeros((32, 32), np.uint16))])
    with pytest.raises(InputError, match="dataset 'u'/a: has no mask"):
        train_images(unlabelled, tmp_path / "x", TOY, options())
    with pytest.raises(InputError, match="holds no \\(image, mask\\) pairs"):
        train_images(segbench.Dataset("e", []), tmp_path / "x", TOY, options())
    with pytest.raises(ValueError, match="label_nc: dataset folders hold instance masks only"):
        train_images(toy_dataset(), tmp_path / "x", Pix2PixHDConfig(label_nc=3), options())
    with pytest.raises(ValueError, match="batch_size: must be >= 1"):
        options(batch_size=0)


def test_renderer_reports_a_bad_checkpoint_folder(tmp_path):
    with pytest.raises(InputError, match="config.json: not found; this is not a pix2pixHD checkpoint folder"):
        ImageRenderer.from_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "other"}')
    with pytest.raises(InputError, match="format is 'other', expected 'segbench-gan/pix2pixhd'"):
        ImageRenderer.from_checkpoint(tmp_path)
