"""Regenerate the bundled sample images (all synthetic, made here): ``python samples/make_samples.py``.

Each one exercises something the batch tool must get right:

- ``zone_plate.png``: 8-bit grey, frequencies rising to Nyquist at the edge; shows aliasing.
- ``resolution_chart.png``: RGB, text, line pairs, a Siemens star and colour patches; 300 DPI.
- ``gradient_alpha.png``: RGBA, alpha ramps and a fully transparent hole whose hidden colour must
  not bleed into its neighbours (premultiplied alpha).
- ``terrain_16bit.png``: 16-bit grey (I;16), smooth values using all 16 bits.
- ``rotated_exif.jpg``: stored sideways with EXIF orientation 6, an sRGB ICC profile and 72 DPI;
  the arrow points up once the orientation is applied.
- ``manga/screentone_page.png``: a scan-like manga page (``rescale.screentone.synth.make_scan_page``):
  outlined regions of dot, line and noise screens, some fading, and hatching and hair that are not
  screens; for ``--screentone``, which keeps the screens' pitch when the page is shrunk.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageCms, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent


def zone_plate(n: int = 512) -> Image.Image:
    """cos(pi r^2 / n): the local frequency r / n cycles per pixel reaches 0.5 at the border."""
    y, x = np.mgrid[0:n, 0:n].astype(np.float64) - (n - 1) / 2
    v = 0.5 + 0.5 * np.cos(np.pi * (x * x + y * y) / n)
    return Image.fromarray(np.round(v * 255).astype(np.uint8))


def resolution_chart(w: int = 640, h: int = 480) -> Image.Image:
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    y = 12
    for size in (28, 20, 14, 10, 8):
        d.text(
            (16, y),
            f"rescale {size}px: The quick brown fox 0123456789",
            fill="black",
            font=ImageFont.load_default(size),
        )
        y += size + 10
    # Line pairs, 1 to 5 pixels wide, horizontal and vertical.
    x0 = 16
    for width in (1, 2, 3, 4, 5):
        for i in range(6):
            d.rectangle([x0 + 2 * i * width, 190, x0 + (2 * i + 1) * width - 1, 290], fill="black")
            d.rectangle([x0, 300 + 2 * i * width, x0 + 60, 300 + (2 * i + 1) * width - 1], fill="black")
        x0 += 12 * width + 14
    # Siemens star: 36 black wedges.
    cx, cy, r = 490, 300, 140
    for k in range(36):
        a0, a1 = 2 * math.pi * k / 36, 2 * math.pi * (k + 0.5) / 36
        d.polygon(
            [(cx, cy), (cx + r * math.cos(a0), cy + r * math.sin(a0)), (cx + r * math.cos(a1), cy + r * math.sin(a1))],
            fill="black",
        )
    # Colour patches.
    for i, colour in enumerate(
        ["#ff0000", "#00ff00", "#0000ff", "#00ffff", "#ff00ff", "#ffff00", "#808080", "#000000"]
    ):
        d.rectangle([16 + 34 * i, 440, 16 + 34 * i + 30, 470], fill=colour)
    return img


def gradient_alpha(w: int = 400, h: int = 300) -> Image.Image:
    x = np.linspace(0, 1, w)[None, :]
    y = np.linspace(0, 1, h)[:, None]
    rgb = np.stack([np.broadcast_to(x, (h, w)), np.broadcast_to(y, (h, w)), np.broadcast_to(1 - x, (h, w))], -1)
    alpha = np.broadcast_to(0.25 + 0.75 * y, (h, w)).copy()
    # A transparent hole filled with a colour nobody should ever see.
    yy, xx = np.mgrid[0:h, 0:w]
    hole = (xx - w / 2) ** 2 + (yy - h / 2) ** 2 < (h / 5) ** 2
    rgb[hole] = (0.0, 1.0, 0.0)
    alpha[hole] = 0.0
    arr = np.concatenate([rgb, alpha[..., None]], -1)
    return Image.fromarray(np.round(arr * 255).astype(np.uint8))


def terrain_16bit(w: int = 320, h: int = 240) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    v = np.zeros((h, w))
    rng = np.random.default_rng(7)
    for _ in range(12):
        cx, cy, s, a = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3), rng.uniform(-1, 1)
        v += a * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
    v = (v - v.min()) / (v.max() - v.min())
    return Image.fromarray(np.round(v * 65535).astype(np.uint16))


def upright_arrow(w: int = 480, h: int = 360) -> Image.Image:
    y = np.linspace(0, 1, h)[:, None, None]
    x = np.linspace(0, 1, w)[None, :, None]
    sky = np.array([0.35, 0.6, 0.95]) * (1 - y) + np.array([0.95, 0.85, 0.6]) * y + 0.05 * x
    img = Image.fromarray(np.round(np.clip(sky, 0, 1) * 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    d.polygon(
        [
            (w / 2, 30),
            (w / 2 + 70, 130),
            (w / 2 + 25, 130),
            (w / 2 + 25, 300),
            (w / 2 - 25, 300),
            (w / 2 - 25, 130),
            (w / 2 - 70, 130),
        ],
        fill="#c01010",
    )
    d.text((20, 20), "UP", fill="black", font=ImageFont.load_default(40))
    return img


def main() -> None:
    zone_plate().save(HERE / "zone_plate.png", optimize=True)
    resolution_chart().save(HERE / "resolution_chart.png", dpi=(300, 300), optimize=True)
    gradient_alpha().save(HERE / "gradient_alpha.png", optimize=True)
    terrain_16bit().save(HERE / "terrain_16bit.png", dpi=(96, 96))

    upright = upright_arrow()
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # orientation 6: display rotates it back
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "rescale"
    exif[ExifTags.Base.Model] = "samples/make_samples.py"
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.ExifImageWidth], sub[ExifTags.Base.ExifImageHeight] = stored.size
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    stored.save(HERE / "rotated_exif.jpg", quality=90, exif=exif.tobytes(), icc_profile=srgb, dpi=(72, 72))

    from rescale.screentone.synth import make_scan_page

    (HERE / "manga").mkdir(exist_ok=True)
    page = make_scan_page(7, size=(384, 384), n_regions=6, n_distractors=2, fade=0.3)
    Image.fromarray(np.round(page.image * 255).astype(np.uint8)).save(
        HERE / "manga" / "screentone_page.png", optimize=True
    )


if __name__ == "__main__":
    main()
