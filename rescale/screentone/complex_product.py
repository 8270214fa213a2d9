"""numpy's complex multiplication, as this machine's numpy computes it, for numba loops.

The screen fit's waves are outer products of complex row and column factors (``np.outer``). numpy's
complex multiply, ``(ar br - ai bi) + (ar bi + ai br) i``, runs on SIMD loops that fuse one product
of each part into the sum (FMA: ``fma(ar, br, -(ai bi))``, ``fma(ar, bi, ai br)``) on CPUs that
have it, and not on others. A loop that makes the waves as it needs them, instead of reading them
from memory, must round as numpy does here: :func:`numpy_form` finds which form numpy's outer
product takes on this machine, by trying both on a probe; :func:`product` computes it.
"""

from __future__ import annotations

import functools

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["FUSED", "PLAIN", "numpy_form", "product"]

FUSED, PLAIN = 0, 1


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's ``llvm.fma``: the instruction, or libm's where there is none)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        double = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [double], ir.FunctionType(double, [double] * 3))
        return builder.call(fn, args)

    return sig, codegen


@nb.njit(inline="always", nogil=True, cache=True)
def product(ar, ai, br, bi, form):
    """``(ar + ai i) (br + bi i)`` as ``(re, im)``, in ``form`` (:data:`FUSED` or :data:`PLAIN`)."""
    if form == FUSED:
        return _fma(ar, br, -(ai * bi)), _fma(ar, bi, ai * br)
    return ar * br - ai * bi, ar * bi + ai * br


@nb.njit(nogil=True, cache=True)
def _outer(a, b, form, out):
    for y in range(a.shape[0]):
        for x in range(b.shape[0]):
            re, im = product(a[y].real, a[y].imag, b[x].real, b[x].imag, form)
            out[y, x] = complex(re, im)


@functools.lru_cache(maxsize=1)
def numpy_form() -> int | None:
    """The form (:data:`FUSED` or :data:`PLAIN`) whose products are ``np.outer``'s of complex
    vectors on this machine, bit for bit, on a probe of rows of several lengths (SIMD bodies and
    tails); ``None`` if neither is."""
    rng = np.random.default_rng(0)
    probes = []
    for n in (1, 3, 8, 13, 64, 257):
        a = np.exp(2j * np.pi * rng.random(5) * np.arange(5))
        b = np.exp(2j * np.pi * rng.random() * np.arange(n)) * rng.uniform(0.5, 2)
        probes.append((a, b, np.outer(a, b)))
    for form in (FUSED, PLAIN):
        ok = True
        for a, b, want in probes:
            got = np.empty_like(want)
            _outer(a, b, form, got)
            ok &= bool(np.array_equal(got.view(np.int64), want.view(np.int64)))  # bits, signs of 0 too
        if ok:
            return form
    return None
