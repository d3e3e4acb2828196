"""Start-up time of the ``segbench`` command and of each in-tree plugin, measured (not asserted).

Each command runs in a fresh Python subprocess (nothing cached in-process; the
OS file cache is warm after the first round). Times are CPU seconds of the
child (user + system, from ``resource.getrusage``), because wall time on a
shared machine mostly measures the other processes; wall seconds are printed
beside them. Each command runs ``--repeat`` times, interleaved with the others
round by round, and the fastest run counts. The peer is ``python -c pass``
(the interpreter's own start-up): every other command is printed as a ratio
to it.

It also says which heavy libraries (torch, tensorflow, cellpose, stardist,
csbdeep, torchvision) ``segbench list`` leaves imported: none, when every
plugin imports them lazily.

Usage::

    python benchmarks/bench_startup.py              # 5 rounds
    python benchmarks/bench_startup.py --repeat 10
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import subprocess
import sys
import time

PLUGINS = ("cellpose", "stardist", "unet", "maskrcnn", "gan", "cellprofiler")
HEAVY = ("torch", "tensorflow", "cellpose", "stardist", "csbdeep", "torchvision")

# `segbench list` run in-process, then the heavy libraries it left in sys.modules.
LIST_THEN_MODULES = (
    "import contextlib, io, sys\n"
    "from segbench.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    main(['list'])\n"
    f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules) or 'none')\n"
)


def commands() -> dict[str, list[str]]:
    """Label -> argv of each timed command; plugins that are not installed are left out."""
    py = sys.executable
    cli = [py, "-m", "segbench"]
    out = {
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import segbench'": [py, "-c", "import segbench"],
        "segbench --help": [*cli, "--help"],
        "segbench list": [*cli, "list"],
    }
    for name in PLUGINS:
        module = f"segbench_{name}"
        if importlib.util.find_spec(module) is not None:
            out[f"python -c 'import {module}'"] = [py, "-c", f"import {module}"]
    return out


def time_once(argv: list[str]) -> tuple[float, float]:
    """(child CPU seconds, wall seconds) of one run of ``argv``; raises if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the fastest run of each command counts")
    args = parser.parse_args(argv)

    todo = commands()
    for cmd in todo.values():  # warm the OS file cache and the bytecode caches
        time_once(cmd)
    best = {label: (float("inf"), float("inf")) for label in todo}
    for _ in range(args.repeat):
        for label, cmd in todo.items():
            cpu, wall = time_once(cmd)
            best[label] = (min(best[label][0], cpu), min(best[label][1], wall))

    floor_cpu = best["python -c pass"][0]
    width = max(map(len, todo))
    print(f"fastest of {args.repeat} runs; ratio = CPU time / CPU time of `python -c pass`")
    print(f"{'command':<{width}}  {'CPU s':>7}  {'wall s':>7}  {'ratio':>6}")
    for label, (cpu, wall) in best.items():
        print(f"{label:<{width}}  {cpu:7.3f}  {wall:7.3f}  {cpu / floor_cpu:6.1f}")

    loaded = subprocess.run(
        [sys.executable, "-c", LIST_THEN_MODULES], check=True, capture_output=True, text=True
    ).stdout.strip()
    print(f"heavy libraries imported by `segbench list`: {loaded}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
