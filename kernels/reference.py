"""Reference resampling of one axis with torch gathers: the definition the fast kernels are tested
against, and the ``backend="torch"`` path (any device, differentiable by autograd)."""

from __future__ import annotations

import torch

from rescale.tables import PRECISION_BITS, AxisTable

__all__ = ["resample_axis"]


def resample_axis(x: torch.Tensor, table: AxisTable, dim: int) -> torch.Tensor:
    """Resample dimension ``dim`` of ``x`` (any shape) from ``table.in_size`` to ``table.out_size``.

    uint8 and uint16 are rounded back to their type after the pass, the way Pillow keeps an 8-bit
    image between its horizontal and vertical passes; float types keep their dtype.
    """
    if x.shape[dim] != table.in_size:
        raise ValueError(f"axis {dim} has {x.shape[dim]} samples, table expects {table.in_size}")
    moved = x.movedim(dim, -1)
    if x.dtype == torch.uint8:
        index, weight = table.torch(x.device, fixed=True)
        taps = moved[..., index.long()].to(torch.int32)  # [..., out, K]
        acc = (taps * weight).sum(-1) + (1 << (PRECISION_BITS - 1))
        out = (acc >> PRECISION_BITS).clamp_(0, 255).to(torch.uint8)
    elif x.dtype == torch.uint16:
        # Pillow's I;16 path: float64 sums in tap order (the order decides ties at .5), rounded.
        index, weight = table.torch(x.device)
        taps = moved[..., index.long()].to(torch.float64)
        acc = torch.zeros(taps.shape[:-1], dtype=torch.float64, device=x.device)
        for k in range(table.taps):
            acc += taps[..., k] * weight[:, k]
        out = torch.floor(acc + 0.5).clamp_(0, 65535).to(torch.uint16)
    else:
        index, weight = table.torch(x.device)
        compute = torch.float64 if x.dtype == torch.float64 else torch.float32
        out = (moved[..., index.long()].to(compute) * weight.to(compute)).sum(-1).to(x.dtype)
    return out.movedim(-1, dim)
