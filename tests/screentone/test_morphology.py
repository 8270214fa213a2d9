"""The analysis's binary morphology by the 3x3 cross: ndimage's pixels, one for one."""

import numpy as np
import pytest
from scipy import ndimage

from rescale.screentone.morphology import dilate, erode, grow_within, opening, thin


@pytest.mark.parametrize("iterations", [1, 2, 4])
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (6, 1), (2, 2), (37, 53)])
def test_morphology_gives_ndimage_pixels(shape, iterations):
    rng = np.random.default_rng(sum(shape) + iterations)
    blobs = ndimage.binary_dilation(rng.random(shape) > 0.9, iterations=2)
    for mask in (blobs, rng.random(shape) > 0.3, np.ones(shape, bool)):
        np.testing.assert_array_equal(erode(mask, iterations), ndimage.binary_erosion(mask, iterations=iterations))
        np.testing.assert_array_equal(dilate(mask, iterations), ndimage.binary_dilation(mask, iterations=iterations))
        np.testing.assert_array_equal(opening(mask, iterations), ndimage.binary_opening(mask, iterations=iterations))


def test_morphology_needs_an_iteration():
    with pytest.raises(ValueError, match="at least 1"):
        erode(np.ones((3, 3), bool), 0)


@pytest.mark.parametrize("steps", [1, 3, 16])
def test_grow_within_is_ndimages_masked_dilation(steps):
    rng = np.random.default_rng(steps)
    seed = rng.random((41, 57)) > 0.97
    for mask in (rng.random((41, 57)) > 0.4, ndimage.binary_dilation(rng.random((41, 57)) > 0.9, iterations=2)):
        want = ndimage.binary_dilation(seed, iterations=steps, mask=mask)
        np.testing.assert_array_equal(grow_within(seed, mask, steps), want)


@pytest.mark.parametrize("seed", range(6))
def test_thin_is_ndimages_square_opening_on_the_page(seed):
    # The old path: the region's flagged pixels on a page-sized mask, opened by a 3x3 square.
    rng = np.random.default_rng(seed)
    region = np.zeros((80, 90), bool)
    y0, x0 = rng.integers(0, 40, 2) * (seed % 2)  # odd seeds: the region touches the page's corner
    region[y0 : y0 + rng.integers(12, 40), x0 : x0 + rng.integers(12, 50)] = True
    blobs = ndimage.binary_dilation(
        rng.random(region.shape) < 0.02, np.ones((3, 3)), iterations=int(rng.integers(1, 3))
    )
    page = (blobs | (rng.random(region.shape) < 0.2)) & region
    ys, xs = np.nonzero(region)
    order = rng.permutation(len(ys))
    ys, xs = ys[order], xs[order]
    expected = (page & ~ndimage.binary_opening(page, np.ones((3, 3))))[ys, xs]
    assert expected.any() and (page[ys, xs] & ~expected).any()  # thin and thick parts both
    np.testing.assert_array_equal(thin(ys, xs, page[ys, xs]), expected)
    assert thin(ys[:0], xs[:0], expected[:0]).shape == (0,)


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (2, 5), (3, 3), (4, 1), (5, 7)])
def test_thin_on_small_boxes_is_ndimages(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        page = np.zeros((shape[0] + 4, shape[1] + 4), bool)
        page[2:-2, 2:-2] = rng.random(shape) < 0.8
        ys, xs = np.nonzero(np.pad(np.ones(shape, bool), 2))
        expected = (page & ~ndimage.binary_opening(page, np.ones((3, 3))))[ys, xs]
        np.testing.assert_array_equal(thin(ys, xs, page[ys, xs]), expected)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (7, 1), (40, 55)])
@pytest.mark.parametrize("max_label", [None, 3, 12])
def test_boxes_are_ndimage_find_objects(shape, max_label):
    from rescale.screentone.morphology import boxes

    rng = np.random.default_rng(sum(shape))
    labels = np.where(rng.random(shape) > 0.7, rng.integers(1, 10, shape), 0)  # labels missing too
    labels[0, 0] = 0
    for lab in (labels, labels.astype(np.int32), np.zeros(shape, np.int64), labels[:, ::-1]):
        assert boxes(lab, max_label) == ndimage.find_objects(lab, max_label=max_label or 0)
