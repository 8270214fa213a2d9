"""Screen synthesis for the retargeting: each target region filled with copies of its source screen.

A copy is a block of source pixels taken 1:1 (no interpolation, so no aliasing: pitch, angle and
bitonality are kept) with an integer shift from its target position; on grey (scanned, blurred)
pages, moved exactly onto the screen's lattice, the source read between its pixels (``exact``).
Seams are where copies of different shifts meet; they are invisible when the shifts differ by
(nearly) a lattice vector of the screen, as the copies then continue each other's phase. So:

- copies are as large as locality allows: a copy's pixels come from within about ``locality``
  source px of where the scale maps them (the source's shading and tone stay in place), so the
  first level's cells are ``2 * locality / |1 / scale - 1|`` px; a small region shrunk is one copy;
- each cell's shift is chosen among the shifts within ``search`` px of the one the scale gives at
  its centre, for the most target pixels it fills from the source region, the smallest phase
  error (:func:`lattice.phase_error`) of the shift itself (each copy continues the source's
  phase where it lies on the page, so any two continue each other's) and a local tone like the
  source's where the scale maps the cell
  (shading and fades stay in place);
- pixels a cell's copy cannot fill from inside the source region (near the region's border) are
  left to the next, finer level of cells (32, 16, then 8 px), and the few left after the finest
  take the nearest pixel of the source region.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from .calibrate import local_tone
from .distance import nearest_set_pixel
from .lattice import near_lattice_offsets, onto_lattice, phase_error, wave_vectors
from .morphology import boxes
from .parallel import as_done, largest_first
from .spectrum import refine_vectors
from .spline import cubic_read

__all__ = ["synthesise", "cell_sizes"]


def cell_sizes(scale: float, locality: float, finest: tuple = (32,)) -> list:
    """The cell sizes (px) of the levels along an axis of ``scale`` (target / source): the first
    holds copies whose pixels stay within ``locality`` source px of where the scale maps them
    (16 to 256 px), then the ``finest`` ones smaller than three quarters of it.

    Example:
        >>> cell_sizes(0.5, 24.0), cell_sizes(1.5, 24.0)
        ([48, 32], [144, 32])
    """
    stretch = abs(1.0 / scale - 1.0)
    first = int(np.clip(round(2 * locality / stretch), 16, 256)) if stretch > 1e-9 else 256
    return [first] + [c for c in finest if c < 0.75 * first]


def _correlate(a: np.ndarray, b: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``out[d] = sum_p x[d + p] * k[p]`` over the valid offsets, for ``x`` = ``a`` and ``b`` (of one
    shape): FFT correlations, bit for bit those of ``scipy.signal.fftconvolve(x, k[::-1, ::-1],
    "valid")`` (the same transforms, products and crop: a cell's best copy is an argmin over them),
    with one transform of the kernel and one of both images instead of fftconvolve's four (pocketfft
    transforms each plane of a batch as it would transform it alone)."""
    k = k[::-1, ::-1]
    # As fftconvolve: axes of length 1 are multiplied (broadcast), not transformed.
    axes = [i for i in (0, 1) if a.shape[i] != 1 and k.shape[i] != 1]
    if not axes:
        return a * k, b * k
    full = [a.shape[i] + k.shape[i] - 1 if i in axes else max(a.shape[i], k.shape[i]) for i in (0, 1)]
    fshape = [sfft.next_fast_len(full[i], True) for i in axes]
    batch = [i + 1 for i in axes]
    spec = sfft.rfftn(np.stack([a, b]), fshape, axes=batch) * sfft.rfftn(k, fshape, axes=axes)
    out = sfft.irfftn(spec, fshape, axes=batch)[:, : full[0], : full[1]]
    # The valid part, centred in the full correlation.
    valid = [a.shape[i] - k.shape[i] + 1 if i in axes else full[i] for i in (0, 1)]
    y0, x0 = (full[0] - valid[0]) // 2, (full[1] - valid[1]) // 2
    out = out[:, y0 : y0 + valid[0], x0 : x0 + valid[1]]
    return out[0], out[1]


def synthesise(
    src: np.ndarray,
    sources: np.ndarray,
    targets: np.ndarray,
    screens: list,
    sy: float,
    sx: float,
    *,
    locality: float = 24.0,
    search: int = 16,
    tol: float = 0.03,
    tone_tol: float = 0.1,
    finest: tuple = (32,),
    rims: np.ndarray | None = None,
    exact: bool = False,
    workers: int = 1,
) -> np.ndarray:
    """Screen pixels for every labelled target pixel, copied 1:1 from the source.

    Args:
        src: ``[C, H, W]`` the source page.
        sources: int ``[H, W]`` the source pixels each region's copies may come from (``k`` for
            region ``k``: its interior without the strokes over it; 0 none).
        targets: int ``[h, w]`` the target pixels of each region.
        screens: the regions' :class:`~rescale.screentone.analysis.ScreenParams`.
        sy, sx: target / source scale per axis.
        locality: how far (source px) a copy's pixels may lie from where the scale maps them.
        search: candidate shifts lie within this many px of the one the scale gives.
        tol: phase error (cycles) of a copy's shift that costs, per px of a cell's perimeter, as
            much as a pixel the copy leaves unfilled.
        tone_tol: difference between a copy's local tone and the source's where the scale maps
            the cell that costs, per pixel copied, as much as a pixel left unfilled.
        finest: the cell sizes after the first level (:func:`cell_sizes`).
        rims: bool ``[H, W]``, source pixels that copies leave out where their region keeps half
            its source pixels without them (on scans, the interiors' rims, darkened by the
            outline's blur: copied into the middle of an upscaled region, they drew its outline's
            arcs across the screen).
        exact: read each periodic screen's lattice from its region's source pixels
            (:func:`.spectrum.refine_vectors`) and copy with each shift moved exactly onto it
            (:func:`.lattice.onto_lattice`), the source read between its pixels by cubic splines.
            For grey (scanned, hence blurred) pages, where the analysis reads a screen 0.3% off
            (mean; strokes over it, noise) and a copy shifted by 20 periods lands 0.06 cycles off
            the lattice, and where even the integer shift nearest a lattice vector is up to a few
            % of a period (0.3 px) off it: a jump at every seam, which a scan's seamless screen
            does not have (enlarged, seams are many: a source region is smaller than its target,
            and strokes leave holes in it). Not for bitonal pages: their screens would turn grey,
            and their analysis reads them closer (0.03% median, 0.06% from their sources).
        workers: threads (regions are synthesised side by side).

    Returns:
        ``[C, h, w]``, valid where ``targets > 0`` (1.0 elsewhere).
    """
    out = np.ones((src.shape[0], *targets.shape))
    levels_y, levels_x = cell_sizes(sy, locality, finest), cell_sizes(sx, locality, finest)
    depth = max(len(levels_y), len(levels_x))
    levels = [(levels_y[min(i, len(levels_y) - 1)], levels_x[min(i, len(levels_x) - 1)]) for i in range(depth)]
    src_boxes = boxes(sources, len(screens))

    def region(item):  # the region's box and its filled _Region, or None
        k, box = item
        if box is None or src_boxes[k - 1] is None:
            return None
        screen = screens[k - 1]
        vectors = wave_vectors(screen.kind, screen.period, screen.angle)
        reach = max(search, int(np.ceil(2 * screen.period)))
        # The source window every candidate copy of the region lies in: its target box mapped by
        # the scale, with the reach of the candidates and of the largest cell.
        margin = reach + 2 + int(np.ceil(max(levels[0]) * max(1.0, 1.0 / sy, 1.0 / sx)))
        origin = (int(np.floor(box[0].start / sy)) - margin, int(np.floor(box[1].start / sx)) - margin)
        size = (
            int(np.ceil(box[0].stop / sy)) + margin - origin[0],
            int(np.ceil(box[1].stop / sx)) + margin - origin[1],
        )
        source = _crop(sources, origin, size, 0) == k
        inside = _box(source)
        if inside is None:
            return None
        if rims is not None:
            # Only the source's box is read from the rims: the window's margins are wide.
            corner = (origin[0] + inside[0].start, origin[1] + inside[1].start)
            inner = source[inside] & ~_crop(rims, corner, source[inside].shape, False)
            if inner.sum() >= 0.5 * source[inside].sum():
                source[inside] = inner
                inner_box = _box(inner)
                inside = tuple(slice(a.start + b.start, a.start + b.stop) for a, b in zip(inside, inner_box))
        window = _crop(src, origin, size, 1.0)
        fill = _Region(window, source, inside, origin, targets[box] == k, (box[0].start, box[1].start), sy, sx)
        if exact and vectors:
            vectors = refine_vectors(fill.grey, source[inside], vectors, origin=(inside[0].start, inside[1].start))
            fill.read_on_lattice(vectors)
        fill.copies(vectors, levels, reach, tol, screen.period, tone_tol)
        return box, fill

    # Regions are synthesised apart (in threads), each written under its own mask (their boxes
    # overlap, their masks do not): in any order.
    for result in as_done(region, largest_first(boxes(targets, len(screens))), workers):
        if result is not None:
            box, fill = result
            out[(slice(None), *box)] = np.where(fill.target, fill.out, out[(slice(None), *box)])
    return out


def _box(mask: np.ndarray) -> tuple | None:
    """The bounding box (a pair of slices) of bool ``mask``'s set pixels, or ``None`` if none is."""
    return boxes(mask.view(np.uint8), 1)[0]


def _crop(a: np.ndarray, origin: tuple, size: tuple, fill) -> np.ndarray:
    """``a[..., y0 : y0 + h, x0 : x0 + w]`` for ``origin = (y0, x0)``, ``size = (h, w)``, with the
    parts outside ``a`` set to ``fill``."""
    (y0, x0), (h, w) = origin, size
    out = np.full((*a.shape[:-2], h, w), fill, dtype=a.dtype)
    ys, xs = slice(max(y0, 0), min(y0 + h, a.shape[-2])), slice(max(x0, 0), min(x0 + w, a.shape[-1]))
    if ys.start < ys.stop and xs.start < xs.stop:
        out[..., ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = a[..., ys, xs]
    return out


class _Region:
    """One region's synthesis, in local coordinates: the target box (its top-left at page pixel
    ``corner``) and the source window (at ``origin``), its source region's bounding box ``box``."""

    def __init__(self, window, source, box, origin, target, corner, sy, sx):
        self.window, self.source, self.box, self.origin = window, source, box, origin
        self.grey = window[(slice(None), *box)].mean(0)  # the source's box, its channels' mean
        self.target, self.corner, self.sy, self.sx = target, corner, sy, sx
        self.out = np.ones((window.shape[0], *target.shape))
        self.filled = np.zeros(target.shape, dtype=bool)
        self.shift = np.zeros((2, *target.shape), dtype=np.int64)  # source - target, page pixels
        self.lattice = None  # the vectors copies are moved exactly onto (see read_on_lattice)

    def read_on_lattice(self, vectors, margin: int = 8) -> None:
        """Copies read the source at their shifts moved exactly onto the lattice of ``vectors``
        (:func:`onto_lattice`), by cubic splines. Their coefficients are taken on the source
        region's box and ``margin`` px around it (reads lie in the region, give or take the moves
        onto the lattice), not on the window's wide margins."""
        self.lattice = vectors
        box = self.box
        self.base = tuple(max(b.start - margin, 0) for b in box)
        crop = tuple(slice(o, b.stop + margin) for o, b in zip(self.base, box))
        self.coeffs = np.stack([ndimage.spline_filter(c[crop], 3, mode="nearest") for c in self.window])

    def _read(self, qy, qx, sdy, sdx) -> np.ndarray:
        """``[C, N]``: the source window at pixels ``(qy, qx)``, copied with shifts ``(sdy, sdx)``
        (exactly onto the lattice if :meth:`read_on_lattice` was called)."""
        if self.lattice is None or not len(qy):
            return self.window[:, qy, qx]
        ey, ex = onto_lattice(self.lattice, sdy, sdx)
        return cubic_read(self.coeffs, qy + ey - self.base[0], qx + ex - self.base[1])

    def copies(self, vectors, levels, reach, tol, period, tone_tol) -> None:
        """Fill the target level by level (see :func:`synthesise`), then the rest."""
        h, w = self.target.shape
        (cy0, cx0), (oy, ox) = self.corner, self.origin
        insidef = self.source.astype(float)
        # The source's local tone (over about a period, in the region only), to keep copies of
        # a lighter or darker part of the region (shading, a fade, one screen at two tones) where
        # the scale maps that part.
        tone = np.zeros(self.source.shape)
        # Taken on the source region's box only: the Gaussians' zero edges there read what the
        # window holds around it (nothing: the tone is masked by the region), so the values are
        # those of the whole window, at a fraction of its area (the window's margins are wide).
        box = self.box
        tone[box] = local_tone(self.grey, self.source[box], max(period, 2.0)) * insidef[box]
        dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
        near = 1e-3 * (dy**2 + dx**2)  # among equals, the copy nearest to where the scale maps it
        for ch, cw in levels:
            for ty in range(0, h, ch):
                for tx in range(0, w, cw):
                    cell = np.s_[ty : ty + ch, tx : tx + cw]
                    need = self.target[cell] & ~self.filled[cell]
                    if not need.any():
                        continue
                    # The shift the scale gives at the centre of the cell's part of the region
                    # (page coordinates).
                    ys, xs = np.nonzero(need)
                    cy = cy0 + ty + (ys.min() + ys.max() + 1) / 2
                    cx = cx0 + tx + (xs.min() + xs.max() + 1) / 2
                    ny, nx = int(round(cy / self.sy - cy)), int(round(cx / self.sx - cx))
                    # Candidate copies: their top-left pixels in the source window.
                    wy, wx = cy0 + ty + ny - reach - oy, cx0 + tx + nx - reach - ox
                    nh, nw = need.shape
                    win = insidef[wy : wy + nh + 2 * reach, wx : wx + nw + 2 * reach]
                    # The source pixels each copy would fill, and their tone.
                    covered, copy_tone = _correlate(
                        win, tone[wy : wy + nh + 2 * reach, wx : wx + nw + 2 * reach], need.astype(float)
                    )
                    cost = need.sum() - covered + near  # pixels left unfilled
                    # The copy's tone against the tone where the scale maps the cell's pixels.
                    copy_tone /= np.maximum(covered, 1.0)
                    qy = np.clip(np.rint((ty + ys + cy0 + 0.5) / self.sy - 0.5).astype(int) - oy, 0, tone.shape[0] - 1)
                    qx = np.clip(np.rint((tx + xs + cx0 + 0.5) / self.sx - 0.5).astype(int) - ox, 0, tone.shape[1] - 1)
                    there = self.source[qy, qx]
                    if there.any():
                        cost = cost + covered * ((copy_tone - tone[qy, qx][there].mean()) / tone_tol) ** 2
                    if vectors:
                        # A shift off the screen's lattice costs, per px of the cell's part's
                        # perimeter, as a pixel left unfilled for each tol of phase error squared:
                        # copies continue the source's phase where it lies on the page, so any
                        # two continue each other's.
                        err = phase_error(vectors, ny + dy, nx + dx)
                        cost = cost + 4 * np.sqrt(need.sum()) * (err / tol) ** 2
                    i, j = np.unravel_index(np.argmin(cost), cost.shape)
                    self._copy(cell, need, ny + dy[i, j], nx + dx[i, j])
        self._fill_pixels(vectors, reach, tol)
        self._rest()

    def _fill_pixels(self, vectors, reach, tol, tiers: int = 4) -> None:
        """The target pixels the cells' copies left (near the region's border) take the source pixel
        at the shift of the nearest filled pixel plus the shortest near-lattice shift (under
        ``tol`` cycles) that lands in the source region: the copy it continues, moved by whole
        periods. Where none does, the shortest under twice ``tol``, then four and eight times
        (``tiers``): a fine screen's lattice has few integer shifts under ``tol`` (those of a
        2.8 px one at 45 degrees are all within 4 px), and a pixel further from the source region
        than they reach would otherwise take the nearest source pixel, in any phase (upscaled,
        a band of them along a region's border was most of its seam metric)."""
        rest = self.target & ~self.filled
        if not rest.any() or not self.filled.any():
            return
        (cy0, cx0), (oy, ox) = self.corner, self.origin
        _, (iy, ix) = ndimage.distance_transform_edt(~self.filled, return_indices=True)
        py, px = np.nonzero(rest)
        by, bx = self.shift[0][iy[py, px], ix[py, px]], self.shift[1][iy[py, px], ix[py, px]]
        h, w = self.source.shape
        # Each pixel's source position at its base shift (window coordinates); the pixels still
        # to fill shrink as offsets fill them.
        sy, sx = py + cy0 + by - oy, px + cx0 + bx - ox
        for ly, lx in [(0, 0), *near_lattice_offsets(vectors, reach, tol, tiers=tiers)]:
            qy, qx = sy + ly, sx + lx
            ok = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
            ok[ok] = self.source[qy[ok], qx[ok]]
            if ok.any():
                self.out[:, py[ok], px[ok]] = self._read(qy[ok], qx[ok], by[ok] + ly, bx[ok] + lx)
                self.filled[py[ok], px[ok]] = True
                self.shift[0, py[ok], px[ok]], self.shift[1, py[ok], px[ok]] = by[ok] + ly, bx[ok] + lx
                py, px, by, bx, sy, sx = (a[~ok] for a in (py, px, by, bx, sy, sx))
                if not len(py):
                    break

    def _copy(self, cell, need, sdy, sdx) -> None:
        """Copy with shift ``(sdy, sdx)`` the pixels of ``need`` (in ``cell``) whose source lies in
        the source region."""
        (cy0, cx0), (oy, ox) = self.corner, self.origin
        py, px = np.nonzero(need)
        py, px = py + cell[0].start, px + cell[1].start
        qy, qx = py + cy0 + sdy - oy, px + cx0 + sdx - ox
        ok = self.source[qy, qx]
        py, px, qy, qx = py[ok], px[ok], qy[ok], qx[ok]
        # One shift for all: moved onto the lattice once (the same values as pixel by pixel).
        self.out[:, py, px] = self._read(qy, qx, np.array([sdy]), np.array([sdx]))
        self.filled[py, px] = True
        self.shift[0, py, px], self.shift[1, py, px] = sdy, sdx

    def _rest(self) -> None:
        """The target pixels no copy filled take the source region's pixel nearest to where the
        scale maps them."""
        rest = self.target & ~self.filled
        if not rest.any():
            return
        (cy0, cx0), (oy, ox) = self.corner, self.origin
        h, w = self.source.shape
        py, px = np.nonzero(rest)
        qy = np.clip(np.rint((py + cy0 + 0.5) / self.sy - 0.5).astype(int) - oy, 0, h - 1)
        qx = np.clip(np.rint((px + cx0 + 0.5) / self.sx - 0.5).astype(int) - ox, 0, w - 1)
        iy, ix = nearest_set_pixel(self.source, qy, qx)
        self.out[:, py, px] = self.window[:, iy, ix]
