"""float64 results against a dense weight-matrix oracle written here from the definitions.

The oracle does not use ``rescale.tables``: for each axis it evaluates the filter formula at every
input pixel, arranges the weights as a dense ``[out, in]`` matrix and resizes with
``W_h @ X @ W_w^T``. Definitions (those documented in ``rescale.tables`` and the issue):

* input pixel ``j`` covers ``[j, j + 1)``; output pixel ``o`` is centred at ``c = (o + 0.5) * in / out``;
* with ``antialias`` the filter is stretched by ``fs = max(in / out, 1)``, else ``fs = 1``; the weight of
  input position ``j`` (any integer, also past the border) is ``f((j + 0.5 - c) / fs)``;
* taps past the border: ``renormalize`` drops them and divides by the sum of the rest (Pillow);
  ``symmetric`` mirrors them with a half-sample reflection, ``... 1 0 | 0 1 ... n-1 | n-1 n-2 ...``
  (MATLAB); ``clamp`` moves them to the nearest border pixel (OpenCV's replicate); in the last two the
  row is divided by the sum of all its weights;
* an axis whose size does not change is not resampled.

Nearest has no kernel but Pillow's index rule, so it is checked against Pillow instead.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

import rescale
from rescale.filters import available

from helpers import CPU_BACKENDS, rng_for

# --- filter formulas (support, f) --------------------------------------------------------------


def _box(x):
    return ((x > -0.5) & (x <= 0.5)).astype(np.float64)  # Pillow's half-open box


def _triangle(x):
    return np.maximum(0.0, 1.0 - np.abs(x))


def _hamming(x):
    # Pillow writes the window constants as C floats (0.54f, 0.46f), so they are float32 values
    # and sum to 1 + 3e-8; it returns exactly 1 at x == 0.
    ax = np.abs(x)
    win = float(np.float32(0.54)) + float(np.float32(0.46)) * np.cos(np.pi * ax)
    return np.where(ax == 0, 1.0, np.where(ax < 1, np.sinc(ax) * win, 0.0))


def _keys(a):
    def f(x):
        ax = np.abs(x)
        near = (a + 2) * ax**3 - (a + 3) * ax**2 + 1
        far = a * ax**3 - 5 * a * ax**2 + 8 * a * ax - 4 * a
        return np.where(ax < 1, near, np.where(ax < 2, far, 0.0))

    return f


def _lanczos(a):
    return lambda x: np.where(np.abs(x) < a, np.sinc(x) * np.sinc(x / a), 0.0)


def _mitchell(b=1 / 3, c=1 / 3):
    def f(x):
        ax = np.abs(x)
        near = (12 - 9 * b - 6 * c) * ax**3 + (-18 + 12 * b + 6 * c) * ax**2 + (6 - 2 * b)
        far = (-b - 6 * c) * ax**3 + (6 * b + 30 * c) * ax**2 + (-12 * b - 48 * c) * ax + (8 * b + 24 * c)
        return np.where(ax < 1, near, np.where(ax < 2, far, 0.0)) / 6

    return f


def _gaussian(sigma=0.5, support=2.0):
    return lambda x: np.where(np.abs(x) < support, np.exp(-(x**2) / (2 * sigma**2)), 0.0)


def _mks2013(x):
    # Magic Kernel Sharp 2013 (Costella, johncostella.com/magic), expanded polynomials.
    ax = np.abs(x)
    return np.select(
        [ax < 0.5, ax < 1.5, ax < 2.5],
        [17 / 16 - 7 / 4 * ax**2, ax**2 - 11 / 4 * ax + 7 / 4, -((ax - 2.5) ** 2) / 8],
        0.0,
    )


def _mks2021(x):
    ax = np.abs(x)
    pieces = [
        577 / 576 - 239 / 144 * ax**2,
        (140 * ax**2 - 379 * ax + 239) / 144,
        -(24 * ax**2 - 113 * ax + 130) / 144,
        (4 * ax**2 - 27 * ax + 45) / 144,
        -((2 * ax - 9) ** 2) / 1152,
    ]
    return np.select([ax < 0.5, ax < 1.5, ax < 2.5, ax < 3.5, ax < 4.5], pieces, 0.0)


# Every registered method except nearest must appear here (a new filter needs its oracle).
ORACLE = {
    "box": (0.5, _box),
    "area": (0.5, _box),
    "bilinear": (1.0, _triangle),
    "hamming": (1.0, _hamming),
    "bicubic": (2.0, _keys(-0.5)),
    "lanczos": (3.0, _lanczos(3)),
    "lanczos2": (2.0, _lanczos(2)),
    "lanczos3": (3.0, _lanczos(3)),
    "mitchell": (2.0, _mitchell()),
    "gaussian": (2.0, _gaussian()),
    "mks2013": (2.5, _mks2013),
    "mks2021": (4.5, _mks2021),
}
# Methods as passed to rescale: the registered names, plus a parametrised filter.
CASES = [pytest.param(name, ORACLE.get(name), id=name) for name in available() if name != "nearest"]
CASES.append(pytest.param(rescale.filters.bicubic(a=-0.75), (2.0, _keys(-0.75)), id="bicubic(a=-0.75)"))


def weight_matrix(n_in: int, n_out: int, support: float, f, antialias: bool, edge: str) -> np.ndarray:
    """Dense ``[n_out, n_in]`` resampling matrix of one axis."""
    if n_in == n_out:
        return np.eye(n_in)
    scale = n_in / n_out
    fs = max(scale, 1.0) if antialias else 1.0
    reach = math.ceil(support * fs) + 2
    j = np.arange(-reach, n_in + reach)  # every input position that can be within reach
    centre = (np.arange(n_out) + 0.5) * scale
    w = f((j[None, :] - centre[:, None] + 0.5) * (1.0 / fs))
    if edge == "renormalize":
        inside = (j >= 0) & (j < n_in)
        w, j = w[:, inside], j[inside]
    elif edge == "symmetric":
        period = np.mod(j, 2 * n_in)
        j = np.where(period < n_in, period, 2 * n_in - 1 - period)
    elif edge == "clamp":
        j = np.clip(j, 0, n_in - 1)
    else:
        raise AssertionError(edge)
    w = w / w.sum(axis=1, keepdims=True)
    dense = np.zeros((n_out, n_in))
    np.add.at(dense, (slice(None), j), w)  # folded taps add up on the same pixel
    return dense


def oracle(x: np.ndarray, out_w: int, out_h: int, support: float, f, antialias: bool, edge: str) -> np.ndarray:
    """``x``: ``[..., H, W]`` float64 -> ``[..., out_h, out_w]``."""
    wh = weight_matrix(x.shape[-2], out_h, support, f, antialias, edge)
    ww = weight_matrix(x.shape[-1], out_w, support, f, antialias, edge)
    return wh @ x @ ww.T


# (in_w, in_h, out_w, out_h): down, integer down, up, asymmetric both ways, tiny (reflections
# past twice the image), down to one pixel, one axis unchanged.
GEOMETRIES = [
    (23, 19, 9, 7),
    (24, 16, 6, 4),
    (7, 5, 17, 13),
    (31, 13, 12, 30),
    (9, 40, 25, 11),
    (2, 1, 7, 3),
    (5, 3, 1, 1),
    (16, 11, 16, 5),
]


def test_oracle_knows_every_method():
    missing = [name for name in available() if name != "nearest" and name not in ORACLE]
    assert not missing, f"add oracle formulas for {missing}"


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: "{}x{}-{}x{}".format(*g))
@pytest.mark.parametrize("antialias", [True, False], ids=["aa", "noaa"])
@pytest.mark.parametrize("edge", ["renormalize", "symmetric", "clamp"])
@pytest.mark.parametrize("method,formula", CASES)
def test_matches_oracle(method, formula, edge, antialias, geometry, backend):
    in_w, in_h, out_w, out_h = geometry
    x = rng_for(in_w, in_h).standard_normal((2, 3, in_h, in_w))
    got = rescale.rescale(
        torch.from_numpy(x), size=(out_w, out_h), method=method, antialias=antialias, edge=edge, backend=backend
    )
    assert got.dtype == torch.float64
    expected = oracle(x, out_w, out_h, *formula, antialias, edge)
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("sx,sy", [(0.37, 0.37), (1.7, 0.5), (0.25, 3.3)])
def test_matches_oracle_by_scale(sx, sy, backend):
    """Through the scale arguments: the oracle's geometry uses in/out of the rounded sizes."""
    x = rng_for("scale", sx, sy).standard_normal((1, 1, 29, 34))
    got = rescale.rescale(torch.from_numpy(x), sx, sy, method="lanczos", edge="symmetric", backend=backend)
    out_w, out_h = rescale.output_size(34, 29, sx, sy)
    np.testing.assert_allclose(
        got.numpy(), oracle(x, out_w, out_h, *ORACLE["lanczos"], True, "symmetric"), rtol=0, atol=1e-9
    )


# --- nearest: Pillow's index rule, checked against Pillow's F images (float32 values are exact
# in float64, so equality is exact) ---------------------------------------------------------------


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("size", [(9, 7), (17, 13), (7, 40), (1, 1), (100, 3), (61, 47)])
@pytest.mark.parametrize("in_size", [(23, 19), (3, 2), (61, 47)])
def test_nearest_matches_pillow(in_size, size, backend):
    x = rng_for("nearest", in_size).standard_normal(in_size[::-1]).astype(np.float32)
    expected = np.asarray(Image.fromarray(x).resize(size, Image.Resampling.NEAREST)).astype(np.float64)
    for edge in ("renormalize", "symmetric", "clamp"):
        for antialias in (True, False):
            got = rescale.rescale(
                x.astype(np.float64), size=size, method="nearest", edge=edge, antialias=antialias, backend=backend
            )
            np.testing.assert_array_equal(got, expected, err_msg=f"edge={edge} antialias={antialias}")
