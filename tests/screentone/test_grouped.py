"""Medians by key: the values a sort by key and value puts at each key's middle (the regularity
test's reads per block and phase)."""

import numpy as np
import pytest

from rescale.screentone.grouped import median_by_key


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
