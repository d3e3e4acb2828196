"""Render an :class:`~segbench.agreement.Agreement` as rich tables or Markdown."""

from __future__ import annotations

import math
from typing import Sequence

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from ..agreement import Agreement, TransferCell
from ..leaderboard import ERROR_FRACTIONS

__all__ = ["ERRORS_CAPTION", "ERRORS_TITLE", "error_cells", "error_pairs", "rich_tables", "to_markdown"]


#: how the ranks of the swaps are counted
SWAP_NOTE = (
    "ranks among the shared variants, scores compared at the 3 decimals the leaderboards show: "
    "tied variants share the best rank, marked = (the leaderboards order ties by further columns)"
)


def _stat(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def _ci(interval: tuple[float, float]) -> str:
    low, high = interval
    return "-" if math.isnan(low) else f"[{low:.2f}, {high:.2f}]"


def _score(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def _title(agreement: Agreement) -> str:
    what = "variants" if agreement.level == "variant" else "segmenters (best variant each)"
    return f"Rank agreement by {agreement.metric.header}, {what}"


def _caption(agreement: Agreement, of: str = "") -> str:
    return (
        f"tau-b: Kendall's tau-b; rho: Spearman's rho; 95% CI{of}: percentile bootstrap over "
        f"images ({agreement.n_boot} resamples, seed {agreement.seed}); ceiling: mean tau-b between "
        f"random halves of b's images (what b reaches with itself); winner: whether the best "
        f"{agreement.level} is the same on both"
    )


def _truth_title(agreement: Agreement) -> str:
    return f"Does a tell the truth about b? Decisive pairs and calibration, {agreement.metric.header}"


def _truth_caption(agreement: Agreement) -> str:
    return (
        "decisive: pairs whose paired-bootstrap 95% interval of the difference on b excludes 0; "
        "kept/rev(ersed): of those, ordered the same/other way on a; contra(dicted): decisive on a "
        "in the other direction; spur(ious): pairs tied on b that a calls decisive; calib(ration): "
        f"mean absolute {agreement.metric.header} difference over the shared variants"
    )


#: how the errors table reads
ERRORS_TITLE = "How a fails, against b (a / b, in %)"
ERRORS_CAPTION = (
    "the share of true objects merged (one prediction covers most of two or more), split (two or more "
    "predictions lie mostly inside it) and missed (no prediction covers most of it), and of predictions "
    "spurious (mostly on background), each the mean over the variants both datasets score; "
    "docs/metrics.md#how-a-prediction-fails"
)


def error_cells(p) -> tuple[str, ...]:
    """``a / b`` per kind, in percent to 1 decimal."""
    def percent(value):
        return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}"

    return tuple(f"{percent(p.errors_a.get(k))} / {percent(p.errors_b.get(k))}" for k in ERROR_FRACTIONS)


def error_pairs(agreement: Agreement) -> list:
    """The pairs whose datasets both have error counts for some shared variant."""
    return [p for p in agreement.pairs if p.error_variants]


def _of(part: int, whole: int) -> str:
    return f"{part}/{whole}"


def _truth_cells(p) -> tuple[str, ...]:
    """kept, reversed, contradicted, spurious, calibration as table cells."""
    return (
        _of(p.decisive_kept, p.decisive_reference),
        _of(p.decisive_reversed, p.decisive_reference),
        _of(p.decisive_contradicted, p.decisive_reference),
        _of(p.spurious, p.tied_reference),
        f"{_stat(p.calibration_mae)} {_ci(p.calibration_ci)}",
    )


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)


def rich_tables(agreement: Agreement) -> list[RenderableType]:
    """The decisive-pairs table, how each dataset fails against its reference
    (when the results hold error counts), the rank-correlation table, the
    largest rank swaps, the pairs not compared (a note) and the transfer matrix (when some model was tested off its training
    data); each fits 80 columns (long names wrap)."""
    out: list[RenderableType] = []
    if agreement.pairs:
        table = _table(_title(agreement))
        widest = max(len(name) for p in agreement.pairs for name in (p.a, p.b))
        table.add_column("a", overflow="fold", min_width=min(widest, 14))
        table.add_column("b", overflow="fold", min_width=min(widest, 14))
        for header in ("n", "tau-b", "95% CI", "ceiling"):
            table.add_column(header, justify="right", no_wrap=True)
        table.add_column("winner", no_wrap=True)
        for p in agreement.pairs:
            table.add_row(
                p.a, p.b, str(p.n), _stat(p.kendall_tau), _ci(p.kendall_ci), _stat(p.tau_ceiling),
                "same" if p.same_winner else "differs",
            )
        truth = _table(_truth_title(agreement))
        truth.add_column("a", overflow="fold", min_width=min(widest, 10))
        truth.add_column("b", overflow="fold", min_width=min(widest, 10))
        for header in ("kept", "rev.", "contra.", "spur.", "calib.", "95% CI"):
            truth.add_column(header, justify="right", no_wrap=True)
        for p in agreement.pairs:
            truth.add_row(p.a, p.b, *_truth_cells(p)[:4], _stat(p.calibration_mae), _ci(p.calibration_ci))
        out += [truth, Text(_truth_caption(agreement), style="dim")]
        if error_pairs(agreement):
            errors = _table(ERRORS_TITLE)
            errors.add_column("a", overflow="fold", min_width=min(widest, 10))
            errors.add_column("b", overflow="fold", min_width=min(widest, 10))
            for kind in ERROR_FRACTIONS:
                errors.add_column(kind, justify="right", no_wrap=True)
            for p in error_pairs(agreement):
                errors.add_row(p.a, p.b, *error_cells(p))
            out += [errors, Text(ERRORS_CAPTION, style="dim")]
        out += [table, Text(_caption(agreement, " of tau-b"), style="dim")]
        swaps = _table("Largest rank swaps (rank on a -> rank on b)")
        swaps.add_column("a vs b", overflow="fold", max_width=20)
        swaps.add_column("variant" if agreement.level == "variant" else "segmenter", overflow="fold")
        swaps.add_column("ranks", justify="right", no_wrap=True)
        for p in agreement.pairs:
            for i, s in enumerate(p.swaps):
                swaps.add_row(f"{p.a} vs {p.b}" if i == 0 else "", s.name, s.text())
        if swaps.row_count:
            out += [swaps, Text(SWAP_NOTE, style="dim")]
    if agreement.unpaired:
        out.append(Text("\n".join(_unpaired_lines(agreement)), style="dim"))
    if _has_transfer(agreement):
        out.append(_transfer_table(agreement))
    return out


def _unpaired_lines(agreement: Agreement) -> list[str]:
    return [f"not compared: {a} vs {b} share {n} variant(s) with a score; at least 2 are needed" for a, b, n in agreement.unpaired]


def _has_transfer(agreement: Agreement) -> bool:
    """True when some model was tested on a dataset other than its training
    data (without ``train_on`` the cells repeat the leaderboards)."""
    return any(c.train_dataset != c.test_dataset for c in agreement.transfer)


def _transfer_grid(cells: Sequence[TransferCell]) -> tuple[list[str], list[tuple[str, str]], dict]:
    tests = list(dict.fromkeys(c.test_dataset for c in cells))
    rows = list(dict.fromkeys((c.segmenter, c.train_dataset) for c in cells))
    values = {(c.segmenter, c.train_dataset, c.test_dataset): c.value for c in cells}
    return tests, rows, values


def _transfer_table(agreement: Agreement) -> Table:
    tests, rows, values = _transfer_grid(agreement.transfer)
    table = _table(f"Transfer: {agreement.metric.header} of each segmenter's best variant")
    table.caption = "rows: trained on; columns: tested on; bold: the same dataset"
    table.caption_justify = "left"
    table.add_column("segmenter", overflow="fold")
    table.add_column("trained on", overflow="fold")
    for test in tests:
        table.add_column(test, justify="right", overflow="fold", min_width=5)
    for plugin, train in rows:
        cells = []
        for test in tests:
            value = values.get((plugin, train, test))
            text = "" if value is None else _score(value)
            cells.append(Text(text, style="bold") if test == train else text)
        table.add_row(plugin, train, *cells)
    return table


def to_markdown(agreement: Agreement) -> str:
    """GitHub Markdown: the pairs table (with each pair's largest swaps), the
    pairs not compared, and the transfer matrix (as :func:`rich_tables`)."""
    out: list[str] = []
    if agreement.pairs:
        out += [f"### {_truth_title(agreement)}", ""]
        out.append("| a | b | decisive kept | reversed | contradicted | spurious | calibration error [95% CI] |")
        out.append("|---|---|---:|---:|---:|---:|---:|")
        for p in agreement.pairs:
            out.append(f"| {p.a} | {p.b} | " + " | ".join(_truth_cells(p)) + " |")
        out += ["", _truth_caption(agreement) + ".", ""]
        if error_pairs(agreement):
            out += [f"### {ERRORS_TITLE}", ""]
            out.append("| a | b | " + " | ".join(ERROR_FRACTIONS) + " |")
            out.append("|---|---|" + "---:|" * len(ERROR_FRACTIONS))
            for p in error_pairs(agreement):
                out.append(f"| {p.a} | {p.b} | " + " | ".join(error_cells(p)) + " |")
            out += ["", ERRORS_CAPTION[0].upper() + ERRORS_CAPTION[1:] + ".", ""]
        out += [f"### {_title(agreement)}", ""]
        out.append(
            "| a | b | n | Kendall tau-b [95% CI] | ceiling [range] | Spearman rho [95% CI] | same winner "
            "| largest rank swaps |"
        )
        out.append("|---|---|---:|---:|---:|---:|---|---|")
        for p in agreement.pairs:
            swaps = "; ".join(f"{s.name}: {s.text()}" for s in p.swaps) or "-"
            out.append(
                f"| {p.a} | {p.b} | {p.n} | {_stat(p.kendall_tau)} {_ci(p.kendall_ci)} | "
                f"{_stat(p.tau_ceiling)} {_ci(p.tau_ceiling_ci)} | "
                f"{_stat(p.spearman_rho)} {_ci(p.spearman_ci)} | {'yes' if p.same_winner else 'no'} | {swaps} |"
            )
        out += ["", _caption(agreement) + ".", "", SWAP_NOTE, ""]
    out += [f"{line}  " for line in _unpaired_lines(agreement)]
    if _has_transfer(agreement):
        tests, rows, values = _transfer_grid(agreement.transfer)
        out += ["", f"### Transfer: {agreement.metric.header} of each segmenter's best variant", ""]
        out.append("| segmenter | trained on | " + " | ".join(tests) + " |")
        out.append("|---|---|" + "---:|" * len(tests))
        for plugin, train in rows:
            cells = []
            for test in tests:
                value = values.get((plugin, train, test))
                text = "" if value is None else _score(value)
                cells.append(f"**{text}**" if text and test == train else text)
            out.append(f"| {plugin} | {train} | " + " | ".join(cells) + " |")
        out += ["", "Rows: the dataset the model was trained on; columns: the dataset it was tested on; "
                "bold: trained and tested on the same dataset.", ""]
    return "\n".join(out) + "\n"
