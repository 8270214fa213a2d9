"""``docs/conventions.md``, one test per rule, each on a PIL image, a numpy array and a tensor of the
same pixels (``KINDS``). References are Pillow, OpenCV and torch themselves, or the same pixels in
another container."""

from __future__ import annotations

import doctest
import io
import warnings

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

import rescale
import rescale.compat
import rescale.sizes
from rescale.methods import Method
from rescale.transforms import Rescale

from helpers import noise_u8, rng_for, with_alpha_u8

KINDS = ("pil", "numpy", "tensor")


def as_kind(arr: np.ndarray, kind: str):
    """``arr`` (HxW or HxWxC, uint8/uint16) as a PIL image, a numpy array or a CxHxW tensor."""
    if kind == "pil":
        return Image.fromarray(arr)
    if kind == "numpy":
        return arr.copy()
    t = torch.from_numpy(arr.copy())
    return t if t.dim() == 2 else t.permute(2, 0, 1)


def as_array(img) -> np.ndarray:
    """Back to HxW / HxWxC numpy."""
    if isinstance(img, Image.Image):
        return np.asarray(img)
    if isinstance(img, torch.Tensor):
        return (img if img.dim() == 2 else img.permute(1, 2, 0)).numpy()
    return img


def hw(img) -> tuple[int, int]:
    """(width, height) of any kind."""
    if isinstance(img, Image.Image):
        return img.size
    return (img.shape[-1], img.shape[-2]) if isinstance(img, torch.Tensor) else (img.shape[1], img.shape[0])


RGB = noise_u8(rng_for("conventions"), 21, 40, 3)  # H=21, W=40


@pytest.mark.parametrize("kind", KINDS)
def test_sizes_are_width_height(kind):
    img = as_kind(RGB, kind)
    assert hw(rescale.rescale(img, size=(30, 7))) == (30, 7)
    assert hw(rescale.rescale(img, width=30, height=7)) == (30, 7)
    assert hw(rescale.rescale(img, width=20)) == (20, 11)  # 21 * 20 / 40 = 10.5, rounded up
    assert hw(rescale.rescale(img, height=7)) == (13, 7)  # 40 * 7 / 21 = 13.3
    assert hw(rescale.down(img, width=20, method="bicubic")) == (20, 11)
    assert hw(rescale.up(img, height=42, method="bicubic")) == (80, 42)
    np.testing.assert_array_equal(
        as_array(rescale.rescale(img, size=(30, 7))), np.asarray(Image.fromarray(RGB).resize((30, 7), 3))
    )
    with pytest.raises(TypeError, match="give one of"):
        rescale.rescale(img, 0.5, width=20)
    with pytest.raises(TypeError, match=r"size=\(width, height\)"):
        rescale.rescale(img, size=30)
    # The transform and MULLER read sizes the same way (not torchvision's (H, W)).
    x = torch.from_numpy(RGB).permute(2, 0, 1).float() / 255
    assert Rescale(size=(30, 7))(x).shape == (3, 7, 30)
    assert Rescale(width=20)(x).shape == (3, 11, 20)
    assert rescale.Muller(size=(30, 7))(x[None]).shape == (1, 3, 7, 30)
    assert rescale.Muller(scale=(0.5, 1.0))(x[None]).shape == (1, 3, 21, 20)


@pytest.mark.parametrize("kind", KINDS)
def test_scales_are_output_over_input(kind):
    img = as_kind(RGB, kind)
    assert hw(rescale.rescale(img, 0.5, 2)) == (20, 42)  # sx horizontal, sy vertical
    half = as_array(rescale.rescale(img, 0.5, method="lanczos"))
    np.testing.assert_array_equal(half, np.asarray(Image.fromarray(RGB).resize((20, 11), Image.Resampling.LANCZOS)))
    for call in (lambda: rescale.down(img, 2, method="lanczos"), lambda: rescale.down(img, 0.5, method="lanczos")):
        np.testing.assert_array_equal(as_array(call()), half)  # the factor and the scale alike
    np.testing.assert_array_equal(as_array(rescale.up(img, 2, method="bicubic")), as_array(rescale.rescale(img, 2)))
    with pytest.raises(ValueError, match=r"down\(img, 2, 2\)|down\(img, 0.5, 0.5\)"):
        rescale.down(img, 2, 0.5, method="bicubic")
    with pytest.raises(ValueError, match=r"use down\(img, 2\)"):
        rescale.up(img, 0.5, method="bicubic")


@pytest.mark.parametrize("kind", KINDS)
def test_output_size_rounding(kind):
    for n, s in ((5, 0.5), (7, 0.5), (21, 1 / 3), (3, 0.1), (10, 0.25)):
        want = max(1, int(np.floor(n * s + 0.5)))
        img = as_kind(noise_u8(rng_for(n), 4, n, 3), kind)
        assert hw(rescale.rescale(img, s, 1.0))[0] == want == rescale.output_size(n, 1, s)[0]
    # Where the others differ, as docs/conventions.md tabulates: 5 x 0.5 = 2.5.
    row = np.zeros((1, 5), np.uint8)
    assert cv2.resize(row, None, fx=0.5, fy=1).shape[1] == 2  # half to even
    assert torch.nn.functional.interpolate(torch.zeros(1, 1, 1, 5), scale_factor=(1, 0.5)).shape[-1] == 2  # floor
    assert ImageOps.scale(Image.new("L", (5, 5)), 0.5).size == (2, 2)  # Python's round
    assert rescale.compat.imresize_size((5, 5), 0.5)[0] == (3, 3)  # MATLAB: ceil
    assert rescale.output_size(5, 5, 0.5) == (3, 3)


@pytest.mark.parametrize("kind", ["numpy", "tensor"])
def test_channel_layouts(kind):
    big = noise_u8(rng_for("layouts"), 12, 16, 3)
    want = np.asarray(Image.fromarray(big).resize((8, 6), Image.Resampling.BICUBIC))
    if kind == "numpy":
        transposed, axis = big.transpose(2, 0, 1).copy(), 0  # CxHxW
        back = lambda y: y.transpose(1, 2, 0)  # noqa: E731
        fix = r"channel_axis=0 .* arr.transpose\(1, 2, 0\)"
    else:
        transposed, axis = torch.from_numpy(big.copy()), -1  # HxWxC
        back = lambda y: y.numpy()  # noqa: E731
        fix = r"channel_axis=-1 .* x.permute\(2, 0, 1\)"
    with pytest.raises(ValueError, match=fix):
        rescale.rescale(transposed, 0.5)
    out = rescale.rescale(transposed, 0.5, channel_axis=axis)
    assert tuple(out.shape) == ((3, 6, 8) if axis == 0 else (6, 8, 3))  # the user's layout kept
    np.testing.assert_array_equal(back(out), want)
    # The default layout, confirmed, is read as it is.
    default = as_kind(big, kind)
    np.testing.assert_array_equal(
        as_array(rescale.rescale(default, 0.5, channel_axis=-1 if kind == "numpy" else -3)), want
    )
    if kind == "tensor":  # a batch of channels-last images too
        batch = torch.from_numpy(np.stack([big, big]))
        np.testing.assert_array_equal(rescale.rescale(batch, 0.5, channel_axis=-1)[1].numpy(), want)


class _Learned(Method):
    """A stand-in learned method (no weights): bilinear both ways."""

    name, kind = "stand-in", "learned"

    def down(self, x, size):
        return rescale.rescale(x, size=size, method="bilinear", alpha=False)

    up = down


@pytest.mark.parametrize("kind", KINDS)
def test_value_ranges(kind):
    img = as_kind(RGB, kind)
    # Filters are linear: floats in 0-255 give 255 x the result on 0-1 floats.
    unit = RGB.astype(np.float32) / 255
    f255 = rescale.rescale(unit * 255, 0.37, method="bicubic")
    np.testing.assert_allclose(f255, 255 * rescale.rescale(unit, 0.37, method="bicubic"), atol=1e-3)
    # A learned method takes uint8 as 0-255 and floats as 0-1, and refuses floats in 0-255.
    y8 = as_array(rescale.down(img, 2, method=_Learned()))
    yf = rescale.down(unit, 2, method=_Learned())
    assert y8.dtype == np.uint8 and np.abs(y8.astype(float) - np.round(yf * 255)).max() <= 1
    with pytest.raises(ValueError, match=r"\[0, 1\].*img / 255"):
        rescale.down(unit * 255, 2, method=_Learned())
    with pytest.raises(ValueError, match="undo the normalisation"):
        rescale.down((unit - 0.45) / 0.1, 2, method=_Learned())


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_alpha_rule(dtype):
    rng = rng_for("alpha", dtype)
    rgba = with_alpha_u8(rng, 11, 14, 3).astype(dtype) * (257 if dtype == np.uint16 else 1)
    results = {}
    for kind in ("numpy", "tensor") + (("pil",) if dtype == np.uint8 else ()):
        results[kind] = as_array(rescale.rescale(as_kind(rgba, kind), 0.5, method="bilinear"))
    for kind, got in results.items():
        np.testing.assert_array_equal(got, results["numpy"], err_msg=kind)
    if dtype == np.uint8:  # premultiplied: Pillow's RGBA result
        want = np.asarray(Image.fromarray(rgba).resize((7, 6), Image.Resampling.BILINEAR))
        np.testing.assert_array_equal(results["numpy"], want)
    # alpha=False: every channel on its own, the same in every container.
    plain = rescale.rescale(rgba, 0.5, method="bilinear", alpha=False)
    assert not np.array_equal(plain, results["numpy"])
    t = rescale.rescale(as_kind(rgba, "tensor"), 0.5, method="bilinear", alpha=False)
    np.testing.assert_array_equal(as_array(t), plain)
    # A float image with 4 channels says which.
    for img in (rgba.astype(np.float32), torch.from_numpy(rgba.astype(np.float32)).permute(2, 0, 1)):
        with pytest.raises(ValueError, match="pass alpha=True .* or alpha=False"):
            rescale.rescale(img, 0.5)
        assert rescale.rescale(img, 0.5, alpha=True).shape[-2:] in ((6, 7), (7, 4))


@pytest.mark.parametrize("backend", ["auto", "cpu", "pillow", "torch"])
@pytest.mark.parametrize("mode", ["RGB", "P", "I;16"])
def test_metadata_is_kept(backend, mode):
    img = Image.fromarray(RGB).convert(mode if mode != "I;16" else "L")
    if mode == "I;16":
        img = Image.fromarray(np.asarray(img).astype(np.uint16) * 257)
    buf = io.BytesIO()
    img.save(buf, "TIFF" if mode == "I;16" else "PNG", dpi=(300, 300), icc_profile=b"\0" * 128)
    img = Image.open(buf)
    img.load()
    if mode == "P" and backend in ("cpu", "torch"):
        return  # P is Pillow's alone (test_pillow_habits)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = rescale.rescale(img, 0.5, backend=backend)
    want = img.resize(out.size, Image.Resampling.NEAREST if mode == "P" else Image.Resampling.BICUBIC)
    assert out.info == want.info and out.info.get("icc_profile") == b"\0" * 128
    assert tuple(round(v) for v in out.info["dpi"]) == (300, 300)
    if mode == "P":
        assert out.getpalette() == img.getpalette()


def _modes():
    base = Image.fromarray(with_alpha_u8(rng_for("modes"), 23, 31, 3), "RGBA")
    ims = {m: base.convert(m) for m in ("P", "1", "CMYK", "YCbCr", "HSV", "RGBX", "La", "RGBa", "L", "LA")}
    ims["LAB"] = Image.frombytes("LAB", base.size, base.convert("RGB").tobytes())
    ims["I"] = Image.fromarray(rng_for("I").integers(-(2**31), 2**31 - 1, (23, 31), dtype=np.int32), "I")
    ims["I;16L"] = Image.frombytes("I;16L", base.size, rng_for("16").integers(0, 65536, (23, 31), "<u2").tobytes())
    return ims


MODES = _modes()


@pytest.mark.parametrize("mode", list(MODES))
def test_pillow_habits(mode):
    img = MODES[mode]
    for code in Image.Resampling:
        for size, box in (((11, 9), None), ((50, 40), (1.5, 2.25, 29.0, 20.5))):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                out = rescale.rescale(img, size=size, method=code, box=box)
            want = img.resize(size, code, box=box)
            assert out.mode == want.mode and out.tobytes() == want.tobytes(), (code, size, box)
            blends = code != Image.Resampling.NEAREST
            assert bool(caught) == (mode in ("P", "1") and blends), [str(w.message) for w in caught]
    if mode in ("P", "1", "I", "LAB"):
        with pytest.raises(ValueError, match="backend 'auto' or 'pillow'"):
            rescale.rescale(img, 0.5, backend="cpu")


def test_big_endian_16_bit_is_resampled_by_value():
    # Large enough for backend "auto" to pick Pillow's resize, which garbles I;16B.
    arr = rng_for("I;16B").integers(0, 65536, (300, 400), dtype=np.uint16)
    img = Image.frombytes("I;16B", (400, 300), arr.astype(">u2").tobytes())
    want = np.asarray(Image.fromarray(arr).resize((200, 150), Image.Resampling.BICUBIC))
    for _ in range(3):  # "auto" chooses by measured speed: every call must be right
        out = rescale.rescale(img, 0.5)
        assert out.mode == "I;16B"
        np.testing.assert_array_equal(np.asarray(out).astype(np.uint16), want)
    with pytest.raises(ValueError, match="backend 'pillow' gives our bits only"):
        rescale.rescale(img, 0.5, backend="pillow")


@pytest.mark.parametrize("kind", KINDS)
def test_box_and_pillow_constants(kind):
    img = as_kind(RGB, kind)
    box = (3.5, 2.0, 33.25, 19.0)
    for code, name in ((Image.Resampling.LANCZOS, "lanczos"), (Image.Resampling.BOX, "box"), (6, "mks2013")):
        want = np.asarray(Image.fromarray(RGB).resize((12, 8), code, box=box))
        np.testing.assert_array_equal(as_array(rescale.rescale(img, size=(12, 8), method=code, box=box)), want)
        np.testing.assert_array_equal(as_array(rescale.rescale(img, size=(12, 8), method=name, box=box)), want)
    assert hw(rescale.rescale(img, 0.5, box=box)) == (15, 9)  # a scale applies to the box: 29.75 x 17
    with pytest.raises(ValueError, match="within the 40x21 image"):
        rescale.rescale(img, 0.5, box=(0, 0, 41, 10))


@pytest.mark.parametrize("method", ["nearest", "box", "bilinear", "bicubic", "lanczos", "mitchell"])
@pytest.mark.parametrize("channels", [None, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_equal_images_in_any_container(method, channels, dtype):
    rng = rng_for("equal", method, channels, dtype)
    shape = (17, 23) if channels is None else (17, 23, channels)
    arr = rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
    kinds = KINDS if dtype == np.uint8 or channels is None else KINDS[1:]  # PIL has no 16-bit colour
    results = [as_array(rescale.rescale(as_kind(arr, kind), 0.6, 1.3, method=method)) for kind in kinds]
    for got in results[1:]:
        np.testing.assert_array_equal(got, results[0])
    code = getattr(Image.Resampling, method.upper(), None)
    if len(kinds) == 3 and code is not None:  # Pillow's bits
        np.testing.assert_array_equal(results[0], np.asarray(Image.fromarray(arr).resize((14, 22), code)))


def test_irn_points_to_iarn():
    from rescale.models.irn import pick_scale

    with pytest.raises(ValueError, match="method='iarn'"):
        pick_scale((12, 12), (4, 4))  # down(img, 3, method="irn")


def test_sizes_doctests():
    assert doctest.testmod(rescale.sizes).failed == 0
