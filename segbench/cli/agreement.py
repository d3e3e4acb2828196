"""``segbench agreement``: do the datasets of a run rank the segmenters alike?"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from ..errors import SegbenchError
from . import shown

DESCRIPTION = """\
Does dataset a tell the truth about dataset b (the reference, e.g. real images)?
For every pair of datasets in a results folder (or each against --reference),
over the segmenter variants they share:
- decisive pairs: the pairs of variants that b tells apart (the 95% paired-
  bootstrap interval of their difference on b's images excludes 0); how many a
  keeps (same order), reverses, confirms and contradicts (decisive both ways);
- spurious: pairs tied on b that a calls decisive;
- calibration: the mean absolute score difference, with a 95% interval;
- Kendall's tau-b (95% interval) beside its ceiling: the mean tau-b between
  random halves of b's images, what b reaches with itself; Spearman's rho;
  whether both pick the same winner; the largest rank swaps;
- how each fails: the % of true objects merged, split and missed, and of
  predictions spurious, on a and on b (the mean over the shared variants), which
  says why a ranks wrongly where it does.
Rankings use the models trained on the dataset they are tested on (or untrained
ones); models trained on one dataset and tested on others fill the transfer
matrix (rows: trained on; columns: tested on). Formulas: docs/report.md."""

EPILOG = """\
examples:
  segbench agreement results/sim2real
  segbench agreement results/sim2real --reference real --level segmenter
  segbench agreement results/sim2real --metric ap@0.75 --json agreement.json

exit codes: 0 every pair compared; 1 some pairs share fewer than 2 variants
(each listed), the rest shown; 2 nothing could be compared (no results, an
unknown metric or dataset, no two datasets sharing 2 variants)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "agreement",
        help="does a dataset rank the segmenters like the real one? (decisive pairs, calibration, tau, transfer)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("results", metavar="RESULTS_DIR", help="a suite's output folder (holds results.parquet)")
    parser.add_argument("--metric", metavar="KEY", help="rank by this metric key, e.g. f1@0.5, ap@0.75, dsb "
                        "(default: the suite's rank_by, f1@0.5 unless set)")
    parser.add_argument("--level", choices=("variant", "segmenter"), default="variant",
                        help="rank every variant, or each segmenter by its best variant (default: %(default)s)")
    parser.add_argument("--reference", metavar="DATASET",
                        help="compare every dataset with this one only (e.g. the real data)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the statistics as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..report import load_results
    from ..agreement import agreement
    from ..report.agreement_render import rich_tables
    from ..results import Col

    err = Console(stderr=True, soft_wrap=True, highlight=False)

    def fail(message: str) -> int:
        err.print(f"[red]error:[/] {shown(message)}", markup=True)
        return 2

    folder = Path(args.results)
    if not folder.is_dir():
        return fail(f"{folder}: no such folder; give a suite's output folder (run `segbench run SUITE` first)")
    try:
        results, suite = load_results(folder)
    except SegbenchError as exc:
        return fail(str(exc))
    if results.empty:
        return fail(f"{folder}: results.parquet has no rows; run the suite (`segbench run SUITE`) to fill it")
    datasets = list(dict.fromkeys(results[Col.DATASET]))
    if len(datasets) < 2:
        return fail(f"{folder}: results for {len(datasets)} dataset ({', '.join(datasets)}); agreement needs at least 2")
    try:
        stats = agreement(results, args.metric or suite["rank_by"], args.level, args.reference)
    except ValueError as exc:
        return fail(str(exc))
    if not stats.pairs:
        most = max((n for _, _, n in stats.unpaired), default=0)
        return fail(
            f"no two datasets share 2 or more {args.level}s with a score (at most {most}); run the same "
            "segmenters on the datasets to compare" + (", or compare variants (--level variant)" if args.level == "segmenter" else "")
        )
    console = Console(width=min(Console().width, 80))
    for table in rich_tables(stats):
        console.print(table)
    if args.json is not None:
        from ..io import atomic_write_text

        atomic_write_text(args.json, stats.to_json() + "\n")
        err.print(f"wrote {args.json}")
    return 1 if stats.unpaired else 0
