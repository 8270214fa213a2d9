"""An independent reference for MATLAB ``imresize`` (bicubic, uint8): a float64 numpy port of MATLAB's
imresize.m, transcribed from its ``contributions()``, written without rescale's tables."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["matlab_imresize"]


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    return (1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1) + (-0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2) * (
        (ax > 1) & (ax <= 2)
    )


def _contributions(in_len: int, out_len: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's weights and 0-based indices for one axis (``scale = out_len / in_len``)."""
    if scale < 1:  # antialiasing: stretch the kernel
        h, width = (lambda x: scale * _cubic(scale * x)), 4.0 / scale
    else:
        h, width = _cubic, 4.0
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


def matlab_imresize(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """``imresize(img, [out_h out_w], 'bicubic')`` of an HxWxC uint8 array, uint8 after each pass."""
    sh, sw = out_h / img.shape[0], out_w / img.shape[1]
    order = [0, 1] if sh <= sw else [1, 0]  # smaller factor first, rows on a tie
    out = img
    for dim in order:
        n_out = (out_h, out_w)[dim]
        if out.shape[dim] == n_out:
            continue
        w, ind = _contributions(out.shape[dim], n_out, n_out / out.shape[dim])
        moved = np.moveaxis(out.astype(np.float64), dim, 0)  # [in, other, C]
        res = np.einsum("ok,ok...->o...", w, moved[ind])
        # round half up; ties exact in real arithmetic go up whatever float noise says
        out = np.moveaxis(np.clip(np.floor(res + 0.5 + 1e-6), 0, 255).astype(np.uint8), 0, dim)
    return out
