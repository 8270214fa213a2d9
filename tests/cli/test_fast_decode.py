"""``rescale resize --fast-decode``: JPEGs decoded reduced in the DCT domain (to at least twice the
target), then resampled exactly; on by default for --width / --height / --size, off for --scale."""

from __future__ import annotations

import math

import numpy as np
from PIL import ExifTags, Image

from rescale.batch.files import read_image
from rescale.cli import main


def photo(path, w: int = 960, h: int = 640, orientation: int | None = None) -> np.ndarray:
    """A JPEG with smooth gradients and fine texture (what DCT shrinking affects)."""
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(0)
    arr = np.stack([x * 255 / w, y * 255 / h, 128 + 60 * np.sin(x / 7.0) * np.cos(y / 5.0)], -1)
    arr = np.clip(arr + rng.normal(0, 6, arr.shape), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    exif = Image.Exif()
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    img.save(path, quality=92, exif=exif)
    return arr


def psnr(a, b) -> float:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def test_read_image_decodes_reduced_but_reports_the_file_size(tmp_path):
    photo(tmp_path / "a.jpg")
    dec = read_image(tmp_path / "a.jpg", reduce_for=lambda w, h: (100, 67))
    assert dec.size == (960, 640)
    assert dec.image.size == (240, 160)  # 4x in the DCT domain: still >= twice the target
    assert read_image(tmp_path / "a.jpg").image.size == (960, 640)
    rotated = photo(tmp_path / "r.jpg", orientation=6)  # stored 960x640, shown 640x960
    assert rotated.shape[:2] == (640, 960)
    dec = read_image(tmp_path / "r.jpg", reduce_for=lambda w, h: (w // 8, h // 8))
    assert dec.size == (640, 960) and dec.image.size == (160, 240)


def test_thumbnails_decode_fast_by_default_and_stay_close(tmp_path):
    photo(tmp_path / "a.jpg")
    assert main(["resize", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "fast.png"), "--width", "120", "-q"]) == 0
    args = ["resize", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "full.png"), "--width", "120", "-q"]
    assert main([*args, "--no-fast-decode"]) == 0
    fast, full = Image.open(tmp_path / "fast.png"), Image.open(tmp_path / "full.png")
    assert fast.size == full.size == (120, 80)
    with Image.open(tmp_path / "a.jpg") as im:
        pillow = im.resize((120, 80), Image.Resampling.BICUBIC)
    np.testing.assert_array_equal(np.asarray(full), np.asarray(pillow))  # off: the full decode's bits
    assert not np.array_equal(np.asarray(fast), np.asarray(full))  # on: the reduced decode ran
    assert psnr(fast, full) > 40


def test_scale_keeps_the_full_decode_unless_asked(tmp_path):
    photo(tmp_path / "a.jpg")
    with Image.open(tmp_path / "a.jpg") as im:
        pillow = np.asarray(im.resize((96, 64), Image.Resampling.BICUBIC))
    assert main(["resize", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "s.png"), "--scale", "0.1", "-q"]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "s.png")), pillow)
    args = ["resize", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "f.png"), "--scale", "0.1", "--fast-decode", "-q"]
    assert main(args) == 0
    fast = np.asarray(Image.open(tmp_path / "f.png"))
    assert fast.shape == pillow.shape and not np.array_equal(fast, pillow) and psnr(fast, pillow) > 40
