"""HCD's gain: Set5 Y-PSNR of a rescaler with and without ``refine="hcd"``, and the seconds it costs.

    .venv/bin/python bench/hcd.py [--method irn] [--scale 2] [--data ../shared/data] [--threads 1]

Per image: HR cropped to a multiple of the scale; LR = ``rescale.down(hr, s, method=M)`` (8-bit,
as saved), plain or with ``refine="hcd"``; HR' = ``rescale.up(LR, size=hr size)``; Y-PSNR with
``scale`` border pixels cropped (the protocol of ``rescale eval``).
"""

from __future__ import annotations

import argparse
import time

import torch

import rescale
from rescale.eval import metrics
from rescale.eval.datasets import ImageFolder, modcrop, resolve_set


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="irn")
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--data", default=None, help="data root (default: ../shared/data or $RESCALE_DATA)")
    ap.add_argument("--set", default="Set5")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    s = args.scale
    print("| image | plain Y-PSNR | HCD Y-PSNR | gain dB | plain s | HCD s |\n|---|---|---|---|---|---|")
    rows = []
    for sample in ImageFolder(resolve_set(args.set, args.data)):
        hr = modcrop(sample.image, s)
        size = (hr.shape[-1], hr.shape[-2])
        scores, seconds = [], []
        for refine in (None, "hcd"):
            t = time.perf_counter()
            lr = rescale.down(hr, s, method=args.method, refine=refine)
            out = rescale.up(lr, size=size, method=args.method)
            seconds.append(time.perf_counter() - t)
            y = [metrics.rgb_to_y(metrics.quantize(v), grey=sample.grey) for v in (out, hr)]
            scores.append(float(metrics.psnr(*y, crop=s)))
        rows.append((scores, seconds))
        print(
            f"| {sample.name} | {scores[0]:.2f} | {scores[1]:.2f} | {scores[1] - scores[0]:+.2f} | "
            f"{seconds[0]:.2f} | {seconds[1]:.2f} |",
            flush=True,
        )
    mean = [sum(r[0][i] for r in rows) / len(rows) for i in (0, 1)]
    secs = [sum(r[1][i] for r in rows) / len(rows) for i in (0, 1)]
    print(f"| mean | {mean[0]:.2f} | {mean[1]:.2f} | {mean[1] - mean[0]:+.2f} | {secs[0]:.2f} | {secs[1]:.2f} |")


if __name__ == "__main__":
    main()
