"""ESPCN frames per second for a 1080p OUTPUT (1920x1080) at x2, x3, x4, beside the paper's K2 GPU.

    .venv/bin/python bench/espcn.py [--device cpu|cuda] [--frames 5] [--threads N] [--compile]

Per scale, an RGB frame of 1920/r x 1080/r goes through:

- ``network``: the Y network alone (what the paper times: 0.038 s/frame at x3 and 0.029 s/frame at
  x4 on an NVIDIA K2, i.e. about 26 and 34 fps);
- ``channels-last``: the same network with weights and input in channels-last memory format, as
  the method runs it (on CPU oneDNN then skips its layout conversions, and tanh runs on
  channels-last data);
- ``compiled`` (with ``--compile``): ``torch.compile`` of the network (Inductor fuses each tanh
  into its convolution; it needs a C++ compiler, and compiling takes about a minute per scale on
  one core, printed apart);
- ``method``: the whole ``up`` (YCbCr, network on Y, bicubic Cb/Cr, back to RGB), as
  ``rescale.up(..., method="espcn")`` runs it, without the uint8 conversions.

Speed does not depend on the weights, so randomly initialised networks are timed (no trained
weights needed). Median of ``--frames`` frames after one warm-up frame.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere in the checkout

from rescale.models.espcn import load, rgb_to_ycbcr

OUT_W, OUT_H = 1920, 1080
#: fps of the paper (Shi et al. 2016, section 3.5) on a K2 GPU for 1080p output.
PAPER_K2_FPS = {3: 1 / 0.038, 4: 1 / 0.029}


def _time(fn, device: torch.device, frames: int) -> float:
    fn()  # warm-up (cuDNN algorithm choice, table caches)
    times = []
    for _ in range(frames):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of the network")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    method = load(pretrained=False, device=device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"ESPCN, 1920x1080 output, {where}, median of {args.frames} frames")
    columns = ("scale", "input", "network fps", "channels-last fps", "compiled fps", "method fps", "paper K2 fps")
    widths = (5, 9, 12, 18, 13, 11, 13)
    row = " ".join(f"{{:>{w}}}" for w in widths).format
    print(row(*columns))
    torch.manual_seed(0)
    compile_seconds = {}
    for r in (2, 3, 4):
        frame = torch.rand(1, 3, OUT_H // r, OUT_W // r, device=device)
        y = rgb_to_ycbcr(frame)[:, :1]
        last = method.nets[r]  # the method keeps its networks channels-last
        net = copy.deepcopy(last).to(memory_format=torch.contiguous_format)
        y_last = y.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            t_net = _time(lambda: net(y), device, args.frames)
            t_last = _time(lambda: last(y_last), device, args.frames)
            compiled = "-"
            if args.compile:
                fn = torch.compile(net)
                start = time.perf_counter()
                fn(y)
                compile_seconds[r] = time.perf_counter() - start
                compiled = f"{1 / _time(lambda: fn(y), device, args.frames):.1f}"
            t_all = _time(lambda: method.up(frame, (OUT_W, OUT_H)), device, args.frames)
        paper = f"{PAPER_K2_FPS[r]:.0f}" if r in PAPER_K2_FPS else "-"
        size = f"{OUT_W // r}x{OUT_H // r}"
        print(row(f"x{r}", size, f"{1 / t_net:.1f}", f"{1 / t_last:.1f}", compiled, f"{1 / t_all:.1f}", paper))
    if compile_seconds:
        print("torch.compile time (first call): " + ", ".join(f"x{r} {s:.0f} s" for r, s in compile_seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
