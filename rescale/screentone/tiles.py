"""Steps 1 and 2 of the screen analysis (:mod:`rescale.screentone.analysis`): which tiles of a page
hold a screen, of which kind, and which screen tiles belong to one screen.

The local spectra of overlapping tiles (one batched FFT) say which tiles hold a screen and which:
dots have two strong, sharp peaks at right angles, line screens one strong, sharp peak, noise
screens a dense grain (many ink/paper changes) with no peak at all. Neighbouring screen tiles of
one kind whose peaks agree (the same lattice) are then grouped: each group is one screen hypothesis,
with its wave vectors.

About 530 lines: the features are read from one batch of half-plane spectra, and the numba loops
that read them (each numpy's arithmetic, bit for bit) sit beside the features they serve.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import scipy.fft as sfft
from numpy.lib.stride_tricks import sliding_window_view
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .blas import one_blas_thread
from .parallel import ahead
from .smooth import gaussian, gaussian_kernel

__all__ = [
    "transition_density",
    "tile_features",
    "tile_kinds",
    "hypotheses",
    "lattice_vectors",
    "tile_vectors",
    "DOTS",
    "LINES",
    "NOISE",
]

DOTS, LINES, NOISE = 1, 2, 3  # tile kinds (0: no screen)


def transition_density(img: np.ndarray, contrast: float = 0.08, sigma: float = 2.0, workers: int = 1) -> np.ndarray:
    """Per-pixel count of ink/paper changes to the right and below, ``[H, W]``.

    A change is a pair of neighbours on opposite sides of the local mean (Gaussian of ``sigma`` px)
    that differ by more than ``contrast``: on a bitonal page every black/white change; on a scan one
    per blurred edge, light dots included, and none in sensor or JPEG noise. Bands of rows are
    counted by ``workers`` threads, each band's mean from its rows and the Gaussian's reach around
    them: the same values as in one piece.

    Example:
        >>> img = np.random.default_rng(0).random((64, 48))
        >>> bool((transition_density(img, workers=3) == transition_density(img)).all())
        True
    """
    img = np.ascontiguousarray(img, dtype=np.float64)
    h = img.shape[0]
    reach = len(gaussian_kernel(sigma)) // 2
    out = np.empty(img.shape)

    def band(rows: tuple[int, int]) -> None:
        y0, y1 = rows
        # The rows of the band and the one below it (their changes downwards), with the reach of
        # the mean's Gaussian: within it, the band's mean is the page's.
        a, b = max(y0 - reach, 0), min(y1 + 1 + reach, h)
        mean = gaussian(img[a:b], sigma)[y0 - a : min(y1 + 1, h) - a]
        counts = np.empty(mean.shape)
        _changes(img[y0 : min(y1 + 1, h)], mean, float(contrast), counts)
        out[y0:y1] = counts[: y1 - y0]

    step = max(-(-h // max(workers, 1)), 1)
    for _ in ahead(band, [(y, min(y + step, h)) for y in range(0, h, step)], workers):
        pass
    return out


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _changes(img, mean, contrast, out):
    """:func:`transition_density`'s count at each pixel, in one pass (booleans and an exact
    difference: numpy's values)."""
    h, w = img.shape
    for y in range(h):
        for x in range(w):
            above = img[y, x] > mean[y, x]
            count = 0.0
            if x + 1 < w and (img[y, x + 1] > mean[y, x + 1]) != above and abs(img[y, x + 1] - img[y, x]) > contrast:
                count += 1.0
            if y + 1 < h and (img[y + 1, x] > mean[y + 1, x]) != above and abs(img[y + 1, x] - img[y, x]) > contrast:
                count += 1.0
            out[y, x] = count


# --- 1. tiles --------------------------------------------------------------------------------------


def tile_features(
    img: np.ndarray,
    dens: np.ndarray,
    tile: int,
    stride: int,
    max_period: float,
    min_var: float = 0.0,
    workers: int = 1,
    pair_density: float = 0.0,
) -> dict:
    """Spectral features of each ``tile`` x ``tile`` window at ``stride``, each ``[Ty, Tx]``:

    - ``var``: variance; ``dens``: mean ink/paper changes per pixel;
    - ``prom``: the strongest peak's share of the AC power (3x3 bins of the 2x zero-padded spectrum,
      periods up to ``max_period``);
    - ``orth``: the strongest peak within a bin of the peak turned by 90 degrees, over the peak;
    - ``sharp``: the peak's 3x3 bins over its 9x9 neighbourhood (near 0.6 for a screen's exact
      frequency, less for the spread of hand-drawn strokes);
    - ``hf``: the share of AC power at periods under 4 px (a grain's, not line art's);
    - ``aniso``: the largest share of the power at periods under 10 px in one 15-degree sector
      of directions (1/12 for an even grain, more for strokes);
    - ``grain`` (tiles without a clear peak): the largest autocorrelation 3 px away, near 0 for a
      grain, which decorrelates within a pixel or two in every direction, larger along strokes;
    - ``v1``, ``v2`` ``[Ty, Tx, 2]``: the peak's and the orthogonal peak's wave vectors (fy, fx)
      in cycles per pixel, to a fraction of a bin;
    - ``pair``: the strongest pair of peaks at right angles (a dot screen's, when strokes drawn
      over it outweigh either peak), the weaker peak's share of the AC power (3x3 bins each);
      ``pair_sharp`` the lower of the two peaks' ``sharp``; ``pv1``, ``pv2`` their wave vectors.
      Taken only on tiles whose ``dens`` exceeds ``pair_density`` (0 elsewhere): fine dots change
      from ink to paper every pixel or two, line art far less often.

    Tiles whose variance is ``min_var`` or less are flat: only their ``var`` and ``dens`` are taken
    (the others are 0, ``grain`` 1). The spectra are taken by ``workers`` threads.
    """
    win = sliding_window_view(img, (tile, tile))[::stride, ::stride]
    ty, tx = win.shape[:2]
    n = 2 * tile
    # Spectra of real tiles are symmetric, P(-k) = P(k): only the half plane of non-negative fx
    # (columns 0 .. n/2 of the real FFT) is computed; any bin (y, x) is read at (y, x) or (-y, -x).
    f = sfft.fftfreq(n)
    fy, fx = np.meshgrid(f, f[: n // 2 + 1], indexing="ij")
    fx[:, -1] = -0.5  # the Nyquist column, as fftfreq has it
    r = np.hypot(fy, fx)
    band = (r >= max(1.5 / tile, 1.0 / max_period)).astype(np.float32)
    # The peak is searched in this half plane, each bin once, then taken in the half plane fy > 0
    # (or fy = 0 and fx > 0), where the wave vectors are given.
    inner = (fx > 0) | ((fx == 0) | (fx == -0.5)) & (fy > 0)
    search = (band * inner).ravel()
    hann = np.outer(np.hanning(tile), np.hanning(tile)).astype(np.float32)
    # Sums over the spectrum as one matrix product: the AC power in the band, at periods under 4 px
    # (a grain's, not line art's), and in twelve 15-degree sectors at periods under 10 px (a
    # grain's power is spread evenly over them, strokes' in the few across their directions). The
    # masks are made on the whole plane; a column with a mirror outside the half plane (all but
    # the first and the last) sums both.
    gy, gx = np.meshgrid(f, f, indexing="ij")
    gr, theta = np.hypot(gy, gx), np.degrees(np.arctan2(gy, gx)) % 180
    whole = np.stack([np.ones_like(gr), gr > 0.25, *[(theta // 15 == k) & (gr > 0.1) for k in range(12)]], -1)
    sums = whole[:, : n // 2 + 1].copy()
    sums[:, 1 : n // 2] += whole[(-np.arange(n)) % n][:, n - 1 : n // 2 : -1]
    sums = sums.reshape(fy.size, -1).astype(np.float32)
    dy, dx = np.mgrid[-4:5, -4:5]
    on_ring = np.abs(np.hypot(dy, dx) - 3) < 0.5
    ring_y, ring_x = dy[on_ring] % n, dx[on_ring] % n
    # Each half-plane bin (y, x) turned by 90 degrees is (x, -y), in the half-plane layout (see
    # _at): for the strongest pair of peaks at right angles.
    hy, hx = np.mgrid[0:n, 0 : n // 2 + 1]
    turned = _half_index(n, hx, -hy)
    means, squares, out_dens = np.empty(ty * tx), np.empty(ty * tx), np.empty(ty * tx)
    program = _pairwise_program(tile * tile)
    _tile_means(np.ascontiguousarray(img, dtype=np.float64), dens, tile, stride, program, means, squares, out_dens)
    out = {k: np.zeros(ty * tx) for k in ("prom", "orth", "sharp", "hf", "aniso", "pair", "pair_sharp")}
    out["grain"] = np.ones(ty * tx)
    out["var"] = squares - means**2
    out["v1"], out["v2"] = np.zeros((ty * tx, 2)), np.zeros((ty * tx, 2))
    out["pv1"], out["pv2"] = np.zeros((ty * tx, 2)), np.zeros((ty * tx, 2))

    def batch(sel: np.ndarray) -> None:
        z = win[sel // tx, sel % tx].astype(np.float32)
        z = z - z.mean(axis=(1, 2), keepdims=True)
        m = len(z)
        # The padded rows are zero: their row transforms are skipped.
        h = sfft.fft(sfft.rfft(z * hann, n, axis=2), n, axis=1)
        p = _band_power(h, band)
        sm = p.reshape(m, -1) @ sums
        total = np.maximum(sm[:, 0] / 2, 1e-12)  # half the AC power: the two halves are alike
        box = _box3(p)
        ky, kx, b1, oy, ox, b2 = _peak_and_turn(box, box, search, f)
        wide = _wide(p, ky, kx)
        prom = b1 / total
        out["prom"][sel] = prom
        out["orth"][sel] = b2 / np.maximum(b1, 1e-12)
        out["sharp"][sel] = b1 / np.maximum(wide, 1e-12)
        out["hf"][sel] = sm[:, 1] / 2 / total
        out["aniso"][sel] = sm[:, 2:].max(1) / np.maximum(sm[:, 2:].sum(1), 1e-12)
        # The autocorrelation (of the band-passed tile) 3 px away, in the direction where it is
        # largest; only for tiles without a peak, which may be grains.
        grainy = prom < 0.1
        if grainy.any():
            acf = sfft.irfft2(p[grainy], (n, n))
            out["grain"][sel[grainy]] = acf[:, ring_y, ring_x].max(1) / np.maximum(acf[:, 0, 0], 1e-12)
        out["v1"][sel] = _peak_position(p, ky, kx, f)
        out["v2"][sel] = _peak_position(p, oy, ox, f)
        # The strongest pair of peaks at right angles (a dot screen's, under strokes that may
        # outweigh either): the weaker of a bin's 3x3 sum and the best one around its turn.
        fine = out["dens"][sel] > pair_density
        if fine.any():
            box, p, total, sel = box[fine], p[fine], total[fine], sel[fine]
            pair = np.minimum(box, _box3(box, maximum=True)[:, turned[0], turned[1]])
            py, px, c1, qy, qx, c2 = _peak_and_turn(pair, box, search, f)
            out["pair"][sel] = np.minimum(c1, c2) / total
            sharp1 = c1 / np.maximum(_wide(p, py, px), 1e-12)
            out["pair_sharp"][sel] = np.minimum(sharp1, c2 / np.maximum(_wide(p, qy, qx), 1e-12))
            out["pv1"][sel] = _peak_position(p, py, px, f)
            out["pv2"][sel] = _peak_position(p, qy, qx, f)

    out["dens"] = out_dens  # (before the spectra: they look for pairs of peaks on dense tiles)
    # Flat tiles (paper, solid ink) hold no screen: their spectra are not taken.
    todo = np.flatnonzero(out["var"] > min_var)
    step = 512  # tiles per batch: bounds the memory of the spectra
    batches = [todo[s : s + step] for s in range(0, len(todo), step)]
    with one_blas_thread():  # the sums' small products, on this package's threads only
        for _ in ahead(batch, batches, workers):
            pass
    return {k: v.reshape(ty, tx, *v.shape[1:]) for k, v in out.items()}


def _band_power(h: np.ndarray, band: np.ndarray) -> np.ndarray:
    """``(h.real**2 + h.imag**2) * band`` (complex64 spectra ``[N, n, c]``, float32 weights ``[n, c]``)
    in float32, as numpy computes it, in one pass instead of three temporaries."""
    out = np.empty(h.shape, np.float32)
    _band_power_loop(np.ascontiguousarray(h), np.ascontiguousarray(band, dtype=np.float32), out)
    return out


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _band_power_loop(h, band, out):
    m, n, c = h.shape
    for t in range(m):
        for y in range(n):
            for x in range(c):
                v = h[t, y, x]
                out[t, y, x] = (v.real * v.real + v.imag * v.imag) * band[y, x]


def _pairwise_program(n: int) -> np.ndarray:
    """numpy's pairwise summation of a contiguous run of ``n`` as a postfix program ``[K, 2]``: rows
    ``(start, length)`` push the sum of a block (at most 128), rows ``(-1, 0)`` add the top two.
    numpy halves runs over 128 (the halves rounded to multiples of 8); a program instead of
    recursion, which numba's disk cache does not keep."""
    rows = []

    def split(lo: int, m: int) -> None:
        if m <= 128:
            rows.append((lo, m))
            return
        half = m // 2 - (m // 2) % 8
        split(lo, half)
        split(lo + half, m - half)
        rows.append((-1, 0))

    split(0, n)
    return np.array(rows, dtype=np.int64)


@nb.njit(inline="always")
def _value(a, i, square):
    return a[i] * a[i] if square else a[i]


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _pairwise_sum(a, program, square):
    """The sum of ``a`` (or of its squares) as numpy adds a contiguous run (``program``: see
    :func:`_pairwise_program`); a block of 8 or more in eight interleaved partial sums."""
    stack = np.empty(program.shape[0])
    top = 0
    for k in range(program.shape[0]):
        lo, n = program[k, 0], program[k, 1]
        if lo < 0:
            top -= 1
            stack[top - 1] = stack[top - 1] + stack[top]
            continue
        if n < 8:
            res = 0.0
            for i in range(n):
                res += _value(a, lo + i, square)
        else:
            r0, r1, r2, r3 = (
                _value(a, lo, square),
                _value(a, lo + 1, square),
                _value(a, lo + 2, square),
                _value(a, lo + 3, square),
            )
            r4, r5, r6, r7 = (
                _value(a, lo + 4, square),
                _value(a, lo + 5, square),
                _value(a, lo + 6, square),
                _value(a, lo + 7, square),
            )
            i = 8
            while i < n - n % 8:
                r0 += _value(a, lo + i, square)
                r1 += _value(a, lo + i + 1, square)
                r2 += _value(a, lo + i + 2, square)
                r3 += _value(a, lo + i + 3, square)
                r4 += _value(a, lo + i + 4, square)
                r5 += _value(a, lo + i + 5, square)
                r6 += _value(a, lo + i + 6, square)
                r7 += _value(a, lo + i + 7, square)
                i += 8
            res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
            while i < n:
                res += _value(a, lo + i, square)
                i += 1
        stack[top] = res
        top += 1
    return stack[0]


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _tile_means(img, dens, tile, stride, program, means, squares, dens_means):
    """Per ``tile`` x ``tile`` window at ``stride`` (row-major): the mean of ``img``, of its square
    and of ``dens``, as numpy's ``mean`` over a contiguous copy of each tile sums them (the same
    bits, without copying the page four times over)."""
    h, w = img.shape
    tx = (w - tile) // stride + 1
    n = tile * tile
    buf = np.empty(n)
    for k in range(means.shape[0]):
        y0, x0 = (k // tx) * stride, (k % tx) * stride
        for y in range(tile):
            for x in range(tile):
                buf[y * tile + x] = img[y0 + y, x0 + x]
        means[k] = _pairwise_sum(buf, program, False) / n
        squares[k] = _pairwise_sum(buf, program, True) / n
        for y in range(tile):
            for x in range(tile):
                buf[y * tile + x] = dens[y0 + y, x0 + x]
        dens_means[k] = _pairwise_sum(buf, program, False) / n


def _at(half: np.ndarray, idx: np.ndarray, y, x) -> np.ndarray:
    """Bins ``(y, x)`` (any integers, taken modulo n) of the symmetric spectra ``[N, n, n/2 + 1]``
    stored as their half planes of non-negative fx: a bin with fx < 0 is read at ``(-y, -x)``."""
    n = half.shape[1]
    y, x = np.asarray(y) % n, np.asarray(x) % n
    mirror = x > n // 2
    return half[idx, np.where(mirror, -y % n, y), np.where(mirror, n - x, x)]


def _peak_and_turn(score: np.ndarray, box: np.ndarray, search: np.ndarray, f: np.ndarray) -> tuple:
    """For half-plane spectra (see :func:`_at`): the bin ``(ky, kx)`` where ``score`` ``[N, n,
    n/2 + 1]`` is largest over ``search`` (flat weights of the bins), taken in the half plane fy > 0,
    its 3x3 sum ``b1`` in ``box``, and the best 3x3 sum ``b2`` within a bin of it turned by 90
    degrees, at ``(oy, ox)``; each ``[N]``. ``f`` holds the bins' frequencies."""
    m, n = score.shape[:2]
    idx = np.arange(m)
    ky, kx = np.divmod((score.reshape(m, -1) * search).argmax(1), score.shape[2])
    other = f[ky] < 0
    ky, kx = np.where(other, -ky % n, ky), np.where(other, -kx % n, kx)
    b1 = _at(box, idx, ky, kx)
    # The orthogonal peak: the best 3x3 sum within a bin of the peak turned by 90 degrees.
    cand = np.stack([_at(box, idx, kx + i, -ky + j) for i in (-1, 0, 1) for j in (-1, 0, 1)], 1)
    best = cand.argmax(1)
    oy, ox = (kx + best // 3 - 1) % n, (-ky + best % 3 - 1) % n
    return ky, kx, b1, oy, ox, cand[idx, best]


def _wide(half: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The power ``[N]`` of the 9x9 bins around ``(y, x)`` ``[N]`` of half-plane spectra (see :func:`_at`)."""
    wide = np.empty(len(half), half.dtype)
    _around(half, y, x, 4, wide)
    return wide


def _half_index(n: int, y, x) -> tuple:
    """Where bins ``(y, x)`` (any integers, modulo n) of a symmetric spectrum are stored in its
    half plane of non-negative fx (see :func:`_at`)."""
    y, x = np.asarray(y) % n, np.asarray(x) % n
    mirror = x > n // 2
    return np.where(mirror, -y % n, y), np.where(mirror, n - x, x)


def _box3(half: np.ndarray, maximum: bool = False) -> np.ndarray:
    """3x3 sums (with ``maximum``, maxima) of symmetric spectra stored as half planes ``[N, n, n/2 +
    1]`` (see :func:`_at`), in the same layout: columns -1 and n/2 + 1 are the mirrors of columns 1
    and n/2 - 1, rows wrap around. Each sum is ``(left + centre) + right`` across, then ``(up +
    centre) + down``, in the spectra's dtype (float32), as numpy's slices of padded copies add them."""
    out = np.empty_like(half)
    _box3_loop(half, out, maximum)
    return out


@nb.njit(inline="always")
def _combine(a, b, maximum):
    return max(a, b) if maximum else a + b


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _box3_loop(half, out, maximum):
    m, n, c = half.shape
    across = np.empty((n, c), half.dtype)
    for t in range(m):
        h = half[t]
        for y in range(n):
            my = (n - y) % n
            for x in range(c):
                left = h[my, 1] if x == 0 else h[y, x - 1]
                right = h[my, n // 2 - 1] if x == c - 1 else h[y, x + 1]
                across[y, x] = _combine(_combine(left, h[y, x], maximum), right, maximum)
        for y in range(n):
            up, mid, down = across[(y - 1) % n], across[y], across[(y + 1) % n]
            for x in range(c):
                out[t, y, x] = _combine(_combine(up[x], mid[x], maximum), down[x], maximum)


@nb.njit(nogil=True, cache=True, boundscheck=False)
def _around(half, ky, kx, reach, out):
    """``out[t]``: the sum of the ``(2 reach + 1)^2`` bins around ``(ky[t], kx[t])`` of spectrum ``t``
    (read as :func:`_at` reads them), added row by row from the corner in the spectra's dtype."""
    m, n, _ = half.shape
    for t in range(m):
        out[t] = 0.0  # the sum stays in out's dtype
        for i in range(-reach, reach + 1):
            for j in range(-reach, reach + 1):
                y, x = (ky[t] + i) % n, (kx[t] + j) % n
                if x > n // 2:
                    y, x = (n - y) % n, n - x
                out[t] = out[t] + half[t, y, x]


def _peak_position(half: np.ndarray, ky: np.ndarray, kx: np.ndarray, f: np.ndarray) -> np.ndarray:
    """The wave vector ``[N, 2]`` (fy, fx) of the spectral peak near bin ``(ky, kx)`` of the
    half-plane spectra ``half`` (see :func:`_at`), to a small fraction of a bin: the largest of
    the 3x3 bins around it, moved by a parabola through the logarithms of its power and of its two
    neighbours' along each axis (a Hann-windowed peak is close to a Gaussian, whose logarithm is a
    parabola). A power-weighted mean over the 3x3 bins is pulled towards the centre bin by up to a
    third of a bin (2.5% of a fine screen's frequency), more than tiles under strokes may disagree
    by to be linked (:func:`hypotheses`); this reads a plane wave's to 0.1%.
    """
    n = half.shape[1]
    idx = np.arange(len(half))
    around = np.stack([_at(half, idx, ky + i, kx + j) for i in (-1, 0, 1) for j in (-1, 0, 1)], 1)
    best = around.argmax(1)
    ky, kx = ky + best // 3 - 1, kx + best % 3 - 1

    def offset(lo, mid, hi):  # the parabola's vertex, in bins from the middle one
        lo, mid, hi = (np.log(np.maximum(v, 1e-30)) for v in (lo, mid, hi))
        curve = lo - 2 * mid + hi
        return np.where(curve < 0, 0.5 * (lo - hi) / np.minimum(curve, -1e-12), 0.0).clip(-0.5, 0.5)

    mid = _at(half, idx, ky, kx).astype(np.float64)
    dy = offset(_at(half, idx, ky - 1, kx), mid, _at(half, idx, ky + 1, kx))
    dx = offset(_at(half, idx, ky, kx - 1), mid, _at(half, idx, ky, kx + 1))
    return np.stack([f[ky % n] + dy / n, f[kx % n] + dx / n], 1)


def tile_kinds(
    feat: dict,
    min_var: float,
    min_prominence: float,
    dots_prominence: float,
    min_density: float,
    pair_prominence: float = 0.03,
    pair_sharpness: float = 0.4,
    max_pair_period: float = 8.0,
) -> np.ndarray:
    """Each tile's screen kind, int ``[Ty, Tx]`` (0 none).

    Dots are a tile whose strongest peak has a partner at right angles, or, under strokes (hair,
    hatching, text) that outweigh the screen, whose strongest pair of sharp peaks at right angles
    (:func:`tile_features`' ``pair``, each peak ``pair_sharpness`` or more) holds
    ``pair_prominence`` of the power at a period under ``max_pair_period`` px: hand-drawn strokes
    are not evenly spaced, so their peaks are broad, and they rarely cross at right angles at a
    fine pitch. Such tiles' wave vectors are the pair's (:func:`tile_vectors`)."""
    textured = feat["var"] > min_var
    pair_period = 1.0 / np.maximum(np.hypot(feat["pv1"][..., 0], feat["pv1"][..., 1]), 1e-9)
    under = (feat["pair"] > pair_prominence) & (feat["pair_sharp"] > pair_sharpness) & (pair_period < max_pair_period)
    dots = textured & (((feat["prom"] > dots_prominence) & (feat["orth"] > 0.5)) | under)
    lines = textured & (feat["prom"] > min_prominence) & (feat["sharp"] > 0.5) & (feat["orth"] < 0.3)
    noise = (
        textured
        & (feat["prom"] < 0.1)
        & (feat["dens"] > min_density)
        & (feat["hf"] > 0.3)
        & (feat["aniso"] < 0.25)
        & (feat["grain"] < 0.2)
    )
    return np.select([dots, lines, noise], [DOTS, LINES, NOISE], 0)


# --- 2. screen hypotheses --------------------------------------------------------------------------


def tile_vectors(feat: dict, kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each tile's two wave vectors ``[Ty, Tx, 2]`` each: its strongest peak's and the one at right
    angles, or for dot tiles whose strongest peak has no partner there (strokes over the screen),
    their strongest pair's."""
    pair = ((kinds == DOTS) & (feat["orth"] <= 0.5))[..., None]
    return np.where(pair, feat["pv1"], feat["v1"]), np.where(pair, feat["pv2"], feat["v2"])


def _same_lattice(a1, a2, b1, b2, kind: np.ndarray, tol) -> np.ndarray:
    """Whether tiles a and b (wave vectors ``[N, 2]`` each) show the same screen: their main wave
    vectors agree to ``tol`` (relative; a number or ``[N]``), up to sign; for dots either of b's
    two may match a's."""

    def close(u, v):
        d = np.minimum(np.hypot(*(u - v).T), np.hypot(*(u + v).T))
        return d <= tol * np.hypot(*u.T) + 1e-3

    same = close(a1, b1)
    return np.where(kind == DOTS, same | close(a1, b2), np.where(kind == LINES, same, True))


def hypotheses(kinds: np.ndarray, feat: dict, tol: float = 0.1, pair_tol: float = 0.02, gap: int = 3) -> list:
    """Groups of screen tiles of one kind and lattice: ``(kind, tiles)``, ``tiles`` a bool ``[Ty,
    Tx]`` mask, largest groups first. 4-connected neighbours' wave vectors agree to ``tol``
    (relative), or to ``pair_tol`` where either is a dot tile by its pair of peaks alone (under
    strokes, or between two screens: such tiles would otherwise chain screens of close pitches
    into one hypothesis that fits neither). Tiles up to ``gap`` tiles apart whose wave vectors
    agree to ``pair_tol`` are linked too: dense strokes across a screen hide it from the tiles
    between them (their peaks outweigh the screen's pair), which would otherwise split it into
    groups too small to be taken. A group is only a hypothesis: its regions are the pixels its
    lattice explains, in pieces each tested on its own (:func:`rescale.screentone.analysis.analyze`).
    """
    ty, tx = kinds.shape
    ids = np.arange(ty * tx).reshape(ty, tx)
    v1, v2 = tile_vectors(feat, kinds)
    weak = (kinds == DOTS) & (feat["orth"] <= 0.5)
    rows, cols = [], []
    offsets = [(dy, dx) for dy in range(gap + 1) for dx in range(-gap, gap + 1) if (dy, dx) > (0, 0)]
    for dy, dx in offsets:
        if dy >= ty or abs(dx) >= tx:
            continue
        a = np.s_[: ty - dy, max(-dx, 0) : tx - max(dx, 0)]
        b = np.s_[dy:, max(dx, 0) : tx - max(-dx, 0)]
        ka, kb = kinds[a], kinds[b]
        ok = (ka > 0) & (ka == kb)
        close = dy + abs(dx) == 1
        ok &= _same_lattice(
            v1[a].reshape(-1, 2),
            v2[a].reshape(-1, 2),
            v1[b].reshape(-1, 2),
            v2[b].reshape(-1, 2),
            ka.ravel(),
            np.where((weak[a] | weak[b]) | (not close), pair_tol, tol).ravel(),
        ).reshape(ok.shape)
        if not close:
            ok &= ka != NOISE  # a grain has no lattice to agree on
        rows.append(ids[a][ok])
        cols.append(ids[b][ok])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(ty * tx, ty * tx))
    _, comp = connected_components(graph, directed=False)
    comp = comp.reshape(ty, tx)
    groups = []
    for c in np.unique(comp[kinds > 0]):
        tiles = comp == c
        groups.append((int(kinds[tiles][0]), tiles))
    groups.sort(key=lambda g: (g[0] == NOISE, -g[1].sum()))
    return groups


def lattice_vectors(feat: dict, tiles: np.ndarray, kind: int, kinds: np.ndarray, vectors: tuple | None = None) -> list:
    """The group's wave vectors (fy, fx) (:func:`tile_vectors` of ``kinds``, or ``vectors`` if
    given: theirs, taken once for all groups), averaged over its tiles weighted by peak prominence,
    each tile's vectors first aligned (sign, and which of a dot lattice's two) with the strongest
    tile's."""
    v1, v2 = (v[tiles] for v in (vectors or tile_vectors(feat, kinds)))
    w = feat["prom"][tiles]
    ref1 = v1[w.argmax()]
    ref2 = v2[w.argmax()]

    def aligned(v, ref):
        return np.where(((v * ref).sum(1) < 0)[:, None], -v, v)

    if kind == DOTS:
        swap = (np.abs((v1 * ref1).sum(1)) < np.abs((v2 * ref1).sum(1)))[:, None]
        v1, v2 = np.where(swap, v2, v1), np.where(swap, v1, v2)
        return [np.average(aligned(v1, ref1), 0, w), np.average(aligned(v2, ref2), 0, w)]
    return [np.average(aligned(v1, ref1), 0, w)]
