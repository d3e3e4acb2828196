"""Seconds per training step and per image for each Mask R-CNN backbone, and their ratios.

    python plugins/maskrcnn/scripts/bench_maskrcnn.py [--threads 2] [--steps 3] [--backbones ...]

A training step is one optimisation step on ``--batch-size`` procedural 256 x 256
nuclei images (about 20 nuclei each, the default suite's nuclei-clean); an image
is one ``predict_raw`` network pass at 256 x 256 and at 512 x 512 (one tile of
512), with ``--detections`` candidate detections forced (an untrained network's
scores are meaningless, so its score threshold is set to 0 and its detection
count fixed; a trained one finds about as many objects as there are). Wall and
CPU seconds are both printed: on a busy machine the CPU seconds are the more
reproducible measure. Weights are random, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``fn()`` over ``repeats`` calls, after one warm-up."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return float(np.median(wall)), float(np.median(cpu))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="timed repeats per measurement")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--detections", type=int, default=50)
    parser.add_argument("--backbones", nargs="+", default=["resnet50", "resnet18", "mobilenet_v3"])
    args = parser.parse_args(argv)

    import torch

    from segbench.builtin.procedural import Procedural
    from segbench_maskrcnn import data, inference, network, training

    torch.set_num_threads(args.threads)
    clean = dict(n_objects=20, touching_fraction=0.0, intensity=1000.0, read_noise=1.5)
    train = list(Procedural(shape=(256, 256), **clean).generate(args.batch_size, seed=0))
    images = {s: next(Procedural(shape=(s, s), **{**clean, "n_objects": 20 * (s // 256) ** 2}).generate(1, seed=1)).image
              for s in (256, 512)}
    rows = []
    for backbone in args.backbones:
        torch.manual_seed(0)
        arch = network.Architecture(backbone=backbone, anchor_sizes=network.default_anchor_sizes(backbone),
                                    candidate_score_threshold=0.0, max_detections=args.detections)
        model = network.build(arch)
        cpu = torch.device("cpu")
        settings = training.TrainSettings(epochs=1, batch_size=args.batch_size, crop_size=256,
                                          learning_rate=1e-4, weight_decay=1e-4, warmup_fraction=0.0,
                                          grad_clip=10.0)
        norm = [data.normalized(s.image) for s in train]
        labels = [s.labels for s in train]

        def step():
            training.train(model, norm, labels, settings, seed=0, device=cpu)

        row = {"backbone": backbone, "params_M": sum(p.numel() for p in model.parameters()) / 1e6}
        row["step"] = timed(step, args.steps)
        model.eval()
        for size, image in images.items():
            row[f"image{size}"] = timed(
                lambda: inference.detect(model, data.normalized(image), 512, 64, cpu), args.steps
            )
        rows.append(row)
        print(f"{backbone}: {row['params_M']:.1f} M parameters; training step {row['step'][0]:.2f} s "
              f"({row['step'][1]:.2f} CPU s); 256x256 image {row['image256'][0]:.2f} s; "
              f"512x512 image {row['image512'][0]:.2f} s", flush=True)
    base = rows[0]
    print(f"\nthreads {args.threads}, batch {args.batch_size}, {args.detections} detections per image; "
          f"ratios: {base['backbone']} time / backbone time (CPU seconds)")
    print(f"{'backbone':<14}{'M params':>9}{'s/step':>9}{'s/img256':>10}{'s/img512':>10}"
          f"{'x step':>8}{'x 256':>8}{'x 512':>8}")
    for r in rows:
        print(f"{r['backbone']:<14}{r['params_M']:>9.1f}{r['step'][0]:>9.2f}{r['image256'][0]:>10.2f}"
              f"{r['image512'][0]:>10.2f}{base['step'][1] / r['step'][1]:>8.2f}"
              f"{base['image256'][1] / r['image256'][1]:>8.2f}{base['image512'][1] / r['image512'][1]:>8.2f}")


if __name__ == "__main__":
    main()
