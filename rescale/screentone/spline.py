"""Cubic B-spline reads of prefiltered coefficients: ``scipy.ndimage.map_coordinates(c, at,
order=3, mode="nearest", prefilter=False)``'s values, to the bit, without its per-call overhead.

On grey pages every copy of the synthesis reads the source between its pixels (moved exactly onto
the screen's lattice, :mod:`.patches`): a thousand or more calls a page of a few hundred points each,
where ndimage's setup (its coordinate array checks, its per-axis offset tables) costs more than the
reads. This is ndimage's arithmetic in its order: the four weights of each axis from the delta to
the knot below the coordinate, each tap's coefficient (its index clamped to the array: "nearest";
the coordinate itself is not) multiplied by the row weight then the column weight, and the 16
products summed row by row. numba does not contract those multiplies and adds (no fast-math), so
the values are ndimage's (tested against it, inside the array and out).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = ["cubic_read"]


@nb.njit(inline="always", nogil=True, cache=True)
def _weights(c, w):
    """``w[0..3]``: the cubic B-spline's weights at the four knots around ``c`` (ndimage's
    formulas, the last weight one minus the others)."""
    y = c - math.floor(c)
    z = 1.0 - y
    w[1] = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0
    w[2] = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0
    w[0] = z * z * z / 6.0
    w[3] = 1.0
    for i in range(3):
        w[3] -= w[i]


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _read(coeffs, ay, ax, out):
    n_ch, h, w = coeffs.shape
    wy, wx = np.empty(4), np.empty(4)
    iy, ix = np.empty(4, dtype=np.int64), np.empty(4, dtype=np.int64)
    for k in range(ay.shape[0]):
        cy, cx = ay[k], ax[k]
        _weights(cy, wy)
        _weights(cx, wx)
        y0, x0 = int(math.floor(cy)) - 1, int(math.floor(cx)) - 1
        for i in range(4):
            iy[i] = min(max(y0 + i, 0), h - 1)
            ix[i] = min(max(x0 + i, 0), w - 1)
        for ch in range(n_ch):
            t = 0.0
            for i in range(4):
                for j in range(4):
                    t += coeffs[ch, iy[i], ix[j]] * wy[i] * wx[j]
            out[ch, k] = t


def cubic_read(coeffs: np.ndarray, ay: np.ndarray, ax: np.ndarray) -> np.ndarray:
    """``[C, N]``: the cubic splines of ``coeffs`` ``[C, H, W]`` (each channel prefiltered, as by
    ``ndimage.spline_filter(..., 3, mode="nearest")``) at the points ``(ay, ax)`` ``[N]``; the
    values of ``np.stack([ndimage.map_coordinates(c, [ay, ax], order=3, mode="nearest",
    prefilter=False) for c in coeffs])``.

    Example (coefficients of a plane, 4 y + x, read between the knots):
        >>> round(float(cubic_read(np.arange(16.0).reshape(1, 4, 4), np.array([1.5]), np.array([1.5]))[0, 0]), 9)
        7.5
    """
    coeffs = np.ascontiguousarray(coeffs, dtype=np.float64)
    ay, ax = np.broadcast_arrays(np.asarray(ay, dtype=np.float64), np.asarray(ax, dtype=np.float64))
    out = np.empty((coeffs.shape[0], ay.shape[0]))
    _read(coeffs, np.ascontiguousarray(ay), np.ascontiguousarray(ax), out)
    return out
