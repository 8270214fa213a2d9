"""Adapters between the image types users pass in and what the resampling paths work on.

- PIL images and numpy arrays: :func:`to_array` gives an ``HxWxC`` numpy view (no copy for numpy)
  and a :class:`Source`; :func:`from_array` gives the result back as the same kind. No torch here:
  this path runs without it.
- torch tensors (and PIL / numpy on the torch backends): :func:`to_tensor` gives a 4-D tensor (a
  view whenever possible: numpy's HxWxC becomes a channels-last NCHW view, no copy) and
  :func:`from_tensor` the result back as the same kind. torch is imported only there.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field

__all__ = [
    "Source",
    "default_alpha",
    "check_unit_range",
    "PILLOW_ONLY_MODES",
    "check_pil_mode",
    "to_array",
    "from_array",
    "to_tensor",
    "from_tensor",
    "is_tensor",
    "is_pil",
    "to_unit",
    "from_unit",
    "PIL_MODES",
    "import_torch",
    "import_extra",
    "TORCH_EXTRA",
    "MissingExtra",
]

#: PIL modes resampled band by band (by Pillow's resize or the kernels, with the same bits): the numpy
#: dtype of their pixels and whether the last band is straight alpha (resampled premultiplied).
#: Premultiplied (La, RGBa) and padded (RGBX) modes, CMYK, YCbCr and HSV are resampled as Pillow
#: does, every band alike. Big-endian I;16B is resampled by value (Pillow's resize reads its bytes
#: as little-endian and garbles the values).
PIL_MODES = {
    "L": ("uint8", False),
    "LA": ("uint8", True),
    "RGB": ("uint8", False),
    "RGBA": ("uint8", True),
    "I;16": ("uint16", False),
    "I;16L": ("uint16", False),
    "I;16B": ("uint16", False),
    "I;16N": ("uint16", False),
    "F": ("float32", False),
    "CMYK": ("uint8", False),
    "YCbCr": ("uint8", False),
    "HSV": ("uint8", False),
    "RGBX": ("uint8", False),
    "La": ("uint8", False),
    "RGBa": ("uint8", False),
}
#: PIL modes only Pillow's own resize handles: palette and bilevel images (point-sampled whatever the
#: filter, keeping the palette), 32-bit integers and LAB (its a and b bands are signed) with Pillow's
#: arithmetic.
PILLOW_ONLY_MODES = ("P", "PA", "1", "I", "LAB")
#: Modes whose pixels ``Image.fromarray`` does not give back: rebuilt from raw bytes of this dtype.
_RAW_DTYPES = {"I;16": "<u2", "I;16L": "<u2", "I;16B": ">u2", "I;16N": "=u2"}
NUMPY_DTYPES = ("uint8", "uint16", "float32", "float64")
TENSOR_DTYPES = ("uint8", "uint16", "float16", "bfloat16", "float32", "float64")


class MissingExtra(ImportError):
    """A feature needs a package of an optional extra that is not installed; the message says which
    (e.g. ``pip install 'rescalekit[torch]'``)."""


#: Packages of the torch extra (``pip install 'rescalekit[torch]'``).
TORCH_EXTRA = ("torch", "torchvision", "triton", "safetensors", "scipy")


def import_extra(module: str, what: str):
    """Import ``module``; a missing package of the torch extra becomes :class:`MissingExtra`, which
    says that ``what`` needs it and how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in TORCH_EXTRA:
            raise
        raise MissingExtra(
            f"{what} needs {e.name}, which is not installed: pip install 'rescalekit[torch]'", name=e.name
        ) from None


def import_torch(what: str):
    """``torch``, or :class:`MissingExtra` saying that ``what`` needs the torch extra."""
    return import_extra("torch", what)


@dataclass(frozen=True)
class Source:
    """What the input was, so the output can be the same kind of thing."""

    kind: str  # "pil", "numpy" or "torch"
    ndim: int  # of the user's array/tensor (2 or 3 for numpy, 2 to 4 for torch)
    mode: str | None = None  # PIL mode
    has_alpha: bool = False  # the last channel is alpha (resampled premultiplied)
    moved: bool = False  # the user's channel axis is not ours (channel_axis=): moved back on the way out
    info: dict | None = field(default=None, compare=False)  # PIL metadata (ICC profile, dpi, ...), kept


def is_tensor(img) -> bool:
    """Whether ``img`` is a torch tensor (without importing torch: none exists before it is)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(img, torch.Tensor)


def check_pil_mode(img) -> tuple[str, bool]:
    """``(dtype name, has alpha)`` of a PIL image's pixels, or why its mode is not resampled here."""
    if img.mode not in PIL_MODES:
        if img.mode in PILLOW_ONLY_MODES:
            raise ValueError(f"PIL mode {img.mode!r} is resampled by Pillow's own resize only")
        raise ValueError(
            f"unsupported PIL mode {img.mode!r} (convert it first, e.g. img.convert('RGB')); supported: "
            f"{', '.join([*PIL_MODES, *PILLOW_ONLY_MODES])}"
        )
    _check_size((img.height, img.width))
    return PIL_MODES[img.mode]


def to_array(img, alpha: bool | None = None, channel_axis: int | None = None):
    """Return ``(arr, source)`` with ``arr`` a native-order numpy array of shape ``[H, W, C]``,
    for a PIL image or a numpy array (``HxW``, ``HxWxC``, or ``CxHxW`` with ``channel_axis=0``).

    ``alpha=None``: the mode says for PIL images (LA, RGBA); 8- and 16-bit numpy arrays with 2 or 4
    channels have alpha; float ones must say (:func:`default_alpha`).
    """
    import numpy as np

    if is_pil(img):
        if channel_axis is not None:
            raise TypeError("channel_axis= applies to numpy arrays and tensors, not PIL images")
        dtype, has_alpha = check_pil_mode(img)
        arr = np.asarray(img)
        if arr.dtype != dtype:  # e.g. big-endian storage
            arr = arr.astype(dtype)
        src = Source("pil", arr.ndim, img.mode, has_alpha if alpha is None else bool(alpha), info=dict(img.info))
    elif isinstance(img, np.ndarray):
        if img.dtype.name not in NUMPY_DTYPES:
            raise TypeError(f"unsupported numpy dtype {img.dtype}; supported: uint8, uint16, float32, float64")
        if img.ndim not in (2, 3):
            raise ValueError(f"numpy images are HxW or HxWxC, got shape {img.shape}")
        moved = _channels_moved(img.shape, channel_axis, "numpy")
        arr = np.moveaxis(img, 0, -1) if moved else img
        _check_size(arr.shape[:2])
        if arr.ndim == 3 and arr.shape[2] < 1:
            raise ValueError(f"image has no channels: shape {img.shape}")
        arr = arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))
        channels = arr.shape[2] if arr.ndim == 3 else 1
        has_alpha = default_alpha(alpha, channels, arr.dtype.kind == "f")
        src = Source("numpy", img.ndim, None, has_alpha, moved)
    elif is_tensor(img):
        raise TypeError("to_array takes PIL images and numpy arrays; tensors go through to_tensor")
    else:
        raise TypeError(f"expected a PIL image, numpy array or torch tensor, got {type(img).__name__}")
    return (arr[:, :, None] if arr.ndim == 2 else arr), src


def from_array(arr, src: Source):
    """Give ``arr`` (``[H, W, C]``, a fresh array) back as the kind described by ``src``."""
    import numpy as np

    if src.ndim == 2:
        arr = arr[:, :, 0]
    if src.kind == "numpy":
        return np.ascontiguousarray(np.moveaxis(arr, -1, 0)) if src.moved else arr
    from PIL import Image

    if src.mode in ("L", "LA", "RGB", "RGBA", "F"):
        out = Image.fromarray(arr)  # the mode follows from dtype and channel count, as it came in
    else:
        raw = np.ascontiguousarray(arr, dtype=_RAW_DTYPES.get(src.mode, arr.dtype))
        out = Image.frombytes(src.mode, (arr.shape[1], arr.shape[0]), raw.tobytes())
    out.info = dict(src.info or {})  # what Pillow's resize keeps: all of it (ICC profile, dpi, EXIF, ...)
    return out


def to_tensor(img, alpha: bool | None = None, channel_axis: int | None = None):
    """Return ``(x, source)`` with ``x`` of shape ``[N, C, H, W]``, for a tensor ``HxW``, ``CxHxW``
    or ``NxCxHxW`` (``HxWxC`` / ``NxHxWxC`` with ``channel_axis=-1``), a PIL image or numpy array.

    ``alpha=None``: as for numpy arrays (:func:`default_alpha`).
    """
    if not is_tensor(img):
        arr, src = to_array(img, alpha, channel_axis)
        torch = import_torch("this backend")
        import numpy as np

        with warnings.catch_warnings():  # torch warns on read-only arrays; nothing writes to the input
            warnings.simplefilter("ignore", UserWarning)
            # A flip along a length-1 axis leaves a negative stride in an array numpy calls contiguous.
            contiguous = np.ascontiguousarray(arr)
            t = torch.from_numpy(contiguous if min(contiguous.strides, default=0) >= 0 else contiguous.copy())
        return t.permute(2, 0, 1).unsqueeze(0), src

    import torch

    if str(img.dtype).removeprefix("torch.") not in TENSOR_DTYPES:
        raise TypeError(f"unsupported tensor dtype {img.dtype}; supported: {', '.join(TENSOR_DTYPES)}")
    if img.dim() not in (2, 3, 4):
        raise ValueError(f"tensors are HxW, CxHxW or NxCxHxW, got shape {tuple(img.shape)}")
    moved = _channels_moved(tuple(img.shape), channel_axis, "tensor")
    x = img.movedim(-1, -3) if moved else img
    _check_size(x.shape[-2:])
    if (x.dim() > 2 and x.shape[-3] < 1) or (x.dim() == 4 and x.shape[0] < 1):
        raise ValueError(f"empty tensor of shape {tuple(img.shape)}")
    x = x[None, None] if x.dim() == 2 else x[None] if x.dim() == 3 else x
    has_alpha = default_alpha(alpha, x.shape[1], x.dtype.is_floating_point)
    return x, Source("torch", img.dim(), None, has_alpha, moved)


def from_tensor(x, src: Source):
    """Give ``x`` (``[N, C, H, W]``) back as the kind described by ``src``."""
    if src.kind == "torch":
        y = x[0, 0] if src.ndim == 2 else x[0] if src.ndim == 3 else x
        return y.movedim(-3, -1) if src.moved else y
    arr = x[0].permute(1, 2, 0).detach().contiguous().numpy()  # HxWxC
    return from_array(arr, src)


def default_alpha(alpha: bool | None, channels: int, floating: bool) -> bool:
    """Whether the last channel is alpha: ``alpha`` when given; else, for 8- and 16-bit images
    (numpy arrays and tensors alike), whether there are 2 or 4 channels (grey or RGB + alpha). A
    float image with 2 or 4 channels may as well be data (features, flow, depth): it must say."""
    if alpha is not None:
        return bool(alpha)
    if channels not in (2, 4):
        return False
    if floating:
        raise ValueError(
            f"a float image with {channels} channels may be {'grey' if channels == 2 else 'RGB'} + alpha or "
            f"{channels} channels of data: pass alpha=True (the last channel is alpha: colours resampled "
            "premultiplied, as Pillow does) or alpha=False (every channel resampled on its own)"
        )
    return True


def _channels_moved(shape: tuple, channel_axis: int | None, kind: str) -> bool:
    """Whether the channels are to be moved to our axis (numpy: last, tensors: third from last).
    ``channel_axis=None`` reads the image in our layout, refusing shapes that look like the other
    one: a channel axis over 4 long where the other candidate is at most 4 and the image is wider."""
    ndim = len(shape)
    if kind == "numpy":
        ours, theirs, theirs_name, ours_name = -1, 0, "CxHxW", "HxWxC"
        if channel_axis is not None and ndim != 3:
            raise ValueError(f"channel_axis= needs an HxWxC or CxHxW array, got shape {shape}")
    else:
        ours, theirs, theirs_name, ours_name = -3, -1, "HxWxC", "CxHxW"
        if channel_axis is not None and ndim < 3:
            raise ValueError(f"channel_axis= needs a tensor with channels, got shape {shape}")
    if channel_axis is not None:
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, int) or not -ndim <= channel_axis < ndim:
            raise ValueError(f"channel_axis must be an axis of the shape {shape}, got {channel_axis!r}")
        axis = channel_axis % ndim
        if axis == ours % ndim:
            return False
        if axis == theirs % ndim:
            return True
        raise ValueError(
            f"channel_axis={channel_axis} of shape {shape}: the channels are the last axis ({ndim - 1}) or the "
            f"one before height and width ({ndim - 3})"
        )
    if ndim < 3:
        return False
    c, other, middle = shape[ours], shape[theirs], shape[-2]
    if c > 4 and other <= 4 and middle > 4:
        fix = (
            "arr.transpose(1, 2, 0)"
            if kind == "numpy"
            else ("x.permute(2, 0, 1)" if ndim == 3 else "x.permute(0, 3, 1, 2)")
        )
        what = "numpy array" if kind == "numpy" else "tensor"
        raise ValueError(
            f"{what} of shape {shape} looks {theirs_name}, but {what}s here are {ours_name}: it would be read as "
            f"{c} channels. Pass channel_axis={theirs} (the result keeps that layout) or {fix}; if it really is "
            f"{ours_name}, pass channel_axis={ours}"
        )
    return False


def is_pil(img) -> bool:
    """Whether ``img`` is a PIL image (without importing PIL)."""
    image = sys.modules.get("PIL.Image")  # a PIL image exists only once PIL.Image is imported
    return image is not None and isinstance(img, image.Image)


def _check_size(hw) -> None:
    h, w = int(hw[0]), int(hw[1])
    if h < 1 or w < 1:
        raise ValueError(f"empty image: {w}x{h} pixels")


def check_unit_range(x, what: str) -> None:
    """Refuse float pixels that are clearly not in ``[0, 1]`` (0-255 values, ImageNet-normalised
    values) before ``what`` (a learned method, which assumes ``[0, 1]``) misreads them."""
    if not x.dtype.is_floating_point:
        return
    lo, hi = (float(v) for v in x.aminmax())
    if lo < -0.5 or hi > 1.5:
        hint = (
            "undo the normalisation (x * std + mean) first"
            if lo < -0.5
            else "img / 255 (and multiply the result by 255), or pass uint8"
        )
        raise ValueError(
            f"{what} takes float images in [0, 1] (uint8 / 255), got values in [{lo:.4g}, {hi:.4g}]: pass {hint}"
        )


def to_unit(x):
    """Pixels as float32 in ``[0, 1]`` (uint8 / 255, uint16 / 65535; floats are taken as they are)."""
    import torch

    if x.dtype == torch.uint8:
        return x.float() / 255
    if x.dtype == torch.uint16:
        return x.to(torch.float32) / 65535
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def from_unit(y, dtype):
    """Inverse of :func:`to_unit`: integer types are rounded and clamped, exactly as saved."""
    import torch

    if dtype == torch.uint8:
        return (y * 255).round_().clamp_(0, 255).to(torch.uint8)
    if dtype == torch.uint16:
        return (y * 65535).round_().clamp_(0, 65535).to(torch.int32).to(torch.uint16)
    return y.to(dtype)
