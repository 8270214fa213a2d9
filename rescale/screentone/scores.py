"""Screentone retargeting scores of the benchmark, computed against a ground-truth page at the target size.

All images are float ``[H, W]`` arrays in ``[0, 1]``; ``labels`` is the ground truth's int region map
(0 paper/line art, ``k >= 1`` screened region ``k``), ``lines`` its bool line-art mask.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .lattice import directions, lattice_median, wave_vectors
from .spectrum import dominant_peak, masked_spectrum

__all__ = [
    "region_metrics",
    "line_iou",
    "stroke_iou",
    "stroke_pixels",
    "evaluate",
    "measured_tone",
    "phase_jump",
    "METRICS",
]

#: The benchmark's metrics; all are errors but ``line_iou`` and ``stroke_iou``.
METRICS = ("intensity", "period", "angle", "moire", "seam", "screen_dist", "line_iou", "stroke_iou")

_MIN_PIXELS = 64


def _angle_diff(a: float, b: float, sym: float = 90.0) -> float:
    """Angle difference modulo ``sym`` degrees (90 covers a dot lattice's two wave vectors)."""
    d = abs(a - b) % sym
    return float(min(d, sym - d))


def measured_tone(img: np.ndarray, mask: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The screen averaged out by a Gaussian of ``sigma`` px (>= the period), normalised by the mask
    so paper outside does not count, and the core of the mask whose windows lie inside it. Tone
    measured on the core does not depend on the screen's phase against the region's border. Where
    no 4 pixels form a core (strips between strokes, or a region, narrower than the window), the mask itself is
    returned as the core: the tone read there also depends on where the screen's dots fall in it."""
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


def _box(mask: np.ndarray, pad: int) -> tuple:
    """The slices of ``mask``'s bounding box grown by ``pad`` px (within the array)."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    rows = slice(max(ys.min() - pad, 0), min(ys.max() + pad + 1, h))
    return rows, slice(max(xs.min() - pad, 0), min(xs.max() + pad + 1, w))


def phase_jump(img: np.ndarray, mask: np.ndarray, vectors: list, period: float, min_pairs: int = 200) -> float:
    """The seam metric: mean phase difference (% of a period) of a periodic screen between windows
    one period apart, inside region ``mask`` of ``img`` ``[H, W]``.

    The screen's local phase is read at each of its wave ``vectors`` (one for lines, two for dots)
    by demodulation over a Gaussian window of half a period (the mean removed first; inside the
    mask only), at pixels whose window lies 90% inside the region. A perfect lattice has one phase
    everywhere: the metric is then only the jitter of its pixel sampling (and, on scans, noise).
    Where copies of a screen meet out of phase, windows on either side of the seam differ by the
    jump, so the metric rises by the jump times the share of window pairs across seams. A screen
    whose pitch or angle is wrong drifts in phase against ``vectors`` and scores high too (as does
    a blurred one: its phase is noise). NaN where fewer than ``min_pairs`` pairs of windows per
    wave vector lie inside the region: a few windows would measure the few dots there, not seams.
    """
    sigma = period / 2
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return float("nan")
    pad = int(np.ceil(3 * sigma))
    h, w = img.shape
    box = np.s_[
        max(ys.min() - pad, 0) : min(ys.max() + pad + 1, h), max(xs.min() - pad, 0) : min(xs.max() + pad + 1, w)
    ]
    sub, m = img[box], mask[box]
    core = m & (ndimage.gaussian_filter(m.astype(float), sigma, mode="constant") > 0.9)
    z = np.where(m, sub - sub[m].mean(), 0.0)
    yy, xx = np.mgrid[box]
    d = max(int(round(period)), 1)
    pairs = ((np.s_[:-d, :], np.s_[d:, :]), (np.s_[:, :-d], np.s_[:, d:]))
    jumps = []
    for fy, fx in vectors:
        carrier = np.exp(-2j * np.pi * (fy * yy + fx * xx))
        a = ndimage.gaussian_filter((z * carrier).real, sigma, mode="constant") + 1j * ndimage.gaussian_filter(
            (z * carrier).imag, sigma, mode="constant"
        )
        for s0, s1 in pairs:
            both = core[s0] & core[s1]
            jumps.append(np.abs(np.angle(a[s1][both] * np.conj(a[s0][both]))))
    jumps = np.concatenate(jumps)
    return float(jumps.mean() / (2 * np.pi) * 100) if len(jumps) >= min_pairs * len(vectors) else float("nan")


def region_metrics(out: np.ndarray, gt, k: int) -> dict | None:
    """Metrics of region ``k`` of the ground-truth page ``gt`` (a :class:`synth.Page`); ``None`` if
    the region is too small to measure."""
    mask = ndimage.binary_erosion(gt.labels == k)
    if mask.sum() < _MIN_PIXELS:
        return None
    screen = gt.screens[k - 1]
    sigma = max(screen.period, 2.0)
    # The screen's own tone and phase are measured away from strokes drawn over it.
    plain = mask & ~ndimage.binary_dilation(gt.strokes > 0, iterations=2) if gt.strokes is not None else mask
    res = {"screen_dist": _screen_distance(out, gt.image, mask), "kind": screen.kind}
    if plain.sum() >= _MIN_PIXELS:  # (not where strokes cover the region)
        tone, core = measured_tone(out, plain, sigma)
        res["intensity"] = abs(tone[core].mean() - gt.intensity[k - 1]) * 255
        res["moire"] = _moire(out, gt.image, plain, sigma)
        # No core: strokes leave strips (or the region is one) narrower than a period's window,
        # whose tone depends on the screen's phase in them (the benchmark reports these apart).
        res["strips"] = core is plain
    if screen.kind != "noise" and plain.sum() >= _MIN_PIXELS:
        # The screen's pitch and angle are read away from the strokes too: over the whole region,
        # the strongest peak of the truth is often the strokes' (hatching 6-60 px apart), not the
        # screen's, and a method scored close to it for blurring the screen away.
        p_out, a_out, _ = dominant_peak(out, plain)
        p_gt, a_gt, _ = dominant_peak(gt.image, plain)
        res["period"] = abs(p_out - p_gt) / p_gt * 100  # percent
        res["angle"] = _angle_diff(a_out, a_gt, 90.0 if screen.kind == "dots" else 180.0)
        jump = phase_jump(out, plain, wave_vectors(screen.kind, screen.period, screen.angle), screen.period)
        if not np.isnan(jump):
            res["seam"] = jump
    return res


def line_iou(out: np.ndarray, gt) -> float:
    """IoU of ink (``out < 0.5``) with the true line art, over the pixels outside screened regions."""
    outside = gt.labels == 0
    a, b = (out < 0.5) & outside, gt.lines & outside
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def stroke_pixels(
    img: np.ndarray, mask: np.ndarray, vectors: list, period: float, contrast: float = 0.05
) -> np.ndarray:
    """Bool ``[H, W]``: where region ``mask`` of ``img`` holds ink that its screen (of wave
    ``vectors`` and ``period``) does not: where ``img`` is darker than the median of the pixels a
    few near-lattice shifts away (:func:`lattice.lattice_median`; the shortest such shift in each
    eighth of the directions, so that a stroke along any one of them is not its own reference) by
    ``contrast`` or more on average over a Gaussian of one period. A screen's dots are also in
    those pixels, a stroke is not; the average makes the result the same whatever the screen's
    phase, and blurred strokes on a screen blurred to grey count like sharp ones on a sharp screen.
    """
    out = np.zeros(img.shape, dtype=bool)
    if not mask.any():
        return out
    box = _box(mask, int(np.ceil(3 * period)))
    sub, m = img[box], mask[box]
    darker = np.where(m, np.maximum(lattice_median(sub, directions(vectors)) - sub, 0.0), 0.0)
    out[box] = m & (ndimage.gaussian_filter(darker, period) >= contrast)
    return out


def stroke_iou(out: np.ndarray, gt) -> float | None:
    """IoU of the strokes over screens in ``out`` with those in the ground truth ``gt``, both as
    :func:`stroke_pixels` finds them (with each region's true screen), in the regions whose screens
    have strokes drawn over them (``gt.strokes``); None if none has. 1 for the ground truth;
    strokes lost (screen copied over them) score about as much as the detector's false positives
    on the screen alone, 0.4 at 0.5x and 0.14 at 0.75x on the benchmark's pages."""
    if gt.strokes is None:
        return None
    found = np.zeros(out.shape, dtype=bool)
    truth = np.zeros(out.shape, dtype=bool)
    for k, screen in enumerate(gt.screens, 1):
        region = gt.labels == k
        if screen.kind == "noise" or not (gt.strokes[region] > 0).any():
            continue
        vectors = wave_vectors(screen.kind, screen.period, screen.angle)
        found |= stroke_pixels(out, region, vectors, screen.period)
        truth |= stroke_pixels(gt.image, region, vectors, screen.period)
    union = (found | truth).sum()
    return float((found & truth).sum() / union) if union else None


def evaluate(out: np.ndarray, gt) -> dict:
    """Page metrics: the mean of each region metric over measurable regions, plus ``line_iou``.

    ``intensity`` grey levels (0-255), ``period`` percent, ``angle`` degrees, ``moire`` grey levels
    RMS, ``seam`` percent of a period (:func:`phase_jump`), ``screen_dist`` in [0, 1]; ``line_iou``
    and, on pages with strokes over screens, ``stroke_iou`` (:func:`stroke_iou`) in [0, 1] (higher
    is better); ``seam_regions`` the number of regions ``seam`` is the mean of; ``intensity_core``
    and ``intensity_strips`` the mean intensity error over the regions whose tone is read on a
    core and over those read in strips (between strokes, or thin regions), ``core_regions`` and ``strips_regions``
    their numbers.
    """
    if out.shape != gt.image.shape:
        raise ValueError(f"output shape {out.shape} != ground truth {gt.image.shape}")
    rows = [r for k in range(1, len(gt.screens) + 1) if (r := region_metrics(out, gt, k)) is not None]
    res = {m: float(np.mean([r[m] for r in rows if m in r])) for m in METRICS[:-2] if any(m in r for r in rows)}
    # How many regions the seam metric measured (it skips regions too small, or too covered by
    # strokes, for 200 pairs of windows): the mean of a few is one region's value.
    res["seam_regions"] = sum("seam" in r for r in rows)
    # Intensity apart over the regions whose tone has a core and over those read in strips
    # between strokes (:func:`measured_tone`), with their numbers.
    for name, strips in (("core", False), ("strips", True)):
        values = [r["intensity"] for r in rows if r.get("strips") is strips]
        res[f"{name}_regions"] = len(values)
        if values:
            res[f"intensity_{name}"] = float(np.mean(values))
    res["line_iou"] = line_iou(out, gt)
    if (strokes := stroke_iou(out, gt)) is not None:
        res["stroke_iou"] = strokes
    return res
