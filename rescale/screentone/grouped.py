"""The median of the values that share each integer key, as sorting them by key and value gives it.

:func:`rescale.screentone.analysis`'s regularity test reads, at each pixel of a region, the median
of its block and phase (a key per pixel). Sorting the region's pixels by key and value
(``np.lexsort``) took half of that test's time; a counting sort by key, then a sort of each key's
few values, picks the same values (a median is one of the values, whatever sorts them).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["median_by_key"]


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
