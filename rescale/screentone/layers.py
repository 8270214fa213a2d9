"""A scan's page split, per pixel, into the screen alone and what is drawn over it, in one pass.

:func:`rescale.screentone.retarget.retarget` reads, on a grey scan, what darkens each screen (the
strokes over it) against the screen alone (:func:`~rescale.screentone.retarget._screen_alone`):
five page-sized numpy expressions, each a few temporaries of the page, on the calling thread
between the parallel steps. :func:`scan_layers` computes the same values (numpy's float64
operations, in its order) in one loop over the page.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["scan_layers"]


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _layers(page, alone, spread, inside, faint, light, sure, taken, clean):
    c, h, w = page.shape
    for y in range(h):
        for x in range(w):
            a, floor = alone[y, x], max(spread[y, x], 0.04)
            lt = a if inside[y, x] else 1.0
            light[0, y, x] = lt
            total = 0.0
            for k in range(c):
                p = page[k, y, x]
                s = max(lt - p - floor, 0.0) if inside[y, x] else 0.0
                total = s if k == 0 else total + s  # numpy's reduction over the channels
                taken[k, y, x] = max(lt - p, 0.0) if faint[y, x] else 0.0
                clean[k, y, x] = a if faint[y, x] else p
            sure[y, x] = total / c


def scan_layers(page: np.ndarray, alone: np.ndarray, spread: np.ndarray, inside: np.ndarray, faint: np.ndarray):
    """``(light, sure, taken, clean)`` of a grey scan ``page`` ``[C, H, W]`` with its screens alone
    ``alone`` and their reads' ``spread`` (``[H, W]``), the screens' interiors ``inside`` and the
    faint strokes over them ``faint`` (bool ``[H, W]``), as

        light = np.where(inside, alone, 1.0)[None]                          # [1, H, W]
        sure = np.where(inside, np.maximum(light - page - np.maximum(spread, 0.04), 0.0), 0.0).mean(0)
        taken = np.where(faint, np.maximum(light - page, 0.0), 0.0)         # [C, H, W]
        clean = np.where(faint, alone, page)                                # [C, H, W]

    give them (``sure``, ``[H, W]``, is the darkening surely a stroke's, over the channels).

    Example:
        >>> page, alone, spread = np.array([[[0.2, 0.9]]]), np.array([[0.8, 0.8]]), np.zeros((1, 2))
        >>> layers = scan_layers(page, alone, spread, np.ones((1, 2), bool), np.array([[True, False]]))
        >>> [a.round(2).tolist() for a in layers]
        [[[[0.8, 0.8]]], [[0.56, 0.0]], [[[0.6, 0.0]]], [[[0.8, 0.9]]]]
    """
    page = np.ascontiguousarray(page, dtype=np.float64)
    light = np.empty((1, *page.shape[1:]))
    taken, clean = np.empty(page.shape), np.empty(page.shape)
    sure = np.empty(page.shape[1:])
    _layers(
        page,
        np.ascontiguousarray(alone, dtype=np.float64),
        np.ascontiguousarray(spread, dtype=np.float64),
        np.ascontiguousarray(inside, dtype=bool),
        np.ascontiguousarray(faint, dtype=bool),
        light,
        sure,
        taken,
        clean,
    )
    return light, sure, taken, clean
