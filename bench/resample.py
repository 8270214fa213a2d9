"""CPU resampling speed: rescale beside Pillow, OpenCV and torch, printed as a markdown table.

    .venv/bin/python bench/resample.py [--repeat 7] [--threads N] [--quick]

Cases: a 2048x2048 RGB uint8 image scaled by 0.5, 0.37, 0.25, 1.7, 2 and (sx, sy) = (0.5, 0.8),
and a batch of 64 RGB 512x512 uint8 images resized to 224x224. Each library gets the input in
its native form, converted before timing:

* rescale: ``rescale.rescale(array, sx, sy, method=..., backend="cpu")`` (the kernels, not the
  small-job path through Pillow: rescale.fastpath) on the HxWx3 numpy array (returns a
  numpy array); the batch as one ``[64, 3, 512, 512]`` channels-last uint8 tensor, one call.
* Pillow: ``Image.resize`` on a PIL RGB image; the batch as a loop over 64 PIL images.
* OpenCV: ``cv2.resize`` on the numpy array (INTER_LINEAR, INTER_CUBIC, INTER_LANCZOS4,
  INTER_AREA); the batch as a loop. OpenCV does not antialias when it shrinks with the first
  three, so it does less work there and its output differs (shown for reference only).
* torch: ``F.interpolate(antialias=True)`` (bilinear, bicubic) on a ``[1, 3, H, W]`` channels-last
  uint8 tensor; the batch as one call on the same tensor as rescale.

Times are medians over ``--repeat`` rounds; within a round the libraries run one after another,
so a burst of load from other processes hits them alike. Ratios are "their time / our time":
above 1 means rescale is faster. Every library uses its default thread count (printed), or
``--threads N`` for rescale, torch and OpenCV (``--threads 1`` compares work per core).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import rescale

try:
    import cv2
except ImportError:  # OpenCV is a test extra; its columns are left empty without it
    cv2 = None

#: method -> (Pillow filter, OpenCV flag, torch mode); None where the library lacks the filter.
METHODS = {
    "bilinear": (Image.Resampling.BILINEAR, "INTER_LINEAR", "bilinear"),
    "bicubic": (Image.Resampling.BICUBIC, "INTER_CUBIC", "bicubic"),
    "lanczos": (Image.Resampling.LANCZOS, "INTER_LANCZOS4", None),
    "box": (Image.Resampling.BOX, "INTER_AREA", None),
}
SCALES = [(0.5, 0.5), (0.37, 0.37), (0.25, 0.25), (1.7, 1.7), (2.0, 2.0), (0.5, 0.8)]
LIBS = ("rescale", "Pillow", "OpenCV", "torch")


def single_image_runners(img: np.ndarray, sx: float, sy: float, method: str) -> dict:
    """Zero-argument callables, one per library, resizing ``img`` (HxWx3 uint8)."""
    pil_filter, cv_flag, torch_mode = METHODS[method]
    h, w = img.shape[:2]
    out_w, out_h = rescale.output_size(w, h, sx, sy)
    pil = Image.fromarray(img)
    t = torch.from_numpy(img).permute(2, 0, 1)[None]  # channels-last view, no copy
    runs = {
        "rescale": lambda: rescale.rescale(img, sx, sy, method=method, backend="cpu"),
        "Pillow": lambda: pil.resize((out_w, out_h), pil_filter),
    }
    if cv2 is not None:
        runs["OpenCV"] = lambda: cv2.resize(img, (out_w, out_h), interpolation=getattr(cv2, cv_flag))
    if torch_mode is not None:
        runs["torch"] = lambda: F.interpolate(t, size=(out_h, out_w), mode=torch_mode, antialias=True)
    return runs


def batch_runners(batch: np.ndarray, size: int, method: str) -> dict:
    """Callables resizing ``batch`` (NxHxWx3 uint8) to ``size`` x ``size`` (see module doc)."""
    pil_filter, cv_flag, torch_mode = METHODS[method]
    pils = [Image.fromarray(a) for a in batch]
    t = torch.from_numpy(batch).permute(0, 3, 1, 2)  # [N, 3, H, W] channels-last
    runs = {
        "rescale": lambda: rescale.rescale(t, size=(size, size), method=method),
        "Pillow": lambda: [p.resize((size, size), pil_filter) for p in pils],
    }
    if cv2 is not None:
        flag = getattr(cv2, cv_flag)
        runs["OpenCV"] = lambda: [cv2.resize(a, (size, size), interpolation=flag) for a in batch]
    if torch_mode is not None:
        runs["torch"] = lambda: F.interpolate(t, size=(size, size), mode=torch_mode, antialias=True)
    return runs


def median_times(runs: dict, repeat: int) -> dict:
    """Median wall time (ms) of each callable after one warm-up call, rounds interleaved."""
    for fn in runs.values():
        fn()
    times = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(ts) for name, ts in times.items()}


def check_exact(img: np.ndarray) -> bool:
    """rescale's uint8 output equals Pillow's, on one of the benchmark's cases."""
    ours = rescale.rescale(img, 0.37, method="lanczos", backend="cpu")
    theirs = np.asarray(Image.fromarray(img).resize((ours.shape[1], ours.shape[0]), Image.Resampling.LANCZOS))
    return bool(np.array_equal(ours, theirs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds per case (median)")
    parser.add_argument("--threads", type=int, help="threads for rescale, torch and OpenCV (default: theirs)")
    parser.add_argument("--quick", action="store_true", help="a 512x512 image and a batch of 8, for a smoke run")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)  # rescale's CPU kernels follow torch's setting
        if cv2 is not None:
            cv2.setNumThreads(args.threads)

    rng = np.random.default_rng(0)
    side, batch_n, batch_side = (512, 8, 128) if args.quick else (2048, 64, 512)
    img = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    batch = rng.integers(0, 256, (batch_n, batch_side, batch_side, 3), dtype=np.uint8)
    batch_out = 224 if not args.quick else 56

    print(
        f"# CPU resampling, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    cv_threads = cv2.getNumThreads() if cv2 is not None else "-"
    print(
        f"threads: rescale/torch {torch.get_num_threads()}, OpenCV {cv_threads}, Pillow 1; "
        f"torch {torch.__version__}, Pillow {Image.__version__}, OpenCV {cv2.__version__ if cv2 else '-'}; "
        f"median of {args.repeat} rounds, ms"
    )
    print(f"rescale uint8 == Pillow on this image (0.37, lanczos): {check_exact(img)}\n")

    header = "| case | method | rescale | Pillow | Pillow/rescale | OpenCV | OpenCV/rescale | torch | torch/rescale |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    cases = [(f"{side}x{side} RGB x{sx:g}" + ("" if sx == sy else f",{sy:g}"), sx, sy) for sx, sy in SCALES]
    cases.append((f"{batch_n}x{batch_side}x{batch_side} RGB -> {batch_out}", None, None))
    for label, sx, sy in cases:
        for method in METHODS:
            if sx is None:
                runs = batch_runners(batch, batch_out, method)
            else:
                runs = single_image_runners(img, sx, sy, method)
            ms = median_times(runs, args.repeat)
            ours = ms["rescale"]
            cells = [f"{ours:.1f}"]
            for lib in LIBS[1:]:
                cells += [f"{ms[lib]:.1f}", f"{ms[lib] / ours:.2f}"] if lib in ms else ["-", "-"]
            print(f"| {label} | {method} | " + " | ".join(cells) + " |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at end")
    if torch.cuda.is_available():  # the GPU half of the benchmark: Triton against torch on CUDA
        import runpy

        print()
        gpu_bench = Path(__file__).with_name("resample_gpu.py")
        sys.argv = [str(gpu_bench)]
        runpy.run_path(str(gpu_bench), run_name="__main__")


if __name__ == "__main__":
    main()
