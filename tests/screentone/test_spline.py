"""Cubic B-spline reads: ndimage.map_coordinates' values, to the bit."""

import numpy as np
import pytest
from scipy import ndimage

from rescale.screentone.spline import cubic_read


def _reference(coeffs, ay, ax):
    """What the synthesis read before: ndimage per channel."""
    at = np.stack([ay, ax])
    return np.stack([ndimage.map_coordinates(c, at, order=3, mode="nearest", prefilter=False) for c in coeffs])


@pytest.mark.parametrize("seed", range(6))
def test_cubic_read_is_map_coordinates_to_the_bit_inside_and_outside_the_array(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 40, 2)
    coeffs = np.stack([ndimage.spline_filter(rng.random((h, w)), 3, mode="nearest") for _ in range(1 + seed % 3)])
    n = 500
    # Points anywhere within 9 px of the array (the copies' moves onto the lattice reach past the
    # coefficients' crop near the window's edge), on the knots, and a hair off them.
    ay, ax = rng.uniform(-9, h + 8, n), rng.uniform(-9, w + 8, n)
    ay[:50], ax[25:75] = np.round(ay[:50]), np.round(ax[25:75])
    ay[75:100] = rng.integers(0, h, 25) + rng.choice([-1e-13, 1e-13], 25)
    np.testing.assert_array_equal(cubic_read(coeffs, ay, ax), _reference(coeffs, ay, ax))


def test_cubic_read_takes_one_offset_for_all_points_as_the_synthesis_gives_it():
    # A copy's pixels share one shift, moved onto the lattice once: a one-element offset.
    rng = np.random.default_rng(9)
    coeffs = ndimage.spline_filter(rng.random((30, 20)), 3, mode="nearest")[None]
    qy, qx = rng.integers(0, 30, 100), rng.integers(0, 20, 100)
    ey, ex = np.array([0.37]), np.array([-0.21])
    np.testing.assert_array_equal(cubic_read(coeffs, qy + ey, qx + ex), _reference(coeffs, qy + 0.37, qx - 0.21))
