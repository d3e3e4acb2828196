"""Testing helpers for plugin authors, and reference plugins for segbench's own
tests (like ``numpy.testing``).

For plugin authors:

- :func:`check_segmenter` checks a :class:`segbench.Segmenter` subclass against
  the contract the runner relies on (docs/plugins.md); call it from the
  plugin's tests.
- :func:`tiny_dataset` is the small deterministic dataset it uses by default.

The reference plugins are importable by name, so jobs that carry them travel to
process pools and Dask workers. They are not registered through an entry
point; pass this module to :func:`segbench.plugins.load_registry` as an extra
plugin::

    from segbench import testing
    from segbench.plugins import load_registry
    registry = load_registry(extra=[(testing, "segbench-testing", "0")])

- ``blob-threshold``: smoothing + threshold + connected components, split into an
  expensive ``predict_raw`` (``work`` extra smoothing passes, to make it
  CPU-bound on demand) and a cheap ``postprocess(raw, threshold)``. It counts
  its raw passes in ``RAW_CALLS`` (per process) and, when ``call_log`` is set,
  appends one line per raw pass to that file (visible across processes).
- ``misbehaving``: fails on purpose (``mode``: raise, shape, dtype, float,
  sleep), for the runner's failure handling.
- ``trainable-threshold``: learns its threshold from the train split in ``fit``,
  leaves it as ``threshold.json`` in the workdir, restores it in ``load``.
- ``finds-nothing``: trains (``epochs`` are only recorded) and then finds no
  object at all: a model that learned nothing.

``BLOCK_AFTER_VARIABLE``: when set to N in the environment, ``blob-threshold``
writes the file named by ``BLOCKED_VARIABLE`` at its (N+1)-th raw pass in a
process and then blocks until killed: a deterministic kill point for tests.
"""

from __future__ import annotations

import json
import numbers
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy import ndimage as ndi

from .api import Dataset, Sample, Segmenter, normalize
from .io import atomic_write_text
from .plugins import hookimpl
from .run.training import build
from .suite.grid import grid
from .suite.model import RESERVED_TRAIN_SETTINGS
from .suite.validate import split_params

#: raw passes made in this process, by segmenter name
RAW_CALLS: dict[str, int] = {}


#: environment variables of the deterministic kill point (see the module docstring)
BLOCK_AFTER_VARIABLE = "SEGBENCH_TESTING_BLOCK_AFTER"
BLOCKED_VARIABLE = "SEGBENCH_TESTING_BLOCKED"


def _block_if_asked(calls: int) -> None:
    after = os.environ.get(BLOCK_AFTER_VARIABLE)
    if after is None or calls <= int(after):
        return
    atomic_write_text(os.environ[BLOCKED_VARIABLE], str(os.getpid()))
    while True:  # until the test kills this process
        time.sleep(1)


def _log_call(call_log: str | None, what: str) -> None:
    if call_log:
        with open(call_log, "a") as fh:
            fh.write(f"{what} {os.getpid()}\n")


class BlobThreshold(Segmenter):
    """Smoothing, threshold and connected components (a test reference)."""

    name = "blob-threshold"

    def __init__(self, sigma: float = 1.0, work: int = 0, call_log: str | None = None):
        self.sigma = float(sigma)
        self.work = int(work)
        self.call_log = call_log

    def predict_raw(self, image: np.ndarray) -> dict[str, np.ndarray]:
        RAW_CALLS[self.name] = RAW_CALLS.get(self.name, 0) + 1
        _block_if_asked(RAW_CALLS[self.name])
        _log_call(self.call_log, "raw")
        smooth = normalize(image, 1, 99.8)
        for _ in range(1 + self.work):
            smooth = ndi.gaussian_filter(smooth, self.sigma)
        return {"smooth": smooth}

    def postprocess(self, raw: dict[str, np.ndarray], threshold: float = 0.5) -> np.ndarray:
        labels, _ = ndi.label(raw["smooth"] > threshold)
        return labels.astype(np.int32)

    def describe(self) -> dict:
        return {"sigma": self.sigma}


class Misbehaving(Segmenter):
    """Fails the way broken segmenters do (a test reference); ``chatter``
    prints to the process's stdout/stderr file descriptors and succeeds."""

    name = "misbehaving"

    def __init__(self, mode: str = "raise", seconds: float = 5.0):
        self.mode = mode
        self.seconds = seconds

    def predict(self, image: np.ndarray) -> np.ndarray:
        if self.mode == "raise":
            raise RuntimeError("deliberate failure")
        if self.mode == "shape":
            return np.zeros((3, 3), np.int32)
        if self.mode == "float":
            return np.zeros(image.shape, np.float32)
        if self.mode == "sleep":
            time.sleep(self.seconds)
        if self.mode == "chatter":  # what TensorFlow does at start-up, below Python
            os.write(2, b"library chatter on stderr\n")
            os.write(1, b"library chatter on stdout\n")
        return np.zeros(image.shape, np.int32)


class TrainableThreshold(Segmenter):
    """Learns a global threshold from the train split (a test reference).

    ``fit`` logs ``fit LABEL``, reports one progress step per train image and
    writes ``threshold.json``; ``load`` logs ``load LABEL`` and reads it back;
    ``predict`` logs ``predict LABEL``. With ``wait_for`` set, ``fit`` first
    waits (up to 60 s, else it fails) until that text appears in ``call_log``:
    a training that can only end once another config's prediction has run.
    """

    name = "trainable-threshold"

    def __init__(self, call_log: str | None = None, tag: str = ""):
        self.threshold: float | None = None
        self.call_log = call_log
        self.tag = tag

    def fit(
        self, train: Dataset, workdir: Path, margin: float = 0.0, seed: int = 0, fail: bool = False,
        wait_for: str | None = None, progress=None,
    ) -> None:
        if fail:
            raise RuntimeError("deliberate training failure")
        if wait_for:
            _wait_for_call(self.call_log, wait_for)
        _log_call(self.call_log, f"fit {self.tag}")
        fg, bg = [], []
        for i, sample in enumerate(train, 1):
            image = normalize(sample.image)
            fg.append(image[sample.labels > 0].mean())
            bg.append(image[sample.labels == 0].mean())
            if progress is not None:
                progress(i, len(train), float(np.mean(fg) - np.mean(bg)))
        self.threshold = float((np.mean(fg) + np.mean(bg)) / 2 + margin)
        (Path(workdir) / "threshold.json").write_text(json.dumps({"threshold": self.threshold, "seed": seed}))

    def load(self, workdir: Path) -> None:
        _log_call(self.call_log, f"load {self.tag}")
        self.threshold = json.loads((Path(workdir) / "threshold.json").read_text())["threshold"]

    def predict(self, image: np.ndarray) -> np.ndarray:
        if self.threshold is None:
            raise RuntimeError("fit() first")
        _log_call(self.call_log, f"predict {self.tag}")
        labels, _ = ndi.label(normalize(image) > self.threshold)
        return labels.astype(np.int32)


class FindsNothing(Segmenter):
    """A trained model that finds nothing (a test reference): ``fit`` leaves a
    file, ``load`` reads it, ``predict`` returns an empty label image."""

    name = "finds-nothing"

    def __init__(self) -> None:  # no parameters (the core passes only what it names)
        pass

    def fit(self, train: Dataset, workdir: Path, epochs: int = 1, seed: int = 0) -> None:
        (Path(workdir) / "model.json").write_text(json.dumps({"epochs": epochs, "seed": seed}))

    def load(self, workdir: Path) -> None:
        json.loads((Path(workdir) / "model.json").read_text())

    def predict(self, image: np.ndarray) -> np.ndarray:
        return np.zeros(image.shape, np.int32)


def _wait_for_call(call_log: str | None, text: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if call_log and os.path.exists(call_log) and text in Path(call_log).read_text():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{text!r} never appeared in {call_log}")


@hookimpl
def segbench_register_segmenters():
    return [BlobThreshold, Misbehaving, TrainableThreshold, FindsNothing]


# ---------------------------------------------------------------------------
# the conformance check for plugin authors


def tiny_dataset(n_images: int = 4, shape: tuple[int, int] = (64, 64), seed: int = 0) -> Dataset:
    """A small deterministic 2D dataset with exact labels: bright discs on a
    dim, noisy background.

    Each image is split into 32 x 32 px tiles with one disc (radius 5 to 8 px,
    jittered, never touching another) in most tiles; the image is the discs at
    600 to 1000 counts over a background of 100, blurred (sigma 1 px) with
    Gaussian noise (sd 20), as ``uint16``; the labels are the discs, ``int32``,
    1..N, 0 = background.

    Parameters
    ----------
    n_images : int
        Number of samples, named ``disc-0``, ``disc-1``, ...
    shape : (int, int)
        ``(Y, X)`` in pixels, each at least 32.
    seed : int
        The same seed gives identical samples.
    """
    if len(shape) != 2 or min(shape) < 32:
        raise ValueError(f"tiny_dataset: shape must be (Y, X), each at least 32 px, got {shape!r}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    samples = []
    for index in range(n_images):
        labels = np.zeros(shape, np.int32)
        image = np.full(shape, 100.0)
        for ty in range(shape[0] // 32):
            for tx in range(shape[1] // 32):
                if labels.max() and rng.random() < 0.2:
                    continue  # an empty tile now and then (every image keeps a disc)
                radius = rng.uniform(5, 8)
                cy, cx = (np.array([ty, tx]) * 32 + 16 + rng.uniform(-4, 4, 2))
                disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
                labels[disc] = labels.max() + 1
                image[disc] = rng.uniform(600, 1000)
        image = ndi.gaussian_filter(image, 1.0) + rng.normal(0, 20, shape)
        samples.append(Sample(f"disc-{index}", np.clip(image, 0, 65535).astype(np.uint16), labels))
    return Dataset("tiny-discs", samples)


def check_segmenter(
    cls: type,
    params: dict[str, Any] | None = None,
    *,
    workdir: str | Path,
    fit: dict[str, Any] | None = None,
    sweep: dict[str, list] | None = None,
    dataset: Dataset | None = None,
) -> None:
    """Check a segmenter against the contract segbench's runner relies on.

    Drives ``cls`` the way ``segbench run`` does (docs/plugins.md: parameter
    routing; training, loading and caching) on a small dataset and raises an
    :class:`AssertionError` saying what broke and how to fix it at the first
    problem. It checks that:

    - every parameter is one the constructor or ``postprocess`` takes, and
      every ``fit`` setting one ``fit`` takes (not ``progress``, which segbench
      passes itself); each old name in ``renamed_params`` is taken by neither
      any more, and its new name is; the class does not skip the dataset
      (``skip``) and, when trained, has ``load``;
    - when ``fit`` is given: ``fit(dataset, workdir, seed=0, progress=...,
      **fit)`` runs (``seed`` and ``progress`` only where ``fit`` accepts them;
      ``progress`` must be called as ``progress(epoch, total, loss)`` with
      ``0 <= epoch <= total``), and a *new* instance restored with
      ``load(workdir)`` predicts exactly what the trained instance predicts;
    - every prediction is an integer numpy label image of the image's shape,
      no label negative and background (0) present;
    - ``predict(image)``, where the class defines both it and the raw split,
      equals ``postprocess(predict_raw(image))``;
    - when ``sweep`` is given: one ``predict_raw`` per image followed by
      ``postprocess(raw, **variant)`` for every variant in turn gives exactly
      what a separately built segmenter (restored from ``workdir`` when
      trained) gives for that variant alone;
    - ``describe()`` returns a dict that ``json.dumps`` accepts.

    Parameters
    ----------
    cls : type
        The :class:`segbench.Segmenter` subclass.
    params : dict, optional
        One value per parameter, as under a suite entry's ``params:`` but
        without sweeps (a list here is one value): names in ``postprocess``'s
        signature go to ``postprocess``, the others to the constructor.
    workdir : str or Path
        An empty (or not yet existing) folder, given to ``fit`` and ``load``.
    fit : dict, optional
        ``fit`` settings, as under a suite entry's ``train:`` (``{}`` trains
        with the defaults); None checks the segmenter untrained.
    sweep : dict, optional
        ``{postprocess parameter: [values]}``: the post-processing sweep to
        check (the grid of all the lists, over ``params``' other values).
    dataset : Dataset, optional
        Trains the segmenter and is predicted; default :func:`tiny_dataset`.
        Give a larger one when ``fit`` needs more images or bigger ones.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     check_segmenter(TrainableThreshold, workdir=folder, fit={"margin": 0.0})
    """
    _require(isinstance(cls, type) and issubclass(cls, Segmenter), f"{cls!r} is not a subclass of segbench.Segmenter; "
             "derive the class from segbench.Segmenter")
    _require(isinstance(cls.name, str) and cls.name, f"{cls.__qualname__} has no name; set the class attribute `name`")
    name = cls.name
    dataset = tiny_dataset() if dataset is None else dataset
    samples = list(dataset)
    _require(samples, f"{name}: the dataset is empty; give check_segmenter at least one annotated image")
    _check_renamed(cls)
    ctor, post = _route(cls, dict(params or {}))
    ndim = (samples[0].labels if samples[0].labels is not None else samples[0].image).ndim
    reason = cls.skip(ndim, ctor)
    _require(not reason, f"{name} skips {ndim}D datasets ({reason}); give check_segmenter a dataset it "
             "handles (dataset=...)")
    trained = None if fit is None else _train(cls, ctor, post, dict(fit), Path(workdir), dataset)

    def new_model() -> Segmenter:
        """A model as a predicting worker makes it: built, then loaded when trained."""
        model = _call(name, f"the constructor with {ctor!r}", build, cls, ctor, dataset.spacing)
        if trained is not None:
            _call(name, "load(workdir) on a new instance", model.load, Path(workdir))
        return model

    model = new_model()
    for sample in samples:
        labels = _predict(model, sample.image, post)
        _check_labels(name, "the prediction", labels, sample)
        if trained is not None:
            before = trained[sample.name]
            _require(
                np.array_equal(before, labels),
                f"{name}: a new instance restored with load(workdir) predicts differently from the instance fit "
                f"trained (image {sample.name!r}: {_difference(before, labels)}); save in workdir everything "
                "predict uses (weights, thresholds, normalisation) in fit and restore all of it in load",
            )
    _check_predict_matches_raw_split(name, model, samples[0])
    if sweep:
        _check_sweep(cls, post, sweep, samples, new_model)
    describe = _call(name, "describe()", model.describe)
    _require(isinstance(describe, dict), f"{name}: describe() returned {type(describe).__name__}; return a dict "
             "(versions, weights hash, settings), {} when there is nothing to say")
    try:
        json.dumps(describe)
    except (TypeError, ValueError) as exc:
        raise AssertionError(
            f"{name}: describe() is not JSON ({exc}); return plain str, int, float, bool, None, lists and dicts "
            "(e.g. str(path), float(x), list(shape))"
        ) from None


def _require(condition: Any, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _call(name: str, what: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``; an exception becomes an AssertionError naming the call."""
    try:
        return function(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure of the plugin is a failed check
        raise AssertionError(f"{name}: {what} raised {type(exc).__name__}: {exc}") from exc


def _route(cls: type[Segmenter], params: dict[str, Any]) -> tuple[dict, dict]:
    """Split ``params`` into constructor and ``postprocess`` parameters as a
    suite does (a name in ``postprocess``'s signature is a post-processing
    parameter), after checking each is taken by one of them."""
    post_names = cls.postprocess_params()
    accepted = cls.constructor_params()
    unknown = [k for k in params if k not in post_names and accepted is not None and k not in accepted]
    _require(not unknown, f"{cls.name}: parameter(s) {unknown} are taken by neither the constructor "
             f"({list(accepted or ())}) nor postprocess ({list(post_names)}); declare them, or fix the name")
    return split_params(params, post_names)


def _check_renamed(cls: type[Segmenter]) -> None:
    """``cls.renamed_params`` (old name -> new name): a suite that still gives
    the old name is refused with the new one, so the old name must be gone
    from the signatures and the new one taken by the constructor or
    ``postprocess``."""
    accepted = cls.constructor_params()
    taken = set(accepted or ()) | set(cls.postprocess_params())
    for old, new in cls.renamed_params.items():
        _require(old not in taken, f"{cls.name}: renamed_params renames {old!r} to {new!r}, but the class still "
                 f"takes {old!r}; remove {old!r} from the signature (or from renamed_params)")
        _require(new in taken or accepted is None, f"{cls.name}: renamed_params renames {old!r} to {new!r}, which "
                 f"neither the constructor nor postprocess takes; name a parameter the class takes")


def _predict(model: Segmenter, image: np.ndarray, post: dict[str, Any]) -> Any:
    """The runner's prediction: ``postprocess(predict_raw(image), **post)`` for
    a segmenter with the raw split, else ``predict(image)``."""
    if type(model).has_raw_split():
        raw = _call(model.name, "predict_raw(image)", model.predict_raw, image)
        return _call(model.name, f"postprocess(raw, **{post!r})", model.postprocess, raw, **post)
    return _call(model.name, "predict(image)", model.predict, image)


def _checked_progress(name: str) -> Callable[..., None]:
    """A ``progress(epoch, total, loss)`` callback that checks each report."""

    def progress(epoch: int, total: int, loss: float | None = None) -> None:
        integers = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (epoch, total))
        _require(
            integers and 0 <= epoch <= total and (loss is None or isinstance(loss, numbers.Real)),
            f"{name}: fit called progress({epoch!r}, {total!r}, {loss!r}); call "
            "progress(epoch, total, loss) after each epoch with whole numbers 0 <= epoch <= total "
            "and the loss as a number (or None)",
        )

    return progress


def _train(cls, ctor, post, settings, workdir, dataset) -> dict[str, np.ndarray]:
    """Train a model in ``workdir`` as the runner does (``fit`` with ``seed``
    and ``progress`` where it takes them); returns its prediction of every
    sample, by name, checked."""
    name = cls.name
    _require(cls.can_fit(), f"{name}: fit settings were given but the class has no fit method; "
             "implement fit(self, train, workdir, **settings) or pass fit=None")
    _require(cls.can_load(), f"{name}: it has fit but no load(workdir); segbench trains a model once and "
             "restores it with load in every worker that predicts: add load")
    for reserved in RESERVED_TRAIN_SETTINGS:
        _require(reserved not in settings, f"{name}: {reserved!r} is passed by segbench itself; "
                 "remove it from the fit settings")
    accepted = cls.train_params()
    unknown = [k for k in settings if accepted is not None and k not in accepted]
    _require(not unknown, f"{name}: fit() takes no setting(s) {unknown} (it takes {list(accepted or ())}); "
             "declare them as keyword parameters of fit, or fix the name")
    if workdir.exists():
        _require(not any(workdir.iterdir()), f"{name}: workdir {workdir} is not empty; give check_segmenter "
                 "an empty folder (the runner gives fit an empty one)")
    workdir.mkdir(parents=True, exist_ok=True)
    if accepted is None or "seed" in accepted:
        settings.setdefault("seed", 0)
    if accepted is None or "progress" in accepted:
        settings["progress"] = _checked_progress(name)
    model = _call(name, f"the constructor with {ctor!r}", build, cls, ctor, dataset.spacing)
    try:
        model.fit(dataset, workdir, **settings)
    except AssertionError:
        raise  # a bad progress report
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"{name}: fit(train, workdir, **{settings!r}) raised {type(exc).__name__}: {exc}") from exc
    predictions = {}
    for sample in dataset:
        predictions[sample.name] = _predict(model, sample.image, post)
        _check_labels(name, "the trained instance's prediction", predictions[sample.name], sample)
    return predictions


def _difference(a: np.ndarray, b: np.ndarray) -> str:
    if getattr(a, "shape", None) != getattr(b, "shape", None):
        return f"shape {getattr(a, 'shape', None)} against {getattr(b, 'shape', None)}"
    return f"{int(np.count_nonzero(a != b))} of {a.size} pixels differ"


def _check_labels(name: str, what: str, labels: Any, sample: Sample) -> None:
    """``labels`` is what the runner accepts for ``sample`` (anything else
    fails the cell), and not labelled everywhere."""
    where = f"{what} for image {sample.name!r}"
    shape = sample.labels.shape if sample.labels is not None else sample.image.shape
    _require(isinstance(labels, np.ndarray), f"{name}: {where} is a {type(labels).__name__}; return a numpy "
             "label image")
    _require(labels.shape == shape, f"{name}: {where} has shape {labels.shape}, the image {shape}; return "
             "labels of the image's spatial shape (undo any resizing, padding or channel axis)")
    _require(np.issubdtype(labels.dtype, np.integer), f"{name}: {where} has dtype {labels.dtype}; return an "
             "integer label image (e.g. labels.astype(np.int32)), one id per object")
    _require(labels.size == 0 or labels.min() >= 0, f"{name}: {where} has negative labels; use 0 for "
             "background and 1..N for objects")
    _require(labels.size == 0 or labels.min() == 0, f"{name}: {where} labels every pixel (no 0), though the "
             "image has background; use 0 for background")


def _check_predict_matches_raw_split(name: str, model: Segmenter, sample: Sample) -> None:
    """A class that defines ``predict`` beside the raw split must agree with
    it: the runner calls the split, anything else calls ``predict``."""
    if not type(model).has_raw_split() or type(model).predict is Segmenter.predict:
        return
    direct = _call(name, "predict(image)", model.predict, sample.image)
    raw = _call(name, "predict_raw(image)", model.predict_raw, sample.image)
    split = _call(name, "postprocess(raw)", model.postprocess, raw)
    _require(
        isinstance(direct, np.ndarray) and isinstance(split, np.ndarray) and np.array_equal(direct, split),
        f"{name}: predict(image) differs from postprocess(predict_raw(image)) (image {sample.name!r}: "
        f"{_difference(direct, split)}); segbench runs the split, so make predict return "
        "postprocess(predict_raw(image)) with postprocess's defaults (or remove predict)",
    )


def _check_sweep(cls, post, sweep, samples, new_model) -> None:
    """One ``predict_raw`` per image, then every variant's ``postprocess`` on
    it in turn, gives what a model made for that variant alone gives."""
    name = cls.name
    names = cls.postprocess_params()
    _require(cls.has_raw_split(), f"{name}: a sweep needs predict_raw and postprocess (only post-processing "
             "parameters are swept over one network pass); implement both, or check without sweep")
    for key, values in sweep.items():
        _require(key in names, f"{name}: {key!r} is not a parameter of postprocess ({list(names)}); sweep "
                 "only postprocess parameters here (each constructor value is a model of its own)")
        _require(isinstance(values, list) and values, f"{name}: sweep {key!r} must be a non-empty list of "
                 f"values, got {values!r}")
    variants = [{**post, **point} for point in grid(sweep)]
    model = new_model()
    swept = []
    for sample in samples:
        raw = _call(name, "predict_raw(image)", model.predict_raw, sample.image)
        swept.append([_call(name, f"postprocess(raw, **{v!r})", model.postprocess, raw, **v) for v in variants])
    for i, variant in enumerate(variants):
        alone = new_model()
        for sample, labels in zip(samples, swept):
            expected = _predict(alone, sample.image, variant)
            _check_labels(name, f"the prediction with {variant}", labels[i], sample)
            _require(
                np.array_equal(labels[i], expected),
                f"{name}: postprocess(raw, **{variant!r}) in a sweep differs from the same variant predicted "
                f"alone (image {sample.name!r}: {_difference(labels[i], expected)}); postprocess must not "
                "change raw or the segmenter, and predict_raw must not depend on what ran before",
            )
