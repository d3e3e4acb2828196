"""pix2pixHD networks (Wang et al., CVPR 2018): global generator, local enhancer,
feature encoder and multiscale PatchGAN discriminators.

The generators keep the module layout of the reference implementation (one
``nn.Sequential`` called ``model``; local enhancers as ``model{n}_1`` and
``model{n}_2``; residual blocks with a ``conv_block`` sequential), so their
``state_dict`` keys (``model.1.weight``, ``model.10.conv_block.1.weight``, ...)
are those of a pix2pixHD ``latest_net_G.pth``.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from .config import Pix2PixHDConfig

__all__ = [
    "ResnetBlock",
    "GlobalGenerator",
    "LocalEnhancer",
    "Encoder",
    "NLayerDiscriminator",
    "MultiscaleDiscriminator",
    "build_generator",
    "build_discriminator",
    "build_encoder",
    "init_weights",
]


def norm_layer(kind: str):
    """Factory of normalisation layers: parameter-free instance norm or batch norm."""
    if kind == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False)
    if kind == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True)
    raise ValueError(f"norm: must be 'instance' or 'batch', got {kind!r}")


def _down(cin: int, cout: int, norm) -> list[nn.Module]:
    """3x3 stride-2 convolution, normalisation, ReLU: halves height and width."""
    return [nn.Conv2d(cin, cout, kernel_size=3, stride=2, padding=1), norm(cout), nn.ReLU(True)]


def _up(cin: int, cout: int, norm) -> list[nn.Module]:
    """3x3 stride-2 transposed convolution, normalisation, ReLU: doubles height and width."""
    return [
        nn.ConvTranspose2d(cin, cout, kernel_size=3, stride=2, padding=1, output_padding=1),
        norm(cout),
        nn.ReLU(True),
    ]


def _stem(cin: int, cout: int, norm) -> list[nn.Module]:
    """Reflection pad 3 + 7x7 convolution, normalisation, ReLU (size preserving)."""
    return [nn.ReflectionPad2d(3), nn.Conv2d(cin, cout, kernel_size=7), norm(cout), nn.ReLU(True)]


def _head(cin: int, cout: int) -> list[nn.Module]:
    """Reflection pad 3 + 7x7 convolution to the output channels, tanh."""
    return [nn.ReflectionPad2d(3), nn.Conv2d(cin, cout, kernel_size=7), nn.Tanh()]


class ResnetBlock(nn.Module):
    """``x + F(x)`` with ``F`` = [reflect pad 1, 3x3 conv, norm, ReLU, reflect pad 1, 3x3 conv, norm].

    Parameters
    ----------
    channels : int
        Input = output channels.
    norm : callable
        Normalisation layer factory, ``norm(channels) -> nn.Module``.
    """

    def __init__(self, channels: int, norm):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3),
            norm(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3),
            norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def _global_layers(cin: int, cout: int, ngf: int, n_down: int, n_blocks: int, norm) -> list[nn.Module]:
    layers = _stem(cin, ngf, norm)
    for i in range(n_down):
        layers += _down(ngf * 2**i, ngf * 2 ** (i + 1), norm)
    layers += [ResnetBlock(ngf * 2**n_down, norm) for _ in range(n_blocks)]
    for i in range(n_down, 0, -1):
        layers += _up(ngf * 2**i, ngf * 2 ** (i - 1), norm)
    return layers + _head(ngf, cout)


class GlobalGenerator(nn.Module):
    """The coarse-to-fine generator's global network G1.

    7x7 stem, ``n_downsampling`` stride-2 convolutions (channels doubling),
    ``n_blocks`` residual blocks, as many transposed convolutions back up, and a
    7x7 convolution with tanh.

    Parameters
    ----------
    input_nc, output_nc : int
        Input (label + edge + feature) and output (image) channels.
    ngf : int
        Filters of the stem.
    n_downsampling, n_blocks : int
        Downsamplings and residual blocks.
    norm : {"instance", "batch"}

    Examples
    --------
    >>> import torch
    >>> g = GlobalGenerator(2, 1, ngf=4, n_downsampling=2, n_blocks=1)
    >>> g(torch.zeros(1, 2, 16, 16)).shape
    torch.Size([1, 1, 16, 16])
    >>> list(g.state_dict())[:2]
    ['model.1.weight', 'model.1.bias']
    """

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, n_downsampling: int = 3,
                 n_blocks: int = 9, norm: str = "instance"):
        super().__init__()
        self.model = nn.Sequential(
            *_global_layers(input_nc, output_nc, ngf, n_downsampling, n_blocks, norm_layer(norm))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LocalEnhancer(nn.Module):
    """Global generator (without its output head) refined by local enhancer networks.

    Enhancer ``n`` (1 = coarsest) sees the input at ``1 / 2**(N - n)`` of full
    size, downsamples it once, adds the previous stage's features, and runs
    residual blocks and one upsampling; the last enhancer ends with the 7x7 tanh
    head. The global network runs on the input average-pooled ``N`` times.

    Parameters
    ----------
    input_nc, output_nc : int
    ngf : int
        Filters of the finest enhancer (the global network gets ``ngf * 2**N``).
    n_downsample_global, n_blocks_global : int
    n_local_enhancers : int
        ``N``.
    n_blocks_local : int
    norm : {"instance", "batch"}
    """

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 32, n_downsample_global: int = 3,
                 n_blocks_global: int = 9, n_local_enhancers: int = 1, n_blocks_local: int = 3,
                 norm: str = "instance"):
        super().__init__()
        nl = norm_layer(norm)
        self.n_local_enhancers = n_local_enhancers
        trunk = _global_layers(
            input_nc, output_nc, ngf * 2**n_local_enhancers, n_downsample_global, n_blocks_global, nl
        )
        self.model = nn.Sequential(*trunk[:-3])  # without the 7x7 tanh head
        for n in range(1, n_local_enhancers + 1):
            width = ngf * 2 ** (n_local_enhancers - n)
            down = _stem(input_nc, width, nl) + _down(width, width * 2, nl)
            up = [ResnetBlock(width * 2, nl) for _ in range(n_blocks_local)] + _up(width * 2, width, nl)
            if n == n_local_enhancers:
                up += _head(ngf, output_nc)
            setattr(self, f"model{n}_1", nn.Sequential(*down))
            setattr(self, f"model{n}_2", nn.Sequential(*up))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pyramid = [x]
        for _ in range(self.n_local_enhancers):
            pyramid.append(self.downsample(pyramid[-1]))
        out = self.model(pyramid[-1])
        for n in range(1, self.n_local_enhancers + 1):
            finer = pyramid[self.n_local_enhancers - n]
            out = getattr(self, f"model{n}_2")(getattr(self, f"model{n}_1")(finer) + out)
        return out


def instance_mean(features: torch.Tensor, instances: torch.Tensor) -> torch.Tensor:
    """Replace every pixel's features by the mean over its instance (differentiable).

    Parameters
    ----------
    features : Tensor
        ``(B, C, H, W)``.
    instances : Tensor
        ``(B, 1, H, W)`` integer instance ids (any values; 0 is an instance too).

    Returns
    -------
    Tensor
        ``(B, C, H, W)``, constant within each instance of each image.
    """
    b, c, h, w = features.shape
    ids = instances.reshape(b, h * w).long()
    # make ids unique across the batch, then one segment-mean over all pixels
    _, inverse = torch.unique(ids + torch.arange(b, device=ids.device)[:, None] * (ids.max() + 1),
                              return_inverse=True)
    inverse = inverse.reshape(-1)
    flat = features.permute(0, 2, 3, 1).reshape(b * h * w, c)
    n_seg = int(inverse.max()) + 1
    sums = flat.new_zeros(n_seg, c).index_add_(0, inverse, flat)
    counts = torch.bincount(inverse, minlength=n_seg).to(flat.dtype)[:, None]
    means = sums / counts
    return means[inverse].reshape(b, h, w, c).permute(0, 3, 1, 2)


class Encoder(nn.Module):
    """Feature encoder E: an encoder-decoder whose output is averaged within each instance.

    Parameters
    ----------
    input_nc : int
        Image channels.
    output_nc : int
        Feature channels (``feat_num``).
    ngf : int
        Filters of the stem (``nef``).
    n_downsampling : int
    norm : {"instance", "batch"}
    """

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 16, n_downsampling: int = 4,
                 norm: str = "instance"):
        super().__init__()
        self.output_nc = output_nc
        self.model = nn.Sequential(*_global_layers(input_nc, output_nc, ngf, n_downsampling, 0, norm_layer(norm)))

    def forward(self, image: torch.Tensor, instances: torch.Tensor) -> torch.Tensor:
        """``(B, C_img, H, W)`` image and ``(B, 1, H, W)`` ids -> ``(B, output_nc, H, W)``."""
        return instance_mean(self.model(image), instances)


class NLayerDiscriminator(nn.Module):
    """PatchGAN discriminator returning every block's output.

    Blocks: 4x4 stride-2 conv + LeakyReLU(0.2); ``n_layers - 1`` blocks of 4x4
    stride-2 conv, norm, LeakyReLU (filters doubling, at most 512); one stride-1
    block; a 4x4 stride-1 conv to one channel (the patch scores).

    Parameters
    ----------
    input_nc : int
    ndf : int
    n_layers : int
    norm : {"instance", "batch"}
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        nl = norm_layer(norm)
        blocks = [[nn.Conv2d(input_nc, ndf, 4, stride=2, padding=2), nn.LeakyReLU(0.2, True)]]
        nf = ndf
        for n in range(1, n_layers + 1):
            prev, nf = nf, min(nf * 2, 512)
            stride = 2 if n < n_layers else 1
            blocks.append([nn.Conv2d(prev, nf, 4, stride=stride, padding=2), nl(nf), nn.LeakyReLU(0.2, True)])
        blocks.append([nn.Conv2d(nf, 1, 4, stride=1, padding=2)])
        self.blocks = nn.ModuleList(nn.Sequential(*b) for b in blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return outputs


class MultiscaleDiscriminator(nn.Module):
    """``num_D`` PatchGAN discriminators, scale ``i`` seeing the input average-pooled ``i`` times.

    ``forward`` returns, per scale (full resolution first), the list of block
    outputs; the last entry of each is the patch score map.
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, num_D: int = 2, norm: str = "instance"):
        super().__init__()
        self.scales = nn.ModuleList(NLayerDiscriminator(input_nc, ndf, n_layers, norm) for _ in range(num_D))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        results = []
        for i, disc in enumerate(self.scales):
            if i:
                x = self.downsample(x)
            results.append(disc(x))
        return results


def init_weights(module: nn.Module) -> None:
    """pix2pixHD initialisation: conv weights ~ N(0, 0.02); batch-norm scale ~ N(1, 0.02), shift 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def build_generator(config: Pix2PixHDConfig) -> nn.Module:
    """The generator ``config`` describes, initialised."""
    if config.netG == "global":
        net = GlobalGenerator(config.input_nc, config.output_nc, config.ngf, config.n_downsample_global,
                              config.n_blocks_global, config.norm)
    else:
        net = LocalEnhancer(config.input_nc, config.output_nc, config.ngf, config.n_downsample_global,
                            config.n_blocks_global, config.n_local_enhancers, config.n_blocks_local, config.norm)
    init_weights(net)
    return net


def build_discriminator(config: Pix2PixHDConfig) -> MultiscaleDiscriminator:
    """The multiscale discriminator ``config`` describes, initialised."""
    net = MultiscaleDiscriminator(config.d_input_nc, config.ndf, config.n_layers_D, config.num_D, config.norm)
    init_weights(net)
    return net


def build_encoder(config: Pix2PixHDConfig) -> Encoder | None:
    """The feature encoder (None when ``config.feat_num == 0``), initialised."""
    if not config.feat_num:
        return None
    net = Encoder(config.output_nc, config.feat_num, config.nef, config.n_downsample_E, config.norm)
    init_weights(net)
    return net
