"""Binary erosion, dilation and opening by the 3x3 cross: ``scipy.ndimage``'s results (its default
structure, ``border_value=0``), 5-10x faster.

The analysis opens and erodes each candidate region's masks, over boxes that add up to more than
the page, a few times each. ndimage's generic loops visit each pixel's neighbourhood one at a
time; these run along whole rows (a pixel and its four neighbours are five loads and four ands or
ors, which vectorise). The results are booleans: the same pixels, whatever computes them.

:func:`thin` finds the thin parts of a region's flagged pixels (ndimage's 3x3 square opening)
over the region's box rather than a page-sized mask, in loops over that box. :func:`boxes` is
``ndimage.find_objects`` in one pass over a page's labels (the retargeting takes the boxes of four
page-sized label maps).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["erode", "dilate", "opening", "grow_within", "thin", "boxes"]


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _erode(src, dst):
    """``dst``: the pixels of ``src`` (uint8 ``[H, W]``) whose four neighbours are set too; outside
    the array counts as unset."""
    h, w = src.shape
    dst[:] = 0
    for y in range(1, h - 1):
        up, mid, down, out = src[y - 1], src[y], src[y + 1], dst[y]
        for x in range(1, w - 1):
            out[x] = mid[x] & up[x] & down[x] & mid[x - 1] & mid[x + 1]


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _dilate(src, dst):
    """``dst``: the pixels of ``src`` (uint8 ``[H, W]``) set or with a set neighbour of the four."""
    h, w = src.shape
    for y in range(h):
        mid, out = src[y], dst[y]
        for x in range(w):
            out[x] = mid[x]
        if y > 0:
            up = src[y - 1]
            for x in range(w):
                out[x] |= up[x]
        if y < h - 1:
            down = src[y + 1]
            for x in range(w):
                out[x] |= down[x]
        for x in range(1, w):
            out[x] |= mid[x - 1]
        for x in range(w - 1):
            out[x] |= mid[x + 1]


def _repeat(step, mask: np.ndarray, iterations: int) -> np.ndarray:
    """``step`` applied ``iterations`` (at least 1) times to the bool ``mask``, in two buffers."""
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    src = np.ascontiguousarray(mask, dtype=bool).view(np.uint8)
    out, spare = np.empty_like(src), None
    step(src, out)
    for _ in range(iterations - 1):
        spare = np.empty_like(out) if spare is None else spare
        step(out, spare)
        out, spare = spare, out
    return out.view(bool)


def erode(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """``scipy.ndimage.binary_erosion(mask, iterations=iterations)`` of the bool ``[H, W]`` ``mask``.

    Example:
        >>> erode(np.ones((3, 4), bool)).astype(int).tolist()
        [[0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    """
    return _repeat(_erode, mask, iterations)


def dilate(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """``scipy.ndimage.binary_dilation(mask, iterations=iterations)`` of the bool ``[H, W]`` ``mask``."""
    return _repeat(_dilate, mask, iterations)


def opening(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """``scipy.ndimage.binary_opening(mask, iterations=iterations)``: eroded, then dilated."""
    return dilate(erode(mask, iterations), iterations)


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _grow(seed, mask, steps, out):
    """``out``: ``seed`` grown by up to ``steps`` 4-neighbour steps into the pixels of ``mask``
    (uint8 ``[H, W]`` each), breadth first."""
    h, w = seed.shape
    queue = np.empty(h * w, np.int64)
    count = 0
    for i in range(h * w):
        out.flat[i] = seed.flat[i]
        if seed.flat[i]:
            queue[count] = i
            count += 1
    start = 0
    for _ in range(steps):
        end = count
        if start == end:
            break
        for q in range(start, end):
            i = queue[q]
            y, x = i // w, i % w
            for j in (
                i - w if y > 0 else -1,
                i + w if y < h - 1 else -1,
                i - 1 if x > 0 else -1,
                i + 1 if x < w - 1 else -1,
            ):
                if j >= 0 and mask.flat[j] and not out.flat[j]:
                    out.flat[j] = 1
                    queue[count] = j
                    count += 1
        start = end


def grow_within(seed: np.ndarray, mask: np.ndarray, steps: int) -> np.ndarray:
    """``scipy.ndimage.binary_dilation(seed, iterations=steps, mask=mask)`` (bool ``[H, W]`` each,
    ``steps`` at least 1): the pixels of ``mask`` within ``steps`` 4-neighbour steps of ``seed``
    through ``mask`` pixels, and ``seed`` itself. Each iteration of ndimage's adds the pixels of
    ``mask`` next to the set; breadth first, each pixel is visited once.

    Example:
        >>> seed = np.zeros((1, 6), bool)
        >>> seed[0, 0] = True
        >>> mask = np.array([[0, 1, 1, 0, 1, 1]], bool)
        >>> grow_within(seed, mask, 4).astype(int).tolist()
        [[1, 1, 1, 0, 0, 0]]
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    seed = np.ascontiguousarray(seed, dtype=bool).view(np.uint8)
    out = np.empty_like(seed)
    _grow(seed, np.ascontiguousarray(mask, dtype=bool).view(np.uint8), steps, out)
    return out.view(bool)


def thin(ys: np.ndarray, xs: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Of the pixels ``(ys[i], xs[i])`` (int arrays ``[N]``, any order), those ``flags`` ``[N]``
    (bool) sets and no 3x3 square of set pixels covers: ``mask & ~ndimage.binary_opening(mask,
    np.ones((3, 3)))`` read at the pixels, for the page-sized ``mask`` of the set ones. The opening
    runs over the pixels' bounding box only: outside it nothing is set, as outside ndimage's border.

    Example:
        >>> ys, xs = np.divmod(np.arange(12), 4)  # a 3x4 block, the last column unset
        >>> thin(ys, xs, xs < 3).reshape(3, 4).astype(int).tolist()
        [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
        >>> thin(ys, xs, xs < 2).reshape(3, 4).astype(int).tolist()
        [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]]
    """
    if len(ys) == 0:
        return np.zeros(0, dtype=bool)
    out = np.empty(len(ys), dtype=np.uint8)
    _thin(
        np.ascontiguousarray(ys, dtype=np.int64),
        np.ascontiguousarray(xs, dtype=np.int64),
        np.ascontiguousarray(flags, dtype=bool).view(np.uint8),
        out,
    )
    return out.view(bool)


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _thin(ys, xs, flags, out):
    """:func:`thin` over the pixels' box: the flagged pixels no 3x3 square of flagged ones covers
    (the opening's erosion and dilation by the square, each as three across then three down;
    outside the box counts as unset)."""
    y0, x0 = ys.min(), xs.min()
    h, w = ys.max() - y0 + 1, xs.max() - x0 + 1
    mask = np.zeros((h, w), np.uint8)
    for i in range(ys.shape[0]):
        mask[ys[i] - y0, xs[i] - x0] = flags[i]
    across = np.zeros((h, w), np.uint8)
    for y in range(h):
        for x in range(1, w - 1):
            across[y, x] = mask[y, x - 1] & mask[y, x] & mask[y, x + 1]
    core = np.zeros((h, w), np.uint8)  # the erosion: the centres of the squares
    for y in range(1, h - 1):
        for x in range(w):
            core[y, x] = across[y - 1, x] & across[y, x] & across[y + 1, x]
    for y in range(h):
        for x in range(w):
            left = core[y, x - 1] if x > 0 else 0
            right = core[y, x + 1] if x < w - 1 else 0
            across[y, x] = left | core[y, x] | right
    for i in range(ys.shape[0]):
        y, x = ys[i] - y0, xs[i] - x0
        up = across[y - 1, x] if y > 0 else 0
        down = across[y + 1, x] if y < h - 1 else 0
        out[i] = flags[i] & ~(up | across[y, x] | down) & 1


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _extents(labels, n, out):
    """``out[k - 1]``: the first and last row and the first and last column (``[4]``) of label ``k``
    in ``labels`` (``[H, W]``), for ``k`` in 1..n; rows -1 where it is absent."""
    h, w = labels.shape
    for y in range(h):
        row = labels[y]
        for x in range(w):
            k = row[x]
            if k < 1 or k > n:
                continue
            e = out[k - 1]
            if e[0] < 0:
                e[0], e[2], e[3] = y, x, x
            elif x < e[2]:
                e[2] = x
            elif x > e[3]:
                e[3] = x
            e[1] = y


def boxes(labels: np.ndarray, max_label: int | None = None) -> list:
    """``scipy.ndimage.find_objects(labels, max_label)`` for a 2-d int array: for each label 1..``max_label``
    (default: the largest), the pair of slices of its bounding box, or ``None`` where it is absent.

    Example:
        >>> labels = np.array([[0, 2, 2], [0, 0, 2], [3, 0, 0]])
        >>> boxes(labels)
        [None, (slice(0, 2, None), slice(1, 3, None)), (slice(2, 3, None), slice(0, 1, None))]
    """
    labels = np.asarray(labels)
    if max_label is None:
        max_label = int(labels.max()) if labels.size else 0
    out = np.full((max(max_label, 0), 4), -1, dtype=np.int64)
    if labels.size and max_label > 0:
        _extents(np.ascontiguousarray(labels), int(max_label), out)
    return [None if y0 < 0 else (slice(int(y0), int(y1) + 1), slice(int(x0), int(x1) + 1)) for y0, y1, x0, x1 in out]
