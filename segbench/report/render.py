"""Render leaderboards as rich tables, Markdown, CSV or JSON."""

from __future__ import annotations

import io
import json
import math
from typing import Any, Sequence

from rich.table import Table

from .leaderboard import Leaderboard

__all__ = ["format_value", "rich_tables", "to_markdown", "to_csv", "to_json"]


def format_value(key: str, value: Any) -> str:
    """Human formatting: scores to 3 decimals, CIs as [lo, hi], seconds to 2 s.f."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if key.endswith("_ci"):
        lo, hi = value
        return f"[{lo:.3f}, {hi:.3f}]"
    if key in ("seconds_per_image", "train_seconds"):
        return f"{value:.3g}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def rich_tables(boards: Sequence[Leaderboard]) -> list[Table]:
    tables = []
    for board in boards:
        table = Table(title=f"{board.dataset}  (ranked by {board.rank_by})", title_justify="left")
        for key, header in board.columns():
            table.add_column(header, justify="left" if key == "variant" else "right", no_wrap=key != "variant")
        for row in board.rows:
            cells = [format_value(key, row.get(key)) for key, _ in board.columns()]
            style = "bold green" if row["rank"] == 1 else None
            table.add_row(*cells, style=style)
        tables.append(table)
    return tables


def to_markdown(boards: Sequence[Leaderboard]) -> str:
    out = []
    for board in boards:
        cols = board.columns()
        out.append(f"### {board.dataset} (ranked by {board.rank_by})\n")
        out.append("| " + " | ".join(h for _, h in cols) + " |")
        out.append("|" + "|".join("---" if k == "variant" else "---:" for k, _ in cols) + "|")
        for row in board.rows:
            out.append("| " + " | ".join(format_value(k, row.get(k)) for k, _ in cols) + " |")
        out.append("")
    return "\n".join(out) + "\n"


def to_csv(boards: Sequence[Leaderboard]) -> str:
    import csv

    buffer = io.StringIO()
    writer = None
    for board in boards:
        for record in board.as_records():
            record = {"dataset": board.dataset, **record}
            if isinstance(record.get("f1@0.5_ci"), (tuple, list)):
                lo, hi = record.pop("f1@0.5_ci")
                record["f1@0.5_ci_low"], record["f1@0.5_ci_high"] = lo, hi
            if writer is None:
                writer = csv.DictWriter(buffer, fieldnames=list(record))
                writer.writeheader()
            writer.writerow(record)
    return buffer.getvalue()


def to_json(boards: Sequence[Leaderboard]) -> str:
    """Strict JSON: NaN (a score with nothing to score) becomes null."""
    payload = [
        {"dataset": b.dataset, "rank_by": b.rank_by, "thresholds": list(b.thresholds), "rows": b.as_records()}
        for b in boards
    ]
    return json.dumps(_strict(payload), indent=2, allow_nan=False)


def _strict(value):
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
