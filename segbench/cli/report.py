"""``segbench report``: leaderboards and the HTML report of a results folder."""

from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console

from ..errors import SegbenchError
from ..results import PLOTS_DIR, REPORT_FILE
from . import shown

FORMATS = ("table", "markdown", "csv", "json")

DESCRIPTION = """\
Rank the segmenters of a finished (or partly finished) run. One leaderboard per
dataset: the ranking metric with a 95% bootstrap interval over images, AP
(= TP/(TP+FP+FN)) at each suite threshold, DSB AP (mean AP over IoU
0.50:0.05:0.95), PQ, SEG, seconds per image, training time, and how each
variant fails: the % of true objects merged, split and missed, and of
predictions spurious. Rows that tie on the ranking metric (3 decimals) are
ordered by the next column and marked =.

In a terminal (or with COLUMNS=N) the table keeps the columns that fit its
width (--wide shows them all); piped, or with --format, every column is written.

Metric keys (--rank-by, CSV columns, JSON fields): METRIC@THRESHOLD with METRIC
one of f1, ap, precision, recall, pq, miou, at any threshold stored in the
results (the suite's, and 0.5:0.05:0.95), or dsb, seg, aji.

--html writes one self-contained file: sortable leaderboards, F1/AP-vs-IoU
plots with bootstrap bands, per-image scores, overlays of the best, median and
worst image of each variant (TP/FP/FN coloured, splits and merges marked), and
provenance. See docs/report.md."""

EPILOG = f"""\
examples:
  segbench report results/fluorescent
  segbench report results/fluorescent --rank-by ap@0.75 --wide
  segbench report results/fluorescent --format markdown > leaderboard.md
  segbench report results/fluorescent --html                 writes results/fluorescent/{REPORT_FILE}
  segbench report results/fluorescent --html report.html --image img0003
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="show the leaderboard of a results folder, or write its HTML report",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("results", metavar="RESULTS_DIR", help="a suite's output folder (holds results.parquet)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--rank-by", metavar="KEY", help="override the suite's rank_by, e.g. f1@0.6, ap@0.75, seg, dsb")
    parser.add_argument("--wide", action="store_true", help="show every column, however wide the terminal")
    parser.add_argument(
        "--html", nargs="?", const="", metavar="FILE",
        help=f"write the self-contained HTML report (default FILE: RESULTS_DIR/{REPORT_FILE})",
    )
    parser.add_argument(
        "--image", action="append", default=[], metavar="NAME",
        help="add this image to every segmenter's overlay gallery in the HTML report (repeatable)",
    )
    parser.add_argument("--plots", action="store_true",
                        help=f"also write F1/AP-vs-IoU plots to RESULTS_DIR/{PLOTS_DIR}")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..leaderboard import build_leaderboards
    from ..report import load_results

    err = Console(stderr=True, soft_wrap=True, highlight=False)
    try:
        results, suite = load_results(args.results)
        rank_by = args.rank_by or suite["rank_by"]
        boards = build_leaderboards(results, rank_by, tuple(suite["iou_thresholds"]))
    except (SegbenchError, ValueError) as exc:
        err.print(f"[red]error:[/] {shown(exc)}", highlight=False)
        return 2
    print_boards(boards, args.format, wide=args.wide)
    print_agreement(results, suite, boards[0].rank_by.key if boards else rank_by, args.format)
    if args.plots:
        from ..report.plots import plot_threshold_curves

        paths = plot_threshold_curves(results, boards, f"{args.results}/{PLOTS_DIR}")
        err.print("plots: " + (", ".join(map(str, paths)) or "none (install matplotlib: pip install 'segbench[plots]')"))
    if args.html is not None:
        from ..report.html import write_html_report

        path = write_html_report(args.results, args.html or None, rank_by=rank_by, images=args.image,
                                 results=results, suite=suite)
        err.print(f"HTML report: {path}")
    return 0


#: console width for --wide (and for output that is not a terminal): no column squeezed
WIDE_CONSOLE = 1000


def table_console() -> Console:
    """stdout console for tables; when piped or logged, wide enough that no column
    is squeezed or truncated (unless COLUMNS is set: then that wide)."""
    console = Console()
    return console if console.is_terminal or os.environ.get("COLUMNS", "").isdigit() else Console(width=WIDE_CONSOLE)


def print_agreement(results, suite: dict, rank_key: str, fmt: str) -> None:
    """After the leaderboards (table or markdown): how each dataset's ranking
    agrees with every dataset the suite marks ``reference: true``."""
    from ..agreement import agreement
    from ..report.agreement_render import rich_tables, to_markdown

    if fmt not in ("table", "markdown"):
        return
    for reference in [d["name"] for d in suite.get("datasets", []) if d.get("reference")]:
        try:
            stats = agreement(results, metric=rank_key, reference=reference)
        except ValueError as exc:  # e.g. fewer than two shared variants: say so, the rest stands
            Console(stderr=True, highlight=False).print(f"agreement with {shown(reference)}: {shown(exc)}")
            continue
        if fmt == "markdown":
            sys.stdout.write(to_markdown(stats))
        else:
            console = table_console()
            for renderable in rich_tables(stats):
                console.print(renderable)


def print_boards(boards, fmt: str, wide: bool = False, console: Console | None = None) -> None:
    """Print leaderboards to stdout. A table fits the terminal's width unless
    ``wide`` or stdout is not a terminal (then every column is printed)."""
    from ..report import render

    if fmt == "table":
        if console is None:
            console = table_console()
            wide = wide or console.width == WIDE_CONSOLE
            if wide:
                console = Console(width=WIDE_CONSOLE, force_terminal=console.is_terminal)
        for renderable in render.rich_tables(boards, width=console.width, wide=wide):
            console.print(renderable)
    elif fmt == "markdown":
        sys.stdout.write(render.to_markdown(boards))
    elif fmt == "csv":
        sys.stdout.write(render.to_csv(boards))
    else:
        sys.stdout.write(render.to_json(boards) + "\n")
