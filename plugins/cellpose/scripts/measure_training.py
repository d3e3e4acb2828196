"""Measure Cellpose trained from scratch on a procedural dataset of a suite.

Generates the suite dataset's images with its generator parameters, trains on
the first ``--train`` images with the given settings (cellpose's ``train_seg``
through the plugin's ``fit``), loads the result once per ``--bsize`` and prints
the training time, the network time per test image and F1 at IoU 0.5 (pooled
over the test images) for a few ``cellprob_threshold`` values. This is where the numbers in README.md come from.

    python plugins/cellpose/scripts/measure_training.py suites/fluorescent.yaml nuclei-clean \\
        --epochs 40 --crop-size 128 --threads 2
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path)
    parser.add_argument("dataset")
    parser.add_argument("--train", type=int, default=16, help="train images (default 16)")
    parser.add_argument("--test", type=int, default=8, help="held-out test images (default 8)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--crop-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--bsize", type=int, nargs="+", default=[224], help="inference tile sizes to compare")
    parser.add_argument("--cellprob", type=float, nargs="+", default=[-1.0, 0.0, 1.0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    os.environ.setdefault("CELLPOSE_LOCAL_MODELS_PATH", tempfile.mkdtemp(prefix="cellpose-models-"))
    import torch
    import yaml

    import segbench
    from segbench.builtin.procedural import Procedural
    from segbench.metrics import match
    from segbench_cellpose import CellposeSegmenter

    torch.set_num_threads(args.threads)
    spec = next(d for d in yaml.safe_load(args.suite.read_text())["datasets"] if d["name"] == args.dataset)
    params = {k: v for k, v in spec["params"].items() if k != "n_images"}
    samples = list(Procedural(**params).generate(args.train + args.test, seed=args.seed))
    train = segbench.Dataset(args.dataset, samples[: args.train])
    test = samples[args.train :]

    print(f"{args.dataset}: {args.train} train / {args.test} test images {params['shape']}, "
          f"torch threads {args.threads}, {platform.processor() or platform.machine()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    workdir = Path(tempfile.mkdtemp(prefix="cellpose-measure-"))
    settings = dict(epochs=args.epochs, crop_size=args.crop_size, batch_size=args.batch_size,
                    learning_rate=args.learning_rate, seed=args.seed)
    trained = CellposeSegmenter()
    start = time.perf_counter()
    trained.fit(train, workdir, **settings)
    print(f"train {settings}: fit {time.perf_counter() - start:.0f} s, "
          f"diameter {trained.effective_diameter:.1f} px")
    for bsize in args.bsize:
        segmenter = CellposeSegmenter(bsize=bsize)
        segmenter.load(workdir)
        start = time.perf_counter()
        raws = [segmenter.predict_raw(s.image) for s in test]
        per_image = (time.perf_counter() - start) / len(test)
        scores = []
        for threshold in args.cellprob:
            tp = fp = fn = 0
            for sample, raw in zip(test, raws):
                row = match(sample.labels, segmenter.postprocess(raw, cellprob_threshold=threshold))[0]
                tp, fp, fn = tp + row["tp"], fp + row["fp"], fn + row["fn"]
            scores.append(f"{threshold:+.1f}: {2 * tp / max(2 * tp + fp + fn, 1):.3f}")
        print(f"bsize {bsize}: network {per_image:.2f} s/image; F1@0.5 by cellprob_threshold "
              + ", ".join(scores))


if __name__ == "__main__":
    main()
