"""The Triton kernels against the torch reference (``kernels/reference.py``).

Without a GPU they run in Triton's interpreter (``TRITON_INTERPRET=1``, set by ``conftest.py``);
with one, compiled on CUDA. uint8 must be bit-exact (Pillow's fixed point), float32 within 1e-5,
float16/bfloat16 within a rounding or two of their own precision. The backward pass (the same
kernel with the transposed table) is checked with ``gradcheck`` in float64 and against the
reference's autograd in float32.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import rescale
from rescale.filters import available, bicubic, get_filter
from rescale.kernels import reference
from rescale.resample import resample
from rescale.tables import axis_table

from helpers import noise_u8, rng_for

pytest.importorskip("triton")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
if DEVICE == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("no GPU, and TRITON_INTERPRET=1 was not set before triton was imported", allow_module_level=True)

from rescale.kernels.triton_resample import resample_axis  # noqa: E402 - after the interpreter check

TOLERANCE = {  # (rtol, atol); values are in [0, 1] before resampling
    torch.float64: (0, 1e-12),
    torch.float32: (0, 1e-5),
    torch.float16: (1e-3, 1e-3),  # the float32 sums may round to the neighbouring float16
    torch.bfloat16: (8e-3, 8e-3),
}

# (N, C, H, W) -> (out_h, out_w): rows and columns of one pixel, odd sizes, up, down and both at
# once, a single pixel blown up, one axis unchanged (its pass is skipped).
SHAPES = [
    ((1, 1, 1, 37), (1, 12)),
    ((1, 1, 29, 1), (64, 1)),
    ((2, 3, 17, 23), (9, 40)),
    ((1, 3, 64, 48), (23, 31)),
    ((1, 2, 5, 7), (13, 2)),
    ((1, 1, 1, 1), (3, 5)),
    ((3, 1, 31, 10), (31, 4)),
]


def make(shape, dtype, channels_last=False, *key) -> torch.Tensor:
    """A test image of ``shape`` (NCHW) on DEVICE: full-range uint8 noise with flat 0/255 regions,
    or floats in [0, 1)."""
    n, c, h, w = shape
    rng = rng_for(shape, str(dtype), *key)
    if dtype == torch.uint8:
        x = torch.from_numpy(np.stack([noise_u8(rng, h, w, c) for _ in range(n)])).permute(0, 3, 1, 2)
    else:
        x = torch.from_numpy(rng.random(shape)).to(dtype)
    x = x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    return x.to(DEVICE)


def assert_matches(out: torch.Tensor, ref: torch.Tensor) -> None:
    assert out.dtype == ref.dtype and out.shape == ref.shape and out.device == ref.device
    if out.dtype == torch.uint8:
        assert torch.equal(out, ref), f"{(out.int() - ref.int()).abs().max().item()} levels off"
    else:
        rtol, atol = TOLERANCE[out.dtype]
        torch.testing.assert_close(out, ref, rtol=rtol, atol=atol)


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("shape,size", SHAPES, ids=[f"{s[2]}x{s[3]}to{o[0]}x{o[1]}" for s, o in SHAPES])
def test_shapes_dtypes_layouts(shape, size, dtype, channels_last):
    x = make(shape, dtype, channels_last)
    out = resample(x, *size, bicubic(), backend="triton")
    assert_matches(out, resample(x, *size, bicubic(), backend="torch"))
    if size != shape[2:]:  # the identity returns x itself, in whatever layout
        assert out.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


@pytest.mark.parametrize("edge", ["renormalize", "symmetric", "clamp"])
@pytest.mark.parametrize("method", available() + ["bicubic_opencv"])
def test_filters_edges(method, edge):
    filt = bicubic(-0.75) if method == "bicubic_opencv" else get_filter(method)
    for dtype, antialias in ((torch.uint8, True), (torch.uint8, False), (torch.float64, True)):
        x = make((1, 2, 19, 26), dtype, False, method, edge)
        for size in ((7, 41), (30, 9)):  # down one axis, up the other; both orders of passes
            args = (*size, filt)
            kw = dict(antialias=antialias, edge=edge)
            assert_matches(resample(x, *args, **kw, backend="triton"), resample(x, *args, **kw, backend="torch"))


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32], ids=str)
def test_small_tiles(dtype, channels_last):
    """Many programs, with partial tiles along every axis (the automatic choice often covers a
    small image with one program)."""
    x = make((2, 3, 9, 10), dtype, channels_last)
    for dim in (2, 3):
        table = axis_table(x.shape[dim], 4, get_filter("bilinear"))
        for config in ((2, 4, 2, 1), (4, 2, 8, 1)):
            assert_matches(resample_axis(x, table, dim, config=config), reference.resample_axis(x, table, dim))


def test_256x256_image():
    """The size the issue names: a 256x256 RGB image to 128x128 and to 320x320."""
    x = make((1, 3, 256, 256), torch.uint8, True)
    for size in ((128, 128), (320, 320)):
        assert_matches(resample(x, *size, bicubic(), backend="triton"), resample(x, *size, bicubic(), backend="torch"))


def test_strided_views():
    """Views that are neither contiguous nor channels_last (every other row of a crop; H and W
    swapped) are copied to the nearer layout first."""
    base = make((2, 3, 30, 24), torch.float32, True)
    for x in (base[:, :, ::2, 3:], base.permute(0, 1, 3, 2)):
        for dim in (2, 3):
            table = axis_table(x.shape[dim], 9, get_filter("bilinear"))
            assert_matches(resample_axis(x, table, dim), reference.resample_axis(x, table, dim))


@pytest.mark.skipif(DEVICE != "cpu", reason="numpy images live on the CPU")
def test_numpy_rgba_through_api():
    """A numpy HxWxC image (a channels_last view, premultiplied alpha) through ``rescale()``."""
    img = noise_u8(rng_for("rgba"), 33, 20, 4)
    for sx, sy in ((0.37, 0.5), (1.7, 0.8)):
        out = rescale.rescale(img, sx, sy, method="lanczos", backend="triton")
        assert isinstance(out, np.ndarray)
        np.testing.assert_array_equal(out, rescale.rescale(img, sx, sy, method="lanczos", backend="torch"))


def test_box_is_pillows():
    """``box=`` (a source region) reaches the kernels through the tables: Pillow's bits on uint8."""
    from PIL import Image

    img = noise_u8(rng_for("box"), 9, 11, 3)
    box = (1.5, 0.25, 10.0, 8.5)
    x = torch.from_numpy(img).permute(2, 0, 1).to(DEVICE)
    out = rescale.rescale(x, size=(5, 4), method="lanczos", box=box, backend="triton")
    want = np.asarray(Image.fromarray(img).resize((5, 4), Image.Resampling.LANCZOS, box=box))
    np.testing.assert_array_equal(out.permute(1, 2, 0).cpu().numpy(), want)


def test_uint16_falls_back_to_reference():
    """(On the CPU: torch's uint16 support on CUDA is thin, and the fallback does not care.)"""
    x = make((1, 1, 12, 9), torch.float64).cpu().mul(65535).round().to(torch.int32).to(torch.uint16)
    table = axis_table(9, 4, get_filter("bicubic"))
    assert torch.equal(resample_axis(x, table, 3), reference.resample_axis(x, table, 3))


def test_bad_arguments():
    x = make((1, 1, 8, 8), torch.float32)
    table = axis_table(8, 4, get_filter("bilinear"))
    with pytest.raises(ValueError, match="dim 2 or 3"):
        resample_axis(x, table, 1)
    with pytest.raises(ValueError, match="dim 2 or 3"):
        resample_axis(x[0], table, 2)
    with pytest.raises(ValueError, match="table expects 8"):
        resample_axis(x[:, :, :5], table, 2)


@pytest.mark.parametrize(
    "method,edge,scale,channels_last",
    [
        ("bicubic", "renormalize", (0.6, 1.5), False),
        ("lanczos", "symmetric", (1.4, 0.45), True),
        ("bilinear", "clamp", (0.5, 0.5), False),
    ],
)
def test_gradcheck(method, edge, scale, channels_last):
    """Fast mode (random directions: J is never built column by column), so that the interpreted
    kernels can afford it; the full Jacobian is compared once on a tiny image below."""
    x = make((1, 2, 7, 9), torch.float64, channels_last).requires_grad_()
    fn = lambda t: rescale.rescale(t, *scale, method=method, edge=edge, alpha=False, backend="triton")  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,), fast_mode=True)


def test_gradcheck_full_jacobian():
    x = make((1, 1, 4, 5), torch.float64).requires_grad_()
    fn = lambda t: rescale.rescale(t, 0.6, 1.7, method="bicubic", backend="triton")  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc"])
def test_backward_matches_reference_autograd(channels_last):
    x = make((2, 3, 23, 17), torch.float32, channels_last)
    weights = make((2, 3, 10, 40), torch.float32)  # a fixed random upstream gradient
    grads = {}
    for backend in ("triton", "torch"):
        leaf = x.clone().requires_grad_()
        out = rescale.rescale(leaf, size=(40, 10), method="lanczos", backend=backend)
        (out * weights).sum().backward()
        grads[backend] = leaf.grad
    assert grads["triton"].abs().max() > 0.1
    torch.testing.assert_close(grads["triton"], grads["torch"], rtol=0, atol=1e-5)
