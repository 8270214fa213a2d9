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


def _tiles_feat(kinds, vectors, orth):
    """Tile features for :func:`hypotheses`: each tile's two wave vectors (``vectors`` ``[Ty, Tx,
    2]`` and that turned by 90 degrees), as its strongest peaks (``orth`` > 0.5) or as its pair."""
    turned = np.stack([vectors[..., 1], -vectors[..., 0]], -1)
    return {
        "v1": vectors,
        "v2": turned,
        "pv1": vectors,
        "pv2": turned,
        "orth": np.full(kinds.shape, orth),
        "prom": np.ones(kinds.shape),
    }


@pytest.mark.parametrize("apart, change, together", [(3, 0.01, True), (3, 0.03, False), (4, 0.0, False)])
def test_tiles_of_one_lattice_link_across_strokes(apart, change, together):
    # Dense strokes across a screen hide it from the tiles between (their peaks outweigh the
    # screen's): the screen's tiles on either side, up to 3 tiles apart, are one hypothesis where
    # their lattices agree to 2% (tiles side by side only linked before, and these were two
    # groups of one tile, both dropped).
    from rescale.screentone.tiles import DOTS, hypotheses

    kinds = np.zeros((2, 6), dtype=int)
    kinds[0, 0] = kinds[1, apart] = DOTS
    vectors = np.zeros((2, 6, 2))
    vectors[0, 0] = [0.25, 0.25]
    vectors[1, apart] = np.array([0.25, 0.25]) * (1 + change)
    groups = hypotheses(kinds, _tiles_feat(kinds, vectors, orth=0.0))
    assert len(groups) == (1 if together else 2)
    assert all(kind == DOTS for kind, _ in groups)


def test_noise_tiles_do_not_link_across_a_gap():
    from rescale.screentone.tiles import NOISE, hypotheses

    kinds = np.zeros((1, 6), dtype=int)
    kinds[0, 0] = kinds[0, 2] = NOISE
    groups = hypotheses(kinds, _tiles_feat(kinds, np.zeros((1, 6, 2)), orth=1.0))
    assert len(groups) == 2


@pytest.mark.parametrize("shape, workers", [((100, 3000), 2), ((57, 2000), 3), ((9, 2000), 4), ((40, 1000), 40)])
def test_transition_density_in_bands_is_the_whole_pages(shape, workers):
    # Bands shorter than the mean's Gaussian (8 px) and one row per band included: the band's
    # mean must read the rows around it as the whole page's does, and its last row the next one.
    # Bright specks make the Gaussian's farthest taps move the mean by up to 0.006: with a row
    # too few on either side, a few of these pages' changes were counted differently (measured).
    rng = np.random.default_rng(shape[0])
    img = rng.random(shape)
    img[rng.random(shape) < 0.02] = 300.0
    np.testing.assert_array_equal(transition_density(img, workers=workers), transition_density(img, workers=1))
    assert transition_density(np.zeros((0, shape[1])), workers=workers).shape == (0, shape[1])


def test_band_power_is_numpys():
    from rescale.screentone.tiles import _band_power

    rng = np.random.default_rng(5)
    h = (rng.normal(size=(9, 64, 33)) + 1j * rng.normal(size=(9, 64, 33))).astype(np.complex64) * 30
    band = (rng.random((64, 33)) > 0.2).astype(np.float32)
    want = h.real**2 + h.imag**2
    want *= band
    got = _band_power(h, band)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
