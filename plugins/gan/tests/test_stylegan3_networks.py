"""StyleGAN3 networks: layer schedule, generator T and R, mapping, Fourier input, discriminator."""

import dataclasses

import pytest
import torch

from segbench_gan.stylegan3.config import StyleGAN3Config, layer_schedule
from segbench_gan.stylegan3.discriminator import Discriminator, minibatch_stddev
from segbench_gan.stylegan3.generator import Generator
from segbench_gan.stylegan3.synthesis import SynthesisInput

torch.set_num_threads(1)

TOY = dict(resolution=32, num_layers=4, channel_base=512, channel_max=16, margin_size=4, z_dim=16, w_dim=16,
           d_channel_base=256, d_channel_max=32)


def test_paper_schedule_at_256_pixels():
    """The official StyleGAN3-T 256x256 generator's layer names (sizes with margins,
    channels) follow from the schedule; the output layer has our 1 channel."""
    G = Generator(StyleGAN3Config(resolution=256))
    assert G.synthesis.layer_names == [
        "L0_36_512", "L1_36_512", "L2_36_512", "L3_52_512", "L4_52_512", "L5_84_512", "L6_84_512",
        "L7_148_512", "L8_148_512", "L9_148_362", "L10_276_256", "L11_276_181", "L12_276_128",
        "L13_256_128", "L14_256_1",
    ]
    s = layer_schedule(StyleGAN3Config(resolution=256))
    assert s.sampling_rates.tolist() == [16, 16, 16, 32, 32, 64, 64, 128, 128, 128, 256, 256, 256, 256, 256]
    assert s.cutoffs[0] == 2 and s.cutoffs[-1] == 128 and s.cutoffs[-3] == 128
    assert G.synthesis.L3_52_512.up_factor == 4 and G.synthesis.L3_52_512.padding == (-6, -9, -6, -9)
    assert G.synthesis.L14_256_1.up_filter is None and G.synthesis.L14_256_1.conv_kernel == 1
    keys = set(G.state_dict())
    assert {"mapping.fc0.weight", "mapping.fc1.bias", "mapping.w_avg", "synthesis.input.freqs",
            "synthesis.input.phases", "synthesis.input.transform", "synthesis.input.affine.weight",
            "synthesis.L0_36_512.magnitude_ema", "synthesis.L0_36_512.up_filter",
            "synthesis.L13_256_128.down_filter"} <= keys


def test_config_r_uses_1x1_convolutions_and_radial_filters():
    cfg = StyleGAN3Config(architecture="R", **TOY)
    G = Generator(cfg)
    layers = [getattr(G.synthesis, n) for n in G.synthesis.layer_names]
    assert cfg.architecture == "r" and cfg.channel_base == 512
    assert all(layer.weight.shape[-1] == 1 for layer in layers)
    radial = [layer.down_filter.ndim == 2 for layer in layers[:-1]]
    assert radial == [not layer.is_critically_sampled for layer in layers[:-1]]
    assert StyleGAN3Config(architecture="r").channel_base == 65536


@pytest.mark.parametrize("architecture", ["t", "r"])
def test_toy_generator_and_discriminator_shapes(architecture):
    torch.manual_seed(0)
    cfg = StyleGAN3Config(architecture=architecture, **TOY)
    G, D = Generator(cfg), Discriminator(cfg)
    img = G(torch.randn(4, 16))
    assert img.shape == (4, 1, 32, 32)
    assert torch.isfinite(img).all()
    logits = D(img)
    assert logits.shape == (4,)
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in G.parameters())


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="resolution must be a power of two"):
        StyleGAN3Config(resolution=48)
    with pytest.raises(ValueError, match="architecture must be 't' or 'r'"):
        StyleGAN3Config(architecture="x")
    with pytest.raises(ValueError, match=r"num_layers must be an integer > num_critical \(2\)"):
        StyleGAN3Config(num_layers=2)
    with pytest.raises(ValueError, match=r"unknown StyleGAN3 config keys \['colour'\]"):
        StyleGAN3Config.from_dict({**StyleGAN3Config().to_dict(), "colour": 1})
    cfg = StyleGAN3Config(**TOY)
    assert StyleGAN3Config.from_dict(dataclasses.asdict(cfg)) == cfg


def test_mapping_truncation_and_w_avg():
    torch.manual_seed(0)
    G = Generator(StyleGAN3Config(**TOY))
    z = torch.randn(6, 16)
    ws = G.mapping(z, update_emas=True)
    assert ws.shape == (6, G.cfg.num_ws, 16)
    # w_avg moved from 0 by (1 - beta) of the batch mean.
    torch.testing.assert_close(G.mapping.w_avg, (1 - 0.998) * ws[:, 0].mean(dim=0))
    truncated = G.mapping(z, truncation_psi=0.0)
    torch.testing.assert_close(truncated, G.mapping.w_avg.expand_as(truncated))
    half = G.mapping(z, truncation_psi=0.5)
    torch.testing.assert_close(half, G.mapping.w_avg + 0.5 * (ws - G.mapping.w_avg))
    # z is normalised: scaling it changes nothing.
    torch.testing.assert_close(G.mapping(3 * z), G.mapping(z))


def test_update_emas_tracks_layer_magnitudes():
    torch.manual_seed(0)
    G = Generator(StyleGAN3Config(**TOY))
    first = getattr(G.synthesis, G.synthesis.layer_names[0])
    assert first.magnitude_ema.item() == 1.0
    G(torch.randn(4, 16))
    assert first.magnitude_ema.item() == 1.0
    G(torch.randn(4, 16), update_emas=True)
    assert first.magnitude_ema.item() != 1.0


def _input_layer():
    torch.manual_seed(0)
    return SynthesisInput(w_dim=4, channels=8, size=20, sampling_rate=16, bandwidth=2)


def test_fourier_features_translate_with_the_affine_output():
    layer = _input_layer()
    w = torch.zeros(1, 4)
    base = layer(w)
    with torch.no_grad():  # translate by one pixel (1 / sampling_rate) along x, then along y
        layer.affine.bias.copy_(torch.tensor([1.0, 0.0, 1 / 16, 0.0]))
    torch.testing.assert_close(layer(w)[..., 1:], base[..., :-1], atol=1e-5, rtol=0)
    with torch.no_grad():
        layer.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1 / 16]))
    torch.testing.assert_close(layer(w)[..., 1:, :], base[..., :-1, :], atol=1e-5, rtol=0)


def test_fourier_features_rotate_with_the_affine_output():
    layer = _input_layer()
    w = torch.zeros(1, 4)
    base = layer(w)
    with torch.no_grad():  # (cos, sin) = (0, 2): a quarter turn (the length is normalised away)
        layer.affine.bias.copy_(torch.tensor([0.0, 2.0, 0.0, 0.0]))
    torch.testing.assert_close(layer(w), torch.rot90(base, 1, dims=(2, 3)), atol=1e-5, rtol=0)


def test_fourier_frequencies_lie_in_the_band():
    layer = _input_layer()
    assert layer.freqs.norm(dim=1).max().item() <= 2.0
    assert layer.phases.abs().max().item() <= 0.5


def test_minibatch_stddev_appends_group_statistics():
    x = torch.zeros(4, 2, 3, 3)
    x[2] = 2.0  # groups are samples {0, 2} and {1, 3} (stride N / G)
    y = minibatch_stddev(x, group_size=2)
    assert y.shape == (4, 3, 3, 3)
    assert y[0, 2].unique().tolist() == pytest.approx([1.0])  # std of (0, 2)
    assert y[1, 2].unique().tolist() == pytest.approx([1e-4])  # sqrt(0 + 1e-8)
    assert minibatch_stddev(torch.randn(6, 2, 3, 3), group_size=4).shape == (6, 3, 3, 3)  # groups of gcd = 2


def test_discriminator_rejects_wrong_shape():
    D = Discriminator(StyleGAN3Config(**TOY))
    with pytest.raises(ValueError, match=r"img must have shape \(N, 1, 32, 32\), got \(2, 1, 16, 16\)"):
        D(torch.zeros(2, 1, 16, 16))
