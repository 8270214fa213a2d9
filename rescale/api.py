"""``rescale()``: one call for every image type, scale and classical filter.

PIL images and numpy arrays take a path without torch: Pillow's own resize or the CPU kernels,
whichever is faster for the job while giving the same bits (:mod:`rescale.fastpath`). Tensors,
learned methods and the ``torch`` / ``triton`` backends take the tensor path (``resample.py``),
which imports torch.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, TypeVar, cast

from . import fastpath
from .containers import (
    check_pil_mode,
    from_array,
    from_tensor,
    from_unit,
    import_torch,
    is_pil,
    is_tensor,
    to_array,
    to_tensor,
    to_unit,
)
from .filters import EDGES, Filter, get_filter
from .methods import get_method, get_refiner, is_method, load_method

if TYPE_CHECKING:
    import numpy as np
    import torch
    from PIL import Image

    from .methods import Method
    from .transfer import Curve

__all__ = ["rescale", "down", "up", "output_size", "MAX_OUTPUT_PIXELS", "MAX_OUTPUT_BYTES", "BACKENDS", "ImageT"]

#: A PIL image, a numpy array or a torch tensor: each function returns the kind it was given.
ImageT = TypeVar("ImageT", "Image.Image", "np.ndarray", "torch.Tensor")

#: Largest output (width x height, per image) ``rescale`` produces unless told otherwise.
MAX_OUTPUT_PIXELS = 1 << 28
#: Most memory (output and intermediates, all images and channels) a call may allocate unless told
#: otherwise: 4 GiB.
MAX_OUTPUT_BYTES = 1 << 32

#: ``backend=`` values: "pillow" is Pillow's own resize (PIL images and numpy arrays, where it gives
#: the same bits), "cpu" the CPU kernels, "auto" the faster of the two or Triton on CUDA.
BACKENDS = ("auto", "cpu", "pillow", "torch", "triton")

_ITEMSIZE = {"uint8": 1, "uint16": 2, "float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}


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
    max_pixels: float | None = None,
    max_bytes: float | None = None,
    linear: bool | Curve | bytes = False,
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
        backend: ``"auto"`` (PIL images and numpy arrays: Pillow's resize or the CPU kernels, the
            faster for the job, same bits; tensors: Triton on CUDA, the CPU kernels on CPU),
            ``"cpu"``, ``"pillow"`` (only where Pillow gives the same bits), ``"torch"``
            (reference gathers) or ``"triton"``.
        alpha: whether the last channel is alpha, resampled premultiplied. ``None``: yes for PIL
            LA/RGBA and numpy arrays with 2 or 4 channels, no for tensors.
        max_pixels: refuse outputs larger than this many pixels per image (default
            :data:`MAX_OUTPUT_PIXELS`; ``math.inf``: no limit).
        max_bytes: refuse calls that would allocate more than this many bytes for the output and
            its intermediates, all images and channels together (default :data:`MAX_OUTPUT_BYTES`;
            ``math.inf``: no limit).
        linear: resample in linear light (:mod:`rescale.linear`): ``True`` decodes sRGB, or the
            transfer curve of a PIL image's ICC profile; or give a :class:`rescale.transfer.Curve`
            or an ICC profile's bytes. Alpha is premultiplied in linear light. Not Pillow-exact.
        params: options of a learned method (e.g. ``weights=`` for ``method="muller"``).

    Differentiable with respect to float tensors on every backend. Without torch installed, PIL
    images and numpy arrays work with every filter; tensors and learned methods need
    ``pip install 'rescalekit[torch]'``.

    >>> import numpy as np
    >>> rescale(np.zeros((480, 640, 3), np.uint8), 0.5).shape
    (240, 320, 3)
    """
    if size is None:
        if sx is None:
            raise TypeError("give a scale (sx, sy) or size=(width, height)")
    elif sx is not None or sy is not None:
        raise TypeError("give either a scale (sx, sy) or size=(width, height), not both")
    if edge not in EDGES:
        raise ValueError(f"unknown edge mode {edge!r}; expected one of {EDGES}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    if type(antialias).__name__ not in ("bool", "bool_"):  # "no" would be taken as true
        raise TypeError(f"antialias must be True or False, got {antialias!r}")
    limits = _limit(max_pixels, "max_pixels", MAX_OUTPUT_PIXELS), _limit(max_bytes, "max_bytes", MAX_OUTPUT_BYTES)
    if linear is not False and is_method(method):
        raise TypeError(f"linear= is for the classical filters, not method {getattr(method, 'name', method)!r}")
    if linear is not False and backend == "pillow":
        raise ValueError("backend 'pillow' has no linear light; use backend='auto' or 'cpu' with linear=")
    if is_method(method):  # a learned method: downscaling runs its down direction, else its up
        import_torch(f"method {getattr(method, 'name', method)!r}")
        x, _ = to_tensor(img, alpha)
        out_w, out_h = _target_size(x.shape[-1], x.shape[-2], sx, sy, size, limits[0])
        shrink = out_w * out_h < x.shape[-1] * x.shape[-2]
        return (down if shrink else up)(img, size=(out_w, out_h), method=method, **params)
    if params:
        raise TypeError(
            f"unexpected options {sorted(params)} for filter {method!r} (only learned methods take options)"
        )
    filt = get_filter(cast("str | Filter", method))  # a Method went down() / up() above
    if is_tensor(img) or backend in ("torch", "triton"):
        return _rescale_tensor(img, sx, sy, size, filt, antialias, edge, backend, alpha, limits, linear)
    return _rescale_image(img, sx, sy, size, filt, antialias, edge, backend, alpha, limits, linear)


def _rescale_image(img, sx, sy, size, filt: Filter, antialias, edge, backend, alpha, limits, linear=False):
    """PIL images and numpy arrays, without torch: Pillow's resize or the CPU kernels."""
    pil = is_pil(img)
    if pil:  # the PIL image itself goes to Pillow: no numpy, no copy
        dtype, has_alpha = check_pil_mode(img)
        has_alpha = has_alpha if alpha is None else bool(alpha)
        (w, h), c, arr = img.size, len(img.getbands()), None
    else:
        arr, src = to_array(img, alpha)
        (h, w, c), dtype, has_alpha = arr.shape, arr.dtype.name, src.has_alpha
    out_w, out_h = _target_size(w, h, sx, sy, size, limits[0])
    use_alpha = has_alpha and c > 1 and not filt.nearest
    work = "float64" if use_alpha and dtype == "uint16" else dtype  # 16-bit alpha: premultiplied in float64
    _check_bytes(1, c, (w, h), (out_w, out_h), dtype, work, use_alpha, limits[1])
    if dtype.startswith("float"):
        if arr is None:
            arr, src = to_array(img, alpha)
        if not _all_finite(arr):
            raise ValueError("image contains NaN or infinite values")
    if linear is not False and (curves := _linear_curves(linear, img, c, has_alpha, filt, (w, h) == (out_w, out_h))):
        from .linear import resample_linear_array  # linear light: the kernels only (Pillow has no such mode)

        if arr is None:
            arr, src = to_array(img, alpha)
        kw = dict(antialias=antialias, edge=edge, has_alpha=src.has_alpha)
        return from_array(resample_linear_array(arr, out_h, out_w, filt, curves, **kw), src)

    code = mode = None
    if backend != "cpu":
        code = fastpath.pillow_filter(filt, dtype, antialias, edge, shrinks=out_w < w or out_h < h)
        mode = fastpath.pillow_mode(dtype, c, has_alpha)
        if pil and mode != img.mode:
            mode = None
        if backend == "pillow" and (code is None or mode is None):
            raise ValueError(
                "backend 'pillow' gives our bits only for 8-bit L/LA/RGB/RGBA and 16-bit grey images with "
                "Pillow's filters (nearest, box, bilinear, hamming, bicubic, lanczos), antialias=True and "
                "edge='renormalize', on Pillow 13 or newer; use backend='auto' or 'cpu'"
            )
    exact = code is not None and mode is not None
    if exact and (backend == "pillow" or fastpath.choose(fastpath.work(w, h, out_w, out_h, c, filt)) == "pillow"):
        if pil:
            return img.resize((out_w, out_h), code)
        import numpy as np
        from PIL import Image

        out = Image.fromarray(arr[:, :, 0] if c == 1 else arr).resize((out_w, out_h), code)
        return np.array(out).reshape((out_h, out_w) if img.ndim == 2 else (out_h, out_w, c))

    from .arrays import resample_array

    if arr is None:
        arr, src = to_array(img, alpha)
    y = resample_array(arr, out_h, out_w, filt, antialias=antialias, edge=edge, has_alpha=src.has_alpha)
    return from_array(y, src)


def _rescale_tensor(img, sx, sy, size, filt: Filter, antialias, edge, backend, alpha, limits, linear=False):
    """Tensors, and PIL images / numpy arrays on the torch or triton backend."""
    torch = import_torch(f"backend {backend!r}" if not is_tensor(img) else "a tensor")
    from .alpha import premultiply, unpremultiply
    from .resample import resample

    x, src = to_tensor(img, alpha)
    n, c, in_h, in_w = x.shape
    out_w, out_h = _target_size(in_w, in_h, sx, sy, size, limits[0])
    # Same size: no pass runs, so skip the (lossy for uint8) premultiply round trip, as Pillow does.
    same_size = (out_h, out_w) == (in_h, in_w)
    use_alpha = src.has_alpha and not filt.nearest and c > 1 and not same_size
    # 16-bit with alpha has no Pillow counterpart: premultiply in float64, round back at the end.
    wide = use_alpha and x.dtype == torch.uint16
    dtype = str(x.dtype).removeprefix("torch.")
    work = "float64" if wide else "float32" if dtype in ("float16", "bfloat16") else dtype
    _check_bytes(n, c, (in_w, in_h), (out_w, out_h), dtype, work, use_alpha, limits[1])
    if x.dtype.is_floating_point and not bool(torch.isfinite(x).all()):
        raise ValueError("image contains NaN or infinite values")
    if linear is not False and (curves := _linear_curves(linear, img, c, src.has_alpha, filt, same_size)):
        from .linear import resample_linear_tensor

        kw = dict(antialias=antialias, edge=edge, backend=backend, has_alpha=src.has_alpha)
        return from_tensor(resample_linear_tensor(x, out_h, out_w, filt, curves, **kw), src)
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
    torch = import_torch(f"method {getattr(method, 'name', method)!r}")
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
    out_w, out_h = _target_size(x.shape[-1], x.shape[-2], None, None, size, MAX_OUTPUT_PIXELS)
    # The network's own activations are not counted: the float32 output, per image and channel.
    _check_bytes(x.shape[0], x.shape[1], (x.shape[-1], x.shape[-2]), (out_w, out_h), "float32", "float32", False, None)
    if x.dtype.is_floating_point and not bool(torch.isfinite(x).all()):
        raise ValueError("image contains NaN or infinite values")
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


def _linear_curves(linear, img, channels: int, has_alpha: bool, filt: Filter, same_size: bool):
    from .linear import curves_for  # numpy: only when asked for

    return curves_for(linear, img, channels, has_alpha, filt, same_size)


def _target_size(in_w: int, in_h: int, sx, sy, size, max_pixels: float) -> tuple[int, int]:
    """Validated output (width, height) for an input of ``in_w x in_h``, checked against the pixel
    limit."""
    if size is None:
        out_w, out_h = output_size(in_w, in_h, sx, sy)
    else:
        out_w, out_h = _check_size(size)
    if out_w * out_h > max_pixels:
        raise ValueError(
            f"output of {out_w}x{out_h} pixels exceeds the limit of {max_pixels:.0f} pixels per image "
            "(raise it with max_pixels=, e.g. max_pixels=math.inf)"
        )
    return out_w, out_h


def _check_bytes(n, c, in_size, out_size, dtype: str, work: str, alpha: bool, max_bytes: float | None) -> None:
    """Refuse a call whose output and intermediates, for ``n`` images of ``c`` channels, would take
    more than ``max_bytes``: the output in ``dtype``, the intermediate image between the two passes
    in ``work`` (the compute type), and the premultiplied copy of the input with ``alpha``."""
    (w, h), (out_w, out_h) = in_size, out_size
    limit = MAX_OUTPUT_BYTES if max_bytes is None else max_bytes
    per_channel = out_w * out_h * _ITEMSIZE[dtype] + max(out_w * h, w * out_h) * _ITEMSIZE[work]
    if alpha:
        per_channel += w * h * _ITEMSIZE[work]
    need = n * c * per_channel
    if need > limit:
        images = f" x {n} images" if n > 1 else ""
        raise ValueError(
            f"output of {out_w}x{out_h} pixels x {c} channels{images} ({dtype}) needs about {_gib(need)} with its "
            f"intermediates, which exceeds the limit of {_gib(limit)} (raise it with max_bytes=, e.g. "
            "max_bytes=math.inf)"
        )


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _limit(value, name: str, default: int) -> float:
    """A ``max_pixels`` / ``max_bytes`` argument as a number: ``None`` is the default, ``math.inf``
    no limit; NaN, zero, negative values and non-numbers are refused."""
    if value is None:
        return float(default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number (or None for the default, {default}), got {type(value).__name__}")
    if math.isnan(value) or value <= 0:
        raise ValueError(f"{name} must be positive (math.inf for no limit), got {value!r}")
    return float(value)


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


def _all_finite(arr) -> bool:
    import numpy as np

    return bool(np.isfinite(arr).all())
