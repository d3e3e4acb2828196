"""segbench hook implementations of the ``gan`` plugin."""

from __future__ import annotations

import segbench


@segbench.hookimpl
def segbench_register_generators():
    from .generator import GanGenerator

    return [GanGenerator]


@segbench.hookimpl
def segbench_add_commands(subparsers):
    from .cli import add_parser

    add_parser(subparsers)
