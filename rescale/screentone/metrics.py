"""Screentone retargeting metrics, computed against a ground-truth page at the target size.

All images are float ``[H, W]`` arrays in ``[0, 1]``; ``labels`` is the ground truth's int region map
(0 paper/line art, ``k >= 1`` screened region ``k``), ``lines`` its bool line-art mask.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["dominant_peak", "refine_peak", "region_metrics", "line_iou", "evaluate", "METRICS"]

#: metric name -> whether lower is better (all are errors).
METRICS = ("intensity", "period", "angle", "moire", "screen_dist", "line_iou")

_PAD = 256  # FFT size: zero padding interpolates the spectrum so peaks are located finely
_MIN_PIXELS = 64


def _masked_spectrum(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Power spectrum ``[_PAD, _PAD]`` (fftshifted) of the mean-removed, Hann-windowed masked crop."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop, m = img[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    z = np.where(m, crop - crop[m].mean(), 0.0)
    z = z * np.outer(np.hanning(z.shape[0] + 2)[1:-1], np.hanning(z.shape[1] + 2)[1:-1])
    n = max(_PAD, *z.shape)
    return np.fft.fftshift(np.abs(np.fft.fft2(z, (n, n))) ** 2)


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


def dominant_peak(img: np.ndarray, mask: np.ndarray | None = None, max_period: float = 24.0) -> tuple[float, float, float]:
    """Period (pixels), angle (degrees in [0, 180)) and prominence of the strongest spectral peak.

    Args:
        img: ``[H, W]`` image; mask: bool ``[H, W]`` region (default: all).
        max_period: frequencies below ``1 / max_period`` are ignored (tone gradients, not screens).

    The prominence is the peak's share of the AC power (near 0 for noise). The angle is that of the
    wave vector, so a vertical-line screen has angle 0.
    """
    if mask is None:
        mask = np.ones(img.shape, dtype=bool)
    p = _masked_spectrum(img, mask)
    n = p.shape[0]
    f = (np.arange(n) - n // 2) / n
    fy, fx = np.meshgrid(f, f, indexing="ij")
    r = np.hypot(fx, fy)
    q = np.where((r >= 1 / max_period) & (fy >= 0), p, 0.0)  # half plane: the spectrum is symmetric
    vy, vx = refine_peak(p, *np.unravel_index(np.argmax(q), q.shape))
    period = 1.0 / max(np.hypot(vx, vy), 1e-9)
    angle = float(np.degrees(np.arctan2(vy, vx)) % 180.0)
    # Prominence: power near the peak (and its mirror) over the AC power. "Near" is relative to
    # the frequency (10%), as scanned screens drift a little in pitch and angle.
    near = np.hypot(fx - vx, fy - vy) < max(0.1 / period, 2.5 / max(mask.shape))
    prominence = float(2 * p[near].sum() / max(p.sum() - p[n // 2, n // 2], 1e-12))
    return float(period), angle, min(prominence, 1.0)


def _angle_diff(a: float, b: float, sym: float = 90.0) -> float:
    """Angle difference modulo ``sym`` degrees (90 covers a dot lattice's two wave vectors)."""
    d = abs(a - b) % sym
    return float(min(d, sym - d))


def _local_tone(img: np.ndarray, mask: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The screen averaged out by a Gaussian of ``sigma`` px (>= the period), normalised by the mask
    so paper outside does not count, and the core of the mask whose windows lie inside it. Tone
    measured on the core does not depend on the screen's phase against the region's border."""
    w = ndimage.gaussian_filter(mask.astype(float), sigma)
    tone = ndimage.gaussian_filter(np.where(mask, img, 0.0), sigma) / np.maximum(w, 1e-6)
    core = mask & (w > 0.9)
    return tone, core if core.sum() >= 4 else mask


def _tone_variance(img: np.ndarray, mask: np.ndarray, sigma: float) -> float:
    tone, core = _local_tone(img, mask, sigma)
    return float(tone[core].var())


def _moire(out: np.ndarray, gt: np.ndarray, mask: np.ndarray, sigma: float) -> float:
    """Spurious low-frequency energy (grey levels RMS): the local-tone variance of ``out`` in excess
    of the ground truth's (which is not 0 for noise screens, whose local tone fluctuates)."""
    excess = _tone_variance(out, mask, sigma) - _tone_variance(gt, mask, sigma)
    return float(np.sqrt(max(excess, 0.0)) * 255)


def _screen_distance(out: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """Half the L1 distance between normalised amplitude spectra: 0 same screen, 1 disjoint.
    Amplitude spectra ignore phase, so a shifted copy of the screen scores 0."""
    a, b = np.sqrt(_masked_spectrum(out, mask)), np.sqrt(_masked_spectrum(gt, mask))
    a, b = a / max(a.sum(), 1e-12), b / max(b.sum(), 1e-12)
    return float(0.5 * np.abs(a - b).sum())


def region_metrics(out: np.ndarray, gt, k: int) -> dict | None:
    """Metrics of region ``k`` of the ground-truth page ``gt`` (a :class:`synth.Page`); ``None`` if
    the region is too small to measure."""
    mask = ndimage.binary_erosion(gt.labels == k)
    if mask.sum() < _MIN_PIXELS:
        return None
    screen = gt.screens[k - 1]
    sigma = max(screen.period, 2.0)
    tone, core = _local_tone(out, mask, sigma)
    res = {
        "intensity": abs(tone[core].mean() - gt.intensity[k - 1]) * 255,
        "moire": _moire(out, gt.image, mask, sigma),
        "screen_dist": _screen_distance(out, gt.image, mask),
        "kind": screen.kind,
    }
    if screen.kind != "noise":
        p_out, a_out, _ = dominant_peak(out, mask)
        p_gt, a_gt, _ = dominant_peak(gt.image, mask)
        res["period"] = abs(p_out - p_gt) / p_gt * 100  # percent
        res["angle"] = _angle_diff(a_out, a_gt, 90.0 if screen.kind == "dots" else 180.0)
    return res


def line_iou(out: np.ndarray, gt) -> float:
    """IoU of ink (``out < 0.5``) with the true line art, over the pixels outside screened regions."""
    outside = gt.labels == 0
    a, b = (out < 0.5) & outside, gt.lines & outside
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def evaluate(out: np.ndarray, gt) -> dict:
    """Page metrics: the mean of each region metric over measurable regions, plus ``line_iou``.

    ``intensity`` grey levels (0-255), ``period`` percent, ``angle`` degrees, ``moire`` grey levels
    RMS, ``screen_dist`` in [0, 1]; ``line_iou`` in [0, 1] (higher is better).
    """
    if out.shape != gt.image.shape:
        raise ValueError(f"output shape {out.shape} != ground truth {gt.image.shape}")
    rows = [r for k in range(1, len(gt.screens) + 1) if (r := region_metrics(out, gt, k)) is not None]
    res = {m: float(np.mean([r[m] for r in rows if m in r])) for m in METRICS[:-1] if any(m in r for r in rows)}
    res["line_iou"] = line_iou(out, gt)
    return res
