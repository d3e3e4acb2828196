"""``segbench evaluate``: score predicted label images against ground truth.

Pairs the label images of a ground-truth folder and a prediction folder by
name, scores them with :func:`segbench.metrics.evaluate_dataset`, prints a
table of the pooled scores, and writes JSON and CSV on request. Files that
cannot be read, and names found on one side only, are listed one line each
and left out. A ``--pred`` folder inside a results folder's ``predictions/``
is read through its index (:data:`segbench.results.PREDICTION_INDEX`): one
variant's label images, by image name, scored on the images the suite tested.
Exit codes: 0 every pair scored (names on one side only are listed but are not
failures), 1 some files failed and the rest was scored, 2 nothing could be
scored (a missing folder, no pair, a saved-predictions folder holding several
variants).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .. import __version__
from ..errors import InputError, printable
from ..io import MaskCheck, atomic_path, atomic_write_text, find_label_files, plain, read_labels, strict_json
from ..metrics import CRITERIA, DEFAULT_THRESHOLDS, evaluate_dataset
from ..results import METRICS, PREDICTION_FILE, PREDICTION_INDEX, PREDICTION_INDEX_COLUMNS, PREDICTIONS_DIR, Col

DESCRIPTION = """\
Score predicted label images against ground-truth label images.

Files are paired by name (the file name without extension and without a
_masks or _cp_masks suffix). Per threshold, objects are matched one-to-one
(optimal assignment, StarDist's rule) and a pair counts when its overlap
score (--criterion) is at least the threshold. Counts are pooled over all
images; SEG, AJI and DSB AP (the 2018 Data Science Bowl score: AP averaged
over thresholds 0.50:0.05:0.95) are printed too. AP = TP/(TP+FP+FN), as
Cellpose and the DSB call it (the column "accuracy" in --json and --csv, as
segbench.metrics names it)."""

EPILOG = """\
folder layouts (either side may use any of them; .tif, .tiff or .png):
  masks/NAME.tif            a dataset folder (segbench, StarDist: images/ + masks/)
  NAME_masks.tif            Cellpose training layout (NAME.tif beside it is ignored)
  NAME_cp_masks.tif         Cellpose predictions (cellpose --save_tif / --save_png)
  NAME.tif                  a plain folder of label images
  OUTPUT/predictions/...    a suite's saved predictions (save_predictions: true):
                            a variant's folder, or a folder above it holding one
                            variant; read through predictions/index.csv, and
                            only the images the suite tested are scored (the
                            train split of a --gt dataset is left out)
label images: 2-D (Y, X) or 3-D (Z, Y, X), one channel, integer pixels,
0 = background, one id per object (ids need not be contiguous).

output: the table goes to stdout; files that were skipped, and names found on
one side only, are listed on stderr, one line each; so are, one line per
folder, label images that look like intensity images or like binary masks
holding several objects under one id (they are scored as they are). Exit code 0 when
every pair was scored, 1 when some files could not be read (the rest was
scored), 2 when nothing could be scored (a folder is missing, or no pair).

examples:
  segbench evaluate --gt data/nuclei --pred predictions/
  segbench evaluate --gt data/nuclei --pred cellpose_out/ --iou 0.5 0.75 0.9 \\
      --json scores.json --csv per_image.csv
  segbench evaluate --gt data/nuclei --pred predictions/ --criterion iop --iou 0.5
  segbench evaluate --gt results/fluorescent/data/nuclei-clean \
      --pred results/fluorescent/predictions/nuclei-clean/cellpose+0123456789ab-cdef0123
"""

#: Columns of the printed table: (score key, header); AP is the ``accuracy`` of
#: the per-image rows, named as the leaderboards name it (segbench.results.METRICS)
_TABLE_COLUMNS = (
    (Col.TP, "TP"),
    (Col.FP, "FP"),
    (Col.FN, "FN"),
    (Col.PRECISION, "precision"),
    (Col.RECALL, "recall"),
    (Col.F1, METRICS["f1"].header),
    (Col.ACCURACY, METRICS["ap"].header),
    (Col.MEAN_MATCHED_IOU, "mean IoU"),
    (Col.PANOPTIC_QUALITY, METRICS["pq"].header),
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``segbench evaluate``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score predicted label images against ground truth",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--gt", required=True, type=Path, metavar="GT_DIR",
        help="ground truth: a dataset folder or a folder of label images",
    )
    parser.add_argument(
        "--pred", required=True, type=Path, metavar="PRED_DIR",
        help="predictions: a folder of label images named like the ground truth, "
        "or a variant's folder of a suite's saved predictions",
    )
    parser.add_argument(
        "--iou", nargs="+", type=_threshold, default=list(DEFAULT_THRESHOLDS), metavar="T",
        help="matching thresholds, each in (0, 1] (default: "
        + " ".join(f"{t:g}" for t in DEFAULT_THRESHOLDS) + ")",
    )
    parser.add_argument(
        "--criterion", choices=CRITERIA, default="iou",
        help="overlap score of a pair: intersection over union, over the true object, "
        "or over the predicted object (default: %(default)s)",
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE",
        help="write pooled, per-image and summary scores as JSON",
    )
    parser.add_argument(
        "--csv", type=Path, metavar="FILE",
        help="write per-image scores as CSV, one row per image and threshold",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Handle ``segbench evaluate``; returns the exit code."""
    for flag, folder in (("--gt", args.gt), ("--pred", args.pred)):
        if not folder.is_dir():
            print(f"segbench evaluate: {flag} {printable(folder)}: folder does not exist", file=sys.stderr)
            return 2
    thresholds = list(dict.fromkeys(args.iou))
    gt_files, problems = find_label_files(args.gt)
    try:
        variants = saved_predictions(args.pred)
    except InputError as err:
        print(f"segbench evaluate: --pred {printable(err)}", file=sys.stderr)
        return 2
    if len(variants) > 1:
        _print_variants(args.pred, variants)
        return 2
    saved = variants[0] if variants else None
    if saved is None:
        pred_files, pred_problems = find_label_files(args.pred)
        problems += pred_problems
    else:
        pred_files = saved.files
        gt_files = _tested_only(gt_files, saved)
    unmatched = _unmatched(gt_files, pred_files, args.gt, args.pred)
    failed = list(problems)  # duplicate names, unreadable files, shape mismatches: failures
    checks = (MaskCheck(f"--gt {args.gt}"), MaskCheck(f"--pred {args.pred}"))
    pairs = read_label_pairs(gt_files, pred_files, failed, checks)
    first = next(pairs, None)
    if first is None:
        _print_problems(unmatched + failed)
        print(
            f"segbench evaluate: nothing to evaluate: no readable ground truth in {printable(args.gt)} "
            f"has a readable prediction of the same name in {printable(args.pred)}",
            file=sys.stderr,
        )
        return 2
    scores = evaluate_dataset(
        itertools.chain([first], pairs), thresholds=thresholds, criterion=args.criterion
    )
    _print_problems(unmatched + failed)
    warnings = [warning for check in checks if (warning := check.warning())]
    for warning in warnings:
        print(f"warning: {printable(warning)}", file=sys.stderr)
    report = {
        "criterion": args.criterion,
        "thresholds": thresholds,
        "pooled": scores.pooled,
        "images": scores.images,
        "summary": scores.summary,
        "gt": str(args.gt),
        "pred": str(args.pred),
        "skipped": [str(p) for p in unmatched + failed],
        "variant": saved.variant if saved else None,
        "warnings": warnings,
        "segbench_version": __version__,
    }
    _print_scores(report)
    if args.json is not None:
        write_json(args.json, report)
        print(f"wrote {args.json}")
    if args.csv is not None:
        write_csv(args.csv, scores.images)
        print(f"wrote {args.csv}")
    return 1 if failed else 0


def read_label_pairs(
    gt_files: dict[str, Path],
    pred_files: dict[str, Path],
    problems: list[InputError],
    checks: tuple[MaskCheck, MaskCheck] | None = None,
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(name, gt, pred)`` for every name on both sides, in name order.

    Reads one pair at a time. A pair whose files cannot be read, or whose
    shapes differ, is skipped and its problem appended to ``problems``. Every
    ground truth and prediction read goes to ``checks`` (ground truth first),
    which note those that do not look like label images; they are still scored.
    """
    for name in sorted(gt_files.keys() & pred_files.keys()):
        try:
            gt = read_labels(gt_files[name])
            pred = read_labels(pred_files[name])
        except InputError as err:
            problems.append(err)
            continue
        if checks is not None:
            checks[0].add(gt_files[name], gt)
            checks[1].add(pred_files[name], pred)
        if gt.shape != pred.shape:
            problems.append(
                InputError(
                    pred_files[name],
                    f"shape {pred.shape} differs from the ground truth's {gt.shape} "
                    f"({gt_files[name]})",
                    "predict on the ground-truth image itself, at full size",
                )
            )
            continue
        yield name, gt, pred


@dataclass(frozen=True)
class SavedPredictions:
    """One variant's label images, found through a results folder's prediction index."""

    dataset: str
    variant: str
    #: the variant's folder
    folder: Path
    #: image name -> its label image
    files: dict[str, Path]
    #: every image of ``dataset`` the suite predicted (its test images)
    tested: frozenset[str]


def saved_predictions(folder: Path) -> list[SavedPredictions]:
    """The variants whose label images lie in ``folder``, when ``folder`` is (or
    lies in) a results folder's ``predictions/`` and its index lists them; an
    empty list for any other folder (read as a plain folder of label images).

    Index rows whose file lies outside ``folder`` are ignored (a results
    folder may come from someone else, and its index with it).

    Raises
    ------
    InputError
        The index cannot be read.
    """
    folder = folder.resolve()
    root = next((f for f in (folder, *folder.parents[:2]) if f.name == PREDICTIONS_DIR), None)
    if root is None or not (root / PREDICTION_INDEX).is_file():
        return []
    rows = _index_rows(root)
    variants: dict[Path, SavedPredictions] = {}
    for row in rows:
        path = row[PREDICTION_FILE]
        if not _inside(path, folder):
            continue
        dataset = row[Col.DATASET]
        if path.parent not in variants:
            tested = frozenset(r[Col.IMAGE] for r in rows if r[Col.DATASET] == dataset)
            variants[path.parent] = SavedPredictions(dataset, row[Col.VARIANT], path.parent, {}, tested)
        variants[path.parent].files[row[Col.IMAGE]] = path
    return sorted(variants.values(), key=lambda v: str(v.folder))


def _index_rows(root: Path) -> list[dict[str, Any]]:
    """The rows of ``root``'s prediction index, each ``file`` made a path under ``root``."""
    path = root / PREDICTION_INDEX
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            missing = [c for c in PREDICTION_INDEX_COLUMNS if c not in (reader.fieldnames or ())]
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"cannot be read ({exc})", "rerun the suite to rewrite it") from None
    if missing:
        raise InputError(path, f"is not a prediction index (no {', '.join(missing)} column)",
                         "rerun the suite to rewrite it")
    return [{**row, PREDICTION_FILE: root / row[PREDICTION_FILE]} for row in rows]


def _inside(path: Path, folder: Path) -> bool:
    """True when ``path``, links and ``..`` resolved, lies inside ``folder``."""
    return folder in path.resolve().parents


def _print_variants(folder: Path, variants: Sequence[SavedPredictions]) -> None:
    print(
        f"segbench evaluate: --pred {printable(folder)} holds the saved predictions of {len(variants)} variants; "
        "give one variant's folder as --pred:",
        file=sys.stderr,
    )
    for saved in variants:
        print(f"  {printable(saved.folder)}  ({printable(saved.variant)} on {printable(saved.dataset)})", file=sys.stderr)


def _tested_only(gt_files: dict[str, Path], saved: SavedPredictions) -> dict[str, Path]:
    """The ground truth of the images the suite tested; the others (its train
    split, when ``--gt`` is the suite's dataset) are left out with one line."""
    tested = {name: path for name, path in gt_files.items() if name in saved.tested}
    if len(tested) < len(gt_files):
        print(
            f"{len(gt_files) - len(tested)} ground-truth image(s) left out: the suite did not test them on "
            f"{printable(saved.dataset)} (its train split); scoring {printable(saved.variant)} on the "
            f"{len(saved.tested)} it tested",
            file=sys.stderr,
        )
    return tested


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` as JSON (NaN as null, numpy values as Python ones)."""
    atomic_write_text(path, strict_json(report) + "\n")


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write per-image rows as CSV, ``image`` and ``threshold`` first (NaN empty)."""
    first = [Col.IMAGE, Col.THRESHOLD]
    columns = first + [k for k in dict.fromkeys(k for row in rows for k in row) if k not in first]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=columns)
            writer.writeheader()
            writer.writerows(plain(list(rows)))


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is outside (0, 1]")
    return value


def _unmatched(
    gt_files: dict[str, Path], pred_files: dict[str, Path], gt_dir: Path, pred_dir: Path
) -> list[InputError]:
    problems = [
        InputError(path, f"ground truth {name!r} has no prediction in {pred_dir}",
                   "add the prediction, or ignore this line if it was left out on purpose")
        for name, path in gt_files.items()
        if pred_files and name not in pred_files
    ]
    problems += [
        InputError(path, f"prediction {name!r} has no ground truth in {gt_dir}",
                   "name it like its ground-truth file")
        for name, path in pred_files.items()
        if gt_files and name not in gt_files
    ]
    return problems


def _print_problems(problems: Sequence[InputError]) -> None:
    if problems:
        print(f"{len(problems)} problem(s); these files were left out:", file=sys.stderr)
        for problem in problems:
            print(f"  {printable(problem)}", file=sys.stderr)


def _print_scores(report: dict[str, Any]) -> None:
    """The pooled table and the summary line: a rich table on a terminal,
    plain Markdown (no colours, no trailing blanks) in a pipe or file."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    terminal = console.is_terminal
    table = Table(
        box=box.SIMPLE_HEAD if terminal else box.MARKDOWN,
        pad_edge=not terminal,
        collapse_padding=terminal,  # fits 80 columns
    )
    for header in [Col.THRESHOLD] + [header for _, header in _TABLE_COLUMNS]:
        table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    for row in report["pooled"]:
        table.add_row(f"{row[Col.THRESHOLD]:g}", *(_format(row[key]) for key, _ in _TABLE_COLUMNS))
    summary = report["summary"]
    n_images = summary["n_images"]
    console.print(
        f"{n_images} image{'s' * (n_images != 1)}, counts pooled, criterion {report['criterion']}"
    )
    if terminal:
        console.print(table)
    else:
        console.width = 200  # never wrap or crop
        with console.capture() as captured:
            console.print(table)
        lines = (line.rstrip() for line in captured.get().splitlines())
        print("\n".join(line for line in lines if line))
    console.print(
        f"SEG {_format(summary[Col.SEG])}   AJI {_format(summary[Col.AJI])}   "
        f"DSB AP {_format(summary[Col.DSB])}"
    )


def _format(value: Any) -> str:
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.3f}"
