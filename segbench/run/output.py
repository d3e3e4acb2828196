"""The output folder: claimed for segbench, locked for one run, described.

A run writes only into a folder that is new, empty or segbench's own (it
holds :data:`segbench.results.OUTPUT_MARKER`), holds the folder's lock while
it writes (a second run into it stops with one line), and leaves
``suite.json`` there for ``segbench report``.
"""

from __future__ import annotations

import os
import json
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, ContextManager

from .. import __version__
from ..errors import SegbenchError
from ..results import LOCK_FILE, OUTPUT_MARKER, SUITE_RECORD
from ..suite import Suite
from .data import dataset_folder
from .executors import check_address
from ..io import atomic_write_text

__all__ = ["open_output", "claim_output", "output_lock", "suite_record"]


@contextmanager
def open_output(suite: Suite, around: Callable[[Path], ContextManager] | None = None):
    """The block a run writes in: before anything is written, a Dask scheduler
    on another machine is refused unless the user confirmed it; then the
    output folder is claimed (:func:`claim_output`) and locked
    (:func:`output_lock`), ``around(output)`` is entered when given (``segbench
    run`` sends library output to a log file there), and ``suite.json`` is
    written."""
    check_address(suite.executor.address, suite.executor.address_confirmed)
    claim_output(suite.output)
    with output_lock(suite.output), (around or (lambda _: nullcontext()))(suite.output):
        atomic_write_text(suite.output / SUITE_RECORD, json.dumps(suite_record(suite), indent=2))
        yield


def suite_record(suite: Suite) -> dict[str, Any]:
    """What ``segbench report`` needs to know about the suite (``suite.json``)."""
    return {
        "name": suite.name,
        "path": str(suite.path),
        "seed": suite.seed,
        "iou_thresholds": list(suite.metrics.iou_thresholds),
        "criterion": suite.metrics.criterion,
        "rank_by": suite.metrics.rank_by,
        "datasets": [
            {"name": d.name, "folder": str(dataset_folder(d, suite.output)), "reference": d.reference}
            for d in suite.datasets
        ],
    }


@contextmanager
def output_lock(output: Path):
    """Hold the output folder's lock for the block; a second run into the same
    folder stops at once with one line instead of interleaving its writes."""
    from filelock import FileLock, Timeout

    path = output / LOCK_FILE
    if path.is_symlink() or (path.exists() and not path.is_file()):
        kind = "a link" if path.is_symlink() else "a folder" if path.is_dir() else "a special file"
        raise SegbenchError(
            f"{path}: is {kind}, not segbench's lock file; remove it (segbench makes its own), then run again"
        )
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise SegbenchError(
            f"output: another segbench run is writing to {output} (it holds {LOCK_FILE}); "
            "wait for it to finish, or give this run another --output"
        ) from None
    except OSError as exc:  # e.g. /sys or a read-only folder
        raise SegbenchError(
            f"output: cannot lock {output} ({exc.strerror or exc}); choose a folder you can write to"
        ) from None
    try:
        yield
    finally:
        lock.release()


def claim_output(output: Path) -> None:
    """Make ``output`` segbench's: create it, or take an existing folder only
    when it is empty or segbench wrote it (it holds :data:`OUTPUT_MARKER`, or,
    from runs before the marker, the lock file); then mark it. Any
    other folder is the user's own and is never written into."""
    try:
        foreign = output.is_dir() and not _written_by_segbench(output) and any(output.iterdir())
    except OSError as exc:
        raise SegbenchError(f"output: cannot read {output} ({exc.strerror}); choose a folder you can write to") from None
    if foreign:
        raise SegbenchError(
            f"output: {output} already holds files and was not created by segbench (it has no {OUTPUT_MARKER}); "
            "segbench writes only into a new or empty folder: choose one with output: or --output"
        )
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SegbenchError(
            f"output: cannot create {output} ({exc.strerror}); choose a folder you can write to"
        ) from None
    if not os.access(output, os.W_OK | os.X_OK):
        raise SegbenchError(f"output: {output} is not writable; choose a folder you can write to")
    if not (output / OUTPUT_MARKER).is_file():
        atomic_write_text(output / OUTPUT_MARKER, f"written by segbench {__version__}\n")


def _written_by_segbench(folder: Path) -> bool:
    """True when ``folder`` carries segbench's output marker (or, from runs before
    the marker existed, the lock file every run leaves)."""
    return (folder / OUTPUT_MARKER).is_file() or (folder / LOCK_FILE).is_file()
