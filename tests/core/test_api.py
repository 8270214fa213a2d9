"""``rescale.rescale``: what goes in comes out as the same kind, bad input is refused with a clear
error, the backends agree, and gradients flow."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

import rescale
from rescale.filters import available

from helpers import CPU_BACKENDS, noise_u8, rng_for, with_alpha_u8

# --- kinds in = kinds out ----------------------------------------------------------------------


def pil_image(mode: str, w: int = 13, h: int = 9) -> Image.Image:
    rng = rng_for(mode)
    arr = {
        "L": lambda: noise_u8(rng, h, w),
        "LA": lambda: with_alpha_u8(rng, h, w, 1),
        "RGB": lambda: noise_u8(rng, h, w, 3),
        "RGBA": lambda: with_alpha_u8(rng, h, w, 3),
        "I;16": lambda: rng.integers(0, 65536, (h, w), dtype=np.uint16),
        "F": lambda: rng.standard_normal((h, w)).astype(np.float32),
    }[mode]()
    return Image.fromarray(arr)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16", "F"])
def test_pil_in_pil_out(mode, backend):
    img = pil_image(mode)
    out = rescale.rescale(img, 1.5, 0.5, backend=backend)
    assert isinstance(out, Image.Image)
    assert out.mode == mode and out.size == rescale.output_size(13, 9, 1.5, 0.5) == (20, 5)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("channels", [None, 1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_numpy_in_numpy_out(dtype, channels, backend):
    shape = (9, 13) if channels is None else (9, 13, channels)
    arr = (rng_for(dtype, channels).uniform(0, 200, shape)).astype(dtype)
    # A float image with 2 or 4 channels says whether the last is alpha (docs/conventions.md).
    kw = {"alpha": True} if np.dtype(dtype).kind == "f" and channels in (2, 4) else {}
    out = rescale.rescale(arr, 1.5, 0.5, backend=backend, **kw)
    assert isinstance(out, np.ndarray) and out.dtype == dtype
    assert out.shape == ((5, 20) if channels is None else (5, 20, channels))
    assert out.flags.c_contiguous


def test_16_bit_alpha_is_premultiplied():
    """uint16 RGBA: transparent pixels do not bleed colour, as in float with premultiplied alpha."""
    arr = np.zeros((4, 8, 4), np.uint16)
    arr[:, :4] = (65535, 0, 0, 65535)  # opaque red
    arr[:, 4:] = (0, 65535, 0, 0)  # transparent green: its colour must not show
    out = rescale.rescale(arr, 0.5, method="bilinear")
    expect = rescale.rescale(arr.astype(np.float64) / 65535, 0.5, method="bilinear", alpha=True) * 65535
    np.testing.assert_array_equal(out, np.round(expect).astype(np.uint16))
    assert out[..., 1].max() == 0


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(3, 9, 13), (2, 3, 9, 13), (1, 1, 9, 13)])
def test_tensor_in_tensor_out(shape, dtype, backend):
    x = torch.from_numpy(rng_for(shape).uniform(0, 200, shape)).to(dtype)
    out = rescale.rescale(x, 1.5, 0.5, backend=backend)
    assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.device == x.device
    assert out.shape == shape[:-2] + (5, 20)
    assert out.is_contiguous()
    # Low precision types are computed in float32 and rounded once.
    ref = rescale.rescale(x.float(), 1.5, 0.5, backend=backend)
    if dtype == torch.uint8:
        ref = ref.round().clamp(0, 255)
        assert (out.float() - ref).abs().max() <= 1  # 8-bit passes round in between
    else:
        tol = {torch.float16: 1e-3, torch.bfloat16: 8e-3}.get(dtype, 1e-6)
        torch.testing.assert_close(out.float(), ref, rtol=tol, atol=tol * 200)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_channels_last_in_channels_last_out(dtype, backend):
    x = torch.from_numpy(rng_for("cl").uniform(0, 255, (2, 3, 17, 12))).to(dtype)
    xl = x.contiguous(memory_format=torch.channels_last)
    for sx, sy in [(0.5, 0.7), (1.7, 0.3), (1, 0.5)]:
        out = rescale.rescale(xl, sx, sy, backend=backend)
        assert out.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(out, rescale.rescale(x, sx, sy, backend=backend), rtol=0, atol=0)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_strided_inputs_are_read_correctly(backend):
    big = with_alpha_u8(rng_for("strided"), 40, 30, 3)
    view = big[::-2, 1::3]  # negative and non-unit strides
    np.testing.assert_array_equal(
        rescale.rescale(view, 0.6, backend=backend), rescale.rescale(view.copy(), 0.6, backend=backend)
    )
    t = torch.from_numpy(big[..., :3].astype(np.float32)).permute(2, 1, 0)  # CxWxH: transposed planes
    torch.testing.assert_close(
        rescale.rescale(t, 0.6, 1.3, backend=backend), rescale.rescale(t.contiguous(), 0.6, 1.3, backend=backend)
    )
    swapped = big[..., 0].astype(">u2")  # big-endian storage
    np.testing.assert_array_equal(
        rescale.rescale(swapped, 0.6, backend=backend),
        rescale.rescale(big[..., 0].astype(np.uint16), 0.6, backend=backend),
    )


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_input_untouched_and_output_fresh(scale, backend):
    arr = with_alpha_u8(rng_for("fresh"), 12, 10, 3)
    before = arr.copy()
    out = rescale.rescale(arr, scale, backend=backend)
    np.testing.assert_array_equal(arr, before)
    assert not np.shares_memory(out, arr)
    t = torch.rand(1, 3, 12, 10)
    out_t = rescale.rescale(t, scale, backend=backend)
    assert out_t.data_ptr() != t.data_ptr()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_same_device_cuda():
    x = torch.rand(1, 3, 16, 16, device="cuda")
    out = rescale.rescale(x, 0.5)
    assert out.device == x.device and out.shape == (1, 3, 8, 8)


def test_size_is_width_height():
    arr = np.zeros((10, 30), np.uint8)  # H=10, W=30
    assert rescale.rescale(arr, size=(7, 4)).shape == (4, 7)
    assert rescale.rescale(Image.fromarray(arr), size=(7, 4)).size == (7, 4)
    assert rescale.rescale(torch.zeros(3, 10, 30), size=(7, 4)).shape == (3, 4, 7)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_asymmetric_scales_act_on_their_axis(backend):
    """sx only changes columns: a horizontal ramp halved along x (box: mean of pixel pairs) keeps
    its rows; the same for sy and a vertical ramp."""
    arr = np.tile(np.arange(20, dtype=np.float64), (6, 1))  # 6 rows, 20 columns
    out = rescale.rescale(arr, 0.5, 1.0, method="box", backend=backend)
    assert out.shape == (6, 10)
    np.testing.assert_allclose(out, np.tile(np.arange(10) * 2 + 0.5, (6, 1)), atol=1e-12)
    out = rescale.rescale(arr.T, 1.0, 0.5, method="box", backend=backend)
    np.testing.assert_allclose(out, np.tile(np.arange(10) * 2 + 0.5, (6, 1)).T, atol=1e-12)
    assert rescale.rescale(arr, 2, 3, backend=backend).shape == (18, 40)  # sy scales rows


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_alpha_is_premultiplied(backend):
    """Colour under fully transparent pixels must not bleed: with a uniform colour wherever alpha
    is positive, the output colour is that colour wherever the output is not transparent."""
    rng = rng_for("alpha")
    x = torch.from_numpy(rng.uniform(0, 1, (1, 4, 16, 16)))
    x[:, 3, :, :8] = 0  # transparent left half with random colour
    x[:, :3, :, 8:] = torch.tensor([0.2, 0.5, 0.9], dtype=x.dtype)[:, None, None]
    out = rescale.rescale(x, 0.37, method="bilinear", alpha=True, backend=backend)
    visible = out[:, 3] > 0.01
    assert visible.any() and (~visible).any()
    for c, v in enumerate([0.2, 0.5, 0.9]):
        torch.testing.assert_close(out[:, c][visible], torch.full_like(out[:, c][visible], v), rtol=0, atol=1e-12)
    # With alpha=False the channels are independent, so the colour bleeds. (A float image with 4
    # channels must say which: docs/conventions.md; 8-bit ones default to alpha, as numpy and PIL.)
    plain = rescale.rescale(x, 0.37, method="bilinear", alpha=False, backend=backend)
    assert not torch.allclose(plain[:, :3][visible.expand(1, 3, -1, -1)], out[:, :3][visible.expand(1, 3, -1, -1)])
    with pytest.raises(ValueError, match="pass alpha=True .* or alpha=False"):
        rescale.rescale(x, 0.37, method="bilinear", backend=backend)


# --- errors -------------------------------------------------------------------------------------

IMG = np.zeros((8, 8), np.uint8)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 0, 0.0, -1, -0.5])
def test_bad_scale_value(bad):
    with pytest.raises(ValueError, match="sx must be a positive finite number"):
        rescale.rescale(IMG, bad)
    with pytest.raises(ValueError, match="sy must be a positive finite number"):
        rescale.rescale(IMG, 2, bad)
    with pytest.raises(ValueError, match="positive finite"):
        rescale.output_size(8, 8, bad)


@pytest.mark.parametrize("bad", [True, False, "2", b"2", [2], 1j, object()])
def test_bad_scale_type(bad):
    with pytest.raises(TypeError, match="sx must be a number"):
        rescale.rescale(IMG, bad)
    with pytest.raises(TypeError, match="sy must be a number"):
        rescale.rescale(IMG, 2, bad)


def test_scale_and_size():
    with pytest.raises(TypeError, match="not a scale and size="):
        rescale.rescale(IMG, 2, size=(4, 4))
    with pytest.raises(TypeError, match="sy goes with sx"):
        rescale.rescale(IMG, None, 2, size=(4, 4))
    with pytest.raises(TypeError, match="not size= and width="):
        rescale.rescale(IMG, size=(4, 4), width=4)
    with pytest.raises(TypeError, match="give one of: a scale"):
        rescale.rescale(IMG)


@pytest.mark.parametrize("bad", [(0, 4), (4, -1), (4.5, 4), (True, 4)])
def test_bad_size_value(bad):
    with pytest.raises(ValueError, match="positive integer"):
        rescale.rescale(IMG, size=bad)


@pytest.mark.parametrize("bad", [4, (4,), (4, 4, 4), "4x4"])
def test_bad_size_shape(bad):
    with pytest.raises(TypeError, match=r"size=\(width, height\)|size must be \(width, height\)"):
        rescale.rescale(IMG, size=bad)


@pytest.mark.parametrize(
    "img",
    [
        np.zeros((0, 5), np.uint8),
        np.zeros((5, 0), np.float32),
        np.zeros((5, 5, 0), np.uint8),
        torch.zeros(3, 0, 5),
        torch.zeros(3, 5, 0),
        torch.zeros(0, 5, 5),
        torch.zeros(0, 3, 5, 5),
        Image.new("L", (0, 5)),
    ],
    ids=["np-0xW", "np-Hx0", "np-no-channels", "t-0xW", "t-Hx0", "t-no-channels", "t-empty-batch", "pil-0xH"],
)
def test_empty_image(img):
    with pytest.raises(ValueError, match="empty|no channels"):
        rescale.rescale(img, 2)


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.int8, np.bool_, np.float16, np.complex64])
def test_unsupported_numpy_dtype(dtype):
    with pytest.raises(TypeError, match="unsupported numpy dtype"):
        rescale.rescale(np.zeros((4, 4), dtype), 2)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.int64, torch.bool, torch.complex64])
def test_unsupported_tensor_dtype(dtype):
    with pytest.raises(TypeError, match="unsupported tensor dtype"):
        rescale.rescale(torch.zeros(1, 4, 4, dtype=dtype), 2)


@pytest.mark.parametrize(
    "img",
    [np.zeros(4, np.uint8), np.zeros((2, 2, 2, 2), np.uint8), torch.zeros(4), torch.zeros(1, 1, 1, 4, 4)],
    ids=["np1d", "np4d", "t1d", "t5d"],
)
def test_unsupported_shape(img):
    with pytest.raises(ValueError, match="HxW|CxHxW"):
        rescale.rescale(img, 2)


@pytest.mark.parametrize("img", [[[0, 1], [2, 3]], "image.png", None])
def test_unsupported_kind(img):
    with pytest.raises(TypeError, match="expected a PIL image, numpy array or torch tensor"):
        rescale.rescale(img, 2)


def test_unknown_method_lists_the_available_ones():
    with pytest.raises(ValueError, match="unknown method 'bicubicc'") as err:
        rescale.rescale(IMG, 2, method="bicubicc")
    for name in available():
        assert name in str(err.value)
    with pytest.raises(TypeError, match="method must be"):
        rescale.rescale(IMG, 2, method=3.0)
    with pytest.raises(ValueError, match="unknown Pillow filter 9"):
        rescale.rescale(IMG, 2, method=9)


def test_method_names_are_case_insensitive():
    np.testing.assert_array_equal(
        rescale.rescale(IMG + 7, 0.5, method="Lanczos"), rescale.rescale(IMG + 7, 0.5, method="lanczos")
    )


@pytest.mark.parametrize("edge", ["reflect", "Symmetric", "", None])
def test_unknown_edge(edge):
    with pytest.raises(ValueError, match="unknown edge mode"):
        rescale.rescale(IMG, 2, edge=edge)


@pytest.mark.parametrize("backend", ["gpu", "numba", "", "TORCH"])
def test_unknown_backend(backend):
    with pytest.raises(ValueError, match="unknown backend"):
        rescale.rescale(IMG, 2, backend=backend)


def test_output_pixel_limit():
    assert rescale.rescale(IMG, 10, max_pixels=80 * 80).shape == (80, 80)  # at the limit: fine
    with pytest.raises(ValueError, match="exceeds the limit"):
        rescale.rescale(IMG, 10, max_pixels=80 * 80 - 1)
    with pytest.raises(ValueError, match="exceeds the limit"):
        rescale.rescale(IMG, size=(100, 100), max_pixels=9999)
    # The default limit refuses absurd sizes before allocating anything.
    with pytest.raises(ValueError, match="exceeds the limit"):
        rescale.rescale(IMG, 1e6)


def test_output_byte_limit_counts_channels_batch_and_dtype():
    """Issue 16: the pixel limit let 64 float64 channels (128 GiB) and a batch of 1000 (750 GiB)
    through; the byte limit refuses them before anything is allocated, and says what to raise."""
    with pytest.raises(ValueError, match=r"64 channels \(float64\) needs about 128.0 GiB.*max_bytes="):
        rescale.rescale(np.zeros((1, 1, 64)), size=(16384, 16384))
    with pytest.raises(ValueError, match=r"x 1000 images \(uint8\).*max_bytes="):
        rescale.rescale(torch.zeros(1000, 3, 1, 1, dtype=torch.uint8), size=(16384, 16384))
    # Output 40x40x4 float64 = 51200 bytes; the intermediate (40x10) and the premultiplied input
    # (10x10) count too: 51200 + 12800 + 3200 = 67200.
    arr = np.zeros((10, 10, 4))
    assert rescale.rescale(arr, 4, alpha=True, max_bytes=67200).shape == (40, 40, 4)
    with pytest.raises(ValueError, match="exceeds the limit"):
        rescale.rescale(arr, 4, alpha=True, max_bytes=67199)
    assert rescale.rescale(arr, 4, alpha=False, max_bytes=64000).shape == (40, 40, 4)


@pytest.mark.parametrize("name", ["max_pixels", "max_bytes"])
def test_limits_are_numbers(name):
    with pytest.raises(ValueError, match="positive"):
        rescale.rescale(IMG, 2, **{name: float("nan")})  # not "no limit"
    with pytest.raises(ValueError, match="positive"):
        rescale.rescale(IMG, 2, **{name: 0})
    with pytest.raises(TypeError, match=f"{name} must be a number"):
        rescale.rescale(IMG, 2, **{name: "x"})
    with pytest.raises(TypeError, match=f"{name} must be a number"):
        rescale.rescale(IMG, 2, **{name: True})
    assert rescale.rescale(IMG, 2, **{name: math.inf}).shape == (16, 16)  # inf: no limit


@pytest.mark.parametrize("bad", ["no", "", 1, None])
def test_antialias_takes_bools_only(bad):
    with pytest.raises(TypeError, match="antialias must be True or False"):
        rescale.rescale(IMG, 0.5, antialias=bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("kind", ["numpy", "torch16", "pil"])
def test_non_finite_pixels(bad, kind):
    arr = np.zeros((6, 6), np.float32)
    arr[2, 3] = bad
    img = {"numpy": arr, "torch16": torch.from_numpy(arr).half()[None], "pil": Image.fromarray(arr)}[kind]
    with pytest.raises(ValueError, match="NaN or infinite"):
        rescale.rescale(img, 0.5)


# --- backends -----------------------------------------------------------------------------------


@pytest.mark.parametrize("edge", ["renormalize", "symmetric", "clamp"])
@pytest.mark.parametrize("method", ["nearest", "box", "bilinear", "bicubic", "lanczos", "gaussian"])
def test_auto_agrees_with_torch(method, edge):
    arr = with_alpha_u8(rng_for("auto", method), 23, 31, 3)
    for sx, sy in [(0.37, 0.5), (1.7, 0.8), (3, 3)]:
        np.testing.assert_array_equal(
            rescale.rescale(arr, sx, sy, method=method, edge=edge, backend="auto"),
            rescale.rescale(arr, sx, sy, method=method, edge=edge, backend="torch"),
        )
        for dtype, tol in ((torch.float32, 1e-5), (torch.float64, 1e-12)):
            x = torch.from_numpy(arr).permute(2, 0, 1).to(dtype)
            torch.testing.assert_close(
                rescale.rescale(x, sx, sy, method=method, edge=edge, alpha=False, backend="auto"),
                rescale.rescale(x, sx, sy, method=method, edge=edge, alpha=False, backend="torch"),
                rtol=tol,
                atol=tol * 255,
            )


# --- gradients ----------------------------------------------------------------------------------


def test_gradients_flow_through_auto():
    x = torch.rand(2, 3, 11, 14, requires_grad=True)
    y = rescale.rescale(x, 0.5, 1.5)
    assert y.requires_grad
    (y * torch.rand_like(y)).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape and x.grad.abs().sum() > 0


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize(
    "method,edge,sx,sy",
    [
        ("bicubic", "renormalize", 0.6, 1.4),
        ("lanczos", "symmetric", 1.7, 0.45),
        ("box", "clamp", 0.5, 0.5),
        ("bilinear", "renormalize", 2.0, 1.0),
    ],
)
def test_gradcheck(method, edge, sx, sy, backend):
    x = torch.rand(1, 2, 7, 9, dtype=torch.float64, requires_grad=True)

    def f(t):  # two channels of data (not grey + alpha: a float image with 2 channels says which)
        return rescale.rescale(t, sx, sy, method=method, edge=edge, alpha=False, backend=backend)

    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


@pytest.mark.parametrize("filt", [*rescale.filters.available(), "bicubic(a=-0.75)", "lanczos(2)", "gaussian(0.7)"])
def test_filters_pickle(filt):
    """Filters hold closures; they pickle by name and params (DataLoader workers started by spawn)."""
    import pickle

    f = eval(f"rescale.filters.{filt}") if "(" in filt else rescale.filters.get_filter(filt)
    g = pickle.loads(pickle.dumps(f))
    assert g == f
    assert [g(x / 7) for x in range(-30, 30)] == [f(x / 7) for x in range(-30, 30)]
