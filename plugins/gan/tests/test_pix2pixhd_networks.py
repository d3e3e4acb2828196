"""pix2pixHD networks, inputs, losses, k-means, and reading official state dicts."""

import numpy as np
import pytest
import torch
from torch import nn

from segbench.errors import InputError
from segbench_gan.pix2pixhd import (
    GlobalGenerator,
    LocalEnhancer,
    Pix2PixHDConfig,
    build_discriminator,
    build_encoder,
    build_generator,
    config_from_state_dict,
    instance_edges,
    kmeans,
    label_input,
    load_into,
    load_weights_file,
)
from segbench_gan.pix2pixhd.features import FeatureClusters
from segbench_gan.pix2pixhd.losses import feature_matching_loss, lsgan_loss
from segbench_gan.pix2pixhd.networks import instance_mean
from segbench_gan.pix2pixhd.vgg import VGG19Features, VGGLoss

torch.set_num_threads(1)


def official_global_keys(input_nc, ngf, n_down, n_blocks):
    """The state-dict keys and shapes of pix2pixHD's GlobalGenerator with instance norm,
    spelled out from its layer list (pad, conv, norm, relu | conv, norm, relu per
    downsampling | ResnetBlock | convT, norm, relu per upsampling | pad, conv, tanh)."""
    keys, i = {}, 1
    keys[f"model.{i}.weight"], keys[f"model.{i}.bias"] = (ngf, input_nc, 7, 7), (ngf,)
    i += 3
    for d in range(n_down):
        c = ngf * 2**d
        keys[f"model.{i}.weight"], keys[f"model.{i}.bias"] = (2 * c, c, 3, 3), (2 * c,)
        i += 3
    c = ngf * 2**n_down
    for _ in range(n_blocks):
        for j in (1, 5):
            keys[f"model.{i}.conv_block.{j}.weight"], keys[f"model.{i}.conv_block.{j}.bias"] = (c, c, 3, 3), (c,)
        i += 1
    for d in range(n_down, 0, -1):
        c = ngf * 2**d
        keys[f"model.{i}.weight"], keys[f"model.{i}.bias"] = (c, c // 2, 3, 3), (c // 2,)
        i += 3
    i += 1
    keys[f"model.{i}.weight"], keys[f"model.{i}.bias"] = (1, ngf, 7, 7), (1,)
    return keys


def test_global_generator_has_the_official_key_layout():
    g = GlobalGenerator(input_nc=2, output_nc=1, ngf=8, n_downsampling=3, n_blocks=2)
    ours = {k: tuple(v.shape) for k, v in g.state_dict().items()}
    assert ours == official_global_keys(2, 8, 3, 2)
    assert list(ours)[:4] == ["model.1.weight", "model.1.bias", "model.4.weight", "model.4.bias"]
    assert "model.13.conv_block.1.weight" in ours and "model.13.conv_block.5.weight" in ours


def test_official_layout_state_dict_loads_and_its_config_is_inferred(tmp_path):
    keys = official_global_keys(input_nc=2, ngf=8, n_down=2, n_blocks=3)
    gen = torch.Generator().manual_seed(0)
    state = {k: torch.randn(shape, generator=gen) for k, shape in keys.items()}
    path = tmp_path / "latest_net_G.pth"
    torch.save(state, path)

    loaded = load_weights_file(path)
    config = config_from_state_dict(loaded, label_nc=0, use_edges=True)
    assert (config.netG, config.ngf, config.n_downsample_global, config.n_blocks_global) == ("global", 8, 2, 3)
    assert config.input_nc == 2 and config.output_nc == 1 and config.norm == "instance"
    g = build_generator(config)
    load_into(g, loaded, path)
    for k, v in g.state_dict().items():
        assert torch.equal(v, state[k])
    x = label_input(torch.zeros(1, 1, 16, 16, dtype=torch.long), config)
    assert g(x).shape == (1, 1, 16, 16)


def test_a_dataparallel_prefix_is_dropped(tmp_path):
    g = GlobalGenerator(2, 1, ngf=4, n_downsampling=1, n_blocks=1)
    path = tmp_path / "g.pth"
    torch.save({f"module.{k}": v for k, v in g.state_dict().items()}, path)
    fresh = GlobalGenerator(2, 1, ngf=4, n_downsampling=1, n_blocks=1)
    load_into(fresh, load_weights_file(path), path)
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), g.state_dict().values()))


def test_architecture_mismatch_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "latest_net_G.pth"
    torch.save(GlobalGenerator(2, 1, ngf=4, n_downsampling=1, n_blocks=1).state_dict(), path)
    with pytest.raises(InputError, match=r"latest_net_G.pth: model.1.weight has shape \(4, 2, 7, 7\), "
                                         r"the model expects \(8, 2, 7, 7\)"):
        load_into(GlobalGenerator(2, 1, ngf=8, n_downsampling=1, n_blocks=1), load_weights_file(path), path)
    with pytest.raises(InputError, match=r"8 missing keys \(first: model.8.conv_block.1.weight\), "
                                         r"4 unexpected keys \(first: model.8.weight\)"):
        load_into(GlobalGenerator(2, 1, ngf=4, n_downsampling=1, n_blocks=2), load_weights_file(path), path)
    with pytest.raises(ValueError, match="takes 2 input channels, but label_nc=3"):
        config_from_state_dict(load_weights_file(path), label_nc=3)


def test_weights_only_loading_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model": nn.Linear(2, 2)}, path)  # a pickled module, not a state dict
    with pytest.raises(InputError, match="evil.pth: is not a weights-only state dict, so segbench will not load it"):
        load_weights_file(path)


def test_local_enhancer_layout_shapes_and_inference():
    config = Pix2PixHDConfig(netG="local", ngf=4, n_downsample_global=2, n_blocks_global=1,
                             n_local_enhancers=1, n_blocks_local=1)
    g = build_generator(config)
    assert isinstance(g, LocalEnhancer)
    keys = g.state_dict()
    assert keys["model.1.weight"].shape == (8, 2, 7, 7)  # global branch gets ngf * 2
    assert "model1_1.1.weight" in keys and "model1_2.0.conv_block.1.weight" in keys
    assert keys["model1_2.5.weight"].shape == (1, 4, 7, 7)  # the head after resblock + convT/norm/relu + pad
    assert g(torch.zeros(2, 2, 32, 32)).shape == (2, 1, 32, 32)
    inferred = config_from_state_dict(keys)
    assert inferred == Pix2PixHDConfig(netG="local", ngf=4, n_downsample_global=2, n_blocks_global=1,
                                       n_local_enhancers=1, n_blocks_local=1)
    assert config.size_multiple == 8


def test_multiscale_discriminator_returns_features_per_scale():
    config = Pix2PixHDConfig(ndf=4, n_layers_D=2, num_D=3)
    d = build_discriminator(config)
    out = d(torch.zeros(1, config.d_input_nc, 32, 32))
    assert len(out) == 3 and all(len(scale) == 4 for scale in out)  # n_layers + 2 blocks
    # 4x4 convs with padding 2: stride 2 gives floor(n / 2) + 1, stride 1 gives n + 1;
    # scales see 32, 16 and 8 px (3x3 average pooling, stride 2)
    assert [tuple(s[-1].shape) for s in out] == [(1, 1, 11, 11), (1, 1, 7, 7), (1, 1, 5, 5)]
    assert out[0][0].shape == (1, 4, 17, 17) and out[0][1].shape == (1, 8, 9, 9)


def test_edges_separate_touching_instances():
    ids = torch.zeros(1, 1, 6, 6, dtype=torch.long)
    ids[0, 0, 1:5, 1:3] = 1
    ids[0, 0, 1:5, 3:5] = 2  # touching cell
    edges = instance_edges(ids)[0, 0].int().numpy()
    assert edges[2].tolist() == [1, 1, 1, 1, 1, 1]  # background rim, boundary pair (cols 2 and 3), rim
    assert edges[0].tolist() == [0, 1, 1, 1, 1, 0]
    binary = label_input(ids, Pix2PixHDConfig())
    assert binary.shape == (1, 2, 6, 6)
    assert binary[0, 0].sum() == 16  # a binary mask alone cannot tell the two cells apart
    with pytest.raises(ValueError, match="instances: expected shape"):
        instance_edges(ids[0])


def test_one_hot_label_input():
    config = Pix2PixHDConfig(label_nc=3, use_edges=False)
    semantic = torch.tensor([[[[0, 1], [2, 1]]]])
    x = label_input(semantic, config, semantic)
    assert x.shape == (1, 3, 2, 2) and x[0, :, 1, 0].tolist() == [0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match=r"class ids must lie in \[0, 3\)"):
        label_input(semantic, config, semantic + 2)
    with pytest.raises(ValueError, match="label_nc: must be 0"):
        Pix2PixHDConfig(label_nc=1)


def test_instance_mean_is_constant_per_instance_and_differentiable():
    feats = torch.arange(2 * 1 * 2 * 3, dtype=torch.float32).reshape(2, 1, 2, 3).requires_grad_()
    ids = torch.tensor([[[[0, 0, 1], [0, 1, 1]]], [[[5, 5, 5], [5, 5, 0]]]])
    out = instance_mean(feats, ids)
    np.testing.assert_allclose(out[0, 0].detach(), [[4 / 3, 4 / 3, 11 / 3], [4 / 3, 11 / 3, 11 / 3]], rtol=1e-6)
    assert out[1, 0].tolist() == [[8.0, 8.0, 8.0], [8.0, 8.0, 11.0]]  # id 0 is an instance too
    out.sum().backward()
    assert torch.allclose(feats.grad, torch.ones_like(feats))


def test_encoder_output_is_instance_averaged():
    config = Pix2PixHDConfig(feat_num=3, nef=4, n_downsample_E=2)
    e = build_encoder(config)
    ids = torch.zeros(1, 1, 16, 16, dtype=torch.long)
    ids[..., 2:8, 2:8] = 1
    out = e(torch.randn(1, 1, 16, 16), ids)
    assert out.shape == (1, 3, 16, 16)
    assert torch.unique(out[0, 0][ids[0, 0] == 1]).numel() == 1
    assert build_encoder(Pix2PixHDConfig()) is None


def test_losses_on_known_values():
    preds = [[torch.zeros(1, 2, 1, 1), torch.full((1, 1, 2, 2), 0.5)], [torch.zeros(1), torch.ones(1, 1, 1, 1)]]
    assert float(lsgan_loss(preds, True)) == pytest.approx(0.25 + 0.0)
    assert float(lsgan_loss(preds, False)) == pytest.approx(0.25 + 1.0)
    real = [[torch.ones(1, 2, 1, 1), torch.zeros(1)], [torch.ones(1, 2, 1, 1), torch.zeros(1)]]
    fake = [[torch.zeros(1, 2, 1, 1), torch.zeros(1)], [torch.ones(1, 2, 1, 1), torch.zeros(1)]]
    # one intermediate layer per scale (n_layers = 0): weight 4 / (0 + 1), per scale 1/2; L1 = 1 at scale 0 only
    assert float(feature_matching_loss(fake, real)) == pytest.approx(2.0)


def test_kmeans_finds_separated_clusters_and_feature_maps_use_them(tmp_path):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (50, 2)), rng.normal(5, 0.1, (50, 2))])
    centres = kmeans(x, 2, seed=1)
    np.testing.assert_allclose(centres, [[0, 0], [5, 5]], atol=0.05)
    assert kmeans(np.ones((5, 2)), 3).shape == (1, 2)  # fewer distinct points than k

    clusters = FeatureClusters({0: np.array([[-1.0, -1.0]]), 1: centres})
    clusters.save(tmp_path / "features.npz")
    loaded = FeatureClusters.load(tmp_path / "features.npz")
    labels = np.array([[0, 1, 1], [0, 2, 2]])
    fmap = loaded.feature_map(labels, np.random.default_rng(3))
    assert fmap.shape == (2, 2, 3)
    assert fmap[:, 0, 0].tolist() == [-1.0, -1.0]
    for inst in (1, 2):
        values = fmap[:, labels == inst]
        assert (values == values[:, :1]).all()
        assert any(np.allclose(values[:, 0], c) for c in centres)
    with pytest.raises(InputError, match="feature clusters file not found"):
        FeatureClusters.load(tmp_path / "missing.npz")


def _torchvision_layout_vgg19_state():
    """Random weights with torchvision's vgg19 key names (features.N, classifier.N)."""
    widths = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
    state, cin, i = {}, 3, 0
    gen = torch.Generator().manual_seed(0)
    for w in widths:
        if w == "M":
            i += 1
            continue
        state[f"features.{i}.weight"] = torch.randn(w, cin, 3, 3, generator=gen) * 0.05
        state[f"features.{i}.bias"] = torch.zeros(w)
        cin, i = w, i + 2
    state["classifier.0.weight"] = torch.zeros(4, 4)
    return state


def test_vgg19_loads_a_torchvision_layout_file_and_gives_a_perceptual_loss(tmp_path):
    path = tmp_path / "vgg19.pth"
    torch.save(_torchvision_layout_vgg19_state(), path)
    vgg = VGG19Features.from_file(path)
    assert torch.equal(vgg.features[28].weight, torch.load(path, weights_only=True)["features.28.weight"])
    taps = vgg(torch.zeros(1, 1, 32, 32))
    assert [t.shape[1] for t in taps] == [64, 128, 256, 512, 512]
    loss = VGGLoss(vgg)
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    assert float(loss(x, x)) == 0.0
    assert float(loss(x, -x)) > 0
    assert not any(p.requires_grad for p in vgg.parameters())


def test_vgg19_refuses_missing_or_wrong_files(tmp_path):
    with pytest.raises(InputError, match="VGG19 weight file not found; .*nothing is downloaded"):
        VGG19Features.from_file(tmp_path / "nope.pth")
    state = _torchvision_layout_vgg19_state()
    del state["features.28.weight"]
    torch.save(state, tmp_path / "vgg16.pth")
    with pytest.raises(InputError, match="missing features.28.weight"):
        VGG19Features.from_file(tmp_path / "vgg16.pth")


def test_a_features_file_with_a_foreign_entry_is_one_line(tmp_path):
    import numpy as np
    import pytest
    from segbench.errors import InputError

    np.savez(tmp_path / "features.npz", class_1=np.zeros((2, 3), np.float32), extra=np.zeros(3))
    with pytest.raises(InputError, match="has an entry 'extra' that is not class_N clusters"):
        FeatureClusters.load(tmp_path / "features.npz")


def test_a_pickled_pth_is_refused_in_one_line_without_torch_s_advice(tmp_path):
    import pytest
    import torch
    from segbench.errors import InputError
    from segbench_gan.pix2pixhd.checkpoint import load_weights_file

    torch.save({"net": torch.nn.Linear(2, 2)}, tmp_path / "latest_net_G.pth")  # a pickled module
    with pytest.raises(InputError) as info:
        load_weights_file(tmp_path / "latest_net_G.pth")
    message = str(info.value)
    assert "\n" not in message and "weights_only=False" not in message
    assert "is not a weights-only state dict, so segbench will not load it (it holds pickled Python objects" in message
