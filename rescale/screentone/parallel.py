"""Threads for the screentone steps: the work per tile batch or per region is numpy / scipy / FFT
calls, which release the GIL, so threads of one process run it side by side without copies."""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor

__all__ = ["ahead", "thread_count"]


def thread_count(workers: int | None = None) -> int:
    """``workers``, or by default the CPU kernels' thread count (:func:`rescale.kernels.get_num_threads`:
    all cores unless the caller set it; the batch command line's worker processes set 1, their
    parallelism being the processes)."""
    if workers is None:
        from .. import kernels

        workers = kernels.get_num_threads()
    return max(1, int(workers))


def ahead(fn, items: list, workers: int):
    """``fn(item)`` for each item, in order, computed by ``workers`` threads up to ``2 * workers``
    items ahead of the one consumed (so that results wait in memory for a few items only).

    Example:
        >>> list(ahead(lambda x: x * x, [1, 2, 3], workers=2))
        [1, 4, 9]
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
