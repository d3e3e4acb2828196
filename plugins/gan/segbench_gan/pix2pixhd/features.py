"""Instance features for choosing an appearance at sampling time.

After training, the encoder's instance-averaged features of every training
instance are clustered with k-means, per semantic class. At sampling time each
instance of a new label image gets one cluster centre of its class, drawn at
random, broadcast over its pixels: the generator then renders that appearance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segbench.errors import InputError

__all__ = ["kmeans", "FeatureClusters", "instance_classes"]


def kmeans(x: np.ndarray, k: int, seed: int = 0, n_iter: int = 100) -> np.ndarray:
    """k-means (Lloyd's algorithm with k-means++ seeding).

    Parameters
    ----------
    x : ndarray
        ``(N, D)`` points.
    k : int
        Clusters wanted; fewer are returned when ``x`` has fewer distinct points.
    seed : int
        Seed of the k-means++ draws.
    n_iter : int
        Maximum Lloyd iterations (stops early when assignments no longer change).

    Returns
    -------
    ndarray
        ``(min(k, distinct points), D)`` float64 centres, sorted by their first coordinate.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [0.1], [10.0], [10.1]])
    >>> kmeans(x, 2).round(2).tolist()
    [[0.05], [10.05]]
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"kmeans: x must be a non-empty (N, D) array, got shape {x.shape}")
    if k < 1:
        raise ValueError(f"kmeans: k must be >= 1, got {k}")
    k = min(k, len(np.unique(x, axis=0)))
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = ((x[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1).min(1)
        centres.append(x[rng.choice(len(x), p=d2 / d2.sum())])
    centres = np.asarray(centres)
    assign = None
    for _ in range(n_iter):
        new = ((x[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        if assign is not None and np.array_equal(new, assign):
            break
        assign = new
        for j in range(k):
            members = x[assign == j]
            if len(members):
                centres[j] = members.mean(0)
    return centres[np.lexsort(centres.T[::-1])]


def instance_classes(instances: np.ndarray, semantic: np.ndarray | None) -> dict[int, int]:
    """Semantic class of every instance id: the majority class of its pixels, or,
    without a class map, 1 for cells and 0 for the background (id 0)."""
    ids = np.unique(instances)
    if semantic is None:
        return {int(i): int(i > 0) for i in ids}
    out = {}
    for i in ids:
        values, counts = np.unique(semantic[instances == i], return_counts=True)
        out[int(i)] = int(values[counts.argmax()])
    return out


@dataclass
class FeatureClusters:
    """k-means centres of instance features, per semantic class.

    Attributes
    ----------
    centres : dict of int -> ndarray
        Class id -> ``(k, feat_num)`` centres.
    """

    centres: dict[int, np.ndarray]

    @classmethod
    def fit(cls, features: dict[int, list[np.ndarray]], k: int, seed: int = 0) -> "FeatureClusters":
        """Cluster each class's instance feature vectors (class -> list of ``(feat_num,)``)."""
        return cls({c: kmeans(np.stack(v), k, seed) for c, v in sorted(features.items()) if v})

    def feature_map(self, instances: np.ndarray, rng: np.random.Generator,
                    semantic: np.ndarray | None = None) -> np.ndarray:
        """``(feat_num, H, W)`` float32 map: each instance of ``instances`` ``(H, W)`` filled
        with one centre of its class, drawn with ``rng`` (instances in increasing id order)."""
        feat_num = next(iter(self.centres.values())).shape[1]
        out = np.zeros((feat_num,) + instances.shape, dtype=np.float32)
        for inst, cls in sorted(instance_classes(instances, semantic).items()):
            if cls not in self.centres:
                raise ValueError(
                    f"semantic class {cls} has no feature clusters (known: {sorted(self.centres)})"
                )
            choices = self.centres[cls]
            out[:, instances == inst] = choices[rng.integers(len(choices))][:, None]
        return out

    def save(self, path: str | Path) -> None:
        np.savez(path, **{f"class_{c}": v for c, v in self.centres.items()})

    @classmethod
    def load(cls, path: str | Path) -> "FeatureClusters":
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "feature clusters file not found",
                             "re-run training (it writes features.npz when feat_num > 0)")
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        centres = {}
        for name, value in arrays.items():
            prefix, _, number = name.partition("_")
            if prefix != "class" or not number.isdigit() or value.ndim != 2:
                raise InputError(path, f"has an entry {name!r} that is not class_N clusters (a 2-D array)",
                                 "re-run training, or remove the entry")
            centres[int(number)] = value
        if not centres:
            raise InputError(path, "holds no feature clusters", "re-run training")
        if len({v.shape[1] for v in centres.values()}) > 1:
            raise InputError(path, "has clusters of different feature sizes", "re-run training")
        return cls(centres)
