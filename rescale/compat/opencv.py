"""OpenCV's ``cv2.resize`` on uint8 images, reproduced bit for bit with numpy alone.

Transcribed from ``modules/imgproc/src/resize.cpp`` and checked against opencv-python-headless 5.1.0
on x86-64, whose resize runs OpenCV's SSE baseline code: each path OpenCV takes for 8-bit images,
with its own arithmetic.

* **Sizes**: ``dsize = (round(w * fx), round(h * fy))`` (half to even) when only ``fx, fy`` are given,
  and then ``1/fx``, not ``w / dsize``, sets the geometry; with ``dsize`` the factors are
  ``dsize / size``. Equal sizes copy the image.
* **INTER_LINEAR / INTER_CUBIC** (and INTER_AREA when enlarging either axis): source position
  ``(d + 0.5) * scale - 0.5`` in double, its fraction in float; coefficients in float32 (cubic:
  Keys ``a = -0.75``) quantised to ``round(c * 2048)`` (INTER_RESIZE_COEF_BITS = 11, no
  renormalisation); the horizontal pass sums in integers; taps past the border repeat the edge.
  The vertical pass: linear ``((b0 * (S0 >> 4)) >> 16) + ((b1 * (S1 >> 4)) >> 16) + 2) >> 2``;
  cubic ``(sum + 2**21) >> 22`` in integers, except on the first ``8 * (width * channels // 8)``
  values of each row, which OpenCV's SSE loop computes in float32 (``S0*b0 + (S1*b1 + (S2*b2 +
  S3*b3))``, ``b = beta / 2**22``) and rounds half to even. INTER_AREA enlarging uses the linear
  kernel at area coordinates (``sx = floor(d * scale)``, fraction ``(d + 1) - (sx + 1) / scale``).
* **INTER_AREA shrinking by integers** (``1/fx`` integral on both axes): block sums; 2x2 with 1, 3
  or 4 channels rounds ``(sum + 2) >> 2``, every other block ``sum * float32(1/area)`` half to even;
  blocks cut by the border divide by their pixel count. INTER_LINEAR at exactly 2x2 takes this path.
* **INTER_AREA shrinking otherwise**: per-axis tables of (source, float32 weight) from pixel overlaps;
  rows accumulated tap by tap in float32, then columns, rounded half to even.

x86 wheels of OpenCV hand INTER_CUBIC on 1, 3 and 4 channels to Intel IPP when IPP is enabled (the
default: ``cv2.ipp.useIPP()``); IPP computes in floating point and rounds once. ``ipp=True`` imitates
it: the exact double-precision result rounded to nearest, which equals IPP everywhere except at
values within about 1e-5 of a rounding boundary (measured in ``docs/compat.md``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["cv2_resize", "INTER_LINEAR", "INTER_CUBIC", "INTER_AREA"]

#: OpenCV's interpolation codes (the values of ``cv2.INTER_*``, so either may be passed).
INTER_LINEAR, INTER_CUBIC, INTER_AREA = 1, 2, 3
_NAMES = {"linear": INTER_LINEAR, "bilinear": INTER_LINEAR, "cubic": INTER_CUBIC, "bicubic": INTER_CUBIC,
          "area": INTER_AREA}  # fmt: skip
_DBL_EPSILON = np.finfo(np.float64).eps
_F32 = np.float32
_COEF_SCALE = _F32(1 << 11)  # INTER_RESIZE_COEF_SCALE


def cv2_resize(
    src: np.ndarray,
    dsize: tuple[int, int] | None = None,
    fx: float | None = None,
    fy: float | None = None,
    interpolation: int | str = INTER_LINEAR,
    *,
    ipp: bool = False,
) -> np.ndarray:
    """``cv2.resize(src, dsize, fx=fx, fy=fy, interpolation=...)`` on a uint8 image, bit for bit.

    Args:
        src: HxW or HxWxC uint8 array. The result keeps the layout (an HxWx1 input stays HxWx1,
            where cv2 would drop the last axis).
        dsize: ``(width, height)`` of the output, OpenCV's order; ``None`` (or ``(0, 0)``) to
            derive it from ``fx, fy``.
        fx, fy: scale factors, both needed without ``dsize``; OpenCV ignores them when ``dsize`` is
            given, so giving both is refused here.
        interpolation: ``INTER_LINEAR`` (default, as cv2), ``INTER_CUBIC``, ``INTER_AREA`` (the
            ``cv2`` constants work too) or ``"linear"``, ``"cubic"``, ``"area"``.
        ipp: imitate the Intel IPP path that x86 OpenCV wheels use for INTER_CUBIC on 1, 3 or 4
            channels when IPP is on (see the module docstring); no effect otherwise.

    Example:
        >>> img = np.arange(4 * 6, dtype=np.uint8).reshape(4, 6)
        >>> cv2_resize(img, (3, 2), interpolation="area")
        array([[ 4,  6,  8],
               [16, 18, 20]], dtype=uint8)
    """
    x = np.asarray(src)
    if x.dtype != np.uint8:
        raise TypeError(f"cv2_resize reproduces OpenCV on uint8 images, got {x.dtype}; use rescale.rescale for others")
    if x.ndim not in (2, 3) or min(x.shape) < 1:
        raise ValueError(f"expected a non-empty HxW or HxWxC array, got shape {x.shape}")
    code = _interpolation(interpolation)
    h, w = x.shape[:2]
    (dw, dh), inv_x, inv_y = _output_size(w, h, dsize, fx, fy)
    img = x.reshape(h, w, -1)
    if (dw, dh) == (w, h):
        out = img.copy()
    else:
        out = _resize(img, dw, dh, inv_x, inv_y, code, ipp)
    return out.reshape((dh, dw) + x.shape[2:])


def _interpolation(value: int | str) -> int:
    if isinstance(value, str) and value.lower() in _NAMES:
        return _NAMES[value.lower()]
    if not isinstance(value, (str, bool)) and value in (INTER_LINEAR, INTER_CUBIC, INTER_AREA):
        return int(value)
    raise ValueError(f"interpolation must be INTER_LINEAR, INTER_CUBIC, INTER_AREA or {sorted(_NAMES)}, got {value!r}")


def _output_size(w: int, h: int, dsize, fx, fy) -> tuple[tuple[int, int], float, float]:
    """cv::resize: ``((width, height), inv_scale_x, inv_scale_y)``."""
    if dsize is not None and tuple(dsize) != (0, 0):
        dw, dh = (int(v) for v in dsize)
        if dw < 1 or dh < 1:
            raise ValueError(f"dsize must be (width, height) with both positive, got {dsize!r}")
        if fx or fy:
            raise ValueError("give dsize or fx/fy, not both: cv2.resize silently ignores fx/fy when dsize is set")
        return (dw, dh), dw / w, dh / h
    if not (fx and fy and fx > 0 and fy > 0 and math.isfinite(fx) and math.isfinite(fy)):
        raise ValueError(f"without dsize, fx and fy must both be positive (e.g. fx=0.5, fy=0.5), got {fx!r}, {fy!r}")
    dw, dh = round(w * fx), round(h * fy)  # saturate_cast<int>: half to even, as Python's round
    if dw < 1 or dh < 1:
        raise ValueError(f"{w}x{h} scaled by ({fx}, {fy}) rounds to an empty {dw}x{dh} image")
    return (dw, dh), float(fx), float(fy)


def _resize(x: np.ndarray, dw: int, dh: int, inv_x: float, inv_y: float, code: int, ipp: bool) -> np.ndarray:
    """cv::hal::resize for CV_8U: pick OpenCV's path. ``x`` is HxWxC."""
    h, w, cn = x.shape
    scale_x, scale_y = 1 / inv_x, 1 / inv_y
    iscale_x, iscale_y = round(scale_x), round(scale_y)
    area_fast = abs(scale_x - iscale_x) < _DBL_EPSILON and abs(scale_y - iscale_y) < _DBL_EPSILON
    if code == INTER_LINEAR and area_fast and iscale_x == 2 and iscale_y == 2:
        code = INTER_AREA  # OpenCV: at exactly 2x2, INTER_AREA's fast path equals linear
    if code == INTER_AREA and scale_x >= 1 and scale_y >= 1:
        if area_fast:
            return _area_integer(x, dw, dh, iscale_x, iscale_y)
        if cn > 4:
            raise ValueError(f"OpenCV's INTER_AREA shrinks by non-integer factors only with up to 4 channels, got {cn}")
        return _area_fractional(x, dw, dh, scale_x, scale_y)
    if code == INTER_CUBIC and ipp and cn in (1, 3, 4) and min(h, w) >= 4:
        return _cubic_exact(x, dw, dh, scale_x, scale_y)
    xi, xw = _axis_table(w, dw, scale_x, inv_x, code, clamp=True)
    yi, yw = _axis_table(h, dh, scale_y, inv_y, code, clamp=False)
    rows, yi = _horizontal(x, xi, xw, yi)
    flat = rows.reshape(rows.shape[0], dw * cn)
    out = _vertical_cubic(flat, yi, yw) if code == INTER_CUBIC else _vertical_linear(flat, yi, yw)
    return out.reshape(dh, dw, cn)


def _cubic_coeffs(t: np.ndarray) -> np.ndarray:
    """interpolateCubic (a = -0.75) in float32, operation for operation: ``[n, 4]``."""
    a = _F32(-0.75)
    t1 = t + _F32(1)
    c0 = ((a * t1 - _F32(5 * -0.75)) * t1 + _F32(8 * -0.75)) * t1 - _F32(4 * -0.75)
    c1 = ((_F32(1.25) * t - _F32(2.25)) * t) * t + _F32(1)
    r = _F32(1) - t
    c2 = ((_F32(1.25) * r - _F32(2.25)) * r) * r + _F32(1)
    c3 = _F32(1) - c0 - c1 - c2
    return np.stack([c0, c1, c2, c3], axis=-1)


def _axis_table(n_in: int, n_out: int, scale: float, inv_scale: float, code: int, clamp: bool):
    """Source indices (edge repeated) and int coefficients ``[n_out, ksize]`` of one axis. ``clamp``:
    the horizontal pass of linear/area pins positions past the ends (the vertical pass does not)."""
    d = np.arange(n_out, dtype=np.float64)
    if code == INTER_AREA:  # area coordinates of an enlarging INTER_AREA
        s = np.floor(d * scale)
        f = ((d + 1) - (s + 1) * inv_scale).astype(_F32)
        f = np.where(f <= 0, _F32(0), f - np.floor(f)).astype(_F32)
        s = s.astype(np.int64)
    else:
        f = ((d + 0.5) * scale - 0.5).astype(_F32)
        s = np.floor(f).astype(np.int64)
        f = f - s.astype(_F32)
    if code == INTER_CUBIC:
        coeffs, taps = _cubic_coeffs(f), s[:, None] + np.arange(-1, 3)
    else:
        if clamp:
            f, s = np.where(s < 0, _F32(0), f), np.maximum(s, 0)
            f, s = np.where(s >= n_in - 1, _F32(0), f), np.minimum(s, n_in - 1)
        coeffs, taps = np.stack([_F32(1) - f, f], axis=-1), s[:, None] + np.arange(2)
    weights = np.rint(coeffs * _COEF_SCALE).astype(np.int64)  # saturate_cast<short>: half to even
    return np.clip(taps, 0, n_in - 1), weights


def _horizontal(x: np.ndarray, xi: np.ndarray, xw: np.ndarray, yi: np.ndarray):
    """Integer horizontal pass over the source rows the vertical taps use; returns those rows
    ``[n, dw, C]`` (int32, as OpenCV's buffer: at most 255 * 2816 in magnitude) and ``yi``
    re-indexed into them."""
    used, inverse = np.unique(yi, return_inverse=True)
    src = x[used].astype(np.int32)
    w = xw.astype(np.int32)
    rows = src[:, xi[:, 0]] * w[None, :, 0, None]
    for k in range(1, xi.shape[1]):
        rows += src[:, xi[:, k]] * w[None, :, k, None]
    return rows, inverse.reshape(yi.shape)


def _vertical_linear(rows: np.ndarray, yi: np.ndarray, yw: np.ndarray) -> np.ndarray:
    """VResizeLinear<uchar, int, short>: 16-bit products of the rows shifted by 4, then ``(+2) >> 2``."""
    shifted = rows >> 4
    b = yw.astype(np.int32)
    s0 = (b[:, 0, None] * shifted[yi[:, 0]]) >> 16
    s1 = (b[:, 1, None] * shifted[yi[:, 1]]) >> 16
    return np.clip((s0 + s1 + 2) >> 2, 0, 255).astype(np.uint8)


def _vertical_cubic(rows: np.ndarray, yi: np.ndarray, yw: np.ndarray) -> np.ndarray:
    """VResizeCubic: the first ``8 * (n // 8)`` values of each row in OpenCV's SSE loop (float32),
    the rest in integers."""
    n = rows.shape[1]
    nvec = n // 8 * 8
    out = np.empty((yi.shape[0], n), np.uint8)
    if nvec:
        b = yw.astype(_F32) * _F32(1.0 / (1 << 22))  # beta * 2**-22, exact
        vec = rows[:, :nvec].astype(_F32)  # exact: |rows| < 2**24
        t = vec[yi[:, 3]] * b[:, 3, None]
        for k in (2, 1, 0):  # S0*b0 + (S1*b1 + (S2*b2 + S3*b3)), no FMA in the SSE baseline
            t = vec[yi[:, k]] * b[:, k, None] + t
        out[:, :nvec] = np.clip(np.rint(t), 0, 255)
    if nvec < n:
        tail = rows[:, nvec:].astype(np.int64)
        acc = sum(yw[:, k, None] * tail[yi[:, k]] for k in range(4))
        out[:, nvec:] = np.clip((acc + (1 << 21)) >> 22, 0, 255)  # FixedPtCast<int, uchar, 22>
    return out


def _area_integer(x: np.ndarray, dw: int, dh: int, isx: int, isy: int) -> np.ndarray:
    """resizeAreaFast_: whole blocks, then the blocks the border cuts (by their pixel count)."""
    h, w, cn = x.shape
    fh, fw = min(h // isy, dh), min(w // isx, dw)
    out = np.zeros((dh, dw, cn), np.uint8)
    core, sums = x[: fh * isy, : fw * isx], np.zeros((fh, fw, cn), np.int32)
    for i in range(isy):  # strided adds: much faster in numpy than a reduction over reshaped axes
        for j in range(isx):
            sums += core[i::isy, j::isx]
    if isx == 2 and isy == 2 and cn in (1, 3, 4):
        out[:fh, :fw] = (sums + 2) >> 2
    else:
        out[:fh, :fw] = np.clip(np.rint(sums.astype(_F32) * (_F32(1) / _F32(isx * isy))), 0, 255)
    for dy in range(dh):
        for dx in range(fw if dy < fh else 0, dw):
            cell = x[dy * isy : (dy + 1) * isy, dx * isx : (dx + 1) * isx]
            count = _F32(cell.shape[0] * cell.shape[1])
            out[dy, dx] = np.clip(np.rint(cell.sum(axis=(0, 1), dtype=np.int64).astype(_F32) / count), 0, 255)
    return out


def _area_table(n_in: int, n_out: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """computeResizeAreaTab: per output pixel, its sources and float32 overlap weights, in
    OpenCV's order, padded with weight 0: ``([n_out, k] int, [n_out, k] float32)``."""
    rows = []
    for d in range(n_out):
        fsx1 = d * scale
        fsx2 = fsx1 + scale
        cell = min(scale, n_in - fsx1)
        sx2 = min(math.floor(fsx2), n_in - 1)
        sx1 = min(math.ceil(fsx1), sx2)
        taps = []
        if sx1 - fsx1 > 1e-3:
            taps.append((sx1 - 1, (sx1 - fsx1) / cell))
        taps += [(s, 1.0 / cell) for s in range(sx1, sx2)]
        if fsx2 - sx2 > 1e-3:
            taps.append((sx2, min(min(fsx2 - sx2, 1.0), cell) / cell))
        rows.append(taps)
    k = max(len(t) for t in rows)
    index, weight = np.zeros((n_out, k), np.int64), np.zeros((n_out, k), _F32)
    for d, taps in enumerate(rows):
        for j, (s, a) in enumerate(taps):
            index[d, j], weight[d, j] = s, a
    return index, weight


def _area_fractional(x: np.ndarray, dw: int, dh: int, scale_x: float, scale_y: float) -> np.ndarray:
    """resizeArea_<uchar, float>: float32 accumulation tap by tap, rows then columns."""
    xi, xa = _area_table(x.shape[1], dw, scale_x)
    yi, ya = _area_table(x.shape[0], dh, scale_y)
    src = x.astype(_F32)
    buf = np.zeros((x.shape[0], dw, x.shape[2]), _F32)
    for k in range(xi.shape[1]):  # buf[d] + S * alpha; a padding tap adds exactly 0
        buf += src[:, xi[:, k]] * xa[None, :, k, None]
    acc = ya[:, 0, None, None] * buf[yi[:, 0]]
    for k in range(1, yi.shape[1]):
        acc += ya[:, k, None, None] * buf[yi[:, k]]
    return np.clip(np.rint(acc), 0, 255).astype(np.uint8)


def _cubic_exact(x: np.ndarray, dw: int, dh: int, scale_x: float, scale_y: float) -> np.ndarray:
    """Keys ``a = -0.75`` at OpenCV's positions and edges, in double, rounded once (IPP's behaviour)."""

    def table(n_in, n_out, scale):
        f = (np.arange(n_out) + 0.5) * scale - 0.5
        s = np.floor(f)
        t = np.abs((f - s)[:, None] - np.arange(-1, 3))
        w = np.where(t <= 1, (1.25 * t - 2.25) * t * t + 1, ((-0.75 * t + 3.75) * t - 6) * t + 3)
        return np.clip(s.astype(np.int64)[:, None] + np.arange(-1, 3), 0, n_in - 1), w

    xi, xw = table(x.shape[1], dw, scale_x)
    yi, yw = table(x.shape[0], dh, scale_y)
    src = x.astype(np.float64)
    rows = sum(src[:, xi[:, k]] * xw[None, :, k, None] for k in range(4))
    out = sum(rows[yi[:, k]] * yw[:, k, None, None] for k in range(4))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
