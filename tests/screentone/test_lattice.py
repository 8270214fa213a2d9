"""The lattice reads of a screen: the order statistics of a pixel's near-lattice neighbours, against
numpy's sort of the same reads."""

import numpy as np
import pytest

from rescale.screentone.lattice import directions, lattice_median, wave_vectors


def _reference(img, offsets, ranks, mask=None):
    h, w = img.shape
    if mask is None:
        ys, xs = np.arange(h), np.arange(w)
        reads = np.stack([img[np.clip(ys + dy, 0, h - 1)][:, np.clip(xs + dx, 0, w - 1)] for dy, dx in offsets])
    else:  # reads outside the mask or past the edge take the pixel's own value
        m = int(np.abs(offsets).max())
        padded = np.pad(np.where(mask, img, np.nan), m, constant_values=np.nan)
        reads = np.stack([padded[m + dy : m + dy + h, m + dx : m + dx + w] for dy, dx in offsets])
        reads = np.where(np.isnan(reads), img, reads)
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


@pytest.mark.parametrize("count", [1, 5, 13])
def test_lattice_median_in_a_mask_reads_the_pixel_itself_outside_it(count):
    rng = np.random.default_rng(count)
    img = np.round(rng.random((23, 31)) * 6) / 6
    mask = rng.random(img.shape) < 0.7
    offsets = np.concatenate([directions(wave_vectors("dots", 3.3, 20.0), reach=12), rng.integers(-9, 10, (16, 2))])
    offsets = offsets[:count]
    ranks = (0.25, 0.5, 0.625, 0.75)
    want = _reference(img, offsets, ranks, mask)
    np.testing.assert_array_equal(lattice_median(img, offsets, ranks, mask=mask), want)


@pytest.mark.parametrize("kind, period, angle", [("dots", 9.36, 60.0), ("dots", 2.9, 45.0), ("lines", 7.86, 15.0)])
def test_onto_lattice_moves_shifts_exactly_onto_the_lattice(kind, period, angle):
    from rescale.screentone.lattice import onto_lattice, phase_error

    rng = np.random.default_rng(0)
    vectors = wave_vectors(kind, period, angle)
    dy, dx = rng.integers(-60, 61, (2, 200))
    ey, ex = onto_lattice(vectors, dy, dx)
    # On the lattice (no phase error), by the shortest move: at most half a period along each
    # wave (for lines, along the wave vector only).
    np.testing.assert_allclose(phase_error(vectors, dy + ey, dx + ex), 0.0, atol=1e-9)
    for fy, fx in vectors:
        assert np.all(np.abs(fy * ey + fx * ex) <= 0.5 + 1e-9)
    if kind == "lines":
        (fy, fx) = vectors[0]
        np.testing.assert_allclose(ey * fx - ex * fy, 0.0, atol=1e-12)
