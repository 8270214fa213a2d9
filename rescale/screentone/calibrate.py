"""Tone calibration of a synthesised screen: its local tone made equal to a target (a tone or a map).

A screen copied 1:1 keeps its pitch, but the tone of a small region depends on where its dots fall
against the region's border and on the seams between copies; both show up as slow tone changes
(moire) and as a mean tone off the source's. The local tone is the screen averaged out by a
Gaussian ``G`` of about one period, normalised inside the region ``M``: ``G * (b M) / W`` with
``W = G * M``. Calibration makes it equal to a target everywhere:

- bitonal screens by a direct binary search (Analoui & Allebach 1992) restricted to the pixels on
  the edges of dots and lines, so dots grow or shrink by single pixels and the pattern (kind,
  period, angle) is kept. It minimises ``sum over M of W^2 (local tone - target)^2``, i.e.
  ``|G * (b M) - target W|^2``: the weight ``W^2`` lets the pixels along the border, whose local
  tone rests on a few pixels, count less;
- grey screens (scans) by subtracting the local tone error.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .smooth import gaussian

__all__ = ["local_tone", "mask_weight", "region_tone", "tone_ramp", "calibrate_bitonal", "calibrate_grey"]

_4 = ndimage.generate_binary_structure(2, 1)


def local_tone(img: np.ndarray, mask: np.ndarray, sigma: float, weight: np.ndarray | None = None) -> np.ndarray:
    """``[H, W]`` mean of ``img`` under a Gaussian of ``sigma`` px, over the pixels of ``mask`` only
    (0 outside ``mask``'s reach). ``weight``: the mask's own smoothing (:func:`mask_weight`), when
    the caller has it (it is the same for every image read over one mask)."""
    if weight is None:
        weight, sums = gaussian(np.stack([mask.astype(float), np.where(mask, img, 0.0)]), sigma, mode="constant")
    else:
        sums = gaussian(np.where(mask, img, 0.0), sigma, mode="constant")
    return sums / np.maximum(weight, 1e-6)


def mask_weight(mask: np.ndarray, sigma: float) -> np.ndarray:
    """``[H, W]``: the share of a Gaussian of ``sigma`` px around each pixel that lies in ``mask``."""
    return gaussian(mask.astype(float), sigma, mode="constant")


def _core(mask: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` whose local tone's window lies 90% in it (``weight``: the mask's
    :func:`mask_weight` over that window)."""
    return mask & (weight > 0.9)


def region_tone(img: np.ndarray, mask: np.ndarray, sigma: float) -> float:
    """Mean tone of region ``mask`` of ``img`` ``[H, W]``, measured where the local tone's window
    lies (90%) inside the region: away from its border, where outlines and a border found a pixel
    off would darken or lighten it, and where a screen's phase against the border does not count."""
    weight = mask_weight(mask, sigma)
    core = _core(mask, weight)
    if core.sum() < 16:  # a thin region: take all of it
        return float(img[mask].mean())
    return float(local_tone(img, mask, sigma, weight)[core].mean())


def tone_ramp(img: np.ndarray, mask: np.ndarray, sigma: float, min_range: float = 8 / 255, min_z: float = 10.0):
    """The linear trend of region ``mask``'s local tone in ``img`` ``[H, W]``, or None if its tone
    is flat: a fading screen (a gradient, common in manga) is then calibrated to its fade instead
    of to one tone.

    The local tone (a Gaussian of ``sigma`` px, one period) is fitted by a plane over the region's
    core. The trend counts if it spans at least ``min_range`` over the region and its slope is
    ``min_z`` standard errors from 0; the errors count the local tones as ``N / (4 pi sigma^2)``
    independent samples (neighbours share their window). Flat screens, whose local tone only
    wanders by sampling (noise grains, pixel beats), stay flat.

    Returns:
        ``ramp(y, x)``: the trend at source pixel coordinates (arrays), zero on average over the
        core, to be added to the region's tone; or None.
    """
    weight = mask_weight(mask, sigma)
    core = _core(mask, weight)
    if core.sum() < 64:
        return None
    tone = local_tone(img, mask, sigma, weight)[core]
    ys, xs = np.nonzero(core)
    y0, x0 = ys.mean(), xs.mean()
    a = np.stack([np.ones(len(ys)), ys - y0, xs - x0], 1)
    coef, *_ = np.linalg.lstsq(a, tone, rcond=None)
    resid = tone - a @ coef
    n_eff = max(core.sum() / (4 * np.pi * sigma**2), 4.0)
    cov = np.linalg.inv(a.T @ a)[1:, 1:] * resid.var() * core.sum() / n_eff
    slope = coef[1:]
    z2 = float(slope @ np.linalg.solve(cov, slope)) if resid.var() > 0 else np.inf
    my, mx = np.nonzero(mask)
    trend = slope[0] * (my - y0) + slope[1] * (mx - x0)
    if trend.max() - trend.min() < min_range or z2 < min_z**2:
        return None
    return lambda y, x: slope[0] * (y - y0) + slope[1] * (x - x0)


def calibrate_grey(img: np.ndarray, mask: np.ndarray, target, sigma: float) -> np.ndarray:
    """Grey screen ``img`` ``[H, W]`` with its local tone error inside ``mask`` subtracted (a few
    rounds, as clipping to [0, 1] leaves some error); ``target`` a scalar or ``[H, W]``."""
    out = img.copy()
    weight = mask_weight(mask, sigma)
    for _ in range(4):
        err = np.where(mask, local_tone(out, mask, sigma, weight) - target, 0.0)
        out = np.where(mask, np.clip(out - err, 0.0, 1.0), out)
    return out


def calibrate_bitonal(
    img: np.ndarray,
    mask: np.ndarray,
    target,
    sigma: float,
    rims: int = 1,
    min_gain: float = 0.5,
    max_rounds: int = 400,
    waves: list | None = None,
    phase_weight: float = 8.0,
) -> np.ndarray:
    """Bitonal screen ``img`` ``[H, W]`` (0 ink, 1 paper) with edge pixels inside ``mask`` flipped
    until no flip or swap brings the local tone closer to ``target`` (scalar or ``[H, W]``).

    The tone is made flat over ``mask`` and over ``mask`` eroded by 1..``rims`` px alike, so it
    does not depend on whether the pixels along an outline are counted as screen or not. A move
    must lower the error by ``min_gain`` times the error a lone flip adds by itself, so the
    pattern is not reshaped for tone differences well below one pixel's worth.

    With the screen's wave vectors ``waves`` ((fy, fx) in cycles per pixel of ``img``), the local
    phase of each is kept too: a flip on one side of a dot moves the dot (and the lattice's local
    phase) by a fraction of a pixel, one on each side does not. Each wave's local amplitude
    (demodulated over the Gaussian of the tone) may change only along its phase: its change
    across, times ``sqrt(phase_weight)``, is an error like the tone's.

    Each round flips, among the edge pixels whose flip lowers the error, those that are the best
    within ``sigma`` px of themselves; flips that close still interact, so a round that would
    raise the error is cut to its better half until it lowers it (the error only falls). When no
    single flip helps, swaps of an ink and a paper edge pixel a few px apart move tone by less
    than one pixel's worth. The result is deterministic.
    """
    masks = [mask]
    for _ in range(rims):
        inner = ndimage.binary_erosion(masks[-1], _4)
        if inner.sum() < 0.5 * mask.sum():  # a thin region: its rim is most of it
            break
        masks.append(inner)
    ms = [m.astype(float) for m in masks]
    b0 = np.where(mask, img >= 0.5, img).astype(float)
    # Each error field is G * (b g) - c over the pixels of its mask M: the tone's per mask (g = M,
    # c = target G * M), and each wave's amplitude change across its phase (g = the flip's
    # leverage on the phase, c = G * (b0 g)).
    fields = [(m, target * ndimage.gaussian_filter(m, sigma, mode="constant"), m) for m in ms]
    # The phase is kept where it is measured, where the Gaussian lies (90%) inside the region: in
    # a region narrower than that, it is the tone's to fix.
    core = _core(mask, mask_weight(mask, sigma / 2)).astype(float)
    for fy, fx in waves or []:
        yy, xx = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
        theta = 2 * np.pi * (fy * yy + fx * xx)
        amp = ndimage.gaussian_filter(b0 * ms[0] * np.cos(theta), sigma, mode="constant") - 1j * (
            ndimage.gaussian_filter(b0 * ms[0] * np.sin(theta), sigma, mode="constant")
        )
        lever = np.sqrt(phase_weight) * np.sin(theta + np.angle(amp)) * ms[0]
        fields.append((lever, ndimage.gaussian_filter(b0 * lever, sigma, mode="constant"), core))

    # Self term of a flip at x: sum over M of (G(y - x) g(x))^2; G^2 is a Gaussian of
    # sigma / sqrt(2) scaled by 1 / (4 pi sigma^2). The tone's alone sets the gain a move needs.
    def self_of(fs):
        return sum(ndimage.gaussian_filter(m, sigma / np.sqrt(2), mode="constant") * g * g for g, _, m in fs) / (
            4 * np.pi * sigma**2
        )

    tone_self = self_of(fields[: len(ms)])
    self_term = self_of(fields)
    size = 2 * int(np.ceil(sigma)) + 1
    jitter = 1e-6 * np.random.default_rng(0).random(mask.shape)

    def errors(b):
        return [np.where(m > 0, ndimage.gaussian_filter(b * g, sigma, mode="constant") - c, 0.0) for g, c, m in fields]

    def gradient(es):  # dE/db(x) / 2
        return sum(ndimage.gaussian_filter(e, sigma, mode="constant") * g for e, (g, _, _) in zip(es, fields))

    b = b0
    es = errors(b)
    energy = sum((e**2).sum() for e in es)
    reach = min(max(int(sigma // 2), 1), 4)
    offsets = [
        (dy, dx)
        for dy in range(0, reach + 1)
        for dx in range(-reach, reach + 1)
        if (dy, dx) > (0, 0) and dy * dy + dx * dx <= reach * reach
    ]
    swaps = False  # single flips first; once none helps, pairs that move ink by a few px
    for _ in range(max_rounds):
        grad = gradient(es)  # counted for x in each mask only (a pixel outside it is not in its tone)
        d = 1.0 - 2.0 * b  # +1 turns paper on (lighter), -1 turns ink on (darker)
        ink = b < 0.5
        # Edge pixels: paper touching ink (a dot grows) or ink touching paper (a dot shrinks).
        edge = np.where(ink, ndimage.binary_dilation(~ink, _4), ndimage.binary_dilation(ink, _4)) & mask
        # Among equal gains, prefer pixels with more neighbours of the other colour: dots grow
        # and shrink round instead of sprouting single pixels. The jitter breaks the remaining
        # ties (flat screens have plateaus of equal scores), so picks are apart.
        paper_around = ndimage.uniform_filter(b, 3, mode="nearest")
        shape = 1.0 + 0.5 * np.where(ink, paper_around, 1.0 - paper_around) + jitter
        if not swaps:
            gain = -(2 * d * grad + self_term)  # energy saved by flipping x alone
            score = np.where(edge & (gain > min_gain * tone_self), gain * shape, 0.0)
            partner = None
            window = size
        else:
            score, partner = _best_swaps(grad, d, self_term, tone_self, edge, shape, offsets, sigma, min_gain)
            window = max(size, 4 * reach + 1)  # pairs of different picks never share a pixel
        picks = np.flatnonzero((score > 0) & (score == ndimage.maximum_filter(score, window, mode="constant")))
        picks = picks[np.argsort(-score.flat[picks])]
        while len(picks):
            trial = b.copy()
            flips = picks if partner is None else np.concatenate([picks, partner.flat[picks]])
            trial.flat[flips] = 1.0 - trial.flat[flips]
            es_trial = errors(trial)
            energy_trial = sum((e**2).sum() for e in es_trial)
            if energy_trial < energy:
                break
            picks = picks[: len(picks) // 2]
        if len(picks):
            b, es, energy = trial, es_trial, energy_trial
            swaps = False  # a change may let single flips help again
        elif swaps:
            break
        else:
            swaps = True
    b = _match_mean(b, mask, target, lambda b: gradient(errors(b)), self_term, sigma)
    return np.where(mask, b, img)


def _match_mean(b, mask, target, gradient, self_term, sigma):
    """``b`` with the fewest, least harmful edge flips that make its mean over ``mask`` the
    target's to within one pixel. The local search stops at errors below half a pixel's worth per
    window; those still add up over a large region (0.2 grey levels over a few thousand pixels),
    a bias the region's mean tone should not carry."""
    n = int(mask.sum())
    want = int(np.rint(float(np.mean(np.broadcast_to(target, mask.shape)[mask])) * n - b[mask].sum()))
    while want:
        d = 1.0 if want > 0 else -1.0  # turn ink to paper (lighter) or paper to ink
        ink = b < 0.5
        source = ink if d > 0 else ~ink  # the pixels that can flip that way
        edge = source & ndimage.binary_dilation(~source, _4) & mask
        cost = 2 * d * gradient(b) + self_term  # energy added by the flip (lowest first)
        score = np.where(edge, -cost, -np.inf)
        # Spread apart, so the flips of one batch do not pile up their errors.
        size = 2 * int(np.ceil(sigma)) + 1
        picks = np.flatnonzero(edge & (score == ndimage.maximum_filter(score, size, mode="constant")))
        if not len(picks):
            break
        picks = picks[np.argsort(-score.flat[picks])][: abs(want)]
        b = b.copy()
        b.flat[picks] = 1.0 - b.flat[picks]
        want -= int(d) * len(picks)
    return b


def _best_swaps(grad, d, self_term, tone_self, edge, shape, offsets, sigma, min_gain):
    """For each pixel ``x``, the best swap with a pixel ``y = x + o`` of the other colour
    (``o`` in ``offsets``): the energy it saves, times the shape preference, and ``y``'s flat
    index. Flipping both moves ink from one to the other, changing the tone only nearby."""
    h, w = grad.shape
    best = np.zeros((h, w))
    partner = np.zeros((h, w), dtype=np.int64)
    index = np.arange(h * w).reshape(h, w)
    for dy, dx in offsets:
        # x ranges over the pixels whose partner x + (dy, dx) is inside the array.
        xs = (slice(0, h - dy), slice(max(-dx, 0), w - max(dx, 0)))
        ys = (slice(dy, h), slice(max(dx, 0), w - max(-dx, 0)))
        # The cross term of two flips: sum over M of G(z - x) G(z - y), the self terms times
        # the overlap exp(-|o|^2 / 4 sigma^2) of two Gaussians.
        # (The tone's only: a swap's phase terms are left out of its estimate; the round's trial
        # counts them.)
        cross = np.sqrt(tone_self[xs] * tone_self[ys]) * np.exp(-(dy * dy + dx * dx) / (4 * sigma**2))
        gain = -(
            2 * d[xs] * grad[xs] + 2 * d[ys] * grad[ys] + self_term[xs] + self_term[ys] + 2 * d[xs] * d[ys] * cross
        )
        ok = edge[xs] & edge[ys] & (d[xs] != d[ys]) & (gain > min_gain * tone_self[xs])
        score = np.where(ok, gain * 0.5 * (shape[xs] + shape[ys]), 0.0)
        better = score > best[xs]
        best[xs] = np.where(better, score, best[xs])
        partner[xs] = np.where(better, index[ys], partner[xs])
    return best, partner
