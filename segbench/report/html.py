"""The HTML report: one self-contained file (inline CSS and JavaScript, images
embedded as base64 PNG), viewable with no network.

Per dataset: the sortable leaderboard with the ranking metric's 95% interval
and the tie notes; F1 and AP against the IoU threshold with bootstrap bands;
the per-image distribution of the ranking metric; an overlay gallery (best, median and worst image of every
variant, and the images the user names) with ground-truth and predicted
contours, true positives, false positives and misses coloured, splits and
merges marked. Then, when the suite marks a dataset ``reference: true`` and
:mod:`segbench.agreement` is there, how each dataset's ranking agrees
with the reference's. Provenance (suite, run, versions, params, seeds, host) at
the end.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import io
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .. import __version__
from ..results import PROVENANCE_COLUMNS, REPORT_FILE, RUN_RECORD, Col
from .cache import content_key, html_key, html_key_tag
from ..leaderboard import ERROR_FRACTIONS, Leaderboard, build_leaderboards
from .render import cell

__all__ = ["GalleryImage", "choose_images", "render_html", "write_html_report"]

#: dots per inch of embedded figures (overlays are drawn at their own size)
DPI = 90
#: variants with an overlay gallery per dataset, best ranked first (keeps the file small)
GALLERY_VARIANTS = 12


@dataclass(frozen=True)
class GalleryImage:
    """One image of the gallery of one variant, and why it was chosen."""

    image: str
    why: str  # "best", "median", "worst" or "named"
    value: float


def choose_images(values: pd.Series, named: Iterable[str] = ()) -> list[GalleryImage]:
    """The best, median and worst image by per-image score (ties: first by
    name), then the named images present; each image once.

    Parameters
    ----------
    values : Series
        Per-image score, indexed by image name.
    named : iterable of str
        Images the user asked for (``--image``).
    """
    values = values.dropna().sort_index(kind="stable")
    chosen: dict[str, GalleryImage] = {}
    if len(values):
        order = values.sort_values(kind="stable", ascending=False)
        picks = [("best", order.index[0]), ("median", order.index[len(order) // 2]), ("worst", order.index[-1])]
        for why, image in picks:
            chosen.setdefault(image, GalleryImage(image, why, float(values[image])))
    for image in named:
        if image in values.index and image not in chosen:
            chosen[image] = GalleryImage(image, "named", float(values[image]))
    return list(chosen.values())


def write_html_report(
    folder: str | Path,
    out: str | Path | None = None,
    *,
    rank_by: str | None = None,
    images: Sequence[str] = (),
    results: pd.DataFrame | None = None,
    suite: dict | None = None,
    dataset_folders: Sequence[str | Path] = (),
) -> Path:
    """Write the HTML report of a results folder.

    Parameters
    ----------
    folder : str or Path
        The suite's output folder (results, suite record, predictions).
    out : str or Path, optional
        The HTML file; default ``FOLDER/report.html``.
    rank_by : str, optional
        Metric key to rank by (default: the suite's ``rank_by``).
    images : sequence of str
        Image names to add to every variant's gallery.
    results, suite : optional
        The table and suite record when already in memory (``segbench run``);
        read from ``folder`` otherwise.
    dataset_folders : sequence of paths
        Folders of the datasets the user's own suite names (``segbench run``
        passes them). A results folder may come from someone else, so files
        are read only inside ``folder`` or these: a dataset folder recorded in
        ``suite.json`` elsewhere, or a ``prediction_path`` leading out of
        ``folder``, is skipped with a note and a warning.

    Returns
    -------
    Path
        The file written; an existing report whose inputs (results, suite,
        the run's warnings and failures, options, segbench version) did not
        change is left as it is (:mod:`segbench.report.cache`): its Provenance
        then shows the run that wrote it.
    """
    from ..io import atomic_write_text
    from . import load_results

    folder = Path(folder)
    if results is None or suite is None:
        results, suite = load_results(folder)
    out = Path(out) if out is not None else folder / REPORT_FILE
    run = _run_record(folder)
    key = content_key(
        results, suite=suite, rank_by=rank_by, images=list(images), folder=str(folder.resolve()),
        dataset_folders=[str(Path(f).resolve()) for f in dataset_folders],
        run={k: run.get(k) for k in ("warnings", "failures")},  # not its timings
        plots=importlib.util.find_spec("matplotlib") is not None,
    )
    if out.is_file() and html_key(out) == key:
        return out  # nothing it shows has changed: a warm rerun need not render it again
    boards = build_leaderboards(results, rank_by or suite["rank_by"], tuple(suite["iou_thresholds"]))
    text = render_html(results, suite, folder, boards, images, dataset_folders, key, run)
    atomic_write_text(out, text)
    return out


def render_html(
    results: pd.DataFrame, suite: dict, folder: Path, boards: list[Leaderboard], images: Sequence[str] = (),
    dataset_folders: Sequence[str | Path] = (), key: str = "", run: dict | None = None,
) -> str:
    """The report as one HTML string (see the module docstring); files are read
    only inside ``folder`` and ``dataset_folders`` (see :func:`write_html_report`).
    ``run``: the folder's ``run.json`` when already read."""
    run = _run_record(folder) if run is None else run
    try:
        from .plots import variant_colours

        colours = variant_colours(results)
        figures = True
    except ImportError:
        colours, figures = {}, False
    parts = [_head(suite, key), _intro(suite, boards, figures), _warnings(run)]
    for board in boards:
        parts.append(_dataset_section(results, suite, folder, board, colours, figures, images, dataset_folders))
    if boards:
        parts.append(_agreement_section(results, suite, boards[0].rank_by.key))
    parts.append(_provenance(results, suite, folder, run))
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------
# sections


def _head(suite: dict, key: str = "") -> str:
    title = html.escape(f"segbench report: {suite['name']}")
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>{html_key_tag(key) if key else ''}"
        f"<title>{title}</title>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{_STYLE}</style></head><body>"
        f"<h1>{title}</h1>"
    )


def _intro(suite: dict, boards: list[Leaderboard], figures: bool) -> str:
    rank = boards[0].rank_by.header if boards else suite["rank_by"]
    lines = [
        f"<p>{len(boards)} dataset(s), ranked by <b>{html.escape(rank)}</b> (pooled over each dataset's test "
        "images; 95% CI: percentile bootstrap over images). Click a column header to sort. "
        "AP = TP/(TP+FP+FN) at an IoU threshold; DSB AP its mean over IoU 0.50:0.05:0.95; "
        "PQ panoptic quality; SEG the Cell Tracking Challenge measure. A rank marked = tied on the "
        "ranking metric (3 decimals) and was ordered by the next column (see the note under the table). "
        "Rank 95%: the row's rank interval from a paired bootstrap over images (every row resampled with "
        "the same images); the note under each table names the rows the winner is not decisively better "
        "than.</p>",
        "<nav>" + " ".join(f"<a href='#ds-{_anchor(b.dataset)}'>{html.escape(b.dataset)}</a>" for b in boards)
        + " <a href='#provenance'>provenance</a></nav>",
    ]
    if not figures:
        lines.append("<p class='note'>matplotlib is not installed: no plots or overlays "
                     "(pip install 'segbench[plots]').</p>")
    return "\n".join(lines)


def _dataset_section(results, suite, folder, board, colours, figures, images, dataset_folders) -> str:
    frame = results[results[Col.DATASET] == board.dataset]
    out = [f"<section id='ds-{_anchor(board.dataset)}'><h2>{html.escape(board.dataset)}</h2>", _table(board, colours)]
    notes = board.tie_notes() + board.uncertainty_notes()
    if notes:
        out.append("<p class='note'>" + "<br>".join(html.escape(n) for n in notes) + "</p>")
    if figures:
        from .plots import distribution_figure, threshold_figure

        out.append("<h3>Scores against the IoU threshold</h3>")
        out.append(_img(threshold_figure(results, board, colours), f"{board.dataset}: F1 and AP against IoU"))
        out.append(f"<h3>Per-image {html.escape(board.rank_by.header)}</h3>")
        out.append(_img(distribution_figure(results, board, colours), f"{board.dataset}: per-image scores"))
    if figures:
        out.append(_gallery(frame, suite, folder, board, images, colours, dataset_folders))
    out.append("</section>")
    return "\n".join(out)


def _table(board: Leaderboard, colours: dict) -> str:
    columns = board.columns()
    head = "".join(
        f"<th data-col='{i}' title='click to sort'>{html.escape(h)}</th>" for i, (_, h) in enumerate(columns)
    )
    body = []
    for row in board.rows:
        cells = []
        for key, _ in columns:
            text = cell(board, row, key)
            if key == "label":
                swatch = _swatch(colours.get(row["variant"]))
                cells.append(f"<td class='label' data-value='{html.escape(row['label'])}' "
                             f"title='{html.escape(row['variant'])}'>{swatch}{html.escape(text)}</td>")
            else:
                value = row[key][0] if key in ("ci", "rank_ci") else row.get(key)
                cells.append(f"<td data-value='{_sort_value(value)}'>{html.escape(text)}</td>")
        body.append(f"<tr class='variant' data-variant='{html.escape(row['variant'])}'>{''.join(cells)}</tr>")
    return (f"<div class='scroll'><table class='leaderboard sortable'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _agreement_section(results: pd.DataFrame, suite: dict, rank_key: str) -> str:
    """How each dataset's ranking agrees with the suite's reference dataset
    (``reference: true``): the reference's decisive pairs kept, reversed and
    contradicted, spurious decisions, calibration error, Kendall tau-b beside
    the reference's noise ceiling, Spearman rho, from
    :mod:`segbench.agreement`; "" without a reference dataset."""
    from ..agreement import agreement

    references = [d["name"] for d in suite.get("datasets", []) if d.get("reference")]
    if not references:
        return ""
    out = ["<section id='agreement'><h2>Agreement with the reference data</h2>",
           f"<p>Does a dataset rank the variants as the reference (real) data does? Scores: "
           f"{html.escape(rank_key)}. A pair of variants is <em>decisive</em> on a dataset when the "
           f"95% paired-bootstrap interval of their difference excludes 0. <em>Kept</em>/<em>reversed</em>: "
           f"the reference's decisive pairs the dataset orders the same/other way; <em>contradicted</em>: "
           f"decisive the other way; <em>spurious</em>: pairs tied on the reference that the dataset "
           f"calls decisive; <em>calibration</em>: mean absolute score difference; <em>ceiling</em>: "
           f"mean &tau;-b between random halves of the reference's images. Intervals: bootstrap over "
           f"images.</p>"]
    for reference in references:
        try:
            result = agreement(results, metric=rank_key, reference=reference)
        except ValueError as exc:
            out.append(f"<p class='note'>{html.escape(str(exc))}</p>")
            continue
        rows = "".join(
            f"<tr><td class='label'>{html.escape(p.a)}</td><td>{p.n}</td>"
            f"<td>{p.decisive_kept}/{p.decisive_reference}</td><td>{p.decisive_reversed}</td>"
            f"<td>{p.decisive_contradicted}</td><td>{p.spurious}/{p.tied_reference}</td>"
            f"<td>{_stat(p.calibration_mae)} {_interval(p.calibration_ci)}</td>"
            f"<td>{_stat(p.kendall_tau)} {_interval(p.kendall_ci)}</td><td>{_stat(p.tau_ceiling)}</td>"
            f"<td>{_stat(p.spearman_rho)} {_interval(p.spearman_ci)}</td>"
            f"<td>{'yes' if p.same_winner else 'no'}</td><td class='label'>{html.escape(p.winner_a)}</td>"
            f"<td class='label'>{html.escape(p.winner_b)}</td></tr>"
            for p in result.pairs
        )
        out.append(
            f"<table class='agreement'><thead><tr><th>dataset</th><th>shared</th><th>decisive kept</th>"
            f"<th>reversed</th><th>contradicted</th><th>spurious</th><th>calibration</th>"
            f"<th>Kendall &tau;-b</th><th>ceiling</th>"
            f"<th>Spearman &rho;</th><th>same winner</th><th>its winner</th>"
            f"<th>winner on {html.escape(reference)}</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        out.append(_errors_table(result, reference))
    out.append("</section>")
    return "\n".join(out)


def _errors_table(result, reference: str) -> str:
    """How each dataset fails against the reference (``a / b`` per kind, in %); "" without error counts."""
    from .agreement_render import ERRORS_CAPTION, error_cells, error_pairs

    pairs = error_pairs(result)
    if not pairs:
        return ""
    head = "".join(f"<th>{kind} %</th>" for kind in ERROR_FRACTIONS)
    rows = "".join(
        f"<tr><td class='label'>{html.escape(p.a)}</td>"
        + "".join(f"<td>{html.escape(c)}</td>" for c in error_cells(p)) + "</tr>"
        for p in pairs
    )
    return (f"<h3>How each dataset fails, against {html.escape(reference)} (dataset / reference)</h3>"
            f"<table class='agreement'><thead><tr><th>dataset</th>{head}</tr></thead><tbody>{rows}</tbody></table>"
            f"<p class='note'>{html.escape(ERRORS_CAPTION[0].upper() + ERRORS_CAPTION[1:])}.</p>")


def _stat(value: float) -> str:
    return "-" if value is None or np.isnan(value) else f"{value:.2f}"


def _interval(interval) -> str:
    low, high = interval
    return "" if np.isnan(low) else f"[{low:.2f}, {high:.2f}]"


def _gallery(frame, suite, folder, board, named, colours, dataset_folders) -> str:
    from ..errors import InputError
    from ..io import find_pairs, read_sample
    from .overlays import display_plane, overlay_figure
    from .plots import per_image_values

    out = ["<h3>Overlays</h3>",
           "<p class='legend'>White with a dark halo: ground-truth contours. Predicted contours: "
           "<span style='color:#33cc40'>matched</span>, <span style='color:#f33'>false positive</span>; "
           "<span style='color:#408cff'>blue fill</span>: missed object; S: a ground-truth object split "
           "into several predictions; M: a prediction merging several objects. "
           f"Matched = IoU &ge; {_overlay_threshold(board):g}. Best, median and worst image of each variant by "
           f"{html.escape(board.rank_by.header)}.</p>"]
    dataset_folder = _dataset_folder(suite, folder, board.dataset)
    if not _inside(dataset_folder, [folder, *dataset_folders]):
        out.append(f"<p class='note'>{html.escape(_skipped(dataset_folder, folder, 'dataset folder'))}: no overlays.</p>")
        return "\n".join(out)
    pairs = {p.name: p for p in find_pairs(dataset_folder)[0]} if dataset_folder.is_dir() else {}
    if not pairs:
        out.append(f"<p class='note'>images not found in {html.escape(str(dataset_folder))}: no overlays.</p>")
        return "\n".join(out)
    has_predictions = Col.PREDICTION_PATH in frame and (frame[Col.PREDICTION_PATH].fillna("") != "").any()
    if not has_predictions:
        out.append("<p class='note'>Predicted label images were not saved for this run "
                   "(<code>save_predictions: true</code> in the suite keeps them): the gallery shows the "
                   "images and their ground truth only.</p>")
    missing_named = [n for n in named if n not in pairs]
    if missing_named:
        out.append(f"<p class='note'>not in {html.escape(board.dataset)}: "
                   f"{html.escape(', '.join(missing_named))}</p>")
    if len(board.rows) > GALLERY_VARIANTS:
        out.append(f"<p class='note'>Overlays of the {GALLERY_VARIANTS} best-ranked of {len(board.rows)} "
                   "variants.</p>")
    for row in board.rows[:GALLERY_VARIANTS]:
        variant = frame[frame[Col.VARIANT] == row["variant"]]
        values = per_image_values(variant, board.rank_by.key)
        panels = []
        for pick in choose_images(values, named):
            pair = pairs.get(pick.image)
            if pair is None or pair.mask is None:
                continue
            try:
                sample = read_sample(pair.image, pair.mask, pair.name, grey=pair.grey)  # any layout, DSB's too
                image, gt = sample.image, sample.labels
            except InputError as exc:
                panels.append(f"<p class='note'>{html.escape(str(exc))}</p>")
                continue
            pred = _prediction(variant, pick.image, folder) if has_predictions else None
            (image_plane, gt_plane, *rest), z = display_plane(image if image.ndim == gt.ndim else image[..., 0],
                                                              gt, *([pred] if pred is not None else []))
            title = f"{pick.image} ({pick.why}: {board.rank_by.header} {pick.value:.3f})"
            if z is not None:
                title += f", z={z}"
            fig, counts = overlay_figure(image_plane, gt_plane, rest[0] if rest else None,
                                         _overlay_threshold(board), title)
            panels.append(f"<figure>{_img(fig, title, dpi=DPI)}"
                          f"<figcaption hidden>{html.escape(counts)}</figcaption></figure>")
        out.append(f"<h4>{_swatch(colours.get(row['variant']))}{html.escape(row['label'])}</h4><div class='gallery'>{''.join(panels)}</div>")
    return "\n".join(out)


def _prediction(variant: pd.DataFrame, image: str, folder: Path) -> np.ndarray | None:
    from ..errors import InputError
    from ..io import read_labels

    paths = variant.loc[variant[Col.IMAGE] == image, Col.PREDICTION_PATH].fillna("")
    path = next((p for p in paths if p), "")
    if not path:
        return None
    if not _inside(folder / path, [folder]):
        _skipped(folder / path, folder, "prediction")
        return None
    try:
        return read_labels(folder / path)
    except InputError:
        return None


def _overlay_threshold(board: Leaderboard) -> float:
    return board.rank_by.threshold if board.rank_by.threshold is not None else 0.5


def _dataset_folder(suite: dict, folder: Path, dataset: str) -> Path:
    """Where the dataset's files are: as recorded in suite.json, else the
    folder generated datasets are written to."""
    for entry in suite.get("datasets", []):
        if isinstance(entry, dict) and entry.get("name") == dataset and isinstance(entry.get("folder"), str):
            return Path(entry["folder"])
    return folder / "data" / dataset


def _inside(path: Path, roots: Sequence[str | Path]) -> bool:
    """True when ``path``, links and ``..`` resolved, is one of ``roots`` or lies inside one."""
    real = Path(path).resolve()
    return any(real == root or root in real.parents for root in (Path(r).resolve() for r in roots))


def _skipped(path: Path, folder: Path, what: str) -> str:
    """Warn that ``path``, read from the results folder ``folder``, lies outside
    it and was not read; returns the one-line message."""
    message = (
        f"{folder}: {what} {path} lies outside the results folder and the datasets of your suite; not read "
        "(a results folder may come from someone else): rerun your own suite with --html to show it"
    )
    logging.getLogger("segbench.report").warning(message)
    return message


def _run_record(folder: Path) -> dict:
    """``run.json`` of the results folder as a dict ({} when absent or not a JSON object)."""
    try:
        run = json.loads((folder / RUN_RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return run if isinstance(run, dict) else {}


def _warnings(run: dict) -> str:
    """The run's warnings (``run.json``), at the top of the report: a model that
    found almost nothing must not pass as a row of zeros; "" without any."""
    warnings = run.get("warnings") or []
    if not isinstance(warnings, list) or not warnings:
        return ""
    items = "".join(f"<li>{html.escape(str(w))}</li>" for w in warnings)
    return f"<section id='warnings'><h2>Warnings</h2><ul class='warnings'>{items}</ul></section>"


def _provenance(results: pd.DataFrame, suite: dict, folder: Path, run: dict) -> str:
    out = ["<section id='provenance'><h2>Provenance</h2>"]
    record = {k: v for k, v in suite.items() if k != "datasets"}
    out.append("<h3>Suite</h3>" + _dl(record))
    if run:
        failures = [f for f in run.get("failures", []) if isinstance(f, dict)]
        out.append("<h3>Run</h3>" + _dl({k: v for k, v in run.items() if not isinstance(v, (list, dict))}))
        if failures:
            out.append("<ul class='failures'>" + "".join(
                f"<li>{html.escape(str(f.get('where', '')))}: {html.escape(str(f.get('message', '')))}</li>"
                for f in failures) + "</ul>")
    columns = [c for c in PROVENANCE_COLUMNS if c in results]
    variants = results.drop_duplicates([Col.DATASET, Col.VARIANT]) if Col.DATASET in results else results
    variants = variants.drop_duplicates(columns)[columns] if columns else variants.iloc[0:0]
    table = [c for c in columns if c != Col.DESCRIBE]  # describe() gets a readable block of its own
    out.append("<h3>Variants</h3><div class='scroll'><table class='provenance'><thead><tr>"
               + "".join(f"<th>{html.escape(c)}</th>" for c in table) + "</tr></thead><tbody>")
    for _, row in variants.iterrows():
        out.append("<tr>" + "".join(f"<td>{html.escape(_text(row[c]))}</td>" for c in table) + "</tr>")
    out.append("</tbody></table></div>")
    if Col.DESCRIBE in columns:
        out.append(_described(variants))
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    out.append(f"<p class='note'>generated {generated} by segbench {__version__} from "
               f"{html.escape(str(folder))}</p></section>")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# helpers


def _img(fig, alt: str, dpi: int = 100) -> str:
    """A matplotlib figure as an inline PNG (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def _swatch(colour) -> str:
    if colour is None:
        return ""
    r, g, b = (int(255 * c) for c in colour[:3])
    return f"<span class='swatch' style='background:rgb({r},{g},{b})'></span>"


def _sort_value(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if np.isnan(number) else repr(number)


def _described(variants: pd.DataFrame) -> str:
    """Each segmenter's ``describe()`` (versions, weights, settings) as indented
    JSON under its variant's name, one block per distinct description."""
    out = ["<h3>What each segmenter says about itself (<code>describe()</code>)</h3>"]
    for text, group in variants.groupby(Col.DESCRIBE, sort=False):
        try:
            pretty = json.dumps(json.loads(text), indent=2, sort_keys=True)
        except (TypeError, ValueError):
            pretty = _text(text)
        names = ", ".join(dict.fromkeys(str(v) for v in group[Col.VARIANT]))
        out.append(f"<details><summary>{html.escape(names)}</summary><pre class='describe'>"
                   f"{html.escape(pretty)}</pre></details>")
    return "\n".join(out)


def _dl(mapping: dict) -> str:
    return "<dl>" + "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(_text(v))}</dd>"
                            for k, v in mapping.items()) + "</dl>"


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _anchor(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name)


_STYLE = """
pre.describe { white-space: pre-wrap; word-break: break-word; max-width: 60em; font-size: 0.85em;
  background: #f6f6f6; padding: 0.5em; }
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em auto;max-width:1200px;
padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
nav a{margin-right:1em}
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}
th,td{padding:.25em .6em;border-bottom:1px solid #e4e4e4;text-align:right;white-space:nowrap}
td.label,th:nth-child(2){text-align:left}td.label{white-space:normal;min-width:14em;max-width:24em}
.scroll{overflow-x:auto}
table.sortable th{cursor:pointer;background:#f4f4f4;user-select:none}
table.sortable th.asc::after{content:" \\25B2"}table.sortable th.desc::after{content:" \\25BC"}
tr.variant:first-child{font-weight:600}
.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.4em;border-radius:2px;vertical-align:-1px}
img{max-width:100%}
.gallery{display:flex;flex-wrap:wrap;gap:.4em}.gallery figure{margin:0}
.note{color:#666;font-size:.92em}.legend{font-size:.92em}
table.provenance td{text-align:left;white-space:normal;max-width:28em;word-break:break-word;font-size:.85em}
dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dt{font-weight:600}dd{margin:0}
"""

_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th) {
    th.addEventListener('click', function () {
      var col = +th.dataset.col, asc = !th.classList.contains('asc');
      table.querySelectorAll('th').forEach(function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(asc ? 'asc' : 'desc');
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.value, y = b.cells[col].dataset.value;
        var nx = parseFloat(x), ny = parseFloat(y);
        var r = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
        if (x === '' && y !== '') return 1;
        if (y === '' && x !== '') return -1;
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""
