"""``segbench report``: leaderboards from a results folder."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from ..errors import SegbenchError

FORMATS = ("table", "markdown", "csv", "json")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="show the leaderboard of a results folder",
        description="Rank the segmenters of a finished (or partly finished) run. One leaderboard "
        "per dataset: F1@0.5 with a 95%% bootstrap interval over images, AP (= TP/(TP+FP+FN)) at "
        "each suite threshold, DSB mean AP over IoU 0.50:0.05:0.95, PQ, SEG, seconds per image "
        "and training time.",
        epilog="examples:\n  segbench report results/fluorescent\n"
        "  segbench report results/fluorescent --format markdown > leaderboard.md\n"
        "  segbench report results/fluorescent --rank-by ap@0.75 --plots",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("results", metavar="RESULTS_DIR", help="a suite's output folder (holds results.parquet)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--rank-by", metavar="KEY", help="override the suite's rank_by, e.g. f1@0.5, ap@0.75, seg, dsb")
    parser.add_argument("--plots", action="store_true", help="also write F1/AP-vs-IoU plots to RESULTS_DIR/plots")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..report import build_leaderboards, load_results

    err = Console(stderr=True, soft_wrap=True, highlight=False)
    try:
        results, suite = load_results(args.results)
        rank_by = args.rank_by or suite["rank_by"]
        boards = build_leaderboards(results, rank_by, tuple(suite["iou_thresholds"]))
    except (SegbenchError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        return 2
    print_boards(boards, args.format)
    if args.plots:
        from ..report.plots import plot_threshold_curves

        paths = plot_threshold_curves(results, boards, f"{args.results}/plots")
        err.print("plots: " + (", ".join(map(str, paths)) or "none (install matplotlib: pip install 'segbench[plots]')"))
    return 0


def table_console() -> Console:
    """stdout console for tables; when piped or logged, wide enough that no column
    is squeezed or truncated."""
    console = Console()
    return console if console.is_terminal else Console(width=220)


def print_boards(boards, fmt: str) -> None:
    from ..report import render

    if fmt == "table":
        console = table_console()
        for table in render.rich_tables(boards):
            console.print(table)
    elif fmt == "markdown":
        sys.stdout.write(render.to_markdown(boards))
    elif fmt == "csv":
        sys.stdout.write(render.to_csv(boards))
    else:
        sys.stdout.write(render.to_json(boards) + "\n")
