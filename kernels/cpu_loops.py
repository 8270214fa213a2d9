"""The numba loops behind :mod:`rescale.kernels.cpu`: one axis of a separable resampling.

Every output sample is ``finish(bias + w[0] * in[i[0]] + w[1] * in[i[1]] + ...)``, summed left to
right in tap order, with an accumulator of the weights' dtype:

* uint8 in, int32 weights (Pillow's fixed point), ``bias = 1 << 21``, finish = ``>> 22`` and clamp
  to [0, 255]: bit-exact with Pillow.
* uint16 in, float64 weights, ``bias = 0``, finish = ``floor(acc + 0.5)`` and clamp to [0, 65535]:
  Pillow's I;16 path, bit-exact with the reference because the sum keeps the tap order.
* float32 / float64 in, weights of the same dtype, ``bias = 0``, finish = store.

Layout (the vectorisation): each tap adds ``w * line`` to a vector of accumulators, where ``line``
is contiguous memory, so LLVM turns the inner loop into AVX2 / AVX-512 multiply-adds.

* vertical pass: ``line`` is a segment of an input row; the lanes are the columns.
* horizontal pass: a block of rows is transposed first (one image column per line, the block's
  rows as lanes), the taps run as in the vertical pass, and the result is transposed back. Columns
  are "expanded": an interleaved HxWxC row is seen as W*C single-channel columns, with tables whose
  indices are ``index * C + c`` (see ``cpu._expanded_table``), so one loop serves every channel
  count.

uint8 rows of at least 64 bytes take the explicit-SIMD loops of :mod:`rescale.kernels.cpu_u8`
instead (same arithmetic); these loops serve the narrower ones.

Each function processes a range ``[lo, hi)`` of work items and releases the GIL, so that
:mod:`rescale.kernels.cpu` can run ranges on a thread pool (numba's ``parallel=True`` needs a
process-wide threading layer, and the one installed here, GNU OpenMP, terminates forked DataLoader
workers: "fork() called from a process already using GNU OpenMP, this is unsafe"). No ``fastmath``: float
sums stay in tap order with one rounding per operation, no FMA.
``cache=True`` keeps the machine code in ``__pycache__`` beside this file.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import types
from numba.extending import overload

__all__ = ["vertical", "horizontal", "premultiply_u8", "unpremultiply_u8"]

_JIT = dict(nogil=True, cache=True, fastmath=False, boundscheck=False)

#: Pillow's fixed point for 8-bit images (tables.PRECISION_BITS).
_SHIFT = np.int32(22)


def _finish(acc, out):  # pragma: no cover - numba uses the overload below
    raise NotImplementedError


@overload(_finish, jit_options=_JIT, inline="always")
def _finish_impl(acc, out):
    """``out[i] = finish(acc[i])`` for the output dtype (see the module docstring)."""
    if out.dtype == types.uint8:

        def impl(acc, out):
            for i in range(out.shape[0]):
                out[i] = min(max(acc[i] >> _SHIFT, 0), 255)

        return impl
    if out.dtype == types.uint16:

        def impl(acc, out):
            for i in range(out.shape[0]):
                out[i] = min(max(np.floor(acc[i] + 0.5), 0.0), 65535.0)

        return impl

    def impl(acc, out):
        for i in range(out.shape[0]):
            out[i] = acc[i]

    return impl


@nb.njit(inline="always", **_JIT)  # inlined in numba IR: a call per output column costs ~15 ns
def _add_taps(acc, lines, index, weight, q0):
    """``acc[j] += sum_k weight[k] * lines[index[k], q0 + j]``, taps added left to right.

    Four taps per sweep over ``acc``, so its lanes are loaded and stored a quarter as often; the
    expression ``a + p0 + p1 + p2 + p3`` is evaluated left to right, which keeps the float order.
    """
    n = acc.shape[0]
    taps = index.shape[0]
    k = 0
    while k + 4 <= taps:
        w0, w1, w2, w3 = weight[k], weight[k + 1], weight[k + 2], weight[k + 3]
        s0 = lines[index[k], q0 : q0 + n]
        s1 = lines[index[k + 1], q0 : q0 + n]
        s2 = lines[index[k + 2], q0 : q0 + n]
        s3 = lines[index[k + 3], q0 : q0 + n]
        for j in range(n):
            acc[j] = acc[j] + w0 * s0[j] + w1 * s1[j] + w2 * s2[j] + w3 * s3[j]
        k += 4
    while k < taps:
        wk = weight[k]
        s = lines[index[k], q0 : q0 + n]
        for j in range(n):
            acc[j] = acc[j] + wk * s[j]
        k += 1


@nb.njit(**_JIT)
def vertical(src, dst, index, weight, bias, chunk, lo, hi):
    """Resample the middle axis of ``src`` ``[O, R, Q]`` into ``dst`` ``[O, R2, Q]``.

    ``index``/``weight``: ``[R2, K]``. Work item ``i`` is output row ``i // nq`` (of the ``O * R2``
    rows), columns ``[q0, q0 + chunk)`` with ``q0 = (i % nq) * chunk``, ``nq = ceil(Q / chunk)``:
    the accumulators of one chunk stay in L1 while the taps' row segments stream through.
    """
    q = src.shape[2]
    r2 = dst.shape[1]
    nq = (q + chunk - 1) // chunk
    acc = np.empty(chunk, weight.dtype)
    for item in range(lo, hi):
        row = item // nq
        q0 = (item - row * nq) * chunk
        q1 = min(q0 + chunk, q)
        o = row // r2
        r = row - o * r2
        a = acc[: q1 - q0]
        a[:] = bias
        _add_taps(a, src[o], index[r], weight[r], q0)
        _finish(a, dst[o, r, q0:q1])


@nb.njit(**_JIT)
def horizontal(src, dst, index, weight, bias, block, lo, hi):
    """Resample the columns of ``src`` ``[Rows, Q]`` into ``dst`` ``[Rows, Q2]`` (any dtype).

    ``index``/``weight``: ``[Q2, K]`` (expanded tables). Work item ``i`` is the block of ``block``
    rows from row ``i * block``, transposed into ``t`` ``[Q, block]`` and back from ``u``.
    """
    rows, q = src.shape
    q2 = dst.shape[1]
    t = np.empty((q, block), src.dtype)
    u = np.empty((q2, block), dst.dtype)
    acc = np.empty(block, weight.dtype)
    for item in range(lo, hi):
        r0 = item * block
        b = min(block, rows - r0)
        for r in range(b):
            s = src[r0 + r]
            for x in range(q):
                t[x, r] = s[x]
        a = acc[:b]
        for x in range(q2):
            a[:] = bias
            _add_taps(a, t, index[x], weight[x], 0)
            _finish(a, u[x, :b])
        for r in range(b):
            d = dst[r0 + r]
            for x in range(q2):
                d[x] = u[x, r]


@nb.njit(**_JIT)
def premultiply_u8(src, dst, lo, hi):
    """Pixels ``[lo, hi)`` of ``src`` ``[P, C]`` (uint8, alpha last) into ``dst``, colours times
    alpha: Pillow's RGBA -> RGBa, ``(t + (t >> 8)) >> 8`` with ``t = c * a + 128`` (Convert.c)."""
    last = src.shape[1] - 1
    for p in range(lo, hi):
        a = np.int32(src[p, last])
        for k in range(last):
            t = np.int32(src[p, k]) * a + 128
            dst[p, k] = ((t >> 8) + t) >> 8
        dst[p, last] = src[p, last]


@nb.njit(**_JIT)
def unpremultiply_u8(x, lo, hi):
    """Pixels ``[lo, hi)`` of ``x`` ``[P, C]`` (uint8, alpha last), in place: Pillow's RGBa -> RGBA,
    ``min(255 * c // a, 255)``, colours left as they are where alpha is 0 or 255."""
    last = x.shape[1] - 1
    for p in range(lo, hi):
        a = np.int32(x[p, last])
        if a == 0 or a == 255:
            continue
        for k in range(last):
            x[p, k] = min(np.int32(255) * np.int32(x[p, k]) // a, np.int32(255))
