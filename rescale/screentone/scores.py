"""Screentone retargeting scores of the benchmark, computed against a ground-truth page at the target size.

All images are float ``[H, W]`` arrays in ``[0, 1]``; ``labels`` is the ground truth's int region map
(0 paper/line art, ``k >= 1`` screened region ``k``), ``lines`` its bool line-art mask.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .spectrum import dominant_peak, masked_spectrum

__all__ = ["region_metrics", "line_iou", "evaluate", "measured_tone", "METRICS"]

#: metric name -> whether lower is better (all are errors).
METRICS = ("intensity", "period", "angle", "moire", "screen_dist", "line_iou")

_MIN_PIXELS = 64


def _angle_diff(a: float, b: float, sym: float = 90.0) -> float:
    """Angle difference modulo ``sym`` degrees (90 covers a dot lattice's two wave vectors)."""
    d = abs(a - b) % sym
    return float(min(d, sym - d))


def measured_tone(img: np.ndarray, mask: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The screen averaged out by a Gaussian of ``sigma`` px (>= the period), normalised by the mask
    so paper outside does not count, and the core of the mask whose windows lie inside it. Tone
    measured on the core does not depend on the screen's phase against the region's border."""
    w = ndimage.gaussian_filter(mask.astype(float), sigma)
    tone = ndimage.gaussian_filter(np.where(mask, img, 0.0), sigma) / np.maximum(w, 1e-6)
    core = mask & (w > 0.9)
    return tone, core if core.sum() >= 4 else mask


def _tone_variance(img: np.ndarray, mask: np.ndarray, sigma: float) -> float:
    tone, core = measured_tone(img, mask, sigma)
    return float(tone[core].var())


def _moire(out: np.ndarray, gt: np.ndarray, mask: np.ndarray, sigma: float) -> float:
    """Spurious low-frequency energy (grey levels RMS): the local-tone variance of ``out`` in excess
    of the ground truth's (which is not 0 for noise screens, whose local tone fluctuates)."""
    excess = _tone_variance(out, mask, sigma) - _tone_variance(gt, mask, sigma)
    return float(np.sqrt(max(excess, 0.0)) * 255)


def _screen_distance(out: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """Half the L1 distance between normalised amplitude spectra: 0 same screen, 1 disjoint.
    Amplitude spectra ignore phase, so a shifted copy of the screen scores 0."""
    a, b = np.sqrt(masked_spectrum(out, mask)), np.sqrt(masked_spectrum(gt, mask))
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
    tone, core = measured_tone(out, mask, sigma)
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
