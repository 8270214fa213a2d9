"""Synthetic screentone benchmark: line-art pages with screened regions, at a source and a target size.

Geometry (region shapes, outlines) lives in *source pixel coordinates* and is scaled to the target;
screens are evaluated at *output pixel coordinates*, so the ground truth at the target keeps each
screen's pitch, angle and tone in pixels ("geometry scaled, screens not").

Pages are float64 ``[H, W]`` arrays in ``{0, 1}`` (0 = ink, 1 = paper). Label maps are int ``[H, W]``:
0 paper or line art, ``k >= 1`` the interior of screened region ``k`` (``screens[k - 1]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Screen", "Page", "render_screen", "make_page", "KINDS"]

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
    ``screens`` the screens of labels 1..K, ``intensity`` their measured mean grey (0..1)."""

    image: np.ndarray
    labels: np.ndarray
    lines: np.ndarray
    screens: list
    intensity: list


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
