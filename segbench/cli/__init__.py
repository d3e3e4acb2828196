"""The ``segbench`` command line.

Each subcommand lives in its own module in this package and exposes
``add_parser(subparsers)``, which registers the subcommand and sets
``func(args) -> int`` as its handler. Plugins add subcommands through the
``segbench_add_commands`` hook.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .. import __version__
from ..errors import SegbenchError, printable

#: subcommand modules, in the order ``segbench --help`` lists them
COMMANDS = ("run", "report", "evaluate", "generate", "realism", "agreement", "models", "list")

EPILOG = """\
examples:
  segbench generate procedural --n 20 --out data/nuclei
  segbench evaluate --gt data/nuclei --pred predictions/ --iou 0.5 0.75 0.9
  segbench run suites/fluorescent.yaml --dry-run
  segbench run suites/fluorescent.yaml
  segbench report results/fluorescent --format markdown
  segbench agreement results/sim2real --reference real
  segbench realism --real data/my-lab --fake data/nuclei --json realism.json
  segbench list
"""


def shown(text: object) -> str:
    """User text for a rich console: control characters made visible
    (:func:`segbench.errors.printable`), markup brackets escaped."""
    from rich.markup import escape

    return escape(printable(text))


class _WarningLines(logging.Handler):
    """segbench's own log warnings (e.g. a path a results folder names) as
    ``warning: ...`` lines on the current stderr, made printable."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"warning: {printable(record.getMessage())}", file=sys.stderr)


def _log_warnings_to_stderr() -> None:
    """Install :class:`_WarningLines` on the ``segbench`` logger, once."""
    logger = logging.getLogger("segbench")
    if not any(isinstance(handler, _WarningLines) for handler in logger.handlers):
        logger.addHandler(_WarningLines(logging.WARNING))


def build_parser(registry=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segbench",
        description="Benchmark instance segmentation of fluorescent cells: generate images "
        "with exact ground truth, run segmenters over a YAML suite, and rank them.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"segbench {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f".{name.replace('-', '_')}", __name__)
        module.add_parser(subparsers)
    if registry is not None and registry.manager is not None:
        registry.manager.hook.segbench_add_commands(subparsers=subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    registry = None
    # Plugins are loaded for their subcommands: for a command that is not a core
    # one, and for the top-level help, which lists them. Core commands skip it.
    if not argv or argv[0] not in (*COMMANDS, "--version"):
        from ..plugins import load_registry

        registry = load_registry()
    parser = build_parser(registry)
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    _log_warnings_to_stderr()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `segbench list | head`: the reader left; stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except SegbenchError as exc:  # a command that did not report its own problem: still one line
        print(f"error: {printable(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. an output path in /proc or on a full disk
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {printable(where)}{exc.strerror or exc}; choose another path", file=sys.stderr)
        return 2
