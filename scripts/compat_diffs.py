"""How far rescale's Pillow-style configurations are from OpenCV and MATLAB on uint8, as a markdown table.

    .venv/bin/python scripts/compat_diffs.py [--data ../shared/data] [--images 100] [--noise 4]

For each comparison and factor: the largest difference in levels and the share of values that
differ, over the BSD100 images (RGB) and over uniform-noise RGB images (256x256). Output sizes are
made equal (the library's own size for the factor); where MATLAB's size rule (``ceil``) and rescale's
(``round``) disagree, the row says so and compares at MATLAB's size.

* ``box`` vs OpenCV INTER_AREA: ``rescale.rescale(img, size=..., method="box")`` vs ``cv2.resize``.
* "OpenCV-like" vs INTER_CUBIC / INTER_LINEAR: ``antialias=False, edge="clamp"`` with
  ``bicubic(a=-0.75)`` / ``bilinear`` vs ``cv2.resize`` with IPP off (OpenCV's code) and on (the x86
  default, which hands INTER_CUBIC to Intel IPP); for cubic also on float64 input rounded once.
* ``edge="symmetric"`` bicubic vs MATLAB: ``rescale.rescale(img, s, edge="symmetric")`` and
  ``rescale.eval.datasets.imresize_uint8`` vs ``rescale.compat.imresize(img, s)`` (MATLAB's rule).
* ``cv2_resize`` and ``imresize`` themselves: vs cv2 (should read 0) and, with ``ipp=True``, vs IPP.
"""

from __future__ import annotations

import argparse
import math
import os
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import rescale
from rescale.compat import cv2_resize, imresize
from rescale.eval.datasets import imresize_uint8
from rescale.filters import bicubic

try:
    import cv2
except ImportError:  # the OpenCV rows are skipped without it
    cv2 = None

DATA = Path(os.environ.get("RESCALE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _size(img: np.ndarray, s: float) -> tuple[int, int]:
    return max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))


def _cv2(img, s, flag, ipp):
    cv2.ipp.setUseIPP(ipp)
    return cv2.resize(img, _size(img, s), interpolation=flag)


def box_vs_area(img, s):
    return rescale.rescale(img, size=_size(img, s), method="box"), _cv2(img, s, cv2.INTER_AREA, False)


def opencv_like_cubic(img, s, ipp):
    ours = rescale.rescale(img, size=_size(img, s), method=bicubic(a=-0.75), antialias=False, edge="clamp")
    return ours, _cv2(img, s, cv2.INTER_CUBIC, ipp)


def opencv_like_cubic_float(img, s, ipp):
    """The same on float64 input, rounded once at the end: no 8-bit rounding between the passes."""
    f = rescale.rescale(
        img.astype(np.float64), size=_size(img, s), method=bicubic(a=-0.75), antialias=False, edge="clamp"
    )
    return np.clip(np.rint(f), 0, 255), _cv2(img, s, cv2.INTER_CUBIC, ipp)


def opencv_like_linear(img, s):
    ours = rescale.rescale(img, size=_size(img, s), method="bilinear", antialias=False, edge="clamp")
    return ours, _cv2(img, s, cv2.INTER_LINEAR, False)


def symmetric_by_scale(img, s):
    """None where rescale's size (round) differs from MATLAB's (ceil)."""
    ours, matlab = rescale.rescale(img, s, method="bicubic", edge="symmetric"), imresize(img, s)
    return (ours, matlab) if ours.shape == matlab.shape else None


def symmetric_at_matlab_size(img, s):
    matlab = imresize(img, s)
    return rescale.rescale(img, size=(matlab.shape[1], matlab.shape[0]), edge="symmetric"), matlab


def eval_imresize_uint8(img, s):
    matlab = imresize(img, s)
    lr = imresize_uint8(_nchw(img), (matlab.shape[1], matlab.shape[0]))
    return lr[0].permute(1, 2, 0).numpy(), matlab


def compat_vs_cv2(img, s, flag, ipp):
    return cv2_resize(img, _size(img, s), interpolation=flag, ipp=ipp), _cv2(img, s, flag, ipp)


def cv2_ipp_on_vs_off(img, s):
    return _cv2(img, s, cv2.INTER_CUBIC, True), _cv2(img, s, cv2.INTER_CUBIC, False)


def comparisons():
    """(label, factor, fn(img) -> (ours, theirs) or None when the sizes differ)."""
    rows = []
    if cv2 is not None:
        area, cubic, linear = cv2.INTER_AREA, cv2.INTER_CUBIC, cv2.INTER_LINEAR
        rows += [('`method="box"` vs INTER_AREA', s, partial(box_vs_area, s=s)) for s in (0.5, 1 / 3, 0.37, 0.25)]
        for s in (2.0, 1.7, 0.5, 0.37):
            for ipp in (False, True):
                label = (
                    f'`bicubic(a=-0.75), antialias=False, edge="clamp"` vs INTER_CUBIC, IPP {"on" if ipp else "off"}'
                )
                rows.append((label, s, partial(opencv_like_cubic, s=s, ipp=ipp)))
                label = f"the same on float64 input, rounded once, vs INTER_CUBIC, IPP {'on' if ipp else 'off'}"
                rows.append((label, s, partial(opencv_like_cubic_float, s=s, ipp=ipp)))
            rows.append(
                ('`"bilinear", antialias=False, edge="clamp"` vs INTER_LINEAR', s, partial(opencv_like_linear, s=s))
            )
    for s in (0.5, 2.0, 1 / 3, 0.37, 0.25):
        rows.append(
            ('`rescale.rescale(img, s, edge="symmetric")` vs `imresize(img, s)`', s, partial(symmetric_by_scale, s=s))
        )
        rows.append(
            ("the same at MATLAB's size (`size=` of `imresize(img, s)`)", s, partial(symmetric_at_matlab_size, s=s))
        )
        rows.append(("`rescale.eval.datasets.imresize_uint8` at MATLAB's size", s, partial(eval_imresize_uint8, s=s)))
    if cv2 is not None:
        for s in (0.37, 2.0):
            for name, flag in (("area", area), ("cubic", cubic), ("linear", linear)):
                rows.append(
                    (
                        f'`cv2_resize(..., "{name}")` vs cv2, IPP off',
                        s,
                        partial(compat_vs_cv2, s=s, flag=flag, ipp=False),
                    )
                )
            rows.append(
                (
                    '`cv2_resize(..., "cubic", ipp=True)` vs cv2, IPP on',
                    s,
                    partial(compat_vs_cv2, s=s, flag=cubic, ipp=True),
                )
            )
            rows.append(("`cv2.resize(INTER_CUBIC)`: IPP on vs IPP off", s, partial(cv2_ipp_on_vs_off, s=s)))
    return rows


def _nchw(img):
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]


def measure(fn, images):
    """(max |a - b|, differing values, values) over ``images``; None if the sizes differ."""
    worst, differ, total = 0, 0, 0
    for img in images:
        pair = fn(img)
        if pair is None:
            return None
        a, b = (np.asarray(v).astype(np.int16) for v in pair)
        d = np.abs(a - b)
        worst, differ, total = max(worst, int(d.max())), differ + int((d > 0).sum()), total + d.size
    return worst, differ, total


def _share(differ: int, total: int) -> str:
    if differ == 0:
        return "0"
    return f"{differ / total:.2%}" if differ / total >= 1e-4 else f"{differ} of {total}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding BSD100/")
    parser.add_argument("--images", type=int, default=100, help="BSD100 images used (sorted by name)")
    parser.add_argument("--noise", type=int, default=4, help="uniform-noise 256x256 RGB images")
    args = parser.parse_args()
    paths = sorted((args.data / "BSD100").glob("*.png"))[: args.images]
    real = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(args.noise)]
    ipp_was = cv2.ipp.useIPP() if cv2 is not None else None
    print(f"# uint8 differences; BSD100: {len(real)} images, noise: {len(noise)} images 256x256; "
          f"OpenCV {cv2.__version__ if cv2 else '-'}\n")  # fmt: skip
    print("| comparison | factor | BSD100 max | BSD100 share | noise max | noise share |")
    print("|---|---|---|---|---|---|")
    for label, s, fn in comparisons():
        cells = []
        for images in (real, noise):
            r = measure(fn, images) if images else None
            cells += ["size differs", "-"] if r is None else [str(r[0]), _share(r[1], r[2])]
        factor = "1/3" if math.isclose(s, 1 / 3) else f"{s:g}"
        print(f"| {label} | {factor} | " + " | ".join(cells) + " |", flush=True)
    if cv2 is not None:
        cv2.ipp.setUseIPP(ipp_was)


if __name__ == "__main__":
    main()
