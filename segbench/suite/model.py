"""The validated suite as plain data: what the runner expands into jobs, and the
problems found while validating it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..metrics import DEFAULT_THRESHOLDS
from .grid import format_value
from .hashing import config_id

TOP_KEYS = {"name", "description", "seed", "output", "datasets", "segmenters", "metrics", "executor", "save_predictions"}
#: with save_predictions: auto, a dataset's predicted label images are kept up to this many test images
AUTO_SAVE_MAX_IMAGES = 100
DATASET_KEYS = {"name", "generator", "path", "dataset", "params", "split", "optional", "reference", "fit_on", "fit"}
DATASET_SOURCES = ("generator", "path", "dataset")
SEGMENTER_KEYS = {"name", "label", "params", "train", "train_on", "timeout", "optional"}
#: ``fit`` keywords the runner passes itself; a suite may set ``seed`` but not these
RESERVED_TRAIN_SETTINGS = ("progress",)
METRICS_KEYS = {"iou_thresholds", "criterion", "rank_by"}
EXECUTOR_KEYS = {"kind", "workers", "address", "tls"}
TLS_KEYS = ("ca_file", "cert", "key")
EXECUTOR_KINDS = ("local", "processes", "dask")
#: names of suites, datasets and segmenter labels (they name folders and files)
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: the largest suite seed (numpy and the results table take it as it is)
MAX_SEED = 2**32 - 1
#: the most images a generated dataset may have, and pixels (voxels) per generated image
MAX_IMAGES = 100_000
MAX_VOXELS = 2**27
#: the most variants one segmenter entry's sweeps may make (checked before expanding)
MAX_VARIANTS = 10_000
#: the largest suite file read (a suite is a small text file; /dev/zero is not one)
MAX_SUITE_BYTES = 1 << 20
#: IoU thresholds are compared (and de-duplicated) at this many decimals
THRESHOLD_DECIMALS = 6
#: Generator params every generator understands; ``n_images`` goes to generate().
GENERATOR_COMMON = {"n_images", "shape"}


@dataclass(frozen=True)
class SuiteProblem:
    """One validation problem, rendered as ``FILE:LINE: KEY: message``."""

    file: str
    line: int | None
    key: str
    message: str
    #: True when the problem only drops one entry and the rest can run.
    entry_only: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class SuiteLoadError(Exception):
    """The suite cannot run at all; ``problems`` lists why."""

    def __init__(self, problems: list[SuiteProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class DatasetSpec:
    """One entry of ``datasets:``."""

    name: str
    source: str  # "generator" | "path" | "dataset"
    target: str  # generator name, folder path, or registered dataset name
    params: dict[str, Any]
    split: dict[str, int] | None
    #: real annotated images the report compares every other dataset's ranking with
    reference: bool = False
    #: a generated dataset whose generator first learns from this dataset's train split
    fit_on: str | None = None
    #: settings for the generator's ``fit`` (with ``fit_on``)
    fit: dict[str, Any] | None = None

    @property
    def n_images(self) -> int | None:
        if "n_images" in self.params:
            return int(self.params["n_images"])
        if self.split is not None:
            return sum(self.split.values())
        return None


@dataclass(frozen=True)
class SegmenterConfig:
    """One point of a segmenter's constructor grid: what one model is.

    ``postprocess_grid`` lists the post-processing variants swept over one
    ``predict_raw`` output (a single empty dict when there are none).
    ``train`` is None for a segmenter used as it is (no training); ``train_on``
    names the dataset whose train split trains it (None: each test dataset's own).
    """

    label: str
    name: str
    params: dict[str, Any]
    train: dict[str, Any] | None
    postprocess_grid: tuple[dict[str, Any], ...]
    timeout: float | None
    train_on: str | None = None

    @property
    def config_id(self) -> str:
        """Stable id of the model (constructor params + train settings)."""
        return config_id(self.name, self.params, self.train)

    def variant_label(self, variant: dict[str, Any]) -> str:
        """Display name: the label plus every swept/set value that tells rows apart."""
        shown = {**self.params, **variant}
        if not shown:
            return self.label
        return self.label + " " + " ".join(f"{k}={format_value(v)}" for k, v in shown.items())


@dataclass(frozen=True)
class SegmenterSpec:
    """One entry of ``segmenters:`` before grid expansion."""

    name: str
    label: str
    params: dict[str, Any]
    train: dict[str, Any] | None
    timeout: float | None
    configs: tuple[SegmenterConfig, ...]
    train_on: str | None = None


@dataclass(frozen=True)
class MetricsSpec:
    iou_thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    criterion: str = "iou"
    rank_by: str = "f1@0.5"


@dataclass(frozen=True)
class ExecutorSpec:
    """Where cells run. ``address``: an existing Dask scheduler. A scheduler
    that is not on this machine is used only when the user confirmed that
    address on the command line (``address_confirmed``), since a suite file
    shared between labs must not be able to send work (and trust) elsewhere.
    ``tls``: Dask TLS files ``{"ca_file", "cert", "key"}`` (then the
    connection is encrypted and authenticated)."""

    kind: str = "local"
    workers: int = 1
    address: str | None = None
    tls: dict[str, str] | None = None
    address_confirmed: bool = False


@dataclass
class Suite:
    """A validated suite, ready to expand into jobs."""

    name: str
    path: Path
    seed: int
    output: Path
    datasets: list[DatasetSpec]
    segmenters: list[SegmenterSpec]
    metrics: MetricsSpec
    executor: ExecutorSpec
    description: str = ""
    #: keep predicted label images: True, False, or "auto" (datasets of at most
    #: AUTO_SAVE_MAX_IMAGES test images)
    save_predictions: bool | str = "auto"
    #: entry-level problems (those entries were dropped) and skipped optional entries
    problems: list[SuiteProblem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def configs(self) -> list[SegmenterConfig]:
        return [c for s in self.segmenters for c in s.configs]


