"""Adapters between the image types users pass in and the NCHW tensors the kernels work on.

:func:`to_tensor` turns a PIL image, a numpy array or a torch tensor into a 4-D tensor (a view
whenever possible: numpy's HxWxC becomes a channels-last NCHW view, no copy) plus a :class:`Source`
that :func:`from_tensor` uses to give the result back as the same kind, dtype, layout and device.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Source", "to_tensor", "from_tensor", "PIL_MODES"]

#: PIL modes we resample, with the numpy dtype of their pixels and whether the last band is alpha.
PIL_MODES = {
    "L": (np.uint8, False),
    "LA": (np.uint8, True),
    "RGB": (np.uint8, False),
    "RGBA": (np.uint8, True),
    "I;16": (np.uint16, False),
    "F": (np.float32, False),
}
NUMPY_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)
TORCH_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64)


@dataclass(frozen=True)
class Source:
    """What the input was, so the output can be the same kind of thing."""

    kind: str  # "pil", "numpy" or "torch"
    ndim: int  # of the user's array/tensor (2 or 3 for numpy, 3 or 4 for torch)
    mode: str | None = None  # PIL mode
    has_alpha: bool = False  # the last channel is alpha (resampled premultiplied)


def to_tensor(img, alpha: bool | None = None) -> tuple[torch.Tensor, Source]:
    """Return ``(x, source)`` with ``x`` of shape ``[N, C, H, W]``.

    ``alpha=None`` guesses: PIL's LA/RGBA and numpy arrays with 2 or 4 channels have alpha,
    tensors do not (they are as often feature maps as images); pass ``alpha=True`` to say so.
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        Image = None

    if Image is not None and isinstance(img, Image.Image):
        if img.mode not in PIL_MODES:
            hint = (
                " (convert it first, e.g. img.convert('RGB'))"
                if img.mode in ("P", "1", "CMYK", "YCbCr", "LAB", "HSV", "PA", "La", "RGBa", "RGBX")
                else ""
            )
            raise ValueError(f"unsupported PIL mode {img.mode!r}{hint}; supported: {', '.join(PIL_MODES)}")
        dtype, has_alpha = PIL_MODES[img.mode]
        arr = np.asarray(img)
        if arr.dtype != dtype:  # e.g. big-endian storage
            arr = arr.astype(dtype)
        _check_size(arr.shape[:2])
        return _numpy_to_tensor(arr), Source("pil", arr.ndim, img.mode, has_alpha if alpha is None else alpha)

    if isinstance(img, np.ndarray):
        if img.dtype.type not in NUMPY_DTYPES:
            raise TypeError(f"unsupported numpy dtype {img.dtype}; supported: uint8, uint16, float32, float64")
        if img.ndim not in (2, 3):
            raise ValueError(f"numpy images are HxW or HxWxC, got shape {img.shape}")
        _check_size(img.shape[:2])
        if img.ndim == 3 and img.shape[2] < 1:
            raise ValueError(f"image has no channels: shape {img.shape}")
        has_alpha = (img.ndim == 3 and img.shape[2] in (2, 4)) if alpha is None else alpha
        if not img.dtype.isnative:
            img = img.astype(img.dtype.newbyteorder("="))
        return _numpy_to_tensor(img), Source("numpy", img.ndim, None, has_alpha)

    if isinstance(img, torch.Tensor):
        if img.dtype not in TORCH_DTYPES:
            raise TypeError(
                f"unsupported tensor dtype {img.dtype}; supported: uint8, float16, bfloat16, float32, float64"
            )
        if img.dim() not in (3, 4):
            raise ValueError(f"tensors are CxHxW or NxCxHxW, got shape {tuple(img.shape)}")
        _check_size(img.shape[-2:])
        if img.shape[-3] < 1 or (img.dim() == 4 and img.shape[0] < 1):
            raise ValueError(f"empty tensor of shape {tuple(img.shape)}")
        x = img if img.dim() == 4 else img.unsqueeze(0)
        return x, Source("torch", img.dim(), None, bool(alpha))

    raise TypeError(f"expected a PIL image, numpy array or torch tensor, got {type(img).__name__}")


def from_tensor(x: torch.Tensor, src: Source):
    """Give ``x`` (``[N, C, H, W]``) back as the kind described by ``src``."""
    if src.kind == "torch":
        return x if src.ndim == 4 else x[0]
    arr = x[0].permute(1, 2, 0)  # HxWxC
    arr = arr.detach().contiguous().numpy()
    if src.ndim == 2:
        arr = arr[:, :, 0]
    if src.kind == "numpy":
        return arr
    from PIL import Image

    return Image.fromarray(arr)  # the mode follows from dtype and channel count, as it came in


def _numpy_to_tensor(arr: np.ndarray) -> torch.Tensor:
    if arr.ndim == 2:
        arr = arr[:, :, None]
    with warnings.catch_warnings():  # torch warns on read-only arrays; nothing writes to the input
        warnings.simplefilter("ignore", UserWarning)
        # A flip along a length-1 axis leaves a negative stride in an array numpy calls contiguous.
        contiguous = np.ascontiguousarray(arr)
        t = torch.from_numpy(contiguous if min(contiguous.strides, default=0) >= 0 else contiguous.copy())
    return t.permute(2, 0, 1).unsqueeze(0)


def _check_size(hw) -> None:
    h, w = int(hw[0]), int(hw[1])
    if h < 1 or w < 1:
        raise ValueError(f"empty image: {w}x{h} pixels")


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Pixels as float32 in ``[0, 1]`` (uint8 / 255, uint16 / 65535; floats are taken as they are)."""
    if x.dtype == torch.uint8:
        return x.float() / 255
    if x.dtype == torch.uint16:
        return x.to(torch.float32) / 65535
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def from_unit(y: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Inverse of :func:`to_unit`: integer types are rounded and clamped, exactly as saved."""
    if dtype == torch.uint8:
        return (y * 255).round_().clamp_(0, 255).to(torch.uint8)
    if dtype == torch.uint16:
        return (y * 65535).round_().clamp_(0, 65535).to(torch.int32).to(torch.uint16)
    return y.to(dtype)
