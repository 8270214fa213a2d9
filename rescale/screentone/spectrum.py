"""Spectral peaks of screentones: the power spectrum of a masked region and its dominant peak,
located to a fraction of a frequency bin. Used by the analysis (finding screens) and by the
benchmark scores (measuring them)."""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

__all__ = ["masked_spectrum", "refine_peak", "dominant_peak"]

_PAD = 256  # FFT size: zero padding interpolates the spectrum so peaks are located finely


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
