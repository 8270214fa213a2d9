"""``edge="symmetric"`` bicubic against MATLAB's ``imresize``, rebuilt here from its documented code.

MATLAB's ``imresize`` (``contributions`` and ``cubic`` in imresize.m) with 1-based indices::

    if scale < 1 && antialiasing: h = @(x) scale * cubic(scale * x); kernel_width = kernel_width / scale
    u = x / scale + 0.5 * (1 - 1 / scale)          % x = 1:out_length
    left = floor(u - kernel_width / 2); P = ceil(kernel_width) + 2
    indices = left + (0:P-1); weights = h(u - indices); weights = weights ./ sum(weights, 2)
    aux = [1:in_length, in_length:-1:1]; indices = aux(mod(indices - 1, length(aux)) + 1)
    drop the all-zero columns of weights (and indices)

and resizes one dimension at a time, the one with the smaller scale first. Given a scale factor it
makes ``ceil(in * scale)`` pixels and uses the factor itself in ``contributions``; given an output
size it uses ``out / in``. rescale's geometry is ``in / out`` from the rounded size, so the cases with
a scale factor use sizes where ``in * scale`` is an integer, the others give the size.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import rescale

from helpers import CPU_BACKENDS, rng_for


def cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((1 < ax) & (ax <= 2))


def contributions(in_length: int, out_length: int, scale: float, antialiasing: bool = True):
    """MATLAB's weights and (0-based) indices, ``[out_length, P]`` each."""
    kernel_width = 4.0
    if scale < 1 and antialiasing:
        h = lambda x: scale * cubic(scale * x)  # noqa: E731 - as written in imresize.m
        kernel_width = kernel_width / scale
    else:
        h = cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)[:, None]
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    p = math.ceil(kernel_width) + 2
    indices = (left + np.arange(p)).astype(np.int64)
    weights = h(u - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(1, in_length + 1), np.arange(in_length, 0, -1)])
    indices = aux[np.mod(indices - 1, aux.size)]
    keep = weights.any(axis=0)
    return weights[:, keep], indices[:, keep] - 1


def resize_along_dim(a: np.ndarray, dim: int, weights: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """``out[..., o, ...] = sum_k weights[o, k] * a[..., indices[o, k], ...]`` along ``dim``."""
    moved = np.moveaxis(a, dim, -1)
    return np.moveaxis((moved[..., indices] * weights).sum(-1), -1, dim)


def imresize(a: np.ndarray, scale: float | None = None, output_size: tuple[int, int] | None = None) -> np.ndarray:
    """MATLAB ``imresize(A, scale)`` or ``imresize(A, [rows cols])``, bicubic, antialiased; ``a`` is
    HxW or HxWxC float64."""
    if output_size is None:
        scales = (scale, scale)
        output_size = tuple(math.ceil(n * scale) for n in a.shape[:2])
    else:
        scales = tuple(o / n for o, n in zip(output_size, a.shape[:2]))
    order = np.argsort(scales, kind="stable")  # dimension with the smaller scale first
    for dim in order:
        w, i = contributions(a.shape[dim], output_size[dim], scales[dim])
        a = resize_along_dim(a, dim, w, i)
    return a


def test_contributions_by_hand():
    """A 3-pixel upscale by 2, worked out by hand. The first output sits at u = 0.75 (1-based);
    of its P = 6 taps -2 .. 3 the first and last have weight 0 in every row (upscaling), so they
    are dropped; the rest, -1 0 1 2, mirror to 2 1 1 2 (0-based 1 0 0 1)."""
    w, i = contributions(3, 6, 2.0)
    assert w.shape == i.shape == (6, 4)
    assert i[0].tolist() == [1, 0, 0, 1]
    np.testing.assert_allclose(w[0], cubic(np.array([1.75, 0.75, -0.25, -1.25])), atol=1e-15)
    np.testing.assert_allclose(w.sum(1), 1, atol=1e-15)


# (in_h, in_w, scale) with in * scale an integer, so ceil(in * scale) == round(in * scale) and
# rescale's in/out is MATLAB's 1/scale.
BY_SCALE = [(40, 60, 0.5), (48, 36, 0.25), (30, 21, 1 / 3), (16, 12, 2.0), (10, 14, 3.0), (40, 20, 0.75), (20, 30, 1.5)]
# (in_h, in_w, out_h, out_w): non-integer ratios, down, up and mixed (MATLAB takes out/in per dim).
BY_SIZE = [(37, 53, 14, 20), (23, 19, 41, 55), (50, 31, 17, 45), (7, 9, 30, 4), (64, 64, 27, 27)]


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("in_h,in_w,scale", BY_SCALE)
def test_imresize_scale(in_h, in_w, scale, dtype, backend):
    a = rng_for(in_h, in_w, scale).uniform(0, 1, (in_h, in_w, 3)).astype(dtype)
    expected = imresize(a.astype(np.float64), scale=scale)
    got = rescale.rescale(a, scale, method="bicubic", edge="symmetric", backend=backend, alpha=False)
    assert got.shape == expected.shape and got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("in_h,in_w,out_h,out_w", BY_SIZE)
def test_imresize_size(in_h, in_w, out_h, out_w, dtype, backend):
    a = rng_for(in_h, in_w, out_h, out_w).uniform(0, 1, (in_h, in_w)).astype(dtype)
    expected = imresize(a.astype(np.float64), output_size=(out_h, out_w))
    got = rescale.rescale(a, size=(out_w, out_h), method="bicubic", edge="symmetric", backend=backend)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_imresize_tensor_batch(backend):
    """The same through the tensor API, as SR data pipelines call it (x4 down, NCHW)."""
    x = rng_for("batch").uniform(0, 1, (2, 3, 48, 32))
    expected = (
        imresize(x.transpose(2, 3, 0, 1).reshape(48, 32, 6), scale=0.25).reshape(12, 8, 2, 3).transpose(2, 3, 0, 1)
    )
    got = rescale.rescale(torch.from_numpy(x), 0.25, method="bicubic", edge="symmetric", backend=backend)
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-6)


def test_dimension_order_does_not_matter_in_float():
    """MATLAB's smaller-scale-first order changes float64 results only by rounding, which is why
    rescale's (Pillow's) pass order may differ."""
    a = rng_for("order").uniform(0, 1, (37, 53))
    w0, i0 = contributions(37, 14, 14 / 37)
    w1, i1 = contributions(53, 80, 80 / 53)
    rows_first = resize_along_dim(resize_along_dim(a, 0, w0, i0), 1, w1, i1)
    cols_first = resize_along_dim(resize_along_dim(a, 1, w1, i1), 0, w0, i0)
    np.testing.assert_allclose(rows_first, cols_first, rtol=0, atol=1e-13)
