"""Image-folder datasets and the MATLAB ``imresize`` protocol that makes their low-resolution images.

Evaluation sets are plain folders of images (any folder: Set5, Set14, BSD100, DIV2K, your own),
read recursively in sorted path order. Nothing is copied into the repository: the root folder is a
parameter, by default ``$RESCALE_DATA`` or ``../shared/data`` next to the repository.

Images are evaluated as 8-bit RGB; alpha is dropped. Greyscale files (Set14 ``bridge.png`` is
mode ``L``) are replicated to three channels, so every method sees RGB, and flagged ``grey``: the
MATLAB scripts behind the published tables score a one-channel image on its grey level, not on
``rgb2ycbcr`` Y, and :func:`rescale.eval.metrics.rgb_to_y` does the same for flagged images (without it
bicubic x2 on Set14 scores 30.33 dB instead of the published 30.24).

Low-resolution images follow the SR literature: ``LR = imresize(modcrop(HR, s), 1/s, 'bicubic')`` on
``uint8`` in MATLAB, i.e. antialiased bicubic (a = -0.5) with mirrored edges, one axis at a time in
MATLAB's order, rounded to ``uint8`` after each pass. :func:`imresize_uint8` does exactly that with
this package's kernels (:func:`rescale.methods.matlab_bicubic`).

Training patch sampling (random crops, flips, rotations) lives in ``rescale.train.patches``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ..methods import Classical, matlab_bicubic

__all__ = [
    "IMAGE_EXTENSIONS",
    "default_data_root",
    "resolve_set",
    "find_images",
    "Sample",
    "load_rgb",
    "ImageFolder",
    "scaled_sizes",
    "modcrop",
    "imresize_uint8",
    "bicubic_lr",
]

IMAGE_EXTENSIONS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

#: Repository root (the parent of the ``rescale`` package in a source checkout).
_REPO_ROOT = Path(__file__).resolve().parents[2]


def default_data_root() -> Path:
    """``$RESCALE_DATA`` if set, else ``../shared/data`` relative to the repository root."""
    env = os.environ.get("RESCALE_DATA")
    return Path(env) if env else _REPO_ROOT.parent / "shared" / "data"


def resolve_set(name: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """The folder of set ``name``: ``root/name`` if it exists, else ``name`` itself as a path."""
    root = default_data_root() if root is None else Path(root)
    for candidate in (root / str(name), Path(name)):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no image folder {name!r} under {root} (set RESCALE_DATA or pass --data)")


def find_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted by their path relative to it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


class Sample(NamedTuple):
    name: str  #: path relative to the dataset folder
    image: torch.Tensor  #: uint8 ``[1, 3, H, W]``
    grey: bool  #: the file was greyscale (replicated to RGB)


def load_rgb(path: str | os.PathLike) -> tuple[torch.Tensor, bool]:
    """An image file as ``(uint8 tensor [1, 3, H, W], was_greyscale)``; grey replicated, alpha dropped."""
    from PIL import Image

    with Image.open(path) as img:
        if img.mode in ("I;16", "I;16B", "I", "F"):
            raise ValueError(f"{path}: {img.mode} images are not 8-bit; evaluation works on 8-bit RGB")
        grey = img.mode in ("1", "L", "LA")
        arr = np.asarray(img.convert("RGB"))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0), grey


class ImageFolder:
    """A folder of images as a sequence of :class:`Sample` ``(name, image, grey)``.

    Args:
        folder: the folder, searched recursively; files are taken in sorted order.
        limit: keep only the first ``limit`` images (quick runs).
    """

    def __init__(self, folder: str | os.PathLike, limit: int | None = None):
        self.folder = Path(folder)
        self.files = find_images(self.folder)
        if limit is not None:
            if limit < 1:
                raise ValueError(f"limit must be positive, got {limit}")
            self.files = self.files[:limit]
        if not self.files:
            raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {self.folder}")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Sample:
        path = self.files[i]
        return Sample(path.relative_to(self.folder).as_posix(), *load_rgb(path))

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def scaled_sizes(
    width: int, height: int, sx: float, sy: float | None = None
) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(hr_size, lr_size)`` as ``(width, height)`` for a reduction by ``sx``, ``sy``.

    The LR image has ``floor(W / s)`` pixels; the HR image is cropped to ``round(lr * s)`` (top-left
    kept). For integer scales this is MATLAB's ``modcrop``; for fractional ones it keeps the ratio
    as close to ``s`` as whole pixels allow.
    """
    sy = sx if sy is None else sy
    for s, name in ((sx, "sx"), (sy, "sy")):
        if not (isinstance(s, (int, float)) and math.isfinite(s) and s >= 1):
            raise ValueError(f"{name} must be a finite reduction factor >= 1, got {s!r}")
    lr_w, lr_h = math.floor(width / sx + 1e-9), math.floor(height / sy + 1e-9)
    if lr_w < 1 or lr_h < 1:
        raise ValueError(f"a {width}x{height} image is too small for scale {sx}x{sy}")
    return (math.floor(lr_w * sx + 0.5), math.floor(lr_h * sy + 0.5)), (lr_w, lr_h)


def modcrop(x: torch.Tensor, sx: float, sy: float | None = None) -> torch.Tensor:
    """Crop ``x`` (``[..., H, W]``) at the bottom and right to the HR size of :func:`scaled_sizes`."""
    (w, h), _ = scaled_sizes(x.shape[-1], x.shape[-2], sx, sy)
    return x[..., :h, :w]


def imresize_uint8(x: torch.Tensor, size: tuple[int, int], method: Classical | None = None) -> torch.Tensor:
    """MATLAB ``imresize`` of a uint8 image: ``[N, C, H, W]`` -> ``[N, C, size[1], size[0]]`` uint8.

    One axis at a time, the one with the smaller scale factor first (MATLAB sorts the factors; on a
    tie rows go first), each pass in float64 and rounded half up to ``uint8``, as MATLAB's
    ``imresizemex`` does for ``uint8`` input (ties exact in real arithmetic always up). ``method`` defaults to
    :func:`rescale.methods.matlab_bicubic` (antialiased bicubic, mirrored edges).
    """
    if x.dtype != torch.uint8 or x.dim() != 4:
        raise TypeError(f"expected a uint8 [N, C, H, W] tensor, got {x.dtype} of shape {tuple(x.shape)}")
    method = matlab_bicubic(backend="torch") if method is None else method
    out_w, out_h = size
    in_h, in_w = x.shape[-2:]
    passes = [(out_h / in_h, (in_w, out_h)), (out_w / in_w, (out_w, out_h))]  # rows, then columns
    if out_w / in_w < out_h / in_h:
        passes = [(out_w / in_w, (out_w, in_h)), (out_h / in_h, (out_w, out_h))]
    y = x.to(torch.float64)  # levels 0..255, not 0..1: linear anyway, and no /255 rounding noise
    for factor, step in passes:
        if step != (y.shape[-1], y.shape[-2]):
            y = (method.down if factor < 1 else method.up)(y, step)
            # Round half up as MATLAB's round; the 1e-6 makes ties exact in real arithmetic (frequent
            # for rational factors such as 2/3) round up whatever the float summation order gives.
            y = torch.floor(y + (0.5 + 1e-6)).clamp_(0, 255)
    return y.to(torch.uint8)


def bicubic_lr(hr: torch.Tensor, sx: float, sy: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The SR literature's pair: ``(modcrop(hr), imresize(modcrop(hr), 1/s, 'bicubic'))``, uint8."""
    (w, h), lr_size = scaled_sizes(hr.shape[-1], hr.shape[-2], sx, sy)
    hr = hr[..., :h, :w]
    return hr, imresize_uint8(hr, lr_size)
