"""The memory a batch run may use: what one file needs (:func:`estimate`), and a budget its workers
share (:class:`MemoryBudget`), so that neither one crafted file nor many workers at once exhaust
the machine.

A file's size record (``rescale up``) or a large ``--scale`` can ask for an output far bigger than
the file: a 180-byte PNG can ask for 16384x16384 pixels. Before a file's pixels are decoded, its
job's peak memory is estimated from the sizes alone (decoded input, resampling buffers, the output
and its encoding) and reserved from the run's budget:

- a file whose estimate is over the whole budget fails, with the estimate and the limit in its
  message (``--max-memory`` raises the limit);
- otherwise it waits until that much of the budget is free: the reservations of all the workers
  of a run together never exceed the budget, so ``--workers N`` does not multiply the memory at
  risk. Files are served first come, first served, so a large one is not starved by small ones.

The budget defaults to the memory available when the run starts (:func:`available_memory`: the
kernel's ``MemAvailable``, or the room left under a cgroup's limit when that is smaller).

The estimate is ``in_samples * (in_bytes + A) + out_samples * (out_bytes + B) + C`` (a sample is
one channel of one pixel) with ``A``, ``B``, ``C`` per kind of method (:data:`COSTS`): what one
process measured (``bench/memory.py --costs``: peak resident memory over the resident memory
before the call), rounded up. Filters take at most 13 bytes per output sample (RGBA enlarged:
premultiplied in int32) and 10 per input sample (RGBA shrunk); networks up to 74 per output sample
(IARN x3 up; IRN x4 up: 63) and 60 per input sample (IARN down), plus a fixed part for their
weights and tiles; screentone retargeting, which analyses the page in float64, 193 per input
sample (shrinking) and 313 per output sample (enlarging).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from ..methods import is_method
from .files import ImageError, bands_of

__all__ = [
    "COSTS",
    "Cost",
    "MemoryBudget",
    "OverBudget",
    "available_memory",
    "estimate",
    "kind_of",
    "format_bytes",
    "install",
    "current",
]

BYTES_PER_SAMPLE = {"L": 1, "LA": 1, "RGB": 1, "RGBA": 1, "I;16": 2, "F": 4, "RGB;16": 2, "RGBA;16": 2}
#: More bytes per sample for 16-bit colour: decoded as two 8-bit images (4 bytes a pixel each)
#: then joined (rescale.batch.files.decode), and with alpha resampled in float64.
DEEP_EXTRA = {"RGB;16": (6, 0), "RGBA;16": (24, 16)}


@dataclass(frozen=True)
class Cost:
    """Bytes of working memory per input sample, per output sample, and fixed."""

    per_in: int
    per_out: int
    fixed: int


#: Working memory by kind of method: "filter" (rescale.rescale's kernels), "network" (learned
#: methods), "screentone". See the module docstring for where the numbers come from.
COSTS = {"filter": Cost(12, 16, 0), "network": Cost(72, 120, 256 << 20), "screentone": Cost(224, 384, 64 << 20)}


class OverBudget(ImageError):
    """A file whose job needs more memory than the run's whole budget."""


def kind_of(method: str | None, screentone: bool = False) -> str:
    """The key of :data:`COSTS` for ``method`` (``--screentone`` may pick screentone per page)."""
    if screentone or method == "screentone":
        return "screentone"
    return "network" if is_method(method) else "filter"


def estimate(in_size: tuple[int, int], out_size: tuple[int, int], mode: str, kind: str = "filter") -> int:
    """Estimated peak bytes of one file's job: an upright ``in_size`` image of ``mode`` (one of
    ``rescale.batch.files.KEPT_MODES``) resampled to ``out_size`` by a method of ``kind`` (a key of
    :data:`COSTS`).

    >>> round(estimate((1, 1), (16384, 16384), "RGBA") / 2**30, 1)  # the crafted record of issue 16
    17.0
    """
    bands, depth = bands_of(mode), BYTES_PER_SAMPLE.get(mode, 4)
    cost = COSTS[kind]
    extra_in, extra_out = DEEP_EXTRA.get(mode, (0, 0))
    in_samples = in_size[0] * in_size[1] * bands
    out_samples = out_size[0] * out_size[1] * bands
    return in_samples * (depth + cost.per_in + extra_in) + out_samples * (depth + cost.per_out + extra_out) + cost.fixed


def available_memory() -> int | None:
    """Bytes this process could still allocate: ``MemAvailable``, or less under a cgroup limit
    (containers); None when the system does not say (then there is no default budget)."""
    found = []
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),  # v1
    ):
        with contextlib.suppress(OSError, ValueError):
            limit = open(limit_file).read().strip()
            if limit != "max" and int(limit) < 1 << 60:
                found.append(max(0, int(limit) - int(open(usage_file).read())))
    if not found and hasattr(os, "sysconf"):
        with contextlib.suppress(OSError, ValueError):
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return min(found) if found else None


def format_bytes(n: float) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


class _Counter:
    """A plain integer with a ``value``, for a budget shared by threads only."""

    def __init__(self, value: int):
        self.value = value


class MemoryBudget:
    """``total`` bytes shared by the threads of this process or, made with a multiprocessing
    context ``ctx``, by the processes it starts (pass the budget to them when they start, e.g.
    through a pool's ``initargs``). ``total`` 0 means no limit.

    >>> budget = MemoryBudget(1 << 30)
    >>> with budget.reserve(600 << 20, "a.png"):
    ...     pass  # at most 1 GB reserved at a time, across all users of the budget
    """

    def __init__(self, total: int, ctx=None):
        self.total = max(0, int(total))
        if ctx is None:
            self._cond = threading.Condition()
            self._free, self._next, self._serving = _Counter(self.total), _Counter(0), _Counter(0)
        else:
            self._cond = ctx.Condition()
            self._free, self._next, self._serving = (ctx.Value("q", v, lock=False) for v in (self.total, 0, 0))

    def check(self, nbytes: int, what: str = "this file") -> None:
        """:class:`OverBudget` if ``nbytes`` are more than the whole budget."""
        if self.total and nbytes > self.total:
            raise OverBudget(
                f"{what} needs about {format_bytes(nbytes)} of memory, more than the run's budget of "
                f"{format_bytes(self.total)}; raise it with --max-memory (e.g. --max-memory "
                f"{math.ceil(nbytes / (1 << 30))}G) if the machine has that much"
            )

    @contextlib.contextmanager
    def reserve(self, nbytes: int, what: str = "this file") -> Iterator[None]:
        """Hold ``nbytes`` of the budget for the ``with`` block, waiting for them (in turn) if they
        are not free; :class:`OverBudget` at once if they are more than the whole budget."""
        self.check(nbytes, what)
        if not self.total:
            yield
            return
        with self._cond:
            ticket = self._next.value
            self._next.value += 1
            while self._serving.value != ticket or self._free.value < nbytes:
                self._cond.wait()
            self._free.value -= nbytes
            self._serving.value += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._free.value += nbytes
                self._cond.notify_all()


_INSTALLED: MemoryBudget | None = None


def install(budget: MemoryBudget | None) -> None:
    """Make ``budget`` the one :func:`current` returns in this process (a pool's initializer; None
    to remove it)."""
    global _INSTALLED
    _INSTALLED = budget


def current(max_memory: int | None = None) -> MemoryBudget:
    """The budget installed in this process, else a new one of ``max_memory`` bytes (None: the
    memory available now; 0: no limit), for a caller that runs one file at a time (a Ray task)."""
    if _INSTALLED is not None:
        return _INSTALLED
    return MemoryBudget((available_memory() if max_memory is None else max_memory) or 0)
