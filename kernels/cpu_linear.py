"""Linear-light resampling of 8- and 16-bit images on the CPU: decode through lookup tables,
resample in float32, encode back, fused into one pass over the image (:func:`resize_linear`).

Every sample is decoded by table (``Codec.decode[curve, value]``: the float32 linear light of each
8- or 16-bit value), colours are multiplied by their pixel's alpha (premultiplied in linear light),
resampled with float32 weights and sums, divided by alpha again, clamped to [0, 1] and encoded by
``cpu_linear_loops.encode_level``: the exact rounding ``round(top * encode(x))`` of the float32
value ``x``, found between thresholds, so that no power is computed per sample and every path
gives the same level for the same float32 value.

Two implementations: the portable numba loops of :mod:`rescale.kernels.cpu_linear_loops`
(vertical pass first, on rows decoded into a ring), and for uint8 images on x86 with AVX-512 VBMI
the explicit-SIMD loops of :mod:`rescale.kernels.cpu_linear_u8` (horizontal first, 16 rows at a
time). Arrays are ``[O, H, W, C]``, channels interleaved, as in ``cpu.py``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rescale.tables import AxisTable

from . import cpu, cpu_linear_loops, cpu_linear_u8

__all__ = ["Codec", "resize_linear"]


class Codec(NamedTuple):
    """The lookup tables of an image's transfer curves (built by ``rescale.linear``).

    ``decode``: float32 ``[curves, 2 ** bits]``, the linear value of every code; ``curve_of``:
    int64 ``[C]``, the curve of each channel; ``alpha``: the last channel is alpha (its curve the
    identity); ``starts``, ``thresholds``, ``shift``, ``base``, ``steps``: the encoder of
    :func:`encode_level`, one row per curve. For the SIMD path (uint8, one parametric curve for
    the colours): ``planes``, the colour and alpha decode tables as byte planes (uint8
    ``[2, 4, 256]``), and ``constants``, ``cpu_linear_u8.encoder_constants``; else None.
    """

    decode: np.ndarray
    curve_of: np.ndarray
    alpha: bool
    starts: np.ndarray
    thresholds: np.ndarray
    shift: int
    base: int
    steps: int
    planes: np.ndarray | None = None
    constants: np.ndarray | None = None


def resize_linear(src: np.ndarray, width: AxisTable, height: AxisTable, codec: Codec) -> np.ndarray:
    """Resample ``src`` ``[O, H, W, C]`` (uint8 or uint16) in linear light: the width with
    ``width``, the height with ``height`` (an axis that keeps its size: a one-tap table of weight
    1). Returns a new ``[O, H2, W2, C]`` array of ``src``'s dtype.

    >>> from rescale.filters import get_filter
    >>> from rescale.linear import codec_for
    >>> from rescale.tables import axis_table
    >>> img = np.zeros((1, 8, 10, 3), np.uint8)
    >>> bicubic = get_filter("bicubic")
    >>> resize_linear(img, axis_table(10, 5, bicubic), axis_table(8, 4, bicubic), codec_for(img.dtype, 3)).shape
    (1, 4, 5, 3)
    """
    o, h, w, c = src.shape
    h2, w2 = height.out_size, width.out_size
    dst = np.empty((o, h2, w2, c), src.dtype)
    if dst.size == 0:
        return dst
    s, d = np.ascontiguousarray(src).reshape(o, h, w * c), dst.reshape(o, h2, w2 * c)
    h_weight, v_weight = width.weight.astype(np.float32), height.weight.astype(np.float32)
    first, last = cpu.row_bounds(height)
    work = o * c * (h * w2 * width.taps + h2 * w2 * height.taps)
    exact = (codec.starts, codec.thresholds, codec.shift, codec.base, codec.steps)
    if _simd(codec, src.dtype, c, w * c, w2 * c):
        layout = ((0,) * c, (0,) if codec.alpha else ())
        args = (s, d, layout, codec.planes, width.index, h_weight, height.index, v_weight, first, last)
        cpu.run(cpu_linear_u8.resize, (*args, codec.constants, exact), o * h2, work)
    else:
        args = (s, d, c, codec.alpha, codec.decode, codec.curve_of, width.index, h_weight, height.index, v_weight)
        cpu.run(cpu_linear_loops.resize, (*args, first, last, *exact), o * h2, work)
    return dst


def _simd(codec: Codec, dtype, channels: int, row_in: int, row_out: int) -> bool:
    """Whether :mod:`cpu_linear_u8` resamples this image: uint8, one parametric curve for the
    colours, 1-4 channels (alpha with 2 or 4), rows of 64 samples at least, the CPU able."""
    if codec.constants is None or dtype != np.uint8 or not 1 <= channels <= 4:
        return False
    if codec.alpha and channels not in (2, 4):
        return False
    return cpu_linear_u8.AVAILABLE and min(row_in, row_out) >= cpu_linear_u8.MIN_ROW_SAMPLES
