"""The plugin-facing types: :class:`Segmenter`, :class:`Generator`, :class:`Sample`,
:class:`Dataset`, :class:`Metric`, and :func:`normalize`.

Everything a plugin author needs is importable from ``segbench`` itself::

    import segbench

    class MySegmenter(segbench.Segmenter):
        name = "my-segmenter"
        def predict(self, image):
            ...

Parameter routing: parameters named in a segmenter's ``postprocess``
signature are post-processing parameters, swept over one cached
``predict_raw`` output; all others go to the constructor. Settings under a suite
entry's ``train:`` key (a dataset's ``fit:`` key for a generator) go to ``fit``
as keyword arguments. Training, fitting and loading: docs/training.md.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, ClassVar, Iterator, Mapping

import numpy as np

from .io.samples import Dataset, Sample

__all__ = [
    "DatasetSource",
    "Sample",
    "Dataset",
    "Segmenter",
    "Generator",
    "Metric",
    "normalize",
    "parameter_names",
]


class Segmenter:
    """Base class of segmentation methods.

    Subclasses set ``name`` (unique, used in suites) and implement
    :meth:`predict`. The constructor takes the suite's ``params`` as keyword
    arguments; declare them explicitly so unknown ones are rejected.

    Optional methods, used when present (see docs/design.md):

    - ``fit(self, train: Dataset, workdir: Path, **train_settings)`` and
      ``load(self, workdir: Path)``, together: ``fit`` trains on a train split
      and leaves under ``workdir`` everything needed to predict; the core calls
      it once per (train-split content, config, plugin version, seed) and
      caches the result, passing ``seed`` and ``progress`` (a callable
      ``progress(epoch, total, loss)``) when ``fit`` accepts them. ``load``
      restores what ``fit`` left, in every worker that predicts with the model.
      A class with ``fit`` but no ``load`` cannot be trained by a suite.
    - ``predict_raw(self, image) -> Any`` and
      ``postprocess(self, raw, **threshold_params) -> ndarray``: split the
      expensive network pass from cheap post-processing.
    - ``describe(self) -> dict``: versions, weights hash, anything that belongs in
      the results' provenance.
    """

    name: ClassVar[str] = ""
    #: One line shown by ``segbench list``; defaults to the docstring's first line.
    description: ClassVar[str] = ""
    #: Parameters a suite file may not set, each mapped to how the user sets it
    #: on their own machine instead (suites are shared: they never choose a
    #: program to run). A suite that names one gets one line saying so.
    refused_params: ClassVar[Mapping[str, str]] = {}
    #: Constructor parameters that were renamed, old name -> new name. A suite
    #: that still uses an old name is refused when it loads, with one line
    #: saying what to write instead; the constructor takes only the new name.
    renamed_params: ClassVar[Mapping[str, str]] = {}
    #: Spatial dimensionalities it handles: 2 for ``(Y, X)`` images, 3 for
    #: ``(Z, Y, X)`` volumes. A suite skips a dataset it cannot run (one line
    #: for the whole dataset, not a failure per image): see :meth:`skip`.
    dimensions: ClassVar[tuple[int, ...]] = (2, 3)

    @classmethod
    def skip(cls, ndim: int, params: Mapping[str, Any]) -> str | None:
        """Why this segmenter, with constructor ``params``, cannot run on a
        dataset of ``ndim``-D images, or None when it can. Asked once per
        (config, dataset) while a suite is planned, like benchopt's
        ``Solver.skip``; the default reads :attr:`dimensions`. Override it for
        reasons that depend on the params (e.g. a network built for 2D)."""
        return _dimension_reason(cls.dimensions, ndim)

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Segment one image.

        Parameters
        ----------
        image : ndarray
            ``(Y, X)`` or ``(Z, Y, X)`` as read from the dataset (its own dtype).

        Returns
        -------
        ndarray
            Integer label image of the same spatial shape, 0 = background.
        """
        if type(self).predict_raw is not Segmenter.predict_raw:
            return self.postprocess(self.predict_raw(image))
        raise NotImplementedError(f"{type(self).__name__} must implement predict()")

    # Declared here so subclasses may override; the runner checks
    # `has_raw_split()` rather than calling these on the base class.
    def predict_raw(self, image: np.ndarray) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def postprocess(self, raw: Any, **threshold_params: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Provenance for the results table (versions, weights hash, ...)."""
        return {}

    @classmethod
    def has_raw_split(cls) -> bool:
        """True when the class implements both ``predict_raw`` and ``postprocess``."""
        return (
            cls.predict_raw is not Segmenter.predict_raw
            and cls.postprocess is not Segmenter.postprocess
        )

    @classmethod
    def can_fit(cls) -> bool:
        """True when the class has ``fit`` (a suite also needs ``load``: :meth:`can_load`)."""
        return callable(getattr(cls, "fit", None))

    @classmethod
    def can_load(cls) -> bool:
        """True when the class restores trained models with ``load(workdir)``."""
        return callable(getattr(cls, "load", None))

    @classmethod
    def postprocess_params(cls) -> tuple[str, ...]:
        """Names of the post-processing (threshold) parameters."""
        if not cls.has_raw_split():
            return ()
        return parameter_names(cls.postprocess, skip=2)

    @classmethod
    def constructor_params(cls) -> tuple[str, ...] | None:
        """Names the constructor accepts; None when it takes ``**kwargs``."""
        return parameter_names(cls.__init__, skip=1)

    @classmethod
    def train_params(cls) -> tuple[str, ...] | None:
        """Names ``fit`` accepts after ``(train, workdir)``; None for ``**kwargs``."""
        return _fit_params(cls)


class Generator:
    """Base class of image generators (images with exact ground truth).

    The constructor takes the suite's ``params`` except ``n_images``; every
    generator understands ``shape`` (spatial output shape, ``(Y, X)`` or
    ``(Z, Y, X)``).

    Optional methods, used when present (the training contract of segmenters):

    - ``fit(self, dataset: Dataset, workdir: Path, *, seed: int = 0, progress=None,
      **settings)``: learn from annotated images (a lab's own, named by a suite's
      ``fit_on: DATASET`` or ``segbench generate GENERATOR --fit DIR``) and leave
      under ``workdir`` everything ``generate`` needs; ``progress``, when not
      None, is called as ``progress(step, total, loss)``. The core calls it once
      per (dataset content, generator config) and caches the result.
    - ``load(self, workdir: Path)``: restore what ``fit`` left in ``workdir``;
      called instead of ``fit`` wherever the dataset is generated. After
      ``fit`` or ``load``, ``generate(n, seed)`` generates from what was learnt,
      still bit-identical for a seed.
    - ``params(self) -> dict``: the constructor parameters in effect (after
      ``load``, the fitted ones), for ``segbench generate --print-params`` and
      ``dataset.json``.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: Constructor parameters that were renamed, old name -> new name (as for
    #: :attr:`Segmenter.renamed_params`).
    renamed_params: ClassVar[Mapping[str, str]] = {}
    #: Spatial dimensionalities of the annotated images ``fit`` learns from
    #: (2: ``(Y, X)``, 3: ``(Z, Y, X)``); see :meth:`skip`.
    dimensions: ClassVar[tuple[int, ...]] = (2, 3)

    def generate(self, n: int, seed: int) -> Iterator[Sample]:
        """Yield ``n`` samples; the same seed gives bit-identical samples."""
        raise NotImplementedError(f"{type(self).__name__} must implement generate()")

    @classmethod
    def skip(cls, ndim: int, params: Mapping[str, Any]) -> str | None:
        """Why this generator, with constructor ``params``, cannot learn from
        ``ndim``-D images, or None; the default reads :attr:`dimensions`."""
        return _dimension_reason(cls.dimensions, ndim)

    @classmethod
    def constructor_params(cls) -> tuple[str, ...] | None:
        return parameter_names(cls.__init__, skip=1)

    @classmethod
    def train_params(cls) -> tuple[str, ...] | None:
        """Names ``fit`` accepts after ``(dataset, workdir)``; None for ``**kwargs``."""
        return _fit_params(cls)


def _fit_params(cls: type) -> tuple[str, ...] | None:
    """Names ``cls.fit`` accepts after ``(self, train, workdir)`` (``()`` without
    ``fit``; None when it takes ``**kwargs``)."""
    fit = getattr(cls, "fit", None)
    return parameter_names(fit, skip=3) if callable(fit) else ()


def _dimension_reason(dimensions: tuple[int, ...], ndim: int) -> str | None:
    """The default :meth:`Segmenter.skip`: None when ``ndim`` is in ``dimensions``."""
    if ndim in dimensions:
        return None
    handled = " and ".join(f"{d}D" for d in sorted(dimensions)) or "no"
    return f"it handles {handled} images only"


class Metric:
    """Base class of extra per-image metrics registered by plugins.

    ``compute(gt, pred)`` takes two label images of one shape and returns a
    mapping of column name to float, stored in the results table per image.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def compute(self, gt: np.ndarray, pred: np.ndarray) -> Mapping[str, float]:
        raise NotImplementedError


class DatasetSource:
    """Base class of registered dataset providers (``dataset: NAME`` in a suite).

    ``load(**params)`` returns a :class:`Dataset`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def load(self, **params: Any) -> Dataset:
        raise NotImplementedError


def parameter_names(func: Callable, skip: int = 0) -> tuple[str, ...] | None:
    """Keyword-passable parameter names of ``func`` after the first ``skip``
    positional ones; None when it accepts ``**kwargs`` (anything goes)."""
    sig = inspect.signature(func)
    params = list(sig.parameters.values())[skip:]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return tuple(
        p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )


def normalize(image: np.ndarray, low: float = 1, high: float = 99.8, axis=None) -> np.ndarray:
    """Percentile normalisation, the CSBDeep convention (no clipping).

    ``(x - p_low) / (p_high - p_low + 1e-20)`` as float32.

    Parameters
    ----------
    image : ndarray
        Any shape and real dtype.
    low, high : float
        Percentiles in ``[0, 100]``.
    axis : int or tuple of int, optional
        Axes over which percentiles are taken (default: all).

    Examples
    --------
    >>> import numpy as np
    >>> x = normalize(np.arange(101.0), low=0, high=100)
    >>> float(x[0]), float(x[-1])
    (0.0, 1.0)
    """
    if not 0 <= low < high <= 100:
        raise ValueError(f"normalize: need 0 <= low < high <= 100, got low={low}, high={high}")
    x = np.asarray(image, dtype=np.float32)
    lo = np.percentile(x, low, axis=axis, keepdims=True)
    hi = np.percentile(x, high, axis=axis, keepdims=True)
    return (x - lo) / (hi - lo + 1e-20)
