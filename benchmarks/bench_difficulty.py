"""Time segbench's difficulty features against the morphology features' peer on the same image.

Not a test: it prints timings and their ratio. Run from the repository root::

    .venv/bin/python benchmarks/bench_difficulty.py [--repeat 5]

The image: 49 disks of radius 10 px on a 256 x 256 grid, intensity 100 on 10,
blurred (SD 1 px), Gaussian noise SD 2. Timed, fastest of ``--repeat`` runs of
CPU time (``time.process_time``, one thread):

- difficulty: :func:`segbench.difficulty.difficulty_features` (all nine);
- regionprops: ``skimage.measure.regionprops`` with area, eccentricity and
  solidity read for every object, what ``segbench realism``'s morphology
  features cost per image.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage
from skimage.measure import regionprops

from segbench.difficulty import difficulty_features


def image_with_disks(shape=(256, 256), radius=10, spacing=32, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """``(image, labels)``: the benchmark's image (see the module docstring)."""
    labels = np.zeros(shape, np.int32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for k, (y, x) in enumerate((y, x) for y in range(spacing // 2, shape[0], spacing)
                               for x in range(spacing // 2, shape[1], spacing)):
        labels[(yy - y) ** 2 + (xx - x) ** 2 <= radius**2] = k + 1
    image = ndimage.gaussian_filter(np.where(labels > 0, 100.0, 10.0), 1.0)
    return image + np.random.default_rng(seed).normal(0, 2, shape), labels


def morphology(labels: np.ndarray) -> list[tuple[float, float, float]]:
    return [(r.area, r.eccentricity, r.solidity) for r in regionprops(labels)]


def fastest(call, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        call()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    image, labels = image_with_disks()
    rounds = {"difficulty": lambda: difficulty_features(image, labels), "regionprops": lambda: morphology(labels)}
    seconds = {name: fastest(call, args.repeat) for name, call in rounds.items()}
    for name, s in seconds.items():
        print(f"{name:12s} {s * 1000:7.1f} ms CPU")
    print(f"difficulty / regionprops: {seconds['difficulty'] / seconds['regionprops']:.2f}x")


if __name__ == "__main__":
    main()
