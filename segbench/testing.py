"""Reference plugins for testing harness behaviour (like ``numpy.testing``).

They are importable by name, so jobs that carry them travel to process pools
and Dask workers. They are not registered through an entry point; pass this
module to :func:`segbench.plugins.load_registry` as an extra plugin::

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
- ``legacy-trainable``: the same without ``load`` (workers call ``fit`` again).
- ``finds-nothing``: trains (``epochs`` are only recorded) and then finds no
  object at all: a model that learned nothing.

``BLOCK_AFTER_VARIABLE``: when set to N in the environment, ``blob-threshold``
writes the file named by ``BLOCKED_VARIABLE`` at its (N+1)-th raw pass in a
process and then blocks until killed: a deterministic kill point for tests.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from .api import Dataset, Segmenter, normalize
from .plugins import hookimpl

#: raw passes made in this process, by segmenter name
RAW_CALLS: dict[str, int] = {}


#: environment variables of the deterministic kill point (see the module docstring)
BLOCK_AFTER_VARIABLE = "SEGBENCH_TESTING_BLOCK_AFTER"
BLOCKED_VARIABLE = "SEGBENCH_TESTING_BLOCKED"


def _block_if_asked(calls: int) -> None:
    after = os.environ.get(BLOCK_AFTER_VARIABLE)
    if after is None or calls <= int(after):
        return
    _write_atomically(Path(os.environ[BLOCKED_VARIABLE]), str(os.getpid()))
    while True:  # until the test kills this process
        time.sleep(1)


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` so that ``path``, once it exists, holds all of it."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text)
    os.replace(partial, path)


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


class LegacyTrainable(TrainableThreshold):
    """A trainable segmenter without ``load`` (the legacy path: workers call
    ``fit`` again, and ``fit`` reuses what it left in the workdir)."""

    name = "legacy-trainable"
    load = None  # type: ignore[assignment]

    def fit(self, train: Dataset, workdir: Path, margin: float = 0.0, seed: int = 0) -> None:
        cached = Path(workdir) / "threshold.json"
        if cached.is_file():
            _log_call(self.call_log, f"refit {self.tag}")
            self.threshold = json.loads(cached.read_text())["threshold"]
            return
        super().fit(train, workdir, margin=margin, seed=seed)


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
    return [BlobThreshold, Misbehaving, TrainableThreshold, LegacyTrainable, FindsNothing]
