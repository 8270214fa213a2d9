"""Threads for the screentone steps: the work per tile batch or per region is numpy / scipy / FFT
calls, which release the GIL, so threads of one process run it side by side without copies."""

from __future__ import annotations

from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

__all__ = ["ahead", "as_done", "largest_first", "thread_count"]


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


def as_done(fn, items: list, workers: int):
    """``fn(item)`` for each item, computed by ``workers`` threads with up to ``2 * workers`` items
    in hand, each result as soon as it is done: for work whose results may be used in any order
    (regions written under their own disjoint masks). Unlike :func:`ahead`, a slow item (the
    largest region) does not hold back the ones after it, so no thread waits while one is left.

    Example:
        >>> sorted(as_done(lambda x: x * x, [1, 2, 3], workers=2))
        [1, 4, 9]
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    todo = iter(items)
    with ThreadPoolExecutor(workers) as pool:
        running = {pool.submit(fn, item) for _, item in zip(range(2 * workers), todo)}
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                running |= {pool.submit(fn, item) for _, item in zip(range(1), todo)}


def largest_first(boxes: list) -> list:
    """``(k, box)`` for each label ``k`` (from 1) of ``boxes`` (``ndimage.find_objects``'s list:
    pairs of slices, or ``None`` for a label that is absent), the largest boxes first: handed to
    :func:`as_done` in this order, the largest regions start first and the last ones to finish are
    small, so the threads end together (longest processing time first).

    Example:
        >>> largest_first([(slice(0, 2), slice(0, 2)), None, (slice(0, 5), slice(1, 3))])
        [(3, (slice(0, 5, None), slice(1, 3, None))), (1, (slice(0, 2, None), slice(0, 2, None)))]
    """
    items = [(k, box) for k, box in enumerate(boxes, 1) if box is not None]
    return sorted(items, key=lambda item: -(item[1][0].stop - item[1][0].start) * (item[1][1].stop - item[1][1].start))
