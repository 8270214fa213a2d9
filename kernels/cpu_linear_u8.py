"""Linear-light resampling of uint8 images in explicit SIMD: the fast path of ``cpu_linear.py``.

Both passes fused, horizontal first, in float32, 16 image rows at a time (the lanes):

* :func:`_decode_block`: 16 rows x 64 bytes are transposed (four rounds of byte interleaving: each
  image column becomes 16 contiguous bytes, one per row) and decoded through the curve's 256-entry
  float32 table: each float's four bytes are looked up in four byte tables with ``vpermi2b`` (128
  entries per instruction, bit 7 choosing the half) and interleaved back into floats. With alpha
  (2 or 4 channels, alpha last), alpha columns use their own table and colours are multiplied by
  their pixel's alpha: premultiplied in linear light. Out: ``t[column][row]``.
* :func:`_hdot` (one per channel count): the horizontal pass, a 16-lane vector per tap, each tap's
  index and weight loaded once for all channels of a pixel.
* :func:`_transpose_rows`: 16 output columns x 16 rows back to rows, into a ring of intermediate
  rows that stays in cache.
* :func:`_vdot_encode`: an output row from the ring (the vertical pass), unpremultiplied and encoded
  to 8 bits by the curve's inverse. Its power ``x ** (1 / g)`` is ``2 ** (E / g)`` from a table over
  ``x``'s binary exponent times a polynomial in its mantissa (2e-7 relative). Lanes whose level lies
  within :data:`EPSILON` of a rounding boundary are flagged and redone exactly from the threshold
  tables (``cpu_linear_loops.encode_level``), so every output is the exact rounding of its float32
  linear value, as on the portable path.

Parametric curves only (sRGB, gammas up to 3.4, ICC ``para``: :func:`encodable`), x86 with AVX-512
VBMI (:data:`AVAILABLE`); everything else runs ``cpu_linear_loops.py``. Like ``cpu_u8.py``, the
intrinsics stay in the file of the loops that call them: numba's disk cache is invalidated by
changes to the file of the jitted function only. (Over 400 lines for that reason.)
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .cpu_linear_loops import encode_level
from .cpu_u8 import target_has

__all__ = ["resize", "encoder_constants", "encodable", "AVAILABLE", "EPSILON", "ROWS", "MIN_ROW_SAMPLES"]

_JIT = dict(nogil=True, cache=True, boundscheck=False)

#: Whether this path can run here: ``vpermi2b`` (AVX-512 VBMI) on x86.
AVAILABLE = target_has("avx512bw", "avx512vbmi")
#: Rows per block: the lanes of the horizontal pass.
ROWS = 16
#: Samples per row (in and out) the loops need at least: one block of 64.
MIN_ROW_SAMPLES = 64
#: Lanes whose encoded level lies within this distance of a rounding boundary are redone exactly.
#: The arithmetic's error is far below this (the power is good to 2e-7 relative: 5e-5 of a level
#: at 255); ``tests/kernels/test_cpu_linear.py`` checks the levels against float64 arithmetic.
EPSILON = 0.002

_I8, _I16, _I32, _I64 = (ir.IntType(n) for n in (8, 16, 32, 64))
_F32 = ir.FloatType()
_B64 = ir.VectorType(_I8, 64)
_W32 = ir.VectorType(_I16, 32)
_F16 = ir.VectorType(_F32, 16)
_N16 = ir.VectorType(_I32, 16)

#: The power ``x ** (1 / g)`` of the encoder: ``2 ** (E / g)`` from a table over the binary exponent
#: ``E`` of ``x`` (32 entries: below ``2 ** -31`` nothing reaches level 1), times a polynomial of
#: this degree in the mantissa ``m`` in [1, 2): ``m ** (1 / g)`` to 2e-7 relative.
_DEGREE = 6
_EXPONENTS = 32
#: Layout of the constants array (float32): the polynomial (highest degree first), the exponent
#: table, then the curve's ``e``, level scale and offset of each piece, and where they meet.
_TABLE_AT = _DEGREE + 1
_CURVE_AT = _TABLE_AT + _EXPONENTS
_CONSTANTS = _CURVE_AT + 6


def encodable(g: float, a: float, b: float, c: float, d: float, e: float, f: float) -> bool:
    """Whether the encoder computes this parametric curve's inverse (see :func:`encoder_constants`):
    a linear piece below the break (or none), and ``g <= 3.4``, so that nothing below the exponent
    table's range (``2 ** -31``) reaches level 1 (``255 * 2 ** (-31 / g) < 0.5``)."""
    return 0 < g <= 3.4 and (c > 0 or d == 0)


def encoder_constants(g: float, a: float, b: float, c: float, d: float, e: float, f: float, top: int) -> np.ndarray:
    """float32 constants of :func:`resize`'s encoder for the curve ``decode(x) = (a x + b) ** g + e``
    for ``x >= d``, else ``c x + f`` (``a, g > 0``; ``c > 0`` unless ``d == 0``), to levels
    ``0..top``: the power's polynomial and exponent table, then ``e``, the level scale and offset
    of the upper and the lower piece (``+ 0.5``: rounding), and the linear value where they meet."""
    n = 2000  # least squares in Chebyshev nodes of [1, 2], centred at 1.5
    m = 1.5 + 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    poly = np.polyfit(m - 1.5, m ** (1 / g), _DEGREE)
    table = 2.0 ** (np.arange(-(_EXPONENTS - 1), 1) / g)
    meet = (a * d + b) ** g + e if d > 0 else -np.inf
    lower = (top / c, 0.5 - top * f / c) if c > 0 else (0.0, 0.5)
    curve = [e, top / a, 0.5 - top * b / a, *lower, meet]
    return np.concatenate([poly, table, curve]).astype(np.float32)


class _Emit:
    """Helpers over an llvmlite builder inside an intrinsic's codegen."""

    def __init__(self, context, builder, signature, args):
        self.context, self.b, self.types, self.args = context, builder, signature.args, args

    @staticmethod
    def i64(v: int) -> ir.Constant:
        return ir.Constant(_I64, v)

    def addr(self, arg: int, offset):
        """Integer address of byte ``offset`` of array argument ``arg``'s data."""
        data = self.context.make_array(self.types[arg])(self.context, self.b, self.args[arg]).data
        return self.b.add(self.b.ptrtoint(data, _I64), offset)

    def at(self, address, offset: int):
        return self.b.add(address, self.i64(offset))

    def load(self, address, vtype, align: int = 1):
        return self.b.load(self.b.inttoptr(address, vtype.as_pointer()), align=align)

    def store(self, value, address, align: int = 1) -> None:
        self.b.store(value, self.b.inttoptr(address, value.type.as_pointer()), align=align)

    def splat(self, value, n: int = 16):
        vt = ir.VectorType(value.type, n)
        one = self.b.insert_element(ir.Constant(vt, ir.Undefined), value, ir.Constant(_I32, 0))
        return self.shuffle(one, ir.Constant(vt, ir.Undefined), [0] * n)

    def shuffle(self, a, b, mask):
        return self.b.shuffle_vector(a, b, ir.Constant(ir.VectorType(_I32, len(mask)), list(mask)))

    def scalar_f32(self, arg: int, index: int):
        """Element ``index`` of the float32 array argument ``arg``, splatted to 16 lanes."""
        return self.splat(self.load(self.addr(arg, self.i64(4 * index)), _F32, 4))

    def fconst(self, v: float):
        return ir.Constant(_F16, [float(np.float32(v))] * 16)

    def iconst(self, v: int):
        return ir.Constant(_N16, [v] * 16)

    def fma(self, x, y, z):
        return self.call("llvm.fma", x, y, z)

    def call(self, name: str, *values):
        """The LLVM intrinsic ``name`` on 16-lane float vectors (llvmlite mangles scalar types only)."""
        fnty = ir.FunctionType(_F16, [_F16] * len(values))
        return self.b.call(self.b.module.declare_intrinsic(f"{name}.v16f32", fnty=fnty), list(values))

    def loop(self, count, start: list, step, name: str) -> list:
        """``acc = start; for i in range(count): acc = step(i, acc)``, the accumulators in registers
        (phi nodes), skipped when ``count <= 0`` (an i64). Returns the final values. Unlike
        ``cpu_u8``'s ``_accumulate``, ``step`` may emit loops of its own (the back edge leaves from
        the block where it ends), and this file keeps its own copy: numba's disk cache follows this
        file only (see the module's docstring)."""
        b = self.b
        entry = b.block
        body, done = b.append_basic_block(name), b.append_basic_block(name + ".done")
        b.cbranch(b.icmp_signed(">", count, self.i64(0)), body, done)
        b.position_at_end(body)
        i = b.phi(_I64)
        i.add_incoming(self.i64(0), entry)
        acc = []
        for v in start:
            phi = b.phi(v.type)
            phi.add_incoming(v, entry)
            acc.append(phi)
        stepped = step(i, acc)
        i_next = b.add(i, self.i64(1))
        end = b.block
        i.add_incoming(i_next, end)
        for phi, v in zip(acc, stepped):
            phi.add_incoming(v, end)
        b.cbranch(b.icmp_signed("<", i_next, count), body, done)
        b.position_at_end(done)
        out = []
        for v0, v in zip(start, stepped):
            phi = b.phi(v.type)
            phi.add_incoming(v0, entry)
            phi.add_incoming(v, end)
            out.append(phi)
        return out

    def row(self, arg: int, row):
        """``(index pointer, weight pointer, taps)`` of row ``row`` of the int32 / float32 table
        arguments ``arg`` and ``arg + 1``."""
        index = self.context.make_array(self.types[arg])(self.context, self.b, self.args[arg])
        weight = self.context.make_array(self.types[arg + 1])(self.context, self.b, self.args[arg + 1])
        taps = self.b.extract_value(index.shape, 1)
        first = self.b.mul(row, taps)
        index_ptr = self.b.gep(self.b.bitcast(index.data, _I32.as_pointer()), [first])
        weight_ptr = self.b.gep(self.b.bitcast(weight.data, _F32.as_pointer()), [first])
        return index_ptr, weight_ptr, taps

    def tap(self, index_ptr, weight_ptr, k):
        """``(index as i64, weight splatted)`` of tap ``k``."""
        idx = self.b.sext(self.b.load(self.b.gep(index_ptr, [k])), _I64)
        return idx, self.splat(self.b.load(self.b.gep(weight_ptr, [k])))


def _interleave(e: _Emit, a, b, n: int, high: bool):
    """``a0 b0 a1 b1 ...`` over the low (or high) halves of two ``n``-lane vectors."""
    first = n // 2 if high else 0
    return e.shuffle(a, b, [first + j // 2 + (j % 2) * n for j in range(n)])


def _transpose16(e: _Emit, rows: list, n: int) -> list:
    """16 vectors of ``n`` lanes (rows) -> 16 vectors of ``n / 16`` columns x 16 rows each,
    column-major: four rounds of interleaving vectors ``i`` and ``i + 8``."""
    for _ in range(4):
        rows = [_interleave(e, rows[i], rows[i + 8], n, high) for i in range(8) for high in (False, True)]
    return rows


def _decode64(e: _Emit, idx, planes: list) -> list:
    """64 bytes -> 64 floats (four 16-lane vectors, in order) through a float32 table given as four
    byte planes (``planes[p]``: byte ``p`` of each of the 256 entries, four 64-byte vectors)."""
    perm = e.b.module.declare_intrinsic(
        "llvm.x86.avx512.vpermi2var.qi.512", fnty=ir.FunctionType(_B64, [_B64, _B64, _B64])
    )
    negative = e.b.icmp_signed("<", idx, ir.Constant(_B64, [0] * 64))
    byte = []
    for t in planes:  # entries 0-127 and 128-255, bit 7 of the index choosing
        byte.append(e.b.select(negative, e.b.call(perm, [t[2], idx, t[3]]), e.b.call(perm, [t[0], idx, t[1]])))
    out = []
    for high in (False, True):
        lo = e.b.bitcast(_interleave(e, byte[0], byte[1], 64, high), _W32)  # bytes 0-1 of 32 floats
        hi = e.b.bitcast(_interleave(e, byte[2], byte[3], 64, high), _W32)  # bytes 2-3
        out += [e.b.bitcast(_interleave(e, lo, hi, 32, h), _F16) for h in (False, True)]
    return out


def _make_decode_block(alpha: int):
    """The block decoder for images without alpha (``alpha`` 0) or with ``alpha`` channels, the
    last one alpha (2 or 4: 64 columns hold whole pixels)."""

    @intrinsic
    def decode_block(typingctx, src, src_offset, stride, valid, planes, dst, dst_offset):
        """``dst[c][r] = decode(src[src_offset + min(r, valid - 1) * stride + c])`` for 64 columns
        ``c`` and 16 rows ``r``: floats from byte ``dst_offset`` of ``dst``. ``planes``: uint8
        ``[2, 4, 256]``, the colour and alpha tables as byte planes."""
        sig = types.void(src, types.intp, types.intp, types.intp, planes, dst, types.intp)

        def codegen(context, builder, signature, args):
            e = _Emit(context, builder, signature, args)
            _, src_off, stride_v, valid_v, _, _, dst_off = args
            base, last = e.addr(0, src_off), builder.sub(valid_v, e.i64(1))
            rows = []
            for r in range(ROWS):  # rows past the last valid one repeat it
                rr = builder.select(builder.icmp_signed("<", e.i64(r), last), e.i64(r), last)
                rows.append(e.load(builder.add(base, builder.mul(rr, stride_v)), _B64))
            table = e.addr(4, e.i64(0))

            def planes_of(t: int):
                return [[e.load(e.at(table, 1024 * t + 256 * p + 64 * q), _B64) for q in range(4)] for p in range(4)]

            colour, alpha_planes = planes_of(0), planes_of(1) if alpha else None
            out = e.addr(5, dst_off)
            for j, v in enumerate(_transpose16(e, rows, 64)):  # v: columns 4j .. 4j + 3
                floats = _decode64(e, v, colour)
                if alpha:
                    opaque = _decode64(e, v, alpha_planes)
                    for k in range(4):
                        a = (k // alpha + 1) * alpha - 1  # this pixel's alpha column among the four
                        floats[k] = opaque[k] if k == a else builder.fmul(floats[k], opaque[a])
                for k, f in enumerate(floats):
                    e.store(f, e.at(out, 64 * (4 * j + k)))
            return context.get_dummy_value()

        return sig, codegen

    return decode_block


_decode_block = _make_decode_block(0)
_decode_block_la = _make_decode_block(2)
_decode_block_rgba = _make_decode_block(4)


def _make_hdot(channels: int):
    """The horizontal pass of 16 rows for images of ``channels`` interleaved channels."""
    pixels = max(1, 4 // channels)  # per step: at least four independent sums

    @intrinsic
    def hdot(typingctx, t, t_offset, index, weight, dst):
        """``dst[x C + c][r] = sum_k weight[x, k] * t'[index[x, k] C + c][r]`` for every output pixel
        ``x``, channel ``c`` and row ``r`` (``t'``: float32 ``[columns, 16]`` from byte ``t_offset``
        of ``t``; ``dst`` likewise; ``index`` int32, ``weight`` float32 ``[pixels out, taps]``, at
        least 4 pixels out)."""
        sig = types.void(t, types.intp, index, weight, dst)

        def codegen(context, builder, signature, args):
            e = _Emit(context, builder, signature, args)
            b = builder
            outputs = b.extract_value(context.make_array(signature.args[2])(context, b, args[2]).shape, 0)
            base, out = e.addr(0, args[1]), e.addr(4, e.i64(0))
            pixel_bytes = e.i64(64 * channels)

            def step(i, _):
                x = b.mul(i, e.i64(pixels))
                x = b.select(b.icmp_signed("<", x, b.sub(outputs, e.i64(pixels))), x, b.sub(outputs, e.i64(pixels)))
                rows = [e.row(2, b.add(x, e.i64(j))) for j in range(pixels)]

                def add_tap(k, acc):
                    sums = []
                    for j, (index_ptr, weight_ptr, _) in enumerate(rows):
                        idx, w = e.tap(index_ptr, weight_ptr, k)
                        column = b.add(base, b.mul(idx, pixel_bytes))
                        for c in range(channels):
                            v = e.load(e.at(column, 64 * c), _F16, 4)
                            sums.append(e.fma(w, v, acc[j * channels + c]))
                    return sums

                sums = e.loop(rows[0][2], [e.fconst(0.0)] * (pixels * channels), add_tap, "htaps")
                first = b.add(out, b.mul(x, pixel_bytes))
                for j, v in enumerate(sums):
                    e.store(v, e.at(first, 64 * j), 4)
                return []

            e.loop(b.sdiv(b.add(outputs, e.i64(pixels - 1)), e.i64(pixels)), [], step, "pixels")
            return context.get_dummy_value()

        return sig, codegen

    return hdot


_hdots = [_make_hdot(c) for c in (1, 2, 3, 4)]
_hdot1, _hdot2, _hdot3, _hdot4 = _hdots


@intrinsic
def _transpose_rows(typingctx, src, src_offset, dst, dst_offset, stride, valid):
    """16 columns x 16 rows of floats at byte ``src_offset`` of ``src`` (column-major) -> rows
    ``r < valid`` of 16 floats at ``dst_offset + r * stride`` of ``dst``."""
    sig = types.void(src, types.intp, dst, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        e = _Emit(context, builder, signature, args)
        base = e.addr(0, args[1])
        rows = _transpose16(e, [e.load(e.at(base, 64 * c), _F16, 4) for c in range(16)], 16)
        out = e.addr(2, args[3])
        for r, v in enumerate(rows):
            with builder.if_then(builder.icmp_signed("<", e.i64(r), args[5])):
                e.store(v, builder.add(out, builder.mul(args[4], e.i64(r))))
        return context.get_dummy_value()

    return sig, codegen


def _power(e: _Emit, x, c: list):
    """``x ** (1 / g)`` for ``0 < x <= 1`` (16 lanes), from the constants ``c`` (splatted; the
    exponent table as two 16-lane vectors): ``table[E] * poly(m - 1.5)`` for ``x = m * 2 ** E``."""
    b = e.b
    bits = b.bitcast(x, _N16)
    exponent = b.sub(b.lshr(bits, e.iconst(23)), e.iconst(127 - (_EXPONENTS - 1)))
    exponent = b.select(b.icmp_signed("<", exponent, e.iconst(0)), e.iconst(0), exponent)
    m = b.bitcast(b.or_(b.and_(bits, e.iconst(0x7FFFFF)), e.iconst(0x3F800000)), _F16)
    r = b.fsub(m, e.fconst(1.5))
    # Estrin: pairs c1 r + c0, then pairs of those with r ** 2, ... (half the dependent steps)
    coefficients = c[:_TABLE_AT]
    terms = [e.fma(c1, r, c0) for c1, c0 in zip(coefficients[-2::-2], coefficients[::-2])]
    if len(coefficients) % 2:
        terms.append(coefficients[0])
    power = r
    while len(terms) > 1:
        power = b.fmul(power, power)
        pairs = [e.fma(terms[i + 1], power, terms[i]) for i in range(0, len(terms) - 1, 2)]
        terms = pairs + ([terms[-1]] if len(terms) % 2 else [])
    permute = b.module.declare_intrinsic(
        "llvm.x86.avx512.vpermi2var.ps.512", fnty=ir.FunctionType(_F16, [_F16, _N16, _F16])
    )
    return b.fmul(terms[0], b.call(permute, [c[_TABLE_AT], exponent, c[_TABLE_AT + 1]]))


def _encode16(e: _Emit, v, c: list, alpha: int):
    """16 sums -> ``(value, level bytes, near)``: unpremultiplied (``alpha``: channels per pixel,
    alpha last, or 0), clamped to [0, 1], encoded by the curve of constants ``c`` (splatted), with
    the lanes near a rounding boundary."""
    b = e.b
    shift, scale, offset, lin_scale, lin_offset, meet = c[_TABLE_AT + 2 :]
    zero, one = e.fconst(0.0), e.fconst(1.0)
    alpha_lanes = [16 + j if j % alpha == alpha - 1 else j for j in range(16)] if alpha else None
    if alpha:  # each colour divided by its pixel's alpha (where not 0), alpha lanes kept
        a = e.shuffle(v, v, [(j // alpha + 1) * alpha - 1 for j in range(16)])
        v = e.shuffle(b.select(b.fcmp_ordered("!=", a, zero), b.fdiv(v, a), v), v, alpha_lanes)
    v = e.call("llvm.minnum", e.call("llvm.maxnum", v, zero), one)
    upper = e.fma(_power(e, e.call("llvm.maxnum", b.fsub(v, shift), e.fconst(1e-30)), c), scale, offset)
    z = b.select(b.fcmp_ordered("<", v, meet), e.fma(v, lin_scale, lin_offset), upper)
    if alpha:
        z = e.shuffle(z, e.fma(v, e.fconst(255.0), e.fconst(0.5)), alpha_lanes)
    floor = e.call("llvm.floor", z)
    frac = b.fsub(z, floor)
    near = b.or_(b.fcmp_ordered("<", frac, e.fconst(EPSILON)), b.fcmp_ordered(">", frac, e.fconst(1 - EPSILON)))
    level = b.fptosi(e.call("llvm.minnum", e.call("llvm.maxnum", floor, zero), e.fconst(255.0)), _N16)
    return v, b.trunc(level, ir.VectorType(_I8, 16)), b.bitcast(near, _I16)


def _make_vdot_encode(alpha: int):
    """The vertical pass and encoder for images without alpha (``alpha`` 0) or with ``alpha``
    channels, the last one alpha (2 or 4: a 16-lane vector holds whole pixels)."""

    @intrinsic
    def vdot_encode(typingctx, win, lines, weights, constants, values, near, dst, dst_offset):
        """One output row: ``sum_k weights[k] * row_k`` with ``row_k`` the floats at byte
        ``lines[k]`` of ``win`` (int64, float32 ``[taps]``), ``len(values)`` samples (at least 64),
        unpremultiplied and clamped to [0, 1] (into ``values``), encoded to bytes at
        ``dst_offset`` of ``dst``. Block ``j`` of 64 samples (from ``min(64 j, len - 64)``) sets
        ``near[j]``: bit ``i`` for a sample near a rounding boundary. Returns whether any is."""
        sig = types.int64(win, lines, weights, constants, values, near, dst, types.intp)

        def codegen(context, builder, signature, args):
            e = _Emit(context, builder, signature, args)
            b = builder
            taps = b.extract_value(context.make_array(signature.args[1])(context, b, args[1]).shape, 0)
            n = b.extract_value(context.make_array(signature.args[4])(context, b, args[4]).shape, 0)
            lines_ptr = b.bitcast(context.make_array(signature.args[1])(context, b, args[1]).data, _I64.as_pointer())
            weight_ptr = b.bitcast(context.make_array(signature.args[2])(context, b, args[2]).data, _F32.as_pointer())
            c = [e.scalar_f32(3, i) for i in range(_CONSTANTS)]
            c[_TABLE_AT:_CURVE_AT] = [e.load(e.addr(3, e.i64(4 * (_TABLE_AT + 16 * h))), _F16, 4) for h in (0, 1)]
            base, values, near_at = e.addr(0, e.i64(0)), e.addr(4, e.i64(0)), e.addr(5, e.i64(0))
            out = e.addr(6, args[7])

            def block(j, any_near):
                col = b.mul(j, e.i64(64))
                col = b.select(b.icmp_signed("<", col, b.sub(n, e.i64(64))), col, b.sub(n, e.i64(64)))
                column = b.add(base, b.mul(col, e.i64(4)))

                def add_tap(k, acc):
                    line = b.add(column, b.load(b.gep(lines_ptr, [k])))
                    w = e.splat(b.load(b.gep(weight_ptr, [k])))
                    return [e.fma(w, e.load(e.at(line, 64 * q), _F16, 4), acc[q]) for q in range(4)]

                mask = ir.Constant(_I64, 0)
                for q, v in enumerate(e.loop(taps, [e.fconst(0.0)] * 4, add_tap, "vtaps")):
                    v, level, near = _encode16(e, v, c, alpha)
                    e.store(v, b.add(values, b.mul(b.add(col, e.i64(16 * q)), e.i64(4))), 4)
                    e.store(level, b.add(b.add(out, col), e.i64(16 * q)))
                    mask = b.or_(mask, b.shl(b.zext(near, _I64), e.i64(16 * q)))
                e.store(mask, b.add(near_at, b.mul(j, e.i64(8))), 8)
                return [b.or_(any_near[0], mask)]

            [any_near] = e.loop(b.sdiv(b.add(n, e.i64(63)), e.i64(64)), [ir.Constant(_I64, 0)], block, "blocks")
            return any_near

        return sig, codegen

    return vdot_encode


_vdot_encode = _make_vdot_encode(0)
_vdot_encode_la = _make_vdot_encode(2)
_vdot_encode_rgba = _make_vdot_encode(4)


@nb.njit(**_JIT)
def _fill_rows(src, offset, n, layout, planes, h_index, h_weight, t, u, win, row):
    """Intermediate rows into ``win`` from byte ``row``: ``n <= 16`` rows of ``src`` from byte
    ``offset``, decoded, premultiplied and resampled horizontally (``layout``: as :func:`resize`)."""
    channels, alpha = len(layout[0]), len(layout[1]) > 0
    q, q2 = t.shape[0], u.shape[0]
    for c in range(0, q, 64):
        c = min(c, q - 64)
        if alpha and channels == 4:
            _decode_block_rgba(src, offset + c, src.strides[1], n, planes, t, c * 64)
        elif alpha:
            _decode_block_la(src, offset + c, src.strides[1], n, planes, t, c * 64)
        else:
            _decode_block(src, offset + c, src.strides[1], n, planes, t, c * 64)
    if channels == 1:
        _hdot1(t, 0, h_index, h_weight, u)
    elif channels == 2:
        _hdot2(t, 0, h_index, h_weight, u)
    elif channels == 3:
        _hdot3(t, 0, h_index, h_weight, u)
    else:
        _hdot4(t, 0, h_index, h_weight, u)
    for x in range(0, q2, 16):
        x = min(x, q2 - 16)
        _transpose_rows(u, x * 64, win, row + x * 4, win.strides[0], n)


#: Position of the lowest set bit of ``m``: ``_LOWEST[((m & -m) * _DE_BRUIJN) >> 58]`` (uint64).
_DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)
_LOWEST = np.zeros(64, np.int64)
_LOWEST[((np.uint64(1) << np.arange(64, dtype=np.uint64)) * _DE_BRUIJN >> np.uint64(58)).astype(np.int64)] = range(64)


@nb.njit(**_JIT)
def _redo(dst, at, values, near, layout, starts, thresholds, shift, base, steps):
    """The exact levels of the samples :func:`_vdot_encode` flagged, into ``dst`` from byte ``at``."""
    channels, alpha = len(layout[0]), len(layout[1]) > 0
    q2 = values.shape[0]
    for j in range(near.shape[0]):
        m = np.uint64(near[j])
        c = min(64 * j, q2 - 64)
        while m != 0:
            x = c + _LOWEST[((m & (~m + np.uint64(1))) * _DE_BRUIJN) >> np.uint64(58)]
            m &= m - np.uint64(1)
            curve = 1 if alpha and x % channels == channels - 1 else 0
            dst.reshape(-1)[at + x] = encode_level(values[x], starts[curve], thresholds[curve], shift, base, steps)


@nb.njit(**_JIT)
def resize(src, dst, layout, planes, h_index, h_weight, v_index, v_weight, first, last, constants, exact, lo, hi):
    """Both passes, ``src`` ``[O, H, W * C]`` -> ``dst`` ``[O, H2, W2 * C]`` (uint8, C channels
    interleaved, C-contiguous, at least 64 samples per row in and out). ``layout``:
    ``(C zeros, ())``, or ``(C zeros, (0,))`` when the last channel is alpha (C 2 or 4): tuples,
    so that numba compiles the loops for each layout with only its intrinsics (a runtime branch
    between all of them spilled their tables: 30% slower). ``planes``: the decode tables
    (:func:`_decode_block`); ``h_*``: the horizontal table ``[W2, K]`` (int32, float32); ``v_*``:
    the vertical one ``[H2, K]``; ``first``/``last``: the monotone row bounds of the vertical table (as
    ``cpu_u8.resize_horizontal_first``'s); ``constants``: :func:`encoder_constants`; ``exact``:
    ``(starts, thresholds, shift, base, steps)`` of ``cpu_linear_loops.encode_level`` for the colour
    curve (row 0 of ``starts`` and ``thresholds``) and alpha (row 1). Item ``i``: output row
    ``i % H2`` of plane ``i // H2``.

    The intermediate rows live in a ring of whole blocks of 16, so none is ever copied: row ``b``
    is in slot ``(b - start) % slots``, ``start`` the first row of the current run."""
    channels, alpha = len(layout[0]), len(layout[1]) > 0
    h = src.shape[1]
    h2, q2 = dst.shape[1], dst.shape[2]
    span = 0
    for r in range(h2):
        span = max(span, last[r] - first[r])
    slots = (span + 2 * ROWS) // ROWS * ROWS  # >= span + 16: a new block never overwrites a row in use
    width = q2 + 16  # rows a multiple of 4 KiB apart would share L1 sets (measured: 7x slower)
    if width % 1024 == 0:
        width += 16
    win = np.empty((slots, width), np.float32)
    t = np.empty((src.shape[2], ROWS), np.float32)
    u = np.empty((q2, ROWS), np.float32)
    values = np.empty(q2, np.float32)
    near = np.empty(-(-q2 // 64), np.int64)
    lines = np.empty(v_index.shape[1], np.int64)
    starts, thresholds, shift, base, steps = exact
    stride = win.strides[0]
    item = lo
    while item < hi:
        o = item // h2
        y0 = item - o * h2
        y1 = min(h2, y0 + hi - item)  # this plane's rows in [lo, hi)
        start = b1 = first[y0]  # the ring holds intermediate rows up to b1
        for y in range(y0, y1):
            if first[y] >= b1:  # nothing in the ring is needed any more
                start = b1 = first[y]
            while b1 <= last[y]:
                n = min(ROWS, h - b1)
                at = o * src.strides[0] + b1 * src.strides[1]
                _fill_rows(src, at, n, layout, planes, h_index, h_weight, t, u, win, (b1 - start) % slots * stride)
                b1 += n
            for k in range(lines.shape[0]):
                lines[k] = (v_index[y, k] - start) % slots * stride
            at = o * dst.strides[0] + y * dst.strides[1]
            if alpha and channels == 4:
                redo = _vdot_encode_rgba(win, lines, v_weight[y], constants, values, near, dst, at)
            elif alpha:
                redo = _vdot_encode_la(win, lines, v_weight[y], constants, values, near, dst, at)
            else:
                redo = _vdot_encode(win, lines, v_weight[y], constants, values, near, dst, at)
            if redo != 0:  # samples near a rounding boundary: their exact levels
                _redo(dst, at, values, near, layout, starts, thresholds, shift, base, steps)
        item += y1 - y0
