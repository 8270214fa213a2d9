"""``rescale.compat.imresize`` against the independent MATLAB port (``tests/matlab_port.py``, written
from imresize.m without rescale's code): uint8 equality at integer and non-integer factors, with the
size rule, MATLAB's pass order and per-pass rounding; the size rule against hand-worked values."""

from __future__ import annotations

import numpy as np
import pytest

from rescale.compat import contributions, imresize, imresize_size

from helpers import noise_u8, rng_for
from matlab_port import matlab_imresize

METHODS = ["bicubic", "bilinear", "box", "lanczos3", "nearest"]

# (h, w, scale): in * scale an integer or not (37 * 0.5, 53 / 3, 512 -> 171 as 64 -> 22), up and down
BY_SCALE = [
    (40, 60, 0.5),
    (37, 53, 0.5),
    (48, 36, 0.25),
    (37, 53, 1 / 3),
    (64, 64, 1 / 3),
    (30, 21, 0.37),
    (29, 31, 0.7),
    (16, 12, 2.0),
    (11, 13, 1.5),
    (7, 9, 3.0),
    (5, 3, 2.6),
]
# (h, w, out_h, out_w): non-integer ratios, mixed, tiny, and MATLAB's NaN (None) for one axis
BY_SIZE = [(37, 53, 14, 20), (23, 19, 41, 55), (50, 31, 17, 45), (7, 9, 30, 4), (1, 6, 3, 2), (31, 45, None, 20)]


@pytest.mark.parametrize("channels", [None, 1, 3, 4])
@pytest.mark.parametrize("method", METHODS)
def test_scale_factor(method, channels):
    for h, w, s in BY_SCALE:
        x = noise_u8(rng_for(method, channels, h, w, s), h, w, channels)
        want = matlab_imresize(x, scale=s, method=method)
        got = imresize(x, s, method)
        assert got.dtype == np.uint8 and got.shape == want.shape, (h, w, s)
        np.testing.assert_array_equal(got, want, err_msg=f"{(h, w)} x{s} {method}")


@pytest.mark.parametrize("channels", [None, 3])
@pytest.mark.parametrize("method", METHODS)
def test_output_size(method, channels):
    for h, w, oh, ow in BY_SIZE:
        x = noise_u8(rng_for(method, channels, h, w, oh, ow), h, w, channels)
        np.testing.assert_array_equal(imresize(x, [oh, ow], method), matlab_imresize(x, oh, ow, method=method))


def test_scale_pair_and_keywords():
    x = noise_u8(rng_for("pair"), 37, 53, 3)
    want = matlab_imresize(x, scale=(0.5, 1.7))
    np.testing.assert_array_equal(imresize(x, scale=(0.5, 1.7)), want)
    np.testing.assert_array_equal(imresize(x, output_size=(12, 40)), matlab_imresize(x, 12, 40))
    # no antialiasing: the kernel is not widened when shrinking
    np.testing.assert_array_equal(
        imresize(x, 0.37, antialiasing=False), matlab_imresize(x, scale=0.37, antialiasing=False)
    )


def test_real_image_sizes_that_do_not_divide():
    """Factors whose sizes do not divide (128 -> 43 at x1/3, -> 48 at x0.37) on a smooth textured image."""
    yy, xx = np.mgrid[0:128, 0:128]
    img = 127 + 80 * np.sin(xx / 7.0) * np.cos(yy / 5.0) + rng_for("tex").normal(0, 20, (128, 128))
    img = np.clip(img, 0, 255).astype(np.uint8)
    for s in (1 / 3, 0.37, 0.5, 2.0):
        np.testing.assert_array_equal(imresize(img, s), matlab_imresize(img, scale=s))


def test_float_images_are_not_rounded():
    x = rng_for("float").uniform(0, 1, (23, 31, 3))
    want = matlab_imresize(x, scale=0.37)
    got = imresize(x, 0.37)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert imresize(x.astype(np.float32), 0.37).dtype == np.float32


def test_uint16():
    x = rng_for("u16").integers(0, 65536, (21, 17), dtype=np.uint16)
    np.testing.assert_array_equal(imresize(x, 0.6), matlab_imresize(x, scale=0.6))


def test_dimension_order_matters_on_uint8():
    """MATLAB resizes the axis with the smaller scale first; on uint8 the other order rounds in
    between differently. Each order is built from two one-axis resizes (whose other axis is the
    identity), and the result must be the rows-first one here (14/37 < 80/53)."""
    x = noise_u8(rng_for("order"), 37, 53)
    rows_first = imresize(imresize(x, [14, 53]), [14, 80])
    cols_first = imresize(imresize(x, [37, 80]), [14, 80])
    got = imresize(x, [14, 80])
    np.testing.assert_array_equal(got, rows_first)
    assert (got != cols_first).any()


@pytest.mark.parametrize(
    "in_size, scale, output_size, want",
    [
        ((512, 512), 1 / 3, None, ((171, 171), (1 / 3, 1 / 3))),  # ceil(170.67), the scale itself kept
        ((37, 53), 0.5, None, ((19, 27), (0.5, 0.5))),
        ((50, 100), 1.1, None, ((56, 111), (1.1, 1.1))),  # 50 * 1.1 = 55.00000000000001 in double: ceil -> 56
        ((10, 15), None, (None, 20), ((14, 20), (20 / 15, 20 / 15))),  # ceil(20 * 10 / 15), one scale
        ((10, 15), None, (7, None), ((7, 11), (0.7, 0.7))),
        ((10, 15), None, (7.2, 3), ((8, 3), (0.8, 0.2))),  # sizes are ceil-ed, then out / in
        ((10, 15), (0.5, 2), None, ((5, 30), (0.5, 2))),
        ((10, 15), 0.5, (4, 4), ((4, 4), (0.5, 0.5))),  # both: MATLAB keeps both
    ],
)
def test_size_rule(in_size, scale, output_size, want):
    size, scales = imresize_size(in_size, scale, output_size)
    assert size == want[0]
    np.testing.assert_allclose(scales, want[1], rtol=1e-15)


def test_contributions_by_hand():
    """A 3-pixel upscale by 2: the first output sits at u = 0.75 (1-based); of its 6 taps -2 .. 3
    the outer two have weight 0 in every row and are dropped; -1 0 1 2 mirror to 2 1 1 2 (0-based 1 0 0 1)."""
    t = contributions(3, 6, 2.0)
    assert t.index.shape == (6, 4)
    assert t.index[0].tolist() == [1, 0, 0, 1]
    ax = np.abs(np.array([1.75, 0.75, -0.25, -1.25]))
    keys = np.where(ax <= 1, 1.5 * ax**3 - 2.5 * ax**2 + 1, -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2)
    np.testing.assert_allclose(t.weight[0], keys, atol=1e-15)


def test_bad_arguments():
    x = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match="method"):
        imresize(x, 0.5, "lanczos")
    with pytest.raises(ValueError, match="not both"):
        imresize(x, 0.5, scale=0.5)
    with pytest.raises(ValueError, match="at least"):
        imresize(x, [None, None])
    with pytest.raises(ValueError, match="positive"):
        imresize(x, -0.5)
    with pytest.raises(ValueError, match="scale factor or an output size"):
        imresize(x)
    with pytest.raises(TypeError, match="uint8"):
        imresize(x.astype(np.int32), 0.5)
    with pytest.raises(ValueError, match="two numbers"):
        imresize(x, [1, 2, 3])
