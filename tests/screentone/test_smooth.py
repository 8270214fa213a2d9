"""The screentone steps' Gaussian smoothing: the same bits as scipy.ndimage.gaussian_filter, whose
results the analysis and the retargeting compare with thresholds."""

import numpy as np
import pytest
from scipy import ndimage

from rescale.screentone import smooth
from rescale.screentone.smooth import demodulated_power, gaussian


@pytest.mark.parametrize("mode", ["reflect", "constant"])
@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (9, 40), (64, 33)])
@pytest.mark.parametrize("sigma, truncate", [(0.6, 4.0), (1.5, 3.0), (2.0, 4.0), (3.7, 3.0)])
def test_gaussian_gives_ndimage_bits(mode, shape, sigma, truncate):
    img = np.random.default_rng(sum(shape)).random(shape)
    want = ndimage.gaussian_filter(img, sigma, truncate=truncate, mode=mode)
    np.testing.assert_array_equal(gaussian(img, sigma, truncate, mode), want)


def test_gaussian_smooths_each_plane_of_a_stack_and_takes_masks():
    rng = np.random.default_rng(1)
    stack = rng.random((2, 3, 30, 20))
    out = gaussian(stack, 2.5, mode="constant")
    assert out.shape == stack.shape and out.dtype == np.float64
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(out[i, j], ndimage.gaussian_filter(stack[i, j], 2.5, mode="constant"))
    mask = rng.random((30, 20)) > 0.5
    np.testing.assert_array_equal(gaussian(mask, 1.5), ndimage.gaussian_filter(mask.astype(float), 1.5))


def test_gaussian_rejects_other_edge_modes():
    with pytest.raises(ValueError, match="reflect"):
        gaussian(np.zeros((4, 4)), 1.0, mode="nearest")


def planes_power(img, waves, sigma):
    # The screen fit's maps as analysis._screen_fit computed them before demodulated_power: every
    # plane smoothed (ndimage's bits), then reduced with numpy.
    smooth = [
        ndimage.gaussian_filter(plane, sigma, truncate=3.0) for w in waves for plane in (img * w.real, img * w.imag)
    ]
    mean = ndimage.gaussian_filter(img, sigma, truncate=3.0)
    square = ndimage.gaussian_filter(img * img, sigma, truncate=3.0)
    power = np.zeros(img.shape)
    for re, im in zip(smooth[0::2], smooth[1::2]):
        power += 2 * (re**2 + im**2)
    return power, power / np.maximum(square - mean**2, 1e-9)


@pytest.mark.parametrize("shape", [(1, 1), (3, 50), (40, 2), (7, 9), (61, 83), (200, 37)])
@pytest.mark.parametrize("sigma", [1.5, 2.8, 5.6])
@pytest.mark.parametrize("n_waves", [2, 4])
@pytest.mark.parametrize("numpy_waves", [False, True])
def test_demodulated_power_is_the_smoothed_planes_reduced(shape, sigma, n_waves, numpy_waves, monkeypatch):
    if numpy_waves:  # where numpy's complex product is neither form: its waves, read from memory
        monkeypatch.setattr(smooth, "numpy_form", lambda: None)
    rng = np.random.default_rng(sum(shape) + n_waves)
    img = (rng.random(shape) > 0.5) * 0.8 + rng.random(shape) * 0.2
    freqs = rng.random((n_waves, 2)) - 0.5
    rows = np.exp(2j * np.pi * freqs[:, :1] * np.arange(shape[0]))
    cols = np.exp(2j * np.pi * freqs[:, 1:] * np.arange(shape[1]))
    power, share = demodulated_power(img, rows, cols, sigma)
    want_power, want_share = planes_power(img, [np.outer(a, b) for a, b in zip(rows, cols)], sigma)
    np.testing.assert_array_equal(power, want_power)
    np.testing.assert_array_equal(share, want_share)
