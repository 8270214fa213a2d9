"""The analysis's distance transform: ndimage's Euclidean distances, value for value."""

import numpy as np
import pytest
from scipy import ndimage

from rescale.screentone.distance import distance_to_background, nearest_set_pixel


@pytest.mark.parametrize("seed", range(6))
def test_distance_to_background_gives_ndimage_values(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 70, 2)
    blobs = ndimage.binary_dilation(rng.random((h, w)) > 0.99, iterations=int(rng.integers(1, 15)))
    for mask in (blobs, ~blobs, rng.random((h, w)) > 0.2, np.ones((h, w), bool), np.zeros((h, w), bool)):
        np.testing.assert_array_equal(distance_to_background(mask), ndimage.distance_transform_edt(mask))


@pytest.mark.parametrize("density", [0.002, 0.05, 0.5])
@pytest.mark.parametrize("margin", [1, 16])
def test_nearest_set_pixel_gives_ndimages_pixel_ties_included(density, margin):
    # Sparse masks on a grid put many points at equal distance from two or more set pixels: the
    # crop must pick ndimage's one (on a shifted box, by a reach that grows from ``margin``).
    rng = np.random.default_rng(int(density * 1000) + margin)
    for _ in range(20):
        h, w = rng.integers(1, 90, size=2)
        mask = rng.random((h, w)) < density
        if not mask.any():
            mask[rng.integers(h), rng.integers(w)] = True
        if rng.random() < 0.3:  # set pixels on a lattice: exact ties everywhere
            mask[:] = False
            mask[:: rng.integers(2, 9), :: rng.integers(2, 9)] = True
        _, (ey, ex) = ndimage.distance_transform_edt(~mask, return_indices=True)
        n = int(rng.integers(1, 40))
        y0, x0 = rng.integers(h), rng.integers(w)
        qy = np.clip(y0 + rng.integers(-8, 9, n), 0, h - 1)
        qx = np.clip(x0 + rng.integers(-8, 9, n), 0, w - 1)
        iy, ix = nearest_set_pixel(mask, qy, qx, margin=margin)
        assert np.array_equal(iy, ey[qy, qx]) and np.array_equal(ix, ex[qy, qx])
