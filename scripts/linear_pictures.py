"""The picture of docs/linear.md: the default path beside ``linear=True`` on a checkerboard, a photo
and a text slide, each shrunk 4x with bicubic.

    .venv/bin/python scripts/linear_pictures.py [--data /work/shared/data] [-o docs/linear_compare.png]

Rows: a 1-pixel black/white checkerboard with a disc of 50% grey light (sRGB 188) in the middle
(the input shown where the disc begins);
Set14 ``zebra`` (fine bright and dark stripes); Set14 ``ppt3`` (dark text and lines on white).
Columns: the input (the region that the outputs show, at the outputs' size, so the shrunk images
are shown pixel for pixel; a 1-pixel checkerboard cannot be shown at 1:1 without the viewer's own
resampling, so it is drawn at 4x, nearest), then ``rescale.rescale(img, 0.25)`` and
``rescale.rescale(img, 0.25, linear=True)``, each enlarged 2x (nearest) to be seen.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import rescale

ROOT = Path(__file__).resolve().parents[1]
ZOOM = 2  # the outputs are shown enlarged this much, nearest
LABEL = 18  # pixels of label above each panel


def board(n: int = 512) -> Image.Image:
    """A 1-pixel checkerboard with a disc of sRGB 188 (50% light) at its centre."""
    yy, xx = np.indices((n, n))
    x = (yy + xx) % 2 * 255
    x[(yy - n / 2) ** 2 + (xx - n / 2) ** 2 < (n / 5) ** 2] = 188
    return Image.fromarray(x.astype(np.uint8)).convert("RGB")


def row(img: Image.Image, name: str, input_view: Image.Image | None = None) -> list[tuple[str, Image.Image]]:
    small = rescale.rescale(img, 0.25, method="bicubic")
    linear = rescale.rescale(img, 0.25, method="bicubic", linear=True)
    size = (small.width * ZOOM, small.height * ZOOM)
    view = input_view or img.crop((0, 0, *size))
    return [
        (f"{name}: input", view),
        ("x0.25 bicubic (default)", small.resize(size, Image.Resampling.NEAREST)),
        ("x0.25 bicubic, linear=True", linear.resize(size, Image.Resampling.NEAREST)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = Path(os.environ.get("RESCALE_DATA", ROOT.parent / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=data, help=f"folder holding Set14/ (default {data})")
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "docs" / "linear_compare.png")
    args = parser.parse_args()
    set14 = args.data / "Set14"
    if not (set14 / "zebra.png").exists():
        raise SystemExit(f"Set14 not found under {args.data} (give --data or RESCALE_DATA)")
    checker = board()
    zoomed = checker.crop((122, 224, 186, 288)).resize((256, 256), Image.Resampling.NEAREST)  # the disc's edge
    zebra = Image.open(set14 / "zebra.png").convert("RGB")
    slide = Image.open(set14 / "ppt3.png").convert("RGB").crop((0, 0, 528, 256))
    rows = [row(checker, "checkerboard (4x)", zoomed), row(zebra, "photo"), row(slide, "text")]
    for r in rows[1:]:  # the input at the outputs' size: its centre, pixel for pixel
        src, w, h = (zebra if r is rows[1] else slide), *r[1][1].size
        left, top = (src.width - w) // 2, (src.height - h) // 2
        r[0] = (r[0][0], src.crop((left, top, left + w, top + h)))
    widths = [max(r[i][1].width for r in rows) for i in range(3)]
    heights = [max(p.height for _, p in r) + LABEL for r in rows]
    sheet = Image.new("RGB", (sum(widths) + 8 * 4, sum(heights) + 8 * 4), "white")
    draw = ImageDraw.Draw(sheet)
    y = 8
    for r, h in zip(rows, heights):
        x = 8
        for (label, panel), w in zip(r, widths):
            draw.text((x, y + 2), label, fill="black")
            sheet.paste(panel, (x, y + LABEL))
            x += w + 8
        y += h + 8
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
