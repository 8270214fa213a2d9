"""Fast CPU resampling of one axis: the ``backend="cpu"`` kernel (numba loops in ``cpu_loops``).

Same contract and results as :func:`rescale.kernels.reference.resample_axis` for 4-D tensors:
uint8 bit-exact (Pillow's fixed point), uint16 exact (float64 sums in tap order), float32 /
float16 / bfloat16 computed in float32, float64 in float64. No autograd here:
``rescale.resample`` wraps it (the backward is this function with ``table.transposed``).

Both memory formats are read in place: contiguous NCHW is seen as ``[N*C, H, W, 1]``, channels-last
(what numpy HxWxC images become) as ``[N, H, W, C]``; the output has the input's memory format.
Work is split into ranges run on a small thread pool (``torch.get_num_threads()`` threads).
The first call for each dtype compiles the loops (a few seconds; cached on disk afterwards).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from rescale.tables import PRECISION_BITS, AxisTable

from . import cpu_loops, cpu_u8

__all__ = ["resample_axis", "resize"]

_DTYPES = (torch.uint8, torch.uint16, torch.float16, torch.bfloat16, torch.float32, torch.float64)

#: Accumulators per vertical work item: 4-8 KiB, resident in L1 while all taps are added.
_CHUNK = 1024
#: Most rows transposed together by the horizontal pass (the lanes of its multiply-adds).
_MAX_BLOCK = 64
#: Bytes of the generic horizontal pass's two transposed buffers, sized to stay in a core's L2.
_BLOCK_BYTES = 1 << 20
#: Below this many multiply-adds (~0.1 ms on one core) a call runs on the calling thread only.
_MIN_PARALLEL_WORK = 1 << 21
#: Work items per thread, so that a thread slowed by other load does not hold up the others.
_ITEMS_PER_THREAD = 4


def resample_axis(x: torch.Tensor, table: AxisTable, dim: int) -> torch.Tensor:
    """Resample axis ``dim`` (2: height, 3: width) of ``x`` ``[N, C, H, W]`` with ``table``.

    Returns ``[N, C, H', W]`` or ``[N, C, H, W']`` of ``x``'s dtype and memory format.
    """
    _check(x, table, dim)
    if x.dtype in (torch.float16, torch.bfloat16):  # computed in float32, like the reference
        return resample_axis(x.float(), table, dim).to(x.dtype)

    channels_last, src = _source(x)
    o, h, w, c = src.shape
    # numpy allocates big arrays on transparent huge pages: the first touch of a fresh 50 MB
    # output costs half as much as in memory from torch.empty.
    dst = np.empty((o, table.out_size, w, c) if dim == 2 else (o, h, table.out_size, c), src.dtype)
    shape = list(x.shape)
    shape[dim] = table.out_size
    out = _from_memory_order(dst, shape, channels_last)
    if out.numel() == 0:
        return out

    work = dst.size * table.taps
    if dim == 2:
        weight, bias = _weights(table, x.dtype)
        src, dst = src.reshape(o, h, w * c), dst.reshape(o, table.out_size, w * c)
        if x.dtype == torch.uint8 and w * c >= cpu_u8.MIN_ROW_BYTES:
            _run(cpu_u8.vertical, (src, dst, table.index, weight, bias), o * table.out_size, work)
            return out
        items = dst.shape[0] * dst.shape[1] * -(-dst.shape[2] // _CHUNK)
        _run(cpu_loops.vertical, (src, dst, table.index, weight, bias, _CHUNK), items, work)
        return out
    # Rows of W*C interleaved samples, resampled as W*C single-channel columns (expanded table).
    index, weight, bias = _expanded_table(table, c, x.dtype)
    src, dst = src.reshape(o * h, w * c), dst.reshape(o * h, table.out_size * c)
    rows = src.shape[0]
    if x.dtype == torch.uint8 and min(src.shape[1], dst.shape[1]) >= cpu_u8.MIN_ROW_BYTES:
        args = (src, dst, _u8_horizontal_tables(table, c, w * c), bias)
        _run(cpu_u8.horizontal, args, -(-rows // cpu_u8.BLOCK), work)
    else:
        block = _block_rows(rows, src.shape[1] + dst.shape[1], src.itemsize)
        args = (src, dst, index, weight, bias, block)
        _run(cpu_loops.horizontal, args, -(-rows // block), work)
    return out


def resize(x: torch.Tensor, width: AxisTable, height: AxisTable, vertical_first: bool) -> torch.Tensor:
    """Resample both axes of ``x`` ``[N, C, H, W]``: the width with ``width``, the height with
    ``height``, in the order ``vertical_first`` says. Returns ``[N, C, H', W']``, same dtype and
    memory format; the same values as two :func:`resample_axis` calls.

    uint8 images whose rows hold at least 64 samples (``W * C`` channels-last, ``W`` otherwise)
    run both passes together (:func:`cpu_u8.resize`), so the intermediate image never goes
    through memory; anything else runs two passes.
    """
    _check(x, width, 3)
    _check(x, height, 2)
    passes = [(height, 2), (width, 3)] if vertical_first else [(width, 3), (height, 2)]
    if x.dtype != torch.uint8:
        return resample_axis(resample_axis(x, *passes[0]), *passes[1])
    channels_last, src = _source(x)
    o, h, w, c = src.shape
    q, q2 = w * c, width.out_size * c
    if min(q, q2) < cpu_u8.MIN_ROW_BYTES or o == 0:
        return resample_axis(resample_axis(x, *passes[0]), *passes[1])
    dst = np.empty((o, height.out_size, width.out_size, c), np.uint8)
    out = _from_memory_order(dst, [x.shape[0], x.shape[1], height.out_size, width.out_size], channels_last)
    v_weight, bias = _weights(height, x.dtype)
    first, last = _row_bounds(height)
    h_tables = _u8_horizontal_tables(width, c, q)
    args = (
        src.reshape(o, h, q),
        dst.reshape(o, height.out_size, q2),
        h_tables,
        height.index,
        v_weight,
        first,
        last,
        bias,
        vertical_first,
    )
    mid_rows = height.out_size if vertical_first else h
    work = o * (height.out_size * (q if vertical_first else q2) * height.taps + mid_rows * q2 * width.taps)
    _run(cpu_u8.resize, args, o * height.out_size, work)
    return out


def _check(x: torch.Tensor, table: AxisTable, dim: int) -> None:
    """Refuse what the kernels cannot resample, with the reason."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.device.type != "cpu":
        raise ValueError(f"the cpu kernels need a CPU tensor, got one on {x.device}")
    if x.dim() != 4:
        raise ValueError(f"expected an [N, C, H, W] tensor, got shape {tuple(x.shape)}")
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 (height) or 3 (width), got {dim}")
    if x.dtype not in _DTYPES:
        raise TypeError(f"unsupported dtype {x.dtype}; supported: {', '.join(str(d) for d in _DTYPES)}")
    if x.shape[dim] != table.in_size:
        raise ValueError(f"axis {dim} has {x.shape[dim]} samples, table expects {table.in_size}")


def _source(x: torch.Tensor) -> tuple[bool, np.ndarray]:
    """Whether ``x`` is channels-last, and a numpy view of its memory as ``[outer, H, W, inner]``
    (a contiguous copy first if ``x`` is in neither memory format)."""
    channels_last = not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    x = x.detach()
    if not channels_last:
        x = x.contiguous()
    return channels_last, _in_memory_order(x, channels_last)


def _in_memory_order(t: torch.Tensor, channels_last: bool) -> np.ndarray:
    """A numpy view of ``t`` ``[N, C, H, W]`` as ``[outer, H, W, inner]`` in memory order."""
    n, c, h, w = t.shape
    if channels_last:
        return t.permute(0, 2, 3, 1).numpy()
    return t.reshape(n * c, h, w, 1).numpy()


def _from_memory_order(a: np.ndarray, shape: list[int], channels_last: bool) -> torch.Tensor:
    """The tensor of ``shape`` ``[N, C, H, W]`` whose memory is ``a``, laid out as by
    :func:`_in_memory_order`."""
    t = torch.from_numpy(a)
    return t.permute(0, 3, 1, 2) if channels_last else t.reshape(shape)


def _weights(table: AxisTable, dtype: torch.dtype) -> tuple[np.ndarray, object]:
    """Weights and accumulator start value for ``dtype``: Pillow's int32 fixed point and its
    rounding half for uint8, float32 for float32, float64 for uint16 and float64."""
    if dtype == torch.uint8:
        return table.weight_fixed, np.int32(1 << (PRECISION_BITS - 1))
    if dtype == torch.float32:
        cache = table.__dict__.setdefault("_cpu_float32", [])
        if not cache:
            cache.append(table.weight.astype(np.float32))
        return cache[0], np.float32(0.0)
    return table.weight, 0.0


def _expanded_table(table: AxisTable, channels: int, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray, object]:
    """``(index, weight, bias)`` resampling rows of ``channels`` interleaved samples as single
    samples: output column ``x * C + c`` reads input columns ``index[x] * C + c``. ``[W2 * C, K]``,
    cached on the table per (channels, weight dtype)."""
    weight, bias = _weights(table, dtype)
    cache = table.__dict__.setdefault("_cpu_expanded", {})
    key = (channels, weight.dtype.str)
    if key not in cache:
        index = table.index.astype(np.int32)
        if channels > 1:
            index = index[:, None, :] * channels + np.arange(channels, dtype=np.int32)[None, :, None]
            weight = np.repeat(weight, channels, axis=0)
        cache[key] = (np.ascontiguousarray(index.reshape(-1, table.taps)), np.ascontiguousarray(weight))
    return (*cache[key], bias)


def _u8_horizontal_tables(table: AxisTable, channels: int, row_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The uint8 horizontal tables for :mod:`cpu_u8` on rows of ``row_samples``: VNNI's
    ``(table, windows)`` where the CPU has it and the filter fits, else the expanded
    ``(index, weight)``. Cached on ``table``."""
    cache = table.__dict__.setdefault("_cpu_u8_horizontal", {})
    key = (channels, row_samples, cpu_u8.VNNI)
    if key not in cache:
        index, weight, _ = _expanded_table(table, channels, torch.uint8)
        vnni = cpu_u8.vnni_table(index, weight, row_samples) if cpu_u8.VNNI else None
        cache[key] = vnni if vnni is not None else (index, weight)
    return cache[key]


def _row_bounds(table: AxisTable) -> tuple[np.ndarray, np.ndarray]:
    """int64 ``[out_size]`` each, cached on ``table``: ``first[r]``, the lowest input index that
    outputs ``r`` and after read, and ``last[r]``, the highest that outputs up to ``r`` read:
    monotone, so that :func:`cpu_u8.resize`'s window of intermediate rows only moves forward."""
    cache = table.__dict__.setdefault("_cpu_row_bounds", [])
    if not cache:
        first = np.minimum.accumulate(table.index.min(axis=1)[::-1])[::-1]
        last = np.maximum.accumulate(table.index.max(axis=1))
        cache += [np.ascontiguousarray(first, np.int64), np.ascontiguousarray(last, np.int64)]
    return cache[0], cache[1]


def _block_rows(rows: int, columns: int, itemsize: int) -> int:
    """Rows the generic horizontal pass transposes at once: as many as keep its two buffers
    (``columns`` samples per row) in the L2 budget, at most 64, at least 8."""
    return max(1, min(rows, _MAX_BLOCK, max(8, _BLOCK_BYTES // (columns * itemsize))))


_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """The process's pool of helper threads (started lazily, one per CPU at most), made anew in
    a forked child, where the parent's threads do not exist."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="rescale-cpu")
            _pool_pid = os.getpid()
        return _pool


def _run(loop, args: tuple, items: int, work: int) -> None:
    """Run ``loop(*args, lo, hi)`` over ``[0, items)``, split across threads when worth it.

    The calling thread works too, taking parts from a shared queue like the pool's threads, so a
    pool thread that is slow to wake (other processes' load, another library's spinning OpenMP
    threads) finds the work done instead of holding up the call."""
    threads = torch.get_num_threads() if work >= _MIN_PARALLEL_WORK else 1
    parts = min(items, threads * _ITEMS_PER_THREAD)
    if threads == 1 or parts == 1:
        loop(*args, 0, items)
        return
    bounds = [items * i // parts for i in range(parts + 1)]
    todo = iter(range(parts))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            loop(*args, bounds[i], bounds[i + 1])

    pool = _executor()
    helpers = [pool.submit(worker) for _ in range(threads - 1)]
    worker()
    for f in helpers:
        if not f.cancel():  # cancel() fails once a helper has started: wait for its last part
            f.result()
