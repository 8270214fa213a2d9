"""Triton kernel resampling one axis of an NCHW tensor: the GPU twin of ``reference.resample_axis``.

The tensor is seen as a 3-D array ``x[R, L, I]`` (rows, the resampled axis, an inner run that is
contiguous in memory) and each program computes a ``BLOCK_R x BLOCK_O x BLOCK_I`` tile of
``out[r, o, i] = sum_k weight[o, k] * x[r, index[o, k], i]``, looping over the taps with the
table's index and weight loaded per output position and shared by the tile's rows and inner run.
Loads are coalesced along the inner run (the compiled layouts were checked in the PTX for sm_90):

=====================  ==============================  ===================================
layout, pass           rows R                          inner run I (contiguous)
=====================  ==============================  ===================================
NCHW, vertical         N*C planes                      W (whole rows: vectorised loads)
NCHW, horizontal       N*C*H image rows                1 (neighbouring taps share lines)
NHWC, vertical         N images                        W*C
NHWC, horizontal       N*H image rows                  C (the channels of one pixel)
=====================  ==============================  ===================================

uint8 follows Pillow's fixed point (int32 weights with 22 fractional bits, add half, arithmetic
shift, clamp to 0..255) and is bit-exact with the reference; float16/bfloat16/float32 accumulate in
float32, float64 in float64, and the result has the input's dtype and memory format. There is no
autograd here: ``rescale.resample._ResampleAxis`` runs this same function with
``table.transposed`` for the backward pass. Other dtypes (uint16) go to the reference.
"""

from __future__ import annotations

import contextlib
import os

import torch
import triton
import triton.language as tl

from rescale.tables import PRECISION_BITS, AxisTable

from . import reference

__all__ = ["resample_axis", "tile_config"]

#: Pillow's fixed point for 8-bit images (fractional bits, and one half), as kernel constants.
_SHIFT = tl.constexpr(PRECISION_BITS)
_HALF = tl.constexpr(1 << (PRECISION_BITS - 1))

_ACCUMULATOR = {
    torch.float16: tl.float32,
    torch.bfloat16: tl.float32,
    torch.float32: tl.float32,
    torch.float64: tl.float64,
}


# No specialisation on the row and tap counts, which vary from call to call without changing the
# generated code. The other sizes and strides keep it: their divisibility by 16 is what lets loads
# and stores be vectorised (output positions are contiguous in the horizontal pass of NCHW).
@triton.jit(do_not_specialize=["n_rows", "taps"])
def _resample_axis_kernel(
    x_ptr,
    out_ptr,
    index_ptr,  # int32 [n_out, taps]
    weight_ptr,  # int32 fixed point [n_out, taps] when FIXED_POINT, else float64 [n_out, taps]
    n_rows,
    n_out,
    n_inner,
    taps,
    x_stride_r,
    x_stride_l,
    out_stride_r,
    out_stride_o,
    lut_ptr,  # DECODE: float32 [2 ** bits], the linear value of each input code
    starts_ptr,  # ENCODE: int64 bucket starts and float32 thresholds (rescale.linear.codec_for)
    thresholds_ptr,
    shift,
    base,
    n_starts,
    ACC: tl.constexpr,  # accumulator type (ignored when FIXED_POINT)
    FIXED_POINT: tl.constexpr,
    DECODE: tl.constexpr,  # integer input decoded through lut_ptr (linear light)
    ENCODE: tl.constexpr,  # > 0: float sums encoded to integer levels (in ENCODE - 1 halvings)
    BLOCK_R: tl.constexpr,
    BLOCK_O: tl.constexpr,
    BLOCK_I: tl.constexpr,
):
    # One flat grid, inner tiles fastest, so that neighbouring programs read neighbouring memory
    # (and no grid axis hits CUDA's 65535 limit on y/z).
    pid = tl.program_id(0)
    tiles_i = tl.cdiv(n_inner, BLOCK_I)
    tiles_o = tl.cdiv(n_out, BLOCK_O)
    pid_i = pid % tiles_i
    pid_o = (pid // tiles_i) % tiles_o
    pid_r = pid // (tiles_i * tiles_o)

    r = pid_r * BLOCK_R + tl.arange(0, BLOCK_R)
    o = pid_o * BLOCK_O + tl.arange(0, BLOCK_O)
    i = pid_i * BLOCK_I + tl.arange(0, BLOCK_I)
    mask_o = o < n_out
    mask = (r < n_rows)[:, None, None] & mask_o[None, :, None] & (i < n_inner)[None, None, :]
    # 64-bit offsets: a batch of 87 RGB 4K frames has 2**31 elements. The inner run has stride 1.
    x_rows = x_ptr + (r.to(tl.int64) * x_stride_r)[:, None, None] + i[None, None, :]

    if FIXED_POINT:
        acc = tl.zeros((BLOCK_R, BLOCK_O, BLOCK_I), dtype=tl.int32)
    else:
        acc = tl.zeros((BLOCK_R, BLOCK_O, BLOCK_I), dtype=ACC)
    table = o * taps
    for k in range(taps):
        # Padding taps repeat a valid index with weight 0, so every index is in range.
        if BLOCK_I <= 4:
            # At most a pixel's channels in the inner run: each lane loads the entry it needs.
            # Loaded once per output position (below), the entries would be handed to the lanes
            # sharing them through shared memory at every tap. For long inner runs that does not
            # happen (a thread holds a whole vector of one position) and one load per lane would
            # multiply the loads instead. (Both seen in the PTX for sm_90.)
            entry = table[None, :, None] + k + 0 * i[None, None, :]
            idx = tl.load(index_ptr + entry, mask=mask_o[None, :, None], other=0)
            w = tl.load(weight_ptr + entry, mask=mask_o[None, :, None], other=0)
        else:
            idx = tl.load(index_ptr + table + k, mask=mask_o, other=0)[None, :, None]
            w = tl.load(weight_ptr + table + k, mask=mask_o, other=0)[None, :, None]
        v = tl.load(x_rows + idx.to(tl.int64) * x_stride_l, mask=mask, other=0)
        if DECODE:
            v = tl.load(lut_ptr + v.to(tl.int32), mask=mask, other=0.0)
        if FIXED_POINT:
            acc += v.to(tl.int32) * w
        else:
            acc += v.to(ACC) * w.to(ACC)

    if FIXED_POINT:  # Pillow: add half, arithmetic shift, clip
        acc = (acc + _HALF) >> _SHIFT
        acc = tl.minimum(tl.maximum(acc, 0), 255)
    if ENCODE > 0:  # kernels/cpu_linear.py's encode_level: the exact level of the float32 sum
        y = tl.minimum(tl.maximum(acc.to(tl.float32), 0.0), 1.0)
        b = tl.minimum(tl.maximum((y.to(tl.int32, bitcast=True) >> shift) - base, -1), n_starts - 3) + 1
        lo = tl.load(starts_ptr + b, mask=mask, other=0)
        hi = tl.load(starts_ptr + b + 1, mask=mask, other=0)
        for _ in tl.static_range(ENCODE - 1):
            mid = (lo + hi + 1) >> 1
            up = y >= tl.load(thresholds_ptr + mid, mask=mask, other=0.0)
            lo, hi = tl.where(up, mid, lo), tl.where(up, hi, mid - 1)
        acc = lo
    out_rows = out_ptr + (r.to(tl.int64) * out_stride_r)[:, None, None] + i[None, None, :]
    out = out_rows + (o.to(tl.int64) * out_stride_o)[None, :, None]
    tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=mask)


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def _rows_axis_inner(shape: tuple[int, int, int, int], dim: int, channels_last: bool) -> tuple[int, int, int, int, int]:
    """``(R, L, I, stride_r, stride_l)``: sizes and strides of the 3-D view ``[R, L, I]`` of a dense
    NCHW tensor (the inner stride is 1). Computed from the sizes rather than ``Tensor.stride()``:
    size-1 dimensions may carry any stride, and they never move the pointer."""
    n, c, h, w = shape
    if channels_last:  # memory order N, H, W, C
        return (n * h, w, c, w * c, c) if dim == 3 else (n, h, w * c, h * w * c, w * c)
    return (n * c * h, w, 1, w, 1) if dim == 3 else (n * c, h, w, h * w, w)


def tile_config(n_rows: int, n_out: int, n_inner: int, elements: int = 2048) -> tuple[int, int, int, int]:
    """``(BLOCK_R, BLOCK_O, BLOCK_I, num_warps)`` for an ``[n_rows, n_out, n_inner]`` output, about
    ``elements`` outputs per program: as much of the contiguous inner run as fits (up to 256
    values, for wide coalesced loads), then output positions (at most ``elements / 16``, so that a
    tile spans several rows and each loaded index and weight serves all of them), then rows. Sizes
    are powers of 4, which keeps the number of compiled variants small across image sizes.
    A heuristic, untuned: ``bench/resample_gpu.py --sweep`` measures alternatives on a GPU."""
    block_i = min(_power_of_4(n_inner), 256, elements)
    block_o = min(_power_of_4(n_out), max(1, elements // block_i), max(1, elements // 16))
    block_r = min(_power_of_4(n_rows), max(1, elements // (block_i * block_o)))
    return block_r, block_o, block_i, 4


def _power_of_4(n: int) -> int:
    """The smallest power of 4 that is at least ``n``."""
    p = 1
    while p < n:
        p *= 4
    return p


def resample_axis(
    x: torch.Tensor,
    table: AxisTable,
    dim: int,
    *,
    config: tuple[int, int, int, int] | None = None,
    decode: torch.Tensor | None = None,
    encode: tuple | None = None,
    out_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Resample dimension ``dim`` (2: H, 3: W) of ``x`` from ``table.in_size`` to ``table.out_size``.

    Args:
        x: ``[N, C, H, W]`` uint8, float16, bfloat16, float32 or float64 on CUDA (or on the CPU
            under ``TRITON_INTERPRET=1``), contiguous or channels_last; other strides are copied
            to the nearer of the two first. uint16 goes to the torch reference.
        table: the axis table (index int32 ``[out, K]``, weight ``[out, K]``).
        dim: 2 or 3.
        config: ``(BLOCK_R, BLOCK_O, BLOCK_I, num_warps)`` instead of :func:`tile_config`'s choice
            (for benchmarks).
        decode: linear light (``rescale.linear``): a float32 table of the linear value of every
            code of the integer ``x``, looked up as the taps are loaded; the result is float32.
        encode: linear light: ``(starts, thresholds, shift, base, steps)`` (``rescale.linear``'s
            encoder tables, on ``x``'s device): the float sums are encoded to integer levels of
            ``out_dtype`` (uint8 or uint16).

    Returns:
        ``x`` resampled, ``[N, C, out, W]`` or ``[N, C, H, out]``, same dtype, device and memory format.
    """
    if x.dim() != 4 or dim not in (2, 3):
        raise ValueError(f"expected an [N, C, H, W] tensor and dim 2 or 3, got shape {tuple(x.shape)} and dim {dim}")
    if x.shape[dim] != table.in_size:
        raise ValueError(f"axis {dim} has {x.shape[dim]} samples, table expects {table.in_size}")
    if x.dtype not in _ACCUMULATOR and x.dtype != torch.uint8 and decode is None:
        return reference.resample_axis(x, table, dim)
    if not x.is_cuda and not _interpreting():
        raise ValueError(f"the Triton kernels need a CUDA tensor (or TRITON_INTERPRET=1), got one on {x.device}")

    channels_last = not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    if not channels_last and not x.is_contiguous():
        channels_last = x.stride(1) < x.stride(3)  # a strided view: copy it to the nearer layout
        x = x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    out_shape = list(x.shape)
    out_shape[dim] = table.out_size
    dtype = torch.float32 if decode is not None else out_dtype if encode is not None else x.dtype
    out = torch.empty(
        out_shape,
        dtype=dtype,
        device=x.device,
        memory_format=torch.channels_last if channels_last else torch.contiguous_format,
    )
    if out.numel() == 0:
        return out

    fixed = x.dtype == torch.uint8 and decode is None
    index, weight = table.torch(x.device, fixed)
    starts, thresholds, shift, base, steps = encode if encode is not None else (index, weight, 0, 0, 0)
    n_rows, _, n_inner, x_stride_r, x_stride_l = _rows_axis_inner(tuple(x.shape), dim, channels_last)
    _, n_out, _, out_stride_r, out_stride_o = _rows_axis_inner(tuple(out_shape), dim, channels_last)
    # The interpreter pays per operation, not per element: give it few, large tiles.
    elements = 1 << 16 if _interpreting() else 2048
    block_r, block_o, block_i, num_warps = config or tile_config(n_rows, n_out, n_inner, elements)
    grid = (triton.cdiv(n_rows, block_r) * triton.cdiv(n_out, block_o) * triton.cdiv(n_inner, block_i),)
    with torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext():  # launch on x's GPU
        _resample_axis_kernel[grid](
            x, out, index, weight,
            n_rows, n_out, n_inner, table.taps,
            x_stride_r, x_stride_l, out_stride_r, out_stride_o,
            decode if decode is not None else weight, starts, thresholds, shift, base, starts.numel(),
            ACC=_ACCUMULATOR.get(x.dtype, tl.float32),
            FIXED_POINT=fixed,
            DECODE=decode is not None,
            ENCODE=steps + 1 if encode is not None else 0,
            BLOCK_R=block_r, BLOCK_O=block_o, BLOCK_I=block_i,
            num_warps=num_warps,
        )  # fmt: skip
    return out
