"""Suites: the YAML schema, its validation, and the expansion into a matrix.

A suite names datasets, segmenters (with parameter sweeps and optional
training), metrics, a seed, an output folder and an executor; docs/suites.md
documents every key. :func:`load_suite` reads a file with ``yaml.safe_load``
semantics, validates everything it can before anything runs, and reports each
problem as one line ``FILE:LINE: KEY: what is wrong; how to fix it``.

Modules: ``model`` (the validated suite as data), ``validate`` (checks and
loading), ``yamlfile`` (YAML with line numbers), ``grid`` (sweeps), ``hashing`` (stable hashes and derived seeds).
"""

from .hashing import config_id, derive_seed, stable_hash
from .model import (
    EXECUTOR_KINDS,
    DatasetSpec,
    ExecutorSpec,
    MetricsSpec,
    SegmenterConfig,
    SegmenterSpec,
    Suite,
    SuiteLoadError,
    SuiteProblem,
)
from .validate import load_suite

__all__ = [
    "Suite",
    "DatasetSpec",
    "SegmenterSpec",
    "SegmenterConfig",
    "MetricsSpec",
    "ExecutorSpec",
    "SuiteProblem",
    "SuiteLoadError",
    "EXECUTOR_KINDS",
    "load_suite",
    "config_id",
    "derive_seed",
    "stable_hash",
]
