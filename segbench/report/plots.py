"""Plots of a results table (matplotlib, optional: ``pip install 'segbench[plots]'``).

Every plot colours a segmenter variant the same way (:func:`variant_colours`),
so a curve, a box and a legend entry can be matched across datasets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..results import Col, parse_metric_key
from .cache import PLOTS_KEY, content_key, read_text_key, write_text_key
from ..leaderboard import Leaderboard, bootstrap_ci, pooled_by_threshold, stored_thresholds

__all__ = [
    "distribution_figure",
    "per_image_values",
    "plot_threshold_curves",
    "threshold_figure",
    "variant_colours",
]

#: bootstrap resamples per point of a confidence band
BAND_BOOT = 300


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _horizontal() -> dict:
    """boxplot's keyword for horizontal boxes (``orientation`` since matplotlib 3.10)."""
    import matplotlib

    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def variant_colours(results: pd.DataFrame) -> dict[str, tuple]:
    """One RGBA colour per variant of the whole table (tab10, then tab20 for
    more than 10 variants), assigned in sorted order so it is stable."""
    plt = _pyplot()
    variants = sorted(results[Col.VARIANT].unique())
    cmap = plt.get_cmap("tab10" if len(variants) <= 10 else "tab20")
    return {v: cmap(i % cmap.N) for i, v in enumerate(variants)}


def threshold_figure(results: pd.DataFrame, board: Leaderboard, colours: dict[str, tuple]):
    """F1 and AP (pooled) against the IoU threshold, every stored threshold,
    one curve per variant with its 95% bootstrap band over images."""
    plt = _pyplot()
    frame = results[results[Col.DATASET] == board.dataset]
    thresholds = stored_thresholds(frame)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharex=True, sharey=True)
    for row in board.rows:
        variant = frame[frame[Col.VARIANT] == row["variant"]]
        pooled = pooled_by_threshold(variant)
        colour = colours[row["variant"]]
        for ax, name in zip(axes, ("f1", "ap")):
            metric = parse_metric_key(f"{name}@0.5").metric
            values = [p[metric.column] for p in pooled]
            bands = np.array([
                bootstrap_ci(variant[np.isclose(variant[Col.THRESHOLD], t)], parse_metric_key(f"{name}@{t}"), BAND_BOOT)
                for t in thresholds
            ])
            ax.fill_between(thresholds, bands[:, 0], bands[:, 1], color=colour, alpha=0.18, lw=0)
            ax.plot([p[Col.THRESHOLD] for p in pooled], values, marker="o", ms=2.5, color=colour, label=row["label"])
    axes[0].set(xlabel="IoU threshold", ylabel="F1 (pooled)", title=f"{board.dataset}: F1", ylim=(0, 1.02))
    axes[1].set(xlabel="IoU threshold", ylabel="AP = TP/(TP+FP+FN)", title=f"{board.dataset}: AP")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def per_image_values(frame: pd.DataFrame, key: str) -> pd.Series:
    """Per-image values of a metric key for one variant's rows, indexed by image:
    the per-image score at the key's threshold, or the per-image summary score."""
    parsed = parse_metric_key(key)
    if parsed.threshold is not None:
        frame = frame[np.isclose(frame[Col.THRESHOLD], parsed.threshold)]
    frame = frame.drop_duplicates(Col.IMAGE)
    return pd.Series(frame[parsed.metric.column].to_numpy(float), index=frame[Col.IMAGE].to_numpy())


def distribution_figure(results: pd.DataFrame, board: Leaderboard, colours: dict[str, tuple]):
    """Per-image scores of the rank metric: a box and the points of every image,
    one row per variant in rank order."""
    plt = _pyplot()
    frame = results[results[Col.DATASET] == board.dataset]
    key = board.rank_by.key
    rows = board.rows
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.2))
    rng = np.random.default_rng(0)
    horizontal = _horizontal()
    for y, row in enumerate(rows):
        values = per_image_values(frame[frame[Col.VARIANT] == row["variant"]], key).dropna().to_numpy()
        if not len(values):
            continue
        colour = colours[row["variant"]]
        ax.boxplot(values, positions=[y], widths=0.55, showfliers=False, **horizontal,
                   medianprops={"color": colour, "lw": 2}, boxprops={"color": colour},
                   whiskerprops={"color": colour}, capprops={"color": colour})
        ax.scatter(values, y + rng.uniform(-0.18, 0.18, len(values)), s=9, color=colour, alpha=0.8, zorder=3)
    ax.set_yticks(range(len(rows)), [r["label"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel=f"{board.rank_by.header} per image", title=f"{board.dataset}: per-image {board.rank_by.header}")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_threshold_curves(results: pd.DataFrame, boards: list[Leaderboard], out_dir: str | Path) -> list[Path]:
    """Write :func:`threshold_figure` of every dataset as
    ``OUT_DIR/<dataset>_vs_iou.png``.

    Returns the PNG paths (written, or left as they were when the same
    results drew them: :mod:`segbench.report.cache`); an empty list when
    matplotlib is missing.
    """
    try:
        plt = _pyplot()
    except ImportError:
        return []
    out_dir = Path(out_dir)
    paths = [out_dir / f"{board.dataset}_vs_iou.png" for board in boards]
    key = content_key(results, plots=[(b.dataset, b.rank_by.key, list(b.thresholds)) for b in boards])
    if all(p.is_file() for p in paths) and read_text_key(out_dir / PLOTS_KEY) == key:
        return paths  # the same results draw the same plots
    out_dir.mkdir(parents=True, exist_ok=True)
    colours = variant_colours(results)
    for board, path in zip(boards, paths):
        fig = threshold_figure(results, board, colours)
        fig.savefig(path, dpi=110)
        plt.close(fig)
    write_text_key(out_dir / PLOTS_KEY, key)
    return paths

