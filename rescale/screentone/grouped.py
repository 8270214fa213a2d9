"""A region's pixels grouped by block and lattice phase, and the median of each group.

:func:`rescale.screentone.analysis`'s regularity test folds a region's pixels onto one cell of its
screen's lattice, per block of the page (a key per pixel: :func:`block_phase_keys`, numpy's
arithmetic in one pass instead of a temporary array per operation), and reads at each pixel the
median of its key (:func:`median_by_key`). Sorting the region's pixels by key and value
(``np.lexsort``) took half of that test's time; a counting sort by key, then a sort of each key's
few values, picks the same values (a median is one of the values, whatever sorts them).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["block_phase_keys", "median_by_key"]


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _medians(key, values, n_keys, out):
    """``out[i]``: the ``c // 2``-th smallest (0 first) of the ``c`` values whose key is ``key[i]``."""
    n = key.shape[0]
    start = np.zeros(n_keys + 1, np.int64)
    for i in range(n):
        start[key[i] + 1] += 1
    for k in range(n_keys):
        start[k + 1] += start[k]
    fill = start[:-1].copy()
    ordered = np.empty(n)
    for i in range(n):
        k = key[i]
        ordered[fill[k]] = values[i]
        fill[k] += 1
    median = np.empty(n_keys)
    for k in range(n_keys):
        lo, hi = start[k], start[k + 1]
        if hi > lo:
            part = ordered[lo:hi]
            part.sort()
            median[k] = part[(hi - lo) // 2]
    for i in range(n):
        out[i] = median[key[i]]


def median_by_key(key: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``[N]``: for each ``i``, the median of the ``values`` (float ``[N]``) whose ``key`` (non-negative
    ints ``[N]``) is ``key[i]``: of ``c`` values the ``c // 2``-th smallest (the upper one of an even
    count), as ``values[np.lexsort((values, key))]`` has it at each key's first place plus ``c // 2``.

    Example:
        >>> median_by_key(np.array([0, 2, 0, 2, 0]), np.array([5.0, 1.0, 3.0, 2.0, 4.0])).tolist()
        [4.0, 2.0, 4.0, 2.0, 4.0]
    """
    key = np.ascontiguousarray(key, dtype=np.int64)
    values = np.ascontiguousarray(values, dtype=np.float64)
    out = np.empty(len(values))
    if len(key):
        _medians(key, values, int(key.max()) + 1, out)
    return out


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _keys(img, mask, lattice, bins, block, ys, xs, values, cell, key):
    """:func:`block_phase_keys` into the arrays given (as long as the mask's pixels)."""
    h, w = mask.shape
    last = 0  # the mask's last column
    for y in range(h):
        for x in range(w):
            if mask[y, x] and x > last:
                last = x
    across = last // block + 1
    n = 0
    for y in range(h):
        for x in range(w):
            if not mask[y, x]:
                continue
            phase = 0
            for v in range(lattice.shape[0]):
                # As numpy has it: float products and sum, floor, then the float remainder.
                phase = phase * bins + np.int64(np.floor((lattice[v, 0] * y + lattice[v, 1] * x) * bins) % bins)
            ys[n], xs[n], values[n] = y, x, img[y, x]
            cell[n] = (y // block) * across + x // block
            key[n] = cell[n] * bins ** lattice.shape[0] + phase
            n += 1


def block_phase_keys(img: np.ndarray, mask: np.ndarray, lattice: list, bins: int, block: int) -> tuple:
    """The pixels of ``mask`` (bool ``[H, W]``) in row-major order (``np.nonzero``'s), ``(ys, xs,
    values, cell, key)`` ``[N]`` each: their rows and columns, ``img``'s values there, their ``block``
    x ``block`` block (row-major over the columns up to the mask's last) and their key, the block
    and the pixel's phase on ``lattice`` (wave vectors (fy, fx)) in ``bins`` steps per vector, as

        phase = sum over v of (floor((fy_v ys + fx_v xs) bins) % bins), in base ``bins``
        key = cell * bins ** len(lattice) + phase

    Example:
        >>> mask = np.ones((2, 3), bool)
        >>> block_phase_keys(np.zeros((2, 3)), mask, [np.array([0.0, 0.25])], 4, 2)[4].tolist()
        [0, 1, 6, 0, 1, 6]
    """
    mask = np.ascontiguousarray(mask, dtype=bool)
    n = int(np.count_nonzero(mask))
    ys, xs, cell, key = (np.empty(n, dtype=np.int64) for _ in range(4))
    values = np.empty(n)
    vectors = np.array(lattice, dtype=np.float64).reshape(-1, 2)
    if n:
        _keys(
            np.ascontiguousarray(img, dtype=np.float64), mask, vectors, int(bins), int(block), ys, xs, values, cell, key
        )
    return ys, xs, values, cell, key
