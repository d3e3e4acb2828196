"""Render leaderboards as rich tables, Markdown, CSV or JSON."""

from __future__ import annotations

import io
import math
from typing import Any, Sequence

from rich import box
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ..io import plain, strict_json
from ..leaderboard import ERROR_FRACTIONS, Leaderboard

__all__ = ["TIE_MARK", "cell", "format_value", "rich_tables", "to_markdown", "to_csv", "to_json"]


def format_value(key: str, value: Any) -> str:
    """Human formatting: scores to 3 decimals, intervals as [lo, hi], rank
    intervals as ``lo-hi`` (one number when they agree), seconds to 3 s.f.
    (whole seconds from 100 s), error fractions as percentages to 1 decimal."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if key == "ci":
        lo, hi = value
        if math.isnan(lo):
            return "-"
        return f"[{lo:.3f}, {hi:.3f}]"
    if key == "rank_ci":
        lo, hi = value
        return "-" if lo == 0 else str(lo) if lo == hi else f"{lo}-{hi}"
    if key in ERROR_FRACTIONS:
        return f"{100 * value:.1f}"
    if key in ("seconds_per_image", "train_seconds"):
        return f"{value:.0f}" if value >= 100 else f"{value:.3g}"  # plain seconds, never 1.04e+03
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def cell(board: Leaderboard, row: dict, key: str) -> str:
    """One table cell; a rank that tied on the rank metric is marked ``=``."""
    if key == "rank":
        return f"{row['rank']}{TIE_MARK if row['tie'] else ''}"
    return format_value(key, row.get(key))


#: appended to the rank of rows that tied on the rank metric (see the notes under the table)
TIE_MARK = "="
#: columns always shown, however narrow the terminal: rank, segmenter, rank metric, its interval, rank interval
ALWAYS_SHOWN = 5


def rich_tables(boards: Sequence[Leaderboard], width: int | None = None, wide: bool = False) -> list[RenderableType]:
    """One table per dataset (with its notes) that fits ``width`` columns.

    Columns are dropped from the right of the wide table's order (the error
    fractions, images, train s, s/image, SEG, PQ, DSB AP, AP@...) until the table fits; the
    segmenter column wraps if it still must. ``wide=True`` keeps every column.
    When every row was scored on the same number of images, the title says it
    and the images column is left out.
    """
    out: list[RenderableType] = []
    for board in boards:
        columns = board.columns()
        if _shared_image_count(board) is not None:  # every row scored on the same images: said in the title
            columns = [c for c in columns if c[0] != "n_images"]
        shown = len(columns)
        if not wide and width is not None:
            while shown > ALWAYS_SHOWN and _natural_width(board, columns[:shown]) > width:
                shown -= 1
        table = _table(board, columns[:shown])
        notes = board.tie_notes(hidden={k for k, _ in columns[shown:]}) + board.uncertainty_notes()
        hidden = [h for _, h in columns[shown:]]
        if hidden:
            notes.append(f"{len(hidden)} more column(s) ({', '.join(hidden)}): --wide, or the HTML report")
        out.append(table)
        if notes:
            out.append(Text("\n".join(notes), style="dim"))
    return out


def _shared_image_count(board: Leaderboard) -> int | None:
    """The number of images every row was scored on, or None when rows differ."""
    counts = {row.get("n_images") for row in board.rows}
    return counts.pop() if len(counts) == 1 else None


def _table(board: Leaderboard, columns: list[tuple[str, str]]) -> Table:
    shared = _shared_image_count(board)
    count = f", {shared} images" if shared is not None and all(k != "n_images" for k, _ in columns) else ""
    table = Table(
        title=f"{board.dataset}  (ranked by {board.rank_by.header}{count})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for key, header in columns:
        if key == "label":
            table.add_column(header, justify="left", overflow="fold", min_width=12)
        else:
            table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    for row in board.rows:
        style = "bold green" if row["rank"] == 1 else None
        table.add_row(*(cell(board, row, key) for key, _ in columns), style=style)
    return table


def _natural_width(board: Leaderboard, columns: list[tuple[str, str]]) -> int:
    """Width of the table with no cell wrapped."""
    console = Console(width=10_000)
    return Measurement.get(console, console.options, _table(board, columns)).maximum


def to_markdown(boards: Sequence[Leaderboard]) -> str:
    """GitHub Markdown, every column; tie notes under each table."""
    out = []
    for board in boards:
        cols = board.columns()
        out.append(f"### {board.dataset} (ranked by {board.rank_by.header})\n")
        out.append("| " + " | ".join(h for _, h in cols) + " |")
        out.append("|" + "|".join("---" if k == "label" else "---:" for k, _ in cols) + "|")
        for row in board.rows:
            out.append("| " + " | ".join(cell(board, row, k) for k, _ in cols) + " |")
        notes = board.tie_notes() + board.uncertainty_notes()
        if notes:
            out.append("")
            out.extend(f"{note}  " for note in notes)
        out.append("")
    return "\n".join(out) + "\n"


def to_csv(boards: Sequence[Leaderboard]) -> str:
    """One CSV row per leaderboard row, ``dataset`` first; keys as in --rank-by."""
    import csv

    records = [{"dataset": board.dataset, **record} for board in boards for record in board.as_records()]
    if not records:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(k for r in records for k in r)))
    writer.writeheader()
    writer.writerows(plain(records))
    return buffer.getvalue()


def to_json(boards: Sequence[Leaderboard]) -> str:
    """Strict JSON: NaN (a score with nothing to score) becomes null."""
    payload = [
        {
            "dataset": b.dataset,
            "rank_by": b.rank_by.key,
            "thresholds": list(b.thresholds),
            "rows": b.as_records(),
            "ties": [{"first": t.first, "last": t.last, "value": t.value, "ordered_by": list(t.by)} for t in b.ties],
        }
        for b in boards
    ]
    return strict_json(payload)
