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
from dataclasses import dataclass

__all__ = [
    "Source",
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

#: PIL modes we resample, with the numpy dtype name of their pixels and whether the last band is alpha.
PIL_MODES = {
    "L": ("uint8", False),
    "LA": ("uint8", True),
    "RGB": ("uint8", False),
    "RGBA": ("uint8", True),
    "I;16": ("uint16", False),
    "F": ("float32", False),
}
NUMPY_DTYPES = ("uint8", "uint16", "float32", "float64")
_CONVERTIBLE = ("P", "1", "CMYK", "YCbCr", "LAB", "HSV", "PA", "La", "RGBa", "RGBX")


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
    ndim: int  # of the user's array/tensor (2 or 3 for numpy, 3 or 4 for torch)
    mode: str | None = None  # PIL mode
    has_alpha: bool = False  # the last channel is alpha (resampled premultiplied)


def is_tensor(img) -> bool:
    """Whether ``img`` is a torch tensor (without importing torch: none exists before it is)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(img, torch.Tensor)


def check_pil_mode(img) -> tuple[str, bool]:
    """``(dtype name, has alpha)`` of a PIL image's pixels, or why its mode is not resampled."""
    if img.mode not in PIL_MODES:
        hint = " (convert it first, e.g. img.convert('RGB'))" if img.mode in _CONVERTIBLE else ""
        raise ValueError(f"unsupported PIL mode {img.mode!r}{hint}; supported: {', '.join(PIL_MODES)}")
    _check_size((img.height, img.width))
    return PIL_MODES[img.mode]


def to_array(img, alpha: bool | None = None):
    """Return ``(arr, source)`` with ``arr`` a native-order numpy array of shape ``[H, W, C]``,
    for a PIL image or a numpy array.

    ``alpha=None`` guesses: PIL's LA/RGBA and numpy arrays with 2 or 4 channels have alpha; pass
    ``alpha=True`` / ``False`` to say so.
    """
    import numpy as np

    if is_pil(img):
        dtype, has_alpha = check_pil_mode(img)
        arr = np.asarray(img)
        if arr.dtype != dtype:  # e.g. big-endian storage
            arr = arr.astype(dtype)
        src = Source("pil", arr.ndim, img.mode, has_alpha if alpha is None else alpha)
    elif isinstance(img, np.ndarray):
        if img.dtype.name not in NUMPY_DTYPES:
            raise TypeError(f"unsupported numpy dtype {img.dtype}; supported: uint8, uint16, float32, float64")
        if img.ndim not in (2, 3):
            raise ValueError(f"numpy images are HxW or HxWxC, got shape {img.shape}")
        _check_size(img.shape[:2])
        if img.ndim == 3 and img.shape[2] < 1:
            raise ValueError(f"image has no channels: shape {img.shape}")
        has_alpha = (img.ndim == 3 and img.shape[2] in (2, 4)) if alpha is None else alpha
        arr = img if img.dtype.isnative else img.astype(img.dtype.newbyteorder("="))
        src = Source("numpy", img.ndim, None, has_alpha)
    elif is_tensor(img):
        raise TypeError("to_array takes PIL images and numpy arrays; tensors go through to_tensor")
    else:
        raise TypeError(f"expected a PIL image, numpy array or torch tensor, got {type(img).__name__}")
    return (arr[:, :, None] if arr.ndim == 2 else arr), src


def from_array(arr, src: Source):
    """Give ``arr`` (``[H, W, C]``, a fresh array) back as the kind described by ``src``."""
    if src.ndim == 2:
        arr = arr[:, :, 0]
    if src.kind == "numpy":
        return arr
    from PIL import Image

    return Image.fromarray(arr)  # the mode follows from dtype and channel count, as it came in


def to_tensor(img, alpha: bool | None = None):
    """Return ``(x, source)`` with ``x`` of shape ``[N, C, H, W]``.

    ``alpha=None`` guesses: PIL's LA/RGBA and numpy arrays with 2 or 4 channels have alpha,
    tensors do not (they are as often feature maps as images); pass ``alpha=True`` to say so.
    """
    if not is_tensor(img):
        arr, src = to_array(img, alpha)
        torch = import_torch("this backend")
        import numpy as np

        with warnings.catch_warnings():  # torch warns on read-only arrays; nothing writes to the input
            warnings.simplefilter("ignore", UserWarning)
            # A flip along a length-1 axis leaves a negative stride in an array numpy calls contiguous.
            contiguous = np.ascontiguousarray(arr)
            t = torch.from_numpy(contiguous if min(contiguous.strides, default=0) >= 0 else contiguous.copy())
        return t.permute(2, 0, 1).unsqueeze(0), src

    import torch

    dtypes = (torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64)
    if img.dtype not in dtypes:
        raise TypeError(f"unsupported tensor dtype {img.dtype}; supported: uint8, float16, bfloat16, float32, float64")
    if img.dim() not in (3, 4):
        raise ValueError(f"tensors are CxHxW or NxCxHxW, got shape {tuple(img.shape)}")
    _check_size(img.shape[-2:])
    if img.shape[-3] < 1 or (img.dim() == 4 and img.shape[0] < 1):
        raise ValueError(f"empty tensor of shape {tuple(img.shape)}")
    x = img if img.dim() == 4 else img.unsqueeze(0)
    return x, Source("torch", img.dim(), None, bool(alpha))


def from_tensor(x, src: Source):
    """Give ``x`` (``[N, C, H, W]``) back as the kind described by ``src``."""
    if src.kind == "torch":
        return x if src.ndim == 4 else x[0]
    arr = x[0].permute(1, 2, 0).detach().contiguous().numpy()  # HxWxC
    return from_array(arr, src)


def is_pil(img) -> bool:
    """Whether ``img`` is a PIL image (without importing PIL)."""
    image = sys.modules.get("PIL.Image")  # a PIL image exists only once PIL.Image is imported
    return image is not None and isinstance(img, image.Image)


def _check_size(hw) -> None:
    h, w = int(hw[0]), int(hw[1])
    if h < 1 or w < 1:
        raise ValueError(f"empty image: {w}x{h} pixels")


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
