"""The analysis's distance transform: ndimage's Euclidean distances, value for value."""

import numpy as np
import pytest
from scipy import ndimage

from rescale.screentone.distance import distance_to_background


@pytest.mark.parametrize("seed", range(6))
def test_distance_to_background_gives_ndimage_values(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 70, 2)
    blobs = ndimage.binary_dilation(rng.random((h, w)) > 0.99, iterations=int(rng.integers(1, 15)))
    for mask in (blobs, ~blobs, rng.random((h, w)) > 0.2, np.ones((h, w), bool), np.zeros((h, w), bool)):
        np.testing.assert_array_equal(distance_to_background(mask), ndimage.distance_transform_edt(mask))
