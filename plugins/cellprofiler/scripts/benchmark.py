"""Per-image time of the cellprofiler plugin against the `cellprofiler` command.

Both run the same pipeline (default: the shipped one) on the same folder of
procedural nuclei images (nuclei-clean of suites/fluorescent.yaml), in the same
CellProfiler environment:

- the plugin: one CellProfiler process started once (start-up = start + load of
  the pipeline), then the images sent one by one;
- the command: ``cellprofiler -c -r -p PIPELINE -i FOLDER -o OUT -e imageio_reader``,
  once on one image (start-up + one image) and once on the whole folder; its
  per-image time is the difference divided by the extra images.

It also checks that both give the same label images. Usage (from the checkout)::

    .venv/bin/python plugins/cellprofiler/scripts/benchmark.py [--images 16] [--pipeline P]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from segbench.builtin.procedural import Procedural
from segbench_cellprofiler import SHIPPED_PIPELINE, CellProfilerSegmenter

#: suites/fluorescent.yaml, nuclei-clean
NUCLEI_CLEAN = dict(
    shape=(256, 256), n_objects=20, touching_fraction=0.0, intensity=1000.0, intensity_cv=0.15,
    edge_darkening=0.2, texture_strength=0.1, background=10.0, background_variation=0.1, read_noise=1.5,
)


def run_command(segmenter: CellProfilerSegmenter, folder: Path, out: Path) -> float:
    """Seconds the `cellprofiler` command takes on ``folder``."""
    command = Path(segmenter.python).parent / "cellprofiler"
    args = [str(command), "-c", "-r", "-p", str(segmenter.pipeline), "-i", str(folder), "-o", str(out), "-e", "imageio_reader"]
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16, help="images in the folder (default 16)")
    parser.add_argument("--pipeline", default=str(SHIPPED_PIPELINE), help="a .cppipe (default: the shipped one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cellprofiler-benchmark-") as tmp:
        tmp = Path(tmp)
        folder, single = tmp / "images", tmp / "single"
        folder.mkdir()
        single.mkdir()
        samples = list(Procedural(**NUCLEI_CLEAN).generate(args.images, seed=0))
        for sample in samples:
            tifffile.imwrite(folder / f"{sample.name}.tif", sample.image)
        tifffile.imwrite(single / f"{samples[0].name}.tif", samples[0].image)

        segmenter = CellProfilerSegmenter(pipeline=args.pipeline)
        start = time.perf_counter()
        segmenter.describe()  # starts CellProfiler, loads the pipeline
        plugin_startup = time.perf_counter() - start
        plugin_times, predictions = [], []
        for sample in samples:
            start = time.perf_counter()
            predictions.append(segmenter.predict(sample.image))
            plugin_times.append(time.perf_counter() - start)

        one = run_command(segmenter, single, tmp / "out-single")
        many = run_command(segmenter, folder, tmp / "out")
        command_per_image = (many - one) / (len(samples) - 1)
        same = sum(
            np.array_equal(tifffile.imread(tmp / "out" / f"{sample.name}_labels.tiff"), labels)
            for sample, labels in zip(samples, predictions)
        )

    print(f"pipeline: {args.pipeline}; {len(samples)} images {NUCLEI_CLEAN['shape']}; CellProfiler {segmenter.describe()['cellprofiler']}")
    print(f"{'':28s}{'start-up s':>12s}{'per image s':>13s}")
    print(f"{'segbench plugin (driver)':28s}{plugin_startup:12.2f}{statistics.median(plugin_times):13.3f}   (median; mean {statistics.mean(plugin_times):.3f})")
    print(f"{'cellprofiler command':28s}{one - command_per_image:12.2f}{command_per_image:13.3f}   ({len(samples)} images: {many:.1f} s, 1 image: {one:.1f} s)")
    print(f"identical label images: {same}/{len(samples)}")


if __name__ == "__main__":
    main()
