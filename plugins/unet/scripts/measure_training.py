"""Train one of unet / vnet / u2net on a suite's procedural dataset and score it.

Generates the suite dataset's images with its generator parameters, trains on
the first ``--train`` images through the segmenter's ``fit`` (from scratch),
loads the result as a prediction worker would (``load``), and prints the
training time (wall and CPU seconds: on a loaded machine the CPU
seconds of a 1-thread run are the better estimate of the time alone), the network time per test image and F1 at IoU 0.5 pooled over
the test images (segbench's metrics) for each ``interior_threshold``. This is
where the numbers in README.md come from.

    python plugins/unet/scripts/measure_training.py suites/fluorescent.yaml nuclei-clean unet \\
        --params '{"variant": "padded"}' --train-settings '{"epochs": 15}' --threads 2

``--folder DIR`` trains and tests on a dataset folder instead (``images/`` +
``masks/``; the first ``--train`` images train, the next ``--test`` test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path)
    parser.add_argument("dataset")
    parser.add_argument("segmenter", choices=["unet", "vnet", "u2net"])
    parser.add_argument("--params", type=json.loads, default={}, help="constructor params, JSON")
    parser.add_argument("--train-settings", type=json.loads, default={}, help="fit settings, JSON")
    parser.add_argument("--train", type=int, default=16, help="train images (default 16)")
    parser.add_argument("--test", type=int, default=8, help="held-out test images (default 8)")
    parser.add_argument("--interior", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    parser.add_argument("--folder", type=Path, help="a dataset folder instead of the suite's dataset")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    import yaml

    import segbench
    from segbench.metrics import match
    from segbench_unet.segmenter import U2NetSegmenter, UNetSegmenter, VNetSegmenter

    torch.set_num_threads(args.threads)
    cls = {"unet": UNetSegmenter, "vnet": VNetSegmenter, "u2net": U2NetSegmenter}[args.segmenter]
    samples = _samples(args)
    train = segbench.Dataset(args.dataset, samples[: args.train])
    test = samples[args.train : args.train + args.test]
    print(f"{args.dataset}: {len(train)} train / {len(test)} test images, torch threads {args.threads}, "
          f"{platform.processor() or platform.machine()}, load average {os.getloadavg()[0]:.1f}")
    workdir = Path(tempfile.mkdtemp(prefix="unet-measure-"))
    start, cpu = time.perf_counter(), time.process_time()
    cls(**args.params).fit(train, workdir, seed=args.seed, **args.train_settings)
    fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    segmenter = cls(**args.params)
    segmenter.load(workdir)
    history = segmenter.describe()["training"]
    print(f"{args.segmenter} {args.params} train {args.train_settings}: fit {fit_s:.0f} s wall, {fit_cpu:.0f} CPU-s "
          f"(best epoch {history['best_epoch']}, patch {history['patch_shape']})")
    start, cpu = time.perf_counter(), time.process_time()
    raws = [segmenter.predict_raw(s.image) for s in test]
    per_image = (time.perf_counter() - start) / len(test)
    per_image_cpu = (time.process_time() - cpu) / len(test)
    scores = []
    for threshold in args.interior:
        tp = fp = fn = 0
        for sample, raw in zip(test, raws):
            row = match(sample.labels, segmenter.postprocess(raw, interior_threshold=threshold))[0]
            tp, fp, fn = tp + row["tp"], fp + row["fp"], fn + row["fn"]
        scores.append(f"{threshold:.1f}: {2 * tp / max(2 * tp + fp + fn, 1):.3f}")
    print(f"network {per_image:.2f} s/image wall, {per_image_cpu:.2f} CPU-s/image; F1@0.5 by interior_threshold " + ", ".join(scores))


def _samples(args):
    from segbench.builtin.procedural import Procedural

    if args.folder is not None:
        from segbench.io.datasets import read_dataset

        return read_dataset(args.folder)[0][: args.train + args.test]
    import yaml

    spec = next(d for d in yaml.safe_load(args.suite.read_text())["datasets"] if d["name"] == args.dataset)
    params = {k: v for k, v in spec["params"].items() if k != "n_images"}
    return list(Procedural(**params).generate(args.train + args.test, seed=args.seed))


if __name__ == "__main__":
    main()
