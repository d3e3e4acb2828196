"""``segbench models``: the trained models of a results folder, for reuse."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import shown

EPILOG = """\
examples:
  segbench models results/fluorescent
  segbench models results/fluorescent --json models.json

Each training of a suite leaves its model in OUTPUT/train/DATASET/SEGMENTER-KEY/
with a segbench-training.json record. Point another suite at that folder to reuse the
model without training: e.g. cellpose `pretrained_model: PATH/cellpose.pth`, stardist
`model_dir: PATH/stardist` (each plugin's README says which file or folder).
Exit codes: 0 models listed, 1 none found, 2 the folder does not exist.
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the models a suite trained, with where they are",
        description="List every trained model in a results folder: the dataset it was trained "
        "on, the segmenter config and training settings, its folder, the training time and "
        "its size on disk.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("results", metavar="RESULTS_DIR", help="a suite's output folder")
    parser.add_argument("--json", metavar="FILE", help="also write the list as JSON ('-' for stdout)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..run.training import list_models

    err = Console(stderr=True, soft_wrap=True, highlight=False)
    folder = Path(args.results)
    if not folder.is_dir():
        err.print(f"[red]error:[/] {shown(folder)}: no such folder; give a suite's output folder")
        return 2
    models, problems = list_models(folder)
    for problem in problems:
        err.print(f"[yellow]warning:[/] {shown(problem)}", highlight=False)
    payload = [
        {
            "train_dataset": m.record.get("train_dataset"),
            "segmenter": m.record.get("segmenter"),
            "label": m.record.get("label"),
            "params": m.record.get("params"),
            "train_settings": m.record.get("train_settings"),
            "path": str(m.path.resolve()),
            "train_seconds": m.record.get("seconds"),
            "size_bytes": m.size_bytes,
        }
        for m in models
    ]
    if args.json:
        text = json.dumps({"models": payload}, indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    if not models:
        err.print(f"no trained models in {shown(folder)} (nothing under {shown(folder / 'train')})")
        return 1
    if args.json != "-":
        _print(payload, folder)
    return 0


def _print(models: list[dict], folder: Path) -> None:
    """The table, then each model's folder on a line of its own: a path is
    never wrapped, so it can be copied whole at any terminal width."""
    console = Console(soft_wrap=True, highlight=False)
    console.print(f"trained models in {shown(folder.resolve())}")
    console.print(_table(models), soft_wrap=False)
    console.print("their folders (name one in a suite to reuse the model):")
    for number, m in enumerate(models, 1):
        console.print(f"{number:>3}  {shown(m['path'])}")


def _table(models: list[dict]) -> Table:
    """One row per model, numbered as the folders printed below it."""
    table = Table()
    for column, justify in (("#", "right"), ("trained on", "left"), ("segmenter", "left"),
                            ("settings", "left"), ("train s", "right"), ("size", "right")):
        table.add_column(column, justify=justify, overflow="fold")
    for number, m in enumerate(models, 1):
        settings = {**(m["params"] or {}), **(m["train_settings"] or {})}
        table.add_row(
            str(number),
            shown(m["train_dataset"]),
            shown(m["label"]),
            shown(" ".join(f"{k}={v}" for k, v in settings.items()) or "-"),
            f"{m['train_seconds']:.0f}",
            _size(m["size_bytes"]),
        )
    return table


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""
