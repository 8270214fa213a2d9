"""How much of the screentone method's work is left to one thread: per page, the CPU time of the
calling (main) thread against that of all threads, for the analysis and the synthesis.

    .venv/bin/python bench/screentone_threads.py [--data ../shared/data/manga] [--pages 007 041 145 201]
        [--scale 0.5] [--repeat 2] [--workers 2]

On a machine whose other cores are busy (a training, other helpers) two threads cannot overlap, so
the wall times say little of an idle machine's; the main thread's CPU time does: it is the part of
the work that no second thread shares (what runs between the parallel steps, and what the main
thread does while the others work). On an idle machine with ``workers`` cores, a step's wall time is
at least its main thread's CPU time and at least its CPU time over ``workers``. Each step is the run
with the least CPU time of ``--repeat``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from screentone_pages import page_files  # (bench/ is on the path of a script run from it)

import rescale
from rescale.screentone.analysis import analyze
from rescale.screentone.retarget import retarget

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, *args, **kwargs):
    """``(result, wall s, CPU s of all threads, CPU s of this thread)``."""
    w, c, m = time.perf_counter(), time.process_time(), time.thread_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - w, time.process_time() - c, time.thread_time() - m


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/manga"))
    ap.add_argument("--pages", nargs="+", default=["007", "041", "145", "201"])
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--repeat", type=int, default=2, help="runs per page; the one with the least CPU time is kept")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    files = page_files(args.data, args.pages)
    print("$ .venv/bin/python bench/screentone_threads.py " + " ".join(sys.argv[1:] if argv is None else argv))
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {args.workers} threads, {args.scale:g}x\n")
    print("| page | analysis wall s | CPU s | main thread CPU s | synthesis wall s | CPU s | main thread CPU s |")
    print("|---|---|---|---|---|---|---|")
    retarget(np.full((96, 96), 0.5), (48, 48))  # warm-up: the CPU kernels load
    for n, f in zip(args.pages, files):
        page = np.asarray(Image.open(f).convert("L"), dtype=np.float64) / 255.0
        size = rescale.output_size(page.shape[1], page.shape[0], args.scale)
        best_a = best_s = None
        for _ in range(args.repeat):
            analysis, *a = timed(analyze, page, workers=args.workers)
            _, *s = timed(retarget, page, size, analysis=analysis, workers=args.workers)
            best_a = a if best_a is None or a[1] < best_a[1] else best_a
            best_s = s if best_s is None or s[1] < best_s[1] else best_s
        print(f"| {n} | " + " | ".join(f"{v:.2f}" for v in (*best_a, *best_s)) + " |", flush=True)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
