"""Synthetic screentone benchmark: line-art pages with screened regions, at a source and a target size.

Geometry (region shapes, outlines) lives in *source pixel coordinates* and is scaled to the target;
screens are evaluated at *output pixel coordinates*, so the ground truth at the target keeps each
screen's pitch, angle and tone in pixels ("geometry scaled, screens not").

Pages are float64 ``[H, W]`` arrays in ``{0, 1}`` (0 = ink, 1 = paper). Label maps are int ``[H, W]``:
0 paper or line art, ``k >= 1`` the interior of screened region ``k`` (``screens[k - 1]``).

:func:`make_scan_page` makes pages that look like scanned manga, for the detection benchmark:
antialiased (grey) renders that also hold fine 45-degree dots and unlabelled non-screens (hatching,
hair), passed through :func:`degrade` (grey paper and ink, blur, sensor noise, JPEG).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = ["Screen", "Page", "render_screen", "make_page", "make_scan_page", "degrade", "KINDS"]

KINDS = ("dots", "lines", "noise")


@dataclass(frozen=True)
class Screen:
    """A screentone: ``kind`` in :data:`KINDS`, ``period`` in pixels (0 for noise), ``angle`` in
    degrees, ``tone`` the target fraction of paper (1 = white), ``seed`` for noise."""

    kind: str
    period: float
    angle: float
    tone: float
    seed: int = 0


@dataclass
class Page:
    """A rendered page: ``image`` and ``labels`` ``[H, W]``, ``lines`` bool ``[H, W]`` (the outline ink),
    ``screens`` the screens of labels 1..K, ``intensity`` their measured mean grey (0..1);
    ``distractors`` bool ``[H, W]`` (scan pages only): the unlabelled shapes that hold hatching or
    hair, which are not screens."""

    image: np.ndarray
    labels: np.ndarray
    lines: np.ndarray
    screens: list
    intensity: list
    distractors: np.ndarray | None = None


def _spot(screen: Screen, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The spot function of a periodic screen at pixel centres: larger means inked earlier."""
    # A sub-pixel origin breaks the ties between symmetric samples of pixel-aligned screens, which
    # would otherwise flip with rounding from period to period.
    x, y = x + 0.137, y + 0.291
    th = np.deg2rad(screen.angle)
    u = (x * np.cos(th) + y * np.sin(th)) * (2 * np.pi / screen.period)
    v = (-x * np.sin(th) + y * np.cos(th)) * (2 * np.pi / screen.period)
    if screen.kind == "dots":
        return np.cos(u) + np.cos(v)
    return np.cos(u)


def _threshold(screen: Screen) -> float:
    """Spot threshold giving the requested tone, from the spot values over a large pixel patch
    (pixel sampling quantises small periods, so the analytic threshold would be off)."""
    yy, xx = np.mgrid[0:256, 0:256] + 0.5
    # Pixel-aligned screens repeat spot values exactly (up to rounding); the nudge puts every copy
    # of the value at the quantile on the same side, so the render is exactly periodic.
    return float(np.quantile(_spot(screen, xx, yy), screen.tone)) + 1e-9


def render_screen(screen: Screen, height: int, width: int, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The screen rendered on a ``[height, width]`` pixel grid (float64 in {0, 1}), its origin
    shifted by ``offset = (dy, dx)`` pixels."""
    if screen.kind not in KINDS:
        raise ValueError(f"unknown screen kind {screen.kind!r}; expected one of {KINDS}")
    if screen.kind == "noise":
        # Seeded by the grid size too, so a page's source and target draw independent noise.
        rng = np.random.default_rng([screen.seed, height, width])
        return (rng.random((height, width)) < screen.tone).astype(np.float64)
    yy, xx = np.mgrid[0:height, 0:width] + 0.5
    xx, yy = xx + offset[1], yy + offset[0]
    return (_spot(screen, xx, yy) <= _threshold(screen)).astype(np.float64)


def _shapes(rng: np.random.Generator, height: int, width: int, n: int) -> list:
    """``n`` non-overlapping ellipses/rectangles (source pixel units) on a jittered grid, with a
    paper gap between them so each screened region is bounded by its own outline."""
    cols = int(np.ceil(np.sqrt(n * width / height)))
    rows = int(np.ceil(n / cols))
    cw, ch = width / cols, height / rows
    cells = rng.permutation(rows * cols)[:n]
    out = []
    for c in cells:
        r, q = divmod(int(c), cols)
        cx, cy = (q + 0.5) * cw, (r + 0.5) * ch
        ax, ay = cw * rng.uniform(0.3, 0.42), ch * rng.uniform(0.3, 0.42)
        out.append(("ellipse" if rng.random() < 0.5 else "rect", cx, cy, ax, ay))
    return out


def _sdf(shape, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Approximate signed distance (source pixels, negative inside) to a shape's boundary."""
    kind, cx, cy, ax, ay = shape
    dx, dy = x - cx, y - cy
    if kind == "rect":
        return np.maximum(np.abs(dx) - ax, np.abs(dy) - ay)
    r = np.hypot(dx / ax, dy / ay)
    return (r - 1) * min(ax, ay)


def _random_screen(rng: np.random.Generator, kind: str | None = None) -> Screen:
    if kind is None:
        kind = KINDS[int(rng.integers(0, 3))]
    period = 0.0 if kind == "noise" else float(rng.uniform(4, 12) if kind == "dots" else rng.uniform(3, 12))
    angle = float(rng.choice([0, 15, 30, 45, 60, 75])) if kind != "noise" else 0.0
    return Screen(kind, period, angle, float(rng.uniform(0.3, 0.8)), int(rng.integers(1 << 30)))


def make_page(
    seed: int,
    size: tuple[int, int] = (192, 192),
    scale: tuple[float, float] = (1.0, 1.0),
    n_regions: int = 4,
    line_width: float = 2.0,
    screens: list | None = None,
) -> tuple[Page, Page]:
    """A page at the source ``size = (width, height)`` and its ground truth at ``scale = (sx, sy)``.

    Returns ``(source, target)``; the target's size is ``round(size * scale)`` (as
    :func:`rescale.output_size`). ``screens`` fixes the screens (one per region), otherwise they are
    drawn at random (kinds, periods 3-12 px, angles, tones) from ``seed``.
    """
    from ..api import output_size

    width, height = size
    rng = np.random.default_rng(seed)
    shapes = _shapes(rng, height, width, n_regions)
    if screens is None:
        screens = [_random_screen(rng) for _ in shapes]
    if len(screens) != len(shapes):
        raise ValueError(f"need {len(shapes)} screens, got {len(screens)}")
    # Both renders share the screen phase origin: target pixel t shows the screen at t.
    source = _render(shapes, screens, width, height, 1.0, 1.0, line_width)
    tw, th = output_size(width, height, *scale)
    target = _render(shapes, screens, tw, th, tw / width, th / height, line_width)
    return source, target


def _render(shapes, screens, width, height, sx, sy, line_width) -> Page:
    yy, xx = np.mgrid[0:height, 0:width] + 0.5
    xs, ys = xx / sx, yy / sy  # output pixel centres in source coordinates
    image = np.ones((height, width))
    labels = np.zeros((height, width), dtype=np.int64)
    lines = np.zeros((height, width), dtype=bool)
    for k, (shape, screen) in enumerate(zip(shapes, screens), 1):
        d = _sdf(shape, xs, ys)
        inside = d < -line_width / 2
        image[inside] = render_screen(screen, height, width)[inside]
        labels[inside] = k
        lines |= np.abs(d) <= line_width / 2
    image[lines] = 0.0
    intensity = [float(render_screen(s, 256, 256).mean()) for s in screens]
    return Page(image, labels, lines, list(screens), intensity)


# --- scan-like pages (the detection benchmark) --------------------------------------------------


def degrade(
    image: np.ndarray,
    seed: int,
    *,
    paper: float | None = None,
    ink: float | None = None,
    blur: float | None = None,
    noise: float | None = None,
    quality: int | None = None,
) -> np.ndarray:
    """A rendered page ``[H, W]`` (0 ink .. 1 paper) as a scanner and a JPEG file leave it: grey
    paper and ink levels, a Gaussian blur of ``blur`` px, Gaussian sensor noise of std ``noise``,
    quantised to 8 bits and round-tripped through Pillow's JPEG at ``quality``. Parameters left
    ``None`` are drawn from ``seed`` (paper 0.88-0.97, ink 0.03-0.15, blur 0.35-0.75 px, noise
    0.01-0.025, quality 70-92); the result, float64 ``[H, W]`` in [0, 1], depends on nothing else."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"expected a greyscale [H, W] page, got shape {image.shape}")
    rng = np.random.default_rng([seed, 0xD36])
    # Drawn in a fixed order whatever is given, so one parameter fixed leaves the others as they were.
    drawn = (
        rng.uniform(0.88, 0.97),
        rng.uniform(0.03, 0.15),
        rng.uniform(0.35, 0.75),
        rng.uniform(0.01, 0.025),
        int(rng.integers(70, 93)),
    )
    paper, ink, blur, noise, quality = (
        d if v is None else v for v, d in zip((paper, ink, blur, noise, quality), drawn)
    )
    out = ink + (paper - ink) * image
    if blur > 0:
        out = ndimage.gaussian_filter(out, blur, mode="nearest")
    out = out + rng.normal(0.0, noise, out.shape)
    u8 = np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("L"), dtype=np.float64) / 255.0


def _fine_dots(rng: np.random.Generator) -> Screen:
    """The screen of scanned manga pages: fine dots (2.3-4 px) at 45 degrees, often light."""
    return Screen(
        "dots", float(rng.uniform(2.3, 4.0)), 45.0, float(rng.uniform(0.45, 0.92)), int(rng.integers(1 << 30))
    )


def _render_sampled(
    screen: Screen, xs: np.ndarray, ys: np.ndarray, grain: int, tone: np.ndarray | None = None
) -> np.ndarray:
    """The screen at sample points ``xs, ys`` (pixel units, a grid ``grain`` times finer than the
    pixels), in {0, 1}; its threshold is the tone's quantile over these samples. ``tone``, the
    same shape, varies the tone across the page (a fading screen); default ``screen.tone``. Noise
    keeps one pixel grains."""
    if screen.kind == "noise":
        h, w = xs.shape[0] // grain, xs.shape[1] // grain
        rng = np.random.default_rng([screen.seed, h, w])
        grains = np.repeat(np.repeat(rng.random((h, w)), grain, 0), grain, 1)
        return (grains < (screen.tone if tone is None else tone)).astype(np.float64)
    spot = _spot(screen, xs, ys)
    if tone is None:
        threshold = np.quantile(spot, screen.tone)
    else:
        ordered = np.sort(spot.ravel())
        threshold = ordered[np.clip((tone * (ordered.size - 1)).astype(np.int64), 0, ordered.size - 1)]
    return (spot <= threshold + 1e-9).astype(np.float64)


def _paint(ink: np.ndarray, points: np.ndarray, widths: np.ndarray, grain: int) -> None:
    """Ink a polyline ``points`` ``[N, 2]`` (x, y in pixels) whose width goes linearly through
    ``widths`` ``[N]`` (px) into the bool grid ``ink``, ``grain`` samples per pixel."""
    h, w = ink.shape
    for (p, q), (wa, wb) in zip(zip(points[:-1], points[1:]), zip(widths[:-1], widths[1:])):
        r = max(wa, wb) / 2 + 1
        x0, x1 = int(max((min(p[0], q[0]) - r) * grain, 0)), int(min((max(p[0], q[0]) + r) * grain + 1, w))
        y0, y1 = int(max((min(p[1], q[1]) - r) * grain, 0)), int(min((max(p[1], q[1]) + r) * grain + 1, h))
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = (np.mgrid[y0:y1, x0:x1] + 0.5) / grain
        d = q - p
        t = np.clip(((xx - p[0]) * d[0] + (yy - p[1]) * d[1]) / max(d @ d, 1e-12), 0, 1)
        dist = np.hypot(xx - p[0] - t * d[0], yy - p[1] - t * d[1])
        ink[y0:y1, x0:x1] |= dist <= (wa + (wb - wa) * t) / 2


def _hatching(rng: np.random.Generator, shape) -> list:
    """Hatching in a shape: 2-4 bundles of 4-10 straight pen strokes 1-2 px wide, 3-6 px apart
    (hand-jittered), 10-40 px long and tapering, each bundle at its own angle. ``(points, widths)``
    per stroke."""
    _, cx, cy, ax, ay = shape
    strokes = []
    for _ in range(int(rng.integers(2, 5))):
        th, gap, n, length = rng.uniform(0, np.pi), rng.uniform(3, 6), int(rng.integers(4, 11)), rng.uniform(10, 40)
        centre = np.array([cx + rng.uniform(-0.6, 0.6) * ax, cy + rng.uniform(-0.6, 0.6) * ay])
        offsets = np.cumsum(gap * rng.uniform(0.8, 1.2, n))
        width = rng.uniform(1, 2)
        for o in offsets - offsets.mean():
            t = th + rng.normal(0, 0.04)
            along, across = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(th), np.cos(th)])
            mid = centre + o * across + rng.normal(0, 2) * along
            half = length * rng.uniform(0.7, 1.1) / 2
            strokes.append(
                (np.stack([mid - half * along, mid + half * along]), np.array([width, width * rng.uniform(0.3, 0.7)]))
            )
    return strokes


def _hair(rng: np.random.Generator, shape) -> list:
    """Hair in a shape: a lock of curved strokes following one flow, 2-4.5 px apart, as long as
    the shape, tapering from 1-2 px to a hairline. ``(points, widths)`` per stroke."""
    _, cx, cy, ax, ay = shape
    th, gap, bend, extent = rng.uniform(0, np.pi), rng.uniform(2, 4.5), rng.uniform(-0.25, 0.25), 2 * max(ax, ay)
    along, across = np.array([np.cos(th), np.sin(th)]), np.array([-np.sin(th), np.cos(th)])
    s = np.linspace(0, 1, 9)[:, None]
    strokes = []
    for o in np.arange(-extent / 2, extent / 2, gap):
        length = extent * rng.uniform(0.6, 1.1)
        start = (
            np.array([cx, cy]) + (o + rng.normal(0, 0.3 * gap)) * across - length / 2 * along + rng.normal(0, 3) * along
        )
        ctrl = start + length / 2 * along + (bend + rng.normal(0, 0.03)) * length * across
        end = start + length * along
        points = (1 - s) ** 2 * start + 2 * s * (1 - s) * ctrl + s**2 * end  # quadratic Bezier
        strokes.append((points, rng.uniform(1, 2) * (1 - 0.8 * s[:, 0])))
    return strokes


def make_scan_page(
    seed: int,
    size: tuple[int, int] = (192, 192),
    n_regions: int = 4,
    n_distractors: int = 2,
    line_width: float = 2.0,
    fine: float = 0.5,
    fade: float = 0.0,
    scan: bool = True,
    grain: int = 3,
) -> Page:
    """A page like a scanned manga page, with ground-truth labels, at ``size = (width, height)``.

    ``n_regions`` outlined shapes hold screens: with probability ``fine`` fine dots (period 2.3-4 px,
    45 degrees, tone 0.45-0.92), otherwise a screen of :func:`make_page`'s kinds; with probability
    ``fade`` a screen fades from its tone to 0.9 across its shape (``intensity`` is then its mean
    tone). ``n_distractors``
    more shapes hold, unlabelled, hatching or hair (half of them outlined); ``Page.distractors`` marks
    them. Everything is drawn ``grain`` x ``grain`` times finer and averaged to pixels (grey,
    antialiased dots and lines), then, if ``scan``, passed through :func:`degrade` with ``seed``.
    """
    width, height = size
    rng = np.random.default_rng([seed, 0x5CA9])  # another stream than make_page's for the same seed
    shapes = _shapes(rng, height, width, n_regions + n_distractors)
    screens = [_fine_dots(rng) if rng.random() < fine else _random_screen(rng) for _ in range(n_regions)]
    ys, xs = (np.mgrid[0 : height * grain, 0 : width * grain] + 0.5) / grain
    py, px = np.mgrid[0:height, 0:width] + 0.5
    fine_img = np.ones(xs.shape)
    ink = np.zeros(xs.shape, dtype=bool)
    labels = np.zeros((height, width), dtype=np.int64)
    lines = np.zeros((height, width), dtype=bool)
    distractors = np.zeros((height, width), dtype=bool)
    intensity = []
    for k, shape in enumerate(shapes, 1):
        d = _sdf(shape, xs, ys)
        outlined = k <= n_regions or rng.random() < 0.5
        if outlined:
            ink |= np.abs(d) <= line_width / 2
            lines |= np.abs(_sdf(shape, px, py)) <= line_width / 2
        inside = d < (-line_width / 2 if outlined else 0.0)
        if k <= n_regions:
            tone = None
            if fade > 0 and rng.random() < fade:
                # The tone goes linearly from the screen's to a light 0.9 across the shape, along
                # a random direction (a shading that fades out).
                _, cx, cy, ax, ay = shape
                th = rng.uniform(0, 2 * np.pi)
                u = ((xs - cx) * np.cos(th) / ax + (ys - cy) * np.sin(th) / ay + 1) / 2
                tone = screens[k - 1].tone + (0.9 - screens[k - 1].tone) * np.clip(u, 0, 1)
            screen = _render_sampled(screens[k - 1], xs, ys, grain, tone)
            fine_img[inside] = screen[inside]
            intensity.append(float(screen.mean()))
            labels[_sdf(shape, px, py) < -line_width / 2] = k
            continue
        strokes = np.zeros(xs.shape, dtype=bool)
        for points, widths in (_hatching if rng.random() < 0.5 else _hair)(rng, shape):
            _paint(strokes, points, widths, grain)
        ink |= strokes & inside
        distractors |= _sdf(shape, px, py) < 0
    fine_img[ink] = 0.0
    image = fine_img.reshape(height, grain, width, grain).mean(axis=(1, 3))
    if scan:
        image = degrade(image, seed)
    return Page(image, labels, lines, screens, intensity, distractors)
