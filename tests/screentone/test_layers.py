"""A scan's layers over its screens in one pass: the numpy expressions retarget computed before,
value for value (one channel and three)."""

import numpy as np
import pytest

from rescale.screentone.layers import scan_layers


def numpy_layers(page, alone, spread, inside, faint):
    # retarget's code before scan_layers.
    inside, faint = inside[None], np.broadcast_to(faint, page.shape)
    light = np.where(inside, alone[None], 1.0)
    sure = np.where(inside, np.maximum(light - page - np.maximum(spread, 0.04), 0.0), 0.0)
    taken = np.where(faint, np.maximum(light - page, 0.0), 0.0)
    clean = np.where(faint, alone[None], page)
    return light, sure.mean(0), taken, clean


@pytest.mark.parametrize("channels", [1, 3])
def test_scan_layers_are_numpys(channels):
    rng = np.random.default_rng(channels)
    shape = (57, 83)
    page = rng.random((channels, *shape))
    alone = np.clip(page.mean(0) + rng.normal(0, 0.2, shape), 0, 1)
    spread = rng.random(shape) * 0.1
    inside, faint = rng.random(shape) > 0.3, rng.random(shape) > 0.7
    got = scan_layers(page, alone, spread, inside, faint)
    want = numpy_layers(page, alone, spread, inside, faint)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    assert (got[1] > 0.15).any() and got[2].any()  # strokes surely there, and faint ones taken
