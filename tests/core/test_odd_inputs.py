"""Inputs a fault-injection run found mishandled by the API (issue 16, item 9): a truthy string
for ``antialias``, and numpy views flipped along a length-1 axis."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import rescale


@pytest.mark.parametrize("value", ["no", "False", 0, 1.0, None])
def test_antialias_takes_bools_only(value):
    with pytest.raises(TypeError, match="antialias must be True or False"):
        rescale.rescale(np.zeros((4, 4, 3), np.uint8), 0.5, antialias=value)


def test_antialias_takes_numpy_bools_as_bools():
    img = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    for flag in (True, False):
        want = rescale.rescale(img, 0.5, antialias=flag)
        np.testing.assert_array_equal(rescale.rescale(img, 0.5, antialias=np.bool_(flag)), want)


@pytest.mark.parametrize(
    "view",
    [
        lambda a: a[::-1],  # flipped along the length-1 height
        lambda a: a.transpose(1, 0, 2)[:, ::-1].transpose(1, 0, 2),  # width 7, flipped along width
        lambda a: a[:, :, ::-1],  # RGB -> BGR
    ],
)
def test_flipped_views_along_length_one_axes(view):
    base = np.random.default_rng(0).integers(0, 256, (1, 7, 3), dtype=np.uint8)
    flipped = view(base)
    expected = np.asarray(Image.fromarray(np.ascontiguousarray(flipped)).resize((14, 2), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(rescale.rescale(flipped, size=(14, 2)), expected)
    tall = np.random.default_rng(1).integers(0, 256, (5, 1, 3), dtype=np.uint8)[:, ::-1]
    assert rescale.rescale(tall, 2).shape == (10, 2, 3)
