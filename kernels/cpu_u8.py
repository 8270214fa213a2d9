"""uint8 resampling in Pillow's fixed point, with explicit SIMD: the fast path of ``cpu.py``.

Same arithmetic as the uint8 case of :mod:`rescale.kernels.cpu_loops` (int32 accumulator starting
at ``bias = 1 << 21``, every tap's ``weight * sample`` added, ``>> 22``, clamp to [0, 255]:
bit-exact with Pillow), on other layouts. numba vectorises only innermost loops over contiguous
memory (its straight-line SLP vectoriser is off by default), which for the horizontal pass meant
transposing row blocks with scalar moves and keeping the accumulators in memory. Here the inner
steps are LLVM vector IR (numba intrinsics):

* :func:`_dot`: 64 output samples at once, ``ROWS`` int32 lanes in each of ``GROUPS`` accumulators
  held in registers: ``out = clamp((bias + sum_k w[k] * in[k]) >> 22)``, where tap ``k`` reads
  ``ROWS`` bytes per group at ``base + index[k] * istride + g * gstride``.
* :func:`_pack`: ``ROWS`` image rows of 64 bytes -> 64 columns of ``ROWS`` bytes (a transpose,
  as ``log2(ROWS)`` rounds of byte interleaving); :func:`_unpack` is its inverse.
* :func:`_vnni_block` (x86 with AVX-512 VBMI and VNNI only, see :data:`VNNI`): 16 outputs of a
  row without any transpose. ``vpermi2b`` gathers, for each output, four taps' bytes from a
  128-byte window of the row into one int32 lane; ``vpdpbusd`` multiplies them by four signed
  bytes and adds the four products to the lane. A weight is split into three signed digits,
  ``w = d0 + 256 d1 + 65536 d2``, one ``vpdpbusd`` each, so four taps cost three instructions
  where the generic path spends three per tap (widen, multiply, add), and the sums stay exact.

The first three are generic IR (LLVM lowers them for the host: AVX-512 / AVX2 on x86, NEON on
ARM); the last uses x86 intrinsics and is compiled only when the target has them.

Loops (each runs work items ``[lo, hi)`` and releases the GIL, for ``cpu._run``'s thread pool):

* :func:`vertical`: item = one output row; ``_dot`` per 64 bytes of the row, the lanes being
  adjacent bytes of the input rows.
* :func:`horizontal`: item = 64 rows. Generic tables ``(index, weight)``: packed so that each
  input column is ``ROWS`` contiguous bytes per group, ``_dot`` per output column, unpacked. VNNI
  tables ``(table, windows)`` (:func:`vnni_table`): ``_vnni_block`` on 4 rows at a time.
* :func:`resize_vertical_first`, :func:`resize_horizontal_first`: both passes; the intermediate
  image exists only as a window of rows that stays in cache (its write and re-read cost more than
  the vertical pass itself).

Rows must hold at least 64 bytes (``cpu.py`` uses the generic loops for narrower ones): columns
are processed 64 bytes at a time, the last block overlapping the one before (same values written
twice). Keep the intrinsics and the loops that call them in this file: numba's on-disk cache
(``cache=True``) is invalidated by changes to the file of the jitted function only.
"""

from __future__ import annotations

import platform

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from rescale.tables import PRECISION_BITS

__all__ = [
    "vertical",
    "horizontal",
    "resize_vertical_first",
    "resize_horizontal_first",
    "vnni_table",
    "MIN_ROW_BYTES",
    "VNNI",
    "target_has",
]

_JIT = dict(nogil=True, cache=True, boundscheck=False)

#: Bytes per row that the loops need at least (one 64-byte column block).
MIN_ROW_BYTES = 64
#: Image rows per packed group (int32 lanes per accumulator: one AVX-512 register) and groups
#: per horizontal block: 64 rows in all. Measured: 16-row groups beat 8 (one AVX2 register per
#: accumulator, more instructions) and 32 (the transpose's 32 live vectors spill).
ROWS = 16
GROUPS = 4
BLOCK = ROWS * GROUPS

#: Outputs per VNNI block (one int32 lane each), the bytes of the row window their taps must lie
#: in (two registers, the reach of vpermi2b), and rows per VNNI call (sharing each table load;
#: 8 run out of registers). Measured on Zen 4: 4 rows beat 2 by 25%.
VNNI_OUTPUTS = 16
VNNI_WINDOW = 128
VNNI_ROWS = 4

_I8, _I32, _I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
_BYTES64 = ir.VectorType(_I8, 64)
_BYTES = ir.VectorType(_I8, ROWS)
_LANES = ir.VectorType(_I32, ROWS)


def _mask(values) -> ir.Constant:
    values = list(values)
    return ir.Constant(ir.VectorType(_I32, len(values)), values)


# Byte shuffles of two 64-byte vectors a, b (indices >= 64 pick from b).
_INTERLEAVE_LO = _mask(j // 2 + (j % 2) * 64 for j in range(64))  # a0 b0 a1 b1 ... a31 b31
_INTERLEAVE_HI = _mask(32 + j // 2 + (j % 2) * 64 for j in range(64))  # a32 b32 ... a63 b63
_EVEN = _mask(2 * j for j in range(64))  # a0 a2 ... a62 b0 b2 ... b62
_ODD = _mask(2 * j + 1 for j in range(64))


def _const(v: int) -> ir.Constant:
    return ir.Constant(_I64, v)


def _splat(builder, value, n: int):
    vt = ir.VectorType(value.type, n)
    one = builder.insert_element(ir.Constant(vt, ir.Undefined), value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, ir.Constant(vt, ir.Undefined), _mask([0] * n))


def _address(context, builder, array_type, array, offset):
    """The integer address of byte ``offset`` of ``array``'s data."""
    data = context.make_array(array_type)(context, builder, array).data
    return builder.add(builder.ptrtoint(data, _I64), offset)


def _vector_at(builder, address, vector_type):
    return builder.inttoptr(address, vector_type.as_pointer())


def _check_arrays(*arrays) -> None:
    for a in arrays:
        if not isinstance(a, types.Array):
            raise nb.core.errors.TypingError(f"expected an array, got {a}")


def _accumulate(builder, count, start: list, step, name: str) -> list:
    """Emit ``acc = start; for i in range(count): acc = step(i, acc)`` as an LLVM loop whose
    accumulators stay in registers (phi nodes), skipped when ``count <= 0``; returns the final
    accumulators. ``count``: i64; ``step(i, acc) -> new acc`` emits one iteration's body, without
    branches, at the builder's position; ``name``: the loop block's name."""
    entry = builder.block
    loop = builder.append_basic_block(name)
    done = builder.append_basic_block("done")
    builder.cbranch(builder.icmp_signed(">", count, _const(0)), loop, done)

    builder.position_at_end(loop)
    i = builder.phi(_I64)
    i.add_incoming(_const(0), entry)
    acc = []
    for v in start:
        a = builder.phi(v.type)
        a.add_incoming(v, entry)
        acc.append(a)
    stepped = step(i, acc)
    i_next = builder.add(i, _const(1))
    i.add_incoming(i_next, loop)
    for a, v in zip(acc, stepped):
        a.add_incoming(v, loop)
    builder.cbranch(builder.icmp_signed("<", i_next, count), loop, done)

    builder.position_at_end(done)
    results = []
    for v0, v in zip(start, stepped):
        r = builder.phi(v.type)
        r.add_incoming(v0, entry)
        r.add_incoming(v, loop)
        results.append(r)
    return results


@intrinsic
def _pack(typingctx, src, src_offset, stride, valid, dst, dst_offset):
    """``dst[dst_offset + c * ROWS + i] = src[src_offset + min(i, valid - 1) * stride + c]`` for
    ``c < 64``, ``i < ROWS`` (bytes): rows past ``valid`` repeat the last valid row."""
    _check_arrays(src, dst)
    sig = types.void(src, types.intp, types.intp, types.intp, dst, types.intp)

    def codegen(context, builder, signature, args):
        src_v, src_off, stride_v, valid_v, dst_v, dst_off = args
        base = _address(context, builder, signature.args[0], src_v, src_off)
        last = builder.sub(valid_v, _const(1))
        rows = []
        for i in range(ROWS):
            r = builder.select(builder.icmp_signed("<", _const(i), last), _const(i), last)
            rows.append(
                builder.load(_vector_at(builder, builder.add(base, builder.mul(r, stride_v)), _BYTES64), align=1)
            )
        # Interleaving rows i and i + ROWS/2, log2(ROWS) times, leaves the bytes in column-major
        # order: vector j then holds columns 64 j / ROWS ... of all ROWS rows.
        for _ in range(ROWS.bit_length() - 1):
            half = ROWS // 2
            rows = [
                builder.shuffle_vector(rows[i], rows[i + half], mask)
                for i in range(half)
                for mask in (_INTERLEAVE_LO, _INTERLEAVE_HI)
            ]
        out = _address(context, builder, signature.args[4], dst_v, dst_off)
        for j, v in enumerate(rows):
            builder.store(v, _vector_at(builder, builder.add(out, _const(64 * j)), _BYTES64), align=1)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _unpack(typingctx, src, src_offset, dst, dst_offset, stride, valid):
    """The inverse of :func:`_pack`: ``dst[dst_offset + i * stride + c] = src[src_offset + c *
    ROWS + i]`` for ``c < 64`` and the first ``valid`` rows ``i``."""
    _check_arrays(src, dst)
    sig = types.void(src, types.intp, dst, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        src_v, src_off, dst_v, dst_off, stride_v, valid_v = args
        base = _address(context, builder, signature.args[0], src_v, src_off)
        vs = [
            builder.load(_vector_at(builder, builder.add(base, _const(64 * j)), _BYTES64), align=1) for j in range(ROWS)
        ]
        for _ in range(ROWS.bit_length() - 1):  # de-interleaving undoes one round of _pack
            half = ROWS // 2
            vs = [builder.shuffle_vector(vs[2 * i], vs[2 * i + 1], _EVEN) for i in range(half)] + [
                builder.shuffle_vector(vs[2 * i], vs[2 * i + 1], _ODD) for i in range(half)
            ]
        out = _address(context, builder, signature.args[2], dst_v, dst_off)
        for i, v in enumerate(vs):
            with builder.if_then(builder.icmp_signed("<", _const(i), valid_v)):
                builder.store(
                    v, _vector_at(builder, builder.add(out, builder.mul(stride_v, _const(i))), _BYTES64), align=1
                )
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _dot(typingctx, src, src_offset, istride, gstride, index, weight, row, bias, dst, dst_offset, ostride):
    """64 output samples: for ``g < GROUPS``, the ``ROWS`` bytes at ``dst_offset + g * ostride``
    of ``dst`` are ``clamp((bias + sum_k weight[row, k] * in_k) >> 22, 0, 255)``, where ``in_k``
    are the ``ROWS`` bytes of ``src`` at ``src_offset + index[row, k] * istride + g * gstride``.
    ``index``, ``weight``: C-contiguous int32 ``[outputs, taps]``."""
    _check_arrays(src, index, weight, dst)
    sig = types.void(
        src, types.intp, types.intp, types.intp, index, weight, types.intp, types.int32, dst, types.intp, types.intp
    )

    def codegen(context, builder, signature, args):
        src_v, src_off, istride_v, gstride_v, index_v, weight_v, row_v, bias_v, dst_v, dst_off, ostride_v = args
        index_arr = context.make_array(signature.args[4])(context, builder, index_v)
        weight_arr = context.make_array(signature.args[5])(context, builder, weight_v)
        n_taps = builder.extract_value(index_arr.shape, 1)
        first = builder.mul(row_v, n_taps)
        index_ptr = builder.gep(builder.bitcast(index_arr.data, _I32.as_pointer()), [first])
        weight_ptr = builder.gep(builder.bitcast(weight_arr.data, _I32.as_pointer()), [first])
        base = _address(context, builder, signature.args[0], src_v, src_off)
        start = _splat(builder, bias_v, ROWS)

        def add_tap(k, acc):
            idx = builder.sext(builder.load(builder.gep(index_ptr, [k])), _I64)
            w = _splat(builder, builder.load(builder.gep(weight_ptr, [k])), ROWS)
            tap = builder.add(base, builder.mul(idx, istride_v))
            summed = []
            for g in range(GROUPS):
                samples = builder.load(
                    _vector_at(builder, builder.add(tap, builder.mul(gstride_v, _const(g))), _BYTES), align=1
                )
                summed.append(builder.add(acc[g], builder.mul(builder.zext(samples, _LANES), w)))
            return summed

        results = _accumulate(builder, n_taps, [start] * GROUPS, add_tap, "taps")
        zero = _splat(builder, ir.Constant(_I32, 0), ROWS)
        top = _splat(builder, ir.Constant(_I32, 255), ROWS)
        shift = _splat(builder, ir.Constant(_I32, PRECISION_BITS), ROWS)
        out = _address(context, builder, signature.args[8], dst_v, dst_off)
        for g, r in enumerate(results):
            v = builder.ashr(r, shift)
            v = builder.select(builder.icmp_signed("<", v, zero), zero, v)
            v = builder.select(builder.icmp_signed(">", v, top), top, v)
            target = _vector_at(builder, builder.add(out, builder.mul(ostride_v, _const(g))), _BYTES)
            builder.store(builder.trunc(v, _BYTES), target, align=1)
        return context.get_dummy_value()

    return sig, codegen


def target_has(*features: str) -> bool:
    """Whether numba compiles for a CPU with all these LLVM features (e.g. ``"avx512vnni"``)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:  # the feature string numba hands LLVM (host features unless NUMBA_CPU_FEATURES says)
        from numba.core.registry import cpu_target

        flags = cpu_target.target_context.codegen()._tm_features
    except Exception:  # noqa: BLE001 - numba internals changed: do without the x86-only path
        return False
    present = {f[1:] for f in flags.split(",") if f.startswith("+")}
    return all(f in present for f in features)


#: Whether the VNNI horizontal path can be compiled here (``cpu.py`` reads this at each call).
VNNI = target_has("avx512bw", "avx512vbmi", "avx512vnni")

_BYTE_LANES = ir.VectorType(_I32, VNNI_OUTPUTS)


@intrinsic
def _vnni_block(
    typingctx, src, src_offset, stride, rows, table, table_offset, quads, bias, dst, dst_offset, dst_stride
):
    """``VNNI_OUTPUTS`` outputs of each of ``rows`` (<= ``VNNI_ROWS``) rows: row ``r``'s window is
    ``src[src_offset + r * stride : +128]``, its outputs go to ``dst[dst_offset + r * dst_stride
    : +16]``. At byte ``table_offset`` of ``table``, ``quads`` blocks of 4 x 64 bytes: the window
    offset of each output's four taps (byte ``4 i + t``: output ``i``, tap ``t``), then the taps'
    weight digits ``d0``, ``d1``, ``d2`` (signed bytes, same order)."""
    _check_arrays(src, table, dst)
    sig = types.void(
        src, types.intp, types.intp, types.intp, table, types.intp, types.intp, types.int32, dst, types.intp, types.intp
    )

    def codegen(context, builder, signature, args):
        src_v, src_off, stride_v, rows_v, table_v, table_off, quads_v, bias_v, dst_v, dst_off, dst_stride_v = args
        gather = builder.module.declare_intrinsic(
            "llvm.x86.avx512.vpermi2var.qi.512", fnty=ir.FunctionType(_BYTES64, [_BYTES64, _BYTES64, _BYTES64])
        )
        dot4 = builder.module.declare_intrinsic(
            "llvm.x86.avx512.vpdpbusd.512", fnty=ir.FunctionType(_BYTE_LANES, [_BYTE_LANES] * 3)
        )
        base = _address(context, builder, signature.args[0], src_v, src_off)
        tables = _address(context, builder, signature.args[4], table_v, table_off)
        last = builder.sub(rows_v, _const(1))
        windows = []
        for r in range(VNNI_ROWS):  # rows past the last repeat it (their results are not stored)
            row = builder.add(
                base, builder.mul(builder.select(builder.icmp_signed("<", _const(r), last), _const(r), last), stride_v)
            )
            windows.append(
                [builder.load(_vector_at(builder, builder.add(row, _const(h)), _BYTES64), align=1) for h in (0, 64)]
            )
        zero = ir.Constant(_BYTE_LANES, [0] * VNNI_OUTPUTS)

        def add_quad(m, acc):  # acc: per row, one accumulator per weight digit
            quad = builder.add(tables, builder.mul(m, _const(256)))
            offsets = builder.load(_vector_at(builder, quad, _BYTES64), align=1)
            digits = [
                builder.load(_vector_at(builder, builder.add(quad, _const(64 * (j + 1))), _BYTE_LANES), align=1)
                for j in range(3)
            ]
            summed = []
            for r in range(VNNI_ROWS):
                samples = builder.bitcast(builder.call(gather, [windows[r][0], offsets, windows[r][1]]), _BYTE_LANES)
                summed += [builder.call(dot4, [acc[3 * r + j], samples, digits[j]]) for j in range(3)]
            return summed

        results = _accumulate(builder, quads_v, [zero] * (3 * VNNI_ROWS), add_quad, "quads")

        def splat(n):
            return _splat(builder, ir.Constant(_I32, n), VNNI_OUTPUTS)

        out = _address(context, builder, signature.args[8], dst_v, dst_off)
        for r in range(VNNI_ROWS):
            total = builder.add(_splat(builder, bias_v, VNNI_OUTPUTS), results[3 * r])
            total = builder.add(total, builder.shl(results[3 * r + 1], splat(8)))
            total = builder.add(total, builder.shl(results[3 * r + 2], splat(16)))
            v = builder.ashr(total, splat(PRECISION_BITS))
            v = builder.select(builder.icmp_signed("<", v, splat(0)), splat(0), v)
            v = builder.select(builder.icmp_signed(">", v, splat(255)), splat(255), v)
            with builder.if_then(builder.icmp_signed("<", _const(r), rows_v)):
                target = _vector_at(
                    builder, builder.add(out, builder.mul(dst_stride_v, _const(r))), ir.VectorType(_I8, VNNI_OUTPUTS)
                )
                builder.store(builder.trunc(v, ir.VectorType(_I8, VNNI_OUTPUTS)), target, align=1)
        return context.get_dummy_value()

    return sig, codegen


def vnni_table(index: np.ndarray, weight: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The VNNI horizontal pass's tables for expanded ``index``/``weight`` (int32 ``[Q2, K]``) on
    rows of ``q`` samples: ``(table, windows)``, uint8 ``[blocks * quads * 256]`` (see
    :func:`_vnni_block`) and int64 ``[blocks]``, the window start of each block of 16 outputs
    (the last block overlaps the one before). ``None`` where the layout cannot hold the table:
    rows shorter than the window, a block whose taps span more than it (large shrink factors),
    a weight beyond three signed digits."""
    q2, k = index.shape
    if q < VNNI_WINDOW or q2 < VNNI_OUTPUTS:
        return None
    quads = -(-k // 4)
    first = np.minimum(np.arange(0, q2, VNNI_OUTPUTS), q2 - VNNI_OUTPUTS)
    outputs = first[:, None] + np.arange(VNNI_OUTPUTS)  # [blocks, 16]
    taps = index[outputs].astype(np.int64)  # [blocks, 16, K]
    windows = np.minimum(taps.min(axis=(1, 2)), q - VNNI_WINDOW)
    offsets = taps - windows[:, None, None]
    if offsets.max() >= VNNI_WINDOW:
        return None
    w = weight[outputs].astype(np.int64)
    digits = []
    for _ in range(3):  # balanced base-256 digits, low first: w = d0 + 256 (d1 + 256 d2)
        d = (w + 128) % 256 - 128
        digits.append(d)
        w = (w - d) >> 8
    if np.any(w != 0):
        return None
    planes = np.zeros((len(first), VNNI_OUTPUTS, 4 * quads, 4), np.int64)  # [block, output, tap, plane]
    for p, values in enumerate([offsets, *digits]):
        planes[:, :, :k, p] = values
    # -> [block, quad, plane, output, tap of the quad], as bytes
    table = planes.reshape(len(first), VNNI_OUTPUTS, quads, 4, 4).transpose(0, 2, 4, 1, 3)
    return np.ascontiguousarray(table.astype(np.int8).view(np.uint8)).reshape(-1), windows


@nb.njit(**_JIT)
def _vnni_rows(src, dst, r0, rows, table, windows, bias):
    """Rows ``[r0, r0 + rows)`` (``rows <= VNNI_ROWS``) of ``src`` into ``dst``."""
    q2 = dst.shape[1]
    quads = table.shape[0] // (256 * windows.shape[0])
    for b in range(windows.shape[0]):
        x0 = min(b * VNNI_OUTPUTS, q2 - VNNI_OUTPUTS)
        _vnni_block(
            src,
            r0 * src.strides[0] + windows[b],
            src.strides[0],
            rows,
            table,
            b * quads * 256,
            quads,
            bias,
            dst,
            r0 * dst.strides[0] + x0,
            dst.strides[0],
        )


def _h_scratch(h, q, q2):  # pragma: no cover - numba uses the overload below
    raise NotImplementedError


def _h_rows(src, dst, r0, h, bias, scratch):  # pragma: no cover - numba uses the overload below
    raise NotImplementedError


def _is_vnni(h) -> bool:
    """Whether the horizontal tables ``h`` are VNNI's ``(table, windows)`` (1-D) rather than
    ``(index, weight)`` (2-D): the loops are compiled once per kind."""
    return h.types[0].ndim == 1


@overload(_h_scratch, jit_options=_JIT)
def _h_scratch_impl(h, q, q2):
    """Buffers for :func:`_h_rows` on rows of ``q`` -> ``q2`` samples: the generic path's
    ``packed`` (per group, input column ``x`` at bytes ``[x * ROWS, +ROWS)``) and ``result`` (the
    same for the output); VNNI needs none."""
    if _is_vnni(h):
        return lambda h, q, q2: (np.empty((1, 1), np.uint8), np.empty((1, 1), np.uint8))
    return lambda h, q, q2: (np.empty((GROUPS, q * ROWS), np.uint8), np.empty((GROUPS, q2 * ROWS), np.uint8))


@overload(_h_rows, jit_options=_JIT)
def _h_rows_impl(src, dst, r0, h, bias, scratch):
    """Rows ``[r0, r0 + BLOCK)`` (those that exist) of ``src`` ``[Rows, Q]`` into ``dst``
    ``[Rows, Q2]`` with horizontal tables ``h``."""
    if _is_vnni(h):

        def vnni(src, dst, r0, h, bias, scratch):
            end = min(r0 + BLOCK, src.shape[0])
            for r in range(r0, end, VNNI_ROWS):
                _vnni_rows(src, dst, r, min(VNNI_ROWS, end - r), h[0], h[1], bias)

        return vnni
    return lambda src, dst, r0, h, bias, scratch: _horizontal_block(
        src, dst, r0, h[0], h[1], bias, scratch[0], scratch[1]
    )


@nb.njit(**_JIT)
def _vertical_row(src, src_offset, dst, dst_offset, index, weight, row, bias):
    """Output row ``row`` (of ``index``/``weight``) into ``dst`` at byte ``dst_offset``: input row
    ``i`` starts at byte ``src_offset + i * src.strides[-2]`` of ``src``."""
    q = dst.shape[-1]
    for c in range(0, q, 64):
        c = min(c, q - 64)
        _dot(src, src_offset + c, src.strides[-2], ROWS, index, weight, row, bias, dst, dst_offset + c, ROWS)


@nb.njit(**_JIT)
def vertical(src, dst, index, weight, bias, lo, hi):
    """Resample the middle axis of ``src`` ``[O, H, Q]`` into ``dst`` ``[O, H2, Q]`` (uint8,
    ``Q >= 64``, rows contiguous). ``index``/``weight``: int32 ``[H2, K]``. Item ``i``: output row
    ``i % H2`` of plane ``i // H2``."""
    h2 = dst.shape[1]
    for item in range(lo, hi):
        o = item // h2
        r = item - o * h2
        _vertical_row(src, o * src.strides[0], dst, o * dst.strides[0] + r * dst.strides[1], index, weight, r, bias)


@nb.njit(**_JIT)
def _horizontal_block(src, dst, r0, index, weight, bias, packed, result):
    """Rows ``[r0, r0 + 64)`` (those that exist) of ``src`` ``[Rows, Q]`` into ``dst``
    ``[Rows, Q2]`` through the buffers of :func:`_h_scratch`: packed, ``_dot``, unpacked."""
    rows, q = src.shape
    q2 = dst.shape[1]
    for g in range(GROUPS):
        r = min(r0 + g * ROWS, rows - 1)  # groups past the end repeat the last row, unused
        valid = min(ROWS, rows - r)
        for c in range(0, q, 64):
            c = min(c, q - 64)
            _pack(src, r * src.strides[0] + c, src.strides[0], valid, packed, g * packed.strides[0] + c * ROWS)
    for x in range(q2):
        _dot(packed, 0, ROWS, packed.strides[0], index, weight, x, bias, result, x * ROWS, result.strides[0])
    for g in range(GROUPS):
        r = r0 + g * ROWS
        if r >= rows:
            break
        for c in range(0, q2, 64):
            c = min(c, q2 - 64)
            _unpack(
                result,
                g * result.strides[0] + c * ROWS,
                dst,
                r * dst.strides[0] + c,
                dst.strides[0],
                min(ROWS, rows - r),
            )


@nb.njit(**_JIT)
def horizontal(src, dst, h, bias, lo, hi):
    """Resample the columns of ``src`` ``[Rows, Q]`` into ``dst`` ``[Rows, Q2]`` (uint8,
    ``Q, Q2 >= 64``, rows contiguous). ``h``: ``(index, weight)``, the expanded int32 tables
    ``[Q2, K]``, or VNNI's ``(table, windows)``. Item ``i``: rows ``[64 i, 64 i + 64)``."""
    scratch = _h_scratch(h, src.shape[1], dst.shape[1])
    for item in range(lo, hi):
        _h_rows(src, dst, item * BLOCK, h, bias, scratch)


@nb.njit(**_JIT)
def resize_vertical_first(src, dst, h_tables, v_index, v_weight, bias, lo, hi):
    """Both passes, vertical first, ``src`` ``[O, H, Q]`` -> ``dst`` ``[O, H2, Q2]`` (``Q``, ``Q2``:
    samples per row, channels interleaved; both at least 64). ``h_tables``: as ``h`` of
    :func:`horizontal`; ``v_*``: int32 ``[H2, K]``. Item ``i``: output row ``i % H2`` of plane
    ``i // H2``.

    The intermediate image only ever exists as a few rows in a buffer that stays in cache: 64
    output rows at a time go through it. (One function per pass order, so that a call compiles
    only the one it runs.)
    """
    h2 = dst.shape[1]
    scratch = _h_scratch(h_tables, src.shape[2], dst.shape[2])
    window = np.empty((BLOCK, src.shape[2]), np.uint8)
    item = lo
    while item < hi:
        o = item // h2
        y0 = item - o * h2
        y1 = min(h2, y0 + hi - item)  # this plane's rows in [lo, hi)
        for y in range(y0, y1, BLOCK):
            n = min(BLOCK, y1 - y)
            for r in range(n):
                _vertical_row(src, o * src.strides[0], window, r * window.strides[0], v_index, v_weight, y + r, bias)
            _h_rows(window[:n], dst[o, y : y + n], 0, h_tables, bias, scratch)
        item += y1 - y0


@nb.njit(**_JIT)
def resize_horizontal_first(src, dst, h_tables, v_index, v_weight, first, last, bias, lo, hi):
    """Both passes, horizontal first (arguments as :func:`resize_vertical_first`): a window of
    intermediate rows, extended 64 rows at a time while the next output row needs more, and slid
    down (rows no later output row reads dropped) when full: ``first[r]`` is the lowest input
    row that output rows ``r`` and after read, ``last[r]`` the highest that rows up to ``r`` read.
    """
    h = src.shape[1]
    h2, q2 = dst.shape[1], dst.shape[2]
    scratch = _h_scratch(h_tables, src.shape[2], q2)
    # Explicit loops, not array expressions (np.max(last - first), row assignments): those make
    # numba compile its shape-mismatch error formatting, seconds of a first call's compile.
    span = 0
    for r in range(h2):
        span = max(span, last[r] - first[r])
    window = np.empty((span + 1 + BLOCK, q2), np.uint8)
    item = lo
    while item < hi:
        o = item // h2
        y0 = item - o * h2
        y1 = min(h2, y0 + hi - item)  # this plane's rows in [lo, hi)
        b0 = b1 = first[y0]  # the window holds intermediate rows [b0, b1)
        for y in range(y0, y1):
            if first[y] >= b1:  # nothing in the window is needed any more
                b0 = b1 = first[y]
            while b1 <= last[y]:
                n = min(BLOCK, h - b1)
                if b1 + n - b0 > window.shape[0]:  # full: slide the rows still needed to the top
                    for r in range(b1 - first[y]):
                        for c in range(q2):
                            window[r, c] = window[first[y] - b0 + r, c]
                    b0 = first[y]
                _h_rows(src[o, b1 : b1 + n], window[b1 - b0 : b1 - b0 + n], 0, h_tables, bias, scratch)
                b1 += n
            _vertical_row(
                window,
                -b0 * window.strides[0],
                dst,
                o * dst.strides[0] + y * dst.strides[1],
                v_index,
                v_weight,
                y,
                bias,
            )
        item += y1 - y0
