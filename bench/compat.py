"""The cost of exactness: rescale.compat beside the library it reproduces and beside rescale's own
classical path, on one uint8 RGB image, as a markdown table.

    .venv/bin/python bench/compat.py [--side 1024] [--repeat 5] [--threads N]

* OpenCV rows: ``cv2.resize`` (IPP in its default state), ``rescale.compat.cv2_resize`` (numpy, one
  thread) and the nearest rescale configuration (``method="box"`` for INTER_AREA; ``antialias=False,
  edge="clamp"`` with ``bicubic(a=-0.75)`` / ``"bilinear"`` for INTER_CUBIC / INTER_LINEAR), which
  is not the same image (see docs/compat.md).
* MATLAB rows: ``rescale.compat.imresize`` (bicubic, MATLAB's size rule) and
  ``rescale.rescale(img, s, edge="symmetric")``.

Times are medians over ``--repeat`` rounds after a warm-up call, the candidates of a case run one
after another within a round. Ratios are "compat time / their time": above 1, compat is slower.
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
import torch
from resample import median_times  # bench/resample.py, beside this script

import rescale
from rescale.compat import cv2_resize, imresize
from rescale.filters import bicubic

try:
    import cv2
except ImportError:  # the OpenCV rows need it
    cv2 = None


def opencv_cases(img: np.ndarray):
    h, w = img.shape[:2]
    cubic75 = bicubic(a=-0.75)
    for mode, s in (("area", 0.5), ("area", 0.37), ("cubic", 2.0), ("cubic", 0.37), ("linear", 1.7)):
        size = (round(w * s), round(h * s))
        flag = {"area": cv2.INTER_AREA, "cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR}[mode]
        if mode == "area":
            ours = {"method": "box"}
        else:
            ours = {"method": cubic75 if mode == "cubic" else "bilinear", "antialias": False, "edge": "clamp"}
        yield (
            f"{mode} x{s:g}",
            {
                "cv2.resize": lambda: cv2.resize(img, size, interpolation=flag),
                "cv2_resize": lambda: cv2_resize(img, size, interpolation=flag),
                "rescale": lambda: rescale.rescale(img, size=size, **ours),
            },
        )


def matlab_cases(img: np.ndarray):
    for s in (0.25, 1 / 3, 0.5, 2.0):
        yield (
            f"bicubic x{s:.3g}",
            {
                "imresize": lambda: imresize(img, s),
                "rescale": lambda: rescale.rescale(img, s, method="bicubic", edge="symmetric"),
            },
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=1024, help="the image is side x side x 3")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per case (median)")
    parser.add_argument("--threads", type=int, help="threads for rescale (torch's setting) and OpenCV")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        if cv2 is not None:
            cv2.setNumThreads(args.threads)
    img = np.random.default_rng(0).integers(0, 256, (args.side, args.side, 3), dtype=np.uint8)
    print(
        f"# {args.side}x{args.side} RGB uint8, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}; threads: rescale {torch.get_num_threads()}, "
        f"OpenCV {cv2.getNumThreads() if cv2 else '-'} (IPP {'on' if cv2 and cv2.ipp.useIPP() else 'off'}), "
        f"compat 1 (numpy); median of {args.repeat}, ms\n"
    )
    if cv2 is not None:
        print("| case | cv2.resize | cv2_resize | rescale (not equal) | cv2_resize / cv2 | cv2_resize / rescale |")
        print("|---|---|---|---|---|---|")
        for name, runs in opencv_cases(img):
            t = median_times(runs, args.repeat)
            c, ours, r = t["cv2.resize"], t["cv2_resize"], t["rescale"]
            print(f"| {name} | {c:.2f} | {ours:.1f} | {r:.2f} | {ours / c:.0f} | {ours / r:.1f} |", flush=True)
        print()
    print("| case | imresize | rescale edge=symmetric (not equal) | imresize / rescale |")
    print("|---|---|---|---|")
    for name, runs in matlab_cases(img):
        t = median_times(runs, args.repeat)
        print(f"| {name} | {t['imresize']:.1f} | {t['rescale']:.2f} | {t['imresize'] / t['rescale']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
