"""Per-axis coefficient tables: the one place where resampling weights are computed.

Every backend (torch reference, CPU kernels, Triton) consumes the same :class:`AxisTable`, computed
once per ``(in_size, out_size, filter, antialias, edge)`` and cached. Resampling one axis is then
the gather ``out[o] = sum_k weight[o, k] * in[index[o, k]]`` (Pillow's precompute_coeffs, with the
taps written out as explicit indices so that reflected edges need no special case in the kernels).

Geometry (Pillow's, which is also MATLAB's): input pixel ``i`` covers ``[i, i + 1)``; output pixel
``o`` is centred at ``(o + 0.5) * in_size / out_size``; when downscaling with ``antialias`` the
filter is stretched by ``in_size / out_size``. With a source ``region`` ``(start, end)`` (Pillow's
``box=``), the output spans ``[start, end)`` instead: ``o`` is centred at
``start + (o + 0.5) * (end - start) / out_size``; taps outside the region but inside the image still
read the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from .filters import EDGES, Filter

__all__ = ["AxisTable", "axis_table", "passes", "vertical_first", "EDGES", "PRECISION_BITS"]

#: Pillow's fixed-point precision for 8-bit images: 32 bits - 8 bits of pixel - 2 bits of headroom.
PRECISION_BITS = 32 - 8 - 2


@dataclass(frozen=True, eq=False)
class AxisTable:
    """Resampling of one axis from ``in_size`` to ``out_size`` samples.

    ``index``: int32 ``[out_size, taps]``, input index of each tap (always in range; padding taps
    repeat a valid index with weight 0). ``weight``: float64 ``[out_size, taps]``, each row sums to 1
    (unless the filter vanishes everywhere).
    """

    in_size: int
    out_size: int
    index: np.ndarray
    weight: np.ndarray

    @property
    def taps(self) -> int:
        return self.index.shape[1]

    @cached_property
    def weight_fixed(self) -> np.ndarray:
        """int32 weights in Pillow's fixed point (normalize_coeffs_8bpc: round half away from zero)."""
        scaled = self.weight * (1 << PRECISION_BITS)
        return np.trunc(np.where(self.weight < 0, scaled - 0.5, scaled + 0.5)).astype(np.int32)

    @cached_property
    def transposed(self) -> AxisTable:
        """The adjoint resampling (``out_size -> in_size``), used by every backward pass:
        ``grad_in[i] = sum over (o, k) with index[o, k] == i of weight[o, k] * grad_out[o]``."""
        o = np.repeat(np.arange(self.out_size, dtype=np.int64), self.taps)
        i = self.index.reshape(-1).astype(np.int64)
        w = self.weight.reshape(-1)
        keep = w != 0
        o, i, w = o[keep], i[keep], w[keep]
        order = np.argsort(i, kind="stable")
        o, i, w = o[order], i[order], w[order]
        counts = np.bincount(i, minlength=self.in_size)
        taps = max(1, int(counts.max()) if counts.size else 1)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        slot = np.arange(i.size) - starts[i]
        index = np.zeros((self.in_size, taps), np.int32)
        weight = np.zeros((self.in_size, taps), np.float64)
        index[i, slot] = o
        weight[i, slot] = w
        return AxisTable(self.out_size, self.in_size, index, weight)

    def torch(self, device, fixed: bool = False):
        """``(index, weight)`` as torch tensors on ``device`` (cached per device). Weights are
        float64, or int32 fixed point when ``fixed``."""
        import torch

        key = (str(device), fixed)
        cache = self.__dict__.setdefault("_torch_cache", {})
        if key not in cache:
            w = self.weight_fixed if fixed else self.weight
            cache[key] = (
                torch.from_numpy(self.index).to(device),
                torch.from_numpy(w).to(device),
            )
        return cache[key]


@lru_cache(maxsize=512)
def axis_table(
    in_size: int,
    out_size: int,
    filt: Filter,
    antialias: bool = True,
    edge: str = "renormalize",
    region: tuple[float, float] | None = None,
) -> AxisTable:
    """The cached table resampling ``in_size`` samples to ``out_size`` with ``filt``; with
    ``region=(start, end)``, the part ``[start, end)`` of the axis (``0 <= start < end <= in_size``,
    float32 values as Pillow's ``box``) to ``out_size`` samples."""
    if in_size < 1 or out_size < 1:
        raise ValueError(f"axis sizes must be positive, got {in_size} -> {out_size}")
    if edge not in EDGES:
        raise ValueError(f"unknown edge mode {edge!r}; expected one of {EDGES}")
    start, end = (0.0, float(in_size)) if region is None else (float(region[0]), float(region[1]))
    if not 0 <= start < end <= in_size:
        raise ValueError(f"region must satisfy 0 <= start < end <= {in_size}, got {region}")
    if filt.nearest:
        return _nearest_table(in_size, out_size, accumulate="direct" not in filt.params, region=region)

    scale = _extent(start, end) / out_size
    filterscale = max(scale, 1.0) if antialias else 1.0
    support = filt.support * filterscale
    ss = 1.0 / filterscale
    rows = []
    for o in range(out_size):
        center = start + (o + 0.5) * scale
        # Pillow rounds the tap range with (int)(x + 0.5); floor is the same for x >= 0 and
        # gives the right taps past the left border when they are kept (symmetric, clamp).
        lo = math.floor(center - support + 0.5)
        hi = math.floor(center + support + 0.5)
        if edge == "renormalize":
            lo, hi = max(lo, 0), min(hi, in_size)
        taps = np.arange(lo, max(hi, lo + 1))
        values = [filt((x - center + 0.5) * ss) for x in taps.tolist()]
        # Pillow adds the weights up left to right; numpy's pairwise sum can differ in the last
        # bit, which moves 16-bit sums that land exactly on .5 (and, rarely, 8-bit weights).
        total = 0.0
        for v in values:
            total += v
        w = np.array(values, np.float64)
        if total != 0.0:
            w /= total
        rows.append((taps, w))

    width = max(len(t) for t, _ in rows)
    index = np.zeros((out_size, width), np.int64)
    weight = np.zeros((out_size, width), np.float64)
    for o, (taps, w) in enumerate(rows):
        index[o, : len(taps)] = taps
        index[o, len(taps) :] = taps[-1]
        weight[o, : len(w)] = w
    index = _fold(index, in_size, edge)
    return AxisTable(in_size, out_size, index.astype(np.int32), weight)


def passes(
    w: int,
    h: int,
    out_w: int,
    out_h: int,
    filt: Filter,
    antialias: bool = True,
    edge: str = "renormalize",
    box: tuple[float, float, float, float] | None = None,
) -> list[tuple[int, AxisTable]]:
    """The passes resizing ``w x h`` (or its region ``box = (left, top, right, bottom)``) to
    ``out_w x out_h``, in Pillow's order (:func:`vertical_first`): ``(axis, table)`` with axis 0 the
    height, 1 the width; an axis whose size does not change (over the whole axis) has none, so
    resizing to the same size is the identity for every filter."""
    left, top, right, bottom = (0, 0, w, h) if box is None else box
    order = [(1, w, out_w, (left, right)), (0, h, out_h, (top, bottom))]
    if vertical_first(w, h, out_w, out_h):
        order.reverse()
    return [
        (axis, axis_table(n_in, n_out, filt, antialias, edge, None if region == (0, n_in) else region))
        for axis, n_in, n_out, region in order
        if n_in != n_out or region != (0, n_in)
    ]


def vertical_first(w: int, h: int, out_w: int, out_h: int) -> bool:
    """Pillow 13's pass order: vertical first when the image shrinks vertically by more than
    twice as many pixels as horizontally (measured against Pillow on random sizes; older Pillow
    always went horizontal first). For 8-bit images the order decides the bits: the intermediate
    image is rounded to 8 bits, as Pillow does."""
    return out_h < h and 2 * (w - out_w) < h - out_h


def _fold(index: np.ndarray, n: int, edge: str) -> np.ndarray:
    """Map tap positions outside ``[0, n)`` back inside."""
    if edge == "symmetric":  # MATLAB: ... 1 0 | 0 1 2 ... n-1 | n-1 n-2 ...
        period = 2 * n
        j = np.mod(index, period)
        return np.where(j >= n, period - 1 - j, j)
    return np.clip(index, 0, n - 1)


def _extent(start: float, end: float) -> float:
    """``end - start`` as Pillow computes it: a float32 subtraction (its box is ``float[4]``)."""
    return float(np.float32(end) - np.float32(start))


def _nearest_table(in_size: int, out_size: int, accumulate: bool, region=None) -> AxisTable:
    # Pillow's ImagingScaleAffine (8-bit and float images) accumulates the source coordinate in
    # double precision, x = start + 0.5 * s, then x += s per output pixel, and truncates it; its
    # generic transform (16-bit images) computes floor((o + 0.5) * s + start) directly. They differ
    # where the accumulated sum falls just short of an integer.
    start, end = (0.0, in_size) if region is None else region
    s = _extent(start, end) / out_size
    index = np.empty((out_size, 1), np.int64)
    x = start + s * 0.5
    for o in range(out_size):
        index[o, 0] = min(int(x if accumulate else (o + 0.5) * s + start), in_size - 1)
        x += s
    return AxisTable(in_size, out_size, index.astype(np.int32), np.ones((out_size, 1)))
