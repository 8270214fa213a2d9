"""Resampling in linear light (``rescale.rescale(..., linear=True)``): decode the transfer curve,
resample, encode back.

Stored pixel values are perceptual (sRGB and most other curves are roughly a 2.2 power), so
averaging them darkens fine detail: a black/white checkerboard shrinks to 128, where the mean light
is 50% and encodes to 188. Here the colours are decoded to linear light, premultiplied by alpha
there, resampled, divided by alpha and encoded again:

* 8- and 16-bit images: lookup tables both ways (:func:`codec_for`), float32 in between, fused into
  the CPU kernels (``kernels/cpu_linear*.py``) and the Triton passes; every path gives each output
  the exact rounding of its float32 linear value (the float64 oracle of the tests is met to one
  level, and almost always exactly).
* float images (and float tensors, differentiably): the curve's formula, then the ordinary float
  resampling, in the image's own precision.

The curve (:func:`curves_for`): sRGB by default; a PIL image's ICC profile's tone curves when it
carries one (``img.info["icc_profile"]``), or another :class:`rescale.transfer.Curve` given as
``linear=``. Alpha is linear coverage: never decoded.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np

from .filters import Filter
from .tables import AxisTable, axis_table, vertical_first
from .transfer import LINEAR, SRGB, Curve, ICCError, curves_from_icc

__all__ = ["curves_for", "codec_for", "resample_linear_array", "resample_linear_tensor", "LinearOption"]

#: What ``linear=`` takes: False (off), True (sRGB, or the image's ICC profile), a Curve, or the
#: bytes of an ICC profile.
LinearOption = bool | Curve | bytes

#: Sub-buckets per binary exponent in the encoder's bucket table (2 ** 8: at most one 8-bit level
#: boundary in a bucket for any curve no steeper than linear).
_BUCKET_BITS = 8


def curves_for(
    linear, img, channels: int, has_alpha: bool, filt: Filter | None = None, same_size: bool = False
) -> tuple[Curve, ...] | None:
    """The transfer curve of each colour channel of ``img`` (``channels`` of them, the last one alpha
    when ``has_alpha``) for ``linear=``; None where it is False or changes nothing (nearest, which
    averages nothing; the same size, a copy). ``True``: the ICC profile's curves of a PIL image
    that has one (with a warning, sRGB where the profile cannot be used), else sRGB."""
    curves = _curves(linear, img, _colour_count(channels, has_alpha))
    return None if filt is not None and filt.nearest or same_size else curves


def _curves(linear, img, colours: int) -> tuple[Curve, ...] | None:
    if linear is False or linear is None:
        return None
    if isinstance(linear, Curve):
        return (linear,) * colours
    if isinstance(linear, (bytes, bytearray)):
        profile, given = bytes(linear), True
    elif linear is True:
        info = getattr(img, "info", None)
        profile, given = (info.get("icc_profile") if isinstance(info, dict) else None), False
    else:
        raise TypeError(f"linear must be True, False, a rescale.transfer.Curve or ICC profile bytes, got {linear!r}")
    if not profile:
        return (SRGB,) * colours
    try:
        curves = _icc_curves(profile)
        why = "has no tone curves (a lookup-table profile)" if curves is None else None
    except ICCError as e:
        curves, why = None, str(e)
    if curves is not None and len(curves) not in (1, colours):
        curves, why = None, f"describes {len(curves)} channels, the image has {colours} colour channels"
    if curves is None:
        where = "the given ICC profile" if given else "the image's ICC profile"
        warnings.warn(f"linear=True: {where} {why}; resampling as sRGB", stacklevel=6)
        return (SRGB,) * colours
    return curves * colours if len(curves) == 1 else curves


@lru_cache(maxsize=64)
def _icc_curves(profile: bytes):
    return curves_from_icc(profile)


@lru_cache(maxsize=64)
def codec_for(dtype, channels: int, alpha: bool = False, curves: tuple[Curve, ...] = (SRGB,)):
    """The lookup tables (``kernels.cpu_linear.Codec``) for images of ``dtype`` (uint8 or uint16)
    with ``channels`` channels, the last one alpha when ``alpha``, the colours with ``curves``
    (one for all, or one each). Cached.

    >>> codec_for(np.dtype(np.uint8), 3).decode.shape  # one curve, 256 codes
    (1, 256)
    """
    from rescale.kernels.cpu_linear import Codec

    top = np.iinfo(np.dtype(dtype)).max
    colours = channels - 1 if alpha else channels
    distinct = list(dict.fromkeys(curves if len(curves) > 1 else curves * colours))
    curve_of = [distinct.index(c) for c in (curves if len(curves) > 1 else curves * colours)]
    table = distinct + ([LINEAR] if alpha else [])
    if alpha:
        curve_of.append(len(distinct))
    codes = np.arange(top + 1) / top
    decode = np.stack([c.decode(codes) for c in table]).astype(np.float32)
    thresholds = np.stack([_thresholds(c, top) for c in table])
    low = min(thresholds[:, 1].min(), 1.0)
    e_min = max(-126, math.floor(math.log2(low))) if low > 0 else -126
    shift, base = 23 - _BUCKET_BITS, (127 + e_min) << _BUCKET_BITS
    starts = np.stack([_starts(t, e_min, top) for t in thresholds])
    span = int(np.max(np.diff(starts, axis=1)))
    steps = max(0, math.ceil(math.log2(span + 1)))
    planes = constants = None
    if top == 255 and len(distinct) == 1 and _simd_curve(distinct[0]):
        from rescale.kernels.cpu_linear_u8 import encoder_constants

        both = np.stack([decode[0], codes.astype(np.float32)])  # colour, alpha (identity)
        planes = np.ascontiguousarray(both.view(np.uint8).reshape(2, 256, 4).transpose(0, 2, 1))
        constants = encoder_constants(*distinct[0].params, top)
    return Codec(decode, np.array(curve_of, np.int64), alpha, starts, thresholds, shift, base, steps, planes, constants)


def _simd_curve(curve: Curve) -> bool:
    """Whether the SIMD encoder computes ``curve``'s inverse (``cpu_linear_u8.encodable``)."""
    from rescale.kernels.cpu_linear_u8 import encodable

    return curve.params is not None and encodable(*curve.params)


def _thresholds(curve: Curve, top: int) -> np.ndarray:
    """float32 ``[top + 2]``: ``-inf``; for each level ``v`` in ``1..top`` the smallest float32 at
    or above the linear value where rounding moves from ``v - 1`` to ``v``; ``+inf``."""
    edges = curve.decode((np.arange(1, top + 1) - 0.5) / top)
    f = edges.astype(np.float32)
    below = f.astype(np.float64) < edges
    f[below] = np.nextafter(f[below], np.float32(np.inf))
    return np.concatenate([[-np.inf], np.maximum.accumulate(f), [np.inf]]).astype(np.float32)


def _starts(thresholds: np.ndarray, e_min: int, top: int) -> np.ndarray:
    """int32: the level at 0, then at the lower end of each bucket of float32 bit patterns from
    ``2 ** e_min`` up to 1 (``2 ** _BUCKET_BITS`` per binary exponent), then at 1 and above."""
    n = (-e_min) << _BUCKET_BITS
    bits = ((127 + e_min) << 23) + (np.arange(n + 1, dtype=np.int64) << (23 - _BUCKET_BITS))
    lower = np.concatenate([[0.0], bits.astype(np.int32).view(np.float32)])
    levels = np.searchsorted(thresholds[1 : top + 1], lower, side="right")
    return np.concatenate([levels, [top]]).astype(np.int32)


def _tables(w: int, h: int, out_w: int, out_h: int, filt: Filter, antialias: bool, edge: str, box=None):
    """The width and height tables (of the region ``box``, as ``rescale.tables.passes``); an axis
    that keeps its size is copied (one tap of weight 1): the decode and the encode each ride on a
    pass."""
    left, top, right, bottom = (0, 0, w, h) if box is None else box
    width = _table(w, out_w, filt, antialias, edge, (left, right))
    return width, _table(h, out_h, filt, antialias, edge, (top, bottom))


def _table(n: int, out: int, filt: Filter, antialias: bool, edge: str, region: tuple) -> AxisTable:
    if n != out or region != (0, n):
        return axis_table(n, out, filt, antialias, edge, None if region == (0, n) else region)
    return AxisTable(n, n, np.arange(n, dtype=np.int32)[:, None], np.ones((n, 1)))


def _colour_count(channels: int, has_alpha: bool) -> int:
    return channels - 1 if has_alpha and channels > 1 else channels


def resample_linear_array(
    arr: np.ndarray, out_h: int, out_w: int, filt: Filter, curves: tuple[Curve, ...], *,
    antialias: bool = True, edge: str = "renormalize", has_alpha: bool = False, box=None,
) -> np.ndarray:  # fmt: skip
    """Resample ``arr`` ``[H, W, C]`` (uint8, uint16, float32, float64) to a new ``[out_h, out_w,
    C]`` array of its dtype in linear light: the colour channels decoded with ``curves`` (one per
    colour channel), alpha (the last channel when ``has_alpha``) premultiplied. Without torch.

    >>> from rescale.filters import get_filter
    >>> from rescale.transfer import SRGB
    >>> board = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)[:, :, None]
    >>> int(resample_linear_array(board, 4, 4, get_filter("bicubic"), (SRGB,))[0, 0, 0])
    188
    """
    h, w, c = arr.shape
    has_alpha = has_alpha and c > 1
    width, height = _tables(w, h, out_w, out_h, filt, antialias, edge, box)
    if arr.dtype.kind == "u":
        from rescale.kernels.cpu_linear import resize_linear

        return resize_linear(arr[None], width, height, codec_for(arr.dtype, c, has_alpha, curves))[0]
    from .arrays import resample_array

    colours = _colour_count(c, has_alpha)
    lin = arr.copy()
    for i, curve in enumerate(curves[:colours]):
        lin[..., i] = curve.decode(arr[..., i])
    y = resample_array(lin, out_h, out_w, filt, antialias=antialias, edge=edge, has_alpha=has_alpha, box=box)
    for i, curve in enumerate(curves[:colours]):
        y[..., i] = curve.encode(y[..., i])
    return y


def resample_linear_tensor(
    x, out_h: int, out_w: int, filt: Filter, curves: tuple[Curve, ...], *, antialias: bool = True,
    edge: str = "renormalize", backend: str = "auto", has_alpha: bool = False, box=None,
):  # fmt: skip
    """The tensor twin of :func:`resample_linear_array`: ``x`` ``[N, C, H, W]`` (uint8 or float;
    uint16 from numpy on the torch backends), on ``backend`` (as :func:`rescale.resample.resample`).
    Float tensors stay differentiable. uint8 on the CPU kernels runs their fused loops; on Triton,
    one curve for all colours and no alpha decode in the first pass and encode in the second."""
    import torch

    from .alpha import premultiply, unpremultiply
    from .resample import resample, resolve_backend

    n, c, h, w = x.shape
    has_alpha = has_alpha and c > 1
    colours = _colour_count(c, has_alpha)
    backend = resolve_backend(backend, x)
    if x.dtype.is_floating_point:
        lin = torch.cat([curves[i].decode(x[:, i : i + 1], torch) for i in range(colours)] + [x[:, colours:]], 1)
        lin = premultiply(lin) if has_alpha else lin
        y = resample(lin, out_h, out_w, filt, antialias=antialias, edge=edge, backend=backend, box=box)
        y = unpremultiply(y) if has_alpha else y
        out = [curves[i].encode(y[:, i : i + 1], torch) for i in range(colours)] + [y[:, colours:]]
        return torch.cat(out, 1).contiguous(memory_format=_format_of(x))
    codec = codec_for(np.dtype(str(x.dtype).removeprefix("torch.")), c, has_alpha, curves)
    width, height = _tables(w, h, out_w, out_h, filt, antialias, edge, box)
    if backend == "cpu":
        from rescale.kernels.cpu_linear import resize_linear

        channels_last = x.permute(0, 2, 3, 1).contiguous().numpy()
        y = torch.from_numpy(resize_linear(channels_last, width, height, codec)).permute(0, 3, 1, 2)
        return y.contiguous(memory_format=_format_of(x))
    if backend == "triton" and not has_alpha and len(set(codec.curve_of.tolist())) == 1:
        from rescale.kernels.triton_resample import resample_axis

        first, second = _ordered(width, height, w, h, out_w, out_h)
        lut = torch.from_numpy(codec.decode[0]).to(x.device)
        encoder = _torch_encoder(codec, 0, x.device)
        y = resample_axis(x, first[1], first[0], decode=lut)
        return resample_axis(y, second[1], second[0], encode=encoder, out_dtype=x.dtype)
    # Unfused: decode by table, resample float32 on the chosen backend, encode by table.
    decode = torch.from_numpy(codec.decode).to(x.device)
    curve_of = codec.curve_of.tolist()
    lin = torch.stack([decode[curve_of[i]][x[:, i].long()] for i in range(c)], 1)
    lin = premultiply(lin) if has_alpha else lin
    y = resample(lin, out_h, out_w, filt, antialias=antialias, edge=edge, backend=backend, box=box)
    y = unpremultiply(y) if has_alpha else y
    levels = [_encode_levels(y[:, i], *_torch_encoder(codec, curve_of[i], x.device)) for i in range(c)]
    return torch.stack(levels, 1).to(x.dtype).contiguous(memory_format=_format_of(x))


def _ordered(width: AxisTable, height: AxisTable, w: int, h: int, out_w: int, out_h: int):
    """``[(dim, table), (dim, table)]``: both axes, in Pillow's order."""
    steps = [(3, width), (2, height)]
    return steps[::-1] if vertical_first(w, h, out_w, out_h) else steps


def _torch_encoder(codec, curve: int, device):
    """``(starts, thresholds, shift, base, steps)`` of ``curve`` as tensors on ``device``."""
    import torch

    starts = torch.from_numpy(codec.starts[curve].astype(np.int64)).to(device)
    return starts, torch.from_numpy(codec.thresholds[curve]).to(device), codec.shift, codec.base, codec.steps


def _encode_levels(y, starts, thresholds, shift: int, base: int, steps: int):
    """``kernels.cpu_linear_loops.encode_level`` on a float32 tensor (clamped to [0, 1] first): int64 levels."""
    import torch

    y = y.float().clamp(0, 1).contiguous()
    b = ((y.view(torch.int32) >> shift) - base).clamp(-1, starts.numel() - 3).long() + 1
    lo, hi = starts[b], starts[b + 1]
    for _ in range(steps):
        mid = (lo + hi + 1) >> 1
        up = y >= thresholds[mid]
        lo, hi = torch.where(up, mid, lo), torch.where(up, hi, mid - 1)
    return lo


def _format_of(x):
    import torch

    if x.shape[1] > 1 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format
