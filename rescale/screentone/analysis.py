"""Screen analysis: find the screentoned regions of a greyscale/bitonal page and characterise each.

Detection works on local spectra of overlapping tiles: a tile is screened when it has texture
(variance) and either a prominent spectral peak (line screens) or a high density of black/white
transitions (dots, whose power is split over several peaks and harmonics, and noise). Line art has
variance too, but its spectrum is spread along a ray and its transitions are sparse. The tile map
is coarse, so each region's border is then refined at the pixel level with the transition density
smoothed over one screen period, and trimmed to the outline where one closes the region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from .metrics import dominant_peak

__all__ = ["ScreenParams", "analyze", "screen_map", "transition_density"]


@dataclass(frozen=True)
class ScreenParams:
    """A detected screen: ``kind`` ("dots", "lines" or "noise"), ``period`` px (0 for noise), wave
    vector ``angle`` in degrees ([0, 90) for dots, [0, 180) for lines), ``intensity`` its mean grey
    (0 ink .. 1 paper), ``area`` its pixel count."""

    kind: str
    period: float
    angle: float
    intensity: float
    area: int


def transition_density(img: np.ndarray) -> np.ndarray:
    """Per-pixel count of black/white changes to the right and below (binarised at 0.5), ``[H, W]``."""
    b = img < 0.5
    t = np.zeros(img.shape)
    t[:, :-1] += b[:, 1:] != b[:, :-1]
    t[:-1, :] += b[1:, :] != b[:-1, :]
    return t


def _tile_scores(img: np.ndarray, tile: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Peak prominence and variance of each ``tile`` x ``tile`` window at ``stride``, ``[Ty, Tx]``."""
    win = sliding_window_view(img, (tile, tile))[::stride, ::stride]
    ty, tx = win.shape[:2]
    n = 2 * tile
    f = np.fft.fftfreq(n)
    low = np.hypot(*np.meshgrid(f, f, indexing="ij")) < 1.5 / tile  # window DC lobe, slow gradients
    hann = np.outer(np.hanning(tile), np.hanning(tile))
    prom, var = np.empty((ty, tx)), np.empty((ty, tx))
    for r in range(ty):  # a row of tiles at a time keeps memory small on full pages
        z = win[r] - win[r].mean(axis=(1, 2), keepdims=True)
        var[r] = (z**2).mean(axis=(1, 2))
        p = np.abs(np.fft.fft2(z * hann, (n, n))) ** 2
        p[:, low] = 0
        # A peak's power spreads over a few bins: sum a 3x3 neighbourhood before the maximum.
        box = sum(np.roll(np.roll(p, i, 1), j, 2) for i in (-1, 0, 1) for j in (-1, 0, 1))
        prom[r] = 2 * box.reshape(tx, -1).max(1) / np.maximum(p.reshape(tx, -1).sum(1), 1e-12)
    return prom, var


def _coarse_mask(img: np.ndarray, tile: int, stride: int, min_prominence: float, min_var: float, min_density: float) -> np.ndarray:
    """Bool ``[H, W]``: pixels whose tile looks screened."""
    h, w = img.shape
    prom, var = _tile_scores(img, tile, stride)
    dens = sliding_window_view(transition_density(img), (tile, tile))[::stride, ::stride].mean(axis=(2, 3))
    screened = (var > min_var) & ((prom > min_prominence) | (dens > min_density))
    # Each tile votes for its central stride x stride block; blocks outside every tile centre take
    # the nearest tile's vote.
    ty, tx = screened.shape
    iy = np.clip((np.arange(h) - (tile - stride) // 2) // stride, 0, ty - 1)
    ix = np.clip((np.arange(w) - (tile - stride) // 2) // stride, 0, tx - 1)
    return screened[np.ix_(iy, ix)]


def _characterise(img: np.ndarray, mask: np.ndarray, noise_prominence: float) -> ScreenParams:
    """The screen of region ``mask`` from its spectrum (its rim left out: outlines)."""
    inner = ndimage.binary_erosion(mask, iterations=2)
    if inner.sum() < 16:
        inner = mask
    period, angle, prom = dominant_peak(img, inner)
    intensity = float(img[inner].mean())
    if prom < noise_prominence:
        return ScreenParams("noise", 0.0, 0.0, intensity, int(mask.sum()))
    # Dots have a second wave vector at +90 degrees; test the spectrum there.
    kind = "dots" if _has_orthogonal_peak(img, inner, period, angle) else "lines"
    return ScreenParams(kind, period, angle % 90.0 if kind == "dots" else angle, intensity, int(mask.sum()))


def _has_orthogonal_peak(img: np.ndarray, mask: np.ndarray, period: float, angle: float) -> bool:
    """Whether the power at the wave vector rotated by 90 degrees is comparable to the main peak's."""
    ys, xs = np.nonzero(mask)
    crop = np.where(mask, img, img[mask].mean())[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    crop = crop - crop.mean()
    yy, xx = np.mgrid[0 : crop.shape[0], 0 : crop.shape[1]]

    def power(theta_deg: float) -> float:
        t = np.deg2rad(theta_deg)
        # Best of a few nearby frequencies, so a slightly-off period estimate still finds the peak.
        return max(
            abs((crop * np.exp(-2j * np.pi * ((xx * np.cos(t) + yy * np.sin(t)) / (period * g)))).sum()) ** 2
            for g in (0.98, 1.0, 1.02)
        )

    return power(angle + 90.0) > 0.2 * power(angle)


def analyze(
    img,
    *,
    tile: int = 32,
    stride: int = 8,
    min_prominence: float = 0.25,
    min_var: float = 0.02,
    min_density: float = 0.15,
    noise_prominence: float = 0.06,
    min_area: int = 256,
    min_radius: float = 3.0,
    max_peel: int = 3,
) -> tuple[np.ndarray, list]:
    """Detect and characterise the screened regions of a page.

    Args:
        img: ``[H, W]`` greyscale page, float in [0, 1] or uint8 (0 = ink).
        tile, stride: local-spectrum window and step (px); ``tile`` must exceed twice the largest
            period to detect.
        min_prominence: a tile's strongest peak's share of its AC power for a periodic screen.
        min_var: a tile's variance below which it is flat (paper or solid ink).
        min_density: mean black/white transitions per pixel above which a textured tile is
            screened (line art has few: about 0.06 for a 2 px outline across a 32 px tile).
        noise_prominence: a region whose peak share is below this is a noise screen.
        min_area: smaller regions are dropped (px).
        min_radius: regions whose largest inscribed disc is smaller than this (px) or than two
            periods are dropped (strips along parallel lines look periodic or noisy).
        max_peel: how many times a group of screened tiles is split again once the regions
            found in it are taken out (a screen far coarser than its neighbours is found late;
            only periodic screens are taken from what is left).

    Returns:
        ``labels`` int ``[H, W]`` (0 unscreened, ``k`` region ``k``) and ``params``, a list of
        :class:`ScreenParams` for labels 1..K.
    """
    img = np.asarray(img)
    if img.ndim != 2:
        raise ValueError(f"expected a greyscale [H, W] page, got shape {img.shape}")
    img = img / 255.0 if img.dtype == np.uint8 else img.astype(np.float64)
    if min(img.shape) < tile:
        return np.zeros(img.shape, dtype=np.int64), []
    coarse = _coarse_mask(img, tile, stride, min_prominence, min_var, min_density)
    dens = transition_density(img)
    labels = np.zeros(img.shape, dtype=np.int64)
    params = []
    # Coarse components can bridge neighbouring regions (tiles straddle the gap between them), so
    # refine, split, and refine each part again with its own period and transition level.
    comps, _ = ndimage.label(coarse)
    for c, box in enumerate(ndimage.find_objects(comps), 1):
        # Work in the component's box with a margin for the refinement's reach: full pages have
        # hundreds of components.
        box = tuple(slice(max(b.start - 2 * tile, 0), b.stop + 2 * tile) for b in box)
        part, sub_img, sub_dens, sub_labels = comps[box] == c, img[box], dens[box], labels[box]
        # The split keeps pixels near the component's typical transition level, so a screen much
        # coarser than its neighbours (fewer transitions) drops out: peel what was found, with
        # the reach of its tiles, and split the rest again at its own level.
        for peel in range(max_peel):
            if part.sum() < min_area:
                break
            found = np.zeros_like(part)
            for piece in _components(_refine(sub_img, sub_dens, part, tile), min_area):
                found |= piece
                # Refined again at its own level, a piece grows back what the shared level cut
                # off, by up to tile / 4 px a time, until it settles (grows by under 2%).
                for _ in range(4):
                    grown = _refine(sub_img, sub_dens, piece, tile)
                    piece, growth = grown, (grown & ~piece).sum()
                    if growth < max(16, 0.02 * piece.sum()):
                        break
                piece = _trim_outside(sub_img, ndimage.binary_fill_holes(piece), tile // 4) & (sub_labels == 0)
                if piece.sum() < min_area or sub_img[piece].var() < min_var:  # too small, or flat
                    continue
                screen = _characterise(sub_img, piece, noise_prominence)
                if peel and screen.kind == "noise":  # leftovers without a peak are hatching
                    continue
                # A screen shows several periods across; a thin strip along a pair of parallel
                # outlines has a spectral peak but is no screen.
                if ndimage.distance_transform_edt(piece).max() < max(2 * screen.period, min_radius):
                    continue
                found |= piece
                sub_labels[piece] = len(params) + 1  # a view: writes into labels
                params.append(screen)
            if not found.any():
                break
            part &= ~ndimage.binary_dilation(found, iterations=tile // 2)
    return labels, params


def screen_map(labels: np.ndarray, params: list) -> dict:
    """Per-pixel maps of :func:`analyze`'s result: ``{"kind", "period", "angle", "intensity"}``,
    each ``[H, W]``. ``kind`` is int (0 unscreened, 1 dots, 2 lines, 3 noise); the others are float
    and NaN where unscreened (``period`` is 0 on noise)."""
    kinds = {"dots": 1, "lines": 2, "noise": 3}
    table = {
        "kind": np.array([0] + [kinds[p.kind] for p in params]),
        "period": np.array([np.nan] + [p.period for p in params]),
        "angle": np.array([np.nan] + [p.angle for p in params]),
        "intensity": np.array([np.nan] + [p.intensity for p in params]),
    }
    return {name: values[labels] for name, values in table.items()}


def _components(mask: np.ndarray, min_area: int) -> list:
    comps, n = ndimage.label(mask)
    sizes = ndimage.sum(mask, comps, range(1, n + 1))
    return [comps == c for c, size in zip(range(1, n + 1), sizes) if size >= min_area]


def _trim_outside(img: np.ndarray, region: np.ndarray, reach: int, keep: float = 0.6) -> np.ndarray:
    """Drop the paper around a region that is closed by an outline: the smoothed density spills a
    few px past the outline onto the paper outside. Paper components reaching more than ``reach``
    px beyond the region are outside (a pocket of the screen's own paper left out of the region
    ends at the outline, a few px away); if removing them would take more than ``1 - keep`` of the
    region, the region is not closed (its own paper phase leaks out) and is left as it is."""
    comps, _ = ndimage.label(img >= 0.5)
    far = ndimage.distance_transform_edt(~region) > reach
    outside = np.unique(comps[far & (comps > 0)])
    trimmed = region & ~np.isin(comps, outside)
    return trimmed if trimmed.sum() >= keep * region.sum() else region


def _refine(img: np.ndarray, dens: np.ndarray, region: np.ndarray, tile: int) -> np.ndarray:
    """Pixel-level border near a coarse region: the transition density averaged over about one
    period is flat inside the screen and falls to half its level at the border."""
    # A coarse region may span several screens, so its peak is weak: any peak sets the scale.
    period, _, prominence = dominant_peak(img, region)
    sigma = max(period if prominence > 0.01 else 0.0, 2.0) * 0.6
    # Work on the region's box with the margin the result depends on (pieces are small next to
    # the box of their coarse component, and refined several times).
    ys, xs = np.nonzero(region)
    m = tile // 4 + int(np.ceil(4 * sigma)) + 4
    box = (slice(max(ys.min() - m, 0), ys.max() + m + 1), slice(max(xs.min() - m, 0), xs.max() + m + 1))
    sub = region[box]
    level = ndimage.gaussian_filter(dens[box], sigma)
    inner = ndimage.binary_erosion(sub, iterations=tile // 4)
    ref = np.median(level[inner] if inner.any() else level[sub])
    near = ndimage.binary_dilation(sub, iterations=tile // 4)
    out = np.zeros_like(region)
    out[box] = ndimage.binary_opening(near & (level > 0.5 * ref), iterations=2)
    return out
