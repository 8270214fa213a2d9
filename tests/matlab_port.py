"""An independent reference for MATLAB ``imresize`` on uint8 (and float) images: a float64 numpy port
of MATLAB's imresize.m, transcribed from ``fixupSizeAndScale``, ``contributions`` and the kernels,
written without rescale's code."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["matlab_imresize"]


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    return (1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1) + (-0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2) * (
        (ax > 1) & (ax <= 2)
    )


def _box(x: np.ndarray) -> np.ndarray:
    return np.where((x >= -0.5) & (x < 0.5), 1.0, 0.0)


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.where((x >= -1) & (x < 0), x + 1, 0.0) + np.where((x >= 0) & (x <= 1), 1 - x, 0.0)


def _lanczos3(x: np.ndarray) -> np.ndarray:
    eps = 2.0**-52
    return (np.sin(np.pi * x) * np.sin(np.pi * x / 3) + eps) / (np.pi**2 * x**2 / 3 + eps) * (np.abs(x) < 3)


# imresize.m's getMethodInfo: name -> (kernel, kernel width)
_KERNELS = {"bicubic": (_cubic, 4.0), "bilinear": (_triangle, 2.0), "box": (_box, 1.0), "lanczos3": (_lanczos3, 6.0)}
_KERNELS["nearest"] = _KERNELS["box"]


def _contributions(in_len: int, out_len: int, scale: float, method: str, antialiasing: bool):
    """MATLAB's weights and 0-based indices for one axis (``scale`` as MATLAB passes it)."""
    kernel, width = _KERNELS[method]
    if scale < 1 and antialiasing:  # stretch the kernel
        h, width = (lambda x: scale * kernel(scale * x)), width / scale
    else:
        h = kernel
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    ind = left[:, None] + np.arange(taps)[None, :] - 1  # 0-based
    w = h(u[:, None] - ind - 1)
    w = w / w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])  # symmetric edges
    ind = mirror[np.mod(ind, 2 * in_len).astype(np.int64)]
    keep = np.any(w != 0, axis=0)
    return w[:, keep], ind[:, keep]


def _size_and_scale(in_h: int, in_w: int, out_h, out_w, scale):
    """fixupSizeAndScale: output rows/cols and the per-axis scales MATLAB passes to contributions."""
    if scale is not None:
        sh, sw = (scale, scale) if np.ndim(scale) == 0 else scale
        return math.ceil(sh * in_h), math.ceil(sw * in_w), sh, sw
    if out_h is None:  # 'NaN' rows: from the columns and the aspect ratio, scale from the columns
        out_w = math.ceil(out_w)
        return math.ceil(out_w * in_h / in_w), out_w, out_w / in_w, out_w / in_w
    if out_w is None:
        out_h = math.ceil(out_h)
        return out_h, math.ceil(out_h * in_w / in_h), out_h / in_h, out_h / in_h
    return out_h, out_w, out_h / in_h, out_w / in_w


def matlab_imresize(
    img: np.ndarray, out_h=None, out_w=None, *, scale=None, method: str = "bicubic", antialiasing=None
) -> np.ndarray:
    """``imresize(img, [out_h out_w], method)`` or ``imresize(img, scale, method)`` of an HxW or HxWxC
    uint8/uint16 (rounded to the type after each pass) or float array. ``out_h`` or ``out_w`` may be None
    (MATLAB's NaN); ``scale`` may be a pair (rows, cols)."""
    if antialiasing is None:
        antialiasing = method != "nearest"
    two_d = img.ndim == 2
    img = img[:, :, None] if two_d else img
    out_h, out_w, sh, sw = _size_and_scale(img.shape[0], img.shape[1], out_h, out_w, scale)
    order = [0, 1] if sh <= sw else [1, 0]  # smaller factor first, rows on a tie
    out = img
    for dim in order:
        n_out, s = (out_h, sh) if dim == 0 else (out_w, sw)
        w, ind = _contributions(img.shape[dim], n_out, s, method, antialiasing)
        moved = np.moveaxis(out.astype(np.float64), dim, 0)  # [in, other, C]
        res = np.einsum("ok,ok...->o...", w, moved[ind])
        if img.dtype.kind == "u":
            # round half up; ties exact in real arithmetic go up whatever float noise says
            res = np.clip(np.floor(res + 0.5 + 1e-6), 0, np.iinfo(img.dtype).max)
        out = np.moveaxis(res.astype(img.dtype), 0, dim)
    return out[:, :, 0] if two_d else out
