"""Transfer curves: how an image's stored values map to linear light, and back.

A :class:`Curve` decodes stored values ``x`` (0..1) to linear light ``y`` and encodes back. Two
kinds cover what images carry: the parametric curve of ICC ``para`` tags,
``y = (a x + b) ** g + e`` for ``x >= d``, else ``c x + f`` (sRGB, pure gammas, Rec. 709, ...), and
a sampled curve (ICC ``curv`` tags with a table), interpolated linearly. Values outside [0, 1]
(float images) extend the curve symmetrically: ``decode(-x) = -decode(x)``, as scRGB does, and
the parametric formula continues above 1.

:func:`curves_from_icc` reads the tone curves of an ICC profile's matrix/TRC description (the
``rTRC``/``gTRC``/``bTRC`` or ``kTRC`` tags) from the profile's bytes, as littleCMS does; profiles
described only by lookup tables (``A2B0``) have none, and images carrying them are treated as sRGB.

>>> y = SRGB.decode(np.array([0.0, 0.5, 1.0]))  # linear light of sRGB black, mid grey, white
>>> np.round(y, 4).tolist()
[0.0, 0.214, 1.0]
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Curve", "SRGB", "LINEAR", "gamma", "parametric", "sampled", "curves_from_icc", "ICCError"]


class ICCError(ValueError):
    """An ICC profile whose tone curves cannot be read (truncated or malformed)."""


@dataclass(frozen=True, eq=False)
class Curve:
    """A transfer curve; build one with :func:`gamma`, :func:`parametric` or :func:`sampled`, or use
    :data:`SRGB` / :data:`LINEAR`. ``params``: ``(g, a, b, c, d, e, f)`` of a parametric curve;
    ``samples``: the decoded values at ``x = 0, 1/(n-1), ..., 1`` of a sampled one."""

    name: str
    params: tuple[float, ...] | None = None
    samples: np.ndarray | None = field(default=None, repr=False)

    def decode(self, x, xp=np):
        """Linear light of the stored values ``x`` (a numpy array, or a torch tensor with
        ``xp=torch``; differentiable there), in ``x``'s float dtype."""
        t = abs(x)
        if self.params is not None:
            g, a, b, c, d, e, f = self.params
            upper = xp.clip(a * t + b, 0, None) ** g + e
            y = xp.where(t >= d, upper, c * t + f) if d > 0 else upper
        else:
            y = _interp(t, _GRID, self.samples, xp)
        return xp.where(x < 0, -y, y)

    def encode(self, y, xp=np):
        """Stored values of the linear light ``y`` (the inverse of :meth:`decode`)."""
        t = abs(y)
        if self.params is not None:
            g, a, b, c, d, e, f = self.params
            meet = (a * d + b) ** g + e if d > 0 else -np.inf
            upper = (xp.clip(t - e, 1e-30, None) ** (1 / g) - b) / a
            lower = (t - f) / c if c > 0 else 0 * t
            x = xp.where(t >= meet, upper, lower)
        else:
            x = _interp(t, self.samples, _GRID, xp)
        return xp.where(y < 0, -x, x)

    def close_to(self, other: Curve, tolerance: float = 1e-4) -> bool:
        """Whether the two curves decode every value in [0, 1] to within ``tolerance``."""
        return bool(np.max(np.abs(self.decode(_GRID) - other.decode(_GRID))) <= tolerance)


#: Where sampled curves are interpolated (and compared): 4096 steps over [0, 1].
_GRID = np.linspace(0.0, 1.0, 4097)


def parametric(g: float, a: float = 1.0, b: float = 0.0, c: float = 0.0, d: float = 0.0, e: float = 0.0,
               f: float = 0.0, name: str | None = None) -> Curve:  # fmt: skip
    """``y = (a x + b) ** g + e`` for ``x >= d``, else ``c x + f``: ICC's parametric curve type 4
    (the others are special cases). Must increase on [0, 1]."""
    params = tuple(float(v) for v in (g, a, b, c, d, e, f))
    if not all(np.isfinite(params)) or g <= 0 or a <= 0 or c < 0:
        raise ValueError(f"not an increasing transfer curve: g, a, b, c, d, e, f = {params}")
    return Curve(name or f"parametric{params}", params=params)


def gamma(g: float) -> Curve:
    """The pure power ``y = x ** g`` (e.g. 2.2, or 1.8 for ProPhoto RGB).

    >>> gamma(2.2).decode(np.array([0.5])).round(4).tolist()
    [0.2176]
    """
    return parametric(g, name=f"gamma {g:g}")


def sampled(values, name: str = "sampled") -> Curve:
    """A curve given by its decoded values at ``n >= 2`` equally spaced points of [0, 1] (as an ICC
    ``curv`` table, scaled to [0, 1]), interpolated linearly; made non-decreasing."""
    v = np.maximum.accumulate(np.asarray(values, np.float64))
    if v.ndim != 1 or v.size < 2 or not np.all(np.isfinite(v)):
        raise ValueError("a sampled curve needs at least two finite values")
    on_grid = np.interp(_GRID, np.linspace(0.0, 1.0, v.size), v)
    # A strictly increasing table, so that encode (the inverse) is a function: flat runs rise by a
    # hair (1e-12 per step), far below any level of a 16-bit image.
    return Curve(name, samples=on_grid + np.arange(_GRID.size) * 1e-12)


#: IEC 61966-2-1 sRGB: linear below 0.04045, a 2.4 power above (the default of ``linear=True``).
SRGB = parametric(2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045, name="sRGB")
#: Values already in linear light.
LINEAR = parametric(1.0, name="linear")


def _interp(x, xs: np.ndarray, ys: np.ndarray, xp):
    """Piecewise-linear interpolation of ``(xs, ys)`` (``xs`` increasing) at ``x``, extended
    linearly past the last point."""
    if xp is np:
        y = np.interp(x, xs, ys)
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        return np.where(x > xs[-1], ys[-1] + (x - xs[-1]) * slope, y).astype(np.result_type(x, np.float32))
    xs_t, ys_t = xp.as_tensor(xs, dtype=x.dtype, device=x.device), xp.as_tensor(ys, dtype=x.dtype, device=x.device)
    i = xp.searchsorted(xs_t, x.detach().contiguous()).clamp(1, len(xs) - 1)
    x0, x1, y0, y1 = xs_t[i - 1], xs_t[i], ys_t[i - 1], ys_t[i]
    return y0 + (x - x0) * (y1 - y0) / (x1 - x0)


# --- ICC profiles -----------------------------------------------------------------------------


def curves_from_icc(profile: bytes) -> tuple[Curve, ...] | None:
    """The tone curves of an ICC profile: ``(red, green, blue)`` for an RGB profile, ``(grey,)`` for
    a grey one, or None when the profile has none (a lookup-table profile, or another colour
    space). Curves equal to sRGB's within 1e-4 are :data:`SRGB` itself, so that images carrying
    the common sRGB profiles resample exactly as images without one. Raises :class:`ICCError`
    for a malformed profile."""
    data = bytes(profile)
    if len(data) < 132:
        raise ICCError(f"ICC profile of {len(data)} bytes is truncated")
    space = data[16:20]
    (count,) = struct.unpack_from(">I", data, 128)
    tags = {}
    for i in range(min(count, (len(data) - 132) // 12)):
        signature, offset, size = struct.unpack_from(">4sII", data, 132 + 12 * i)
        tags[signature] = (offset, size)
    names = {b"RGB ": (b"rTRC", b"gTRC", b"bTRC"), b"GRAY": (b"kTRC",)}.get(space)
    if names is None or not all(n in tags for n in names):
        return None
    curves = []
    for n in names:
        offset, size = tags[n]
        if offset + size > len(data) or size < 12:
            raise ICCError(f"ICC tag {n.decode()} lies outside the profile")
        curve = _icc_curve(data[offset : offset + size], n.decode())
        curves.append(SRGB if curve.close_to(SRGB) else curve)
    return tuple(curves)


#: ICC ``para`` function types: how many parameters each has.
_PARA_COUNTS = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}


def _icc_curve(tag: bytes, name: str) -> Curve:
    kind = tag[:4]
    if kind == b"curv":
        (n,) = struct.unpack_from(">I", tag, 8)
        if len(tag) < 12 + 2 * n:
            raise ICCError(f"ICC curve {name} is truncated")
        if n == 0:
            return LINEAR
        values = np.frombuffer(tag, ">u2", n, 12).astype(np.float64)
        if n == 1:
            return gamma(values[0] / 256)  # u8Fixed8Number
        return sampled(values / 65535, f"{name} ({n} samples)")
    if kind == b"para":
        (function,) = struct.unpack_from(">H", tag, 8)
        if function not in _PARA_COUNTS or len(tag) < 12 + 4 * _PARA_COUNTS[function]:
            raise ICCError(f"ICC parametric curve {name} of type {function} is malformed")
        p = [v / 65536 for v in struct.unpack_from(f">{_PARA_COUNTS[function]}i", tag, 12)]
        g, a, b = p[0], *(p[1:3] if function else (1.0, 0.0))
        if function in (1, 2):  # zero (type 1) or c (type 2) below -b / a
            e = p[3] if function == 2 else 0.0
            return parametric(g, a, b, 0.0, -b / a, e, e, name=name)
        c, d = (p[3], p[4]) if function >= 3 else (0.0, 0.0)
        e, f = (p[5], p[6]) if function == 4 else (0.0, 0.0)
        return parametric(g, a, b, c, d, e, f, name=name)
    raise ICCError(f"ICC tag {name} is of type {kind!r}, not a curve")
