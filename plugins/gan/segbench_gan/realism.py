"""How close generated images are to reference images, without Inception weights.

FID needs Inception weights that cannot be downloaded here; instead this module
compares distributions of interpretable quantities with the 1D Wasserstein
distance (``scipy.stats.wasserstein_distance``, the earth mover's distance, in
the quantity's own unit):

- masks: object area (px), eccentricity, solidity (``skimage.measure.regionprops``),
  objects per image, and the distance from each object's centroid to the
  nearest other centroid in its image (px);
- images: intensities of foreground pixels (mask > 0) and of background pixels.

Each distance between generated and reference data is reported next to the
*floor*: the same distance between two halves of the reference data (even and
odd positions), i.e. what sampling noise alone gives. A generator is as
realistic as the reference data is self-consistent when its distance is near
the floor (``ratio`` = distance / floor near 1).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import wasserstein_distance
from skimage.measure import regionprops

import segbench
from segbench.errors import InputError

__all__ = ["FEATURES", "FeatureRow", "RealismReport", "features_of", "compare", "realism_report", "load_labelled"]

#: feature name -> (unit, description)
FEATURES: dict[str, tuple[str, str]] = {
    "area": ("px", "object area"),
    "eccentricity": ("", "object eccentricity (ellipse of equal second moments)"),
    "solidity": ("", "object area / convex hull area"),
    "objects_per_image": ("", "objects per image"),
    "nn_distance": ("px", "centroid distance to the nearest other object"),
    "foreground_intensity": ("grey value", "intensity of pixels inside objects"),
    "background_intensity": ("grey value", "intensity of pixels outside objects"),
}


def features_of(samples: Sequence[segbench.Sample], max_pixels: int = 200_000, seed: int = 0) -> dict[str, np.ndarray]:
    """The values of every :data:`FEATURES` quantity in a set of labelled 2D samples.

    Parameters
    ----------
    samples : sequence of Sample
        2D images with label images.
    max_pixels : int
        At most this many foreground (and background) intensities are kept,
        drawn uniformly without replacement with ``seed`` (all when fewer).
    seed : int

    Returns
    -------
    dict of str -> ndarray
        Per object for area, eccentricity, solidity and nn_distance (objects in
        images with one object have no neighbour); per image for
        objects_per_image; per pixel for the intensities (float64).

    Examples
    --------
    >>> import numpy as np, segbench
    >>> labels = np.zeros((20, 20), int); labels[2:6, 2:6] = 1; labels[10:14, 2:6] = 2
    >>> f = features_of([segbench.Sample("a", labels * 10.0, labels)])
    >>> f["area"].tolist(), f["nn_distance"].tolist(), f["objects_per_image"].tolist()
    ([16.0, 16.0], [8.0, 8.0], [2.0])
    """
    values: dict[str, list] = {name: [] for name in FEATURES}
    for sample in samples:
        labels = np.asarray(sample.labels)
        image = np.asarray(sample.image, dtype=np.float64)
        if labels.ndim != 2 or image.shape[:2] != labels.shape:
            raise ValueError(f"sample {sample.name!r}: realism needs 2D images with masks of the same shape, "
                             f"got image {image.shape} and labels {labels.shape}")
        props = regionprops(labels.astype(np.int64))
        values["objects_per_image"].append(len(props))
        for p in props:
            values["area"].append(p.area)
            values["eccentricity"].append(p.eccentricity)
            values["solidity"].append(p.solidity)
        if len(props) > 1:
            distances, _ = cKDTree(np.array([p.centroid for p in props])).query(
                np.array([p.centroid for p in props]), k=2)
            values["nn_distance"].extend(distances[:, 1])
        if image.ndim == 3:
            image = image.mean(axis=-1)
        values["foreground_intensity"].append(image[labels > 0])
        values["background_intensity"].append(image[labels == 0])
    out = {}
    rng = np.random.default_rng(seed)
    for name, vals in values.items():
        if name.endswith("_intensity"):
            pixels = np.concatenate(vals) if vals else np.empty(0)
            if len(pixels) > max_pixels:
                pixels = rng.choice(pixels, size=max_pixels, replace=False)
            out[name] = pixels.astype(np.float64)
        else:
            out[name] = np.asarray(vals, dtype=np.float64)
    return out


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """Wasserstein distance of each feature between two :func:`features_of` results
    (NaN where either side has no values)."""
    return {name: (float(wasserstein_distance(a[name], b[name])) if len(a[name]) and len(b[name]) else math.nan)
            for name in FEATURES}


@dataclass(frozen=True)
class FeatureRow:
    """One line of the realism table.

    Attributes
    ----------
    feature, unit : str
    distance : float
        Wasserstein distance, generated vs reference.
    floor : float
        Wasserstein distance, reference half vs reference half.
    ratio : float
        ``distance / floor`` (inf when the floor is 0 and the distance is not; NaN when undefined).
    real_mean, fake_mean : float
        Means of the feature (for orientation).
    """

    feature: str
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
        def clean(x):
            return None if isinstance(x, float) and not math.isfinite(x) else x

        return {"n_real": self.n_real, "n_fake": self.n_fake,
                "features": [{k: clean(v) for k, v in asdict(r).items()} for r in self.rows]}

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    def to_markdown(self) -> str:
        lines = [f"| feature | unit | W(generated, reference) | floor W(half, half) | ratio | mean ref | mean gen |",
                 "|---|---|---:|---:|---:|---:|---:|"]
        for r in self.rows:
            lines.append(f"| {r.feature} | {r.unit} | {_fmt(r.distance)} | {_fmt(r.floor)} | {_fmt(r.ratio)} "
                         f"| {_fmt(r.real_mean)} | {_fmt(r.fake_mean)} |")
        return "\n".join(lines)

    def rich_table(self):
        from rich.table import Table

        table = Table(title=f"realism: {self.n_fake} generated vs {self.n_real} reference images",
                      caption="W: Wasserstein distance (area, nn_distance in px; intensities in image "
                      "grey values); floor: W between the reference halves; ratio = W / floor")
        for col in ("feature", "W(gen, ref)", "floor", "ratio", "ref mean", "gen mean"):
            table.add_column(col, justify="left" if col == "feature" else "right", no_wrap=True)
        for r in self.rows:
            table.add_row(r.feature, _fmt(r.distance), _fmt(r.floor), _fmt(r.ratio),
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


def realism_report(real: Sequence[segbench.Sample], fake: Sequence[segbench.Sample],
                   max_pixels: int = 200_000, seed: int = 0) -> RealismReport:
    """Compare generated samples with reference samples (see the module docstring).

    Parameters
    ----------
    real, fake : sequence of Sample
        Labelled 2D samples; ``real`` needs at least 2 (for its two halves).
    max_pixels, seed
        As in :func:`features_of`.

    Returns
    -------
    RealismReport

    Examples
    --------
    >>> import numpy as np, segbench
    >>> labels = np.zeros((16, 16), int); labels[4:10, 4:10] = 1
    >>> s = [segbench.Sample(str(i), labels * 100.0 + i, labels) for i in range(4)]
    >>> report = realism_report(s, s)
    >>> [r.distance for r in report.rows][:3]
    [0.0, 0.0, 0.0]
    """
    real, fake = list(real), list(fake)
    if len(real) < 2:
        raise ValueError(f"real: need at least 2 reference samples (for the floor), got {len(real)}")
    if not fake:
        raise ValueError("fake: no generated samples")
    f_real = features_of(real, max_pixels, seed)
    f_fake = features_of(fake, max_pixels, seed)
    distance = compare(f_fake, f_real)
    floor = compare(features_of(real[0::2], max_pixels, seed), features_of(real[1::2], max_pixels, seed))
    rows = tuple(
        FeatureRow(name, FEATURES[name][0], distance[name], floor[name], _ratio(distance[name], floor[name]),
                   float(f_real[name].mean()) if len(f_real[name]) else math.nan,
                   float(f_fake[name].mean()) if len(f_fake[name]) else math.nan)
        for name in FEATURES
    )
    return RealismReport(rows, len(real), len(fake))


def load_labelled(folder: str | Path) -> list[segbench.Sample]:
    """Every sample of a dataset folder, which must all have masks; :class:`InputError` otherwise."""
    from segbench.io import open_dataset

    dataset, problems = open_dataset(folder)
    if not len(dataset):
        raise problems[0] if problems else InputError(folder, "holds no images", "give a dataset folder")
    samples = list(dataset)
    unlabelled = [s.name for s in samples if s.labels is None]
    if unlabelled:
        raise InputError(folder, f"{len(unlabelled)} images have no mask (first: {unlabelled[0]})",
                         "realism compares masks too; give a dataset folder with masks/")
    return samples
