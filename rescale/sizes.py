"""The size and scale conventions of every entry point (``rescale``, ``down``, ``up``, ``Rescale``,
``Muller``), in one place; ``docs/conventions.md`` states them for users.

- Sizes are ``(width, height)``, Pillow's and OpenCV's order (not torch's ``(H, W)``); ``width=`` /
  ``height=`` say it by name, and one of them alone keeps the aspect ratio.
- A scale is output size / input size, horizontal first: ``sx, sy``. The output is
  ``max(1, floor(n * s + 0.5))`` pixels per axis: :func:`output_size`.
- ``down`` / ``up`` name their direction, so they also take the factor of the super-resolution
  literature: ``down(img, 2)`` is half size, as is ``down(img, 0.5)``: :func:`directional_scale`.
- ``box = (left, top, right, bottom)`` resamples that region of the source (Pillow's ``box=``); a
  scale or a single width / height then applies to the region.
"""

from __future__ import annotations

import math
import numbers
import struct

__all__ = ["output_size", "target_size", "directional_scale", "check_box", "check_scale", "check_size"]


def output_size(width: int, height: int, sx: float, sy: float | None = None) -> tuple[int, int]:
    """The size rule: ``(max(1, floor(width * sx + 0.5)), max(1, floor(height * sy + 0.5)))``.

    >>> output_size(5, 3, 0.5)  # halves round up: 2.5 -> 3, 1.5 -> 2
    (3, 2)
    """
    sx = check_scale(sx, "sx")
    sy = sx if sy is None else check_scale(sy, "sy")
    return _round(width * sx), _round(height * sy)


def target_size(
    in_w: int,
    in_h: int,
    sx: float | None = None,
    sy: float | None = None,
    *,
    size=None,
    width: int | None = None,
    height: int | None = None,
    box: tuple[float, float, float, float] | None = None,
) -> tuple[int, int]:
    """The output ``(width, height)`` of an entry point given one of: a scale ``sx`` (``sy``),
    ``size=(width, height)``, or ``width=`` and/or ``height=`` (one alone keeps the aspect ratio);
    all relative to ``box`` (a source region, :func:`check_box`) when given.

    >>> target_size(640, 480, width=320)
    (320, 240)
    >>> target_size(640, 480, 0.5, box=(0, 0, 100, 100))
    (50, 50)
    """
    if sy is not None and sx is None:
        raise TypeError("sy goes with sx: give both scales (sx, sy), or one for both axes")
    given = [name for name, v in (("a scale", sx), ("size=", size)) if v is not None]
    if width is not None or height is not None:
        given.append("width=")
    if len(given) != 1:
        raise TypeError(
            "give one of: a scale (sx, sy), size=(width, height), or width= and/or height=, "
            + (f"not {' and '.join(given)}" if given else "got none")
        )
    if box is not None:
        left, top, right, bottom = box
        in_w, in_h = right - left, bottom - top  # the region's extent (floats) sets the scale
    if sx is not None:
        return output_size(in_w, in_h, sx, sy)
    if size is not None:
        return check_size(size)
    if width is not None:
        width = _positive_int(width, "width")
    if height is not None:
        height = _positive_int(height, "height")
    if height is None:
        return width, _round(in_h * width / in_w)
    if width is None:
        return _round(in_w * height / in_h), height
    return width, height


def directional_scale(sx, sy, direction: str) -> tuple[float, float]:
    """The scales (output / input) of ``down(img, sx, sy)`` or ``up(img, sx, sy)``.

    ``up`` takes factors >= 1, which are its scales. ``down`` takes a reduction factor >= 1
    (``down(img, 2)``: half size, as super-resolution papers write x2) or the scale itself, below 1
    (``down(img, 0.5)``, as ``rescale(img, 0.5)`` and ``rescale down --scale 0.5``); both axes must be
    written the same way.

    >>> directional_scale(2, None, "down"), directional_scale(0.5, None, "down")
    ((0.5, 0.5), (0.5, 0.5))
    """
    fx = check_scale(sx, "sx")
    fy = fx if sy is None else check_scale(sy, "sy")
    if direction == "up":
        if fx < 1 or fy < 1:
            raise ValueError(
                f"up() enlarges: it takes factors >= 1 (up(img, 2) doubles), got {fx:g}, {fy:g}; to shrink, "
                f"use down(img, {1 / min(fx, fy):g}) or rescale(img, {fx:g}, {fy:g})"
            )
        return fx, fy
    if (fx < 1 < fy) or (fy < 1 < fx):
        raise ValueError(
            f"down({fx:g}, {fy:g}) mixes a reduction factor (>= 1) and a scale (< 1): write both as factors, "
            f"down(img, {_factor(fx):g}, {_factor(fy):g}), or both as scales, down(img, {_ratio(fx):g}, {_ratio(fy):g})"
        )
    return _ratio(fx), _ratio(fy)


def check_box(box, w: int, h: int) -> tuple[float, float, float, float] | None:
    """``box = (left, top, right, bottom)`` within a ``w x h`` image, as Pillow's ``Image.resize``
    takes it (float32 coordinates, ``0 <= left < right <= w``, ``0 <= top < bottom <= h``); ``None``
    for no box or the whole image."""
    if box is None:
        return None
    try:
        left, top, right, bottom = (_float32(v) for v in box)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"box must be four finite numbers (left, top, right, bottom), got {box!r}") from None
    if not (0 <= left < right <= w and 0 <= top < bottom <= h):
        raise ValueError(
            f"box {tuple(box)} must lie within the {w}x{h} image with left < right and top < bottom "
            f"(0 <= left < right <= {w}, 0 <= top < bottom <= {h})"
        )
    box = (left, top, right, bottom)
    return None if box == (0.0, 0.0, float(w), float(h)) else box


def check_scale(s, name: str) -> float:
    """A positive finite scale factor as a float."""
    if isinstance(s, bool) or not isinstance(s, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(s).__name__}")
    s = float(s)
    if not math.isfinite(s) or s <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {s}")
    return s


def check_size(size) -> tuple[int, int]:
    """``size=(width, height)`` as two positive ints."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        raise TypeError(
            f"size={size} is one number: give size=(width, height), or width= / height= alone to keep the aspect ratio"
        )
    try:
        w, h = size
    except (TypeError, ValueError):
        raise TypeError(f"size must be (width, height), got {size!r}") from None
    return _positive_int(w, "width"), _positive_int(h, "height")


def _positive_int(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"output {name} must be a positive integer, got {v!r}")
    return int(v)


def _float32(v) -> float:
    """``v`` rounded to float32, as Pillow stores box coordinates."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        raise TypeError(v)
    return struct.unpack("f", struct.pack("f", float(v)))[0]


def _round(v: float) -> int:
    return max(1, math.floor(v + 0.5))


def _ratio(f: float) -> float:
    return 1 / f if f > 1 else f


def _factor(f: float) -> float:
    return 1 / f if f < 1 else f
