"""Training the mask GAN on CPU: losses, outputs, checkpoints, resumption, sampling."""

import json
import math

import numpy as np
import pytest
import torch

import segbench
from segbench.errors import InputError
from segbench_gan.stylegan3 import export_mask_generator, load_mask_generator, train_masks
from segbench_gan.stylegan3.augment import AdaptiveAugment, random_dihedral, soften
from segbench_gan.stylegan3.checkpoint import read_checkpoint

torch.set_num_threads(1)

TOY = dict(resolution=32, num_layers=4, channel_base=512, channel_max=16, margin_size=4, z_dim=16, w_dim=16,
           d_channel_base=256, d_channel_max=32, batch_size=4, r1_interval=2, tick_every=2, grid_size=4,
           augment_interval=1, augment_speed_kimg=0.02, device="cpu")


@pytest.fixture(scope="module")
def masks():
    """Label images with disks, some touching."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:48, :48]
    samples = []
    for i in range(6):
        labels = np.zeros((48, 48), np.uint16)
        for k, (cy, cx) in enumerate(rng.uniform(8, 40, size=(4, 2)), start=1):
            labels[(yy - cy) ** 2 + (xx - cx) ** 2 < 36] = k
        samples.append(segbench.Sample(f"m{i}", labels.astype(np.float32), labels))
    return samples


@pytest.fixture(scope="module")
def trained(masks, tmp_path_factory):
    """6 steps straight through, snapshots every 3."""
    out = tmp_path_factory.mktemp("train") / "run"
    statuses = []
    result = train_masks(masks, out, steps=6, snapshot_every=3, progress=statuses.append, **TOY)
    return out, result, statuses


def test_training_writes_snapshots_grids_and_stats(trained):
    out, result, statuses = trained
    assert result.step == 6 and result.finished and result.resumed_from is None
    assert result.kimg == pytest.approx(0.024)
    assert result.snapshot == out / "snapshot-0000006.pt"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["samples-0000003.png", "samples-0000006.png", "snapshot-0000003.pt", "snapshot-0000006.pt",
                     "stats.jsonl", "training.json"]
    lines = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [2, 4, 6]
    for line in lines:
        assert set(line) == {"step", "kimg", "loss_G", "loss_D", "r1", "augment_p", "seconds"}
        assert all(math.isfinite(line[k]) for k in ("loss_G", "loss_D", "r1", "augment_p", "seconds"))
    assert [line["kimg"] for line in lines] == [0.008, 0.016, 0.024]
    # ADA moves p by batch / (speed_kimg * 1000) = 0.2 per step, clipped to [0, 1].
    assert all(line["augment_p"] == pytest.approx(round(line["augment_p"] / 0.2) * 0.2) for line in lines)
    assert [s.step for s in statuses] == [1, 2, 3, 4, 5, 6]
    assert [s.snapshot.name if s.snapshot else None for s in statuses] == [
        None, None, "snapshot-0000003.pt", None, None, "snapshot-0000006.pt"]
    config = json.loads((out / "training.json").read_text())
    assert config["config"]["resolution"] == 32 and config["options"]["total_steps"] == 6
    assert config["options"]["r1_gamma"] == pytest.approx(0.0002 * 32**2 / 4)


def test_config_r_trains_with_finite_losses(masks, tmp_path):
    result = train_masks(masks, tmp_path / "r", config="r", steps=2, **{**TOY, "channel_base": 1024})
    line = json.loads((tmp_path / "r" / "stats.jsonl").read_text().splitlines()[-1])
    assert result.step == 2 and all(math.isfinite(line[k]) for k in ("loss_G", "loss_D", "r1"))
    assert read_checkpoint(result.snapshot)["config"]["architecture"] == "r"


def test_snapshot_is_weights_only_and_rebuilds_the_same_generator(trained):
    out, result, _ = trained
    data = read_checkpoint(result.snapshot)
    assert data["step"] == 6 and set(data) >= {"G", "D", "G_ema", "opt_G", "opt_D", "rng", "augment", "config"}
    gen = load_mask_generator(result.snapshot, device="cpu")
    assert gen.resolution == 32 and gen.config == data["config"]
    from segbench_gan.stylegan3.checkpoint import generator_from_checkpoint

    G = generator_from_checkpoint(data)
    z = torch.from_numpy(np.stack([np.random.default_rng((5, i)).standard_normal(16) for i in range(8)])).float()
    np.testing.assert_array_equal(gen.sample_logits(3, seed=5), G(z)[:3, 0].numpy())


def test_sampling_is_deterministic_and_independent_of_n(trained):
    out, _, _ = trained
    gen = load_mask_generator(out, device="cpu")  # a folder: its newest snapshot
    logits = gen.sample_logits(10, seed=3)
    assert logits.shape == (10, 32, 32) and logits.dtype == np.float32
    np.testing.assert_array_equal(gen.sample_logits(3, seed=3), logits[:3])
    assert not np.array_equal(gen.sample_logits(3, seed=4), logits[:3])
    labels = gen.sample(4, seed=3)
    assert len(labels) == 4 and all(lab.dtype == np.int32 and lab.shape == (32, 32) for lab in labels)
    for lab, m in zip(labels, gen.sample_masks(4, seed=3)):
        assert not (lab > 0)[~m].any()  # objects lie inside the thresholded mask
    truncated = gen.sample_logits(2, seed=3, truncation_psi=0.0)
    np.testing.assert_allclose(truncated[0], truncated[1], atol=1e-6)  # all at w_avg
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        gen.sample(1, seed=-1)


def test_export_round_trip(trained, tmp_path):
    out, result, _ = trained
    exported = export_mask_generator(out, tmp_path / "masks" / "generator.pt")
    assert exported.stat().st_size < result.snapshot.stat().st_size / 2
    a, b = load_mask_generator(exported, device="cpu"), load_mask_generator(result.snapshot, device="cpu")
    np.testing.assert_array_equal(a.sample_logits(4, seed=1), b.sample_logits(4, seed=1))
    assert a.info["step"] == 6 and a.info["snapshot"] == "snapshot-0000006.pt"
    assert load_mask_generator(tmp_path / "masks").source.endswith("generator.pt")  # folder: generator.pt first


def test_resume_continues_bit_for_bit(masks, trained, tmp_path):
    """Stopping after 3 steps and resuming to 6 gives the weights, optimiser state,
    ADA state and random stream of the uninterrupted run."""
    _, straight, _ = trained
    first = train_masks(masks, tmp_path / "run", steps=3, snapshot_every=3, **TOY)
    assert first.step == 3
    resumed = train_masks(masks, tmp_path / "run", steps=6, snapshot_every=3, **TOY)
    assert resumed.resumed_from == 3 and resumed.step == 6
    a, b = read_checkpoint(straight.snapshot), read_checkpoint(resumed.snapshot)
    for net in ("G", "D", "G_ema"):
        assert a[net].keys() == b[net].keys()
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), f"{net}.{key}"
    assert a["augment"] == b["augment"] and torch.equal(a["rng"], b["rng"]) and a["cur_nimg"] == b["cur_nimg"]
    for key, state in a["opt_D"]["state"].items():
        assert torch.equal(state["exp_avg_sq"], b["opt_D"]["state"][key]["exp_avg_sq"])
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert steps == [2, 3, 4, 6]  # the interrupted run closed a partial tick at its last step


def test_resume_after_a_kill_drops_stats_past_the_snapshot(masks, trained, tmp_path):
    out = tmp_path / "run"
    train_masks(masks, out, steps=2, snapshot_every=2, **TOY)
    with (out / "stats.jsonl").open("a") as f:  # what a run killed after step 2 would have logged
        f.write(json.dumps({"step": 3, "kimg": 0.012}) + "\n")
    train_masks(masks, out, steps=4, snapshot_every=2, **TOY)
    steps = [json.loads(line)["step"] for line in (out / "stats.jsonl").read_text().splitlines()]
    assert steps == [2, 4]


def test_resume_refuses_another_architecture(masks, trained):
    out, _, _ = trained
    with pytest.raises(InputError, match=r"holds a training of another architecture \(channel_max: 16 there "
                                         r"vs 8 now\); resume with the same architecture settings"):
        train_masks(masks, out, steps=8, **{**TOY, "channel_max": 8})


def test_training_length_arguments():
    with pytest.raises(ValueError, match="give steps or kimg, not both"):
        train_masks([], "unused", steps=1, kimg=1.0)


def test_augmentation_is_identity_at_p0_and_label_preserving():
    x = (torch.rand(8, 1, 16, 16) > 0.5).float() * 2 - 1
    rng = torch.Generator().manual_seed(0)
    assert torch.equal(AdaptiveAugment(p=0.0)(x, rng), x)
    y = AdaptiveAugment(p=1.0)(x, rng)
    assert set(y.unique().tolist()) <= {-1.0, 1.0}  # masks stay binary
    assert not torch.equal(y, x)
    d = random_dihedral(x, rng)
    assert sorted(d.sum(dim=(1, 2, 3)).tolist()) == sorted(x.sum(dim=(1, 2, 3)).tolist())
    grad_in = x.clone().requires_grad_(True)
    AdaptiveAugment(p=1.0)(grad_in, rng).sum().backward()
    assert grad_in.grad is not None


def test_ada_adjusts_p_from_the_sign_of_real_logits():
    aug = AdaptiveAugment(p=0.5, target=0.6, speed_kimg=1.0)
    aug.accumulate(torch.tensor([1.0, 1.0, 1.0, -1.0]))  # r_t = 0.5 < 0.6: lower p
    aug.update(num_images=100)
    assert aug.p == pytest.approx(0.4)
    aug.accumulate(torch.ones(4))  # r_t = 1 > 0.6: raise p
    aug.update(num_images=100)
    assert aug.p == pytest.approx(0.5)
    aug.update(num_images=100)  # nothing accumulated: unchanged
    assert aug.p == pytest.approx(0.5)


def test_soften_blurs_edges_but_keeps_one_pixel_gaps_at_the_default_sigma():
    x = -torch.ones(1, 1, 12, 16)
    x[..., 2:10, 2:7] = 1
    x[..., 2:10, 8:14] = 1  # column 7 is a 1-px gap between two objects
    y = soften(x, 0.7)
    assert y.shape == x.shape and torch.equal(soften(x, 0.0), x)
    assert ((y > 0) == (x > 0))[..., 3:9, :].all()  # away from the corners the mask is unchanged
    assert y[..., 5, 7].item() == pytest.approx(-0.140, abs=0.001)  # the gap stays background
    assert 0 < y[..., 5, 6].item() < 1  # edges are soft
    assert (soften(x, 1.0)[..., 5, 7] > 0).all()  # wider blur would close the gap
