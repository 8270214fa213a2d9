"""Screentone retargeting benchmark: our method against resampling baselines on synthetic pages.

    .venv/bin/python bench/screentone.py [--pages 4] [--size 192] [--scales 0.5 0.67 0.75 1.5 2]
        [--sets clean scan]

Each page is rendered at the source size and, as ground truth, at the target size with the same
screens at the same pixel pitch. Two sets: ``clean`` (:func:`make_page`: random bitonal dot / line /
noise screens, periods 3-12 px, in outlined regions) and ``scan`` (:func:`make_scan_pages`: grey,
blurred, noisy, JPEG'd pages, half their screens fine dots, with hair, hatching and text drawn over
dot and line screens). Metrics (see ``rescale/screentone/scores.py``) are averaged over pages; all
are errors except ``line_iou`` and ``stroke_iou``. The "ground truth" row scores the target render
itself: its intensity error is the floor set by bitonal screens in small regions (their tone is
quantised and phase-dependent), its ``seam`` the phase jitter of a seamless screen (pixel sampling,
and on scans noise), which ours should match (the seam ratio below).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import rescale
from rescale.screentone.retarget import retarget
from rescale.screentone.scores import METRICS, evaluate
from rescale.screentone.synth import make_page, make_scan_pages

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
    ap.add_argument("--sets", nargs="+", choices=sorted(PAGE_SETS), default=list(PAGE_SETS))
    args = ap.parse_args(argv)
    methods = ["ground truth", *BASELINES, "area+threshold", "screentone"]
    print("$ .venv/bin/python bench/screentone.py " + " ".join(sys.argv[1:] if argv is None else argv))
    print(
        f"{args.pages} pages of {args.size}x{args.size}; intensity grey levels, period %, angle deg, "
        "moire grey levels RMS\n"
    )
    print("| scale | method | " + " | ".join(METRICS) + " | s |")
    print("|---|---|" + "---|" * (len(METRICS) + 1))
    margins, splits = [], []
    for scale, pageset in [(scale, name) for name in args.sets for scale in args.scales]:
        pages = [PAGE_SETS[pageset](seed, (args.size, args.size), (scale, scale)) for seed in range(args.pages)]
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
            cells = [f"{mean_of(rows, m):.3f}" for m in METRICS]
            print(f"| {pageset} {scale:g} | {name} | " + " | ".join(cells) + f" | {dt:.1f} |")
        seam = seam_ratio(results)
        strokes = [mean_of(results[m], "stroke_iou") for m in ("screentone", "lanczos")]
        margins.append((f"{pageset} {scale:g}", [paired_margin(results, m) for m in MARGIN_METRICS], seam, strokes))
        splits.append((f"{pageset} {scale:g}", tone_split(results)))
    print(
        "\nscreentone minus the best baseline, paired over pages (mean +- standard error; negative = ours better); "
        "seam: ours / the ground truth's (regions measured); stroke IoU over screens: ours / Lanczos's:\n"
    )
    print("| set, scale | " + " | ".join(MARGIN_METRICS) + " | seam ratio (regions) | stroke IoU |")
    print("|---|" + "---|" * (len(MARGIN_METRICS) + 2))
    for label, cells, (seam, regions), (ours, lanczos) in margins:
        print(
            f"| {label} | "
            + " | ".join(f"{d:+.3f} +- {se:.3f} ({best})" for d, se, best in cells)
            + f" | {seam:.2f} ({regions}) | {ours:.3f} / {lanczos:.3f} |"
        )
    print(
        "\nintensity over the regions whose tone is read on a core / over those read in strips (between strokes, "
        "or thin regions, narrower than a period's window: there the tone also depends on the screen's phase), "
        "mean over pages (regions):\n"
    )
    print("| set, scale | regions | " + " | ".join(methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for label, (counts, cells) in splits:
        print(f"| {label} | {counts[0]} / {counts[1]} | " + " | ".join(f"{c:.2f} / {t:.2f}" for c, t in cells) + " |")


MARGIN_METRICS = ("intensity", "period", "moire")

#: page set name -> (seed, size, scale) -> (source, ground truth) pages
PAGE_SETS = {
    "clean": lambda seed, size, scale: make_page(seed, size=size, scale=scale),
    "scan": lambda seed, size, scale: make_scan_pages(seed, size, scale, strokes=1.0),
}


def mean_of(rows: list, metric: str) -> float:
    """Mean of ``metric`` over the pages that have it (NaN if none: no strokes on clean pages)."""
    values = [r[metric] for r in rows if r.get(metric) is not None]
    return float(np.mean(values)) if values else float("nan")


def seam_ratio(results: dict) -> tuple[float, int]:
    """Mean seam metric of ours over the ground truth's, over the pages where both are measured,
    and the number of regions measured on those pages (the same for every method: the metric
    skips regions by the ground truth's geometry alone)."""
    pairs = [
        (o["seam"], g["seam"], g["seam_regions"])
        for o, g in zip(results["screentone"], results["ground truth"])
        if "seam" in o and "seam" in g
    ]
    if not pairs:
        return float("nan"), 0
    ours, truth, regions = zip(*pairs)
    return float(np.mean(ours) / np.mean(truth)), int(sum(regions))


def tone_split(results: dict) -> tuple[tuple[int, int], list[tuple[float, float]]]:
    """The number of regions whose tone has a core and of those read in strips (the same for every
    method: the strips are the ground truth's), and each method's mean intensity over each."""
    rows = results["ground truth"]
    counts = (sum(r["core_regions"] for r in rows), sum(r["strips_regions"] for r in rows))
    return counts, [(mean_of(v, "intensity_core"), mean_of(v, "intensity_strips")) for v in results.values()]


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
