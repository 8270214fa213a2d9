"""Which exact path resamples a PIL image or numpy array: Pillow's own ``Image.resize`` or our CPU
kernels (``backend="auto"``).

Both give the same bits where Pillow's resize applies: 8-bit L, LA, RGB, RGBA and 16-bit I;16
images, with Pillow's six filters and Pillow's conventions (antialiased, taps past the border
dropped), on Pillow 13 or newer (older Pillow orders its passes differently). ``tests/core/
test_fastpath.py`` checks the two paths against each other on generated images.

They differ in what they cost. Pillow is imported already and starts at once, but resamples about
10-20x slower than the kernels; the kernels need numba, whose import and the loading of the
compiled loops cost about half a second (and a one-time compile, seconds, on a fresh install). So
the rule, per process, is the ski-rental one: Pillow until the Pillow work done so far together
with this call's would pass :data:`KERNEL_WORK` (about what loading the kernels costs), the
kernels from then on, and at once when they are loaded anyway. A loop over many images thus
switches to the kernels after a few, a single small image never loads numba, and the total is
never much more than twice that of the better choice made in hindsight.
"""

from __future__ import annotations

import math
import sys

from .filters import Filter

__all__ = ["pillow_filter", "pillow_mode", "work", "choose", "prefer_kernels", "kernels_loaded", "KERNEL_WORK"]

#: Multiply-adds (samples x taps, both passes, as :func:`work` counts them) of Pillow work that
#: cost about what loading the cached kernels costs: Pillow takes ~0.6 ns per multiply-add, loading
#: (numba's import and the compiled loops) ~0.4-0.9 s on the 2-core development machine, measured
#: with bench/startup.py and the calibration in docs/startup.md, e.g. four 12-megapixel photos
#: halved with bicubic, or 300 BSD100-sized ones.
KERNEL_WORK = 1e9

#: Pillow's filter codes (``Image.Resampling``) for our filters with Pillow's parameters.
_PILLOW_CODES = {
    ("box", ()): 4,
    ("bilinear", ()): 2,
    ("hamming", ()): 5,
    ("bicubic", (-0.5,)): 3,
    ("lanczos", (3.0,)): 1,
    ("mks2013", ()): 6,
    ("mks2021", ()): 7,
}
#: (dtype, channels, alpha) -> the PIL mode holding such pixels.
_MODES = {
    ("uint8", 1, False): "L",
    ("uint8", 2, True): "LA",
    ("uint8", 3, False): "RGB",
    ("uint8", 4, True): "RGBA",
    ("uint16", 1, False): "I;16",
}

_done = 0.0  # Pillow work done by this process so far
_prefer_kernels = False


def pillow_filter(filt: Filter, dtype: str, antialias: bool, edge: str, shrinks: bool) -> int | None:
    """Pillow's filter code when its ``Image.resize`` gives our result for ``filt`` on pixels of
    ``dtype`` ("uint8" or "uint16"), else None."""
    if edge != "renormalize" or (shrinks and not antialias) or not _pillow_is_exact():
        return None
    if filt.nearest:  # Pillow's own index rule: accumulated for 8 bits, direct for 16
        return 0 if dtype == "uint16" or filt.params == ("accumulate",) else None
    return _PILLOW_CODES.get((filt.name, filt.params))


def pillow_mode(dtype: str, channels: int, has_alpha: bool) -> str | None:
    """The PIL mode of ``HxWxchannels`` pixels of ``dtype`` (alpha last when ``has_alpha``), or None."""
    return _MODES.get((dtype, channels, bool(has_alpha)))


def work(w: int, h: int, out_w: int, out_h: int, channels: int, filt: Filter, antialias: bool = True) -> float:
    """Multiply-adds of resizing ``w x h`` to ``out_w x out_h`` (both passes, horizontal first)."""
    taps_w = _taps(filt, w, out_w, antialias) if w != out_w else 0
    taps_h = _taps(filt, h, out_h, antialias) if h != out_h else 0
    return float(channels) * (h * out_w * taps_w + out_h * out_w * taps_h)


def choose(job_work: float) -> str:
    """``"pillow"`` or ``"kernels"`` for a call of ``job_work`` (see :func:`work`) that both can do;
    counts the work given to Pillow."""
    global _done, _prefer_kernels
    if _prefer_kernels or kernels_loaded() or _done + job_work >= KERNEL_WORK:
        _prefer_kernels = True  # they are loaded from now on: no way back
        return "kernels"
    _done += job_work
    return "pillow"


def prefer_kernels() -> None:
    """Use the kernels from now on in this process (and the processes it forks): for a batch
    known to be large, before its workers start."""
    global _prefer_kernels
    _prefer_kernels = True


def kernels_loaded() -> bool:
    """Whether this process has loaded the CPU kernels (numba) already."""
    return "rescale.kernels.cpu" in sys.modules


def _taps(filt: Filter, n_in: int, n_out: int, antialias: bool) -> int:
    scale = n_in / n_out
    support = filt.support * (max(scale, 1.0) if antialias else 1.0)
    return 1 if filt.nearest else 2 * math.ceil(support) + 1


def _pillow_is_exact() -> bool:
    from PIL import __version__

    return int(__version__.split(".")[0]) >= 13
