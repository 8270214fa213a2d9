"""``rescale()``: one call for every image type, scale and classical filter."""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, TypeVar, cast

import torch

from .alpha import premultiply, unpremultiply
from .containers import from_tensor, from_unit, to_tensor, to_unit
from .filters import Filter, get_filter
from .methods import get_method, get_refiner, is_method, load_method
from .resample import resample
from .tables import EDGES

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from .methods import Method

__all__ = ["rescale", "down", "up", "output_size", "MAX_OUTPUT_PIXELS", "ImageT"]

#: A PIL image, a numpy array or a torch tensor: each function returns the kind it was given.
ImageT = TypeVar("ImageT", "Image.Image", "np.ndarray", "torch.Tensor")

#: Largest output (width x height, per image) ``rescale`` produces unless told otherwise.
MAX_OUTPUT_PIXELS = 1 << 28


def output_size(width: int, height: int, sx: float, sy: float | None = None) -> tuple[int, int]:
    """The size rule: ``(max(1, floor(width * sx + 0.5)), max(1, floor(height * sy + 0.5)))``."""
    sx = _check_scale(sx, "sx")
    sy = sx if sy is None else _check_scale(sy, "sy")
    return max(1, math.floor(width * sx + 0.5)), max(1, math.floor(height * sy + 0.5))


def rescale(
    img: ImageT,
    sx: float | None = None,
    sy: float | None = None,
    *,
    size: tuple[int, int] | None = None,
    method: str | Filter | Method = "bicubic",
    antialias: bool = True,
    edge: str = "renormalize",
    backend: str = "auto",
    alpha: bool | None = None,
    max_pixels: int | None = None,
    **params: Any,
) -> ImageT:
    """Rescale an image by ``sx`` horizontally and ``sy`` vertically (``sy`` defaults to ``sx``).

    Args:
        img: a PIL image (L, LA, RGB, RGBA, I;16, F), a numpy array HxW or HxWxC (uint8, uint16,
            float32, float64) or a torch tensor CxHxW / NxCxHxW (uint8, float16, bfloat16,
            float32, float64) on any device. The result is of the same kind, dtype, layout and
            device.
        sx, sy: positive finite scale factors; the output is ``round(in * s)`` pixels, at least 1
            (see :func:`output_size`). Or give ``size`` instead.
        size: ``(width, height)`` of the output, in Pillow's order.
        method: a registered filter name (``rescale.filters.available()``) or a
            :class:`rescale.filters.Filter`, e.g. ``rescale.filters.bicubic(a=-0.75)``.
        antialias: widen the filter by ``1/s`` when downscaling (Pillow); ``False`` interpolates
            without prefiltering (torch / OpenCV).
        edge: taps past the border are dropped and the rest renormalised (``"renormalize"``,
            Pillow), mirrored (``"symmetric"``, MATLAB ``imresize``) or clamped (``"clamp"``,
            OpenCV's replicate).
        backend: ``"auto"`` (Triton on CUDA, the CPU kernels on CPU), ``"cpu"``, ``"torch"``
            (reference gathers) or ``"triton"``.
        alpha: whether the last channel is alpha, resampled premultiplied. ``None``: yes for PIL
            LA/RGBA and numpy arrays with 2 or 4 channels, no for tensors.
        max_pixels: refuse outputs larger than this many pixels per image
            (default :data:`MAX_OUTPUT_PIXELS`).
        params: options of a learned method (e.g. ``weights=`` for ``method="muller"``).

    Differentiable with respect to float inputs on every backend.
    """
    if size is None:
        if sx is None:
            raise TypeError("give a scale (sx, sy) or size=(width, height)")
    elif sx is not None or sy is not None:
        raise TypeError("give either a scale (sx, sy) or size=(width, height), not both")
    if edge not in EDGES:
        raise ValueError(f"unknown edge mode {edge!r}; expected one of {EDGES}")
    if not isinstance(antialias, bool):  # "no" or 0.0 must not pass as a truth value
        raise TypeError(f"antialias must be True or False, got {antialias!r}")
    if is_method(method):  # a learned method: downscaling runs its down direction, else its up
        x, _ = to_tensor(img, alpha)
        out_w, out_h = _target_size(x, sx, sy, size, max_pixels)
        shrink = out_w * out_h < x.shape[-1] * x.shape[-2]
        return (down if shrink else up)(img, size=(out_w, out_h), method=method, **params)
    if params:
        raise TypeError(
            f"unexpected options {sorted(params)} for filter {method!r} (only learned methods take options)"
        )
    filt = get_filter(cast("str | Filter", method))  # a Method went down() / up() above

    x, src = to_tensor(img, alpha)
    in_h, in_w = x.shape[-2:]
    out_w, out_h = _target_size(x, sx, sy, size, max_pixels)

    # Same size: no pass runs, so skip the (lossy for uint8) premultiply round trip, as Pillow does.
    same_size = (out_h, out_w) == (in_h, in_w)
    use_alpha = src.has_alpha and not filt.nearest and x.shape[1] > 1 and not same_size
    # 16-bit with alpha has no Pillow counterpart: premultiply in float64, round back at the end.
    wide = use_alpha and x.dtype == torch.uint16
    if wide:
        x = x.to(torch.float64)
    if use_alpha:
        x = premultiply(x)
    y = resample(x, out_h, out_w, filt, antialias=antialias, edge=edge, backend=backend)
    if use_alpha:
        y = unpremultiply(y)
    if wide:
        y = y.round_().clamp_(0, 65535).to(torch.int32).to(torch.uint16)
    return from_tensor(y, src)


def down(
    img: ImageT,
    sx: float | None = None,
    sy: float | None = None,
    *,
    size: tuple[int, int] | None = None,
    method: str | Filter | Method = "irn",
    refine: str | None = None,
    **params: Any,
) -> ImageT:
    """Downscale with a method's learned (or classical) down direction.

    ``sx``, ``sy`` are reduction factors (>= 1: ``down(img, 2)`` halves the image), or give
    ``size=(width, height)``. Returns the same kind as ``img``; 8-bit inputs give 8-bit outputs,
    quantised exactly as they will be saved. ``refine="hcd"`` optimises the low-resolution image
    for the method's own upscaler (invertible methods only).
    """
    return _directional(img, sx, sy, size, method, params, "down", refine)


def up(
    lr: ImageT,
    sx: float | None = None,
    sy: float | None = None,
    *,
    size: tuple[int, int] | None = None,
    method: str | Filter | Method = "irn",
    **params: Any,
) -> ImageT:
    """Upscale with a method's learned (or classical) up direction. ``sx``, ``sy`` are enlargement
    factors (>= 1), or give ``size=(width, height)`` (e.g. the original size)."""
    return _directional(lr, sx, sy, size, method, params, "up", None)


def _directional(img, sx, sy, size, method, params, direction: str, refine):
    # A learned method by name with its default options is built once per process and device.
    cached = not params and isinstance(method, str) and is_method(method)
    m = None if cached else get_method(method, **params)
    x, src = to_tensor(img, alpha=False)
    if m is None:
        m = load_method(method, x.device)
    if size is None:
        if sx is None:
            raise TypeError("give a factor (sx, sy) or size=(width, height)")
        fx = _check_scale(sx, "sx")
        fy = fx if sy is None else _check_scale(sy, "sy")
        if fx < 1 or fy < 1:
            raise ValueError(
                f"{direction}() takes factors >= 1 (e.g. 2 for {'half' if direction == 'down' else 'double'} size), "
                f"got {fx}, {fy}"
            )
        if direction == "down":
            fx, fy = 1 / fx, 1 / fy
        size = output_size(x.shape[-1], x.shape[-2], fx, fy)
    out_w, out_h = _target_size(x, None, None, size, None)
    unit = to_unit(x)
    if direction == "down":
        y = m.down(unit, (out_w, out_h))
        if refine is not None:
            y = get_refiner(refine)(m, unit, y, quantize=x.dtype == torch.uint8)
    else:
        if refine is not None:
            raise TypeError("refine applies to down() only")
        y = m.up(unit, (out_w, out_h))
    return from_tensor(from_unit(y.clamp(0, 1) if not x.dtype.is_floating_point else y, x.dtype), src)


def _target_size(x: torch.Tensor, sx, sy, size, max_pixels) -> tuple[int, int]:
    """Validated output (width, height) for input ``x``, checked against the pixel limit."""
    if size is None:
        out_w, out_h = output_size(x.shape[-1], x.shape[-2], sx, sy)
    else:
        out_w, out_h = _check_size(size)
    limit = MAX_OUTPUT_PIXELS if max_pixels is None else max_pixels
    if out_w * out_h > limit:
        raise ValueError(f"output of {out_w}x{out_h} pixels exceeds the limit of {limit} (max_pixels=)")
    if x.dtype.is_floating_point and not _all_finite(x):
        raise ValueError("image contains NaN or infinite values")
    return out_w, out_h


def _check_scale(s, name: str) -> float:
    if isinstance(s, bool) or not isinstance(s, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(s).__name__}")
    s = float(s)
    if not math.isfinite(s) or s <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {s}")
    return s


def _check_size(size) -> tuple[int, int]:
    try:
        w, h = size
    except (TypeError, ValueError):
        raise TypeError(f"size must be (width, height), got {size!r}") from None
    for v, name in ((w, "width"), (h, "height")):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"output {name} must be a positive integer, got {v!r}")
    return int(w), int(h)


def _all_finite(x: torch.Tensor) -> bool:
    return bool(torch.isfinite(x).all())
