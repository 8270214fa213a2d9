"""The lattice of a periodic screen: its wave vectors, how far an integer shift is from a lattice
vector, the integer shifts that nearly are, and the screen read at such shifts.

A screen copied with a shift that is a lattice vector continues its own phase, so copies made with
shifts that differ by (nearly) lattice vectors meet without seams; and a pixel of a screen looks
like the pixels a few lattice vectors away, which a stroke drawn over it does not.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["wave_vectors", "phase_error", "onto_lattice", "near_lattice_offsets", "directions", "lattice_median"]


def wave_vectors(kind: str, period: float, angle: float) -> list:
    """The wave vectors ``(fy, fx)`` (cycles per pixel) of a periodic screen whose first wave vector
    is at ``angle`` degrees (``atan2(fy, fx)``): one for lines, two at right angles for dots, none
    for noise.

    Example:
        >>> [v.round(3).tolist() for v in wave_vectors("dots", 4.0, 0.0)]
        [[0.0, 0.25], [0.25, -0.0]]
    """
    if kind == "noise" or period <= 0:
        return []
    th = np.deg2rad(angle)
    v = np.array([np.sin(th), np.cos(th)]) / period
    return [v, np.array([v[1], -v[0]])] if kind == "dots" else [v]


def phase_error(vectors: list, dy, dx) -> np.ndarray:
    """How far the integer shifts ``(dy, dx)`` (arrays of one shape) are from the screen's lattice:
    the root sum of squares over its wave vectors of each phase's distance to a whole number of
    cycles, in cycles (0 on the lattice, at most 0.5 per wave vector). 0 everywhere for noise (no
    lattice: any shift continues it).

    Example:
        >>> phase_error(wave_vectors("lines", 4.0, 0.0), np.array([0, 0, 0]), np.array([4, 2, 5])).tolist()
        [0.0, 0.5, 0.25]
    """
    dy, dx = np.asarray(dy, dtype=float), np.asarray(dx, dtype=float)
    err = np.zeros(np.broadcast(dy, dx).shape)
    for fy, fx in vectors:
        u = fy * dy + fx * dx
        err += (u - np.round(u)) ** 2
    return np.sqrt(err)


def onto_lattice(vectors: list, dy, dx) -> tuple[np.ndarray, np.ndarray]:
    """The shortest real offsets ``(ey, ex)`` that move the integer shifts ``(dy, dx)`` exactly onto
    the screen's lattice (each phase a whole number of cycles): for dots the one solution of both
    phases, for lines the offset along the wave vector; 0 for noise.

    Example (a 4 px dot screen's lattice holds (4, 4), not (3, 5)):
        >>> [float(e[0]) for e in onto_lattice(wave_vectors("dots", 4.0, 0.0), np.array([3]), np.array([5]))]
        [1.0, -1.0]
    """
    dy, dx = np.asarray(dy, dtype=float), np.asarray(dx, dtype=float)
    if not vectors:
        return np.zeros_like(dy), np.zeros_like(dx)
    # The phases' residuals to the nearest whole cycles, to be added by the offset.
    res = [np.round(fy * dy + fx * dx) - (fy * dy + fx * dx) for fy, fx in vectors]
    if len(vectors) == 1:
        (fy, fx), (r,) = vectors[0], res
        n = fy * fy + fx * fx
        return r * fy / n, r * fx / n
    inv = np.linalg.inv(np.array(vectors, dtype=float))
    return inv[0, 0] * res[0] + inv[0, 1] * res[1], inv[1, 0] * res[0] + inv[1, 1] * res[1]


def near_lattice_offsets(vectors: list, reach: int, tol: float, count: int | None = None, tiers: int = 1) -> np.ndarray:
    """Integer shifts ``[K, 2]`` (dy, dx), none zero, within ``reach`` px whose :func:`phase_error`
    is under ``tol`` cycles, shortest first (and, as long, the more exact first); the first
    ``count`` only if given. With ``tiers`` > 1, then those under twice ``tol``, then four times,
    and so on (``tiers`` in all), each tier in the same order. For noise every shift qualifies.

    Example:
        >>> near_lattice_offsets(wave_vectors("dots", 4.0, 0.0), 4, 0.01).tolist()
        [[-4, 0], [0, -4], [0, 4], [4, 0]]
    """
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    dy, dx = dy.ravel(), dx.ravel()
    length = np.hypot(dy, dx)
    err = phase_error(vectors, dy, dx)
    keep = (length > 0) & (length <= reach) & (err < tol * 2 ** (tiers - 1))
    tier = np.zeros(int(keep.sum()), dtype=int)
    for t in range(tiers - 1):
        tier += err[keep] >= tol * 2**t
    order = np.lexsort((err[keep], length[keep], tier))
    out = np.stack([dy[keep], dx[keep]], 1)[order]
    return out if count is None else out[:count]


def directions(vectors: list, reach: int = 12, tol: float = 0.1) -> np.ndarray:
    """``[K, 2]``: the shortest near-lattice shift (:func:`near_lattice_offsets` within ``reach``
    px, under ``tol`` cycles) in each eighth of the directions, and its opposite: the reads of
    :func:`lattice_median`, spread so that a stroke along any one direction is read by few.

    Example:
        >>> directions(wave_vectors("dots", 4.0, 0.0)).tolist()[:4]
        [[0, -4], [0, 4], [-4, -8], [4, 8]]
    """
    offsets = near_lattice_offsets(vectors, reach, tol)
    sector = (np.degrees(np.arctan2(offsets[:, 0], offsets[:, 1])) % 180 // 22.5).astype(int)
    picked = [offsets[sector == k][0] for k in range(8) if (sector == k).any()]
    return np.array([o for p in picked for o in (p, -p)])


def lattice_median(img: np.ndarray, offsets: np.ndarray, ranks=0.5, mask: np.ndarray | None = None) -> np.ndarray:
    """``[H, W]``: at each pixel, the median of ``img`` ``[H, W]`` read at the pixel shifted by each
    of ``offsets`` ``[K, 2]`` (near-lattice shifts, see :func:`near_lattice_offsets`; reads past the
    edge take the nearest edge pixel); with several ``ranks`` (quantiles), ``[len(ranks), H, W]``.
    A screen has there the value it has at the pixel itself; a stroke drawn over the pixel is
    missing from most of them, so the median is the screen without the strokes. With ``mask`` (bool
    ``[H, W]``, the screen's region), a read that falls outside it (or past the edge) takes the
    pixel's own value instead (paper or another screen beyond the region's border is not this
    screen).

    Example:
        >>> img = np.tile([1.0, 0.0, 1.0, 0.0], (4, 2))  # vertical lines of period 2
        >>> img[1, :] = 0.0  # a stroke across them
        >>> lattice_median(img, np.array([[-1, 0], [1, 0], [0, -2], [0, 2], [-2, 0]]))[1].tolist()
        [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    """
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    wanted = [int(round(r * (len(offsets) - 1))) for r in np.atleast_1d(ranks)]
    ks = np.unique(wanted)
    out = np.empty((len(ks), *img.shape), dtype=np.float64)
    img = np.ascontiguousarray(img, dtype=np.float64)
    inside = np.ones((1, 1), bool) if mask is None else np.ascontiguousarray(mask, dtype=bool)
    _order_stats(img, inside, mask is not None, offsets, _sorting_network(len(offsets)), ks, out)
    picked = np.searchsorted(ks, wanted)
    return out[picked[0]] if np.ndim(ranks) == 0 else out[picked]


def _sorting_network(n: int) -> np.ndarray:
    """Comparators ``[M, 2]`` (``i < j``: put the smaller value at ``i``) that sort ``n`` values:
    Batcher's odd-even merge sort for the next power of two, less the comparators that reach past
    ``n`` (as if padded with +inf, which they never move)."""
    size = 1 << max(n - 1, 0).bit_length()
    pairs = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return np.array([q for q in pairs if q[1] < n], dtype=np.int64).reshape(-1, 2)


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _order_stats(img, mask, masked, offsets, network, ks, out):
    """``out[i, y, x]``: the ``ks[i]``-th smallest (0 first) of ``img`` read at ``(y, x)`` shifted by
    each of ``offsets`` (clipped to the edge; if ``masked``, a read past the edge or outside
    ``mask`` takes the pixel's own value). Order statistics are the same whatever computes
    them: here the sorting ``network`` (:func:`_sorting_network`) run on whole rows of reads
    (branchless minima and maxima, which vectorise)."""
    h, w = img.shape
    k = offsets.shape[0]
    reads = np.empty((k, w))
    for y in range(h):
        own = img[y]
        for i in range(k):
            yy, dx = y + offsets[i, 0], offsets[i, 1]
            r = reads[i]
            if not masked:
                row = img[min(max(yy, 0), h - 1)]
                for x in range(w):
                    r[x] = row[min(max(x + dx, 0), w - 1)]
            elif yy < 0 or yy >= h:
                r[:] = own
            else:
                row, inside = img[yy], mask[yy]
                for x in range(w):
                    xx = x + dx
                    r[x] = row[xx] if 0 <= xx < w and inside[xx] else own[x]
        for c in range(network.shape[0]):
            a, b = reads[network[c, 0]], reads[network[c, 1]]
            for x in range(w):
                lo, hi = min(a[x], b[x]), max(a[x], b[x])
                a[x] = lo
                b[x] = hi
        for i in range(ks.shape[0]):
            out[i, y] = reads[ks[i]]
