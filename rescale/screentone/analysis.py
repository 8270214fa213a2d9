"""Screen analysis: find the screentoned regions of a greyscale/bitonal page and characterise each.

Three steps, each finer than the one before and run on less of the page:

Steps 1 and 2 are :mod:`rescale.screentone.tiles`; step 3 and the assembly are here (about 700 lines:
step 3's tests share the region being grown, its box and its lattice, and read best together).
Step 3 runs the groups side by side in threads, each on the pixels the groups before it left free
when it started, checked against them before it is taken (:func:`analyze`).

1. **Tiles.** The local spectra of overlapping tiles (one batched FFT) say which tiles hold a
   screen and which: dots have two strong, sharp peaks at right angles, line screens one strong,
   sharp peak, noise screens a dense grain (many ink/paper changes) with no peak at all. Line art,
   hatching and hair fail these tests: their power lies along rays or in broad bumps (hand-drawn
   strokes are not evenly spaced), a single peak is not sharp, and their changes are sparser than
   a screen's grain.
2. **Screen hypotheses.** Neighbouring screen tiles of one kind whose peaks agree (the same lattice)
   are grouped; each group is one screen, with its wave vectors.
3. **Pixels.** A periodic screen's pixels are those where the image is explained by the screen's
   own frequencies: its demodulated power (a Gabor filter at each wave vector and harmonic) is
   both strong and most of the local power. Hatching, hair and outlines next to the screen have
   other frequencies, so regions end at them. Noise screens are delineated by the density of
   ink/paper changes instead. Each region is then characterised from its own spectrum and kept
   if it is a screen: it repeats on its lattice (folded onto one cell of the lattice, its mean
   there explains most of its variance; hand-drawn strokes vary in spacing and length), spans
   more than a pair of parallel lines, and most tiles inside it looked screened.

Ink/paper changes are counted against the local mean with a minimum contrast, so grey scans
(blurred, light dots that never reach mid grey, sensor noise) count like bitonal pages.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from .distance import distance_to_background
from .grouped import block_phase_keys, median_by_key
from .lattice import wave_vectors
from .morphology import dilate, erode, grow_within, opening, thin
from .parallel import ahead, thread_count
from .smooth import demodulated_power, gaussian
from .spectrum import masked_spectrum, refine_peak
from .tiles import NOISE, hypotheses, lattice_vectors, tile_features, tile_kinds, tile_vectors, transition_density

__all__ = ["ScreenParams", "Thresholds", "analyze", "screen_map", "transition_density"]


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


# --- 3. pixels -------------------------------------------------------------------------------------


def _frequencies(vectors: list) -> list:
    """A periodic screen's frequencies: its fundamentals and first harmonics (dots: ``a, b, a + b,
    a - b``; lines: ``v, 2 v``)."""
    if len(vectors) == 2:
        a, b = vectors
        return [a, b, a + b, a - b]
    return [vectors[0], 2 * vectors[0]]


def _factors(shape: tuple, vectors: list) -> tuple[np.ndarray, np.ndarray]:
    """``exp(i phase)`` of each of the screen's :func:`_frequencies` as the outer product of its
    rows' and columns' factors (a multiplication per pixel instead of a cosine and a sine): the
    factors, complex ``[N, H]`` and ``[N, W]``."""
    freqs = _frequencies(vectors)
    rows = np.array([np.exp(2j * np.pi * fy * np.arange(shape[0])) for fy, _ in freqs])
    cols = np.array([np.exp(2j * np.pi * fx * np.arange(shape[1])) for _, fx in freqs])
    return rows, cols


def _waves(shape: tuple, vectors: list) -> np.ndarray:
    """``exp(i phase)`` of each of the screen's :func:`_frequencies`, complex ``[N, H, W]``."""
    return np.stack([np.outer(a, b) for a, b in zip(*_factors(shape, vectors))])


def _demodulated(img: np.ndarray, vectors: list, sigma: float) -> tuple:
    """For each frequency of a periodic screen (:func:`_frequencies`): the wave ``exp(i phase)``
    ``[H, W]`` and its local complex amplitude (real and imaginary parts ``[H, W]``: the image
    demodulated and averaged by a Gaussian of ``sigma`` px). Returns ``(waves, re, im)``, each
    ``[N, H, W]``: all planes are smoothed in one call."""
    waves = _waves(img.shape, vectors)
    stack = np.empty((2 * len(waves), *img.shape))
    np.multiply(img, waves.real, out=stack[0::2])
    np.multiply(img, waves.imag, out=stack[1::2])
    smooth = gaussian(stack, sigma, truncate=3.0)
    return waves, smooth[0::2], smooth[1::2]


def _screen_fit(img: np.ndarray, vectors: list, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Local power of a periodic screen ``[H, W]`` (its fundamentals and first harmonics, each
    demodulated and averaged by a Gaussian of ``sigma`` px: the +v and -v halves of a real wave,
    twice the amplitude squared) and its share of the local variance; the planes are smoothed and
    reduced row by row (:func:`~rescale.screentone.smooth.demodulated_power`)."""
    return demodulated_power(img, *_factors(img.shape, vectors), sigma, truncate=3.0)


def screen_model(img: np.ndarray, screen: ScreenParams, sigma: float) -> np.ndarray:
    """``[H, W]``: the image as the periodic ``screen`` alone explains it, locally: its mean and
    its fundamentals and first harmonics with their local amplitudes and phases (over a Gaussian of
    ``sigma`` px). What the model leaves out (``img - model``) is what is drawn over the screen."""
    model = gaussian(img, sigma)
    waves, res, ims = _demodulated(img, wave_vectors(screen.kind, screen.period, screen.angle), sigma)
    for wave, re, im in zip(waves, res, ims):
        model += 2 * (re * wave.real + im * wave.imag)
    return model


def _fit_maps(img: np.ndarray, dens: np.ndarray, vectors: list) -> tuple:
    """The maps :func:`_periodic_pixels` tests, ``[H, W]`` each: the local power of the screen of wave
    ``vectors`` (its amplitude squared, over a Gaussian of 0.7 period), its share of the local
    variance, and the density of ink/paper changes averaged over about a period."""
    period = 1.0 / max(np.hypot(*vectors[0]), 1e-9)
    power, share = _screen_fit(img, vectors, max(0.7 * period, 1.5))
    return power, share, gaussian(dens, max(0.6 * period, 1.2))


def _periodic_pixels(maps: tuple, core: np.ndarray, free: np.ndarray, reach: int) -> np.ndarray:
    """Bool ``[H, W]``: where the screen whose :func:`_fit_maps` are ``maps`` explains the image,
    grown from ``core`` (its tiles' centres), within ``free``.

    Inside, the screen's power is strong and most of the local variance, and ink/paper changes
    are as dense as in the core. Towards the border all three fall, the share sooner (an
    outline's variance enters the window first), so the share only selects the interior, and the
    region is grown from there (by up to ``reach`` px: past a phase slip of the screen, where the
    share dips) to where the power (the screen's amplitude squared) falls to a quarter, i.e.
    where half the window lies on the screen, and the changes (averaged over about a period) to
    half: paper beside an outline has some power at the screen's frequencies (the outline's), but
    no changes."""
    power, share, level = maps
    ref_power, ref_share, ref_level = np.median(power[core]), np.median(share[core]), np.median(level[core])
    strong = (power > 0.25 * ref_power) & (level > 0.5 * ref_level) & free
    inside = opening(strong & (share > 0.5 * ref_share))
    grown = grow_within(_touching(inside, core), strong, reach)
    return opening(grown)


def _noise_pixels(dens: np.ndarray, core: np.ndarray, reach: int, free: np.ndarray, min_density: float) -> np.ndarray:
    """Bool ``[H, W]``: where the density of ink/paper changes (over a few px) is that of the
    ``core``'s grain (at least ``min_density``), within ``reach`` px of it and within ``free``."""
    level = gaussian(dens, 1.5)
    ref = max(np.median(level[core]), min_density)
    near = dilate(core, reach)
    mask = opening(near & (level > 0.5 * ref) & free, 2)
    return _touching(mask, core)


def _to_outline(
    img: np.ndarray, region: np.ndarray, free: np.ndarray, grow: int, reach: int, keep: float = 0.6
) -> np.ndarray:
    """``region`` grown by ``grow`` px (within ``free``) to the outer edge of the outline that
    closes it, if one does: the retargeting leaves an outline found along a region's rim to the
    structure, and the screen's pixels up to the outline belong to the region.

    The growth (and the region's own rim) spill onto the paper beyond the outline; paper
    components (``img >= 0.5``) reaching more than ``reach`` px beyond the grown region are
    outside and are removed there (a pocket of the screen's own paper ends at the outline, a few
    px away). If that would remove more than ``1 - keep`` of the region, no outline closes it (its
    own paper phase leaks out) and the region is left as it was found."""
    grown = grow_within(region, free, grow) | region
    comps, n = ndimage.label(img >= 0.5)
    far = distance_to_background(~grown) > reach
    outside = np.zeros(n + 1, dtype=bool)
    outside[comps[far]] = True
    outside[0] = False
    # Only the growth and the region's rim are trimmed: deeper in, the region is its screen, whose
    # paper may well reach open paper (a light screen with no outline on that side).
    deep = erode(region, grow)
    trimmed = deep | (grown & ~outside[comps])
    return trimmed if trimmed.sum() >= keep * grown.sum() else region


def _support(
    piece: np.ndarray, origin: tuple[int, int], tiles: np.ndarray, tile: int, stride: int, inside: float = 0.9
) -> float:
    """The share of the tiles lying (``inside``) in ``piece`` (bool, its ``[0, 0]`` at page pixel
    ``origin``) that are among ``tiles`` ``[Ty, Tx]`` (1 if none lies in it: a region smaller
    than a tile)."""
    ys, xs = np.nonzero(piece)
    ys, xs = ys + origin[0], xs + origin[1]
    ty, tx = tiles.shape
    # (At least the last row or column of tiles: a piece may lie in the few rows and columns at
    # the page's bottom and right edges that lie in no tile.)
    r1, c1 = min(ys.max() // stride + 1, ty), min(xs.max() // stride + 1, tx)
    r0, c0 = min(max(ys.min() // stride - 1, 0), r1 - 1), min(max(xs.min() // stride - 1, 0), c1 - 1)
    # The piece on the pixels of tiles r0..r1-1, c0..c1-1.
    sub = np.zeros(((r1 - 1 - r0) * stride + tile, (c1 - 1 - c0) * stride + tile), dtype=bool)
    ys, xs = ys - r0 * stride, xs - c0 * stride
    fits = (ys < sub.shape[0]) & (xs < sub.shape[1])
    sub[ys[fits], xs[fits]] = True
    cover = sliding_window_view(sub, (tile, tile))[::stride, ::stride].mean(axis=(2, 3)) >= inside
    n = cover.sum()
    return float((cover & tiles[r0:r1, c0:c1]).sum() / n) if n else 1.0


def _touching(mask: np.ndarray, core: np.ndarray) -> np.ndarray:
    """The components of ``mask`` (4-connected) that overlap ``core``: ``mask`` flooded from them."""
    return grow_within(core & mask, mask, max(mask.size, 1))


def _fill_holes(mask: np.ndarray, max_area: int, max_radius: float) -> np.ndarray:
    """``mask`` with its small holes (under ``max_area`` px: specks the fit missed) and thin ones
    (no disc of ``max_radius`` px fits: strokes drawn over the screen, which the retargeting
    finds in the region) filled; larger holes (a face inside a screened background) stay."""
    # The holes are the pieces of the background (4-connected, as binary_fill_holes sees them)
    # that do not reach the edge of the array.
    comps, n = ndimage.label(~mask)
    if n == 0:
        return mask
    hole = np.ones(n + 1, dtype=bool)
    for edge in (comps[0], comps[-1], comps[:, 0], comps[:, -1], [0]):
        hole[edge] = False
    fill = hole & (np.bincount(comps.ravel(), minlength=n + 1) < max_area)
    for k, box in enumerate(ndimage.find_objects(comps), 1):
        if hole[k] and not fill[k]:  # a large hole: filled if thin (no disc of max_radius fits in it)
            fill[k] = distance_to_background(np.pad(comps[box] == k, 1)).max() <= max_radius
    return mask | fill[comps]


# --- characterisation ------------------------------------------------------------------------------


def _characterise(
    img: np.ndarray,
    mask: np.ndarray,
    kind: int,
    vectors: list,
    noise_prominence: float,
    min_regularity: float,
    noise_var: float,
    crop: int = 256,
) -> ScreenParams | None:
    """The screen of region ``mask`` from its spectrum (its rim left out: outlines; at most
    ``crop`` px across, around its deepest point, which pins the period to a fraction of a percent).
    The period and angle are those of the peak near the group's wave vector, dots or lines as a
    peak at right angles is there or not. ``None`` if the region contradicts its group: a grain
    with a peak, a periodic screen without one or one that does not repeat (its
    :func:`_regularity` under ``min_regularity`` for lines, half that for dots)."""
    inner = erode(mask, 2)
    if inner.sum() < 16:
        inner = mask
    intensity = float(img[inner].mean())
    area = int(mask.sum())
    dist = distance_to_background(inner)
    cy, cx = np.unravel_index(dist.argmax(), dist.shape)
    y0, x0 = max(cy - crop // 2, 0), max(cx - crop // 2, 0)
    sub_img, sub = img[y0 : y0 + crop, x0 : x0 + crop], inner[y0 : y0 + crop, x0 : x0 + crop]
    p = masked_spectrum(sub_img, sub)
    fy, fx, band = _spectrum_grid(p.shape[0])
    total = max(p[band].sum() / 2, 1e-12)
    # The main peak: near the group's wave vector (10%), else anywhere in the band.
    v1, s1 = _peak(p, fy, fx, band, None if kind == NOISE else vectors[0], 0.1)
    prominence = s1 / total
    if kind == NOISE:
        # A grain has no peak; one with a peak is a periodic screen the tiles did not see as one,
        # or line art among the grain.
        return ScreenParams("noise", 0.0, 0.0, intensity, area) if prominence < noise_prominence else None
    if prominence < noise_prominence / 2:
        return None  # no peak where the tiles saw one
    rot = np.array([v1[1], -v1[0]])  # turned by 90 degrees
    v2, s2 = _peak(p, fy, fx, band, rot, 0.1)
    is_dots = s2 > 0.2 * s1
    period = 1.0 / max(np.hypot(*v1), 1e-9)
    angle = float(np.degrees(np.arctan2(v1[0], v1[1])) % 180.0)
    lattice = [v1, v2] if is_dots else [v1]
    # Measured away from the rim, which holds the outline, whose variance would swamp a light
    # screen's. Hatching imitates a line screen, not a dot lattice (two peaks at right angles):
    # line screens must repeat more closely.
    deep = erode(inner, 4)
    # Strokes drawn over the screen (hair, hatching, text) are left out: far darker than the
    # screen's own reads at the same phase.
    if _regularity(img, deep if deep.sum() >= 64 else inner, lattice, noise_var, over=True) < (
        0.5 * min_regularity if is_dots else min_regularity
    ):
        return None  # hand-drawn: hatching or hair
    if is_dots:
        return ScreenParams("dots", float(period), angle % 90.0, intensity, area)
    return ScreenParams("lines", float(period), angle, intensity, area)


@functools.lru_cache(maxsize=2)
def _spectrum_grid(n: int) -> tuple:
    """``fy``, ``fx`` ``[n, n]`` (cycles per pixel) of an fftshifted spectrum, and the band of
    periods under 24 px that screens lie in."""
    f = (np.arange(n) - n // 2) / n
    fy, fx = np.meshgrid(f, f, indexing="ij")
    return fy, fx, np.hypot(fx, fy) >= 1 / 24


def _regularity(
    img: np.ndarray,
    mask: np.ndarray,
    lattice: list,
    noise_var: float = 0.0,
    block: int = 64,
    bins: int | None = None,
    over: bool = False,
    ink: float = 0.2,
) -> float:
    """How well the region ``mask`` of ``img`` repeats on ``lattice`` (wave vectors (fy, fx)):
    the share of its variance explained by its mean over one cell of the lattice (pixels folded
    into ``bins`` phases per wave vector), in blocks of ``block`` px (over which a scanned screen's
    drift is small), weighted by their pixels; the page's sensor noise (``noise_var`` per pixel),
    which nothing explains, left out of the variance. Near 1 for a screen, low for hand-drawn
    strokes, whose spacing and length vary. With ``over``, thin ink (no 3x3 square fits in it)
    darker by ``ink`` or more than the median of its block and phase (strokes drawn over the
    screen) is left out first, if it is under half of the pixels."""
    if bins is None:
        bins = 16 if len(lattice) == 1 else 8
    ys, xs, values, cell, key = block_phase_keys(img, mask, lattice, bins, block)
    if over:
        median = median_by_key(key, values)
        # Strokes are thin: solid ink (a pupil, a black fill) is not left out, as it is no screen.
        plain = ~thin(ys, xs, values <= median - ink)
        if plain.mean() > 0.5:
            values, key, cell = values[plain], key[plain], cell[plain]
    # Means per (block, phase) and per block: bincounts over the (few) keys, no sorting.
    count = np.bincount(key)
    folded = np.bincount(key, values) / np.maximum(count, 1)
    ccount = np.bincount(cell)
    mean = np.bincount(cell, values) / np.maximum(ccount, 1)
    noise = noise_var * len(values)
    total = ((values - mean[cell]) ** 2).sum() - noise
    residual = ((values - folded[key]) ** 2).sum() - noise
    return float(1 - max(residual, 0.0) / total) if total > noise else 0.0


#: Pieces of four squares or more that fail the tests as a whole are tried again in squares of this
#: side (px), three tiles (:func:`_squares`).
_SIDE = 96
_SPLIT_AREA = 4 * _SIDE**2


def _squares(piece: np.ndarray, side: int, min_area: int) -> list:
    """The parts (bool masks like ``piece``, each ``min_area`` px or more) of ``piece`` in each
    ``side`` x ``side`` square of a grid over it, each connected part on its own.

    A large group of tiles (one screen across a panel, its tiles linked across the strokes drawn
    over it) grows a large piece, which may also take in a drawn texture beside or over the screen
    that the screen's lattice explains in part. As a whole, such a piece may then fail the test
    that it repeats on its lattice, and the whole screen was lost with it; in parts about as large
    as a few tiles' groups, the parts that are screen pass."""
    parts = []
    for y in range(0, piece.shape[0], side):
        for x in range(0, piece.shape[1], side):
            cut = np.zeros(piece.shape, dtype=bool)
            cut[y : y + side, x : x + side] = piece[y : y + side, x : x + side]
            comps, n = ndimage.label(cut)
            parts += [m for m in (comps == c for c in range(1, n + 1)) if m.sum() >= min_area]
    return parts


def _peak(p: np.ndarray, fy: np.ndarray, fx: np.ndarray, band: np.ndarray, guess, radius: float) -> tuple:
    """Wave vector (fy, fx) of the strongest bin of the fftshifted power spectrum ``p`` in the upper
    half plane of ``band``, within ``radius`` (relative) of ``guess`` (either sign) if given,
    refined by a parabola on the log power along each axis; and the power near it (within 10% of
    its frequency, where scans' pitch and angle drift). Near a guess, only the bins around it are
    read (most of the time of the characterisation went into reading the whole spectrum)."""
    n = p.shape[0]
    best = None
    if guess is not None:
        g = np.asarray(guess, dtype=float)
        near = radius * np.hypot(*g) + 1.5 / n
        for c in (g, -g):
            win = _window(n, c, near)
            zone = band[win] & (fy[win] >= 0) & (np.hypot(fy[win] - g[0], fx[win] - g[1]) < near)
            zone |= band[win] & (fy[win] >= 0) & (np.hypot(fy[win] + g[0], fx[win] + g[1]) < near)
            if zone.any():
                q = np.where(zone, p[win], 0.0)
                i, j = np.unravel_index(np.argmax(q), q.shape)
                cand = (q[i, j], (i + win[0].start) * n + j + win[1].start)
                # The first of equal bins in the whole spectrum's order, as one argmax over it.
                if best is None or cand[0] > best[0] or (cand[0] == best[0] and cand[1] < best[1]):
                    best = cand
    if best is None:
        q = np.where(band & (fy >= 0), p, 0.0)
        k = int(np.argmax(q))
    else:
        k = best[1] if best[0] > 0 else 0  # an empty spectrum: the first bin, as argmax has it
    v = np.array(refine_peak(p, *divmod(k, n)))
    f = max(np.hypot(*v), 1e-9)
    reach = max(0.1 * f, 2.5 / n)
    win = _window(n, v, reach)
    power = p[win][np.hypot(fy[win] - v[0], fx[win] - v[1]) < reach].sum()
    return v, float(power)


def _window(n: int, centre, reach: float) -> tuple:
    """The slices of an fftshifted ``[n, n]`` spectrum that hold every bin within ``reach`` (cycles
    per pixel) of the wave vector ``centre`` (fy, fx)."""
    lo = np.floor((np.asarray(centre) - reach) * n).astype(int) + n // 2 - 1
    hi = np.ceil((np.asarray(centre) + reach) * n).astype(int) + n // 2 + 2
    return slice(max(lo[0], 0), max(min(hi[0], n), 0)), slice(max(lo[1], 0), max(min(hi[1], n), 0))


def _noise_variance(img: np.ndarray, block: int = 8, most: float = 0.03**2) -> float:
    """The variance of the page's pixel noise (scanner, JPEG): the lowest 5% of the variances of
    ``block`` x ``block`` blocks, which lie on paper or solid ink (noise alone) on any page but
    one screened all over, over that quantile of their distribution (0.725 of the variance for 64
    Gaussian samples); at most ``most``, as a page screened all over would take its screen's
    variance for noise."""
    h, w = (img.shape[0] // block) * block, (img.shape[1] // block) * block
    if h == 0 or w == 0:
        return 0.0
    blocks = img[:h, :w].reshape(h // block, block, w // block, block)
    return float(min(np.percentile(blocks.var(axis=(1, 3), ddof=1), 5) / 0.725, most))


@dataclass(frozen=True)
class _Group:
    """A screen hypothesis of :func:`analyze`: its tiles' ``kind``, the ``tiles`` (bool ``[Ty, Tx]``),
    the ``box`` (slices) of the page its regions may take, and its wave ``vectors``."""

    kind: int
    tiles: np.ndarray
    box: tuple
    vectors: list


def _group_regions(
    img: np.ndarray,
    dens: np.ndarray,
    kinds: np.ndarray,
    t: Thresholds,
    noise_var: float,
    tile_index: tuple,
    group: _Group,
    maps: tuple | None,
    free: np.ndarray,
    done: dict,
) -> list:
    """The regions that ``group`` finds among the ``free`` pixels (bool, its box; changed in place)
    of the page: ``(piece box, piece mask, ScreenParams)`` in the order they are taken, each piece
    box a pair of slices of the group's box. ``maps`` are the group's :func:`_fit_maps` (``None`` for
    noise), ``tile_index`` the tile row of each page row and the tile column of each page column.
    ``done`` keeps each piece's outcome by what it depends on (its mask and the free pixels around
    it; :func:`_piece`): run again on fewer free pixels, the pieces that did not change are not
    tested again."""
    kind, tiles, box = group.kind, group.tiles, group.box
    iy, ix = tile_index
    core = tiles[np.ix_(iy[box[0]], ix[box[1]])]
    core &= free
    found: list = []
    if core.sum() < 16:
        return found
    if kind == NOISE:
        pixels = _noise_pixels(dens[box], core, t.tile // 2, free, t.min_density)
    else:
        pixels = _periodic_pixels(maps, core, free, t.tile // 2)
    comps, _ = ndimage.label(pixels)
    # Each piece in its own box, with the reach of the steps below; the parts of a large piece
    # that fails the tests (:func:`_squares`) come back to the end of the list.
    todo = [
        (pb, comps[pb] == c, True)
        for c, piece_box in enumerate(ndimage.find_objects(comps), 1)
        for pb in [tuple(slice(max(b.start - t.tile // 2, 0), b.stop + t.tile // 2) for b in piece_box)]
    ]
    while todo:
        pb, piece, whole = todo.pop(0)
        if piece.sum() < t.min_area:
            continue
        p_free = free[pb]
        # (A part of a piece is tested as it is: the free pixels around it do not enter.)
        key = (tuple((b.start, b.stop) for b in pb), piece.tobytes(), p_free.tobytes() if whole else None)
        if key not in done:
            done[key] = _piece(img, dens, kinds, t, noise_var, group, pb, piece, whole, p_free)
        outcome = done[key]
        if isinstance(outcome, list):  # the parts to test instead
            todo += [(pb, part, False) for part in outcome]
        elif outcome is not None:
            found.append((pb, *outcome))
            p_free &= ~outcome[0]
    return found


def _piece(
    img: np.ndarray,
    dens: np.ndarray,
    kinds: np.ndarray,
    t: Thresholds,
    noise_var: float,
    group: _Group,
    pb: tuple,
    piece: np.ndarray,
    whole: bool,
    p_free: np.ndarray,
):
    """What becomes of a ``piece`` (bool, on the box ``pb`` of ``group``'s box) of the pixels
    ``group``'s screen explains, among the ``p_free`` pixels (bool, on ``pb``): ``(region mask,
    ScreenParams)`` if it is a region of the screen (a ``whole`` piece is first grown to its
    outline and has its holes filled), the list of its parts to test instead if it is large and
    fails as a whole (:func:`_squares`), or ``None``."""
    kind, vectors = group.kind, group.vectors
    p_img = img[group.box][pb]
    # Noise has no period; 2 px is about its grain.
    period = 1.0 / np.hypot(*vectors[0]) if vectors else 2.0
    if whole:
        grow = int(np.ceil(max(3.0, period / 2)))
        piece = _fill_holes(_to_outline(p_img, piece, p_free, grow, t.tile // 4), t.min_area, 1.5 * period + 2) & p_free
    if p_img[piece].var() < t.min_var:
        return None
    screen = _characterise(p_img, piece, kind, vectors, t.noise_prominence, t.min_regularity, noise_var)
    if screen is None:
        if whole and kind != NOISE and piece.sum() >= _SPLIT_AREA:
            return _squares(piece, _SIDE, t.min_area)
        return None
    if kind == NOISE and dens[group.box][pb][piece].mean() < 0.8 * t.min_density:
        return None  # sparse changes: line art or text beside a grain
    # A screen shows several periods across; a thin strip along a pair of parallel outlines has a
    # spectral peak but is no screen.
    if distance_to_background(piece).max() < max(1.75 * screen.period, t.min_radius):
        return None
    # Most of a screen's tiles look screened (by this group or another of its kind: a stroke across
    # a screen splits its tiles); a region grown from a few (lines crossing, a bundle of strokes)
    # is not a screen.
    origin = (group.box[0].start + pb[0].start, group.box[1].start + pb[1].start)
    if _support(piece, origin, kinds == kind, t.tile, t.stride) < t.min_support:
        return None
    return piece, screen


# --- the analysis ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """The tests of :func:`analyze`, with the values it was tuned with on the synthetic benchmark
    and the real pages.

    Attributes:
        tile, stride: local-spectrum window and step (px); ``tile`` must exceed twice the largest
            period to detect.
        min_var: a tile's variance below which it is flat (paper, solid ink, sensor noise).
        min_prominence: a tile's strongest peak's share of its AC power for a line screen (line
            screens put nearly all their power in one peak; hatching and hair spread theirs).
        dots_prominence: the same for dots (their power is split between two peaks and
            harmonics, and a peak as strong at right angles is rare without a screen).
        min_density: mean ink/paper changes per pixel above which a tile without a peak is a noise
            screen (a grain changes at about every other pixel; text and hair far less often).
        noise_prominence: a region whose peak share is below this is a noise screen.
        min_area: smaller regions are dropped (px).
        min_radius: regions whose largest inscribed disc is smaller than this (px) or than 1.75
            periods are dropped (strips along parallel lines look periodic or noisy).
        min_tiles: groups of fewer screen tiles are dropped (a lone tile that looks screened is
            usually a crossing of lines).
        min_support: regions whose tiles (those inside them) are less often screen tiles of
            their kind are dropped.
        min_regularity: the share of a line screen's variance its mean over one period must
            explain (half that for dots); hatching and hair, hand-drawn, repeat less closely.
        pair_prominence, pair_sharpness, max_pair_period: a tile whose strongest peak is not a
            dot lattice's (strokes drawn over fine dots outweigh it) is dots if its strongest pair
            of peaks at right angles holds this share of its power each, both this sharp, at a
            period under this (:func:`~rescale.screentone.tiles.tile_kinds`).
        pair_density: the pair is looked for only in tiles with more ink/paper changes per
            pixel than this (fine dots change every pixel or two; half the tiles of line art
            are skipped).
    """

    tile: int = 32
    stride: int = 16
    min_var: float = 0.002
    min_prominence: float = 0.22
    dots_prominence: float = 0.15
    min_density: float = 0.45
    noise_prominence: float = 0.06
    min_area: int = 256
    min_radius: float = 3.0
    min_tiles: int = 2
    min_support: float = 0.3
    min_regularity: float = 0.78
    pair_prominence: float = 0.03
    pair_sharpness: float = 0.4
    max_pair_period: float = 8.0
    pair_density: float = 0.3


def analyze(img, thresholds: Thresholds | None = None, workers: int | None = None) -> tuple[np.ndarray, list]:
    """Detect and characterise the screened regions of a page.

    Args:
        img: ``[H, W]`` greyscale page, float in [0, 1] or uint8 (0 = ink).
        thresholds: the tests the steps apply (:class:`Thresholds`).
        workers: threads for the tiles' spectra and the screens' fits (default:
            ``rescale.kernels.get_num_threads()``, which the batch command line's worker processes
            set to 1).

    Returns:
        ``labels`` int ``[H, W]`` (0 unscreened, ``k`` region ``k``) and ``params``, a list of
        :class:`ScreenParams` for labels 1..K.
    """
    t = thresholds or Thresholds()
    workers = thread_count(workers)
    img = np.asarray(img)
    if img.ndim != 2:
        raise ValueError(f"expected a greyscale [H, W] page, got shape {img.shape}")
    img = img / 255.0 if img.dtype == np.uint8 else img.astype(np.float64)
    labels = np.zeros(img.shape, dtype=np.int64)
    params: list = []
    if min(img.shape) < t.tile:
        return labels, params
    dens = transition_density(img, workers=workers)
    noise_var = _noise_variance(img)
    feat = tile_features(img, dens, t.tile, t.stride, t.tile / 2.5, t.min_var, workers, t.pair_density)
    kinds = tile_kinds(
        feat,
        t.min_var,
        t.min_prominence,
        t.dots_prominence,
        t.min_density,
        t.pair_prominence,
        t.pair_sharpness,
        t.max_pair_period,
    )
    ty, tx = kinds.shape
    # A tile stands for its central stride x stride block; blocks outside every tile's centre take
    # the nearest tile's.
    iy = np.clip((np.arange(img.shape[0]) - (t.tile - t.stride) // 2) // t.stride, 0, ty - 1)
    ix = np.clip((np.arange(img.shape[1]) - (t.tile - t.stride) // 2) // t.stride, 0, tx - 1)
    groups, vectors = [], tile_vectors(feat, kinds)
    for kind, tiles in hypotheses(kinds, feat):
        if tiles.sum() < t.min_tiles:
            continue
        ys, xs = np.nonzero(tiles)
        # The group's box with the reach of its tiles and of the fit's window.
        y0, y1 = max(ys.min() * t.stride - t.tile, 0), min(ys.max() * t.stride + 2 * t.tile, img.shape[0])
        x0, x1 = max(xs.min() * t.stride - t.tile, 0), min(xs.max() * t.stride + 2 * t.tile, img.shape[1])
        waves = lattice_vectors(feat, tiles, kind, kinds, vectors) if kind != NOISE else []
        groups.append(_Group(kind, tiles, np.s_[y0:y1, x0:x1], waves))

    taking = threading.Lock()  # the labels are read (by the threads) and written (here) whole

    def regions(group):  # a group's regions on the page as it was when its fit was done
        maps = None if group.kind == NOISE else _fit_maps(img[group.box], dens[group.box], group.vectors)
        with taking:
            free = labels[group.box] == 0
        done: dict = {}
        found = _group_regions(img, dens, kinds, t, noise_var, (iy, ix), group, maps, free.copy(), done)
        return free, maps, done, found

    # The groups are worked on side by side, each on the pixels left free by the groups before it
    # that were taken when its fit was done; one whose box an earlier group took pixels of since is
    # done again (the pieces that did not change are not tested again), so the result is the one
    # of working through them in order.
    for group, (free, maps, done, found) in zip(groups, ahead(regions, groups, workers)):
        now = labels[group.box] == 0
        if not np.array_equal(free, now):
            found = _group_regions(img, dens, kinds, t, noise_var, (iy, ix), group, maps, now, done)
        with taking:
            sub_labels = labels[group.box]
            for pb, piece, screen in found:
                sub_labels[pb][piece] = len(params) + 1  # views: writes into labels
                params.append(screen)
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
