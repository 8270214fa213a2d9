"""Side-by-side crops of a real manga page shrunk by resampling baselines and by the screentone method.

    .venv/bin/python scripts/screentone_crops.py [--page ../shared/data/manga/black_jack_v01_pdf007.jpg]
        [--box 980,440,256,256] [--scale 0.5] [--zoom 2] [-o docs/screentone_crops.png] [--time-page]

Panels: the original crop (left) and the crop shrunk by ``--scale`` with area averaging, Lanczos
and ``method="screentone"``, all enlarged ``--zoom`` times with nearest neighbour (the same
magnification of pixels for all): a shrunk screen that keeps its pitch in pixels shows dots
as fine as the original's, resampled ones show grey, blur or moire. A last panel shows the screen
analysis of the crop (each detected region in its own grey), at the size of the shrunk panels.
``--time-page`` also times the analysis and the synthesis of the whole page at ``--scale``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import rescale
from rescale.screentone import analyze, retarget

ROOT = Path(__file__).resolve().parents[1]


def panels(crop: np.ndarray, scale: float) -> list[tuple[str, np.ndarray]]:
    """``(title, image)`` pairs: the ``[H, W]`` float crop and its shrunk versions (float in [0, 1])."""
    h, w = crop.shape
    size = rescale.output_size(w, h, scale)
    labels, params = analyze(crop)
    out = [("original", crop)]
    for name in ("area", "lanczos"):
        out.append(
            (f"{name} {scale:g}x", np.clip(rescale.rescale(crop.astype(np.float32), size=size, method=name), 0, 1))
        )
    out.append((f"screentone {scale:g}x", retarget(crop, size, analysis=(labels, params))))
    regions = np.where(labels > 0, 0.35 + 0.5 * ((labels * 0.618) % 1.0), 0.0)
    out.append((f"analysis: {len(params)} regions", regions))
    return out


def figure(items: list[tuple[str, np.ndarray]], zoom: int, map_zoom: float) -> Image.Image:
    """The original on the left, the other panels in a grid of two columns to its right, titled;
    the last (the analysis map) enlarged ``map_zoom`` times, the others ``zoom`` times."""
    title_h, gap = 14, 6
    tiles = []
    for i, (title, img) in enumerate(items):
        tile = Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8))
        f = map_zoom if i == len(items) - 1 else zoom
        tiles.append((title, tile.resize((round(tile.width * f), round(tile.height * f)), Image.NEAREST)))
    first, rest = tiles[0], tiles[1:]
    cell_w = max(t.width for _, t in rest) + gap
    cell_h = max(t.height for _, t in rest) + title_h
    rows = (len(rest) + 1) // 2
    width = first[1].width + gap + 2 * cell_w
    height = max(first[1].height + title_h, rows * cell_h)
    canvas = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(canvas)
    places = [(0, 0)] + [(first[1].width + gap + (i % 2) * cell_w, (i // 2) * cell_h) for i in range(len(rest))]
    for (title, tile), (x, y) in zip(tiles, places):
        draw.text((x + 2, y + 1), title, fill=0)
        canvas.paste(tile, (x, y + title_h))
    return canvas


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--page", default=str(ROOT.parent / "shared/data/manga/black_jack_v01_pdf007.jpg"))
    ap.add_argument("--box", default="980,440,256,256", help="crop x,y,width,height in page pixels")
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--zoom", type=int, default=2, help="nearest-neighbour magnification of every panel's pixels")
    ap.add_argument("-o", "--output", default=str(ROOT / "docs/screentone_crops.png"))
    ap.add_argument("--time-page", action="store_true", help="also time analyze() and retarget() on the whole page")
    args = ap.parse_args(argv)
    if not Path(args.page).is_file():
        raise SystemExit(f"no page at {args.page} (the manga pages live in ../shared/data/manga)")
    x, y, w, h = (int(v) for v in args.box.split(","))
    page = np.asarray(Image.open(args.page).convert("L"), dtype=np.float64) / 255.0
    crop = page[y : y + h, x : x + w]
    img = figure(panels(crop, args.scale), args.zoom, args.zoom * args.scale)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=out.parent)
    os.close(fd)
    img.save(tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    print(f"wrote {out} ({img.width}x{img.height})")
    if args.time_page:
        t0 = time.perf_counter()
        analysis = analyze(page)
        t1 = time.perf_counter()
        retarget(page, rescale.output_size(page.shape[1], page.shape[0], args.scale), analysis=analysis)
        t2 = time.perf_counter()
        print(
            f"whole page {page.shape[1]}x{page.shape[0]}: analyze {t1 - t0:.1f} s ({len(analysis[1])} regions), "
            f"retarget {t2 - t1:.1f} s"
        )


if __name__ == "__main__":
    main()
