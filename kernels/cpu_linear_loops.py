"""The portable numba loops of linear-light resampling (driven by :mod:`rescale.kernels.cpu_linear`),
and :func:`encode_level`, the exact encoder every path shares.

Each loop runs work items ``[lo, hi)`` and releases the GIL (``cpu.run``'s thread pool). Arrays
are ``[O, H, W * C]``, channels interleaved.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["encode_level", "resize"]

_JIT = dict(nogil=True, cache=True, fastmath=False, boundscheck=False)


@nb.njit(inline="always", **_JIT)
def encode_level(x, starts, thresholds, shift, base, steps):
    """The level of the linear value ``x`` (float32 in [0, 1]): how many of ``thresholds[1:]`` are
    at or below ``x``. ``thresholds``: float32 ``[top + 2]``: ``-inf``, the smallest float32 at or
    above ``decode((v - 0.5) / top)`` for ``v = 1 .. top``, ``+inf``. ``starts``: int32, the level
    at the lower end of each bucket of float32 bit patterns (``(bits >> shift) - base + 1``,
    bucket 0 all below the first); the level lies between a bucket's start and the next one's,
    found in ``steps`` halvings."""
    bits = np.float32(x).view(np.int32)  # x >= 0: the patterns increase with x
    b = min(max((bits >> shift) - base, -1), starts.shape[0] - 3) + 1
    lo = starts[b]
    hi = starts[b + 1]
    for _ in range(steps):
        mid = (lo + hi + 1) >> 1
        if x >= thresholds[mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


@nb.njit(**_JIT)
def _decode_row(src, out, channels, alpha, decode, curve_of):
    """``out[x] = decode[curve of x's channel, src[x]]``, colours times their pixel's alpha."""
    q = src.shape[0]
    if alpha:
        last = channels - 1
        for p in range(0, q, channels):
            a = decode[curve_of[last], src[p + last]]
            for c in range(last):
                out[p + c] = decode[curve_of[c], src[p + c]] * a
            out[p + last] = a
    else:
        for p in range(0, q, channels):
            for c in range(channels):
                out[p + c] = decode[curve_of[c], src[p + c]]


@nb.njit(**_JIT)
def resize(
    src, dst, channels, alpha, decode, curve_of, h_index, h_weight, v_index, v_weight, first, last,
    starts, thresholds, shift, base, steps, lo, hi,
):  # fmt: skip
    """Both passes, ``src`` ``[O, H, W * C]`` -> ``dst`` ``[O, H2, W2 * C]`` (uint8 or uint16, C
    ``channels`` interleaved; ``alpha``: the last is alpha), with the tables of :class:`Codec`,
    the per-pixel horizontal table ``h_*`` ``[W2, K]`` and the vertical ``v_*`` ``[H2, K]`` (int32,
    float32), ``first``/``last`` the vertical table's monotone row bounds. Item ``i``: output row
    ``i % H2`` of plane ``i // H2``. Input rows are decoded once each into a ring of
    ``max(last - first) + 1`` rows; the vertical sums run over whole rows (vectorised), the
    horizontal ones per sample."""
    q, h2, q2 = src.shape[2], dst.shape[1], dst.shape[2]
    slots = 1
    for r in range(h2):
        slots = max(slots, last[r] - first[r] + 1)
    ring = np.empty((slots, q), np.float32)
    row = np.empty(q, np.float32)
    out = np.empty(q2, np.float32)
    item = lo
    while item < hi:
        o = item // h2
        y0 = item - o * h2
        y1 = min(h2, y0 + hi - item)
        b1 = first[y0]  # rows decoded so far: up to b1
        for y in range(y0, y1):
            b1 = max(b1, first[y])
            while b1 <= last[y]:
                _decode_row(src[o, b1], ring[b1 % slots], channels, alpha, decode, curve_of)
                b1 += 1
            row[:] = 0.0
            for k in range(v_index.shape[1]):
                w = v_weight[y, k]
                line = ring[v_index[y, k] % slots]
                for j in range(q):
                    row[j] += w * line[j]
            for x in range(q2 // channels):
                for c in range(channels):
                    acc = np.float32(0.0)
                    for k in range(h_index.shape[1]):
                        acc += h_weight[x, k] * row[h_index[x, k] * channels + c]
                    out[x * channels + c] = acc
            for p in range(0, q2, channels):
                a = out[p + channels - 1]
                for c in range(channels):
                    v = out[p + c]
                    if alpha and c < channels - 1 and a != 0.0:
                        v = v / a
                    v = min(max(v, np.float32(0.0)), np.float32(1.0))
                    curve = curve_of[c]
                    dst[o, y, p + c] = encode_level(v, starts[curve], thresholds[curve], shift, base, steps)
        item += y1 - y0
