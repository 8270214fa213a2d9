"""8-bit (and I;16, F) results against Pillow's own ``Image.resize``, bit for bit.

The output size is always ``rescale.output_size`` handed to Pillow, so these tests check the pixels,
not the size rule. Pillow 13 resamples premultiplied (RGBA -> RGBa) for LA/RGBA except with NEAREST,
keeps the image in 8 bits between its two passes and picks the pass order with a rule that older
Pillow did not have (``rescale.resample.vertical_first``), so every one of those is exercised.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import rescale
from rescale.resample import vertical_first

from helpers import CPU_BACKENDS, noise_u8, rng_for, with_alpha_u8

R = Image.Resampling
PILLOW_FILTERS = {
    "nearest": R.NEAREST,
    "box": R.BOX,
    "bilinear": R.BILINEAR,
    "hamming": R.HAMMING,
    "bicubic": R.BICUBIC,
    "lanczos": R.LANCZOS,
}
METHODS = list(PILLOW_FILTERS)
SCALES = [0.1, 0.25, 0.37, 0.5, 0.75, 1, 1.3, 1.7, 2, 3.3, 4]
MODES_8BIT = ["L", "LA", "RGB", "RGBA"]


def make_image(mode: str, w: int, h: int, *key) -> Image.Image:
    rng = rng_for(mode, w, h, *key)
    if mode == "L":
        arr = noise_u8(rng, h, w)
    elif mode == "RGB":
        arr = noise_u8(rng, h, w, 3)
    else:  # LA, RGBA: alpha with fully transparent, opaque and partial regions
        arr = with_alpha_u8(rng, h, w, 1 if mode == "LA" else 3)
    img = Image.fromarray(arr)
    assert img.mode == mode
    return img


def pillow_resize(img: Image.Image, method: str, sx: float, sy: float) -> Image.Image:
    return img.resize(rescale.output_size(img.width, img.height, sx, sy), PILLOW_FILTERS[method])


def assert_exact(img: Image.Image, method: str, sx: float, sy: float, backend: str) -> None:
    """Pillow's result, from rescale given the PIL image and given the same pixels as numpy."""
    expected = np.asarray(pillow_resize(img, method, sx, sy))
    got_pil = rescale.rescale(img, sx, sy, method=method, backend=backend)
    assert isinstance(got_pil, Image.Image) and got_pil.mode == img.mode
    got_np = rescale.rescale(np.asarray(img), sx, sy, method=method, backend=backend)
    for got in (np.asarray(got_pil), got_np):
        assert got.shape == expected.shape
        bad = np.argwhere(got != expected)
        assert bad.size == 0, (
            f"{bad.shape[0]} of {got.size} values differ from Pillow, first at {tuple(bad[0])}: "
            f"{got[tuple(bad[0])]} != {expected[tuple(bad[0])]}"
        )


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("mode", MODES_8BIT)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("method", METHODS)
def test_every_scale(method, scale, mode, backend):
    assert_exact(make_image(mode, 41, 31), method, scale, scale, backend)


# (sx, sy) pairs on a 64x80 image; both pass orders occur (checked below).
ASYMMETRIC = [
    (0.5, 0.25),
    (0.25, 0.5),
    (0.1, 1),
    (1, 0.1),
    (0.37, 3.3),
    (3.3, 0.37),
    (2, 0.75),
    (0.75, 0.5),
    (1.7, 1.3),
    (4, 0.1),
]


def test_asymmetric_pairs_cover_both_pass_orders():
    orders = {vertical_first(64, 80, *rescale.output_size(64, 80, sx, sy)) for sx, sy in ASYMMETRIC}
    assert orders == {True, False}


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("mode", ["L", "RGBA"])
@pytest.mark.parametrize("sx,sy", ASYMMETRIC)
@pytest.mark.parametrize("method", METHODS)
def test_asymmetric(method, sx, sy, mode, backend):
    assert_exact(make_image(mode, 64, 80), method, sx, sy, backend)


# Sizes around Pillow 13's pass-order switch: vertical first iff 2 * (w - out_w) < h - out_h.
# On a 64x100 image, out_w = 54 shrinks by 10, so out_h = 80 is the tie (horizontal first) and
# out_h = 79 goes vertical first.
@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("out_h", [81, 80, 79, 78])
@pytest.mark.parametrize("method", ["bilinear", "bicubic", "lanczos"])
def test_pass_order_switch(method, out_h, backend):
    img = make_image("L", 64, 100)
    size = (54, out_h)
    expected = np.asarray(img.resize(size, PILLOW_FILTERS[method]))
    got = np.asarray(rescale.rescale(img, size=size, method=method, backend=backend))
    np.testing.assert_array_equal(got, expected)
    # The case only tests the order if the two orders give different 8-bit results.
    via_w = rescale.rescale(
        rescale.rescale(img, size=(54, 100), method=method, backend=backend), size=size, method=method, backend=backend
    )
    via_h = rescale.rescale(
        rescale.rescale(img, size=(64, out_h), method=method, backend=backend),
        size=size,
        method=method,
        backend=backend,
    )
    assert not np.array_equal(np.asarray(via_w), np.asarray(via_h))
    assert np.array_equal(got, np.asarray(via_h if vertical_first(64, 100, *size) else via_w))


# Degenerate and long sizes (w, h); the 2048 strips are cheap but cover long tables.
SIZES = [(1, 1), (2, 1), (1, 2), (2, 2), (1, 7), (5, 3), (1, 31), (2048, 1), (1, 2048), (2048, 9), (7, 2048)]


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("scale", [0.1, 0.37, 1.7])
@pytest.mark.parametrize("w,h", SIZES)
@pytest.mark.parametrize("method", METHODS)
def test_sizes(method, w, h, scale, backend):
    mode = "RGBA" if (w * h) % 2 else "RGB"
    assert_exact(make_image(mode, w, h), method, scale, scale, backend)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize(
    "method,sx,sy",
    [
        ("bilinear", 0.5, 0.5),
        ("bicubic", 0.37, 0.25),
        ("lanczos", 0.25, 0.1),
        ("box", 0.1, 0.37),
        ("hamming", 0.75, 0.3),
    ],
)
def test_large(method, sx, sy, backend):
    assert_exact(make_image("L", 2048, 2048), method, sx, sy, backend)


# --- I;16 --------------------------------------------------------------------------------------
# Pillow sums 16-bit images in double and rounds. Older Pillow wrapped sums above 65535 byte-wise
# (its 16-bit store clipped only the high byte); Pillow 13 clips them, so the full range is used,
# with flat 0 and 65535 regions where bicubic and lanczos overshoot both ways.


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("sx,sy", [(0.1, 0.1), (0.37, 0.37), (0.5, 0.25), (1, 0.75), (1.7, 1.7), (3.3, 0.5), (4, 4)])
@pytest.mark.parametrize("method", METHODS)
def test_i16(method, sx, sy, backend):
    arr = rng_for("I;16", method, sx, sy).integers(0, 65536, (37, 53), dtype=np.uint16)
    arr[:10, :10] = 0
    arr[-10:, -10:] = 65535
    img = Image.fromarray(arr)
    assert img.mode == "I;16"
    expected = np.asarray(pillow_resize(img, method, sx, sy))
    got_pil = rescale.rescale(img, sx, sy, method=method, backend=backend)
    assert got_pil.mode == "I;16"
    np.testing.assert_array_equal(np.asarray(got_pil), expected)
    np.testing.assert_array_equal(rescale.rescale(arr, sx, sy, method=method, backend=backend), expected)


# --- F -----------------------------------------------------------------------------------------
# Pillow sums F images in double and stores float32; rescale sums float32 in float32.


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("sx,sy", [(0.1, 0.1), (0.37, 0.37), (0.5, 0.25), (1, 0.75), (1.7, 1.7), (3.3, 0.5), (4, 4)])
@pytest.mark.parametrize("method", METHODS)
def test_float(method, sx, sy, backend):
    arr = rng_for("F", method, sx, sy).uniform(-1, 2, (37, 53)).astype(np.float32)
    img = Image.fromarray(arr)
    assert img.mode == "F"
    expected = np.asarray(pillow_resize(img, method, sx, sy))
    got_pil = rescale.rescale(img, sx, sy, method=method, backend=backend)
    assert got_pil.mode == "F"
    np.testing.assert_allclose(np.asarray(got_pil), expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        rescale.rescale(arr, sx, sy, method=method, backend=backend), expected, rtol=0, atol=1e-5
    )


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("method", ["bicubic", "lanczos"])
def test_i16_clips_overshoot(method, backend):
    """A black-white step upscaled rings past both ends of the 16-bit range; Pillow clips."""
    arr = np.zeros((4, 16), np.uint16)
    arr[:, 8:] = 65535
    unclipped = rescale.rescale(arr.astype(np.float64), size=(37, 4), method=method, backend=backend)
    assert unclipped.max() > 65535.5 and unclipped.min() < -0.5  # the case does overshoot
    expected = np.asarray(Image.fromarray(arr).resize((37, 4), PILLOW_FILTERS[method]))
    np.testing.assert_array_equal(rescale.rescale(arr, size=(37, 4), method=method, backend=backend), expected)


def test_i16_sum_lands_on_a_half():
    """Issue 16: this sum is exactly 25850.5 with Pillow's weights, whose normaliser is added up
    left to right; numpy's pairwise sum gave weights one ulp off and 25851."""
    arr = np.array([[58505, 12048, 49452, 5219, 16257, 2832, 38454, 30978, 28706, 13236, 14700]], np.uint16)
    expected = np.asarray(Image.fromarray(arr).resize((2, 1), R.BILINEAR))
    assert expected[0, 0] == 25850
    for backend in ("torch", "cpu"):
        np.testing.assert_array_equal(rescale.rescale(arr, size=(2, 1), method="bilinear", backend=backend), expected)


@pytest.mark.parametrize("backend", CPU_BACKENDS[-1:])  # the tables are the same for every backend
@pytest.mark.parametrize("method", ["bilinear", "bicubic", "lanczos", "box", "hamming"])
def test_i16_every_small_geometry(method, backend):
    """Every width 2..40 -> 1..12 on 64 rows: six bilinear geometries (11 -> 2, 22 -> 4, 31 -> 6, ...)
    had a sum on an exact .5 that the one-ulp-off weights rounded the other way."""
    rng = rng_for("I;16 sweep", method)
    for w in range(2, 41):
        arr = rng.integers(0, 65536, (64, w), dtype=np.uint16)
        for out_w in range(1, 13):
            expected = np.asarray(Image.fromarray(arr).resize((out_w, 64), PILLOW_FILTERS[method]))
            got = rescale.rescale(arr, size=(out_w, 64), method=method, backend=backend)
            np.testing.assert_array_equal(got, expected, err_msg=f"{w} -> {out_w}")


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    method=st.sampled_from(METHODS),
    w=st.integers(1, 40),
    h=st.integers(1, 12),
    out_w=st.integers(1, 40),
    out_h=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_i16_random_sizes(backend, method, w, h, out_w, out_h, seed):
    """Random 16-bit images at random sizes, bit for bit against Pillow."""
    arr = np.random.default_rng(seed).integers(0, 65536, (h, w), dtype=np.uint16)
    expected = np.asarray(Image.fromarray(arr).resize((out_w, out_h), PILLOW_FILTERS[method]))
    np.testing.assert_array_equal(rescale.rescale(arr, size=(out_w, out_h), method=method, backend=backend), expected)
