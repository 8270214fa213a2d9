"""Screentone retargeting benchmark: our method against resampling baselines on synthetic pages.

    .venv/bin/python bench/screentone.py [--pages 4] [--size 192] [--scales 0.5 0.67 0.75 1.5 2]

Each page (random dot / line / noise screens, periods 3-12 px, in outlined regions) is rendered at
the source size and, as ground truth, at the target size with the same screens at the same pixel
pitch. Metrics (see ``rescale/screentone/scores.py``) are averaged over pages; all are errors
except ``line_iou``. The "ground truth" row scores the target render itself: its intensity error is
the floor set by bitonal screens in small regions (their tone is quantised and phase-dependent).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import rescale
from rescale.screentone.retarget import retarget
from rescale.screentone.scores import METRICS, evaluate
from rescale.screentone.synth import make_page

BASELINES = ("nearest", "area", "bicubic", "lanczos")


def run_method(name: str, src: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if name == "screentone":
        return retarget(src, size)
    if name == "area+threshold":
        return (run_method("area", src, size) >= 0.5).astype(np.float64)
    out = rescale.rescale(src.astype(np.float32), size=size, method=name)
    return np.clip(out, 0.0, 1.0).astype(np.float64)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=4)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--scales", type=float, nargs="+", default=[0.5, 0.67, 0.75, 1.5, 2.0])
    args = ap.parse_args(argv)
    methods = ["ground truth", *BASELINES, "area+threshold", "screentone"]
    print("$ .venv/bin/python bench/screentone.py " + " ".join(sys.argv[1:] if argv is None else argv))
    print(
        f"{args.pages} pages of {args.size}x{args.size}; intensity grey levels, period %, angle deg, "
        "moire grey levels RMS\n"
    )
    print("| scale | method | " + " | ".join(METRICS) + " | s |")
    print("|---|---|" + "---|" * (len(METRICS) + 1))
    margins = []
    for scale in args.scales:
        pages = [make_page(seed, size=(args.size, args.size), scale=(scale, scale)) for seed in range(args.pages)]
        results = {}
        for name in methods:
            t = time.perf_counter()
            rows = [
                evaluate(
                    tgt.image if name == "ground truth" else run_method(name, src.image, tgt.image.shape[::-1]), tgt
                )
                for src, tgt in pages
            ]
            dt = time.perf_counter() - t
            results[name] = rows
            cells = [f"{np.mean([r[m] for r in rows if m in r]):.3f}" for m in METRICS]
            print(f"| {scale:g} | {name} | " + " | ".join(cells) + f" | {dt:.1f} |")
        margins.append((scale, [paired_margin(results, m) for m in MARGIN_METRICS]))
    print("\nscreentone minus the best baseline, paired over pages (mean +- standard error; negative = ours better):\n")
    print("| scale | " + " | ".join(MARGIN_METRICS) + " |")
    print("|---|" + "---|" * len(MARGIN_METRICS))
    for scale, cells in margins:
        print(f"| {scale:g} | " + " | ".join(f"{d:+.3f} +- {se:.3f} ({best})" for d, se, best in cells) + " |")


MARGIN_METRICS = ("intensity", "period", "moire")


def paired_margin(results: dict, metric: str) -> tuple[float, float, str]:
    """Mean and standard error over pages of screentone's ``metric`` minus the baseline with the
    lowest mean, and that baseline's name. Pages without the metric (only noise screens have no
    period) are left out."""

    def per_page(name):
        return np.array([r.get(metric, np.nan) for r in results[name]])

    baselines = [*BASELINES, "area+threshold"]
    best = min(baselines, key=lambda name: np.nanmean(per_page(name)))
    d = per_page("screentone") - per_page(best)
    d = d[~np.isnan(d)]
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))), best


if __name__ == "__main__":
    main()
