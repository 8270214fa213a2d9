"""Resampling filters and the registry that maps method names to them.

A filter is a 1-D kernel ``f(x)`` with a finite ``support``: ``f(x) == 0`` for ``|x| >= support``.
The formulas of Pillow's filters are copied operation for operation from Pillow's ``Resample.c`` and
evaluated with the ``math`` module (the C library's ``sin``/``cos``), so that the coefficient tables,
and therefore the 8-bit results, are bit-identical to Pillow's.

Adding a method is one entry: ``register("name", factory)`` where ``factory(**params)`` returns a
:class:`Filter`. Pillow's filter constants (``Image.Resampling.LANCZOS``, or the plain int) name the
same filters (:data:`PILLOW_FILTERS`).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "Filter",
    "register",
    "get_filter",
    "available",
    "bicubic",
    "lanczos",
    "mitchell",
    "gaussian",
    "EDGES",
    "PILLOW_FILTERS",
]

#: How taps past the border are treated (``edge=``): dropped and the rest renormalised (Pillow),
#: mirrored (MATLAB) or clamped (OpenCV); see :mod:`rescale.tables`.
EDGES = ("renormalize", "symmetric", "clamp")


@dataclass(frozen=True)
class Filter:
    """A separable resampling kernel.

    ``name`` identifies the filter in caches (two filters with the same name and params are the
    same filter), ``fn`` is the kernel, ``support`` its half-width in input pixels at scale 1.
    ``nearest`` marks point sampling, which has no kernel and its own (Pillow) index rule.
    """

    name: str
    support: float
    fn: Callable[[float], float] = field(compare=False, repr=False)
    params: tuple = ()
    nearest: bool = False

    def __call__(self, x: float) -> float:
        return self.fn(x)

    def __reduce__(self):
        # ``fn`` is a closure that pickle cannot carry: rebuild from the registry (for DataLoader
        # workers started with "spawn").
        return (_rebuild, (self.name, self.params))


def _rebuild(name: str, params: tuple) -> Filter:
    if name == "box":
        return get_filter("box")
    if name in ("bilinear", "hamming", "mks2013", "mks2021"):
        return get_filter(name)
    if name == "lanczos":
        return lanczos(int(params[0]))
    factories = {"nearest": _nearest, "bicubic": bicubic, "mitchell": mitchell, "gaussian": gaussian}
    return factories[name](*params)


_REGISTRY: dict[str, Callable[..., Filter]] = {}


def register(name: str, factory: Callable[..., Filter]) -> None:
    """Make ``factory`` available as ``method=name`` everywhere (API, CLI, transforms)."""
    _REGISTRY[name] = factory


def available() -> list[str]:
    """Names of all registered filters."""
    return sorted(_REGISTRY)


#: Pillow's filter constants (``PIL.Image.Resampling``, an ``IntEnum``) -> our filter names.
PILLOW_FILTERS = {
    0: "nearest",
    1: "lanczos",
    2: "bilinear",
    3: "bicubic",
    4: "box",
    5: "hamming",
    6: "mks2013",
    7: "mks2021",
}


def get_filter(method: str | int | Filter, **params) -> Filter:
    """Resolve a method name (with optional params such as ``a=-0.75``), one of Pillow's filter
    constants (``Image.Resampling.LANCZOS``), or pass a Filter through.

    >>> get_filter("lanczos") == get_filter(1)  # Image.Resampling.LANCZOS == 1
    True
    """
    if isinstance(method, Filter):
        if params:
            raise TypeError("filter parameters cannot be combined with a Filter instance")
        return method
    if isinstance(method, int) and not isinstance(method, bool):
        if method not in PILLOW_FILTERS:
            raise ValueError(f"unknown Pillow filter {method!r}; Pillow's are {PILLOW_FILTERS}")
        method = PILLOW_FILTERS[method]
    if not isinstance(method, str):
        raise TypeError(
            f"method must be a name, a Pillow filter (Image.Resampling.X) or a rescale.filters.Filter, "
            f"got {type(method).__name__}"
        )
    try:
        factory = _REGISTRY[method.lower()]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; available: {', '.join(available())}") from None
    return factory(**params)


# --- Pillow's filters (Resample.c), same operations in the same order ----------------------------


def _box(x: float) -> float:
    if x > -0.5 and x <= 0.5:
        return 1.0
    return 0.0


def _bilinear(x: float) -> float:
    if x < 0.0:
        x = -x
    if x < 1.0:
        return 1.0 - x
    return 0.0


# Pillow writes these as float literals (0.54f, 0.46f): their float32 values, widened to double.
_F32_054 = struct.unpack("f", struct.pack("f", 0.54))[0]
_F32_046 = struct.unpack("f", struct.pack("f", 0.46))[0]


def _hamming(x: float) -> float:
    if x < 0.0:
        x = -x
    if x == 0.0:
        return 1.0
    if x >= 1.0:
        return 0.0
    x = x * math.pi
    return math.sin(x) / x * (_F32_054 + _F32_046 * math.cos(x))


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


def bicubic(a: float = -0.5) -> Filter:
    """Keys cubic convolution. ``a=-0.5`` is Pillow's and MATLAB's, ``a=-0.75`` OpenCV's and torch's
    (without antialias)."""
    a = float(a)

    def fn(x: float) -> float:
        if x < 0.0:
            x = -x
        if x < 1.0:
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
        if x < 2.0:
            return (((x - 5) * x + 8) * x - 4) * a
        return 0.0

    return Filter("bicubic", 2.0, fn, (a,))


def lanczos(a: int = 3) -> Filter:
    """Windowed sinc with ``a`` lobes (Pillow's LANCZOS is ``a=3``)."""
    if a <= 0:
        raise ValueError(f"lanczos needs a positive lobe count, got {a}")
    a = float(a)

    def fn(x: float) -> float:
        if -a <= x and x < a:
            return _sinc(x) * _sinc(x / a)
        return 0.0

    return Filter("lanczos", a, fn, (a,))


def mitchell(b: float = 1 / 3, c: float = 1 / 3) -> Filter:
    """Mitchell-Netravali cubic (B = C = 1/3 by default)."""
    b, c = float(b), float(c)

    def fn(x: float) -> float:
        x = abs(x)
        if x < 1.0:
            return ((12 - 9 * b - 6 * c) * x**3 + (-18 + 12 * b + 6 * c) * x**2 + (6 - 2 * b)) / 6
        if x < 2.0:
            return ((-b - 6 * c) * x**3 + (6 * b + 30 * c) * x**2 + (-12 * b - 48 * c) * x + (8 * b + 24 * c)) / 6
        return 0.0

    return Filter("mitchell", 2.0, fn, (b, c))


def gaussian(sigma: float = 0.5, support: float = 2.0) -> Filter:
    """Gaussian ``exp(-x^2 / (2 sigma^2))`` cut at ``support`` (ImageMagick's defaults)."""
    if not (sigma > 0 and support > 0):
        raise ValueError("gaussian needs positive sigma and support")
    sigma, support = float(sigma), float(support)

    def fn(x: float) -> float:
        if -support < x < support:
            return math.exp(-x * x / (2 * sigma * sigma))
        return 0.0

    return Filter("gaussian", support, fn, (sigma, support))


def _mks2013(x: float) -> float:
    # Magic Kernel Sharp 2013 (J. Costella), Pillow's MKS2013: piecewise quadratic, support 2.5.
    if x < 0.0:
        x = -x
    if x < 0.5:
        return 17.0 / 16.0 - 7.0 / 4.0 * (x * x)
    if x < 1.5:
        return (1.0 - x) * (7.0 / 4.0 - x)
    if x < 2.5:
        x -= 2.5
        return -1.0 / 8.0 * (x * x)
    return 0.0


def _mks2021(x: float) -> float:
    # Magic Kernel Sharp 2021, Pillow's MKS2021: piecewise quadratic, support 4.5.
    if x < 0.0:
        x = -x
    if x < 0.5:
        return 577.0 / 576.0 - 239.0 / 144.0 * (x * x)
    if x < 1.5:
        return 35.0 / 36.0 * (x - 1.0) * (x - 239.0 / 140.0)
    if x < 2.5:
        return 1.0 / 6.0 * (x - 2.0) * (65.0 / 24.0 - x)
    if x < 3.5:
        return 1.0 / 36.0 * (x - 3.0) * (x - 15.0 / 4.0)
    if x < 4.5:
        x -= 4.5
        return -1.0 / 288.0 * (x * x)
    return 0.0


def _nearest(rule: str = "accumulate") -> Filter:
    """Point sampling. ``rule`` picks Pillow's index arithmetic: "accumulate" (its 8-bit and float
    path) or "direct" (its 16-bit path); see ``tables._nearest_table``."""
    if rule not in ("accumulate", "direct"):
        raise ValueError(f"nearest rule must be 'accumulate' or 'direct', got {rule!r}")
    return Filter("nearest", 0.5, _box, (rule,), nearest=True)


register("nearest", _nearest)
register("box", lambda: Filter("box", 0.5, _box))
register("area", lambda: Filter("box", 0.5, _box))
register("bilinear", lambda: Filter("bilinear", 1.0, _bilinear))
register("hamming", lambda: Filter("hamming", 1.0, _hamming))
register("bicubic", bicubic)
register("lanczos", lanczos)
register("lanczos2", lambda: lanczos(2))
register("lanczos3", lambda: lanczos(3))
register("mitchell", mitchell)
register("gaussian", gaussian)
register("mks2013", lambda: Filter("mks2013", 2.5, _mks2013))
register("mks2021", lambda: Filter("mks2021", 4.5, _mks2021))
