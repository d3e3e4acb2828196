"""The ``gan`` generator: StyleGAN3 masks -> pix2pixHD images (+ optional spots)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
from skimage.segmentation import relabel_sequential
from skimage.transform import resize

import segbench
from segbench.errors import InputError

from .spots import SpotParams, add_spots, covariance_matrix

__all__ = ["GanGenerator", "SHIPPED_CHECKPOINT", "SHAPE_MODES"]

#: the checkpoint pair shipped inside the package (masks/ and images/)
SHIPPED_CHECKPOINT = Path(__file__).parent / "checkpoints"
SHAPE_MODES = ("tile", "resample")


def _shape(shape) -> tuple[int, int] | None:
    if shape is None:
        return None
    try:
        dims = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape: expected [Y, X] (two positive integers), got {shape!r}") from None
    if len(dims) != 2:
        raise ValueError(f"shape: the gan generator makes 2D images, give [Y, X], got {list(dims)}")
    if min(dims) < 1:
        raise ValueError(f"shape: sides must be >= 1, got {list(dims)}")
    return dims


class GanGenerator(segbench.Generator):
    """StyleGAN3 cell masks rendered as fluorescence images by pix2pixHD, with optional spots.

    Every image: the mask network draws label tiles of its native resolution
    ``R`` (thresholded and split into instances), the tiles are fitted to
    ``shape``, pix2pixHD renders the label image (with an appearance cluster per
    cell when the model has a feature encoder), and diffraction-limited spots
    from Gaussian point clouds are added. Image ``i`` of ``generate(n, seed)``
    depends only on ``(seed, i)`` and is bit-identical across runs on the CPU.

    :meth:`fit` trains both networks on a lab's annotated images (``fit_on:``
    in a suite) and :meth:`load` samples from what it wrote.

    Parameters
    ----------
    checkpoint : str or Path, optional
        Folder holding ``masks/`` (StyleGAN3) and ``images/`` (pix2pixHD); default:
        the small pair shipped with the package (64 x 64 px, trained on real
        fluorescence nuclei of the 2018 Data Science Bowl; see the plugin README).
    shape : [int, int], optional
        Output ``[Y, X]``; default ``[R, R]``.
    shape_mode : {"tile", "resample"}
        ``tile``: a mosaic of ``ceil(Y/R) x ceil(X/R)`` independent mask tiles,
        cropped to ``shape`` (cells keep their trained size; cells cut by a tile
        seam stay separate objects); ``resample``: one ``R x R`` mask resized
        (nearest neighbour) to ``shape`` (cells scale with it).
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

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        shape: Sequence[int] | None = None,
        shape_mode: str = "tile",
        truncation_psi: float = 1.0,
        spot_clouds: int = 0,
        spots_per_cloud: int = 20,
        spot_covariance: float | Sequence[Sequence[float]] = 4.0,
        spot_sigma: float = 1.0,
        spot_amplitude: float = 1.0,
        spots_inside_cells: bool = True,
        device: str = "auto",
    ):
        folder = Path(checkpoint) if checkpoint is not None else SHIPPED_CHECKPOINT
        if shape_mode not in SHAPE_MODES:
            raise ValueError(f"shape_mode: must be one of {SHAPE_MODES}, got {shape_mode!r}")
        if not truncation_psi >= 0:
            raise ValueError(f"truncation_psi: must be >= 0, got {truncation_psi}")
        for name, value in (("spot_clouds", spot_clouds), ("spots_per_cloud", spots_per_cloud),
                            ("spot_amplitude", spot_amplitude)):
            if not value >= 0:
                raise ValueError(f"{name}: must be >= 0, got {value}")
        if not spot_sigma > 0:
            raise ValueError(f"spot_sigma: must be > 0 pixels, got {spot_sigma}")
        covariance_matrix(spot_covariance, "spot_covariance")
        self.shape_mode = shape_mode
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
        from .pix2pixhd.render import resolve_device
        from .stylegan3 import load_mask_generator

        folder = Path(workdir)
        for part in ("masks", "images"):
            if not (folder / part).is_dir():
                raise InputError(folder, f"has no {part}/ folder",
                                 "give a checkpoint folder holding masks/ (StyleGAN3) and images/ (pix2pixHD), "
                                 "e.g. one written by fit or `segbench gan export`")
        torch_device = resolve_device(self.device)
        self.masks = load_mask_generator(folder / "masks", device=torch_device)
        self.renderer = ImageRenderer.from_checkpoint(folder / "images", device=torch_device)
        self.checkpoint = folder
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
        """One ``shape`` label image from mask tiles drawn with ``seed``."""
        r = int(self.masks.resolution)
        h, w = self.shape
        if self.shape_mode == "resample":
            tile = np.asarray(self.masks.sample(1, seed, self.truncation_psi)[0])
            labels = resize(tile, (h, w), order=0, preserve_range=True, anti_aliasing=False).astype(np.int64)
        else:
            rows, cols = math.ceil(h / r), math.ceil(w / r)
            tiles = self.masks.sample(rows * cols, seed, self.truncation_psi)
            labels = np.zeros((rows * r, cols * r), dtype=np.int64)
            offset = 0
            for k, tile in enumerate(tiles):
                tile = np.asarray(tile, dtype=np.int64)
                y, x = divmod(k, cols)
                labels[y * r : (y + 1) * r, x * r : (x + 1) * r] = np.where(tile > 0, tile + offset, 0)
                offset += int(tile.max())
            labels = labels[:h, :w]
        return relabel_sequential(labels)[0].astype(np.int32)

    def _contrast(self, image: np.ndarray, labels: np.ndarray) -> float:
        if not (labels > 0).any() or (labels > 0).all():
            return float(np.percentile(image, 99) - np.percentile(image, 1))
        return float(np.median(image[labels > 0]) - np.median(image[labels == 0]))

    def generate(self, n: int, seed: int) -> Iterator[segbench.Sample]:
        """Yield ``n`` samples ``img0000``, ... with uint16 images and int32 labels."""
        if n < 0:
            raise ValueError(f"n: must be >= 0, got {n}")
        for i in range(n):
            mask_seq, look_seq, spot_seq = np.random.SeedSequence((seed, i)).spawn(3)
            labels = self._labels(int(mask_seq.generate_state(1)[0]))
            image = self.renderer.render(labels, np.random.default_rng(look_seq))
            image = np.clip(np.rint(image), 0, 65535).astype(np.uint16)
            if self.spots.n_clouds:
                amplitude = self.spots.amplitude * max(self._contrast(image, labels), 1.0)
                params = dataclasses.replace(self.spots, amplitude=amplitude)
                image = add_spots(image, labels, np.random.default_rng(spot_seq), params)
            yield segbench.Sample(name=f"img{i:04d}", image=image, labels=labels)
