"""The in-memory types of data: :class:`Sample` (an image with its ground
truth) and :class:`Dataset` (an ordered, named, lazily loaded collection).

They live here, at the bottom of the layers, so that ``segbench.io`` can build
them without importing the plugin API; plugins import them as
``segbench.Sample`` and ``segbench.Dataset``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

__all__ = ["Sample", "Dataset"]


@dataclass
class Sample:
    """One image with its ground truth.

    Attributes
    ----------
    name : str
        Identifier, unique within its dataset (the file stem on disk).
    image : ndarray
        ``(Y, X)``, ``(Z, Y, X)``, or with channels last (``YXC``); any int or float dtype.
    labels : ndarray or None
        Integer label image of the image's spatial shape, 0 = background;
        None where no ground truth is known.
    spacing : tuple of float or None
        Physical pixel/voxel size per spatial axis (same order as the axes, e.g.
        micrometres ``(dz, dy, dx)``); None when unknown.
    """

    name: str
    image: np.ndarray
    labels: np.ndarray | None = None
    spacing: tuple[float, ...] | None = None


class Dataset(Sequence[Sample]):
    """An ordered, named collection of :class:`Sample` objects.

    Samples may be loaded lazily: ``loaders`` is a sequence of zero-argument
    callables, each returning one :class:`Sample`; ``names`` gives their names
    without loading them.

    Parameters
    ----------
    name : str
        Dataset name (as in the suite).
    samples : sequence of Sample, optional
        In-memory samples.
    names, loaders : sequences of equal length, optional
        Lazy alternative to ``samples``.
    spacing : tuple of float, optional
        Voxel size shared by all samples, when known.
    """

    def __init__(
        self,
        name: str,
        samples: Sequence[Sample] | None = None,
        *,
        names: Sequence[str] | None = None,
        loaders: Sequence[Callable[[], Sample]] | None = None,
        spacing: tuple[float, ...] | None = None,
    ):
        if samples is not None:
            if names is not None or loaders is not None:
                raise TypeError("Dataset: give either samples or names+loaders, not both")
            samples = list(samples)
            names = [s.name for s in samples]
            loaders = [(lambda s=s: s) for s in samples]
        names = list(names or [])
        loaders = list(loaders or [])
        if len(names) != len(loaders):
            raise ValueError(f"Dataset {name!r}: {len(names)} names but {len(loaders)} loaders")
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"Dataset {name!r}: duplicate sample names {dup}")
        self.name = name
        self.names = names
        self._loaders = loaders
        self.spacing = spacing

    def __len__(self) -> int:
        return len(self._loaders)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            idx = range(len(self))[index]
            return Dataset(
                self.name,
                names=[self.names[i] for i in idx],
                loaders=[self._loaders[i] for i in idx],
                spacing=self.spacing,
            )
        return self._loaders[index]()

    def __iter__(self) -> Iterator[Sample]:
        for load in self._loaders:
            yield load()

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, n={len(self)})"
