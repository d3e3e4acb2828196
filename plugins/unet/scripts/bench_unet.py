"""Seconds per training step and per 256 x 256 image for each network of segbench-unet.

A training step is one Adam step (forward, loss, backward, update) on a batch
of ``--batch`` random patches of ``--patch`` pixels (the suite's 96 for the
row that says so), as ``fit`` takes them; an
image is one ``predict_raw`` of a 256 x 256 uint16 image (normalisation,
padding or overlap tiles, the network, probabilities). Each is timed
``--repeat`` times after one warm-up; the median is printed with wall and CPU
seconds and the ratio of CPU seconds to the padded U-Net's. On a machine other processes load,
CPU seconds of a one-thread run are the better measure.

    python plugins/unet/scripts/bench_unet.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

#: (label, segmenter name, constructor params, training patch side or None for --patch):
#: the default suite's settings and the references
NETWORKS = [
    ("unet padded (suite)", "unet", {"variant": "padded", "base_channels": 16}, None),
    ("unet padded residual", "unet", {"variant": "padded", "base_channels": 16, "residual": True}, None),
    ("unet original", "unet", {"variant": "original", "base_channels": 16}, None),
    ("unet original, paper width 64", "unet", {"variant": "original", "base_channels": 64}, None),
    ("vnet (suite)", "vnet", {"base_channels": 8}, None),
    ("vnet, paper width 16", "vnet", {"base_channels": 16}, None),
    ("u2net lite (suite, 96 px)", "u2net", {"size": "lite"}, 96),
    ("u2net lite", "u2net", {"size": "lite"}, None),
    ("u2net full", "u2net", {"size": "full"}, None),
]


def _median_time(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="labels to run (substring match)")
    args = parser.parse_args()

    import numpy as np
    import torch

    from segbench.builtin.procedural import Procedural
    from segbench_unet import checkpoint, data, training
    from segbench_unet.segmenter import U2NetSegmenter, UNetSegmenter, VNetSegmenter

    torch.set_num_threads(args.threads)
    classes = {"unet": UNetSegmenter, "vnet": VNetSegmenter, "u2net": U2NetSegmenter}
    sample = next(Procedural(shape=(256, 256), n_objects=20).generate(1, seed=0))
    print(f"threads {args.threads}, batch {args.batch} x {args.patch}^2, image 256^2, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'network':32s} {'params':>8s} {'s/step':>8s} {'CPU s/step':>10s} {'s/image':>8s} {'CPU s/image':>11s} {'step ratio':>10s} {'image ratio':>11s}")
    reference = None
    for label, name, params, patch in NETWORKS:
        if args.only and not any(o in label for o in args.only):
            continue
        seg = classes[name](dims=2, **params)
        net = seg._build()
        margin = seg._margin()
        out_shape = seg._output_shape([patch or args.patch] * 2)
        example = data.prepare(sample.image, sample.labels, "classes", margin, out_shape, 1)
        settings = training.Settings(
            epochs=1, steps_per_epoch=1, batch_size=args.batch, patch_shape=out_shape, margin=margin,
            learning_rate=1e-3, loss="ce_dice", head=seg.head, target="classes",
            class_weights=[1.0, 1.0, 1.0], boundary_width=1, val_fraction=0.0, augment=True, seed=0,
        )
        loss_fn = training.loss_function(settings)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        rng = np.random.default_rng(0)

        def step():
            net.train()
            batch = [data.sample_patch(example, out_shape, margin, rng, True) for _ in range(args.batch)]
            loss = loss_fn(net(torch.from_numpy(np.stack([b[0] for b in batch]))), torch.from_numpy(np.stack([b[1] for b in batch])))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        step_wall, step_cpu = _median_time(step, args.repeat)
        workdir = Path(tempfile.mkdtemp(prefix="bench-unet-"))
        state = {k: v.detach() for k, v in net.state_dict().items()}
        checkpoint.save(workdir / checkpoint.FILENAME, seg.config(), state, None)
        seg.load(workdir)
        image_wall, image_cpu = _median_time(lambda: seg.predict_raw(sample.image), args.repeat)
        if reference is None:
            reference = (step_cpu, image_cpu)
        n_params = sum(p.numel() for p in net.parameters())
        print(f"{label:32s} {n_params / 1e6:7.2f}M {step_wall:8.3f} {step_cpu:10.3f} {image_wall:8.3f} {image_cpu:11.3f} "
              f"{step_cpu / reference[0]:10.2f} {image_cpu / reference[1]:11.2f}")


if __name__ == "__main__":
    main()
