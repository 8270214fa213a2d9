"""The lattice reads of a screen: the order statistics of a pixel's near-lattice neighbours, against
numpy's sort of the same reads."""

import numpy as np
import pytest

from rescale.screentone.lattice import directions, lattice_median, wave_vectors


def _reference(img, offsets, ranks):
    h, w = img.shape
    ys, xs = np.arange(h), np.arange(w)
    reads = np.stack([img[np.clip(ys + dy, 0, h - 1)][:, np.clip(xs + dx, 0, w - 1)] for dy, dx in offsets])
    reads.sort(axis=0)
    return reads[[int(round(r * (len(offsets) - 1))) for r in ranks]]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 13, 16])
def test_lattice_median_takes_the_order_statistics_of_the_reads(count):
    rng = np.random.default_rng(count)
    img = np.round(rng.random((23, 31)) * 6) / 6  # ties
    offsets = directions(wave_vectors("dots", 3.3, 20.0), reach=12)
    offsets = np.concatenate([offsets, rng.integers(-9, 10, (16, 2))])[:count]
    ranks = (0.25, 0.5, 0.75, 0.5, 1.0)
    np.testing.assert_array_equal(lattice_median(img, offsets, ranks), _reference(img, offsets, ranks))
    np.testing.assert_array_equal(lattice_median(img, offsets), _reference(img, offsets, [0.5])[0])
