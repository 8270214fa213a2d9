"""Screentone-preserving retargeting: rescale the structure, re-synthesise each screen at 1:1 pitch.

After Xie, Xia, Liu, Wong, "Screentone-Preserved Manga Retargeting" (arXiv 2203.03396), without the
learned proposal selection (RPSM). Screened regions come from :func:`analysis.analyze`; their
outlines and the strokes drawn over them are structure. The target is tiled by hierarchical grids
of cells (coarse to fine); each cell's anchor maps to the source point ``anchor / scale``.
Proposals are source patches copied 1:1 (no interpolation, hence no aliasing: pitch, angle and
bitonality are kept) from offsets within ``search`` px of that point, preferring shifts on the
screen's lattice (so copies continue each other's phase). Per region in a cell, the proposal chosen
is the one whose pixels (a) lie in the same source region and (b) agree best with the pixels
already synthesised around the cell (image quilting, Efros & Freeman 2001, restricted to anchor
neighbourhoods). Each region's screen then has its tone calibrated (:mod:`.calibrate`) to the
source's (see :func:`_calibrate`). Everything else (line art, paper, solid ink, strokes) is resampled
with an antialiased filter, re-binarised if the page is bitonal, and laid over the screens.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from ..filters import get_filter
from ..methods import Method
from ..resample import resample
from .analysis import analyze
from .calibrate import calibrate_bitonal, calibrate_grey, local_tone, mask_weight, region_tone, tone_ramp
from .distance import distance_to_background
from .lattice import directions, lattice_median, wave_vectors
from .layers import scan_layers
from .morphology import boxes, dilate, erode
from .parallel import as_done, largest_first, thread_count
from .patches import synthesise

__all__ = ["retarget", "Screentone", "load"]


def _is_bitonal(img: np.ndarray, tol: float = 0.1, share: float = 0.97) -> bool:
    """Whether at least ``share`` of the pixels are within ``tol`` of ink or paper. Scans with
    antialiased (grey) line art and soft screens are not: re-binarised after shrinking, their
    thin lines and light dots would break up or vanish."""
    return bool((np.abs(img - 0.5) > 0.5 - tol).mean() >= share)


def _nearest_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Region map at the target size: each target pixel centre takes the source pixel under it."""
    iy = np.minimum(((np.arange(height) + 0.5) * labels.shape[0] / height).astype(int), labels.shape[0] - 1)
    ix = np.minimum(((np.arange(width) + 0.5) * labels.shape[1] / width).astype(int), labels.shape[1] - 1)
    return labels[np.ix_(iy, ix)]


def _interiors(grey: np.ndarray, labels: np.ndarray, max_border: int, workers: int = 1) -> np.ndarray:
    """The regions without their outlines. A detected region ends at the outer edge of its outline
    (if it has one); the outline is the run of rings, counted inward, that are mostly ink, more so
    than the screen inside. Regions side by side in ``workers`` threads."""
    ink = grey < 0.5
    out = np.zeros_like(labels)

    def region(item):  # the region's box and its interior there, or None
        k, box = item
        if box is None:
            return None
        box = tuple(slice(max(b.start - 1, 0), b.stop + 1) for b in box)  # keep the outside ring
        region, sub_ink = labels[box] == k, ink[box]
        dist = np.rint(distance_to_background(region))
        core = dist > max_border + 2
        screen_ink = sub_ink[core].mean() if core.any() else sub_ink[region].mean()
        width = 0
        for d in range(1, max_border + 1):
            ring = dist == d
            if not ring.any() or sub_ink[ring].mean() <= (1 + screen_ink) / 2:
                break
            width = d
        return k, box, region & (dist > width)

    # Each region writes its own pixels only: in any order.
    for result in as_done(region, largest_first(boxes(labels)), workers):
        if result is not None:
            k, box, inside = result
            out[box][inside] = k
    return out


def _strokes(grey: np.ndarray, interior: np.ndarray, screens: list) -> np.ndarray:
    """Line art drawn over screens: ink blobs inside a region far larger than one screen dot.

    A screen's ink comes in dot-sized pieces (or, for dark screens, one network spanning the
    region, which is the screen itself); a stroke is a larger piece. Strokes belong to the
    structure, to be rescaled rather than copied.
    """
    ink = (grey < 0.5) & (interior > 0)
    # 4-connected pieces: the dots of a mid-tone screen touch at their corners, which would chain
    # them into stroke-sized pieces (strokes are thicker than one pixel).
    comps, n = ndimage.label(ink)
    if n == 0:
        return np.zeros(grey.shape, dtype=bool)
    area = ndimage.sum(ink, comps, np.arange(1, n + 1))
    region = ndimage.maximum(interior, comps, np.arange(1, n + 1)).astype(int)
    region_ink = ndimage.sum(ink, interior, np.arange(1, interior.max() + 1))
    # Largest screen piece: two dot cells. Only light dot screens are split: the dots of darker
    # ones touch and chain up, noise clusters grow large near percolation and the lines of a
    # line screen are as long as strokes.
    piece = np.array([2 * s.period**2 if s.kind == "dots" and s.intensity > 0.6 else np.inf for s in screens])
    is_stroke = (area > piece[region - 1]) & (area < 0.5 * region_ink[region - 1])
    return np.concatenate([[False], is_stroke])[comps]


def _screen_alone(
    grey: np.ndarray, interior: np.ndarray, screens: list, workers: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The page with what is drawn over each periodic screen taken away, and how sure that is,
    ``[H, W]`` each: at each pixel of a region, the median of the pixels a few near-lattice shifts
    away inside the region (:func:`lattice.directions`, :func:`lattice.lattice_median`), which show
    the screen at the same phase (a stroke drawn over the pixel is missing from most of them; in a
    region that strokes cover much of, a higher rank), and their spread (the interquartile range:
    large at the edges of dots, where the shifts' small phase errors show).
    The page, and no spread, elsewhere (and on noise screens). Regions side by side in ``workers``
    threads."""
    alone, spread = grey.copy(), np.zeros(grey.shape)

    def region(item):
        k, box = item
        screen = screens[k - 1]
        if box is None or screen.kind == "noise":
            return None
        # Shifts within 0.4 px of the lattice (0.1 cycles of a fine screen: a coarse one's dots
        # are as sharp, so as much off a lattice vector would read their edges off), found as far
        # as 2.5 periods.
        offsets = directions(
            wave_vectors(screen.kind, screen.period, screen.angle),
            reach=max(12, int(np.ceil(2.5 * screen.period))),
            tol=min(0.1, 0.4 / screen.period),
        )
        inside = interior[box] == k
        low, mid, upper, high = lattice_median(grey[box], offsets, (0.25, 0.5, 0.625, 0.75), mask=inside)
        # Where strokes cover much of the region (hair), they are in many of the reads too, and
        # only darken: the screen is then read higher up their order.
        share = _faint(inside, mid, grey[box])[inside].mean()
        return box, inside, (low, high if share > 0.3 else upper if share > 0.15 else mid, high)

    # Each region writes its own pixels only: in any order.
    for result in as_done(region, largest_first(boxes(interior)), workers):
        if result is not None:
            box, inside, (low, mid, high) = result
            alone[box] = np.where(inside, np.maximum(mid, grey[box]), alone[box])
            spread[box] = np.where(inside, high - low, spread[box])
    return alone, spread


def _faint(inside: np.ndarray, alone: np.ndarray, grey: np.ndarray, contrast: float = 0.12) -> np.ndarray:
    """Bool ``[H, W]``: strokes over a screen, faint ones included: the pixels of ``inside`` darker
    than the screen alone (``alone``) by more than ``contrast`` (more than a dot's centre reads
    against its near-lattice neighbours), and the pixels next to them (a stroke's blurred rim)."""
    return dilate(inside & (alone - grey > contrast))


def _grow(box: tuple, margin: int, shape: tuple) -> tuple:
    """A box of slices grown by ``margin`` px on every side, clipped to an array of ``shape``."""
    return tuple(slice(max(b.start - margin, 0), min(b.stop + margin, n)) for b, n in zip(box, shape))


def _calibrate(
    synth: np.ndarray,
    page: np.ndarray,
    sources: np.ndarray,
    regions: np.ndarray,
    screens: list,
    bitonal: bool,
    sy: float,
    sx: float,
    workers: int = 1,
) -> np.ndarray:
    """Each synthesised region's local tone made equal to its source's (:mod:`.calibrate`): on a
    scan, the source's local tone at each target pixel; on a bitonal page, the region's tone, flat
    or, for a fading screen, following the fade. Seams between copies, partial dots along borders
    and the tone a small region gets from where its dots happen to fall are evened out.

    Args: synth ``[C, h, w]``; page ``[C, H, W]``; sources ``[H, W]`` the source pixels each region
    was copied from (interiors without strokes); regions ``[h, w]`` the target pixels that will
    show region ``k``'s screen; screens: ScreenParams; bitonal: calibrate by flipping pixels
    (else by adjusting grey levels); sy, sx: target/source scale per axis; workers: threads.
    """
    out = synth.copy()
    src_boxes = boxes(sources, len(screens))

    def region(item):  # (box, mask, the region's calibrated pixels [C, box]) or None
        k, box = item
        if box is None or src_boxes[k - 1] is None:
            return None
        period = screens[k - 1].period  # 0 for noise
        sigma = max(period, 2.0)
        reach = int(np.ceil(3 * sigma))
        box = _grow(box, reach, regions.shape)
        mask = regions[box] == k
        # The calibration's window (sigma target px) in source px, at least a period.
        spread = sigma * max(1.0, 1.0 / min(sy, sx))
        # The source region with the reach of the tone's Gaussians (4 sigma), so they read the
        # same as on the whole page.
        src_box = _grow(src_boxes[k - 1], int(np.ceil(4 * spread)) + 1, sources.shape)
        src_k = sources[src_box] == k
        ty, tx = np.mgrid[box]  # each target pixel's position in the source box
        at = [(ty + 0.5) / sy - 0.5 - src_box[0].start, (tx + 0.5) / sx - 0.5 - src_box[1].start]
        if not bitonal:  # where half of the local tone's window lies in the source region
            weight = mask_weight(src_k, spread)
            covered = ndimage.map_coordinates(weight, at, order=1) > 0.5
        done = np.empty((synth.shape[0], *mask.shape))
        for c in range(synth.shape[0]):
            src = page[c][src_box]
            # Read over half a period: closer to the border, from more pixels, than the
            # calibration's window (which must average a period out).
            target = region_tone(src, src_k, max(period / 2, 1.0))
            if not bitonal:
                # A scan keeps the source's local tone at each target pixel: the shading drawn
                # with one screen, fades, and the steps between areas of one screen that the
                # analysis joined across an outline. (Bitonal pages, whose screens' local tone
                # beats against the pixel grid, only keep a clear fade: below.)
                tone = local_tone(src, src_k, spread, weight)
                target = np.where(covered, ndimage.map_coordinates(tone, at, order=1), target)
            elif (ramp := tone_ramp(src, src_k, sigma)) is not None:  # the fade at each target pixel
                target = np.clip(target + ramp(*at), 0.0, 1.0)
            if bitonal:
                waves = wave_vectors(screens[k - 1].kind, period, screens[k - 1].angle)
                done[c] = calibrate_bitonal(synth[c][box], mask, target, sigma, waves=waves)
            else:
                done[c] = calibrate_grey(synth[c][box], mask, target, sigma)
        return box, mask, done

    # Regions are calibrated apart (in threads), each written under its own mask (their boxes
    # overlap, their masks do not): in any order.
    for result in as_done(region, largest_first(boxes(regions)), workers):
        if result is not None:
            box, mask, done = result
            out[(slice(None), *box)] = np.where(mask, done, out[(slice(None), *box)])
    return out


def retarget(
    page: np.ndarray,
    size: tuple[int, int],
    *,
    locality: float = 24.0,
    search: int = 32,
    tol: float = 0.03,
    max_border: int = 6,
    structure_filter: str = "lanczos",
    analysis: tuple | None = None,
    calibrate: bool = True,
    workers: int | None = None,
) -> np.ndarray:
    """Rescale a greyscale (or bitonal) page to ``size = (width, height)`` keeping its screentones.

    Args:
        page: ``[H, W]`` or ``[C, H, W]`` float in [0, 1] (0 ink, 1 paper); channels share one
            analysis (of their mean) and one choice of proposals.
        locality: how far (source px) a copied screen pixel may lie from where the scale maps it:
            the larger, the larger the copies and the fewer their seams (:mod:`.patches`).
        search: each copy's shift is chosen within this many px of the one the scale gives.
        tol: phase error (cycles) between copies that costs as much as leaving a pixel to a
            smaller copy (:func:`.patches.synthesise`).
        max_border: the widest outline (px) looked for along a region's rim; the outline is left
            to the structure pass and never copied into screens.
        structure_filter: the antialiased filter for the structure.
        analysis: ``(labels, params)`` from :func:`rescale.screentone.analysis.analyze` to reuse.
        calibrate: make each region's local tone flat and equal to its source's mean tone
            (:mod:`.calibrate`); off, the screens are the plain 1:1 copies.
        workers: threads (default: ``rescale.kernels.get_num_threads()``; 1 in the batch command line's worker
            processes): the analysis, and the regions' syntheses and calibrations, side by side.

    Returns:
        ``[h, w]`` or ``[C, h, w]`` float64 in [0, 1].
    """
    page = np.asarray(page, dtype=np.float64)
    squeeze = page.ndim == 2
    if squeeze:
        page = page[None]
    if page.ndim != 3:
        raise ValueError(f"expected an [H, W] or [C, H, W] page, got shape {page.shape}")
    width, height = size
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, got {size}")
    grey = page.mean(0)
    workers = thread_count(workers)
    labels, screens = analysis if analysis is not None else analyze(grey, workers=workers)
    interior = _interiors(grey, labels, max_border, workers)
    bitonal = _is_bitonal(grey)
    tone = np.array([1.0] + [s.intensity for s in screens])[interior]

    def rescaled(img, binarise=bitonal):
        out = resample(torch.from_numpy(img)[None], height, width, get_filter(structure_filter)).numpy()[0]
        out = np.clip(out, 0.0, 1.0)
        return (out >= 0.5).astype(np.float64) if binarise else out

    tgt_interior = _nearest_labels(interior, height, width)
    if bitonal:
        # Strokes over a screen are ink pieces larger than its dots: rescaled (with the screens
        # turned to paper) and laid over the synthesised screens.
        strokes = _strokes(grey, interior, screens)
        screen = (interior > 0) & ~strokes
        over = rescaled(np.where(screen, 1.0, page))
        clean = page
    else:
        # On a scan, strokes over a screen are whatever darkens it: the share of the screen's light
        # they take at each pixel, rescaled with the screen as weight (where its dots are dark, a
        # stroke does not show), is taken from the synthesised screen's light.
        alone, spread = _screen_alone(grey, interior, screens, workers)
        inside = interior > 0
        # The light the screen alone lets through; darker than the screen by more than its reads
        # disagree (and than noise) is surely a stroke (sure): never copied (not at the rim, where
        # an outline's blur darkens the screen). Faint strokes too: their whole darkness is taken
        # (less would leave a thin stroke fainter than a filter keeps it), and the screens' copies
        # and tones come from the page with them replaced by the screen alone (clean: copied all
        # over the region, they would darken its tone). One pass over the page (layers.py).
        faint = _faint(inside, alone, grey)
        light, sure, taken, clean = scan_layers(page, alone, spread, inside, faint)
        strokes = erode(inside, 2) & (sure > 0.15)
        screen = inside & ~strokes
        # Rescaled apart, the strokes' share can exceed the light it is taken from where the screen
        # is dark (down to 1 - 1 / 0.05 by the floor): a share is at most all of it.
        over = np.clip(1.0 - rescaled(taken, False) / np.maximum(rescaled(light, False), 0.05), 0.0, 1.0)
    sources = np.where(dilate(strokes), 0, interior)
    # Outside the screens, the structure is resampled with each screen flattened to its tone, so
    # an outline keeps the weight it has beside its screen (beside paper, a re-binarised outline
    # would thin).
    structure = rescaled(np.where(screen, tone, page))
    # Screens fill the whole region (outline included) from proposals inside the source interiors;
    # the structure's ink (the outline) is then laid over them.
    tgt_labels = _nearest_labels(labels, height, width)
    if tgt_labels.any():
        sy, sx = height / page.shape[1], width / page.shape[2]
        # On a scan, the outline's blur darkens the interior's rim: no copy takes it where the
        # region has enough other pixels (the rim of the target is filled from within, by whole
        # periods, and the outline laid over it). And a scan's screens are blurred and noisy: their
        # lattices are read again from the copies' sources, and copies moved exactly onto them.
        rims = None if bitonal else (interior > 0) & ~erode(interior > 0, 2)
        synth = synthesise(
            clean,
            sources,
            tgt_labels,
            screens,
            sy,
            sx,
            locality=locality,
            search=search,
            tol=tol,
            rims=rims,
            exact=not bitonal,
            workers=workers,
        )
        if calibrate:
            # Pixels the strokes ink are not screen: left out of the tone.
            screen_px = np.where(over.mean(0) >= (0.5 if bitonal else 0.8), tgt_interior, 0)
            synth = _calibrate(synth, clean, sources, screen_px, screens, bitonal, sy, sx, workers)
        screened = tgt_interior > 0
        if not bitonal:
            # The interiors, sampled at the target's pixel centres, reach a pixel into the outline
            # here and there: on their rim, an outline's ink (darker than the region's tone by 0.1)
            # stays, not covered by the screen.
            rim = screened & ~erode(screened, 1)
            tones = np.array([1.0] + [s.intensity for s in screens])[tgt_labels]
            screened &= ~(rim & (structure.mean(0) < np.minimum(0.5, tones - 0.1)))
        structure = np.where(screened[None], np.minimum(synth, over) if bitonal else synth * over, structure)
    return structure[0] if squeeze else structure


class Screentone(Method):
    """:func:`retarget` as a :class:`rescale.methods.Method` (both directions retarget)."""

    name = "screentone"
    kind = "classical"

    def __init__(self, **params):
        self.params = params

    def _apply(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"expected [N, C, H, W], got shape {tuple(x.shape)}")
        out = [torch.from_numpy(retarget(img.detach().cpu().double().numpy(), size, **self.params)) for img in x]
        return torch.stack(out).to(x.device, x.dtype)

    down = up = _apply


def load(**params) -> Screentone:
    """Registry factory: ``register_method("screentone", "rescale.screentone.retarget:load")``."""
    return Screentone(**params)
