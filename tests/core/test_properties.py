"""Properties every resampling must have, on generated sizes, scales, filters and edges.

Examples are derandomized and few, so the suite is reproducible and quick; the oracle and Pillow
tests cover the exact values.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import rescale
from rescale.filters import available
from rescale.tables import EDGES

from helpers import CPU_BACKENDS

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)

methods = st.sampled_from(available() + [rescale.filters.bicubic(a=-0.75)])
edges = st.sampled_from(EDGES)
sides = st.integers(1, 40)
scales = st.floats(0.05, 5.0, allow_nan=False)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@SETTINGS
@given(
    method=methods,
    edge=edges,
    antialias=st.booleans(),
    w=sides,
    h=sides,
    sx=scales,
    sy=scales,
    dtype=st.sampled_from(["uint8", "uint16", "float32", "float64", "float16", "bfloat16"]),
    channels=st.sampled_from([None, 1, 3]),
    data=st.data(),
)
def test_constant_stays_constant(backend, method, edge, antialias, w, h, sx, sy, dtype, channels, data):
    if dtype in ("float16", "bfloat16"):  # torch only
        value = data.draw(st.sampled_from([-2.0, 0.0, 0.3125, 1.0, 100.0]), label="value")
        img = torch.full((channels or 1, h, w), value, dtype=getattr(torch, dtype))
        out = rescale.rescale(img, sx, sy, method=method, edge=edge, antialias=antialias, backend=backend)
        assert out.dtype == img.dtype
        assert (out.float() == value).all()  # float32 sums of ~1 rounded back to a representable value
        return
    if dtype in ("uint8", "uint16"):
        value = data.draw(st.integers(0, np.iinfo(dtype).max), label="value")
    else:
        value = data.draw(st.floats(-1e3, 1e3, allow_nan=False), label="value")
    shape = (h, w) if channels is None else (h, w, channels)
    img = np.full(shape, value, dtype=dtype)
    out = rescale.rescale(img, sx, sy, method=method, edge=edge, antialias=antialias, backend=backend)
    assert out.dtype == img.dtype
    if dtype in ("uint8", "uint16"):
        assert (out == value).all(), f"values {np.unique(out)} from constant {value}"
    else:  # rows of weights sum to 1 up to rounding; float32 sums of up to ~200 taps
        rtol = 1e-12 if dtype == "float64" else 2e-5
        np.testing.assert_allclose(out, value, rtol=rtol, atol=rtol)


@SETTINGS
@given(w=sides, h=sides, sx=scales, sy=scales, kind=st.sampled_from(["pil", "numpy", "torch"]))
def test_output_size_follows_the_rule(w, h, sx, sy, kind):
    out_w, out_h = rescale.output_size(w, h, sx, sy)
    # The rule: round(in * s), halves up, at least one pixel.
    for n, s, out in ((w, sx, out_w), (h, sy, out_h)):
        assert isinstance(out, int) and out >= 1
        assert out == 1 or abs(out - n * s) <= 0.5
        assert out == max(1, int(np.floor(n * s + 0.5)))
    arr = np.zeros((h, w), np.uint8)
    img = {"pil": Image.fromarray(arr), "numpy": arr, "torch": torch.zeros(2, 3, h, w)}[kind]
    res = rescale.rescale(img, sx, sy, method="bilinear", backend="torch")
    got = (
        res.size
        if kind == "pil"
        else (res.shape[1], res.shape[0])
        if kind == "numpy"
        else (res.shape[-1], res.shape[-2])
    )
    assert got == (out_w, out_h)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@SETTINGS
@given(
    method=methods,
    edge=edges,
    w=sides,
    h=sides,
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from(["uint8", "uint16", "float32", "float64"]),
    channels=st.sampled_from([None, 1, 2, 3, 4]),
)
def test_scale_one_is_identity(backend, method, edge, w, h, seed, dtype, channels):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    if dtype in ("uint8", "uint16"):
        img = rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
    else:
        img = rng.standard_normal(shape).astype(dtype)
    # 2 and 4 channels are taken as alpha: the identity must also skip the premultiply round trip.
    # (Float images with 2 or 4 channels must say so: docs/conventions.md.)
    kw = {"alpha": True} if channels in (2, 4) else {}
    out = rescale.rescale(img, 1.0, method=method, edge=edge, antialias=True, backend=backend, **kw)
    np.testing.assert_array_equal(out, img)
    same = rescale.rescale(img, size=(w, h), method=method, edge=edge, backend=backend, **kw)
    np.testing.assert_array_equal(same, img)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@SETTINGS
@given(
    method=methods,
    edge=edges,
    antialias=st.booleans(),
    w=sides,
    h=sides,
    sx=scales,
    sy=scales,
    a=st.floats(-3, 3),
    b=st.floats(-3, 3),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_linear_in_the_input(backend, method, edge, antialias, w, h, sx, sy, a, b, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 1, h, w, generator=g, dtype=dtype)
    y = torch.randn(2, 1, h, w, generator=g, dtype=dtype)

    def f(t):
        return rescale.rescale(t, sx, sy, method=method, edge=edge, antialias=antialias, backend=backend)

    tol = 1e-10 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(f(a * x + b * y), a * f(x) + b * f(y), rtol=tol, atol=tol)
