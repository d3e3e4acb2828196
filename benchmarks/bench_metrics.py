"""Time segbench.metrics against StarDist and Cellpose on the same label images.

Not a test: it prints timings and ratios. Run from the repository root::

    .venv/bin/python benchmarks/bench_metrics.py           # the cases of benchmarks/README.md
    .venv/bin/python benchmarks/bench_metrics.py --quick   # smaller images, a few seconds

Cases (10 IoU thresholds 0.50:0.05:0.95 each):

a. one 2048x2048 pair with about 2000 objects on each side;
b. 100 pairs of 512x512 with about 150 objects;
c. one 3D pair of 64x256x256.

Each ground truth is a Voronoi tessellation clipped to disks (balls) around
its seeds; its prediction is the ground truth shifted by up to two pixels,
with 5% of the objects missing, 5% merged with a neighbour, 5% split in two
and a few false positives added, relabelled to 1..n so that all three
libraries see the same objects (Cellpose 3 counts ids up to the maximum).

Timed, per case:

- segbench: ``match`` on every pair, then ``pool`` (the counts and scores
  StarDist's ``matching_dataset`` returns);
- segbench all: ``evaluate_dataset`` (those plus SEG, AJI and the DSB score);
- stardist: ``stardist.matching.matching_dataset(..., by_image=False)``;
- cellpose: ``cellpose.metrics.average_precision``;
- floor: ``np.bincount(gt * (pred.max() + 1) + pred)`` per pair, the joint
  histogram of the pixel pairs that any exact method has to build.

Every method runs twice in a row in each of ``--repeat`` rounds, the
rounds alternating between the methods so that the changing load of a
shared machine hits all of them alike, and its fastest run is kept; the
peers' numba code is compiled by a warm-up call first. The ratios use CPU
time (``time.process_time``; every method runs on one thread), which the
load of other processes on a shared machine disturbs far less than wall
time; the fastest wall times are printed too. Peak
memory is what tracemalloc sees numpy allocate during segbench's ``match``
+ ``pool`` of one pair, relative to the bytes of its two input label
images. The script also checks that the three libraries agree on tp at
every threshold.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc

for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402
from skimage.segmentation import relabel_sequential  # noqa: E402

from segbench.metrics import DSB_THRESHOLDS, evaluate_dataset, match, pool  # noqa: E402

THRESHOLDS = list(DSB_THRESHOLDS)


def voronoi_cells(rng: np.random.Generator, shape: tuple[int, ...], n_objects: int) -> np.ndarray:
    """Label image (int32) of ``n_objects`` Voronoi cells clipped to balls around their seeds."""
    seeds = rng.integers(0, np.array(shape), size=(n_objects, len(shape)))
    markers = np.zeros(shape, np.int32)
    markers[tuple(seeds.T)] = np.arange(1, n_objects + 1, dtype=np.int32)
    distance, nearest = ndi.distance_transform_edt(markers == 0, return_indices=True)
    labels = markers[tuple(nearest)]
    # Clip each cell to a ball of radius 0.6 * (pixels per object) ** (1 / ndim):
    # neighbours still touch, and some background is left.
    labels[distance > 0.6 * (np.prod(shape) / n_objects) ** (1 / len(shape))] = 0
    return relabel_sequential(labels)[0].astype(np.int32)


def perturbed_prediction(rng: np.random.Generator, gt: np.ndarray) -> np.ndarray:
    """``gt`` shifted, with objects missing, merged, split and added, relabelled 1..n."""
    pred = np.roll(gt, tuple(rng.integers(-2, 3, size=gt.ndim)), axis=tuple(range(gt.ndim)))
    top = int(pred.max())
    lookup = np.arange(top + 1, dtype=np.int64)
    ids = np.arange(1, top + 1)
    fraction = max(1, int(0.05 * top))
    lookup[rng.choice(ids, fraction, replace=False)] = 0  # missing
    left, right = pred[..., :-1].ravel(), pred[..., 1:].ravel()
    borders = (left > 0) & (right > 0) & (left != right)
    touching = np.unique(np.stack([left[borders], right[borders]]), axis=1)
    for a, b in touching[:, rng.permutation(touching.shape[1])[:fraction]].T:
        if lookup[a] == a and lookup[b] == b:
            lookup[b] = a  # merged
    pred = lookup[pred]
    split = rng.choice(ids, fraction, replace=False)
    column = np.broadcast_to(np.arange(gt.shape[-1]), gt.shape)
    sizes = np.bincount(pred.ravel(), minlength=top + 1)
    column_sums = np.bincount(pred.ravel(), weights=column.ravel(), minlength=top + 1)
    centre = column_sums / np.maximum(sizes, 1)
    halves = np.isin(pred, split) & (column > centre[pred])
    pred[halves] += top + 1  # split: the right half of each becomes its own object
    for _ in range(fraction):  # false positives: small balls in the background
        add_ball(pred, rng.integers(3, np.array(gt.shape) - 3), int(pred.max()) + 1)
    return relabel_sequential(pred)[0].astype(np.int32)


def add_ball(labels: np.ndarray, centre: np.ndarray, label: int, radius: int = 3) -> None:
    """Paint a ball of ``label`` around ``centre`` where ``labels`` is background."""
    window = tuple(slice(c - radius, c + radius + 1) for c in centre)
    offsets = np.indices((2 * radius + 1,) * labels.ndim) - radius
    inside = (offsets**2).sum(axis=0) <= radius**2
    region = labels[window]
    region[inside & (region == 0)] = label


def case_pairs(rng: np.random.Generator, shape: tuple[int, ...], n_objects: int, n_pairs: int):
    """``n_pairs`` (gt, pred) pairs of the given shape."""
    pairs = []
    for _ in range(n_pairs):
        gt = voronoi_cells(rng, shape, n_objects)
        pairs.append((gt, perturbed_prediction(rng, gt)))
    return pairs


def segbench_pooled(pairs):
    return pool(row for gt, pred in pairs for row in match(gt, pred, THRESHOLDS))


def segbench_all(pairs):
    return evaluate_dataset(
        ((str(i), gt, pred) for i, (gt, pred) in enumerate(pairs)), THRESHOLDS
    )


def stardist_pooled(pairs):
    from stardist.matching import matching_dataset

    return matching_dataset(
        [gt for gt, _ in pairs], [pred for _, pred in pairs], thresh=THRESHOLDS, show_progress=False
    )


def cellpose_ap(pairs):
    from cellpose.metrics import average_precision

    return average_precision(
        [gt for gt, _ in pairs], [pred for _, pred in pairs], threshold=THRESHOLDS
    )


def bincount_floor(pairs):
    for gt, pred in pairs:
        np.bincount(gt.ravel().astype(np.intp) * (int(pred.max()) + 1) + pred.ravel())


def fastest_rounds(functions: dict, pairs, rounds: int, runs: int = 2):
    """Fastest CPU time and wall time of each function, and its last result, by name.

    In each round every function runs ``runs`` times in a row (so it meets
    its own warm caches and allocator, as in a loop over many images), and
    rounds alternate between the functions (so that the changing load of a
    shared machine hits all of them alike).
    """
    cpu = {name: float("inf") for name in functions}
    wall = dict(cpu)
    results = {}
    for _ in range(rounds):
        for name, function in functions.items():
            for _ in range(runs):
                start_cpu, start_wall = time.process_time(), time.perf_counter()
                results[name] = function(pairs)
                cpu[name] = min(cpu[name], time.process_time() - start_cpu)
                wall[name] = min(wall[name], time.perf_counter() - start_wall)
    return cpu, wall, results


def peak_memory(function, pairs) -> int:
    """Bytes allocated at the peak of ``function(pairs)``, as tracemalloc sees them."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    function(pairs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def peers_available() -> dict[str, bool]:
    available = {}
    for name in ("stardist", "cellpose"):
        try:
            __import__(name)
            available[name] = True
        except ImportError:
            available[name] = False
    return available


def run_case(title: str, pairs, repeat: int, peers: dict[str, bool]) -> None:
    input_bytes = max(gt.nbytes + pred.nbytes for gt, pred in pairs)
    n_true = np.mean([gt.max() for gt, _ in pairs])
    n_pred = np.mean([pred.max() for _, pred in pairs])
    print(f"\n{title}: {len(pairs)} pair(s) of {pairs[0][0].shape} {pairs[0][0].dtype}, "
          f"{n_true:.0f} true / {n_pred:.0f} predicted objects per image")
    functions = {"segbench": segbench_pooled, "segbench all": segbench_all, "floor": bincount_floor}
    if peers["stardist"]:
        functions["stardist"] = stardist_pooled
    if peers["cellpose"]:
        functions["cellpose"] = cellpose_ap
    times, wall, results = fastest_rounds(functions, pairs, repeat)
    ours = results["segbench"]
    agree = []
    if "stardist" in results:
        agree.append(("stardist", [r.tp for r in results["stardist"]]))
    if "cellpose" in results:
        _, tp, _, _ = results["cellpose"]
        agree.append(("cellpose", [int(v) for v in np.atleast_2d(tp).sum(axis=0)]))
    print(f"  {'':13s} {'CPU ms':>10s} {'wall ms':>10s}")
    for name, seconds in times.items():
        print(f"  {name:13s} {seconds * 1e3:10.1f} {wall[name] * 1e3:10.1f}")
    peer_times = [times[name] for name in ("stardist", "cellpose") if name in times]
    if peer_times:
        print(f"  faster peer / segbench     : {min(peer_times) / times['segbench']:8.1f}x")
        print(f"  faster peer / segbench all : {min(peer_times) / times['segbench all']:8.1f}x")
    print(f"  segbench / bincount floor  : {times['segbench'] / times['floor']:8.2f}x")
    print(f"  segbench all / floor       : {times['segbench all'] / times['floor']:8.2f}x")
    peak = peak_memory(segbench_pooled, pairs[:1])
    print(f"  peak memory (one pair)     : {peak / 2**20:.1f} MiB = "
          f"{peak / input_bytes:.2f}x the two input arrays ({input_bytes / 2**20:.1f} MiB)")
    our_tp = [row["tp"] for row in ours]
    for name, their_tp in agree:
        print(f"  tp agrees with {name:8s}   : {'yes' if their_tp == our_tp else 'NO'} {our_tp}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller images, for a smoke run")
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of timings (the fastest run is kept)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    peers = peers_available()
    machine = platform.processor() or platform.machine()
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, {machine}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, peers: "
          + ", ".join(f"{name} {'yes' if ok else 'not installed'}" for name, ok in peers.items()))
    for name, function in (("stardist", stardist_pooled), ("cellpose", cellpose_ap)):
        if peers[name]:  # compile their numba kernels (per ndim) outside the timings
            function(case_pairs(rng, (64, 64), 10, 1))
            function(case_pairs(rng, (16, 32, 32), 10, 1))
    if args.quick:
        cases = [
            ("a (quick)", case_pairs(rng, (512, 512), 150, 1)),
            ("b (quick)", case_pairs(rng, (256, 256), 40, 10)),
            ("c (quick)", case_pairs(rng, (32, 64, 64), 30, 1)),
        ]
    else:
        cases = [
            ("a", case_pairs(rng, (2048, 2048), 2000, 1)),
            ("b", case_pairs(rng, (512, 512), 150, 100)),
            ("c", case_pairs(rng, (64, 256, 256), 400, 1)),
        ]
    for title, pairs in cases:
        run_case(title, pairs, args.repeat, peers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
