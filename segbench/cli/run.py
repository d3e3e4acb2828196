"""``segbench run``: run a suite (or preview it with --dry-run)."""

from __future__ import annotations

import argparse
from collections import Counter
from contextlib import contextmanager

from rich.console import Console
from rich.table import Table

from ..results import LIBRARY_LOG, LOGS_DIR, PLOTS_DIR, REPORT_FILE
from ..suite import EXECUTOR_KINDS, ExecutorSpec
from . import shown
from .quiet import library_output_to

EPILOG = """\
examples:
  segbench run suites/fluorescent.yaml --dry-run     preview the matrix and what is cached
  segbench run suites/fluorescent.yaml               run it (a rerun computes only what is missing)
  segbench run suites/fluorescent.yaml --executor processes --workers 2
  segbench run suites/fluorescent.yaml --executor dask --address tcp://scheduler:8786

Results go to the suite's output folder: results.parquet (one row per dataset x image x
segmenter variant x IoU threshold), cells/ (one file per finished prediction), run.json
(summary and failures). A killed run resumes where it stopped. Exit codes: 0 all cells
ran, 1 some cells failed (listed), 2 the suite could not be read.
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a benchmark suite and print its leaderboard",
        description="Run every cell of a YAML suite (datasets x segmenters x parameter sweeps), "
        "store every number, and print a leaderboard per dataset.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("suite", metavar="SUITE", help="the suite's YAML file")
    parser.add_argument("--dry-run", action="store_true", help="print the expanded matrix and cache status; run nothing")
    parser.add_argument("--output", metavar="DIR", help="override the suite's output folder")
    parser.add_argument("--executor", choices=EXECUTOR_KINDS, help="override executor.kind")
    parser.add_argument("--workers", type=int, metavar="N", help="override executor.workers")
    parser.add_argument("--address", metavar="URL",
                        help="Dask scheduler address (with --executor dask); also how you confirm a "
                        "scheduler on another machine that the suite names")
    parser.add_argument("--tls-ca-file", metavar="FILE", help="Dask TLS: the certificate authority file")
    parser.add_argument("--tls-cert", metavar="FILE", help="Dask TLS: this client's certificate")
    parser.add_argument("--tls-key", metavar="FILE", help="Dask TLS: this client's private key")
    parser.add_argument("--csv", action="store_true", help="also write results.csv")
    parser.add_argument("--format", choices=("table", "markdown", "csv", "json"), default="table",
                        help="leaderboard format (default: table)")
    parser.add_argument("--no-plots", dest="plots", action="store_false",
                        help="skip the F1/AP-vs-IoU plots otherwise written to OUTPUT/plots (needs matplotlib)")
    parser.add_argument("--no-html", dest="html", action="store_false",
                        help=f"skip the HTML report otherwise written to OUTPUT/{REPORT_FILE}")
    parser.add_argument("--wide", action="store_true", help="show every leaderboard column, however narrow the terminal")
    parser.set_defaults(func=run)


#: quiet the libraries' own progress bars and C++ logs in `segbench run` (segbench shows
#: its own progress); a value the user set is kept. Workers inherit them.
QUIET_LIBRARIES = {"TQDM_DISABLE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def run(args) -> int:
    import os

    for name, value in QUIET_LIBRARIES.items():
        os.environ.setdefault(name, value)
    from ..plugins import load_registry
    from ..suite import SuiteLoadError, load_suite

    err = Console(stderr=True, soft_wrap=True, highlight=False)
    registry = load_registry()
    for problem in registry.problems:
        err.print(f"[yellow]warning:[/] {shown(problem)}", highlight=False)
    try:
        suite = load_suite(args.suite, registry, output=args.output)
    except SuiteLoadError as exc:
        for problem in exc.problems:
            err.print(f"[red]error:[/] {shown(problem)}", highlight=False)
        return 2
    suite.executor = _executor_from_command_line(suite.executor, args)
    for problem in suite.problems:
        err.print(f"[red]error:[/] {shown(problem)} (entry skipped)", highlight=False)
    for note in suite.skipped:
        err.print(f"note: {shown(note)}", highlight=False)
    if args.dry_run:
        return dry_run(suite, registry)
    return run_and_report(suite, registry, args, err)


def _executor_from_command_line(ex: ExecutorSpec, args) -> ExecutorSpec:
    """The suite's executor with the command line's overrides; an address given
    here is confirmed (see the README's distributed section)."""
    tls = ex.tls
    if args.tls_ca_file or args.tls_cert or args.tls_key:
        tls = {"ca_file": args.tls_ca_file, "cert": args.tls_cert, "key": args.tls_key}
    return ExecutorSpec(
        args.executor or ex.kind,
        args.workers or ex.workers,
        args.address or ex.address,
        tls,
        address_confirmed=bool(args.address),
    )


def dry_run(suite, registry) -> int:
    from ..run.runner import plan_suite
    from .report import table_console

    console = table_console()
    plan = plan_suite(suite, registry, generate=False, console=Console(stderr=True, soft_wrap=True, highlight=False))
    table = Table(title=f"suite {suite.name}: matrix", title_justify="left")
    for column in ("dataset", "segmenter config", "post-processing variants", "train", "images", "cached"):
        table.add_column(column, overflow="fold")
    counts = Counter((c.job.dataset, c.job.config.config_id) for c in plan.cells)
    cached = Counter((c.job.dataset, c.job.config.config_id) for c in plan.cells if c.cached)
    for spec in suite.datasets:
        for config in suite.configs:
            key = (spec.name, config.config_id)
            n_variants = len(config.postprocess_grid)
            if spec.name in plan.pending_datasets:
                images, done = plan.pending_datasets[spec.name], "not generated yet"
            else:
                images, done = counts.get(key, 0), f"{cached.get(key, 0)}/{counts.get(key, 0)}"
            table.add_row(
                shown(spec.name), shown(config.variant_label({})), str(n_variants),
                "yes" if config.train is not None else "-", str(images), done,
            )
    console.print(table)
    predictions, cached, trainings = plan.expected_work()
    pending = len(plan.pending_datasets)
    console.print(
        f"{_count(predictions, 'prediction')} planned ({cached} cached), {_count(trainings, 'training')}"
        + (f", {_count(pending, 'dataset')} to generate" if pending else "")
        + f"; executor: {suite.executor.kind} x{suite.executor.workers}; output: {shown(suite.output)}"
    )
    for failure in plan.failures:
        Console(stderr=True, soft_wrap=True, highlight=False).print(
            f"[red]error:[/] {shown(failure)}", highlight=False, soft_wrap=True
        )
    return 1 if plan.failures or suite.problems else 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def run_and_report(suite, registry, args, err: Console) -> int:
    from ..errors import SegbenchError
    from ..leaderboard import build_leaderboards
    from ..run.output import suite_record
    from ..run.progress import group_failures
    from ..run.runner import run_suite
    from .report import print_agreement, print_boards

    def quiet_libraries(output):  # once the output folder is claimed, its log takes what libraries print
        return library_output_to(output / LOGS_DIR / LIBRARY_LOG, err)

    try:
        with _sigterm_as_interrupt():
            summary = run_suite(suite, registry, console=err, csv=args.csv, around=quiet_libraries)
    except SegbenchError as exc:
        err.print(f"[red]error:[/] {shown(exc)}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err.print(
            f"interrupted: every finished cell is kept in {shown(suite.output)}; "
            "run the same command again to resume where it stopped",
            highlight=False,
        )
        return 130
    results = summary.results
    report_path = None
    if results is not None and not results.empty:
        boards = build_leaderboards(results, suite.metrics.rank_by, suite.metrics.iou_thresholds)
        print_boards(boards, args.format, wide=args.wide)
        print_agreement(results, suite_record(suite), boards[0].rank_by.key, args.format)
        if args.plots:
            from ..report.plots import plot_threshold_curves

            plot_threshold_curves(results, boards, suite.output / PLOTS_DIR)
        if args.html:
            report_path = write_report(suite, results, err)
    err.print(
        f"{summary.n_cells} predictions: {summary.n_done} computed, {summary.n_cached} cached, "
        f"{summary.n_failed} failed in {summary.seconds:.1f} s; results in {shown(suite.output)}",
        highlight=False,
    )
    for line in group_failures(summary.failures):
        err.print(f"[red]failed:[/] {shown(line)}", highlight=False, soft_wrap=True)
    for warning in summary.result_warnings:
        err.print(f"[yellow]warning:[/] {shown(warning)}", highlight=False, soft_wrap=True)
    if report_path is not None:
        err.print(f"HTML report: {shown(report_path)}", highlight=False)
    if summary.n_cells == 0 and summary.failures:
        return 2  # nothing could run at all (e.g. no dataset could be read)
    return 0 if summary.ok and not suite.problems else 1


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM stops a run like Ctrl-C: cells are kept, run.json says so, workers end."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def write_report(suite, results, err: Console):
    """Write OUTPUT/report.html, showing images from the suite's own dataset
    folders; a problem is a warning, never a failed run. Returns the path, or None."""
    from ..errors import SegbenchError
    from ..report import load_suite_record
    from ..report.html import write_html_report
    from ..run.data import dataset_folder

    output = suite.output
    folders = [dataset_folder(spec, output) for spec in suite.datasets]
    try:
        return write_html_report(output, results=results, suite=load_suite_record(output), dataset_folders=folders)
    except (SegbenchError, OSError, ValueError) as exc:
        err.print(f"[yellow]warning:[/] HTML report not written: {shown(exc)}", highlight=False)
        return None
