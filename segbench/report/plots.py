"""Plots of a results table (matplotlib, optional: ``pip install 'segbench[plots]'``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .leaderboard import Leaderboard, pooled_by_threshold

__all__ = ["plot_threshold_curves"]

MAX_CURVES = 8


def plot_threshold_curves(results: pd.DataFrame, boards: list[Leaderboard], out_dir: str | Path) -> list[Path]:
    """F1 and accuracy (AP) against the IoU threshold, one figure per dataset,
    one curve per variant (the ``MAX_CURVES`` best ranked).

    Returns the PNG paths written; an empty list when matplotlib is missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for board in boards:
        frame = results[results["dataset"] == board.dataset]
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True, sharey=True)
        for row in board.rows[:MAX_CURVES]:
            variant = frame[frame["variant"] == row["variant"]]
            pooled = pooled_by_threshold(variant)
            ts = [p["threshold"] for p in pooled]
            axes[0].plot(ts, [p["f1"] for p in pooled], marker="o", ms=3, label=row["variant"])
            axes[1].plot(ts, [p["accuracy"] for p in pooled], marker="o", ms=3, label=row["variant"])
        axes[0].set(xlabel="IoU threshold", ylabel="F1 (pooled)", title=f"{board.dataset}: F1", ylim=(0, 1.02))
        axes[1].set(xlabel="IoU threshold", ylabel="accuracy = TP/(TP+FP+FN)", title=f"{board.dataset}: AP")
        for ax in axes:
            ax.grid(alpha=0.3)
        axes[1].legend(fontsize=7, loc="lower left")
        fig.tight_layout()
        path = out_dir / f"{board.dataset}_vs_iou.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
