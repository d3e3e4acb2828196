"""``segbench realism``: how close a generated dataset is to a real one.

Reads two labelled dataset folders, compares the distributions of object and
intensity features with :func:`segbench.realism.realism_report`, prints the
table (rich on a terminal, Markdown in a pipe or file) and writes it as JSON on
request.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import SegbenchError, printable

DESCRIPTION = """\
Compare a generated dataset with a real (reference) one, both folders of
images with masks. For each feature (object area, eccentricity, solidity,
objects per 10^4 px, nearest-neighbour distance, foreground and background
intensity, and per image the difficulty features: nucleus signal-to-noise
ratio, boundary contrast, edge width, fractions of nuclei touching, in clumps of
three or more and of boundary shared, texture, background non-uniformity, brightness spread between
nuclei, fraction out of focus; definitions in docs/procedural.md) it prints
the Wasserstein distance between the two sets, the floor (the same distance
between the even- and odd-numbered halves of the real set) and their ratio:
near 1, the generated images are as close to the real ones as the real ones
are to each other. Images may have different sizes: densities are per unit
area and every image weighs the same in the intensity and difficulty
features."""

EPILOG = """\
JSON (--json): {"features": [{"name": "object area (px)", "distance": ...,
"floor": ..., "ratio": ..., "key": "area", "unit": "px", "real_mean": ...,
"fake_mean": ...}, ...], "n_real": ..., "n_fake": ...}; undefined numbers are null.

examples:
  segbench realism --real data/my-lab --fake data/generated
  segbench generate procedural --fit data/my-lab --n 100 --out data/fitted
  segbench realism --real data/my-lab --fake data/fitted --json realism.json
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``segbench realism``."""
    parser = subparsers.add_parser(
        "realism",
        help="compare generated with real images (Wasserstein distances next to a floor)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--real", type=Path, required=True, metavar="DIR",
                        help="reference dataset folder (images with masks), at least 2 images")
    parser.add_argument("--fake", type=Path, required=True, metavar="DIR",
                        help="generated dataset folder (images with masks)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the table as JSON")
    parser.add_argument("--max-pixels", type=_positive, default=200_000, metavar="N",
                        help="intensities drawn per set and class, spread evenly over its images "
                        "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, metavar="SEED",
                        help="seed of the pixel draws (default: %(default)s)")
    parser.set_defaults(func=run)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    """Handle ``segbench realism``; returns the exit code."""
    from ..io import atomic_write_text
    from ..realism import load_labelled, realism_report

    try:
        report = realism_report(load_labelled(args.real), load_labelled(args.fake),
                                args.max_pixels, args.seed)
    except (SegbenchError, ValueError) as err:
        print(f"segbench realism: {printable(err)}", file=sys.stderr)
        return 2
    _print(report)
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _print(report) -> None:
    from rich.console import Console

    console = Console(highlight=False)
    if console.is_terminal:
        console.print(report.rich_table())
    else:
        print(f"realism: {report.n_fake} generated vs {report.n_real} reference images")
        print(report.to_markdown())
