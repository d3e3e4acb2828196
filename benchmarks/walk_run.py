"""How far a reader walks through segbench's files to follow ``segbench run``.

Runs a tiny suite in this process (two 48 x 48 procedural images to train
on, two to test; the ``segbench.testing`` reference plugins ``blob-threshold``
and ``trainable-threshold`` with ``train:``; the local executor) through
``segbench run`` under :func:`sys.setprofile`, from the command line until
the first cell is stored (:meth:`segbench.run.store.ResultStore.write`
returns).

The walk is what a reader does who follows each function the first time it
is called: at every first call of a function in scope, the reader is in the
calling file (the nearest caller in scope), then in the called one. The
files met that way, with repeats in a row merged, are the walk's *stops*; a
stop in a file the walk had already left is a *return*. The "calls only"
line counts the same way over the files of the called functions alone (a
reader who jumps to each definition but never back to the caller). In scope are the
files that carry a run from the suite to a stored cell: ``segbench/cli/``
(``__init__`` and ``run``), ``segbench/suite/`` and ``segbench/run/``;
calls into the libraries below them (io, metrics, plugins, results, api,
the built-in generators) are leaves and not counted.

Usage::

    python benchmarks/walk_run.py            # stops, returns and the walk per phase
    python benchmarks/walk_run.py --json F   # also write the numbers as JSON

Nothing is timed; the numbers are deterministic for a given source tree.
"""

from __future__ import annotations

import argparse
import inspect
import contextlib
import io
import json
import sys
import tempfile
import textwrap
from pathlib import Path

import segbench

PACKAGE = Path(segbench.__file__).resolve().parent
#: folders (relative to the package) whose files are in scope, and single files
SCOPE_FOLDERS = ("suite", "run")
SCOPE_FILES = ("cli/__init__.py", "cli/run.py")
#: the functions that name a phase of the walk while they run
PHASES = ("load_suite", "plan_suite")

SUITE = """\
name: walk
seed: 0
output: {output}
datasets:
  - name: blobs
    generator: procedural
    params: {{n_images: 4, shape: [48, 48]}}
    split: {{train: 2, test: 2}}
segmenters:
  - name: blob-threshold
    params: {{threshold: [0.4, 0.6]}}
  - name: trainable-threshold
    train: {{margin: 0.0}}
metrics: {{iou_thresholds: [0.5]}}
executor: {{kind: local}}
"""


def in_scope(filename: str) -> str | None:
    """``filename`` relative to the package when it is in scope, else None."""
    try:
        relative = Path(filename).resolve().relative_to(PACKAGE).as_posix()
    except ValueError:
        return None
    if relative in SCOPE_FILES or relative.split("/")[0] in SCOPE_FOLDERS:
        return relative
    return None


class Walk:
    """Records the walk (see the module docstring) until the first cell is stored."""

    def __init__(self) -> None:
        self.seen: set = set()
        self.stops: list[tuple[str, str, str]] = []  # (file, phase, the function the walk is in)
        self.phase = "cli"
        self.done = False
        #: the file of each function called, in first-call order (the walk without the way back)
        self.calls: list[str] = []

    def _phase(self, frame) -> str:
        """``load_suite`` or ``plan_suite`` while one of them is on the stack;
        else ``cli`` before planning and ``execute`` after it."""
        while frame is not None:
            if frame.f_code.co_name in PHASES and in_scope(frame.f_code.co_filename):
                return frame.f_code.co_name
            frame = frame.f_back
        return "cli" if self.phase in ("cli", "load_suite") else "execute"

    def _stop(self, file: str, function: str) -> None:
        if not self.stops or self.stops[-1][0] != file:
            self.stops.append((file, self.phase, function))

    def profile(self, frame, event, arg) -> None:
        if self.done:
            return
        code = frame.f_code
        if event == "return" and code.co_name == "write" and frame.f_globals.get("__name__") == "segbench.run.store":
            self.done = True
            return
        if event != "call" or code in self.seen or not code.co_flags & inspect.CO_OPTIMIZED:
            return  # module and class bodies run at import: not the walk
        file = in_scope(code.co_filename)
        if file is None:
            return
        self.seen.add(code)
        self.phase = self._phase(frame)
        caller = frame.f_back
        while caller is not None and in_scope(caller.f_code.co_filename) is None:
            caller = caller.f_back
        if caller is not None:
            self._stop(in_scope(caller.f_code.co_filename), caller.f_code.co_qualname)
        self._stop(file, code.co_qualname)
        self.calls.append(file)

    def numbers(self) -> dict:
        left: set[str] = set()
        returns: list[int] = []
        per_phase: dict[str, dict[str, int]] = {}
        for i, (file, phase, _) in enumerate(self.stops):
            if i:
                left.add(self.stops[i - 1][0])
            returned = file in left
            returns.append(returned)
            counts = per_phase.setdefault(phase, {"stops": 0, "returns": 0})
            counts["stops"] += 1
            counts["returns"] += returned
        jumps = [f for i, f in enumerate(self.calls) if not i or self.calls[i - 1] != f]
        return {
            "stops": len(self.stops),
            "returns": sum(returns),
            "calls_only": {"stops": len(jumps), "returns": len(jumps) - len(set(jumps))},
            "files": len({stop[0] for stop in self.stops}),
            "phases": per_phase,
            "walk": [f"{'*' if r else ' '} {phase:<10} {file:<18} {function}"
                     for (file, phase, function), r in zip(self.stops, returns)],
        }


def walk(folder: Path) -> dict:
    """Run the tiny suite into ``folder`` under the profiler; returns :meth:`Walk.numbers`."""
    from segbench import testing
    from segbench.cli import main
    from segbench.plugins import load_registry

    suite = folder / "suite.yaml"
    suite.write_text(SUITE.format(output=folder / "out"))
    registry = load_registry(extra=[(testing, "segbench-testing", "1.0")])
    import segbench.plugins as plugins

    original = plugins.load_registry
    plugins.load_registry = lambda *a, **k: registry  # the CLI finds the reference plugins too
    recorder = Walk()
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
            sys.setprofile(recorder.profile)
            main(["run", str(suite), "--no-html", "--no-plots"])
    except Exception:  # noqa: BLE001 - what comes after the first stored cell is not measured
        if not recorder.done:
            raise
    finally:
        sys.setprofile(None)
        plugins.load_registry = original
    if not recorder.done:
        raise SystemExit(f"the run stored no cell; it said:\n{said.getvalue()}")
    return recorder.numbers()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    parser.add_argument("--quiet", action="store_true", help="print the totals only, not the walk")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="segbench-walk-") as tmp:
        numbers = walk(Path(tmp))
    if not args.quiet:
        print("the walk (* = a return to a file already left):")
        print(textwrap.indent("\n".join(numbers["walk"]), "  "))
    for phase, counts in numbers["phases"].items():
        print(f"{phase:<11} {counts['stops']:>3} stops, {counts['returns']:>3} returns")
    print(f"{'total':<11} {numbers['stops']:>3} stops, {numbers['returns']:>3} returns, {numbers['files']} files")
    calls = numbers["calls_only"]
    print(f"{'calls only':<11} {calls['stops']:>3} stops, {calls['returns']:>3} returns "
          "(the files of the functions called, in order, without the way back to each caller)")
    if args.json:
        Path(args.json).write_text(json.dumps({k: v for k, v in numbers.items()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
