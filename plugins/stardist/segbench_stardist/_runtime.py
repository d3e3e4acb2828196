"""TensorFlow start-up and the quieting of StarDist's console output.

TensorFlow is imported only when a model is first needed, never when segbench
lists its plugins, so ``segbench list`` stays fast and a process that only plans
a suite never starts TensorFlow (which does not survive ``fork``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from importlib.metadata import PackageNotFoundError, version
from typing import Iterator

LOG = logging.getLogger("segbench_stardist")

_TF_STARTED = False


def start_tensorflow() -> None:
    """Import TensorFlow once and let it grow GPU memory on demand.

    By default TensorFlow reserves all memory of every visible GPU at start-up,
    which starves any other library (torch, for Cellpose) in the same process.
    Without a GPU this only imports TensorFlow.
    """
    global _TF_STARTED
    if _TF_STARTED:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the GPU was initialised before segbench got here
            LOG.debug("TensorFlow already initialised %s; memory growth unchanged", gpu.name)
    _TF_STARTED = True


def devices() -> list[str]:
    """Names of the devices TensorFlow computes on (``['CPU:0']`` or GPUs too)."""
    start_tensorflow()
    import tensorflow as tf

    return [d.name.replace("/physical_device:", "") for d in tf.config.list_physical_devices()]


@contextlib.contextmanager
def quiet(what: str) -> Iterator[None]:
    """Capture what StarDist, CSBDeep and Keras print to stdout and log it at DEBUG.

    StarDist reports thresholds, weight files and training progress with
    ``print``; inside segbench that text would interleave with the runner's own
    output.
    """
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        text = buffer.getvalue().strip()
        if text:
            LOG.debug("%s:\n%s", what, text)


def library_versions() -> dict[str, str]:
    """Installed versions of stardist, csbdeep, tensorflow and keras."""
    found = {}
    for name, distributions in _DISTRIBUTIONS.items():
        found[name] = "not installed"
        for dist in distributions:
            try:
                found[name] = version(dist)
                break
            except PackageNotFoundError:
                continue
    return found


#: library -> the distributions that may provide it (TensorFlow ships several wheels)
_DISTRIBUTIONS = {
    "stardist": ("stardist",),
    "csbdeep": ("csbdeep",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel"),
    "keras": ("keras",),
}
