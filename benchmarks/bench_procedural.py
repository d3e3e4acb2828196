"""How fast the ``procedural`` generator is, on one core.

The budget: 100 images of 512 x 512 in under a minute. Prints, per setting,
wall-clock and CPU seconds for the images, images per CPU second, and the CPU
time per 100 images as a fraction of the budget (< 1 means within it). CPU
time is the process's own (``time.process_time``), so the numbers hold on a
machine shared with other work, where wall-clock time includes waiting::

    python benchmarks/bench_procedural.py            # 100 images per setting
    python benchmarks/bench_procedural.py --n 20     # a quicker look

Settings: the defaults at 512 x 512 (object density kept, so 4x the objects of
the default 256 x 256), the crowded, noisy variant of docs/procedural.md at
512 x 512 (4x its objects), and 3D stacks (counted per stack, not budgeted).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, before numpy is imported

import argparse  # noqa: E402
import time  # noqa: E402

from segbench.builtin.procedural import Procedural  # noqa: E402

#: seconds allowed for 100 images of 512 x 512
BUDGET_S = 60.0

SETTINGS = {
    "default, 512x512": dict(shape=[512, 512], n_objects=120),
    "crowded-noisy, 512x512": dict(
        shape=[512, 512], n_objects=[240, 320], placement="clustered", n_clusters=16,
        cluster_spread=50.0, touching_fraction=0.5, touching_overlap=0.25, intensity=60.0,
        intensity_cv=0.4, texture_strength=0.3, background=30.0, background_variation=0.3,
        illumination_falloff=0.5, psf_sigma=1.5, read_noise=4.0,
    ),
    "spots, 512x512": dict(shape=[512, 512], n_objects=120, spots_per_object=4),
    "3D 32x256x256": dict(shape=[32, 256, 256], n_objects=40, z_step=1.0, pixel_size=0.25),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="images per 2D setting (default 100)")
    args = parser.parse_args()
    print(f"{'setting':<26}{'images':>8}{'wall s':>9}{'cpu s':>9}{'images/s':>10}{'cpu per 100 / budget':>22}")
    for name, params in SETTINGS.items():
        n = args.n if not name.startswith("3D") else max(1, args.n // 10)
        generator = Procedural(**params)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in generator.generate(n, seed=0):
            pass
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        ratio = "" if name.startswith("3D") else f"{cpu / n * 100 / BUDGET_S:.2f}"
        print(f"{name:<26}{n:>8}{wall:>9.2f}{cpu:>9.2f}{n / cpu:>10.1f}{ratio:>22}")

if __name__ == "__main__":
    main()
