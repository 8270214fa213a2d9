"""The tile features' sums: numpy's bits (pairwise summation), without its copies."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from rescale.screentone.tiles import _box3, _pairwise_program, _pairwise_sum, tile_features, transition_density


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


@pytest.mark.parametrize("maximum", [False, True])
def test_box3_is_numpys_on_the_half_plane(maximum):
    half = np.random.default_rng(1).random((3, 16, 9)).astype(np.float32)
    combine = np.maximum if maximum else np.add
    mirror = (-np.arange(16)) % 16  # columns -1 and n/2 + 1 mirror columns 1 and n/2 - 1; rows wrap
    q = np.concatenate([half[:, mirror, 1:2], half, half[:, mirror, 7:8]], 2)
    q = combine(combine(q[:, :, :-2], q[:, :, 1:-1]), q[:, :, 2:])
    q = np.concatenate([q[:, -1:], q, q[:, :1]], 1)
    np.testing.assert_array_equal(_box3(half, maximum), combine(combine(q[:, :-2], q[:, 1:-1]), q[:, 2:]))


@pytest.mark.parametrize("period, angle", [(2.9, 45.0), (4.1, 30.0), (5.5, 10.0), (3.3, 60.0)])
def test_tile_wave_vector_is_the_peak_between_bins(period, angle):
    # A plane wave whose frequency falls between the spectrum's bins: read to 0.1% (the centre of
    # the peak); a power-weighted mean of the 3x3 bins around it was pulled towards the centre bin,
    # 1.1-2.5% off here, more than tiles under strokes may disagree by to be linked (2%).
    yy, xx = np.mgrid[:96, :96]
    a = np.deg2rad(angle)
    img = 0.5 + 0.3 * np.cos(2 * np.pi / period * (np.sin(a) * yy + np.cos(a) * xx) + 0.3)
    feat = tile_features(img, transition_density(img), 32, 16, 12.8)
    size = np.hypot(feat["v1"][..., 0], feat["v1"][..., 1])
    assert np.abs(size * period - 1).max() < 0.001
    turn = np.degrees(np.arctan2(feat["v1"][..., 0], feat["v1"][..., 1])) % 180
    assert np.abs(turn - angle).max() < 0.1
