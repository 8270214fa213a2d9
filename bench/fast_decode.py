"""``--fast-decode`` quality: PSNR of a reduced (DCT-domain) JPEG decode followed by the exact resample,
against a full decode followed by the same resample, for two reduction gaps.

    .venv/bin/python bench/fast_decode.py FOLDER WIDTH [--method bicubic]

Gap 2 decodes to no less than twice the target (what ``rescale resize --fast-decode`` does, as
Pillow's ``thumbnail``); gap 1 all the way down to the target. Results: docs/startup.md.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image

import rescale


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def thumbnail(path: Path, width: int, gap: int | None, method: str) -> tuple[np.ndarray, int]:
    """The ``width``-wide result, and the factor the decoder shrank by (1: full decode)."""
    with Image.open(path) as im:
        w, h = im.size
        size = width, max(1, round(h * width / w))
        if gap:
            im.draft(im.mode, (size[0] * gap, size[1] * gap))
        im.load()
        return np.asarray(rescale.rescale(im.copy(), size=size, method=method)), round(w / im.width)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("width", type=int)
    parser.add_argument("--method", default="bicubic")
    args = parser.parse_args()
    files = sorted(args.folder.glob("*.jpg"))
    for gap in (2, 1):
        values, shrinks = [], []
        for f in files:
            full, _ = thumbnail(f, args.width, None, args.method)
            fast, shrink = thumbnail(f, args.width, gap, args.method)
            values.append(psnr(full, fast))
            shrinks.append(shrink)
        finite = [v for v in values if math.isfinite(v)]
        mean = f"{np.mean(finite):.2f} dB mean, {min(finite):.2f} dB min" if finite else "identical"
        print(
            f"{args.folder.name}, --width {args.width}, {args.method}, gap {gap}: {mean} over {len(files)} files "
            f"({len(values) - len(finite)} identical); decoded {np.mean(shrinks):.1f}x smaller on average"
        )


if __name__ == "__main__":
    main()
