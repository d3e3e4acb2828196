"""The ``gan`` generator: StyleGAN3 masks -> pix2pixHD images (+ optional spots)."""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
from skimage.transform import resize

import segbench
from segbench import kit
from segbench.errors import InputError

from .objects import drop_faint, drop_small, stack_layers
from .spots import SpotParams, add_spots, covariance_matrix

__all__ = ["GanGenerator", "SHIPPED_CHECKPOINT", "SHAPE_MODES", "MAX_TRIES", "SAMPLING_FILE", "checkpoint_layers"]

#: the checkpoint pair shipped inside the package (masks/ and images/)
SHIPPED_CHECKPOINT = Path(__file__).parent / "checkpoints"
SHAPE_MODES = ("tile", "resample")
#: latents an image may try (its own, then derived ones) to reach ``min_objects``
MAX_TRIES = 10
#: file in a checkpoint's masks/ folder holding its sampling defaults (``{"mask_layers": L, ...}``)
SAMPLING_FILE = "sampling.json"


def _shape(shape) -> tuple[int, int] | None:
    if shape is None:
        return None
    try:
        dims = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise kit.ParameterError(f"shape: expected [Y, X] (two positive integers), got {shape!r}") from None
    if len(dims) != 2:
        raise kit.ParameterError(f"shape: the gan generator makes 2D images, give [Y, X], got {list(dims)}")
    if min(dims) < 1:
        raise kit.ParameterError(f"shape: sides must be >= 1, got {list(dims)}")
    return dims


def checkpoint_layers(masks_folder: Path) -> int:
    """The ``mask_layers`` a checkpoint recommends (``masks/sampling.json``), else 1."""
    path = Path(masks_folder) / SAMPLING_FILE
    if not path.is_file():
        return 1
    try:
        layers = json.loads(path.read_text(encoding="utf-8"))["mask_layers"]
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(path, f"cannot be read ({err!r})", 'write it as {"mask_layers": 8}') from None
    if not (isinstance(layers, int) and layers >= 1):
        raise InputError(path, f"mask_layers must be an integer >= 1, got {layers!r}", 'write it as {"mask_layers": 8}')
    return layers


class GanGenerator(segbench.Generator):
    """StyleGAN3 cell masks rendered as fluorescence images by pix2pixHD, with optional spots.

    Every image: the mask network draws label tiles of its native resolution
    ``R`` (thresholded and split into instances), ``mask_layers`` of them are
    stacked into each tile of the field (:func:`.objects.stack_layers`), the
    tiles are fitted to ``shape``, objects under ``min_area`` px are dropped,
    pix2pixHD renders the label image (with an appearance cluster per cell
    when the model has a feature encoder), objects that do not stand out from
    their local background by ``min_contrast`` are dropped
    (:func:`.objects.drop_faint`), and diffraction-limited spots from Gaussian
    point clouds are added. An image left with fewer than ``min_objects``
    objects is drawn again from a latent derived from ``(seed, i, try)``, at
    most :data:`MAX_TRIES` times in all (one warning at the end says how many
    images still fell short). Image ``i`` of ``generate(n, seed)`` depends
    only on ``(seed, i)`` and is bit-identical across runs on the CPU.

    :meth:`fit` trains both networks on a lab's annotated images (``fit_on:``
    in a suite) and :meth:`load` samples from what it wrote.

    Parameters
    ----------
    weights : str or Path, optional
        The trained pair: a folder holding ``masks/`` (StyleGAN3) and
        ``images/`` (pix2pixHD), as :meth:`fit` or ``segbench gan export``
        write it; default: the small pair shipped with the package (64 x 64 px,
        trained on real fluorescence nuclei of the 2018 Data Science Bowl; see
        the plugin README).
    shape : [int, int], optional
        Output ``[Y, X]``; default ``[R, R]``.
    shape_mode : {"tile", "resample"}
        ``tile``: a mosaic of ``ceil(Y/R) x ceil(X/R)`` independent mask tiles,
        cropped to ``shape`` (cells keep their trained size; cells cut by a tile
        seam stay separate objects); ``resample``: one ``R x R`` mask resized
        (nearest neighbour) to ``shape`` (cells scale with it).
    mask_layers : int, optional
        Mask tiles stacked into each ``R x R`` tile of the field: a later
        layer's object is kept when it keeps a 1 px gap to those placed; 1 =
        the mask model's own layouts. Default: the checkpoint's
        ``masks/sampling.json`` (8 for the shipped one, which draws 0.54
        nuclei per 64 px tile: 8 layers give 3.7, the real images have 3.6),
        else 1. Sampling costs the same for 1 to 8 layers (the mask model
        runs in batches of 8).
    min_objects : int
        Fewest objects an image may have; fewer, and the image is drawn again
        from a derived latent (at most :data:`MAX_TRIES` latents in all).
    min_area : int
        Smallest object kept, pixels (dropped before rendering). The default
        10 is the 1st percentile of the areas of real nuclei not cut by the
        image border in segbench's ``dsb2018-sample``, rescaled as the
        shipped checkpoint's training data (median nucleus 150 px).
    min_contrast : float
        An object is kept when its mean intensity exceeds the median of its
        local background (the object-free pixels within 4 px) by more than
        this many robust standard deviations of the image background (at
        least 1 grey value). The default 1 keeps 99.5 % of the real nuclei of
        ``dsb2018-sample``; ``-inf`` keeps every object.
    truncation_psi : float
        StyleGAN truncation: 1 = the full learned variety, smaller values are
        more typical and less varied layouts.
    spot_clouds : int
        Gaussian point clouds of fluorescent spots per image (0 = no spots).
    spots_per_cloud : int
    spot_covariance : float or [[float, float], [float, float]]
        Spread of a cloud, pixels squared (a variance: round; a 2x2 matrix in
        ``(y, x)`` order: stretched).
    spot_sigma : float
        PSF standard deviation of a spot, pixels.
    spot_amplitude : float
        Peak a spot adds, as a multiple of the image's cell contrast (median
        cell intensity minus median background intensity).
    spots_inside_cells : bool
        Clouds in cells (each spot in its cloud's cell) or anywhere.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
    """

    name = "gan"
    description = "StyleGAN3 cell masks rendered by pix2pixHD as fluorescence images, with optional spots"
    #: both networks are 2D: it learns from (and makes) ``(Y, X)`` images only
    dimensions = (2,)
    renamed_params = {"checkpoint": "weights"}

    def __init__(
        self,
        weights: str | Path | None = None,
        shape: Sequence[int] | None = None,
        shape_mode: str = "tile",
        mask_layers: int | None = None,
        min_objects: int = 1,
        min_area: int = 10,
        min_contrast: float = 1.0,
        truncation_psi: float = 1.0,
        spot_clouds: int = 0,
        spots_per_cloud: int = 20,
        spot_covariance: float | Sequence[Sequence[float]] = 4.0,
        spot_sigma: float = 1.0,
        spot_amplitude: float = 1.0,
        spots_inside_cells: bool = True,
        device: str = "auto",
    ):
        folder = Path(weights) if weights is not None else SHIPPED_CHECKPOINT
        if shape_mode not in SHAPE_MODES:
            raise kit.ParameterError(f"shape_mode: must be one of {SHAPE_MODES}, got {shape_mode!r}")
        if not truncation_psi >= 0:
            raise kit.ParameterError(f"truncation_psi: must be >= 0, got {truncation_psi}")
        checks = [("min_objects", min_objects, 0), ("min_area", min_area, 0)]
        if mask_layers is not None:
            checks.append(("mask_layers", mask_layers, 1))
        for name, value, least in checks:
            if not (isinstance(value, (int, np.integer)) and value >= least):
                raise kit.ParameterError(f"{name}: must be an integer >= {least}, got {value!r}")
        if math.isnan(min_contrast):
            raise kit.ParameterError("min_contrast: must be a number (-inf keeps every object), got nan")
        for name, value in (("spot_clouds", spot_clouds), ("spots_per_cloud", spots_per_cloud),
                            ("spot_amplitude", spot_amplitude)):
            if not value >= 0:
                raise kit.ParameterError(f"{name}: must be >= 0, got {value}")
        if not spot_sigma > 0:
            raise kit.ParameterError(f"spot_sigma: must be > 0 pixels, got {spot_sigma}")
        covariance_matrix(spot_covariance, "spot_covariance")
        self.shape_mode = shape_mode
        self._layers_param = None if mask_layers is None else int(mask_layers)
        self.min_objects, self.min_area = int(min_objects), int(min_area)
        self.min_contrast = float(min_contrast)
        self.truncation_psi = float(truncation_psi)
        self.spots = SpotParams(int(spot_clouds), int(spots_per_cloud), spot_covariance, float(spot_sigma),
                                float(spot_amplitude), bool(spots_inside_cells))
        self.device = device
        self._shape_param = _shape(shape)
        self.load(folder)

    def load(self, workdir: str | Path) -> None:
        """Sample from the checkpoint pair in ``workdir`` (``masks/`` and ``images/``,
        as :meth:`fit` or ``segbench gan export`` write them) from now on.

        Raises
        ------
        segbench.errors.InputError
            ``workdir`` lacks one of the two folders, or their files do not load.
        """
        from .pix2pixhd import ImageRenderer
        from .stylegan3 import load_mask_generator

        folder = Path(workdir)
        for part in ("masks", "images"):
            if not (folder / part).is_dir():
                raise InputError(folder, f"has no {part}/ folder",
                                 "give a checkpoint folder holding masks/ (StyleGAN3) and images/ (pix2pixHD), "
                                 "e.g. one written by fit or `segbench gan export`")
        torch_device = kit.torch_device(self.device)
        self.masks = load_mask_generator(folder / "masks", device=torch_device)
        self.renderer = ImageRenderer.from_checkpoint(folder / "images", device=torch_device)
        self.weights = folder
        self.mask_layers = self._layers_param or checkpoint_layers(folder / "masks")
        resolution = int(self.masks.resolution)
        self.shape = self._shape_param or (resolution, resolution)

    def fit(
        self,
        dataset: segbench.Dataset,
        workdir: str | Path,
        *,
        seed: int = 0,
        progress: Callable[[int, int, float | None], None] | None = None,
        resolution: int = 64,
        mask_steps: int = 2000,
        image_steps: int = 4000,
    ) -> None:
        """Train both networks from scratch on an annotated dataset, then sample from them.

        StyleGAN3 learns the masks (tiles of ``resolution`` px covering each
        image), pix2pixHD the (mask, image) pairs (random ``resolution`` px
        patches), with the shipped checkpoint's architectures; the sampling
        files go to ``workdir/masks/`` and ``workdir/images/`` (what
        :meth:`load` reads), the training logs and sample grids to
        ``workdir/training/``.

        Parameters
        ----------
        dataset : segbench.Dataset
            2D samples with ``.image`` (any dtype; its min to max intensity
            range is learned) and ``.labels``, each at least ``resolution`` px
            a side. Generated cells have the size they have in these images.
        workdir : str or Path
            Output folder.
        seed : int
            Seed of both trainings (on the CPU, the same seed, data and
            thread count give the same weights).
        progress : callable, optional
            ``progress(step, total, loss)`` every few steps: mask steps, then
            ``mask_steps`` + image steps, out of ``mask_steps + image_steps``;
            ``loss`` is the generator's adversarial loss.
        resolution : int
            Model resolution, px (a power of 2 >= 16); ``shape`` defaults to it.
        mask_steps : int
            StyleGAN3 steps of 8 masks (about 1 s each on one CPU thread at 64 px).
        image_steps : int
            pix2pixHD steps of 4 patches (about 0.15-0.3 s each on one CPU
            thread at 64 px).

        Raises
        ------
        segbench.errors.InputError
            A sample without labels, not 2D, or smaller than ``resolution``.
        """
        from .fit import fit_pair

        fit_pair(dataset, workdir, resolution=resolution, mask_steps=mask_steps, image_steps=image_steps,
                 seed=seed, device=self.device, progress=progress)
        self.load(workdir)

    def _labels(self, seed: int) -> np.ndarray:
        """One ``shape`` label image from mask tiles drawn with ``seed``, ``mask_layers`` per tile."""
        r, layers = int(self.masks.resolution), self.mask_layers
        h, w = self.shape
        rows, cols = (1, 1) if self.shape_mode == "resample" else (math.ceil(h / r), math.ceil(w / r))
        tiles = self.masks.sample(rows * cols * layers, seed, self.truncation_psi)
        stacked = [stack_layers(tiles[k * layers:(k + 1) * layers]) for k in range(rows * cols)]
        if self.shape_mode == "resample":
            labels = resize(stacked[0], (h, w), order=0, preserve_range=True, anti_aliasing=False).astype(np.int64)
        else:
            labels = np.zeros((rows * r, cols * r), dtype=np.int64)
            offset = 0
            for k, tile in enumerate(stacked):
                y, x = divmod(k, cols)
                labels[y * r : (y + 1) * r, x * r : (x + 1) * r] = np.where(tile > 0, tile + offset, 0)
                offset += int(tile.max())
            labels = labels[:h, :w]
        return drop_small(labels, self.min_area)

    def _contrast(self, image: np.ndarray, labels: np.ndarray) -> float:
        if not (labels > 0).any() or (labels > 0).all():
            return float(np.percentile(image, 99) - np.percentile(image, 1))
        return float(np.median(image[labels > 0]) - np.median(image[labels == 0]))

    def _draw(self, seed: int, index: int) -> tuple[np.ndarray, np.ndarray, np.random.SeedSequence]:
        """(image, labels, spot seed) of image ``index``: the first of its latents to reach
        ``min_objects``, else its last one (latent ``t`` from ``(seed, index, t)``)."""
        for attempt in range(MAX_TRIES):
            mask_seq, look_seq, spot_seq = np.random.SeedSequence((seed, index, attempt)).spawn(3)
            labels = self._labels(int(mask_seq.generate_state(1)[0]))
            last = attempt == MAX_TRIES - 1
            if labels.max() < self.min_objects and not last:
                continue  # rendering cannot add objects
            image = self.renderer.render(labels, np.random.default_rng(look_seq))
            image = np.clip(np.rint(image), 0, 65535).astype(np.uint16)
            labels = drop_faint(labels, image, self.min_contrast)
            if labels.max() >= self.min_objects:
                break
        return image, labels, spot_seq

    def generate(self, n: int, seed: int) -> Iterator[segbench.Sample]:
        """Yield ``n`` samples ``img0000``, ... with uint16 images and int32 labels.

        Warns (one ``UserWarning``, after the last image) when some images
        have fewer than ``min_objects`` objects after :data:`MAX_TRIES` latents.
        """
        if n < 0:
            raise kit.ParameterError(f"n: must be >= 0, got {n}")
        short = 0
        for i in range(n):
            image, labels, spot_seq = self._draw(seed, i)
            short += int(labels.max() < self.min_objects)
            if self.spots.n_clouds:
                amplitude = self.spots.amplitude * max(self._contrast(image, labels), 1.0)
                params = dataclasses.replace(self.spots, amplitude=amplitude)
                image = add_spots(image, labels, np.random.default_rng(spot_seq), params)
            yield segbench.Sample(name=f"img{i:04d}", image=image, labels=labels)
        if short:
            warnings.warn(f"gan: {short} of {n} images have fewer than min_objects={self.min_objects} objects "
                          f"after {MAX_TRIES} latents each; lower min_area or min_contrast, raise mask_layers "
                          "or shape, or use a checkpoint that draws more cells", UserWarning, stacklevel=2)
