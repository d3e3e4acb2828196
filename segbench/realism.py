"""How close generated images are to reference images, without Inception weights.

FID needs Inception weights that cannot be downloaded here; instead this module
compares distributions of interpretable quantities with the 1D Wasserstein
distance (``scipy.stats.wasserstein_distance``, the earth mover's distance, in
the quantity's own unit):

- masks, per object: area (px), eccentricity and solidity
  (``skimage.measure.regionprops``), and the distance from each object's
  centroid to the nearest other centroid in its image (px);
- masks, per image: objects per 10^4 px (a density, so images of different
  sizes compare);
- images, per pixel: intensities of foreground pixels (mask > 0) and of
  background pixels, each image weighing the same whatever its size (at most
  ``ceil(max_pixels / n_images)`` pixels of each class are drawn from each
  image, and each image's draws share the weight ``1 / n_images``);
- images with masks, per image: the difficulty features of
  :mod:`segbench.difficulty` (signal-to-noise ratio, boundary contrast, edge
  width, touching nuclei and their shared boundary, texture, background
  non-uniformity, brightness spread between nuclei, out-of-focus nuclei); an
  image where one is undefined adds no value to it.

Each distance between generated and reference data is reported next to the
*floor*: the same distance between two halves of the reference data (even and
odd positions), i.e. what sampling noise and the reference data's own spread
give. A generator is as realistic as the reference data is self-consistent
when its distance is near the floor (``ratio`` = distance / floor near 1).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import wasserstein_distance
from skimage.measure import regionprops

from .api import Sample
from .difficulty import DIFFICULTY, difficulty_features
from .errors import InputError

__all__ = [
    "FEATURES",
    "FeatureRow",
    "Features",
    "RealismReport",
    "compare",
    "features_of",
    "load_labelled",
    "realism_report",
]

#: feature key -> (display name, unit): morphology, intensity, then difficulty
FEATURES: dict[str, tuple[str, str]] = {
    "area": ("object area (px)", "px"),
    "eccentricity": ("object eccentricity", ""),
    "solidity": ("object solidity", ""),
    "density": ("objects per 10^4 px", "1/10^4 px"),
    "nn_distance": ("nearest-neighbour distance (px)", "px"),
    "foreground_intensity": ("foreground intensity", "grey value"),
    "background_intensity": ("background intensity", "grey value"),
    **DIFFICULTY,
}

_PER_PIXEL = ("foreground_intensity", "background_intensity")


@dataclass(frozen=True)
class Features:
    """Every :data:`FEATURES` quantity of a set of samples, with weights.

    Attributes
    ----------
    values : dict of str -> ndarray of float64
        Per object (area, eccentricity, solidity, nn_distance), per image
        (density, the :data:`~segbench.difficulty.DIFFICULTY` features) or per
        drawn pixel (the intensities).
    weights : dict of str -> ndarray of float64
        One weight per value (each image's pixels share one unit of weight;
        objects and images weigh 1 each).
    n_images : int
    """

    values: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]
    n_images: int


def _image_features(sample: Sample, rng: np.random.Generator, per_image: int) -> dict[str, np.ndarray]:
    labels = np.asarray(sample.labels) if sample.labels is not None else None
    image = np.asarray(sample.image, dtype=np.float64)
    if image.ndim == 3 and labels is not None and image.shape[:2] == labels.shape:
        image = image.mean(axis=-1)  # YXC
    if labels is None or labels.ndim != 2 or image.shape != labels.shape:
        got = "no labels" if labels is None else f"labels {labels.shape}"
        raise ValueError(f"sample {sample.name!r}: realism needs 2D images with masks of the same shape, "
                         f"got image {np.shape(sample.image)} and {got}")
    props = regionprops(labels.astype(np.int64))
    out = {
        "area": np.array([p.area for p in props], dtype=np.float64),
        "eccentricity": np.array([p.eccentricity for p in props], dtype=np.float64),
        "solidity": np.array([p.solidity for p in props], dtype=np.float64),
        "density": np.array([1e4 * len(props) / labels.size]),
        "nn_distance": np.empty(0),
    }
    if len(props) > 1:
        centroids = np.array([p.centroid for p in props])
        out["nn_distance"] = cKDTree(centroids).query(centroids, k=2)[0][:, 1]
    for name, pixels in (("foreground_intensity", image[labels > 0]),
                         ("background_intensity", image[labels == 0])):
        if len(pixels) > per_image:
            pixels = rng.choice(pixels, size=per_image, replace=False)
        out[name] = pixels.astype(np.float64)
    for name, value in difficulty_features(image, labels).items():
        out[name] = np.array([value]) if math.isfinite(value) else np.empty(0)
    return out


def _pool(per_image: Sequence[dict[str, np.ndarray]]) -> Features:
    values, weights = {}, {}
    for name in FEATURES:
        parts = [f[name] for f in per_image]
        values[name] = np.concatenate(parts) if parts else np.empty(0)
        if name in _PER_PIXEL:
            weights[name] = np.concatenate([np.full(len(p), 1.0 / len(p)) for p in parts if len(p)]
                                           or [np.empty(0)])
        else:
            weights[name] = np.ones(len(values[name]))
    return Features(values, weights, len(per_image))


def _per_image(samples: Iterable[Sample], n: int, max_pixels: int, seed: int) -> list[dict[str, np.ndarray]]:
    per_image = max(1, math.ceil(max_pixels / max(n, 1)))
    return [_image_features(s, np.random.default_rng((seed, i)), per_image) for i, s in enumerate(samples)]


def features_of(samples: Sequence[Sample], max_pixels: int = 200_000, seed: int = 0) -> Features:
    """The :data:`FEATURES` of a set of labelled 2D samples.

    Parameters
    ----------
    samples : sequence of Sample
        2D images (``(Y, X)``, or ``(Y, X, C)``, averaged over channels) with
        label images of the same ``(Y, X)`` shape; sizes may differ.
    max_pixels : int
        About this many foreground (and background) intensities are kept in
        all: ``ceil(max_pixels / len(samples))`` per image, drawn uniformly
        without replacement (all when an image has fewer).
    seed : int
        Seed of the pixel draws (image ``i`` uses ``default_rng((seed, i))``).

    Returns
    -------
    Features

    Examples
    --------
    >>> import numpy as np
    >>> from segbench import Sample
    >>> labels = np.zeros((20, 20), int); labels[2:6, 2:6] = 1; labels[10:14, 2:6] = 2
    >>> f = features_of([Sample("a", labels * 10.0, labels)])
    >>> f.values["area"].tolist(), f.values["nn_distance"].tolist(), f.values["density"].tolist()
    ([16.0, 16.0], [8.0, 8.0], [50.0])
    """
    samples = list(samples)
    return _pool(_per_image(samples, len(samples), max_pixels, seed))


def compare(a: Features, b: Features) -> dict[str, float]:
    """Weighted Wasserstein distance of each feature between two :func:`features_of`
    results (NaN where either side has no values)."""
    return {
        name: float(wasserstein_distance(a.values[name], b.values[name], a.weights[name], b.weights[name]))
        if len(a.values[name]) and len(b.values[name]) else math.nan
        for name in FEATURES
    }


@dataclass(frozen=True)
class FeatureRow:
    """One line of the realism table.

    Attributes
    ----------
    name : str
        Display name with unit, e.g. ``"object area (px)"``.
    key : str
        Short identifier (a key of :data:`FEATURES`), e.g. ``"area"``.
    unit : str
    distance : float
        Wasserstein distance, generated vs reference.
    floor : float
        Wasserstein distance, reference half vs reference half.
    ratio : float
        ``distance / floor`` (inf when the floor is 0 and the distance is not; NaN when undefined).
    real_mean, fake_mean : float
        Weighted means of the feature (for orientation).
    """

    name: str
    key: str
    unit: str
    distance: float
    floor: float
    ratio: float
    real_mean: float
    fake_mean: float


@dataclass(frozen=True)
class RealismReport:
    """The realism table: one :class:`FeatureRow` per feature, and the set sizes."""

    rows: tuple[FeatureRow, ...]
    n_real: int
    n_fake: int

    def to_dict(self) -> dict:
        """``{"features": [{"name", "distance", "floor", "ratio", "key", "unit",
        "real_mean", "fake_mean"}], "n_real", "n_fake"}``, non-finite numbers as None."""

        def clean(x):
            return None if isinstance(x, float) and not math.isfinite(x) else x

        order = ("name", "distance", "floor", "ratio", "key", "unit", "real_mean", "fake_mean")
        return {"features": [{k: clean(asdict(r)[k]) for k in order} for r in self.rows],
                "n_real": self.n_real, "n_fake": self.n_fake}

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    def to_markdown(self) -> str:
        lines = ["| feature | W(generated, reference) | floor W(half, half) | ratio | mean ref | mean gen |",
                 "|---|---:|---:|---:|---:|---:|"]
        for r in self.rows:
            lines.append(f"| {r.name} | {_fmt(r.distance)} | {_fmt(r.floor)} | {_fmt(r.ratio)} "
                         f"| {_fmt(r.real_mean)} | {_fmt(r.fake_mean)} |")
        return "\n".join(lines)

    def rich_table(self):
        from rich.table import Table

        table = Table(title=f"realism: {self.n_fake} generated vs {self.n_real} reference images",
                      caption="W: Wasserstein distance in the feature's unit; floor: W between the "
                      "reference halves; ratio = W / floor")
        for col in ("feature", "W(gen, ref)", "floor", "ratio", "ref mean", "gen mean"):
            table.add_column(col, justify="left" if col == "feature" else "right", no_wrap=True)
        for r in self.rows:
            table.add_row(r.name, _fmt(r.distance), _fmt(r.floor), _fmt(r.ratio),
                          _fmt(r.real_mean), _fmt(r.fake_mean))
        return table


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "n/a" if math.isnan(x) else "inf"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def _ratio(distance: float, floor: float) -> float:
    if math.isnan(distance) or math.isnan(floor):
        return math.nan
    if floor == 0:
        return 0.0 if distance == 0 else math.inf
    return distance / floor


def _mean(f: Features, name: str) -> float:
    w = f.weights[name]
    return float(np.average(f.values[name], weights=w)) if len(w) else math.nan


def realism_report(real: Sequence[Sample], fake: Sequence[Sample],
                   max_pixels: int = 200_000, seed: int = 0) -> RealismReport:
    """Compare generated samples with reference samples (see the module docstring).

    Parameters
    ----------
    real, fake : sequence of Sample
        Labelled 2D samples, any sizes; ``real`` needs at least 2 (for its two halves).
    max_pixels, seed
        As in :func:`features_of`, per set.

    Returns
    -------
    RealismReport

    Examples
    --------
    >>> import numpy as np
    >>> from segbench import Sample
    >>> labels = np.zeros((16, 16), int); labels[4:10, 4:10] = 1
    >>> s = [Sample(str(i), labels * 100.0 + i, labels) for i in range(4)]
    >>> report = realism_report(s, s)
    >>> [r.distance for r in report.rows][:3]
    [0.0, 0.0, 0.0]
    """
    real, fake = list(real), list(fake)
    if len(real) < 2:
        raise ValueError(f"real: need at least 2 reference samples (for the floor), got {len(real)}")
    if not fake:
        raise ValueError("fake: no generated samples")
    real_images = _per_image(real, len(real), max_pixels, seed)
    f_real = _pool(real_images)
    f_fake = features_of(fake, max_pixels, seed)
    distance = compare(f_fake, f_real)
    floor = compare(_pool(real_images[0::2]), _pool(real_images[1::2]))
    rows = tuple(
        FeatureRow(display, key, unit, distance[key], floor[key], _ratio(distance[key], floor[key]),
                   _mean(f_real, key), _mean(f_fake, key))
        for key, (display, unit) in FEATURES.items()
    )
    return RealismReport(rows, len(real), len(fake))


def load_labelled(folder: str | Path) -> list[Sample]:
    """Every sample of a dataset folder, which must all have masks; :class:`InputError` otherwise."""
    from .io import open_dataset

    dataset, problems = open_dataset(folder)
    if not len(dataset):
        raise problems[0] if problems else InputError(folder, "holds no images", "give a dataset folder")
    samples = list(dataset)
    unlabelled = [s.name for s in samples if s.labels is None]
    if unlabelled:
        raise InputError(folder, f"{len(unlabelled)} images have no mask (first: {unlabelled[0]})",
                         "realism compares masks too; give a dataset folder with masks/")
    return samples
