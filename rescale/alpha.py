"""Premultiplied alpha, as Pillow resamples RGBA/LA images (``RGBA -> RGBa -> resize -> RGBA``).

Colours are multiplied by alpha before resampling so that transparent pixels (whose colour is
meaningless) do not bleed into their neighbours. For uint8 the integer formulas are Pillow's
(``Convert.c``), so results match Pillow bit for bit.
"""

from __future__ import annotations

import torch

__all__ = ["premultiply", "unpremultiply"]


def premultiply(x: torch.Tensor) -> torch.Tensor:
    """``x``: ``[N, C, H, W]`` with alpha in the last channel. Returns a new tensor."""
    color, alpha = x[:, :-1], x[:, -1:]
    if x.dtype == torch.uint8:
        t = color.to(torch.int32) * alpha.to(torch.int32) + 128  # MULDIV255
        color = (((t >> 8) + t) >> 8).to(torch.uint8)
    elif x.dtype.is_floating_point:
        color = color * alpha
    else:
        raise TypeError(f"premultiplied alpha is not supported for {x.dtype}")
    return torch.cat([color, alpha], 1).contiguous(memory_format=_format_of(x))


def unpremultiply(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`premultiply` (colour values where alpha is 0 are left as they are)."""
    color, alpha = x[:, :-1], x[:, -1:]
    if x.dtype == torch.uint8:
        a = alpha.to(torch.int32)
        c = color.to(torch.int32)
        keep = (a == 0) | (a == 255)
        color = torch.where(keep, c, (255 * c) // a.clamp(min=1)).clamp_(0, 255).to(torch.uint8)
    else:
        color = torch.where(alpha != 0, color / torch.where(alpha != 0, alpha, torch.ones_like(alpha)), color)
    return torch.cat([color, alpha], 1).contiguous(memory_format=_format_of(x))


def _format_of(x: torch.Tensor):
    if x.shape[1] > 1 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format
