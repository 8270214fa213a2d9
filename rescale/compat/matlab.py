"""MATLAB's ``imresize``, reproduced on uint8/uint16 images (and float ones) with numpy alone.

Transcribed from imresize.m (Image Processing Toolbox, R2013b and later), step by step:

* **Size rule** (``fixupSizeAndScale``): given a scale ``s``, the output has ``ceil(s * in)`` pixels
  per axis and ``s`` itself, not ``out / in``, sets the geometry; given ``[rows cols]`` (one may be
  ``None``, MATLAB's ``NaN``: it is ``ceil``-ed from the aspect ratio), the scale is ``out / in``, or
  ``out / in`` of the given axis for both when one was ``None``.
* **Weights** (``contributions``): output pixel ``x`` (1-based) samples ``u = x / s + (1 - 1/s) / 2``;
  when shrinking with antialiasing the kernel becomes ``s * k(s * t)``, ``1/s`` times wider; each
  row of weights is divided by its sum; taps past the border mirror (``aux = [1:n, n:-1:1]``);
  all-zero columns are dropped.
* **Passes**: one axis at a time, the axis with the smaller scale first (``sort`` is stable: rows
  first on a tie), each pass computed in double and, for integer images, rounded to the image's
  type before the next (what ``imresizemex`` returns for integer input).

Rounding: MATLAB rounds half away from zero. A value that is a tie in exact arithmetic (``k + 0.5``,
common at factors such as 2/3) may come out of the double sum a hair above or below; here it always
goes up (``floor(v + 0.5 + 1e-6)``), as in :func:`rescale.eval.datasets.imresize_uint8`, because
MATLAB's own summation order inside ``imresizemex`` is not documented.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..tables import AxisTable

__all__ = ["imresize", "contributions", "imresize_size", "METHODS"]


def _cubic(x: np.ndarray) -> np.ndarray:
    # Keys (1981), a = -0.5, as imresize.m writes it
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((1 < ax) & (ax <= 2))


def _box(x: np.ndarray) -> np.ndarray:
    return ((-0.5 <= x) & (x < 0.5)).astype(np.float64)


def _triangle(x: np.ndarray) -> np.ndarray:
    return (x + 1) * ((-1 <= x) & (x < 0)) + (1 - x) * ((0 <= x) & (x <= 1))


def _lanczos(a: int) -> Callable[[np.ndarray], np.ndarray]:
    eps = np.finfo(np.float64).eps  # MATLAB's eps, which keeps 0/0 away at x = 0

    def kernel(x: np.ndarray) -> np.ndarray:
        f = (np.sin(np.pi * x) * np.sin(np.pi * x / a) + eps) / ((np.pi**2 * x * x / a) + eps)
        return f * (np.abs(x) < a)

    return kernel


#: MATLAB's method names -> (kernel, width in input pixels at scale 1).
METHODS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float]] = {
    "nearest": (_box, 1.0),
    "bilinear": (_triangle, 2.0),
    "triangle": (_triangle, 2.0),
    "bicubic": (_cubic, 4.0),
    "cubic": (_cubic, 4.0),
    "box": (_box, 1.0),
    "lanczos2": (_lanczos(2), 4.0),
    "lanczos3": (_lanczos(3), 6.0),
}


def contributions(
    in_length: int, out_length: int, scale: float, method: str = "bicubic", antialiasing: bool = True
) -> AxisTable:
    """MATLAB's weights and (0-based) source indices for one axis, as a :class:`rescale.tables.AxisTable`.

    ``scale`` is MATLAB's (output pixels per input pixel), which with the size rule is not
    ``out_length / in_length`` in general.

    Example:
        >>> t = contributions(3, 6, 2.0)
        >>> t.index[0].tolist(), round(float(t.weight[0].sum()), 12)
        ([1, 0, 0, 1], 1.0)
    """
    kernel, width = _method(method)
    if scale < 1 and antialiasing:
        h, width = (lambda t: scale * kernel(scale * t)), width / scale
    else:
        h = kernel
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2
    indices = left[:, None] + np.arange(taps)  # 1-based, may lie outside 1..in_length
    weights = h(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])  # aux, 0-based
    indices = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    keep = np.any(weights != 0, axis=0)
    return AxisTable(in_length, out_length, indices[:, keep].astype(np.int32), weights[:, keep])


def imresize_size(
    in_size: tuple[int, int],
    scale: float | Sequence[float] | None = None,
    output_size: Sequence[float | None] | None = None,
) -> tuple[tuple[int, int], tuple[float, float]]:
    """MATLAB's size rule: ``((rows, cols), (row_scale, col_scale))`` for an image of ``in_size``
    (rows, cols) resized by ``scale`` (one number or (rows, cols)) and/or to ``output_size``
    ((rows, cols), one of them may be ``None``).

    Example:
        >>> imresize_size((512, 512), 1 / 3)  # ceil(512 / 3) = 171 pixels, scale 1/3 (not 171/512)
        ((171, 171), (0.3333333333333333, 0.3333333333333333))
        >>> imresize_size((10, 15), output_size=(None, 20))  # rows from the aspect ratio, ceil-ed
        ((14, 20), (1.3333333333333333, 1.3333333333333333))
    """
    if scale is None and output_size is None:
        raise ValueError("give a scale factor or an output size [rows, cols]")
    scales = None if scale is None else _pair(scale, "scale")
    size_dim = None
    if output_size is not None:
        size = [None if s is None or (isinstance(s, float) and math.isnan(s)) else _positive(s, "output_size")
                for s in _two(output_size, "output_size")]  # fmt: skip
        if size[0] is None and size[1] is None:
            raise ValueError("output_size=(None, None): give at least rows or cols")
        if size[0] is None:  # fixupSize: the other axis follows the aspect ratio, then ceil
            size[0], size_dim = size[1] * in_size[0] / in_size[1], 1
        elif size[1] is None:
            size[1], size_dim = size[0] * in_size[1] / in_size[0], 0
        rows, cols = (math.ceil(s) for s in size)
        if scales is None:  # deriveScaleFromSize
            if size_dim is None:
                scales = (rows / in_size[0], cols / in_size[1])
            else:
                s = (rows, cols)[size_dim] / in_size[size_dim]
                scales = (s, s)
    else:  # deriveSizeFromScale
        rows, cols = (math.ceil(s * n) for s, n in zip(scales, in_size))
    return (rows, cols), scales


def imresize(
    img: np.ndarray,
    scale_or_size: float | Sequence[float | None] | None = None,
    method: str = "bicubic",
    *,
    scale: float | Sequence[float] | None = None,
    output_size: Sequence[float | None] | None = None,
    antialiasing: bool | None = None,
) -> np.ndarray:
    """MATLAB ``imresize(A, scale)``, ``imresize(A, [rows cols])`` or ``imresize(A, ..., method)``.

    Args:
        img: HxW or HxWxC array, uint8 or uint16 (rounded to the type after each pass, as MATLAB)
            or float32/float64 (not rounded).
        scale_or_size: as MATLAB's second argument: a number is the scale factor, two numbers are
            ``[rows cols]`` (one may be ``None``, MATLAB's ``NaN``).
        method: ``"bicubic"`` (default), ``"bilinear"``, ``"box"``, ``"nearest"``, ``"lanczos2"``,
            ``"lanczos3"`` (or MATLAB's other names ``"cubic"``, ``"triangle"``).
        scale, output_size: MATLAB's ``'Scale'`` (one number or (rows, cols)) and ``'OutputSize'``
            parameters, instead of ``scale_or_size``; both may be given, as in MATLAB.
        antialiasing: MATLAB's ``'Antialiasing'``; default on, off for ``"nearest"``.

    Returns:
        An array of the input's dtype, ``rows x cols`` (x C): with a scale, ``ceil(scale * in)``.

    Example:
        >>> img = np.arange(512 * 512, dtype=np.uint32).reshape(512, 512).astype(np.uint8)
        >>> imresize(img, 1 / 3).shape, imresize(img, [100, None]).shape
        ((171, 171), (100, 100))
    """
    a = np.asarray(img)
    if a.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise TypeError(f"imresize takes uint8, uint16, float32 or float64 images, got {a.dtype}")
    if a.ndim not in (2, 3) or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"expected a non-empty HxW or HxWxC array, got shape {a.shape}")
    if scale_or_size is not None:
        if scale is not None or output_size is not None:
            raise ValueError("give the scale or size either positionally or as scale=/output_size=, not both")
        if np.ndim(scale_or_size) == 0:
            scale = scale_or_size
        else:
            output_size = scale_or_size
    _method(method)
    if antialiasing is None:
        antialiasing = method.lower() != "nearest"
    size, scales = imresize_size(a.shape[:2], scale, output_size)
    tables = [contributions(a.shape[d], size[d], scales[d], method, antialiasing) for d in (0, 1)]
    out = a
    for dim in sorted((0, 1), key=lambda d: scales[d]):  # dimensionOrder: stable sort of the scales
        out = _resize_along(out, dim, tables[dim])
    return out


def _resize_along(a: np.ndarray, dim: int, table: AxisTable) -> np.ndarray:
    """One pass of ``imresizemex``: weighted sum in double along ``dim``, rounded for integer types."""
    shape = [1] * a.ndim
    shape[dim] = table.out_size
    acc = np.zeros(a.shape[:dim] + (table.out_size,) + a.shape[dim + 1 :], np.float64)
    for k in range(table.taps):  # taps in MATLAB's order, summed left to right
        acc += table.weight[:, k].reshape(shape) * np.take(a, table.index[:, k], axis=dim)
    if np.issubdtype(a.dtype, np.integer):
        acc = np.clip(np.floor(acc + (0.5 + 1e-6)), 0, np.iinfo(a.dtype).max)
    return acc.astype(a.dtype)


def _method(method: str) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"unknown imresize method {method!r}; expected one of {sorted(METHODS)}")
    return METHODS[method.lower()]


def _two(value, name: str) -> list:
    if isinstance(value, str) or np.ndim(value) != 1 or len(value) != 2:
        raise ValueError(f"{name} must be two numbers (rows, cols), got {value!r}")
    return list(value)


def _pair(value, name: str) -> tuple[float, float]:
    if np.ndim(value) == 0:
        s = _positive(value, name)
        return s, s
    rows, cols = _two(value, name)
    return _positive(rows, name), _positive(cols, name)


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be numbers, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return float(value)
