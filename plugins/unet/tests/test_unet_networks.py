"""Output shapes of every network, variant and dims; valid-convolution geometry;
tiled inference equal to one pass; anisotropic pooling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segbench_unet import layers, tiling
from segbench_unet.u2net import U2Net
from segbench_unet.unet import UNet, valid_input_size, valid_output_size
from segbench_unet.vnet import VNet


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("dims, shape", [(2, (40, 48)), (3, (16, 24, 32))])
@pytest.mark.parametrize(
    "build",
    [
        lambda d: UNet(d, 1, 3, depth=2, base_channels=4, variant="padded"),
        lambda d: UNet(d, 1, 3, depth=2, base_channels=4, variant="padded", residual=True),
        lambda d: VNet(d, 1, 3, depth=2, base_channels=4, kernel_size=3),
        lambda d: U2Net(d, 1, 3, size="lite"),
    ],
    ids=["unet-padded", "unet-residual", "vnet", "u2net-lite"],
)
def test_same_size_networks_keep_the_input_shape(build, dims, shape):
    net = build(dims).eval()
    with torch.no_grad():
        out = net(torch.zeros(2, 1, *shape))
    assert out.shape == (2, 3, *shape)


def test_u2net_returns_fused_and_six_side_outputs_when_training():
    net = U2Net(2, 1, 3, size="lite").train()
    outs = net(torch.zeros(2, 1, 32, 32))
    assert len(outs) == 7 and all(o.shape == (2, 3, 32, 32) for o in outs)


def test_published_parameter_counts():
    # U2-Net 44.0 M and U2-Net-lite 1.1 M with 3 input channels and 1 output (the paper's numbers)
    assert round(_count(U2Net(2, 3, 1, size="full")) / 1e6, 1) == 44.0
    assert round(_count(U2Net(2, 3, 1, size="lite")) / 1e6, 1) == 1.1
    # U-Net as published (64 base channels, depth 4, 2 classes): 31.0 M
    assert round(_count(UNet(2, 1, 2, depth=4, base_channels=64)) / 1e6, 1) == 31.0


def test_original_unet_shrinks_by_the_papers_margin():
    assert valid_input_size(388, [2] * 4) == 572  # the paper's tile
    net = UNet(2, 1, 2, depth=4, base_channels=2).eval()
    with torch.no_grad():
        assert net(torch.zeros(1, 1, 572, 572)).shape == (1, 2, 388, 388)
    assert valid_input_size(389, [2] * 4) is None
    assert valid_output_size(100, [2] * 4) == 100 + (4 - 100) % 16  # outputs are 4 mod 16


def test_original_unet_3d_anisotropic_shapes():
    factors = layers.pool_factors(2, 3, (2.0, 0.5, 0.5))
    assert factors == [(1, 2, 2), (1, 2, 2)]
    out = tuple(valid_output_size(4, f) for f in zip(*factors))
    inp = tuple(valid_input_size(o, f) for o, f in zip(out, zip(*factors)))
    net = UNet(3, 1, 3, depth=2, base_channels=2, factors=factors).eval()
    with torch.no_grad():
        assert net(torch.zeros(1, 1, *inp)).shape == (1, 3, *out)
    # z is never pooled: it loses 4 per block (5 blocks), y and x follow the pooled geometry
    assert inp[0] - out[0] == 20 and inp[1] - out[1] == inp[2] - out[2] == 40


def test_vnet_and_u2net_pool_z_only_once_it_is_fine_enough():
    assert layers.pool_factors(4, 3, (4.0, 1.0, 1.0)) == [(1, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2)]
    assert layers.pool_factors(2, 2, None) == [(2, 2), (2, 2)]
    net = VNet(3, 1, 2, depth=2, base_channels=4, kernel_size=3, factors=layers.pool_factors(2, 3, (2.0, 1.0, 1.0)))
    with torch.no_grad():
        assert net.eval()(torch.zeros(1, 1, 6, 16, 16)).shape == (1, 2, 6, 16, 16)


def test_tiled_reconstruction_equals_one_pass():
    torch.manual_seed(0)
    factors = [(2, 2), (2, 2)]
    net = UNet(2, 1, 3, depth=2, base_channels=4, factors=factors).eval()
    margin = (valid_input_size(12, (2, 2)) - 12) // 2
    out_tile, step = 12, 8  # 12 is a valid output size; tile origins on the 4-pixel pooling grid
    image = np.random.default_rng(0).random((1, 37, 30)).astype(np.float32)

    def forward(x):
        with torch.no_grad():
            return net(x)

    tiled = tiling.predict_tiled(forward, image, (out_tile, out_tile), (step, step), (margin, margin))
    assert tiled.shape == (3, 37, 30)
    # one pass over the same mirror-padded image covering the same tiles
    counts = [int(np.ceil((s - out_tile) / step)) + 1 for s in (37, 30)]
    covered = [(n - 1) * step + out_tile for n in counts]
    padded = tiling.mirror_pad(image, (margin, margin), [c - s + margin for c, s in zip(covered, (37, 30))])
    whole = forward(torch.from_numpy(padded)[None])[0].numpy()[:, :37, :30]
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_whole_image_pass_pads_and_crops_back():
    calls = []

    def forward(x):
        calls.append(tuple(x.shape))
        return x * 2

    image = np.arange(2 * 5 * 7, dtype=np.float32).reshape(2, 5, 7)
    out = tiling.predict_whole(forward, image, (4, 4))
    assert calls == [(1, 2, 8, 8)]
    np.testing.assert_array_equal(out, image * 2)
