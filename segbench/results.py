"""The results contract: file names, column names and metric keys.

Every module that writes or reads a results folder (the runner, ``segbench
report``, ``segbench evaluate``, the HTML report) takes its names from here, so
a name changes in one place.

A suite's output folder holds::

    .segbench-output      the marker: segbench created this folder (OUTPUT_MARKER)
    results.parquet       the results table (below); results.csv with --csv
    suite.json            what the report needs about the suite (SUITE_FIELDS)
    run.json              the run's summary and failures
    cells/                one Parquet file per finished prediction
    predictions/          predicted label images (compressed TIFF), when kept
      index.csv           one row per kept label image (PREDICTION_INDEX_COLUMNS)
      <dataset>/<variant>/<image>.tif   (prediction_relpath)
    report.html           the self-contained HTML report
    plots/                F1/AP-vs-IoU plots (PNG)

The results table has one row per (dataset, image, segmenter variant,
threshold). Per-threshold scores keep the names of :mod:`segbench.metrics`
(``accuracy`` is TP / (TP + FP + FN)). Leaderboards (table, Markdown, CSV,
JSON, HTML) use *metric keys* instead: ``f1@0.5``, ``ap@0.75``, ``seg``,
``dsb``; the same key is the ``--rank-by`` argument, the CSV column and the
JSON field, and :data:`METRICS` gives its header and the results column it is
pooled from. One name, everywhere a leaderboard shows it: **AP** (``ap@T``,
header ``AP@T``) is the results table's ``accuracy`` at threshold ``T``, as
Cellpose and the 2018 Data Science Bowl call it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Iterable

from .errors import did_you_mean

__all__ = [
    "CELLS_DIR",
    "ERROR_COLUMNS",
    "METRICS",
    "PLOTS_DIR",
    "POOL_COLUMNS",
    "PREDICTIONS_DIR",
    "PREDICTION_INDEX",
    "PREDICTION_INDEX_COLUMNS",
    "PREDICTION_FILE",
    "PROVENANCE_COLUMNS",
    "REPORT_FILE",
    "RESULTS_CSV",
    "RESULTS_FILE",
    "RUN_RECORD",
    "RUN_HISTORY",
    "LOGS_DIR",
    "LIBRARY_LOG",
    "LOCK_FILE",
    "OUTPUT_MARKER",
    "SUITE_FIELDS",
    "SUITE_RECORD",
    "SUMMARY_COLUMNS",
    "Col",
    "LeaderboardMetric",
    "RankKey",
    "format_threshold",
    "metric_key",
    "parse_metric_key",
    "file_stem",
    "prediction_relpath",
    "slug",
    "variant_folder",
]

# ---------------------------------------------------------------------------
# files in a suite's output folder

RESULTS_FILE = "results.parquet"
RESULTS_CSV = "results.csv"
SUITE_RECORD = "suite.json"
RUN_RECORD = "run.json"
#: what libraries print during a run (TensorFlow start-up lines, warnings), kept out of the terminal
LOGS_DIR = "logs"
LIBRARY_LOG = "libraries.log"
#: one JSON line per run of the suite (run.json holds only the latest)
RUN_HISTORY = "run-history.jsonl"
#: held by a running `segbench run`, so two runs never write one output folder
LOCK_FILE = ".segbench.lock"
#: left in every output folder segbench created or took over while it was empty;
#: segbench writes into no other existing folder
OUTPUT_MARKER = ".segbench-output"
CELLS_DIR = "cells"
PREDICTIONS_DIR = "predictions"
#: the index of the kept label images, in PREDICTIONS_DIR (rewritten with results.parquet)
PREDICTION_INDEX = "index.csv"
PLOTS_DIR = "plots"
REPORT_FILE = "report.html"

#: keys of suite.json: name, path, seed, iou_thresholds, criterion, rank_by, and
#: ``datasets``: a list of {"name", "folder", "reference"} (folder as read; the
#: report shows images from it and the agreement table uses ``reference``)
SUITE_FIELDS = ("name", "path", "seed", "iou_thresholds", "criterion", "rank_by", "datasets")


class Col:
    """Column names of the results table."""

    # identity of a row
    DATASET = "dataset"
    IMAGE = "image"
    SEGMENTER = "segmenter"  # the suite entry's label
    SEGMENTER_NAME = "segmenter_name"  # the registered plugin name
    VARIANT = "variant"  # label plus every set or swept parameter
    CONFIG_ID = "config_id"
    PARAMS = "params"  # JSON: constructor and post-processing params of the variant
    TRAIN_SETTINGS = "train_settings"  # JSON, "" without training
    TRAIN_DATASET = "train_dataset"  # the dataset whose train split trained the model; "" untrained
    CELL_KEY = "cell_key"
    #: predicted label image, relative to the output folder; "" when not kept
    PREDICTION_PATH = "prediction_path"
    # per threshold (names of segbench.metrics.ROW_KEYS)
    THRESHOLD = "threshold"
    CRITERION = "criterion"
    TP, FP, FN = "tp", "fp", "fn"
    N_TRUE, N_PRED = "n_true", "n_pred"
    SUM_MATCHED_SCORE = "sum_matched_score"
    PRECISION, RECALL, F1 = "precision", "recall", "f1"
    ACCURACY = "accuracy"
    MEAN_MATCHED_IOU = "mean_matched_iou"
    PANOPTIC_QUALITY = "panoptic_quality"
    # per image (the same on every threshold row of the image)
    SEG, SEG_SUM, SEG_N = "seg", "seg_sum", "seg_n"
    AJI, AJI_INTERSECTION, AJI_UNION = "aji", "aji_intersection", "aji_union"
    DSB = "dsb_mean_accuracy"
    # how it fails, per image (segbench.metrics.errors): true objects found, merged,
    # split, missed (adding up to n_true), and spurious predictions
    N_FOUND, N_MERGED, N_SPLIT, N_MISSED = "n_found", "n_merged", "n_split", "n_missed"
    N_SPURIOUS = "n_spurious"
    # timings and provenance
    PREDICT_SECONDS = "predict_seconds"
    POSTPROCESS_SECONDS = "postprocess_seconds"
    TRAIN_SECONDS = "train_seconds"
    DESCRIBE = "describe"
    HOST = "host"
    SUITE = "suite"
    SEED = "seed"
    SEGBENCH_VERSION = "segbench_version"
    PLUGIN_DISTRIBUTION = "plugin_distribution"
    PLUGIN_VERSION = "plugin_version"


#: the per-image count columns that pooling sums (segbench.metrics.pool)
POOL_COLUMNS = (Col.THRESHOLD, Col.CRITERION, Col.TP, Col.N_TRUE, Col.N_PRED, Col.SUM_MATCHED_SCORE)
#: the per-image parts of the dataset-level scores (segbench.metrics.summarize)
SUMMARY_COLUMNS = (Col.SEG_SUM, Col.SEG_N, Col.AJI_INTERSECTION, Col.AJI_UNION, Col.DSB)
#: the per-image error counts (segbench.metrics.ERROR_KEYS); absent (NaN) from cells scored before they existed
ERROR_COLUMNS = (Col.N_FOUND, Col.N_MERGED, Col.N_SPLIT, Col.N_MISSED, Col.N_SPURIOUS)
#: the index's column naming a label image's file, relative to PREDICTIONS_DIR
PREDICTION_FILE = "file"
#: columns of PREDICTIONS_DIR/PREDICTION_INDEX, one row per kept label image
#: (every results row with a ``prediction_path``, one row per image and variant)
PREDICTION_INDEX_COLUMNS = (Col.DATASET, Col.IMAGE, Col.SEGMENTER, Col.VARIANT, Col.PARAMS, PREDICTION_FILE)
#: provenance columns shown at the end of the HTML report
PROVENANCE_COLUMNS = (
    Col.SEGMENTER, Col.VARIANT, Col.PLUGIN_DISTRIBUTION, Col.PLUGIN_VERSION, Col.SEGBENCH_VERSION,
    Col.PARAMS, Col.TRAIN_SETTINGS, Col.SEED, Col.HOST, Col.DESCRIBE,
)

# ---------------------------------------------------------------------------
# metric keys of leaderboards


@dataclass(frozen=True)
class LeaderboardMetric:
    """A leaderboard metric: its key stem, header stem, the results column it is
    pooled from, and whether it is taken at a threshold."""

    name: str
    header: str
    column: str
    at_threshold: bool
    description: str


METRICS: dict[str, LeaderboardMetric] = {
    m.name: m
    for m in (
        LeaderboardMetric("f1", "F1", Col.F1, True, "2TP / (2TP + FP + FN), counts pooled over the images"),
        LeaderboardMetric("ap", "AP", Col.ACCURACY, True, "TP / (TP + FP + FN) (Cellpose's and the DSB's average precision)"),
        LeaderboardMetric("precision", "precision", Col.PRECISION, True, "TP / (TP + FP)"),
        LeaderboardMetric("recall", "recall", Col.RECALL, True, "TP / (TP + FN)"),
        LeaderboardMetric("pq", "PQ", Col.PANOPTIC_QUALITY, True, "panoptic quality"),
        LeaderboardMetric("miou", "mIoU", Col.MEAN_MATCHED_IOU, True, "mean score of the matched pairs"),
        LeaderboardMetric("dsb", "DSB AP", Col.DSB, False, "mean over images of AP averaged over IoU 0.50:0.05:0.95"),
        LeaderboardMetric("seg", "SEG", Col.SEG, False, "Cell Tracking Challenge SEG"),
        LeaderboardMetric("aji", "AJI", Col.AJI, False, "Aggregated Jaccard Index"),
    )
}

#: other spellings accepted by --rank-by and suites (results-table names included)
ALIASES = {
    "accuracy": "ap",
    "panoptic_quality": "pq",
    "mean_matched_iou": "miou",
    "dsb_mean_accuracy": "dsb",
}


def format_threshold(threshold: float) -> str:
    """``0.5 -> "0.5"``, ``0.75 -> "0.75"``: the threshold as keys show it."""
    return f"{round(float(threshold), 6):g}"


def metric_key(name: str, threshold: float | None = None) -> str:
    """The key of a metric (``metric_key("ap", 0.75) == "ap@0.75"``)."""
    return name if threshold is None else f"{name}@{format_threshold(threshold)}"


@dataclass(frozen=True)
class RankKey:
    """A parsed metric key: ``metric`` (a :data:`METRICS` entry) at ``threshold``."""

    metric: LeaderboardMetric
    threshold: float | None

    @property
    def key(self) -> str:
        return metric_key(self.metric.name, self.threshold)

    @property
    def header(self) -> str:
        if self.threshold is None:
            return self.metric.header
        return f"{self.metric.header}@{format_threshold(self.threshold)}"


def parse_metric_key(key: str, thresholds: Iterable[float] | None = None) -> RankKey:
    """Parse ``METRIC@THRESHOLD`` (``f1@0.6``, ``AP@0.75``) or a summary metric
    (``seg``, ``aji``, ``dsb``).

    Parameters
    ----------
    key : str
        Case-insensitive; results-table names (``accuracy@0.5``,
        ``dsb_mean_accuracy``) are accepted too.
    thresholds : iterable of float, optional
        The thresholds stored in the results; a key at any other threshold is
        refused. None accepts any threshold in (0, 1].

    Raises
    ------
    ValueError
        One line naming the accepted forms (and the stored thresholds).

    Examples
    --------
    >>> parse_metric_key("AP@0.75", [0.5, 0.75]).key
    'ap@0.75'
    >>> parse_metric_key("dsb_mean_accuracy").key
    'dsb'
    """
    name, sep, at = key.strip().lower().partition("@")
    name = ALIASES.get(name.strip(), name.strip())
    metric = METRICS.get(name)
    if metric is None:
        hint = did_you_mean(name, [*METRICS, *ALIASES])
        raise ValueError(
            f"cannot rank by {key!r}: unknown metric {name!r}{hint}; use METRIC@THRESHOLD with METRIC in "
            f"{', '.join(m for m, v in METRICS.items() if v.at_threshold)} (e.g. f1@0.5), or one of "
            f"{', '.join(m for m, v in METRICS.items() if not v.at_threshold)}"
        )
    if not metric.at_threshold:
        if sep:
            raise ValueError(f"cannot rank by {key!r}: {metric.name} has no threshold; use {metric.name!r}")
        return RankKey(metric, None)
    if not sep:
        raise ValueError(f"cannot rank by {key!r}: {metric.name} needs a threshold, e.g. {metric.name}@0.5")
    try:
        threshold = float(at)
    except ValueError:
        raise ValueError(f"cannot rank by {key!r}: {at!r} is not a number") from None
    if not 0 < threshold <= 1:
        raise ValueError(f"cannot rank by {key!r}: the threshold must be in (0, 1]")
    if thresholds is not None:
        stored = sorted({round(float(t), 6) for t in thresholds})
        found = [t for t in stored if math.isclose(t, threshold, abs_tol=1e-6)]
        if not found:
            raise ValueError(
                f"cannot rank by {key!r}: the results have no scores at {threshold:g}; stored thresholds: "
                f"{', '.join(format_threshold(t) for t in stored)}"
            )
        threshold = found[0]
    return RankKey(metric, round(threshold, 6))


def prediction_relpath(dataset: str, image: str, variant: str, config_id: str, variant_id: str) -> str:
    """Where a predicted label image is kept, relative to the output folder:
    ``predictions/<file_stem(dataset)>/<variant_folder(...)>/<file_stem(image)>.tif``
    (the value of the ``prediction_path`` column).

    Examples
    --------
    >>> prediction_relpath("nuclei", "img0001", "cellpose cellprob_threshold=0", "0123456789ab", "cdef0123")
    'predictions/nuclei/cellpose_cellprob_threshold_0+0123456789ab-cdef0123/img0001.tif'
    """
    folder = variant_folder(variant, config_id, variant_id)
    return f"{PREDICTIONS_DIR}/{file_stem(dataset)}/{folder}/{file_stem(image)}.tif"


#: the longest readable part of a variant's folder name, in UTF-8 bytes
MAX_VARIANT_SLUG_BYTES = 80


def variant_folder(variant: str, config_id: str, variant_id: str) -> str:
    """The folder of one variant's label images: a readable slug of its label
    (``variant``, shortened to :data:`MAX_VARIANT_SLUG_BYTES`), ``+``, then the
    ids that make it one-to-one: ``config_id`` (the model) and ``variant_id``
    (its post-processing values, e.g. a short hash of them). Labels that slug
    alike, or are cut alike, still differ in their ids.

    Examples
    --------
    >>> variant_folder("stardist prob_thresh=0.5", "0123456789ab", "cdef0123")
    'stardist_prob_thresh_0.5+0123456789ab-cdef0123'
    """
    readable = _cut(slug(variant).lstrip("."), MAX_VARIANT_SLUG_BYTES)
    return f"{readable}+{slug(config_id)}-{slug(variant_id)}"


#: the longest file-name stem :func:`file_stem` gives, in UTF-8 bytes (file systems
#: allow 255 per name; the rest is left for an extension and a temporary file's suffix)
MAX_STEM_BYTES = 120


def file_stem(name: str) -> str:
    """``name`` as a file-name stem, one name to one stem.

    A name that is its own :func:`slug`, does not start with a dot (a hidden
    file) and is at most :data:`MAX_STEM_BYTES` long is kept as it is
    (``img0001``); any other gets its slug, shortened, then
    ``+`` and a short hash of the exact name. A slug never holds ``+``, so the
    two kinds never meet, and names that slug alike (``a b``, ``a+b``, ``a_b``)
    differ in their hash.

    Examples
    --------
    >>> file_stem("img0001")
    'img0001'
    >>> file_stem("a b") != file_stem("a_b") != file_stem("a+b")
    True
    >>> len(file_stem("x" * 240).encode()) <= MAX_STEM_BYTES
    True
    """
    plain = slug(name)
    if plain == name and name[:1] not in ("", ".") and len(plain.encode()) <= MAX_STEM_BYTES:
        return plain
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{_cut(plain, MAX_STEM_BYTES - len(digest) - 1)}+{digest}"


def _cut(text: str, max_bytes: int) -> str:
    """``text`` shortened to at most ``max_bytes`` UTF-8 bytes, never inside a character."""
    return text.encode()[:max_bytes].decode("utf-8", "ignore")


def slug(text: str) -> str:
    """``text`` as a file-name part: letters, digits, ``-_.`` kept, anything else ``_``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text))
