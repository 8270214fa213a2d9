"""Resampling kernels, installed as ``rescale.kernels``.

Every kernel resamples one axis of a 3-D view ``x[R, L, I]`` (rows, the resampled axis, an inner
run of contiguous values) with an :class:`rescale.tables.AxisTable`:
``out[r, o, i] = sum_k weight[o, k] * x[r, index[o, k], i]``.

- ``reference``: torch gathers; the readable definition, any device, differentiable by autograd.
- ``cpu``: the fast CPU twin (numba), on numpy arrays; tensors through a thin adapter.
- ``triton``: the GPU kernels.

uint8 uses Pillow's fixed-point arithmetic (int32 weights with 22 fractional bits, round half up,
clamp), so all backends agree bit for bit. Float types accumulate in float32 (float64 for float64).

This module itself imports nothing heavy: it only holds the CPU kernels' thread count.
"""

from __future__ import annotations

import os
import sys

__all__ = ["get_num_threads", "set_num_threads"]

_threads: int | None = None


def get_num_threads() -> int:
    """Threads the CPU kernels split a large call across: the value of :func:`set_num_threads`;
    else, when torch is already imported, ``torch.get_num_threads()`` (so that
    ``torch.set_num_threads`` governs both, as before torch became optional); else the number of
    CPUs this process may run on."""
    if _threads is not None:
        return _threads
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_num_threads"):
        return torch.get_num_threads()
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_num_threads(n: int | None) -> None:
    """Use ``n`` threads in the CPU kernels (``None``: back to the default of
    :func:`get_num_threads`). Worker processes that bring their own parallelism set 1.

    >>> import rescale.kernels
    >>> rescale.kernels.set_num_threads(1)
    """
    global _threads
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"the thread count must be a positive integer or None, got {n!r}")
    _threads = n
