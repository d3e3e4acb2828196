"""``segbench list``: every installed plugin, its distribution and version."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

KINDS = ("segmenter", "generator", "dataset", "metric")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "list",
        help="list installed segmenters, generators, datasets and metrics",
        description="List every plugin found through the `segbench` entry-point group, with the "
        "distribution that provides it. Plugins that failed to load are reported with their error.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--params", action="store_true", help="also show each plugin's parameters")
    parser.set_defaults(func=run)


def _params(info) -> dict[str, list[str]]:
    cls = info.cls
    out = {"params": list(cls.constructor_params() or [])}
    if info.kind == "segmenter":
        out["postprocess"] = list(cls.postprocess_params())
        out["train"] = list(cls.train_params() or [])
    return out


def run(args) -> int:
    from ..plugins import load_registry

    registry = load_registry()
    if args.json:
        payload = {
            "plugins": [info.as_dict() | (_params(info) if args.params else {}) for info in registry.all()],
            "problems": [
                {"plugin": p.source, "distribution": p.distribution, "error": p.error} for p in registry.problems
            ],
        }
        print(json.dumps(payload, indent=2))
        return 0
    from .report import table_console

    console = table_console()
    table = Table(title="segbench plugins", title_justify="left")
    for column in ("kind", "name", "distribution", "version", "description"):
        table.add_column(column, overflow="fold")
    if args.params:
        table.add_column("parameters", overflow="fold")
    for info in registry.all():
        cells = [info.kind, info.name, info.distribution, info.version, info.description]
        if args.params:
            cells.append("; ".join(f"{k}: {', '.join(v) or '-'}" for k, v in _params(info).items()))
        table.add_row(*cells)
    console.print(table)
    for problem in registry.problems:
        Console(stderr=True, soft_wrap=True, highlight=False).print(f"[yellow]warning:[/] {problem}", highlight=False)
    return 0
