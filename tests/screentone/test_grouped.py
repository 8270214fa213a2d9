"""Medians by key: the values a sort by key and value puts at each key's middle (the regularity
test's reads per block and phase)."""

import numpy as np
import pytest

from rescale.screentone.grouped import block_phase_keys, median_by_key


def lexsort_medians(key, values):
    # The code it replaces (analysis._regularity before): sort by key, then value.
    order = np.lexsort((values, key))
    starts = np.flatnonzero(np.r_[True, key[order][1:] != key[order][:-1]])
    counts = np.diff(np.r_[starts, len(order)])
    median = np.empty(len(values))
    median[order] = np.repeat(values[order][starts + counts // 2], counts)
    return median


@pytest.mark.parametrize("n, keys", [(1, 1), (2, 1), (7, 3), (1000, 17), (20000, 900), (5000, 5000)])
def test_median_by_key_is_the_lexsorts(n, keys):
    rng = np.random.default_rng(n + keys)
    key = rng.integers(0, keys, n) * 3  # keys with gaps
    values = rng.random(n).round(2)  # ties
    np.testing.assert_array_equal(median_by_key(key, values), lexsort_medians(key, values))


def test_median_by_key_of_nothing():
    assert median_by_key(np.zeros(0, dtype=np.int64), np.zeros(0)).shape == (0,)


def numpy_keys(img, mask, lattice, bins, block):
    # The code it replaces (analysis._regularity before): numpy, an array per operation.
    ys, xs = np.nonzero(mask)
    values = img[ys, xs]
    phase = np.zeros(len(ys), dtype=np.int64)
    for fy, fx in lattice:
        phase = phase * bins + (np.floor((fy * ys + fx * xs) * bins) % bins).astype(np.int64)
    cell = (ys // block) * (xs.max() // block + 1) + xs // block
    return ys, xs, values, cell, cell * bins ** len(lattice) + phase


@pytest.mark.parametrize("shape", [(1, 1), (5, 300), (130, 70), (257, 190)])
@pytest.mark.parametrize("n_vectors", [1, 2])
def test_block_phase_keys_are_numpys(shape, n_vectors):
    rng = np.random.default_rng(shape[0] * shape[1] + n_vectors)
    img = rng.random(shape)
    mask = rng.random(shape) > 0.3
    mask.flat[0] = True
    period, angle = rng.uniform(2.5, 9), rng.uniform(0, np.pi)
    v = np.array([np.sin(angle), np.cos(angle)]) / period
    lattice = [v, np.array([v[1], -v[0]])][:n_vectors]
    bins = 16 if n_vectors == 1 else 8
    got = block_phase_keys(img, mask, lattice, bins, 64)
    for a, b in zip(got, numpy_keys(img, mask, lattice, bins, 64)):
        np.testing.assert_array_equal(a, b)
