"""Harness costs, measured (not asserted).

1. Overhead: ``run_suite`` (local executor, data already generated) against a
   bare loop that reads each image, calls the same segmenter and scores it at
   the same thresholds. Target: under 5%.
2. Parallelism: the ``processes`` executor with 2 workers against ``local`` on a
   CPU-bound segmenter. Target: at least 1.7x (needs 2 idle cores).
3. Sweeps: a 5-value post-processing sweep against a single value, with a
   segmenter whose ``predict_raw`` is expensive. Target: under 1.5x.

Usage::

    python benchmarks/bench_harness.py            # full
    python benchmarks/bench_harness.py --quick    # smaller, for a smoke run

Each timing is the best of ``--repeat`` runs, each into a fresh output folder
(so nothing is cached); the generated data is shared.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import textwrap
import time
from pathlib import Path

from segbench import testing
from segbench.plugins import load_registry
from segbench.run.plan import scoring_thresholds
from segbench.run.runner import run_suite
from segbench.suite import load_suite


def write_suite(folder: Path, data: Path, segmenter: str, executor: str = "local", workers: int = 1) -> Path:
    path = folder / "suite.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: bench
            output: {folder / 'out'}
            datasets:
              - name: nuclei
                path: {data}
            segmenters:
            """
        )
        + textwrap.indent(textwrap.dedent(segmenter), "  ")
        + f"executor: {{kind: {executor}, workers: {workers}}}\n"
    )
    return path


def timed_run(root: Path, data: Path, segmenter: str, registry, repeat: int, **executor) -> float:
    best = float("inf")
    for i in range(repeat):
        folder = root / f"run-{time.monotonic_ns()}"
        folder.mkdir()
        suite = load_suite(write_suite(folder, data, segmenter, **executor), registry)
        start = time.perf_counter()
        summary = run_suite(suite, registry)
        best = min(best, time.perf_counter() - start)
        assert summary.ok, summary.failures
        shutil.rmtree(folder)
    return best


def bare_loop(data: Path, make_segmenter, thresholds, repeat: int) -> float:
    """Read, predict and score each image: the work the harness wraps."""
    from segbench.io import find_pairs, read_sample
    from segbench.metrics import evaluate_image

    pairs, _ = find_pairs(data)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        segmenter = make_segmenter()
        for pair in pairs:
            sample = read_sample(pair.image, pair.mask)
            labels = segmenter.predict(sample.image)
            evaluate_image(sample.labels, labels, thresholds=thresholds)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer, smaller images")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, size = (8, 256) if args.quick else (32, 512)

    from segbench.builtin.otsu_watershed import OtsuWatershed
    from segbench.builtin.procedural import Procedural
    from segbench.io import write_dataset

    registry = load_registry(extra=[(testing, "segbench-testing", "bench")])
    root = Path(tempfile.mkdtemp(prefix="segbench-bench-"))
    data = root / "data"
    write_dataset(data, Procedural(shape=(size, size), n_objects=60).generate(n, seed=0))
    print(f"data: {n} procedural images of {size}x{size}")

    # 1. overhead against a bare loop, same segmenter, same thresholds
    probe = load_suite(write_suite(root, data, "- name: otsu-watershed\n"), registry)
    thresholds = scoring_thresholds(probe)
    bare = bare_loop(data, OtsuWatershed, thresholds, args.repeat)
    harness = timed_run(root, data, "- name: otsu-watershed\n", registry, args.repeat)
    overhead = harness / bare - 1

    # 2. processes x2 against local on a CPU-bound segmenter
    # ~0.5 s per 512x512 image, the order of a learned segmenter's CPU prediction
    cpu_bound = "- name: blob-threshold\n  params: {work: 150, sigma: 2.0}\n"
    local = timed_run(root, data, cpu_bound, registry, args.repeat)
    processes = timed_run(root, data, cpu_bound, registry, args.repeat, executor="processes", workers=2)

    # 3. a 5-value post-processing sweep against one value (expensive predict_raw)
    single = timed_run(root, data, "- name: blob-threshold\n  params: {work: 40, threshold: 0.5}\n", registry, args.repeat)
    sweep = timed_run(
        root, data, "- name: blob-threshold\n  params: {work: 40, threshold: [0.3, 0.4, 0.5, 0.6, 0.7]}\n",
        registry, args.repeat,
    )
    shutil.rmtree(root)

    print(f"{'measure':<48}{'seconds':>10}{'ratio':>10}{'target':>12}")
    print(f"{'bare loop: read + otsu-watershed + score':<48}{bare:>10.2f}")
    print(f"{'segbench run, local executor':<48}{harness:>10.2f}{harness / bare:>10.3f}{'< 1.05':>12}")
    print(f"{'  overhead':<48}{'':>10}{overhead:>+10.1%}")
    print(f"{'CPU-bound segmenter, local':<48}{local:>10.2f}{'':>10}  ({local / n:.2f} s/image)")
    print(f"{'CPU-bound segmenter, processes x2':<48}{processes:>10.2f}{local / processes:>10.2f}x{'>= 1.7x':>11}")
    print(f"{'predict_raw segmenter, 1 threshold':<48}{single:>10.2f}")
    print(f"{'predict_raw segmenter, 5-value sweep':<48}{sweep:>10.2f}{sweep / single:>10.2f}x{'< 1.5x':>11}")


if __name__ == "__main__":
    main()
