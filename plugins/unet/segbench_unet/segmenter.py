"""The segbench segmenters ``unet``, ``vnet`` and ``u2net``.

They share everything but the network: :class:`NetworkSegmenter` holds the
common parameters, training (``fit``/``load``), the network pass
(``predict_raw``: class probabilities, or foreground and distance maps) and
the instance post-processing (``postprocess``: seeded watershed); each
subclass declares its own architecture parameters and builds its network.
torch and the networks are imported on first use (building, training or
loading a network), so ``segbench list`` does not import torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

import numpy as np

import segbench
from segbench import kit
from segbench.errors import SegbenchError

from . import __version__, data, instances
from .options import HEADS, LOSSES, U2NET_CONFIGS, VARIANTS, pool_factors, total_factors
from .options import valid_input_size, valid_output_size
from .targets import TARGETS

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .training import Progress


class NetworkSegmenter(segbench.Segmenter):
    """Common machinery; subclasses set ``name``, build ``self.arch`` and implement
    :meth:`_build` (and, for valid convolutions, :meth:`_margin`)."""

    name: ClassVar[str] = ""

    @classmethod
    def skip(cls, ndim: int, params: Mapping[str, Any]) -> str | None:
        """Why a network of these ``params`` cannot run (or train on) ``ndim``-D
        images: one built for the other dimensionality (``dims`` set); without
        ``dims`` a network is built for each dataset's images."""
        dims = params.get("dims")
        if dims in (2, 3) and dims != ndim:
            return f"its network is {dims}D (dims: {dims}); leave dims unset to build one for each dataset's images"
        return super().skip(ndim, params)

    def _setup(
        self,
        arch: dict[str, Any],
        dims: int | None,
        target: str,
        head: str | None,
        spacing: Sequence[float] | None,
        weights: str | None,
        device: str,
        depth: int,
    ) -> None:
        self.target = kit.choice("target", target, TARGETS)
        default_head = "softmax" if target == "classes" else "sigmoid"
        self.head = kit.choice("head", default_head if head is None else head, HEADS)
        if target == "distance" and self.head != "sigmoid":
            raise kit.ParameterError("head: target 'distance' needs head 'sigmoid' (its foreground and distance are separate channels)")
        if spacing is not None and (len(spacing) not in (2, 3) or any(float(s) <= 0 for s in spacing)):
            raise kit.ParameterError(f"spacing: need 2 or 3 positive voxel sizes, got {spacing!r}")
        self._spacing = None if spacing is None else tuple(float(s) for s in spacing)
        self._depth = depth
        self.dims: int | None = None
        self.spacing: tuple[float, ...] | None = None
        self.factors: list[tuple[int, ...]] = []
        if dims is not None:
            self._use_dims(kit.choice("dims", dims, (2, 3)))
        self.arch = arch
        self.weights = None if weights is None else str(weights)
        self.device = kit.torch_device(device)
        self._net: nn.Module | None = None
        self._weights_sha256: str | None = None
        self._history: dict | None = None

    def _use_dims(self, ndim: int, what: str = "") -> None:
        """Fix the dimensionality (given, or that of the first data or weights seen)."""
        if self.dims is None:
            if ndim not in (2, 3):
                raise SegbenchError(f"{self.name}: {what or 'data'} is {ndim}D; only 2D (Y, X) and 3D (Z, Y, X) single-channel images are supported")
            self.dims = ndim
            self.spacing = None if self._spacing is None else self._spacing[-ndim:]
            if self.spacing is not None and len(self.spacing) < ndim:
                raise kit.ParameterError(f"spacing: need {ndim} voxel sizes for {ndim}D images, got {self._spacing!r}")
            self.factors = pool_factors(self._depth, ndim, self.spacing)
        elif ndim != self.dims:
            raise SegbenchError(f"{self.name}: {what or 'data'} is {ndim}D but the network is {self.dims}D; set dims: {ndim} or leave dims unset (taken from the data)")

    # -- what subclasses provide ---------------------------------------------------

    def _build(self) -> nn.Module:  # pragma: no cover - interface
        raise NotImplementedError

    def _margin(self) -> tuple[int, ...]:
        """Context the network consumes on each side per axis (0 for same-size networks)."""
        return (0,) * self.dims

    def _output_shape(self, minimum: Sequence[int]) -> tuple[int, ...]:
        """Smallest output patch >= ``minimum`` per axis the network produces exactly."""
        multiples = total_factors(self.factors, self.dims)
        return tuple(-(-int(m) // k) * k for m, k in zip(minimum, multiples))

    # -- configuration and weights ----------------------------------------------

    @property
    def out_channels(self) -> int:
        return 3 if self.target == "classes" else 2

    def config(self) -> dict[str, Any]:
        """What identifies the network a checkpoint holds (compared on loading)."""
        return {
            "segmenter": self.name,
            "dims": self.dims,
            "target": self.target,
            "head": self.head,
            "arch": dict(self.arch),
            "pool_factors": [list(f) for f in self.factors],
        }

    def _load_file(self, path: Path) -> None:
        from . import checkpoint

        found, state, history = checkpoint.read(path)
        if found is not None:
            self._use_dims(int(found.get("dims", 0)), f"the network in {path}")
            checkpoint.check_config(path, found, self.config())
        else:
            self._use_dims(next(v.ndim for v in state.values() if v.ndim >= 4) - 2, f"the network in {path}")
        net = self._build()
        try:
            net.load_state_dict(state)
        except RuntimeError as err:
            raise SegbenchError(f"{path}: the weights do not fit this {self.name} ({str(err).splitlines()[0]}); set the parameters the weights were trained with") from None
        self._net = net.to(self.device).eval()
        self._weights_sha256 = kit.weights_sha256(path)
        self._history = history

    @property
    def net(self) -> nn.Module:
        """The network in evaluation mode (loaded from ``weights`` on first use)."""
        if self._net is None:
            if self.weights is None:
                raise SegbenchError(
                    f"{self.name}: no weights; add a train: block to the suite entry to train it, "
                    "or set weights: PATH (a model.pt written by a previous training)"
                )
            self._load_file(Path(self.weights))
        return self._net

    # -- training ------------------------------------------------------------------

    def fit(
        self,
        train: segbench.Dataset,
        workdir: Path,
        *,
        seed: int = 0,
        progress: Progress | None = None,
        epochs: int = 20,
        steps_per_epoch: int = 10,
        batch_size: int = 4,
        patch_size: int | Sequence[int] = 128,
        learning_rate: float = 2e-3,
        loss: str = "ce_dice",
        class_weights: str | Sequence[float] = "none",
        boundary_width: int = 1,
        val_fraction: float = 0.125,
        augment: bool = True,
    ) -> None:
        """Train the network on ``train`` from scratch (or from ``weights`` when set)
        and write ``workdir/model.pt``.

        Parameters
        ----------
        train : segbench.Dataset
            Images with label images, all ``dims``-dimensional.
        workdir : Path
            Existing folder; receives ``model.pt``.
        seed : int
            Seeds the initial weights, the validation split, patches and augmentation.
        progress : callable, optional
            ``progress(epoch, epochs, mean training loss)`` after every epoch.
        epochs, steps_per_epoch, batch_size : int
            Optimisation steps = ``epochs * steps_per_epoch``, each on
            ``batch_size`` random patches; validation after every epoch.
        patch_size : int or list of int
            Output patch side in pixels (per axis for a list), capped by the
            image size, rounded up to a size the network produces.
        learning_rate : float
            Adam's initial learning rate; cosine decay to 1 % of it.
        loss : str
            ``ce``, ``dice``, ``ce_dice`` or ``focal`` (:mod:`segbench_unet.losses`).
        class_weights : "balanced", "none" or list of float
            Per-class loss weights (background, interior, boundary; or
            background, foreground for ``target: distance``); ``balanced``: inverse
            class frequencies of the training targets (it over-weights the thin
            boundary class on small nuclei, which then grow too large; see README).
        boundary_width : int
            Width of the boundary class inside each nucleus, pixels.
        val_fraction : float
            Fraction of the images held out for validation (at least one when
            positive); the epoch with the lowest validation loss is kept.
        augment : bool
            Random flips and 90-degree rotations (shifts: patch positions are always random).
        """
        from . import checkpoint, training

        samples = kit.train_samples(train, self.name)
        for s in samples:
            self._use_dims(s.image.ndim, f"train image {s.name!r} of shape {s.image.shape}")
        loss = kit.choice("loss", loss, LOSSES)
        patch = [int(patch_size)] * self.dims if np.isscalar(patch_size) else [int(p) for p in patch_size]
        if len(patch) != self.dims or min(patch) < 1:
            raise kit.ParameterError(f"patch_size: need one positive size or {self.dims}, got {patch_size!r}")
        smallest = np.min([s.image.shape for s in samples], axis=0)
        out_shape = self._output_shape([min(p, int(s)) for p, s in zip(patch, smallest)])
        margin = self._margin()
        boundary_width = kit.integer("boundary_width", boundary_width, low=1)
        examples = [data.prepare(s.image, s.labels, self.target, margin, out_shape, boundary_width) for s in samples]
        weights = self._class_weights(class_weights, examples)
        settings = training.Settings(
            epochs=kit.integer("epochs", epochs, low=1), steps_per_epoch=kit.integer("steps_per_epoch", steps_per_epoch, low=1),
            batch_size=kit.integer("batch_size", batch_size, low=1), patch_shape=out_shape, margin=margin,
            learning_rate=float(learning_rate), loss=loss, head=self.head, target=self.target,
            class_weights=weights, boundary_width=boundary_width, val_fraction=float(val_fraction),
            augment=bool(augment), seed=int(seed),
        )
        _torch().manual_seed(int(seed))
        net = self._build() if self.weights is None else self.net
        history = training.train(net, examples, settings, self.device, progress)
        self._history = {**history.as_dict(), "class_weights": weights, "patch_shape": list(out_shape)}
        state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        path = Path(workdir) / checkpoint.FILENAME
        checkpoint.save(path, self.config(), state, self._history)
        self._weights_sha256 = kit.weights_sha256(path)
        self._net = net.eval()

    def _class_weights(self, value, examples: Sequence[data.Example]) -> list[float]:
        n = self.out_channels if self.target == "classes" else 2
        if isinstance(value, str):
            kit.choice("class_weights", value, ("balanced", "none"))
            if value == "none":
                return [1.0] * n
            from .training import balanced_weights

            return balanced_weights([e.target for e in examples], self.target)
        weights = [float(w) for w in value]
        if len(weights) != n or min(weights) <= 0:
            raise kit.ParameterError(f"class_weights: need {n} positive weights, 'balanced' or 'none', got {value!r}")
        return weights

    def load(self, workdir: Path) -> None:
        """Restore the network ``fit`` wrote into ``workdir``."""
        from .checkpoint import FILENAME

        self._load_file(Path(workdir) / FILENAME)

    # -- prediction ----------------------------------------------------------------

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        from .losses import probabilities

        torch = _torch()
        with torch.no_grad():
            logits = self.net(x.to(self.device))
            if self.target == "classes":
                return probabilities(logits, self.head)
            return torch.sigmoid(logits)

    def _network_pass(self, image: np.ndarray) -> np.ndarray:
        """Probabilities ``(C, *shape)`` of a normalised image ``(1, *shape)``."""
        from .tiling import predict_whole

        return predict_whole(self._forward, image, total_factors(self.factors, self.dims))

    def predict_raw(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """The network's output for one image.

        Parameters
        ----------
        image : ndarray
            ``(Y, X)`` (``dims: 2``) or ``(Z, Y, X)`` (``dims: 3``), any real dtype;
            normalised with ``segbench.normalize(image, 1, 99.8)``.

        Returns
        -------
        dict
            ``target: classes``: ``probabilities``, float32 ``(3, *shape)``
            (background, interior, boundary). ``target: distance``:
            ``foreground`` and ``distance``, float32, the image's shape.
        """
        image = np.asarray(image)
        if self._net is None:
            self.net  # loads `weights` (which fixes dims) or says how to get weights
        self._use_dims(image.ndim, f"image of shape {image.shape}")
        out = self._network_pass(segbench.normalize(image, 1, 99.8)[None]).astype(np.float32)
        if self.target == "classes":
            return {"probabilities": out}
        return {"foreground": out[0], "distance": out[1]}

    def postprocess(
        self,
        raw: dict[str, np.ndarray],
        prob_threshold: float = 0.5,
        interior_threshold: float = 0.5,
        min_size: int = 10,
    ) -> np.ndarray:
        """Instances from :meth:`predict_raw`'s output (:mod:`segbench_unet.instances`).

        Parameters
        ----------
        raw : dict
            :meth:`predict_raw`'s output.
        prob_threshold : float
            Foreground where its probability (1 - background) exceeds this.
        interior_threshold : float
            Seeds where the interior probability (or normalised distance) exceeds this.
        min_size : int
            Smallest instance kept, pixels (voxels).

        Returns
        -------
        ndarray of int32
            Labels 1..N, 0 = background.
        """
        return instances.instances(raw, float(prob_threshold), float(interior_threshold), int(min_size))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "segbench_unet": __version__,
            "torch": _torch().__version__,
            **self.config(),
            "weights_sha256": self._weights_sha256,
        }
        if self._history is not None:
            out["training"] = {k: self._history.get(k) for k in ("best_epoch", "seconds", "class_weights", "patch_shape")}
        return out


_COMMON_DOC = """
    dims : int, optional
        2 for ``(Y, X)`` images, 3 for ``(Z, Y, X)`` stacks; default: that of
        the training images (or of the weights), so one suite entry trains a
        2D network on 2D datasets and a 3D one on 3D datasets.
    target : str, default "classes"
        ``classes``: background, interior and boundary; ``distance``: a
        foreground channel and the normalised distance to the nucleus edge.
    head : str, optional
        ``softmax`` (single-label, the default for ``classes``) or ``sigmoid``
        (multi-label, required for ``distance``).
    spacing : list of float, optional
        Voxel size per axis (the runner passes the dataset's); an axis is not
        pooled while it is at least twice as coarse as the finest.
    weights : str, optional
        A local weights file (a ``model.pt`` written by ``fit``, or a state dict);
        training with it set fine-tunes it.
    device : str, default "auto"
        ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda``, ``cuda:1``...
"""


class UNetSegmenter(NetworkSegmenter):
    """U-Net (Ronneberger 2015): original (valid convolutions, tiled) or padded (BN, optional residual).

    Parameters
    ----------
    variant : str, default "padded"
        ``original`` (valid 3x3 convolutions, cropped skips, drop-out, output
        smaller than the input; inference by overlap-tiles) or ``padded``
        (same-size output, batch norm after every convolution, whole image).
    depth : int, default 4
        Poolings (the paper's 4: five levels).
    base_channels : int, default 16
        Channels of the first level (64 in the paper), doubled per level.
    residual : bool, default False
        Residual blocks (padded variant only).
    dropout : float, default 0.5
        Drop-out at the end of the contracting path (original variant only).
    tile_size : int, default 256
        Output tile side for the original variant's overlap-tile inference, pixels
        (rounded up to a size the network produces, capped by the image).
    """

    name: ClassVar[str] = "unet"
    description: ClassVar[str] = "U-Net (original tiled, or padded/residual), 2D/3D, trained on the train split"

    def __init__(
        self,
        variant: str = "padded",
        depth: int = 4,
        base_channels: int = 16,
        residual: bool = False,
        dropout: float = 0.5,
        tile_size: int = 256,
        dims: int | None = None,
        target: str = "classes",
        head: str | None = None,
        spacing: Sequence[float] | None = None,
        weights: str | None = None,
        device: str = "auto",
    ):
        kit.choice("variant", variant, VARIANTS)
        if residual and variant == "original":
            raise kit.ParameterError("residual: residual blocks exist in the padded variant only; set variant: padded")
        if not 0 <= float(dropout) < 1:
            raise kit.ParameterError(f"dropout: must be in [0, 1), got {dropout!r}")
        arch = {
            "variant": variant, "depth": kit.integer("depth", depth, low=1), "base_channels": kit.integer("base_channels", base_channels, low=1),
            "residual": bool(residual), "dropout": float(dropout) if variant == "original" else 0.0,
        }
        self.tile_size = kit.integer("tile_size", tile_size, low=1)
        self._setup(arch, dims, target, head, spacing, weights, device, arch["depth"])

    def _build(self) -> nn.Module:
        from .unet import UNet

        return UNet(self.dims, 1, self.out_channels, factors=self.factors, **self.arch)

    def _margin(self) -> tuple[int, ...]:
        if self.arch["variant"] == "padded":
            return super()._margin()
        out = self._output_shape([1] * self.dims)
        return tuple((valid_input_size(o, f) - o) // 2 for o, f in zip(out, zip(*self.factors)))

    def _output_shape(self, minimum: Sequence[int]) -> tuple[int, ...]:
        if self.arch["variant"] == "padded":
            return super()._output_shape(minimum)
        return tuple(valid_output_size(m, f) for m, f in zip(minimum, zip(*self.factors)))

    def _network_pass(self, image: np.ndarray) -> np.ndarray:
        if self.arch["variant"] == "padded":
            return super()._network_pass(image)
        out_tile = self._output_shape([min(self.tile_size, s) for s in image.shape[1:]])
        from .tiling import predict_tiled

        multiples = total_factors(self.factors, self.dims)
        step = [t - t % k for t, k in zip(out_tile, multiples)]
        return predict_tiled(self._forward, image, out_tile, step, self._margin())


class VNetSegmenter(NetworkSegmenter):
    """V-Net (Milletari 2016): residual PReLU stages, strided and transposed convolutions; 3D and 2D.

    Parameters
    ----------
    depth : int, default 4
        Down-sampling steps (4 in the paper: five stages of 1, 2, 3, 3, 3 convolutions).
    base_channels : int, default 16
        Channels of the first stage (16 in the paper), doubled per level.
    kernel_size : int, default 5
        Convolution kernel (5 in the paper), odd.
    """

    name: ClassVar[str] = "vnet"
    description: ClassVar[str] = "V-Net (residual PReLU stages), 2D/3D, trained on the train split"

    def __init__(
        self,
        depth: int = 4,
        base_channels: int = 16,
        kernel_size: int = 5,
        dims: int | None = None,
        target: str = "classes",
        head: str | None = None,
        spacing: Sequence[float] | None = None,
        weights: str | None = None,
        device: str = "auto",
    ):
        kernel_size = kit.integer("kernel_size", kernel_size, low=1)
        if kernel_size % 2 == 0:
            raise kit.ParameterError(f"kernel_size: must be odd, got {kernel_size}")
        arch = {"depth": kit.integer("depth", depth, low=1), "base_channels": kit.integer("base_channels", base_channels, low=1), "kernel_size": kernel_size}
        self._setup(arch, dims, target, head, spacing, weights, device, arch["depth"])

    def _build(self) -> nn.Module:
        from .vnet import VNet

        return VNet(self.dims, 1, self.out_channels, factors=self.factors, **self.arch)


class U2NetSegmenter(NetworkSegmenter):
    """U2-Net (Qin 2020): nested residual U-blocks, six side outputs and a fused one, deep supervision.

    Parameters
    ----------
    size : str, default "lite"
        ``lite`` (U2-Net-lite: 16 middle and 64 output channels per stage,
        1.1 M parameters) or ``full`` (the published U2-Net, 44 M).
    """

    name: ClassVar[str] = "u2net"
    description: ClassVar[str] = "U2-Net (nested residual U-blocks, deep supervision), lite or full, 2D/3D"

    #: down-sampling steps of the outer U (six stages)
    OUTER_DEPTH = 5

    def __init__(
        self,
        size: str = "lite",
        dims: int | None = None,
        target: str = "classes",
        head: str | None = None,
        spacing: Sequence[float] | None = None,
        weights: str | None = None,
        device: str = "auto",
    ):
        arch = {"size": kit.choice("size", size, tuple(U2NET_CONFIGS))}
        self._setup(arch, dims, target, head, spacing, weights, device, self.OUTER_DEPTH)

    def _build(self) -> nn.Module:
        from .u2net import U2Net

        return U2Net(self.dims, 1, self.out_channels, spacing=self.spacing, **self.arch)


for _cls in (UNetSegmenter, VNetSegmenter, U2NetSegmenter):
    _cls.__doc__ = _cls.__doc__.rstrip() + "\n" + _COMMON_DOC


def _torch():
    """torch, imported on first use."""
    import torch

    return torch
