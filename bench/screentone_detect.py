"""Screen detection benchmark: the screen analysis against ground-truth labels, clean and scan-like.

    .venv/bin/python bench/screentone_detect.py [--pages 12] [--size 192] [--seed 0]

Page sets (``rescale/screentone/synth.py``): ``clean`` are :func:`make_page`'s bitonal pages (dot,
line and noise screens, periods 3-12 px); ``scan-like`` are :func:`make_scan_page`'s pages (half the
screens fine 45-degree dots of 2.3-4 px, often light; two more shapes with hatching or hair, which are
not screens) degraded like a scan (grey paper and ink, blur, noise, JPEG); ``scan-like, no degradation``
the same pages before :func:`degrade`; ``scan-like, fading`` the same pages with every screen fading
from its tone to a light 0.9 across its shape, as shading does. Columns, summed over the pages' pixels,
outline ink left out (a detected region may end on either side of its outline):

- ``precision``, ``recall``, ``iou``: of screened (any label) against unscreened pixels;
- ``false+ hatching/hair``: the share of the hatching and hair shapes' pixels labelled screened;
- ``recall fine`` / ``recall light``: recall over the fine dots (period < 4.5 px) / light screens
  (tone > 0.75) alone;
- ``kind``: the share of true regions whose most overlapping detected region covers half of them
  or more and has the right kind (dots, lines, noise);
- ``period``: mean error (%) of the period of those that are periodic and found so;
- ``s/MP``: analysis seconds per megapixel.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from scipy import ndimage

from rescale.screentone.analysis import analyze
from rescale.screentone.synth import make_page, make_scan_page

COLUMNS = (
    "precision",
    "recall",
    "iou",
    "false+ hatching/hair",
    "recall fine",
    "recall light",
    "kind",
    "period",
    "s/MP",
)


def score_pages(pages: list) -> dict:
    """The benchmark's columns for a list of :class:`synth.Page`, analysed here."""
    n = dict(tp=0, fp=0, fn=0, distractor=0, distractor_hit=0, fine=0, fine_hit=0, light=0, light_hit=0)
    regions = kinds_right = 0
    period_errors, seconds, pixels = [], 0.0, 0
    for page in pages:
        t = time.perf_counter()
        labels, params = analyze(page.image)
        seconds += time.perf_counter() - t
        pixels += page.image.size
        care = ~ndimage.binary_dilation(page.lines)  # outline ink and the pixel beside it: either side
        found, truth = (labels > 0) & care, (page.labels > 0) & care
        n["tp"] += int((found & truth).sum())
        n["fp"] += int((found & ~truth).sum())
        n["fn"] += int((~found & truth).sum())
        if page.distractors is not None:
            n["distractor"] += int((page.distractors & care).sum())
            n["distractor_hit"] += int((page.distractors & found).sum())
        for k, screen in enumerate(page.screens, 1):
            region = (page.labels == k) & care
            hit = int((region & found).sum())
            if screen.kind == "dots" and screen.period < 4.5:
                n["fine"], n["fine_hit"] = n["fine"] + int(region.sum()), n["fine_hit"] + hit
            if screen.tone > 0.75:
                n["light"], n["light_hit"] = n["light"] + int(region.sum()), n["light_hit"] + hit
            regions += 1
            overlap = np.bincount(labels[region], minlength=len(params) + 1)[1:]
            if not overlap.size or overlap.max() < 0.5 * region.sum():
                continue
            p = params[int(overlap.argmax())]
            if p.kind == screen.kind:
                kinds_right += 1
                if screen.kind != "noise":
                    period_errors.append(abs(p.period - screen.period) / screen.period * 100)
    ratio = lambda a, b: a / b if b else float("nan")  # noqa: E731
    return {
        "precision": ratio(n["tp"], n["tp"] + n["fp"]),
        "recall": ratio(n["tp"], n["tp"] + n["fn"]),
        "iou": ratio(n["tp"], n["tp"] + n["fp"] + n["fn"]),
        "false+ hatching/hair": ratio(n["distractor_hit"], n["distractor"]),
        "recall fine": ratio(n["fine_hit"], n["fine"]),
        "recall light": ratio(n["light_hit"], n["light"]),
        "kind": ratio(kinds_right, regions),
        "period": float(np.mean(period_errors)) if period_errors else float("nan"),
        "s/MP": seconds / pixels * 1e6,
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=12)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--seed", type=int, default=0, help="first page seed (pages are seeds seed .. seed + pages - 1)")
    args = ap.parse_args(argv)
    size = (args.size, args.size)
    sets = {
        "clean": lambda s: make_page(s, size=size)[0],
        "scan-like, no degradation": lambda s: make_scan_page(s, size=size, scan=False),
        "scan-like": lambda s: make_scan_page(s, size=size),
        "scan-like, fading": lambda s: make_scan_page(s, size=size, fade=1.0),
    }
    print("$ .venv/bin/python bench/screentone_detect.py " + " ".join(sys.argv[1:] if argv is None else argv))
    print(f"{args.pages} pages of {args.size}x{args.size} per set; pixel scores without outline ink; period error %\n")
    print("| pages | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for name, make in sets.items():
        row = score_pages([make(seed) for seed in range(args.seed, args.seed + args.pages)])
        print(
            f"| {name} | " + " | ".join("-" if np.isnan(row[c]) else f"{row[c]:.3f}" for c in COLUMNS) + " |",
            flush=True,
        )


if __name__ == "__main__":
    main()
