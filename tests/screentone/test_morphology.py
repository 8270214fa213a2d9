"""The analysis's binary morphology by the 3x3 cross: ndimage's pixels, one for one."""

import numpy as np
import pytest
from scipy import ndimage

from rescale.screentone.morphology import dilate, erode, grow_within, opening


@pytest.mark.parametrize("iterations", [1, 2, 4])
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (6, 1), (2, 2), (37, 53)])
def test_morphology_gives_ndimage_pixels(shape, iterations):
    rng = np.random.default_rng(sum(shape) + iterations)
    blobs = ndimage.binary_dilation(rng.random(shape) > 0.9, iterations=2)
    for mask in (blobs, rng.random(shape) > 0.3, np.ones(shape, bool)):
        np.testing.assert_array_equal(erode(mask, iterations), ndimage.binary_erosion(mask, iterations=iterations))
        np.testing.assert_array_equal(dilate(mask, iterations), ndimage.binary_dilation(mask, iterations=iterations))
        np.testing.assert_array_equal(opening(mask, iterations), ndimage.binary_opening(mask, iterations=iterations))


def test_morphology_needs_an_iteration():
    with pytest.raises(ValueError, match="at least 1"):
        erode(np.ones((3, 3), bool), 0)


@pytest.mark.parametrize("steps", [1, 3, 16])
def test_grow_within_is_ndimages_masked_dilation(steps):
    rng = np.random.default_rng(steps)
    seed = rng.random((41, 57)) > 0.97
    for mask in (rng.random((41, 57)) > 0.4, ndimage.binary_dilation(rng.random((41, 57)) > 0.9, iterations=2)):
        want = ndimage.binary_dilation(seed, iterations=steps, mask=mask)
        np.testing.assert_array_equal(grow_within(seed, mask, steps), want)
