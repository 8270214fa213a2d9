"""Gaussian smoothing as ``scipy.ndimage.gaussian_filter`` computes it, bit for bit, 2-3x faster.

The screen analysis and the retargeting smooth tens of full-page planes per page, and their
decisions compare the results with thresholds (a pixel whose smoothed mask is exactly 0.5 is on
one side of a test or the other): a faster filter must give the same bits, not just close values.
So these loops repeat ndimage's arithmetic for an odd symmetric kernel (``correlate1d``): each
output is ``in[0] * w[0]``, then ``+ (in[-j] + in[j]) * w[j]`` for ``j`` from the kernel's radius
down to 1, in float64, along the columns (axis 0) first, then along the rows; edges ``reflect``
(``d c b a | a b c d``) or ``constant`` zeros. They are faster because their inner loops run along
contiguous rows (the vertical pass adds whole rows, the horizontal one a row's shifted copies),
which LLVM vectorises, and they take a stack of planes in one call.

:func:`demodulated_power` is the screen fit's (:mod:`rescale.screentone.analysis`) ten smoothed
planes reduced to the two maps it keeps, row by row: the same sums, without writing the planes
(the products, then each pass's output: tens of MB per group) to memory and reading them back.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .complex_product import numpy_form, product

__all__ = ["demodulated_power", "gaussian", "gaussian_kernel"]

_JIT = dict(nogil=True, cache=True, fastmath=False, boundscheck=False)
_MODES = {"reflect": 0, "constant": 1}


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The normalised Gaussian taps ``[2r + 1]`` ndimage uses, ``r = int(truncate * sigma + 0.5)``.

    Example:
        >>> gaussian_kernel(1.0, 2.0).round(4).tolist()
        [0.0545, 0.2442, 0.4026, 0.2442, 0.0545]
    """
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    return phi / phi.sum()


@nb.njit(inline="always", **_JIT)
def _edge(i, n, mode):
    """The sample read at index ``i`` of a line of ``n``: its reflection (period ``2n``), or -1 for
    a zero outside (``constant``)."""
    if 0 <= i < n:
        return i
    if mode == 1:
        return -1
    i %= 2 * n
    return i if i < n else 2 * n - 1 - i


@nb.njit(**_JIT)
def _vertical(src, dst, w, mode):
    """``dst[p, y] = sum_j w[j] src[p, y + j]`` (``[P, H, W]``) in ndimage's order (module
    docstring), a whole row at a time. A tap outside in ``constant`` mode adds ``(0 + v) w`` or
    ``0 w``: the same value as adding ``v w`` or nothing."""
    planes, h, width = src.shape
    r = (w.shape[0] - 1) // 2
    for p in range(planes):
        for y in range(h):
            out = dst[p, y]
            row, w0 = src[p, y], w[r]
            for x in range(width):
                out[x] = row[x] * w0
            for j in range(r, 0, -1):
                a, b, wj = _edge(y - j, h, mode), _edge(y + j, h, mode), w[r - j]
                if a >= 0 and b >= 0:
                    ra, rb = src[p, a], src[p, b]
                    for x in range(width):
                        out[x] = out[x] + (ra[x] + rb[x]) * wj
                elif a >= 0 or b >= 0:
                    rc = src[p, max(a, b)]
                    for x in range(width):
                        out[x] = out[x] + rc[x] * wj


@nb.njit(inline="always", **_JIT)
def _line_taps(line, w, out):
    """``out`` = the row held in ``line`` (its ``r`` edge pixels padded on each side) smoothed by
    the taps ``w``, the centre first, then the pairs of taps from the outermost in."""
    r = (w.shape[0] - 1) // 2
    width = out.shape[0]
    w0 = w[r]
    centre = line[r : r + width]
    for x in range(width):
        out[x] = centre[x] * w0
    # The taps' shifted views of the line, indexed from 0 (negative indices would be
    # wrapped around one by one, which stops the loop's vectorisation).
    for j in range(r, 0, -1):
        wj = w[r - j]
        a, b = line[r - j : r - j + width], line[r + j : r + j + width]
        for x in range(width):
            out[x] = out[x] + (a[x] + b[x]) * wj


@nb.njit(**_JIT)
def _horizontal(src, dst, w, mode):
    """``dst[p, y, x] = sum_j w[j] src[p, y, x + j]`` in ndimage's order, through a line buffer
    holding each row with its edges (so ``dst`` may be ``src``)."""
    planes, h, width = src.shape
    r = (w.shape[0] - 1) // 2
    line = np.empty(width + 2 * r)
    for p in range(planes):
        for y in range(h):
            row, out = src[p, y], dst[p, y]
            for i in range(-r, width + r):
                k = _edge(i, width, mode)
                line[i + r] = row[k] if k >= 0 else 0.0
            _line_taps(line, w, out)


def gaussian(img: np.ndarray, sigma: float, truncate: float = 4.0, mode: str = "reflect") -> np.ndarray:
    """``img`` ``[..., H, W]`` smoothed along its last two axes by a Gaussian of ``sigma`` px, in
    float64: each ``[H, W]`` plane exactly as ``scipy.ndimage.gaussian_filter(plane, sigma,
    truncate=truncate, mode=mode)`` gives it, ``mode`` ``"reflect"`` or ``"constant"`` (zeros).

    Example:
        >>> from scipy import ndimage
        >>> img = np.random.default_rng(0).random((2, 40, 50))
        >>> out = gaussian(img, 2.0, mode="constant")
        >>> out.shape, bool((out[1] == ndimage.gaussian_filter(img[1], 2.0, mode="constant")).all())
        ((2, 40, 50), True)
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be 'reflect' or 'constant', got {mode!r}")
    img = np.asarray(img, dtype=np.float64)
    if img.size == 0:
        return img.copy()
    h, w = img.shape[-2:]
    planes = np.ascontiguousarray(img.reshape(-1, h, w))
    kernel = gaussian_kernel(sigma, truncate)
    out = np.empty_like(planes)
    _vertical(planes, out, kernel, _MODES[mode])
    _horizontal(out, out, kernel, _MODES[mode])  # in place: each row is read into a buffer first
    return out.reshape(img.shape)


@nb.njit(**_JIT)
def _products(img, rows, cols, waves, form, y, out):
    """``out [2K + 2, W]``: row ``y`` of the planes :func:`demodulated_power` smooths, each wave
    ``rows[k, y] * cols[k]`` made as numpy's outer product makes it (``form``), or read from
    ``waves`` (``form`` -1)."""
    k = rows.shape[0]
    row = img[y]
    for i in range(k):
        re, im = out[2 * i], out[2 * i + 1]
        if form < 0:
            wave = waves[i, y]
            for x in range(row.shape[0]):
                re[x] = row[x] * wave[x].real
                im[x] = row[x] * wave[x].imag
        else:
            ar, ai = rows[i, y].real, rows[i, y].imag
            for x in range(row.shape[0]):
                wr, wi = product(ar, ai, cols[i, x].real, cols[i, x].imag, form)
                re[x] = row[x] * wr
                im[x] = row[x] * wi
    mean, square = out[2 * k], out[2 * k + 1]
    for x in range(row.shape[0]):
        mean[x] = row[x]
        square[x] = row[x] * row[x]


@nb.njit(**_JIT)
def _demodulated_power(img, rows, cols, waves, form, w, power, share):
    """:func:`demodulated_power`: each row of every plane smoothed down the columns from a ring of
    the ``2r + 1`` rows of products around it (the rows a reflected tap reads lie among them),
    then along the row, as :func:`_vertical` and :func:`_horizontal` add them."""
    h, width = img.shape
    k = rows.shape[0]
    planes = 2 * k + 2
    r = (w.shape[0] - 1) // 2
    ring_len = 2 * r + 1
    ring = np.empty((planes, ring_len, width))
    out_rows = np.empty((planes, width))
    column = np.empty(width)
    line = np.empty(width + 2 * r)
    ready = 0  # rows of products made so far
    for y in range(h):
        while ready < h and ready <= y + r:
            _products(img, rows, cols, waves, form, ready, ring[:, ready % ring_len])
            ready += 1
        w0 = w[r]
        for p in range(planes):
            mid = ring[p, y % ring_len]
            for x in range(width):
                column[x] = mid[x] * w0
            for j in range(r, 0, -1):
                a, b, wj = _edge(y - j, h, 0), _edge(y + j, h, 0), w[r - j]
                ra, rb = ring[p, a % ring_len], ring[p, b % ring_len]
                for x in range(width):
                    column[x] = column[x] + (ra[x] + rb[x]) * wj
            for i in range(-r, width + r):
                line[i + r] = column[_edge(i, width, 0)]
            _line_taps(line, w, out_rows[p])
        mean, square = out_rows[2 * k], out_rows[2 * k + 1]
        for x in range(width):
            acc = 0.0
            for i in range(k):
                re, im = out_rows[2 * i, x], out_rows[2 * i + 1, x]
                acc = acc + 2 * (re * re + im * im)
            power[y, x] = acc
            share[y, x] = acc / max(square[x] - mean[x] * mean[x], 1e-9)


def demodulated_power(
    img: np.ndarray, rows: np.ndarray, cols: np.ndarray, sigma: float, truncate: float = 3.0
) -> tuple:
    """The local power of the waves ``waves[k] = np.outer(rows[k], cols[k])`` (complex row and
    column factors ``[K, H]`` and ``[K, W]``: ``exp(i phase)`` of each frequency) in ``img`` (``[H,
    W]``), and its share of the local variance, ``[H, W]`` each, as

        re_k, im_k = gaussian(img * waves[k].real), gaussian(img * waves[k].imag)
        power = sum_k 2 * (re_k**2 + im_k**2)   (from 0, in order)
        share = power / max(gaussian(img * img) - gaussian(img)**2, 1e-9)

    give them bit for bit, every ``gaussian`` of ``sigma`` px, ``truncate``, edges ``reflect``. The
    waves are made row by row as numpy's outer product makes them on this machine
    (:func:`~rescale.screentone.complex_product.numpy_form`; by numpy itself where neither form is).

    Example:
        >>> img = np.random.default_rng(0).random((30, 40))
        >>> rows, cols = np.ones((1, 30), complex), np.exp(2j * np.pi * 0.25 * np.arange(40))[None]
        >>> power, share = demodulated_power(img, rows, cols, 2.0)
        >>> wave = np.outer(rows[0], cols[0])
        >>> re, im = gaussian(img * wave.real, 2.0, 3.0), gaussian(img * wave.imag, 2.0, 3.0)
        >>> bool((power == 0.0 + 2 * (re**2 + im**2)).all())
        True
    """
    img = np.ascontiguousarray(img, dtype=np.float64)
    rows = np.ascontiguousarray(rows, dtype=np.complex128)
    cols = np.ascontiguousarray(cols, dtype=np.complex128)
    form = numpy_form()
    if form is None:
        waves = np.stack([np.outer(a, b) for a, b in zip(rows, cols)])
    else:
        waves = np.zeros((rows.shape[0], 1, 1), dtype=np.complex128)  # not read
    power, share = np.empty(img.shape), np.empty(img.shape)
    if img.size:
        _demodulated_power(
            img, rows, cols, waves, -1 if form is None else form, gaussian_kernel(sigma, truncate), power, share
        )
    return power, share
