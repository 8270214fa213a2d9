"""Lossy codecs inside a training loop: the real JPEG/WebP round trip and a differentiable JPEG.

- :func:`real_roundtrip`: each image of a batch through a Pillow file (JPEG at 4:2:0, as Pillow
  saves by default, or lossy WebP), decoded back: exactly what a stored LR goes through.
- :func:`jpeg_proxy`: a differentiable model of baseline JPEG (JFIF YCbCr, 2x2 chroma averaging,
  8x8 orthonormal DCT, libjpeg's quality-scaled tables, rounding, triangle chroma upsampling as
  libjpeg's "fancy" upsampling). Rounding is ``r + (x - r)^3`` (Shin & Song 2017), so gradients
  flow but still see the quantiser. It matches the real codec closely but not bit for bit.
- :func:`simulate`: one call for the three ways of putting the codec in training:
  ``"real"`` (real codec forward, identity gradient), ``"proxy"`` (the proxy both ways) and
  ``"both"`` (real codec forward, the proxy's gradient: ``proxy(x) + (real(x) - proxy(x)).detach()``).

Shapes: float ``[N, 3, H, W]`` in ``[0, 1]``; ``quality`` one int or one per image (0: lossless,
the image is only rounded to 8 bit).

>>> x = torch.rand(2, 3, 32, 32, requires_grad=True)
>>> y = simulate(x, [90, 50], "both")  # the real JPEG pixels, with the proxy's gradient
>>> y.shape
torch.Size([2, 3, 32, 32])
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

__all__ = [
    "quant_tables",
    "jpeg_proxy",
    "encode_decode",
    "real_roundtrip",
    "simulate",
    "quantize_ste",
    "rgb_to_ycbcr",
    "MODES",
    "CODECS",
]

#: how the codec enters training (see the module docstring)
MODES = ("real", "proxy", "both")
#: Pillow format of each codec name ("png": lossless, for the size of a losslessly stored image)
CODECS = {"jpeg": "JPEG", "webp": "WEBP", "png": "PNG"}

# libjpeg's base tables (ITU T.81, K.1 luminance and K.2 chrominance), natural order.
_LUMA = [
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99],
]
_CHROMA = [[17, 18, 24, 47, 99, 99, 99, 99], [18, 21, 26, 66, 99, 99, 99, 99], [24, 26, 56, 99, 99, 99, 99, 99]]
_CHROMA += [[47, 66, 99, 99, 99, 99, 99, 99]] + [[99] * 8] * 4

# JFIF RGB -> YCbCr (full range, offset 128 on chroma), and back
_TO_YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_FROM_YCC = torch.tensor([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]])


def quant_tables(quality: int) -> tuple[torch.Tensor, torch.Tensor]:
    """libjpeg's ``jpeg_set_quality(quality, force_baseline=TRUE)`` tables (luminance, chrominance),
    float ``[8, 8]`` in natural order: what Pillow writes for ``quality`` (1..100)."""
    q = min(100, max(1, int(quality)))
    scale = 5000 // q if q < 50 else 200 - 2 * q
    out = []
    for base in (_LUMA, _CHROMA):
        t = (torch.tensor(base, dtype=torch.int64) * scale + 50) // 100
        out.append(t.clamp(1, 255).float())
    return out[0], out[1]


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """JFIF YCbCr of ``[N, 3, H, W]`` RGB, in the same units, chroma centred on 0 (no offset)."""
    return torch.einsum("ij,njhw->nihw", _TO_YCC.to(x.device, x.dtype), x)


def _dct_matrix(device, dtype) -> torch.Tensor:
    """The orthonormal 8-point DCT-II matrix (JPEG's FDCT has this scaling)."""
    k = torch.arange(8, dtype=torch.float64)
    m = torch.cos((2 * k[None] + 1) * k[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    m[0] /= math.sqrt(2)
    return m.to(device, dtype)


def _soft_round(x: torch.Tensor, soft: bool) -> torch.Tensor:
    r = x.detach().round()
    return r + (x - r) ** 3 if soft else x + (r - x).detach()


def _quantise_blocks(plane: torch.Tensor, table: torch.Tensor, soft: bool) -> torch.Tensor:
    """DCT-quantise-IDCT a level-shifted plane ``[N, 1, H, W]`` (H, W multiples of 8) with per-image
    tables ``[N, 8, 8]``."""
    n, _, h, w = plane.shape
    d = _dct_matrix(plane.device, plane.dtype)
    blocks = plane.reshape(n, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4)  # [N, by, bx, 8, 8]
    coef = d @ blocks @ d.T
    t = table[:, None, None]
    coef = _soft_round(coef / t, soft) * t
    blocks = d.T @ coef @ d
    return blocks.permute(0, 1, 3, 2, 4).reshape(n, 1, h, w)


def _tables_for(quality, n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    qs = [int(quality)] * n if isinstance(quality, (int, np.integer)) else [int(q) for q in quality]
    if len(qs) != n:
        raise ValueError(f"give one quality or one per image ({n}), got {len(qs)}")
    luma, chroma = zip(*(quant_tables(q) for q in qs))
    return torch.stack(luma).to(device), torch.stack(chroma).to(device)


def jpeg_proxy(x: torch.Tensor, quality: int | Sequence[int], *, soft: bool = True) -> torch.Tensor:
    """Differentiable baseline JPEG at 4:2:0: float ``[N, 3, H, W]`` in ``[0, 1]`` -> the same shape.

    ``quality``: 1..100, one for all or one per image. ``soft``: the coefficients are rounded with
    ``r + (x - r)^3`` (smooth, a little optimistic: about 0.8 dB above the real codec); otherwise
    exactly, with an identity gradient. Pixels are left unrounded (float)."""
    n, c, h, w = x.shape
    if c != 3:
        raise ValueError(f"jpeg_proxy takes RGB [N, 3, H, W], got {tuple(x.shape)}")
    luma_t, chroma_t = _tables_for(quality, n, x.device)
    ph, pw = -h % 16, -w % 16  # whole MCUs, the edge replicated as libjpeg pads
    v = F.pad(x.float() * 255, (0, pw, 0, ph), mode="replicate") if ph or pw else x.float() * 255
    ycc = rgb_to_ycbcr(v)
    y = _quantise_blocks(ycc[:, :1] - 128, luma_t, soft) + 128
    chroma = F.avg_pool2d(ycc[:, 1:], 2)  # chroma is centred on 0 here (JFIF adds 128, the DCT removes it)
    chroma = torch.cat([_quantise_blocks(chroma[:, k : k + 1], chroma_t, soft) for k in range(2)], 1)
    chroma = F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False)  # = fancy upsampling
    rgb = torch.einsum("ij,njhw->nihw", _FROM_YCC.to(v.device), torch.cat([y, chroma], 1))
    return (rgb[..., :h, :w] / 255).to(x.dtype)


def encode_decode(img: np.ndarray, codec: str, quality: int | None = None) -> tuple[np.ndarray, int]:
    """uint8 ``H x W x 3`` through a Pillow ``codec`` file (:data:`CODECS`; JPEG at Pillow's default
    4:2:0, lossy WebP, PNG) at ``quality``: ``(decoded H x W x 3 uint8, file size in bytes)``."""
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {', '.join(CODECS)}, got {codec!r}")
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, CODECS[codec], **({} if codec == "png" else {"quality": int(quality)}))
    size = buf.tell()
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB")), size


def real_roundtrip(x: torch.Tensor, quality: int | Sequence[int], codec: str = "jpeg") -> torch.Tensor:
    """Each image of float ``[N, 3, H, W]`` (rounded to 8 bit) through a Pillow ``codec`` file at
    its quality and back (:func:`encode_decode`); quality 0 only rounds. No gradient (see
    :func:`simulate`)."""
    n = x.shape[0]
    qs = [int(quality)] * n if isinstance(quality, (int, np.integer)) else [int(q) for q in quality]
    u8 = (x.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = [img if q <= 0 else encode_decode(img, codec, q)[0] for img, q in zip(u8, qs)]
    arr = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)
    return arr.to(x.device, x.dtype) / 255


def quantize_ste(x: torch.Tensor) -> torch.Tensor:
    """8-bit rounding with an identity gradient."""
    q = (x.detach().clamp(0, 1) * 255).round() / 255
    return x + (q - x.detach())


def simulate(x: torch.Tensor, quality: int | Sequence[int], mode: str = "both") -> torch.Tensor:
    """JPEG round trip of float ``[N, 3, H, W]`` in ``[0, 1]`` for training, by ``mode``
    (:data:`MODES`); images of quality 0 are only rounded to 8 bit (straight-through)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    n = x.shape[0]
    qs = [int(quality)] * n if isinstance(quality, (int, np.integer)) else [int(q) for q in quality]
    lossless = torch.tensor([q <= 0 for q in qs], device=x.device).view(n, 1, 1, 1)
    rounded = quantize_ste(x)
    if all(q <= 0 for q in qs):
        return rounded
    proxy_q = [q if q > 0 else 100 for q in qs]
    if mode == "real":
        y = x + (real_roundtrip(x, qs) - x).detach()
    else:
        p = quantize_ste(jpeg_proxy(rounded, proxy_q))
        y = p if mode == "proxy" else p + (real_roundtrip(x, qs) - p).detach()
    return torch.where(lossless, rounded, y)
