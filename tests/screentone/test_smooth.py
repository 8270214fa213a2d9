"""The screentone steps' Gaussian smoothing: the same bits as scipy.ndimage.gaussian_filter, whose
results the analysis and the retargeting compare with thresholds."""

import numpy as np
import pytest
from scipy import ndimage

from rescale.screentone.smooth import gaussian


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
