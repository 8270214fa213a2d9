"""Separable resampling of NCHW tensors on a chosen backend, differentiable.

The two axes are resampled one after the other in Pillow's order (see :func:`vertical_first`); for
uint8 the intermediate image is rounded to 8 bits in between, as Pillow does, so the order matters
for bit-exactness. An axis whose size does not change is left untouched, so resizing to the same
size is the identity for every filter.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

from .filters import Filter, get_filter
from .tables import AxisTable, passes, vertical_first

__all__ = ["resample", "resample_axis", "BACKENDS", "resolve_backend", "vertical_first"]

BACKENDS = ("auto", "cpu", "torch", "triton")

AxisFn = Callable[[torch.Tensor, AxisTable, int], torch.Tensor]


class _ResampleAxis(torch.autograd.Function):
    """One axis pass through a kernel that has no autograd of its own. The backward pass is the
    same kernel run with the transposed table (resampling is linear), through this Function again,
    so higher derivatives work too."""

    @staticmethod
    def forward(ctx, x, table: AxisTable, dim: int, fn: AxisFn):
        ctx.table, ctx.dim, ctx.fn = table, dim, fn
        return fn(x, table, dim)

    @staticmethod
    def backward(ctx, grad):
        return _ResampleAxis.apply(grad.contiguous(), ctx.table.transposed, ctx.dim, ctx.fn), None, None, None


def _kernel(backend: str) -> tuple[AxisFn, bool]:
    """The axis function of a backend and whether it needs :class:`_ResampleAxis` for autograd."""
    if backend == "torch":
        from rescale.kernels.reference import resample_axis

        return resample_axis, False
    if backend == "cpu":
        from rescale.kernels.cpu import resample_axis

        return resample_axis, True
    if backend == "triton":
        from rescale.kernels.triton_resample import resample_axis

        return resample_axis, True
    raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")


def resolve_backend(backend: str, x: torch.Tensor) -> str:
    """Pick the concrete backend for ``x`` ("auto": Triton on CUDA, the CPU kernels on CPU)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    if backend == "auto":
        if x.is_cuda:
            return "triton" if _has_triton() else "torch"
        return "cpu" if _has_cpu_kernels() else "torch"
    if backend == "cpu" and x.device.type != "cpu":
        raise ValueError(f"backend 'cpu' needs a CPU tensor, got one on {x.device}")
    if backend == "triton":
        if not _has_triton():
            raise ValueError("backend 'triton' needs the triton package")
        if not x.is_cuda and os.environ.get("TRITON_INTERPRET") != "1":
            raise ValueError("backend 'triton' needs a CUDA tensor (or TRITON_INTERPRET=1 to run it on the CPU)")
    return backend


def resample_axis(x: torch.Tensor, table: AxisTable, dim: int, *, backend: str = "auto") -> torch.Tensor:
    """Resample one axis of ``x`` ``[N, C, H, W]`` with ``table`` (from
    :func:`rescale.tables.axis_table`, or any :class:`~rescale.tables.AxisTable`): ``dim`` 2 is the
    height, 3 the width. Differentiable on every backend (the adjoint is the transposed table).

    >>> from rescale.filters import get_filter
    >>> from rescale.tables import axis_table
    >>> x = torch.rand(1, 3, 8, 10)
    >>> resample_axis(x, axis_table(10, 5, get_filter("bilinear")), 3).shape
    torch.Size([1, 3, 8, 5])
    """
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 (height) or 3 (width), got {dim}")
    fn, wrap = _kernel(resolve_backend(backend, x))
    if wrap and x.requires_grad and torch.is_grad_enabled():
        return _ResampleAxis.apply(x, table, dim, fn)
    return fn(x, table, dim)


def resample(
    x: torch.Tensor,
    out_h: int,
    out_w: int,
    filt: Filter,
    *,
    antialias: bool = True,
    edge: str = "renormalize",
    backend: str = "auto",
    box: tuple[float, float, float, float] | None = None,
) -> torch.Tensor:
    """Resample ``x`` of shape ``[N, C, H, W]``, or its region ``box`` (left, top, right, bottom),
    to ``[N, C, out_h, out_w]``."""
    backend = resolve_backend(backend, x)
    if filt.nearest and x.dtype == torch.uint16:
        filt = get_filter("nearest", rule="direct")  # Pillow's I;16 index rule
    differentiable = x.requires_grad and torch.is_grad_enabled()
    _, _, h, w = x.shape
    source, fmt = x, _memory_format(x)
    steps = [(2 + axis, table) for axis, table in passes(w, h, out_w, out_h, filt, antialias, edge, box)]
    if backend == "cpu" and not differentiable and len(steps) == 2:
        # Both axes in one call: the CPU kernels then keep the 8-bit intermediate in cache.
        from rescale.kernels.cpu import resize

        tables = dict(steps)
        x = resize(x, tables[3], tables[2], vertical_first=steps[0][0] == 2)
    else:
        for dim, table in steps:
            x = resample_axis(x, table, dim, backend=backend)
    # Always a new tensor (never the input, which callers may then modify through the result), in
    # the input's memory format (not the strides a backend's gathers happen to leave).
    return x.clone(memory_format=fmt) if x is source else x.contiguous(memory_format=fmt)


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    if x.shape[1] > 1 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def _has_triton() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def _has_cpu_kernels() -> bool:
    try:
        import rescale.kernels.cpu  # noqa: F401
    except ImportError:
        return False
    return True
