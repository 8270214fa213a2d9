"""The cost of linear light: ``rescale.rescale(..., linear=True)`` beside the default path, in one run.

    .venv/bin/python bench/linear.py [--repeat 9] [--threads N] [--size 2048] [--vips] [--clock thread] [--portable]

The case of issue 20: a 2048x2048 RGB uint8 image (random pixels) scaled by 0.5 with bicubic on
the CPU kernels (``backend="cpu"``), with and without ``linear=True``, and the same with alpha
(RGBA), with lanczos, and on a 16-bit image. The rows of a round run one after another, so a burst
of load from other processes hits both alike; times are medians over ``--repeat`` rounds and the
ratio is "linear / default" (the acceptance bound is 2), also of the fastest runs (the least
disturbed by other processes on a shared machine).

``--clock thread`` (with ``--threads 1``, where the loops run in the calling thread): the CPU time
of that thread instead of wall time, which does not count the waits for a core on a loaded
machine (the development machine's 2 cores are shared; wall-time ratios moved between 1.8 and 2.6
there from run to run).

``--portable``: linear light on the portable numba loops, as on CPUs without AVX-512 VBMI (the
default path keeps its own SIMD loops, so this overstates the ratio on those CPUs).

``--vips``: the same for libvips' ``vipsthumbnail`` with and without ``--linear`` (a process per
run, a PNG in and out, so its ratio includes decoding and encoding), where installed.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import rescale
from rescale import kernels


def cases(size: int) -> dict:
    """name -> (image, method, scale)."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (size, size, 4), dtype=np.uint8)
    deep = rng.integers(0, 65536, (size, size, 3), dtype=np.uint16)
    return {
        "RGB uint8, bicubic x0.5": (rgb, "bicubic", 0.5),
        "RGBA uint8, bicubic x0.5": (rgba, "bicubic", 0.5),
        "RGB uint8, lanczos x0.5": (rgb, "lanczos", 0.5),
        "RGB uint8, bicubic x0.37": (rgb, "bicubic", 0.37),
        "RGB uint16, bicubic x0.5": (deep, "bicubic", 0.5),
    }


def timed(fn, clock=time.perf_counter) -> float:
    t0 = clock()
    fn()
    return clock() - t0


def vips_runs(size: int, folder: Path) -> dict:
    src = folder / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(src)
    base = ["vipsthumbnail", str(src), "--size", str(size // 2), "-o", str(folder / "out.png")]
    return {
        "default": lambda: subprocess.run(base, check=True),
        "linear": lambda: subprocess.run([*base, "--linear"], check=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--threads", type=int, help="threads for the CPU kernels (default: theirs)")
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--vips", action="store_true", help="also time vipsthumbnail with and without --linear")
    parser.add_argument("--clock", choices=("wall", "thread"), default="wall", help="thread: CPU time (--threads 1)")
    parser.add_argument("--portable", action="store_true", help="linear light on the portable loops (no SIMD)")
    args = parser.parse_args()
    if args.portable:
        from rescale.kernels import cpu_linear_u8

        cpu_linear_u8.AVAILABLE = False  # read at each call by cpu_linear
    if args.clock == "thread" and (args.threads != 1 or args.vips):
        parser.error("--clock thread measures the calling thread: give --threads 1, without --vips")
    clock = time.thread_time if args.clock == "thread" else time.perf_counter
    if args.threads:
        kernels.set_num_threads(args.threads)
    threads = kernels.get_num_threads()
    print(f"{platform.processor() or platform.machine()}, {threads} kernel threads, {args.size}px, {args.clock} clock")
    runs = {}
    for name, (img, method, scale) in cases(args.size).items():
        for linear in (False, True):
            runs[name, linear] = lambda img=img, m=method, s=scale, lin=linear: rescale.rescale(
                img, s, method=m, backend="cpu", linear=lin
            )
    folder = None
    if args.vips and shutil.which("vipsthumbnail"):
        folder = Path(tempfile.mkdtemp())
        for linear, fn in vips_runs(args.size, folder).items():
            runs["vipsthumbnail, PNG in and out", linear == "linear"] = fn
    for fn in runs.values():  # compile and warm up
        fn()
    times = {key: [] for key in runs}
    for _ in range(args.repeat):
        for key, fn in runs.items():
            times[key].append(timed(fn, clock))
    print("\n| case | default (ms) | linear=True (ms) | linear / default | fastest runs |\n|---|---:|---:|---:|---:|")
    for name in dict.fromkeys(k[0] for k in runs):
        plain, linear = statistics.median(times[name, False]), statistics.median(times[name, True])
        fastest = min(times[name, True]) / min(times[name, False])
        print(f"| {name} | {plain * 1e3:.1f} | {linear * 1e3:.1f} | {linear / plain:.2f} | {fastest:.2f} |")
    if folder is not None:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
