"""The numpy path of :func:`rescale.rescale`: ``HxWxC`` arrays (numpy images, and PIL images'
pixels) resampled with the CPU kernels, without torch.

The same steps as the tensor path (``resample.py``): Pillow's pass order, premultiplied alpha, the
16-bit nearest rule, and the same kernels, so the bits are the same whichever path runs.
"""

from __future__ import annotations

import numpy as np

from .filters import Filter, get_filter
from .tables import passes

__all__ = ["resample_array"]


def resample_array(
    arr: np.ndarray,
    out_h: int,
    out_w: int,
    filt: Filter,
    *,
    antialias: bool = True,
    edge: str = "renormalize",
    has_alpha: bool = False,
    box: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """Resample ``arr`` ``[H, W, C]`` (uint8, uint16, float32 or float64), or its region ``box``
    (left, top, right, bottom), to a new ``[out_h, out_w, C]`` array of its dtype; with
    ``has_alpha`` the last channel is alpha and the colours are resampled premultiplied.

    >>> from rescale.filters import get_filter
    >>> resample_array(np.zeros((8, 10, 3), np.uint8), 4, 5, get_filter("bicubic")).shape
    (4, 5, 3)
    """
    from rescale.kernels import cpu  # numba: loaded on the first call that needs it

    h, w, c = arr.shape
    if filt.nearest and arr.dtype == np.uint16:
        filt = get_filter("nearest", rule="direct")  # Pillow's I;16 index rule
    steps = passes(w, h, out_w, out_h, filt, antialias, edge, box)
    if not steps:  # the same size: a copy, without the (lossy for uint8) premultiply round trip
        return arr.copy()
    use_alpha = has_alpha and not filt.nearest and c > 1
    # 16-bit with alpha has no Pillow counterpart: premultiply in float64, round back at the end.
    wide = use_alpha and arr.dtype == np.uint16
    x = (arr.astype(np.float64) if wide else arr)[None]
    if use_alpha:
        x = cpu.premultiply_array(x)
    if len(steps) == 2:
        tables = dict(steps)
        y = cpu.resize_array(x, tables[1], tables[0], vertical_first=steps[0][0] == 0)
    else:
        [(axis, table)] = steps
        y = cpu.resample_array(x, table, axis + 1)
    if use_alpha:
        cpu.unpremultiply_array(y)
    if wide:
        y = np.clip(np.round(y), 0, 65535).astype(np.uint16)
    return y[0]
