"""``rescale()``: one call for every image type, scale and classical filter.

PIL images and numpy arrays take a path without torch: Pillow's own resize or the CPU kernels,
whichever is faster for the job while giving the same bits (:mod:`rescale.fastpath`). Tensors,
learned methods and the ``torch`` / ``triton`` backends take the tensor path (``resample.py``),
which imports torch.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import TYPE_CHECKING, Any, TypeVar, cast

from . import fastpath
from .containers import (
    PILLOW_ONLY_MODES,
    check_pil_mode,
    check_unit_range,
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
from .sizes import check_box, directional_scale, output_size, target_size

if TYPE_CHECKING:
    import numpy as np
    import torch
    from PIL import Image

    from .methods import Method

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


def rescale(
    img: ImageT,
    sx: float | None = None,
    sy: float | None = None,
    *,
    size: tuple[int, int] | None = None,
    width: int | None = None,
    height: int | None = None,
    box: tuple[float, float, float, float] | None = None,
    method: str | int | Filter | Method = "bicubic",
    antialias: bool = True,
    edge: str = "renormalize",
    backend: str = "auto",
    alpha: bool | None = None,
    channel_axis: int | None = None,
    max_pixels: float | None = None,
    max_bytes: float | None = None,
    **params: Any,
) -> ImageT:
    """Rescale an image by ``sx`` horizontally and ``sy`` vertically (``sy`` defaults to ``sx``).

    Args:
        img: a PIL image (L, LA, RGB, RGBA, I;16, F, and every mode Pillow resizes: P, 1, I, CMYK,
            ...), a numpy array HxW or HxWxC (uint8, uint16, float32, float64) or a torch tensor
            HxW, CxHxW or NxCxHxW (uint8, uint16, float16, bfloat16, float32, float64) on any
            device. The result is of the same kind, mode, dtype, layout and device; PIL results
            keep ``img.info`` (ICC profile, dpi, ...), as Pillow's ``resize`` does.
        sx, sy: positive finite scales, output / input size (``sy`` defaults to ``sx``); the output
            is ``max(1, floor(in * s + 0.5))`` pixels per axis (:func:`output_size`). Or give
        size: ``(width, height)`` of the output, in Pillow's order (not torch's), or
        width, height: the output width and/or height; one alone keeps the aspect ratio.
        box: ``(left, top, right, bottom)``, the region of ``img`` to resample (floats, as Pillow's
            ``Image.resize(size, box=...)``); a scale or a lone width / height applies to it.
        method: a registered filter name (``rescale.filters.available()``), one of Pillow's
            constants (``Image.Resampling.LANCZOS``), a :class:`rescale.filters.Filter` (e.g.
            ``rescale.filters.bicubic(a=-0.75)``) or a learned method's name.
        antialias: widen the filter by ``1/s`` when downscaling (Pillow); ``False`` interpolates
            without prefiltering (torch / OpenCV).
        edge: taps past the border are dropped and the rest renormalised (``"renormalize"``,
            Pillow), mirrored (``"symmetric"``, MATLAB ``imresize``) or clamped (``"clamp"``,
            OpenCV's replicate).
        backend: ``"auto"`` (PIL images and numpy arrays: Pillow's resize or the CPU kernels, the
            faster for the job, same bits; tensors: Triton on CUDA, the CPU kernels on CPU),
            ``"cpu"``, ``"pillow"`` (only where Pillow gives the same bits), ``"torch"``
            (reference gathers) or ``"triton"``.
        alpha: whether the last channel is alpha, resampled premultiplied. ``None``: the PIL mode
            says (LA, RGBA); 8- and 16-bit numpy arrays and tensors with 2 or 4 channels have alpha;
            float ones with 2 or 4 channels must say (they may be data: refused rather than guessed).
        channel_axis: where the channels are, when not in the default layout (numpy HxWxC, tensors
            CxHxW): ``0`` for a CxHxW numpy array, ``-1`` for an HxWxC / NxHxWxC tensor. The
            result has the same layout. Shapes that look like the other layout are refused
            without it.
        max_pixels: refuse outputs larger than this many pixels per image (default
            :data:`MAX_OUTPUT_PIXELS`; ``math.inf``: no limit).
        max_bytes: refuse calls that would allocate more than this many bytes for the output and
            its intermediates, all images and channels together (default :data:`MAX_OUTPUT_BYTES`;
            ``math.inf``: no limit).
        params: options of a learned method (e.g. ``weights=`` for ``method="muller"``).

    Differentiable with respect to float tensors on every backend. Without torch installed, PIL
    images and numpy arrays work with every filter; tensors and learned methods need
    ``pip install 'rescalekit[torch]'``. The conventions (sizes, layouts, value ranges, alpha,
    metadata): ``docs/conventions.md``.

    >>> import numpy as np
    >>> rescale(np.zeros((480, 640, 3), np.uint8), 0.5).shape
    (240, 320, 3)
    >>> rescale(np.zeros((480, 640, 3), np.uint8), width=100).shape
    (75, 100, 3)
    """
    want = {"sx": sx, "sy": sy, "size": size, "width": width, "height": height}
    target_size(1, 1, **want)  # which of them were given, before any work
    if edge not in EDGES:
        raise ValueError(f"unknown edge mode {edge!r}; expected one of {EDGES}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    if type(antialias).__name__ not in ("bool", "bool_"):  # "no" would be taken as true
        raise TypeError(f"antialias must be True or False, got {antialias!r}")
    limits = _limit(max_pixels, "max_pixels", MAX_OUTPUT_PIXELS), _limit(max_bytes, "max_bytes", MAX_OUTPUT_BYTES)
    if is_method(method):  # a learned method: downscaling runs its down direction, else its up
        if box is not None:
            raise TypeError(f"box= applies to filters; for method {getattr(method, 'name', method)!r}, crop first")
        import_torch(f"method {getattr(method, 'name', method)!r}")
        x, _ = to_tensor(img, False, channel_axis)  # for its size: down() / up() read the image
        out_w, out_h = _target_size(x.shape[-1], x.shape[-2], want, None, limits[0])
        shrink = out_w * out_h < x.shape[-1] * x.shape[-2]
        return (down if shrink else up)(img, size=(out_w, out_h), method=method, channel_axis=channel_axis, **params)
    if params:
        raise TypeError(
            f"unexpected options {sorted(params)} for filter {method!r} (only learned methods take options)"
        )
    filt = get_filter(cast("str | int | Filter", method))  # a Method went down() / up() above
    if is_pil(img) and img.mode in PILLOW_ONLY_MODES:
        return _rescale_pillow_only(img, want, box, filt, antialias, edge, backend, alpha, limits)
    if is_tensor(img) or backend in ("torch", "triton"):
        return _rescale_tensor(img, want, box, filt, antialias, edge, backend, alpha, channel_axis, limits)
    return _rescale_image(img, want, box, filt, antialias, edge, backend, alpha, channel_axis, limits)


def _rescale_image(img, want, box, filt: Filter, antialias, edge, backend, alpha, channel_axis, limits):
    """PIL images and numpy arrays, without torch: Pillow's resize or the CPU kernels."""
    pil = is_pil(img)
    if pil:  # the PIL image itself goes to Pillow: no numpy, no copy
        dtype, mode_alpha = check_pil_mode(img)
        has_alpha = mode_alpha if alpha is None else bool(alpha)
        (w, h), c, arr = img.size, len(img.getbands()), None
        if channel_axis is not None:
            raise TypeError("channel_axis= applies to numpy arrays and tensors, not PIL images")
    else:
        arr, src = to_array(img, alpha, channel_axis)
        (h, w, c), dtype, has_alpha = arr.shape, arr.dtype.name, src.has_alpha
    box = check_box(box, w, h)
    out_w, out_h = _target_size(w, h, want, box, limits[0])
    use_alpha = has_alpha and c > 1 and not filt.nearest
    work = "float64" if use_alpha and dtype == "uint16" else dtype  # 16-bit alpha: premultiplied in float64
    _check_bytes(1, c, (w, h), (out_w, out_h), dtype, work, use_alpha, limits[1])
    if dtype.startswith("float"):
        if arr is None:
            arr, src = to_array(img, alpha)
        if not _all_finite(arr):
            raise ValueError("image contains NaN or infinite values")

    code = mode = None
    if backend != "cpu":
        code = fastpath.pillow_filter(filt, dtype, antialias, edge, shrinks=out_w < w or out_h < h)
        if pil:  # Pillow resizes the image's own mode band by band, premultiplying LA and RGBA only;
            # it reads I;16B's bytes as little-endian, so those go to the kernels (by value).
            same = dtype != "float32" and has_alpha == mode_alpha and img.mode != "I;16B"
            mode = img.mode if same else None
        else:
            mode = fastpath.pillow_mode(dtype, c, has_alpha)
        if backend == "pillow" and (code is None or mode is None):
            raise ValueError(
                "backend 'pillow' gives our bits only for 8- and 16-bit images (alpha premultiplied) with "
                "Pillow's filters (nearest, box, bilinear, hamming, bicubic, lanczos, mks2013, mks2021), "
                "antialias=True and edge='renormalize', on Pillow 13 or newer; use backend='auto' or 'cpu'"
            )
    exact = code is not None and mode is not None
    if exact and (backend == "pillow" or fastpath.choose(fastpath.work(w, h, out_w, out_h, c, filt)) == "pillow"):
        if pil:
            return img.resize((out_w, out_h), code, box=box)
        import numpy as np
        from PIL import Image

        out = Image.fromarray(arr[:, :, 0] if c == 1 else arr).resize((out_w, out_h), code, box=box)
        return from_array(np.array(out).reshape(out_h, out_w, c), src)

    from .arrays import resample_array

    if arr is None:
        arr, src = to_array(img, alpha)
    y = resample_array(arr, out_h, out_w, filt, antialias=antialias, edge=edge, has_alpha=src.has_alpha, box=box)
    return from_array(y, src)


def _rescale_pillow_only(img, want, box, filt: Filter, antialias, edge, backend, alpha, limits):
    """PIL modes that only Pillow's resize takes: P, PA and 1 point-sampled, keeping the palette
    (indices cannot be blended); I (32-bit) and LAB (signed a, b) with Pillow's arithmetic."""
    mode, (w, h) = img.mode, img.size
    fix = {"I": "img.convert('F')", "PA": "img.convert('RGBA')", "1": "img.convert('L')", "P": "img.convert('RGB')"}
    if backend not in ("auto", "pillow"):
        raise ValueError(
            f"PIL mode {mode!r} is resampled by Pillow's own resize: use backend 'auto' or 'pillow'"
            + (f", or convert it first for backend {backend!r}: {fix[mode]}" if mode in fix else "")
        )
    box = check_box(box, w, h)
    out_w, out_h = _target_size(w, h, want, box, limits[0])
    itemsize = "float64" if mode == "I" else "uint8"  # int32 pixels, as 8 bytes per value at most
    _check_bytes(1, len(img.getbands()), (w, h), (out_w, out_h), itemsize, itemsize, False, limits[1])
    if mode in ("I", "LAB"):
        code = fastpath.pillow_filter(filt, "int32", antialias, edge, shrinks=out_w < w or out_h < h)
        if code is None:
            raise ValueError(
                f"PIL mode {mode!r} is resampled by Pillow's resize only: Pillow's filters, antialias=True and "
                f"edge='renormalize'; for {filt.name!r} with these options, "
                + (f"convert it first: {fix[mode]}" if mode in fix else "resample its bands as an array")
            )
    else:
        code = 0  # Image.Resampling.NEAREST
        if not filt.nearest:
            what = "bilevel pixels" if mode == "1" else "palette indices"
            pillow = "as Pillow's resize does" if mode != "PA" else "where Pillow's resize would blend them"
            warnings.warn(
                f"PIL mode {mode!r} is resampled with 'nearest', {pillow} ({what} cannot be blended); to "
                f"resample it with {filt.name!r}, convert it first: {fix[mode]}",
                stacklevel=3,
            )
    return img.resize((out_w, out_h), code, box=box)


def _rescale_tensor(img, want, box, filt: Filter, antialias, edge, backend, alpha, channel_axis, limits):
    """Tensors, and PIL images / numpy arrays on the torch or triton backend."""
    torch = import_torch(f"backend {backend!r}" if not is_tensor(img) else "a tensor")
    from .alpha import premultiply, unpremultiply
    from .resample import resample

    x, src = to_tensor(img, alpha, channel_axis)
    n, c, in_h, in_w = x.shape
    box = check_box(box, in_w, in_h)
    out_w, out_h = _target_size(in_w, in_h, want, box, limits[0])
    # Same size: no pass runs, so skip the (lossy for uint8) premultiply round trip, as Pillow does.
    same_size = (out_h, out_w) == (in_h, in_w) and box is None
    use_alpha = src.has_alpha and not filt.nearest and c > 1 and not same_size
    # 16-bit with alpha has no Pillow counterpart: premultiply in float64, round back at the end.
    wide = use_alpha and x.dtype == torch.uint16
    dtype = str(x.dtype).removeprefix("torch.")
    work = "float64" if wide else "float32" if dtype in ("float16", "bfloat16") else dtype
    _check_bytes(n, c, (in_w, in_h), (out_w, out_h), dtype, work, use_alpha, limits[1])
    if x.dtype.is_floating_point and not bool(torch.isfinite(x).all()):
        raise ValueError("image contains NaN or infinite values")
    if wide:
        x = x.to(torch.float64)
    if use_alpha:
        x = premultiply(x)
    y = resample(x, out_h, out_w, filt, antialias=antialias, edge=edge, backend=backend, box=box)
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
    width: int | None = None,
    height: int | None = None,
    method: str | int | Filter | Method = "irn",
    refine: str | None = None,
    channel_axis: int | None = None,
    **params: Any,
) -> ImageT:
    """Downscale with a method's learned (or classical) down direction.

    ``sx``, ``sy``: the reduction factor (``down(img, 2)`` halves the image, as papers write x2)
    or the scale itself (``down(img, 0.5)`` halves it too, as ``rescale(img, 0.5)``); or give
    ``size=(width, height)``, or ``width=`` / ``height=`` (one alone keeps the aspect ratio).
    Returns the same kind as ``img``. A learned method's 8-bit outputs are quantised exactly as
    they will be saved; its float inputs are in [0, 1] (others are refused). A filter (a name,
    a Pillow constant, a :class:`~rescale.filters.Filter`) gives :func:`rescale`'s result:
    ``down(img, 2, method="lanczos")`` is ``rescale(img, 0.5, method="lanczos")``, Pillow-exact on
    8 bits, alpha as there. ``refine="hcd"`` optimises the low-resolution image for the method's
    own upscaler (invertible methods only). ``channel_axis`` as in :func:`rescale`.

    >>> import numpy as np
    >>> down(np.zeros((480, 640, 3), np.uint8), 2, method="bicubic").shape
    (240, 320, 3)
    >>> down(np.zeros((480, 640, 3), np.uint8), 0.5, method="bicubic").shape  # the same
    (240, 320, 3)
    """
    want = {"sx": sx, "sy": sy, "size": size, "width": width, "height": height}
    return _directional(img, want, method, params, "down", refine, channel_axis)


def up(
    lr: ImageT,
    sx: float | None = None,
    sy: float | None = None,
    *,
    size: tuple[int, int] | None = None,
    width: int | None = None,
    height: int | None = None,
    method: str | int | Filter | Method = "irn",
    channel_axis: int | None = None,
    **params: Any,
) -> ImageT:
    """Upscale with a method's learned (or classical) up direction. ``sx``, ``sy`` are enlargement
    factors (>= 1), or give ``size=(width, height)`` (e.g. the original size), or ``width=`` /
    ``height=``. As :func:`down` otherwise."""
    want = {"sx": sx, "sy": sy, "size": size, "width": width, "height": height}
    return _directional(lr, want, method, params, "up", None, channel_axis)


def _directional(img, want: dict, method, params, direction: str, refine, channel_axis):
    name = getattr(method, "name", method)
    target_size(1, 1, **want)  # which of them were given, before any work
    if want["sx"] is not None:
        want["sx"], want["sy"] = directional_scale(want["sx"], want["sy"], direction)
    if refine is None and not is_method(method):  # a filter: rescale()'s result, Pillow-exact on 8 bits
        return rescale(img, **want, method=method, channel_axis=channel_axis, **params)
    # A learned method by name with its default options is built once per process and device.
    torch = import_torch(f"method {name!r}")
    cached = not params and isinstance(method, str) and is_method(method)
    m = None if cached else get_method(method, **params)
    x, src = to_tensor(img, False, channel_axis)
    if m is None:
        m = load_method(method, x.device)
    out_w, out_h = _target_size(x.shape[-1], x.shape[-2], want, None, MAX_OUTPUT_PIXELS)
    # The network's own activations are not counted: the float32 output, per image and channel.
    _check_bytes(x.shape[0], x.shape[1], (x.shape[-1], x.shape[-2]), (out_w, out_h), "float32", "float32", False, None)
    if x.dtype.is_floating_point and not bool(torch.isfinite(x).all()):
        raise ValueError("image contains NaN or infinite values")
    if m.kind != "classical":  # filters are linear in any range; networks assume [0, 1]
        check_unit_range(x, f"method {name!r}")
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


def _target_size(in_w: int, in_h: int, want: dict, box, max_pixels: float) -> tuple[int, int]:
    """Validated output (width, height) for an input of ``in_w x in_h`` (or its ``box``), given
    ``want`` (sx, sy, size, width, height: :func:`rescale.sizes.target_size`), checked against the
    pixel limit."""
    out_w, out_h = target_size(in_w, in_h, **want, box=box)
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


def _all_finite(arr) -> bool:
    import numpy as np

    return bool(np.isfinite(arr).all())
