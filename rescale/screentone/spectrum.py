"""Spectral peaks of screentones: the power spectrum of a masked region and its dominant peak,
located to a fraction of a frequency bin. Used by the analysis (finding screens) and by the
benchmark scores (measuring them)."""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from .blas import one_blas_thread

__all__ = ["masked_spectrum", "refine_peak", "dominant_peak", "refine_vectors"]

_PAD = 256  # FFT size: zero padding interpolates the spectrum so peaks are located finely
_STEPS = np.array([-1.0, 0.0, 1.0])


def masked_spectrum(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Power spectrum ``[_PAD, _PAD]`` (fftshifted) of the mean-removed, Hann-windowed masked crop."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop, m = img[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    z = np.where(m, crop - crop[m].mean(), 0.0)
    z = z * np.outer(np.hanning(z.shape[0] + 2)[1:-1], np.hanning(z.shape[1] + 2)[1:-1])
    n = max(_PAD, *z.shape)
    # A real-input FFT (half the work), its other half plane filled in by P(-k) = P(k).
    h = sfft.rfft2(z, (n, n))
    half = h.real**2 + h.imag**2
    p = np.empty((n, n))
    p[:, : n // 2 + 1] = half
    p[:, n // 2 + 1 :] = half[(-np.arange(n)) % n, (n + 1) // 2 - 1 : 0 : -1]
    return np.fft.fftshift(p)


def refine_peak(p: np.ndarray, i: int, j: int) -> tuple[float, float]:
    """Wave vector ``(fy, fx)`` (cycles per pixel) of the peak at bin ``(i, j)`` of the fftshifted
    ``[n, n]`` power spectrum ``p``, to a fraction of a bin: a parabola through the log power of
    the bin and its neighbours along each axis."""
    n = p.shape[0]

    def offset(a, b, c):
        a, b, c = np.log(a + 1e-12), np.log(b + 1e-12), np.log(c + 1e-12)
        d = a - 2 * b + c
        return 0.0 if d >= 0 else 0.5 * (a - c) / d

    di = offset(p[i - 1, j], p[i, j], p[(i + 1) % n, j])
    dj = offset(p[i, j - 1], p[i, j], p[i, (j + 1) % n])
    return (i + di - n // 2) / n, (j + dj - n // 2) / n


def dominant_peak(
    img: np.ndarray, mask: np.ndarray | None = None, max_period: float = 24.0
) -> tuple[float, float, float]:
    """Period (pixels), angle (degrees in [0, 180)) and prominence of the strongest spectral peak.

    Args:
        img: ``[H, W]`` image; mask: bool ``[H, W]`` region (default: all).
        max_period: frequencies below ``1 / max_period`` are ignored (tone gradients, not screens).

    The prominence is the peak's share of the AC power (near 0 for noise). The angle is that of the
    wave vector, so a vertical-line screen has angle 0.
    """
    if mask is None:
        mask = np.ones(img.shape, dtype=bool)
    p = masked_spectrum(img, mask)
    n = p.shape[0]
    f = (np.arange(n) - n // 2) / n
    fy, fx = np.meshgrid(f, f, indexing="ij")
    r = np.hypot(fx, fy)
    q = np.where((r >= 1 / max_period) & (fy >= 0), p, 0.0)  # half plane: the spectrum is symmetric
    i, j = np.unravel_index(np.argmax(q), q.shape)
    # Kept within a bin of its own: a peak on the band's inner edge, beside the stronger tone
    # gradients, is no maximum of the spectrum, and the parabola through it can run off (a 58 px
    # "period" with max_period 24); a peak just past the edge is still located.
    vy, vx = (np.clip(v, (c - 1 - n // 2) / n, (c + 1 - n // 2) / n) for v, c in zip(refine_peak(p, i, j), (i, j)))
    period = 1.0 / max(np.hypot(vx, vy), 1e-9)
    angle = float(np.degrees(np.arctan2(vy, vx)) % 180.0)
    # Prominence: power near the peak (and its mirror) over the AC power. "Near" is relative to
    # the frequency (10%), as scanned screens drift a little in pitch and angle.
    near = np.hypot(fx - vx, fy - vy) < max(0.1 / period, 2.5 / max(mask.shape))
    prominence = float(2 * p[near].sum() / max(p.sum() - p[n // 2, n // 2], 1e-12))
    return float(period), angle, min(prominence, 1.0)


def refine_vectors(
    img: np.ndarray,
    mask: np.ndarray,
    vectors: list,
    rounds: int = 5,
    reach: float = 0.02,
    crop: int = 256,
    origin: tuple = (0, 0),
) -> list:
    """The wave ``vectors`` (fy, fx) of the screen in region ``mask`` of ``img`` ``[H, W]`` (one for
    lines; two at right angles of one length for dots, as :func:`.lattice.wave_vectors` gives
    them), moved to the maximum near them of the region's power spectrum (for dots, of the sum of
    the powers at a vector and at it turned by 90 degrees, so both peaks pin the one lattice): the
    exact Fourier transform of the mean-removed masked crop, read on a 3x3 grid around the
    estimate and moved by a parabola through the log power along each axis, the grid halved each of
    ``rounds`` rounds (from half a bin of the crop). Vectors that would move by more than ``reach``
    of their length (a stronger peak nearby: strokes, another screen) are kept as given. A region
    more than ``crop`` px across is read on that much of it, around its box's centre (a 256 px
    crop pins a screen to a few hundredths of a percent; the transform's cost grows with it).
    ``origin``: where ``img``'s first pixel lies in the image whose phases are read (given a crop
    around the region, the values are those of the whole image, to the bit).

    The analysis reads the screen from a binned, zero-padded spectrum of the region with the
    strokes over it, 0.3% off on the scan benchmark's regions (mean; up to 2%); this reads them
    to 0.16% (up to 0.7%). A copy shifted by 20 periods lands that share of 20 cycles off the
    lattice its shift was chosen for, and seams between copies show it.
    """
    ys, xs = np.nonzero(mask)
    if len(ys) < 16 or not vectors:
        return list(vectors)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    if y1 - y0 > crop:
        y0 = (y0 + y1 - crop) // 2
        y1 = y0 + crop
    if x1 - x0 > crop:
        x0 = (x0 + x1 - crop) // 2
        x1 = x0 + crop
    sub, m = img[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    if m.sum() < 16:
        return list(vectors)
    # No window: with only the region's pixels, the transform's peak is sharpest unwindowed (a
    # Hann window read them 0.17% off).
    # Complex once: each product below would otherwise cast it again (the same zgemm, same bits).
    z = np.where(m, sub - sub[m].mean(), 0.0).astype(complex)
    yy, xx = np.arange(y0 + origin[0], y1 + origin[0]), np.arange(x0 + origin[1], x1 + origin[1])
    v = np.asarray(vectors[0], dtype=float)
    # The second vector's turn (+-90 degrees) from the first, kept as given.
    turn = 1.0 if len(vectors) < 2 or np.dot(vectors[1], [v[1], -v[0]]) >= 0 else -1.0

    def grid(f, step):  # [3, 3]: the power at f + step * (i, j), i, j in -1, 0, 1 (dots: plus at it turned)
        fy, fx = f[0] + step * _STEPS, f[1] + step * _STEPS
        p = np.abs(np.exp(-2j * np.pi * np.outer(fy, yy)) @ z @ np.exp(-2j * np.pi * np.outer(xx, fx))) ** 2
        if len(vectors) == 2:
            # f turned is (turn fx, -turn fy): the same grid, its axes swapped.
            q = np.exp(-2j * np.pi * np.outer(turn * fx, yy)) @ z @ np.exp(-2j * np.pi * np.outer(xx, -turn * fy))
            p = p + (np.abs(q) ** 2).T
        return p

    # Not refine_peak's parabola: here the grid walks (a step towards the larger side where the
    # log power is not concave, the vertex kept within a step), where refine_peak stays in its bin.
    def offset(lo, mid, hi):  # the parabola's vertex through log powers, in grid steps
        lo, mid, hi = np.log(lo + 1e-30), np.log(mid + 1e-30), np.log(hi + 1e-30)
        curve = lo - 2 * mid + hi
        return float(np.clip(0.5 * (lo - hi) / curve, -1.0, 1.0)) if curve < 0 else float(np.sign(hi - lo))

    f, step = v.copy(), 0.5 / max(z.shape)
    # The products are small (3 x 256 by 256 x 256): OpenBLAS's threads cost more than they share
    # (they wait on a core the regions' own threads hold; 4 ms a call against 0.3 on one). On one
    # thread the bits no longer depend on the machine's cores (on page 145 at 0.5x one region's
    # vectors moved by their last bit against two threads: outputs 1e-13 apart).
    with one_blas_thread():
        for _ in range(rounds):
            p = grid(f, step)
            f = f + step * np.array([offset(p[0, 1], p[1, 1], p[2, 1]), offset(p[1, 0], p[1, 1], p[1, 2])])
            step /= 2
    if np.hypot(*(f - v)) > reach * np.hypot(*v):
        return list(vectors)
    return [f] if len(vectors) < 2 else [f, turn * np.array([f[1], -f[0]])]
