"""The tile features' sums: numpy's bits (pairwise summation), without its copies."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from rescale.screentone.tiles import _pairwise_program, _pairwise_sum, tile_features, transition_density


@pytest.mark.parametrize("n", [1, 7, 8, 9, 127, 128, 129, 300, 1024, 2501])
def test_pairwise_sum_is_numpys(n):
    a = np.random.default_rng(n).random(n) * 1e3
    program = _pairwise_program(n)
    assert _pairwise_sum(a, program, False) == np.sum(a)
    assert _pairwise_sum(a, program, True) == np.sum(a * a)


def test_tile_means_are_numpys_means_of_each_tile():
    img = np.random.default_rng(0).random((100, 120))
    dens = transition_density(img)
    feat = tile_features(img, dens, 32, 16, 12.8)
    tiles = sliding_window_view(img, (32, 32))[::16, ::16]
    mean = tiles.reshape(-1, 32, 32).mean(axis=(1, 2))
    np.testing.assert_array_equal(feat["var"].ravel(), (tiles.reshape(-1, 32, 32) ** 2).mean(axis=(1, 2)) - mean**2)
    np.testing.assert_array_equal(feat["dens"], sliding_window_view(dens, (32, 32))[::16, ::16].mean(axis=(2, 3)))
