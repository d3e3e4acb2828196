"""``segbench list``: every installed plugin, its distribution and version."""

from __future__ import annotations

import argparse
import inspect
import json
from dataclasses import asdict, dataclass

from rich.console import Console
from rich.table import Table

from ..plugins import KINDS
from ..suite.model import RESERVED_TRAIN_SETTINGS
from . import shown

DESCRIPTION = """\
List every plugin found through the `segbench` entry-point group, one table
per kind: segmenters, generators, datasets and metrics (a kind with nothing
installed says so). Each row names the distribution that provides the plugin
and its version. Plugins that failed to load are reported with their error.

--params adds every parameter with its default, type and description (from the
signature and the numpydoc docstring): for segmenters, the constructor's
(`params:` in a suite), the post-processing ones (swept over one network pass)
and the training settings (`train:`)."""

EPILOG = """\
examples:
  segbench list
  segbench list --params
  segbench list --json --params | python -m json.tool
"""

#: per kind: the parameter groups --params shows, (title, method name, positional args to skip)
GROUPS = {
    "segmenter": (("params", "__init__", 1), ("postprocess", "postprocess", 2), ("train", "fit", 3)),
    "generator": (("params", "__init__", 1),),
    "dataset": (("params", "load", 1),),
    "metric": (),
}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "list",
        help="list installed segmenters, generators, datasets and metrics",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--params", action="store_true",
                        help="also show each plugin's parameters: default, type, description")
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Param:
    """One parameter of a plugin: its name, default ("required" when none),
    type (from the docstring, else the annotation) and description."""

    name: str
    default: str
    type: str
    description: str


def plugin_params(info) -> dict[str, list[Param]]:
    """The parameters of a plugin class by group (``params``, ``postprocess``,
    ``train`` for segmenters); a group the class does not have is empty."""
    cls = info.cls
    out = {}
    for group, method, skip in GROUPS.get(info.kind, ()):
        func = getattr(cls, method, None)
        if func is None or (group == "postprocess" and not cls.has_raw_split()):
            out[group] = []  # e.g. a segmenter without fit(): no training settings
            continue
        docs = {**_docs(func), **(_docs(cls) if method == "__init__" else {})}
        params = []
        for p in list(inspect.signature(func).parameters.values())[skip:]:
            if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) or p.name in RESERVED_TRAIN_SETTINGS:
                continue
            kind, text = docs.get(p.name, ("", ""))
            if not kind and p.annotation is not p.empty:
                kind = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
            default = "required" if p.default is p.empty else _show(p.default)
            params.append(Param(p.name, default, kind, text.replace("``", "")))
        out[group] = params
    return out


def _docs(obj) -> dict[str, tuple[str, str]]:
    """``name -> (type, description)`` from ``obj``'s numpydoc Parameters section."""
    from .generate import _parse_entries, _section_start

    lines = (inspect.getdoc(obj) or "").splitlines()
    start = _section_start(lines, "Parameters")
    return _parse_entries(lines[start:]) if start is not None else {}


def _show(value) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def run(args) -> int:
    from ..plugins import load_registry

    registry = load_registry()
    if args.json:
        plugins = []
        for info in registry.all():
            entry = info.as_dict()
            if args.params:
                groups = plugin_params(info)
                entry |= {group: [p.name for p in params] for group, params in groups.items()}
                entry["parameters"] = {group: [asdict(p) for p in params] for group, params in groups.items()}
            plugins.append(entry)
        payload = {
            "plugins": plugins,
            "problems": [
                {"plugin": p.source, "distribution": p.distribution, "error": p.error} for p in registry.problems
            ],
        }
        print(json.dumps(payload, indent=2))
        return 0
    from .report import table_console

    console = table_console()
    for kind in KINDS:
        infos = [info for info in registry.all() if info.kind == kind]
        if not infos:
            console.print(f"{kind}s: none installed (a plugin adds them with {KINDS[kind][0]})", highlight=False)
            continue
        table = Table(title=f"{kind}s", title_justify="left")
        for column in ("name", "distribution", "version", "description"):
            table.add_column(column, overflow="fold")
        for info in infos:
            table.add_row(*map(shown, (info.name, info.distribution, info.version, info.description)))
        console.print(table)
        if args.params:
            for info in infos:
                console.print(_params_table(info))
    for problem in registry.problems:
        Console(stderr=True, soft_wrap=True, highlight=False).print(f"[yellow]warning:[/] {shown(problem)}", highlight=False)
    return 0


def _params_table(info) -> Table:
    """One row per parameter; plugin text (defaults, docstrings) shown as written."""
    table = Table(title=f"{info.kind} {shown(info.name)}: parameters", title_justify="left")
    for column in ("group", "name", "default", "type", "description"):
        table.add_column(column, overflow="fold")
    for group, params in plugin_params(info).items():
        if not params:
            table.add_row(group, "-", "", "", "none")
        for p in params:
            table.add_row(group, *map(shown, (p.name, p.default, p.type, p.description)))
    return table
