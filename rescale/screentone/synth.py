"""Synthetic screentone benchmark: line-art pages with screened regions, at a source and a target size.

Geometry (region shapes, outlines) lives in *source pixel coordinates* and is scaled to the target;
screens are evaluated at *output pixel coordinates*, so the ground truth at the target keeps each
screen's pitch, angle and tone in pixels ("geometry scaled, screens not").

Pages are float64 ``[H, W]`` arrays in ``{0, 1}`` (0 = ink, 1 = paper). Label maps are int ``[H, W]``:
0 paper or line art, ``k >= 1`` the interior of screened region ``k`` (``screens[k - 1]``).

:func:`make_scan_page` makes pages that look like scanned manga, for the detection benchmark:
antialiased (grey) renders that also hold fine 45-degree dots and unlabelled non-screens (hatching,
hair), passed through :func:`degrade` (grey paper and ink, blur, sensor noise, JPEG).

About 520 lines: the clean and the scan-like pages share their shapes, outlines, screens and the
rendering at two scales, which would otherwise be passed between modules piece by piece.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = [
    "Screen",
    "Page",
    "render_screen",
    "make_page",
    "make_scan_page",
    "make_scan_pages",
    "degrade",
    "KINDS",
    "STROKES",
]

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
    hair, which are not screens; ``strokes`` int ``[H, W]`` (scan pages with strokes over screens
    only): 1 hair, 2 hatching, 3 text (:data:`STROKES`) where a quarter of a pixel or more is
    inked by a stroke drawn over a screen, 0 elsewhere."""

    image: np.ndarray
    labels: np.ndarray
    lines: np.ndarray
    screens: list
    intensity: list
    distractors: np.ndarray | None = None
    strokes: np.ndarray | None = None


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


#: Kinds of strokes drawn over screens on scan-like pages (``Page.strokes`` labels 1, 2, 3).
STROKES = ("hair", "hatching", "text")


def _text(rng: np.random.Generator, shape) -> list:
    """Lettering in a shape: 1-3 lines of 2-6 glyphs 9-14 px tall, each 2-4 pen strokes 1-1.6 px
    wide between the points of a 3 x 3 grid over the glyph's box (like kana and simple kanji).
    ``(points, widths)`` per stroke."""
    _, cx, cy, ax, ay = shape
    size = rng.uniform(9, 14)
    rows, cols = int(rng.integers(1, 4)), int(rng.integers(2, 7))
    gap = 1.3 * size
    x0, y0 = cx - (cols - 1) * gap / 2, cy - (rows - 1) * gap / 2
    grid = np.array([(i, j) for i in (0.0, 0.5, 1.0) for j in (0.0, 0.5, 1.0)]) - 0.5
    strokes = []
    for r in range(rows):
        for c in range(cols):
            centre = np.array([x0 + c * gap, y0 + r * gap])
            width = rng.uniform(1.0, 1.6)
            for _ in range(int(rng.integers(2, 5))):
                ends = grid[rng.choice(9, 2, replace=False)] * size + centre
                strokes.append((ends, np.array([width, width])))
    return strokes


@dataclass
class _Scene:
    """What a scan-like page shows, drawn once from its seed and rendered at any scale: shapes
    (source pixels), their screens, which are outlined, each screened shape's fade (None or the
    fade's direction), the hatching/hair of the unscreened ones, and the strokes drawn over
    screened ones (kind index into :data:`STROKES`, points, widths)."""

    shapes: list
    screens: list
    outlined: list
    fades: list
    distractors: list
    over: list


def _scan_scene(
    seed: int, size: tuple, n_regions: int, n_distractors: int, fine: float, fade: float, strokes: float
) -> _Scene:
    width, height = size
    rng = np.random.default_rng([seed, 0x5CA9])  # another stream than make_page's for the same seed
    shapes = _shapes(rng, height, width, n_regions + n_distractors)
    screens = [_fine_dots(rng) if rng.random() < fine else _random_screen(rng) for _ in range(n_regions)]
    outlined, fades, distractors = [], [], []
    for k, shape in enumerate(shapes, 1):
        outlined.append(k <= n_regions or rng.random() < 0.5)
        if k <= n_regions:
            fades.append(rng.uniform(0, 2 * np.pi) if fade > 0 and rng.random() < fade else None)
            continue
        distractors.append((_hatching if rng.random() < 0.5 else _hair)(rng, shape))
    # Strokes over screens draw from their own stream, so pages without them stay as they were.
    over = []
    srng = np.random.default_rng([seed, 0x57]) if strokes > 0 else None
    for k, screen in enumerate(screens):
        if srng is None or screen.kind == "noise" or srng.random() >= strokes:
            continue
        kind = int(srng.integers(0, len(STROKES)))
        over += [(k, kind, points, widths) for points, widths in (_hair, _hatching, _text)[kind](srng, shapes[k])]
    return _Scene(shapes, screens, outlined, fades, distractors, over)


def _render_scan(scene: _Scene, width: int, height: int, sx: float, sy: float, line_width: float, grain: int) -> Page:
    """The scene rendered on a ``[height, width]`` grid whose pixels are ``1 / sx`` x ``1 / sy``
    source pixels: geometry (shapes, outlines, strokes) scaled, screens at their pitch in pixels."""
    n_regions = len(scene.screens)
    ys, xs = (np.mgrid[0 : height * grain, 0 : width * grain] + 0.5) / grain
    gy, gx = ys / sy, xs / sx  # source coordinates of the fine grid
    py, px = np.mgrid[0:height, 0:width] + 0.5
    py, px = py / sy, px / sx
    fine_img = np.ones(xs.shape)
    ink = np.zeros(xs.shape, dtype=bool)
    labels = np.zeros((height, width), dtype=np.int64)
    lines = np.zeros((height, width), dtype=bool)
    distractors = np.zeros((height, width), dtype=bool)
    intensity = []
    insides = []
    scale = np.array([sx, sy])
    for k, shape in enumerate(scene.shapes, 1):
        d = _sdf(shape, gx, gy)
        outlined = scene.outlined[k - 1]
        if outlined:
            ink |= np.abs(d) <= line_width / 2
            lines |= np.abs(_sdf(shape, px, py)) <= line_width / 2
        inside = d < (-line_width / 2 if outlined else 0.0)
        if k <= n_regions:
            screen, tone = scene.screens[k - 1], None
            if scene.fades[k - 1] is not None:
                # The tone goes linearly from the screen's to a light 0.9 across the shape, along
                # a random direction (a shading that fades out).
                _, cx, cy, ax, ay = shape
                th = scene.fades[k - 1]
                u = ((gx - cx) * np.cos(th) / ax + (gy - cy) * np.sin(th) / ay + 1) / 2
                tone = screen.tone + (0.9 - screen.tone) * np.clip(u, 0, 1)
            rendered = _render_sampled(screen, xs, ys, grain, tone)
            fine_img[inside] = rendered[inside]
            intensity.append(float(rendered.mean()))
            labels[_sdf(shape, px, py) < -line_width / 2] = k
            insides.append(inside)
            continue
        drawn = np.zeros(xs.shape, dtype=bool)
        for points, widths in scene.distractors[k - n_regions - 1]:
            _paint(drawn, points * scale, widths * np.sqrt(sx * sy), grain)
        ink |= drawn & inside
        distractors |= _sdf(shape, px, py) < 0
    strokes = np.zeros((height, width), dtype=np.int64)
    for k, kind in {(k, kind) for k, kind, _, _ in scene.over}:
        drawn = np.zeros(xs.shape, dtype=bool)
        for _, _, points, widths in (o for o in scene.over if o[0] == k and o[1] == kind):
            _paint(drawn, points * scale, widths * np.sqrt(sx * sy), grain)
        drawn &= insides[k]
        ink |= drawn
        # A stroke pixel: a quarter or more of it inked by the stroke (shrunk, a 1 px stroke is a
        # darker line half a pixel wide, which covers half of few pixels).
        strokes[drawn.reshape(height, grain, width, grain).mean(axis=(1, 3)) >= 0.25] = kind + 1
    fine_img[ink] = 0.0
    image = fine_img.reshape(height, grain, width, grain).mean(axis=(1, 3))
    page = Page(image, labels, lines, list(scene.screens), intensity, distractors)
    page.strokes = strokes if scene.over else None
    return page


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
    strokes: float = 0.0,
) -> Page:
    """A page like a scanned manga page, with ground-truth labels, at ``size = (width, height)``.

    ``n_regions`` outlined shapes hold screens: with probability ``fine`` fine dots (period 2.3-4 px,
    45 degrees, tone 0.45-0.92), otherwise a screen of :func:`make_page`'s kinds; with probability
    ``fade`` a screen fades from its tone to 0.9 across its shape (``intensity`` is then its mean
    tone). ``n_distractors`` more shapes hold, unlabelled, hatching or hair (half of them
    outlined); ``Page.distractors`` marks them. With probability ``strokes`` a dot or line screen
    has hair, hatching or text drawn over it (:data:`STROKES`); ``Page.strokes`` labels their
    pixels 1, 2, 3 (None without any). Everything is drawn ``grain`` x ``grain`` times finer and
    averaged to pixels (grey, antialiased dots and lines), then, if ``scan``, passed through
    :func:`degrade` with ``seed`` (``intensity`` is then each region's mean grey inside it, strokes
    left out). :func:`make_scan_pages` renders the same page at two sizes.
    """
    return make_scan_pages(
        seed, size, (1.0, 1.0), n_regions, n_distractors, line_width, fine, fade, scan, grain, strokes
    )[0]


def make_scan_pages(
    seed: int,
    size: tuple[int, int] = (192, 192),
    scale: tuple[float, float] = (1.0, 1.0),
    n_regions: int = 4,
    n_distractors: int = 2,
    line_width: float = 2.0,
    fine: float = 0.5,
    fade: float = 0.0,
    scan: bool = True,
    grain: int = 3,
    strokes: float = 0.0,
) -> tuple[Page, Page]:
    """A scan-like page (:func:`make_scan_page`) at the source ``size = (width, height)`` and its
    ground truth at ``scale = (sx, sy)``: the same shapes, outlines and strokes scaled, the same
    screens at the same pitch in pixels, the same scanner and JPEG quality (``degrade`` with the
    same seed). The target's size is ``round(size * scale)`` (as :func:`rescale.output_size`).

    Example:
        >>> src, tgt = make_scan_pages(0, (96, 96), (0.5, 0.5), strokes=1.0)
        >>> src.image.shape, tgt.image.shape, sorted(set(np.unique(tgt.strokes)) - {0}) != []
        ((96, 96), (48, 48), True)
    """
    from ..api import output_size

    scene = _scan_scene(seed, size, n_regions, n_distractors, fine, fade, strokes)
    pages = []
    for sx, sy in ((1.0, 1.0), scale):
        w, h = output_size(*size, sx, sy) if (sx, sy) != (1.0, 1.0) else size
        page = _render_scan(scene, w, h, w / size[0], h / size[1], line_width, grain)
        if scan:
            page.image = degrade(page.image, seed)
        pages.append(page)
    if scan:
        # The scanned screens' tones (grey paper and ink, blur), as the source shows them inside
        # each region, for both pages (strokes over them left out).
        src = pages[0]
        inner = [ndimage.binary_erosion(src.labels == k, iterations=2) for k in range(1, n_regions + 1)]
        if src.strokes is not None:
            inner = [m & ~ndimage.binary_dilation(src.strokes > 0, iterations=2) for m in inner]
        tones = [float(src.image[m].mean()) if m.any() else i for m, i in zip(inner, src.intensity)]
        for page in pages:
            page.intensity = list(tones)
    return pages[0], pages[1]
