"""Fast CPU resampling: the ``backend="cpu"`` kernels (numba loops in ``cpu_loops`` and ``cpu_u8``),
driven on numpy arrays; tensors go through the thin adapters :func:`resample_axis` and :func:`resize`.

Arrays are ``[O, H, W, C]``: outer planes, height, width, interleaved channels, C-contiguous. A numpy
HxWxC image is ``[1, H, W, C]`` as it is; a contiguous NCHW tensor is seen as ``[N*C, H, W, 1]``,
a channels-last one (what numpy images become as tensors) as ``[N, H, W, C]``, both without a copy.

uint8 is bit-exact (Pillow's fixed point), uint16 exact (float64 sums in tap order), float32
computed in float32, float64 in float64; the tensor adapters also take float16 / bfloat16
(computed in float32). No autograd here: ``rescale.resample`` wraps the tensor adapters (the
backward is :func:`resample_axis` with ``table.transposed``).

Work is split into ranges run on a small thread pool (:func:`rescale.kernels.get_num_threads`
threads). The first call for each dtype and layout compiles the loops it needs (seconds, once per install;
cached on disk afterwards) and says so if that takes over a second.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from rescale.tables import PRECISION_BITS, AxisTable

from . import cpu_loops, cpu_u8, get_num_threads

__all__ = [
    "resample_array",
    "resize_array",
    "premultiply_array",
    "unpremultiply_array",
    "resample_axis",
    "resize",
    "run",
    "row_bounds",
    "DTYPES",
]

#: numpy dtypes the array functions take.
DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32), np.dtype(np.float64))

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


def resample_array(src: np.ndarray, table: AxisTable, axis: int) -> np.ndarray:
    """Resample axis ``axis`` (1: height, 2: width) of ``src`` ``[O, H, W, C]`` with ``table``.

    Returns a new C-contiguous ``[O, H', W, C]`` or ``[O, H, W', C]`` array of ``src``'s dtype.

    >>> from rescale.filters import get_filter
    >>> from rescale.tables import axis_table
    >>> img = np.zeros((1, 8, 10, 3), np.uint8)
    >>> resample_array(img, axis_table(10, 5, get_filter("bilinear")), 2).shape
    (1, 8, 5, 3)
    """
    src = _checked(src, table, axis)
    o, h, w, c = src.shape
    # numpy allocates big arrays on transparent huge pages: the first touch of a fresh 50 MB
    # output costs half as much as in memory from torch.empty.
    dst = np.empty((o, table.out_size, w, c) if axis == 1 else (o, h, table.out_size, c), src.dtype)
    if dst.size == 0:
        return dst
    work = dst.size * table.taps
    if axis == 1:
        weight, bias = _weights(table, src.dtype)
        s, d = src.reshape(o, h, w * c), dst.reshape(o, table.out_size, w * c)
        if src.dtype == np.uint8 and w * c >= cpu_u8.MIN_ROW_BYTES:
            run(cpu_u8.vertical, (s, d, table.index, weight, bias), o * table.out_size, work)
            return dst
        items = d.shape[0] * d.shape[1] * -(-d.shape[2] // _CHUNK)
        run(cpu_loops.vertical, (s, d, table.index, weight, bias, _CHUNK), items, work)
        return dst
    # Rows of W*C interleaved samples, resampled as W*C single-channel columns (expanded table).
    index, weight, bias = _expanded_table(table, c, src.dtype)
    s, d = src.reshape(o * h, w * c), dst.reshape(o * h, table.out_size * c)
    rows = s.shape[0]
    if src.dtype == np.uint8 and min(s.shape[1], d.shape[1]) >= cpu_u8.MIN_ROW_BYTES:
        args = (s, d, _u8_horizontal_tables(table, c, w * c), bias)
        run(cpu_u8.horizontal, args, -(-rows // cpu_u8.BLOCK), work)
    else:
        block = _block_rows(rows, s.shape[1] + d.shape[1], s.itemsize)
        run(cpu_loops.horizontal, (s, d, index, weight, bias, block), -(-rows // block), work)
    return dst


def resize_array(src: np.ndarray, width: AxisTable, height: AxisTable, vertical_first: bool) -> np.ndarray:
    """Resample both axes of ``src`` ``[O, H, W, C]``: the width with ``width``, the height with
    ``height``, in the order ``vertical_first`` says. Returns a new ``[O, H', W', C]`` array, the
    same values as two :func:`resample_array` calls.

    uint8 images whose rows hold at least 64 samples (``W * C``) run both passes together
    (``cpu_u8.resize_*``), so the intermediate image never goes through memory; anything else
    runs two passes.
    """
    src = _checked(src, width, 2)
    _checked(src, height, 1)
    passes = [(height, 1), (width, 2)] if vertical_first else [(width, 2), (height, 1)]
    o, h, w, c = src.shape
    q, q2 = w * c, width.out_size * c
    if src.dtype != np.uint8 or min(q, q2) < cpu_u8.MIN_ROW_BYTES or o == 0:
        return resample_array(resample_array(src, *passes[0]), *passes[1])
    dst = np.empty((o, height.out_size, width.out_size, c), np.uint8)
    v_weight, bias = _weights(height, src.dtype)
    planes = (src.reshape(o, h, q), dst.reshape(o, height.out_size, q2), _u8_horizontal_tables(width, c, q))
    if vertical_first:
        loop, args = cpu_u8.resize_vertical_first, (*planes, height.index, v_weight, bias)
    else:
        loop, args = cpu_u8.resize_horizontal_first, (*planes, height.index, v_weight, *row_bounds(height), bias)
    mid_rows = height.out_size if vertical_first else h
    work = o * (height.out_size * (q if vertical_first else q2) * height.taps + mid_rows * q2 * width.taps)
    run(loop, args, o * height.out_size, work)
    return dst


def premultiply_array(x: np.ndarray) -> np.ndarray:
    """A copy of ``x`` (``[..., C]``, alpha last) with the colours multiplied by alpha, as Pillow
    resamples RGBA and LA (its integer formulas for uint8; floats multiplied as they are)."""
    if x.dtype == np.uint8:
        out = np.empty(x.shape, np.uint8)
        flat = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
        run(cpu_loops.premultiply_u8, (flat, out.reshape(flat.shape)), flat.shape[0], flat.size)
        return out
    if x.dtype.kind != "f":
        raise TypeError(f"premultiplied alpha is not supported for {x.dtype}")
    out = x.copy()
    out[..., :-1] *= x[..., -1:]
    return out


def unpremultiply_array(x: np.ndarray) -> np.ndarray:
    """Undo :func:`premultiply_array` in place on the C-contiguous ``x`` (colours where alpha is 0
    are left as they are) and return it: no temporaries, so large RGBA images cost what Pillow's
    own RGBa -> RGBA does."""
    if x.dtype == np.uint8:
        flat = x.reshape(-1, x.shape[-1])
        run(cpu_loops.unpremultiply_u8, (flat,), flat.shape[0], flat.size)
        return x
    alpha = x[..., -1:]
    np.divide(x[..., :-1], alpha, out=x[..., :-1], where=alpha != 0)
    return x


def _checked(src: np.ndarray, table: AxisTable, axis: int) -> np.ndarray:
    """``src`` as a C-contiguous native-order array, or the reason the kernels cannot take it."""
    if not isinstance(src, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(src).__name__}")
    if src.ndim != 4:
        raise ValueError(f"expected an [O, H, W, C] array, got shape {src.shape}")
    if axis not in (1, 2):
        raise ValueError(f"axis must be 1 (height) or 2 (width), got {axis}")
    if src.dtype.newbyteorder("=") not in DTYPES:
        raise TypeError(f"unsupported dtype {src.dtype}; supported: {', '.join(str(d) for d in DTYPES)}")
    if src.shape[axis] != table.in_size:
        raise ValueError(f"axis {axis} has {src.shape[axis]} samples, table expects {table.in_size}")
    if not src.dtype.isnative:
        src = src.astype(src.dtype.newbyteorder("="))
    return np.ascontiguousarray(src)


# --- the tensor adapters ----------------------------------------------------------------------


def resample_axis(x, table: AxisTable, dim: int):
    """Resample axis ``dim`` (2: height, 3: width) of the CPU tensor ``x`` ``[N, C, H, W]`` with
    ``table``. Returns ``[N, C, H', W]`` or ``[N, C, H, W']`` of ``x``'s dtype and memory format.
    """
    torch = _check_tensor(x, table, dim)
    if x.dtype in (torch.float16, torch.bfloat16):  # computed in float32, like the reference
        return resample_axis(x.float(), table, dim).to(x.dtype)
    channels_last, src = _source(x)
    shape = list(x.shape)
    shape[dim] = table.out_size
    return _from_memory_order(torch, resample_array(src, table, dim - 1), shape, channels_last)


def resize(x, width: AxisTable, height: AxisTable, vertical_first: bool):
    """Both axes of the CPU tensor ``x`` ``[N, C, H, W]`` (see :func:`resize_array`). Returns
    ``[N, C, H', W']``, same dtype and memory format."""
    torch = _check_tensor(x, width, 3)
    _check_tensor(x, height, 2)
    if x.dtype != torch.uint8:
        passes = [(height, 2), (width, 3)] if vertical_first else [(width, 3), (height, 2)]
        return resample_axis(resample_axis(x, *passes[0]), *passes[1])
    channels_last, src = _source(x)
    out = resize_array(src, width, height, vertical_first)
    return _from_memory_order(torch, out, [x.shape[0], x.shape[1], height.out_size, width.out_size], channels_last)


def _check_tensor(x, table: AxisTable, dim: int):
    """torch, once ``x`` is known to be a tensor the kernels can resample (else the reason)."""
    torch = sys.modules.get("torch")  # a tensor exists only once torch is imported
    if torch is None or not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.device.type != "cpu":
        raise ValueError(f"the cpu kernels need a CPU tensor, got one on {x.device}")
    if x.dim() != 4:
        raise ValueError(f"expected an [N, C, H, W] tensor, got shape {tuple(x.shape)}")
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 (height) or 3 (width), got {dim}")
    dtypes = (torch.uint8, torch.uint16, torch.float16, torch.bfloat16, torch.float32, torch.float64)
    if x.dtype not in dtypes:
        raise TypeError(f"unsupported dtype {x.dtype}; supported: {', '.join(str(d) for d in dtypes)}")
    if x.shape[dim] != table.in_size:
        raise ValueError(f"axis {dim} has {x.shape[dim]} samples, table expects {table.in_size}")
    return torch


def _source(x) -> tuple[bool, np.ndarray]:
    """Whether ``x`` is channels-last, and a numpy view of its memory as ``[outer, H, W, inner]``
    (a contiguous copy first if ``x`` is in neither memory format)."""
    import torch

    channels_last = not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    x = x.detach()
    if not channels_last:
        x = x.contiguous()
    n, c, h, w = x.shape
    if channels_last:
        return True, x.permute(0, 2, 3, 1).numpy()
    return False, x.reshape(n * c, h, w, 1).numpy()


def _from_memory_order(torch, a: np.ndarray, shape: list[int], channels_last: bool):
    """The tensor of ``shape`` ``[N, C, H, W]`` whose memory is ``a``, laid out as by
    :func:`_source`."""
    t = torch.from_numpy(a)
    return t.permute(0, 3, 1, 2) if channels_last else t.reshape(shape)


def _weights(table: AxisTable, dtype) -> tuple[np.ndarray, object]:
    """Weights and accumulator start value for the numpy ``dtype``: Pillow's int32 fixed point and
    its rounding half for uint8, float32 for float32, float64 for uint16 and float64."""
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return table.weight_fixed, np.int32(1 << (PRECISION_BITS - 1))
    if dtype == np.float32:
        cache = table.__dict__.setdefault("_cpu_float32", [])
        if not cache:
            cache.append(table.weight.astype(np.float32))
        return cache[0], np.float32(0.0)
    return table.weight, 0.0


def _expanded_table(table: AxisTable, channels: int, dtype) -> tuple[np.ndarray, np.ndarray, object]:
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
        index, weight, _ = _expanded_table(table, channels, np.uint8)
        vnni = cpu_u8.vnni_table(index, weight, row_samples) if cpu_u8.VNNI else None
        cache[key] = vnni if vnni is not None else (index, weight)
    return cache[key]


def row_bounds(table: AxisTable) -> tuple[np.ndarray, np.ndarray]:
    """int64 ``[out_size]`` each, cached on ``table``: ``first[r]``, the lowest input index that
    outputs ``r`` and after read, and ``last[r]``, the highest that outputs up to ``r`` read:
    monotone, so that :func:`cpu_u8.resize_horizontal_first`'s window of intermediate rows only moves
    forward."""
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


_seen: set = set()  # the loops (and their argument types) this process has run


def _first_use(loop, args: tuple) -> _Notice | None:
    """A context for a call of ``loop`` (None when not needed): on the first call with these argument types in this
    process, numba loads the compiled loop from its disk cache, or compiles it (seconds, once per
    install); if that takes over a second, say so on the ``rescale`` logger (stderr by default)."""
    key = (loop, tuple(getattr(a, "dtype", type(a)) for a in args))
    if key in _seen:
        return None
    _seen.add(key)
    return _Notice(f"{getattr(loop, '__name__', 'loop')} for {args[0].dtype} images")


class _Notice:
    """Logs ``what`` is being prepared if the ``with`` block takes longer than ``after`` seconds,
    and how long it took in the end."""

    def __init__(self, what: str, after: float = 1.0):
        self.what, self.after, self.said = what, after, False

    def __enter__(self):
        self.t0 = time.perf_counter()
        self.timer = threading.Timer(self.after, self._say)
        self.timer.daemon = True
        self.timer.start()

    def _say(self) -> None:
        self.said = True
        logging.getLogger("rescale").warning(
            "rescale: loading the CPU kernels (%s; compiled on their first use after installing, then cached on "
            "disk)...",
            self.what,
        )

    def __exit__(self, *exc):
        self.timer.cancel()
        if self.said:
            logging.getLogger("rescale").warning("rescale: kernels ready in %.1f s", time.perf_counter() - self.t0)


def run(loop, args: tuple, items: int, work: int) -> None:
    """Run ``loop(*args, lo, hi)`` over ``[0, items)``, split across threads when worth it.

    The calling thread works too, taking parts from a shared queue like the pool's threads, so a
    pool thread that is slow to wake (other processes' load, another library's spinning OpenMP
    threads) finds the work done instead of holding up the call."""
    threads = get_num_threads() if work >= _MIN_PARALLEL_WORK else 1
    parts = min(items, threads * _ITEMS_PER_THREAD)
    notice = _first_use(loop, args)
    if threads == 1 or parts == 1:
        with notice or contextlib.nullcontext():
            loop(*args, 0, items)
        return
    bounds = [items * i // parts for i in range(parts + 1)]
    todo = iter(range(parts))
    lock = threading.Lock()
    if notice is not None:  # numba loads or compiles the loop in its first call: one part, here
        with notice:
            i = next(todo)
            loop(*args, bounds[i], bounds[i + 1])

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
