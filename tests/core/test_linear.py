"""Resampling in linear light (``linear=True``) against a float64 oracle written here.

The oracle decodes sRGB with the IEC 61966-2-1 formulas (written out below, not taken from
``rescale.transfer``), multiplies the colours by alpha, resizes with the dense float64 weight
matrices of ``test_oracle.py``, divides by alpha where it is not 0, and encodes back: integers
clamped to [0, 1] and rounded to the nearest level; floats as they are, the curve extended
symmetrically below 0. Results must match it to one level on uint8 and uint16 (every path computes
in float32 and rounds its float32 value exactly, so a level differs only where the float32 and
float64 sums straddle a rounding boundary) and to 1e-6 on float images (1e-9 on float64).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms
from test_fastpath import BLOCK_TORCH, run_python
from test_oracle import CASES, GEOMETRIES, ORACLE, weight_matrix

import rescale
from rescale.transfer import SRGB, curves_from_icc, gamma, parametric

from helpers import curv, para, rng_for, srgb_profile, with_tone_curves


def srgb_decode(v: np.ndarray) -> np.ndarray:
    a = np.abs(v)
    return np.sign(v) * np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)


def srgb_encode(y: np.ndarray) -> np.ndarray:
    a = np.abs(y)
    return np.sign(y) * np.where(a <= 0.0031308, a * 12.92, 1.055 * a ** (1 / 2.4) - 0.055)


def oracle(x: np.ndarray, out_w: int, out_h: int, formula, alpha: bool, antialias=True, edge="renormalize"):
    """``x`` ``[H, W, C]`` -> float64 ``[out_h, out_w, C]``: levels for integer ``x``, values for float."""
    top = np.iinfo(x.dtype).max if x.dtype.kind == "u" else None
    v = x.astype(np.float64) / (top or 1)
    colours = v.shape[2] - 1 if alpha else v.shape[2]
    lin = v.copy()
    lin[..., :colours] = srgb_decode(v[..., :colours])
    if alpha:
        lin[..., :colours] *= lin[..., -1:]
    wh = weight_matrix(x.shape[0], out_h, *formula, antialias, edge)
    ww = weight_matrix(x.shape[1], out_w, *formula, antialias, edge)
    y = np.einsum("oh,hwc,pw->opc", wh, lin, ww)
    if alpha:
        a = y[..., -1:]
        y[..., :colours] = np.where(a != 0, y[..., :colours] / np.where(a != 0, a, 1), y[..., :colours])
    if top is None:
        y[..., :colours] = srgb_encode(y[..., :colours])
        return y
    y = np.clip(y, 0, 1)
    y[..., :colours] = srgb_encode(y[..., :colours])
    return np.round(y * top)


def image(dtype, h: int, w: int, channels: int, alpha: bool, *key) -> np.ndarray:
    """Random pixels over the full range, with flat black and white corners (clamping after
    overshoot) and, with alpha, a transparent third and an opaque corner."""
    rng = rng_for(np.dtype(dtype).name, h, w, channels, alpha, *key)
    if np.dtype(dtype).kind == "u":
        top = np.iinfo(dtype).max
        x = rng.integers(0, top + 1, (h, w, channels)).astype(dtype)
        x[: h // 3, : w // 3, : channels - alpha] = 0
        x[h - h // 3 :, w - w // 3 :, : channels - alpha] = top
    else:
        x = rng.random((h, w, channels)).astype(dtype)
    if alpha:
        x[:, : w // 3, -1] = 0
        x[: h // 2, w - w // 4 :, -1] = 1 if x.dtype.kind == "f" else np.iinfo(dtype).max
    return x


def assert_close(got: np.ndarray, want: np.ndarray, tolerance: float, what: str) -> None:
    assert got.shape == want.shape, what
    diff = np.abs(got.astype(np.float64) - want)
    assert diff.max() <= tolerance, f"{what}: off by up to {diff.max()} at {int((diff > tolerance).sum())} samples"


#: (channels, last is alpha): grey, RGB, LA and RGBA.
LAYOUTS = [pytest.param(1, False, id="L"), pytest.param(3, False, id="RGB"), pytest.param(2, True, id="LA"),
           pytest.param(4, True, id="RGBA")]  # fmt: skip
#: Rows of at least 64 samples in and out (the SIMD loops of kernels/cpu_linear_u8.py, where the CPU
#: has them) besides test_oracle's small ones (the portable loops): shrinking, enlarging, both.
WIDE = [(160, 40, 80, 17), (100, 30, 240, 11), (72, 20, 160, 9), (96, 24, 41, 40)]
GEOMETRY_IDS = ["{}x{}-{}x{}".format(*g) for g in GEOMETRIES + WIDE]


# --- the checkerboard ---------------------------------------------------------------------------


def checkerboard(n: int = 512) -> np.ndarray:
    return (np.indices((n, n)).sum(0) % 2 * 255).astype(np.uint8)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA"])
def test_checkerboard_is_the_mean_light(mode):
    """512 -> 32 black/white: 187-188 (the mean of the linear light, encoded) instead of 127-128."""
    board = Image.fromarray(checkerboard()).convert(mode)
    arr = np.asarray(board)
    for img in (board, arr):
        linear = np.asarray(rescale.rescale(img, 32 / 512, linear=True))
        plain = np.asarray(rescale.rescale(img, 32 / 512))
        colours = (linear[..., :-1] if mode in ("LA", "RGBA") else linear).ravel()
        assert set(np.unique(colours)) <= {187, 188}, (type(img), np.unique(colours))
        assert set(np.unique(plain if mode in ("L", "RGB") else plain[..., :-1])) <= {127, 128}
        if mode in ("LA", "RGBA"):
            assert np.all(linear[..., -1] == 255)


@pytest.mark.parametrize("backend", ["cpu", "torch", "triton"])
def test_checkerboard_tensors(backend):
    n = 512 if backend != "triton" else 64  # the interpreter is slow
    board = torch.from_numpy(checkerboard(n)).expand(2, 3, n, n)
    got = rescale.rescale(board, 32 / 512, linear=True, backend=backend)
    assert got.shape == (2, 3, n // 16, n // 16) and got.dtype == torch.uint8
    assert set(got.unique().tolist()) <= {187, 188}
    f = rescale.rescale(board / 255.0, 32 / 512, linear=True, backend=backend, method="box")
    assert torch.allclose(f, torch.full_like(f, float(srgb_encode(np.array(0.5)))), atol=1e-6)  # 0.7354


# --- against the oracle ---------------------------------------------------------------------------


#: uint16 and float64 run the same loops as uint8 and float32 with other tables and types: fewer
#: cases (the suite's time).
FEW = [case for case in CASES if case.id in ("bicubic", "lanczos", "box")]
FLOAT_CASES = [case for case in CASES if case.id in ("bicubic", "lanczos", "box", "mitchell")]


def cases_of(dtypes_all: list, dtypes_few: list, methods: list) -> list:
    """(method, dtype, layout) cases: for ``dtypes_all`` every method in RGB and RGBA, those of
    :data:`FEW` in L and LA too; for ``dtypes_few`` those of :data:`FEW` in L and RGBA."""
    few = [m for m in methods if m in FEW]
    wanted = [(m, d, lay) for d in dtypes_all for m in methods for lay in (LAYOUTS[1], LAYOUTS[3])]
    wanted += [(m, d, lay) for d in dtypes_all for m in few for lay in (LAYOUTS[0], LAYOUTS[2])]
    wanted += [(m, d, lay) for d in dtypes_few for m in few for lay in (LAYOUTS[0], LAYOUTS[3])]
    return [pytest.param(*m.values, d, *lay.values, id=f"{m.id}-{lay.id}-{np.dtype(d).name}") for m, d, lay in wanted]


@pytest.mark.parametrize("geometry", GEOMETRIES + WIDE, ids=GEOMETRY_IDS)
@pytest.mark.parametrize("method,formula,dtype,channels,alpha", cases_of([np.uint8], [np.uint16], CASES))
def test_integers_match_the_oracle(method, formula, dtype, channels, alpha, geometry):
    in_w, in_h, out_w, out_h = geometry
    x = image(dtype, in_h, in_w, channels, alpha)
    got = rescale.rescale(x, size=(out_w, out_h), method=method, linear=True, alpha=alpha)
    assert got.dtype == dtype
    assert_close(got.reshape(out_h, out_w, channels), oracle(x, out_w, out_h, formula, alpha), 1, method)


@pytest.mark.parametrize("edge", ["symmetric", "clamp"])
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("geometry", GEOMETRIES[:4] + WIDE[:2], ids=GEOMETRY_IDS[:4] + GEOMETRY_IDS[8:10])
def test_edges_and_interpolation_match_the_oracle(geometry, antialias, edge):
    in_w, in_h, out_w, out_h = geometry
    x = image(np.uint8, in_h, in_w, 3, False, edge)
    for method in ("bicubic", "lanczos"):
        got = rescale.rescale(x, size=(out_w, out_h), method=method, linear=True, antialias=antialias, edge=edge)
        assert_close(got, oracle(x, out_w, out_h, ORACLE[method], False, antialias, edge), 1, method)


@pytest.mark.parametrize("geometry", GEOMETRIES + WIDE, ids=GEOMETRY_IDS)
@pytest.mark.parametrize("method,formula,dtype,channels,alpha", cases_of([np.float32], [np.float64], FLOAT_CASES))
def test_floats_match_the_oracle(method, formula, dtype, channels, alpha, geometry):
    """1e-6 for float32 (1e-9 for float64); with alpha, that divided by the output's alpha (down to
    1e-6): a colour is a premultiplied sum divided by alpha, which scales the sum's rounding error
    (lanczos's overshoot leaves alphas of a few 1e-6 next to transparent pixels)."""
    in_w, in_h, out_w, out_h = geometry
    x = image(dtype, in_h, in_w, channels, alpha)
    got = rescale.rescale(x, size=(out_w, out_h), method=method, linear=True, alpha=alpha).reshape(out_h, out_w, -1)
    want = oracle(x, out_w, out_h, formula, alpha)
    tolerance = 1e-6 if dtype == np.float32 else 1e-9
    if alpha:
        tolerance = tolerance / np.clip(np.abs(want[..., -1:]), 1e-6, 1)
    assert got.dtype == dtype
    assert np.all(np.abs(got - want) <= tolerance), np.abs(got - want).max()


@pytest.mark.parametrize("sx,sy", [(0.37, 0.37), (1.7, 0.5), (0.25, 3.3), (0.5, 1.0)])
def test_scale_factors_match_the_oracle(sx, sy):
    x = image(np.uint8, 61, 83, 3, False, sx, sy)
    out_w, out_h = rescale.output_size(83, 61, sx, sy)
    got = rescale.rescale(x, sx, sy, method="lanczos", linear=True)
    assert_close(got, oracle(x, out_w, out_h, ORACLE["lanczos"], False), 1, f"{sx}x{sy}")


@pytest.mark.parametrize("backend", ["cpu", "torch", "triton"])
@pytest.mark.parametrize("channels,alpha", LAYOUTS[1:2] + LAYOUTS[3:])
@pytest.mark.parametrize("geometry", [GEOMETRIES[0], GEOMETRIES[3], WIDE[0]], ids=lambda g: "{}x{}-{}x{}".format(*g))
def test_tensors_match_the_oracle(geometry, channels, alpha, backend):
    """uint8 NCHW tensors (and channels-last) on every backend; Triton runs in the interpreter
    without a GPU, fused (decode and encode inside its passes) without alpha."""
    in_w, in_h, out_w, out_h = geometry
    x = image(np.uint8, in_h, in_w, channels, alpha, backend)
    t = torch.from_numpy(np.stack([x, x[::-1]])).permute(0, 3, 1, 2)
    for layout in (t.contiguous(), t):  # NCHW and channels-last
        got = rescale.rescale(layout, size=(out_w, out_h), method="bicubic", linear=True, backend=backend, alpha=alpha)
        assert got.dtype == torch.uint8 and got.is_contiguous() == layout.is_contiguous()
        for i, img in enumerate((x, x[::-1])):
            want = oracle(np.ascontiguousarray(img), out_w, out_h, ORACLE["bicubic"], alpha)
            assert_close(got[i].permute(1, 2, 0).numpy(), want, 1, f"{backend} image {i}")


@pytest.mark.parametrize("backend", ["cpu", "torch"])
def test_float_tensors_are_differentiable(backend):
    x = torch.rand(1, 3, 9, 11, dtype=torch.float64, requires_grad=True)
    fn = lambda t: rescale.rescale(t, size=(5, 14), method="bicubic", linear=True, backend=backend)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))
    want = oracle(x.detach()[0].permute(1, 2, 0).numpy(), 5, 14, ORACLE["bicubic"], False)
    np.testing.assert_allclose(fn(x).detach()[0].permute(1, 2, 0).numpy(), want, atol=1e-9)


# --- what linear= changes and what it leaves ---------------------------------------------------


def test_nearest_and_same_size_are_unchanged():
    x = image(np.uint8, 20, 30, 3, False)
    nearest = rescale.rescale(x, 0.5, method="nearest")
    assert np.array_equal(rescale.rescale(x, 0.5, method="nearest", linear=True), nearest)
    f = image(np.float32, 20, 30, 3, False)
    assert np.array_equal(rescale.rescale(f, 1.0, linear=True), f)  # a copy, not a decode/encode round trip


def test_bad_arguments_say_what_to_do():
    x = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(TypeError, match="linear must be"):
        rescale.rescale(x, 0.5, linear="yes")
    with pytest.raises(TypeError, match="classical filters"):
        rescale.rescale(x, 0.5, method="irn", linear=True)
    with pytest.raises(ValueError, match="backend 'pillow' has no linear light"):
        rescale.rescale(x, 0.5, backend="pillow", linear=True)
    with pytest.raises(ValueError, match="'P' has no linear light here; convert it to RGB"):
        rescale.rescale(Image.fromarray(x).convert("P"), 0.5, linear=True)


def test_numpy_path_imports_no_torch(tmp_path):
    np.save(tmp_path / "board.npy", checkerboard(64))
    out = run_python(
        BLOCK_TORCH
        + f"""
import sys
import numpy as np
import rescale
board = np.load({str(tmp_path / "board.npy")!r})
print(sorted(set(np.unique(rescale.rescale(board, 0.125, linear=True)).tolist())), "torch" in sys.modules)
"""
    )
    assert out.strip() == "[187, 188] False"


def test_transform_passes_linear():
    from rescale import Rescale

    board = torch.from_numpy(checkerboard(64)).expand(3, 64, 64)
    assert set(Rescale(0.125, linear=True)(board).unique().tolist()) <= {187, 188}
    assert "linear=True" in repr(Rescale(0.5, linear=True))


# --- ICC profiles -------------------------------------------------------------------------------


TONE_CURVES = {
    "para gamma 1.8": (para(1.8), gamma(1.8)),
    "para Rec. 709": (para(1 / 0.45, 1 / 1.099, 0.099 / 1.099, 1 / 4.5, 0.081), None),
    "curv gamma 2.2": (curv([round(2.2 * 256)]), gamma(563 / 256)),
    "curv table": (curv([round(65535 * (i / 1023) ** 2.0) for i in range(1024)]), None),
}


def test_srgb_profiles_are_srgb():
    assert curves_from_icc(srgb_profile()) == (SRGB, SRGB, SRGB)


@pytest.mark.parametrize("name", list(TONE_CURVES))
def test_tone_curves_agree_with_littlecms(name):
    """Grey ramp through littleCMS from a profile with these tone curves (and sRGB's primaries) to
    sRGB: sRGB's encode of our decode, to one level."""
    tag, expected = TONE_CURVES[name]
    profile = with_tone_curves(srgb_profile(), tag)
    curves = curves_from_icc(profile)
    assert len(curves) == 3 and curves[0] is not SRGB
    if expected is not None:
        assert curves[0].close_to(expected, 2e-4)
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, 2)
    to_srgb = ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"), "RGB", "RGB"
    )
    got = np.asarray(ImageCms.applyTransform(Image.fromarray(ramp), to_srgb))[0, :, 1].astype(float)
    ours = np.round(255 * SRGB.encode(curves[0].decode(np.arange(256) / 255)))
    assert np.abs(got - ours).max() <= 1, np.abs(got - ours).max()
    back = curves[0].encode(curves[0].decode(np.linspace(0, 1, 101)))
    np.testing.assert_allclose(back, np.linspace(0, 1, 101), atol=1e-9)


def test_pil_images_use_their_profile():
    """The board tagged gamma 1.8 shrinks to that curve's mean light, as linear=gamma(1.8) gives."""
    board = Image.fromarray(checkerboard(64)).convert("RGB")
    board.info["icc_profile"] = with_tone_curves(srgb_profile(), para(1.8))
    got = np.asarray(rescale.rescale(board, 0.125, linear=True))
    assert np.array_equal(got, rescale.rescale(np.asarray(board), 0.125, linear=gamma(1.8)))
    assert set(np.unique(got)) <= {int(np.round(255 * 0.5 ** (1 / 1.8))) + d for d in (-1, 0, 1)}
    board.info["icc_profile"] = srgb_profile()
    assert set(np.unique(np.asarray(rescale.rescale(board, 0.125, linear=True)))) <= {187, 188}


def test_profiles_without_tone_curves_are_treated_as_srgb():
    board = Image.fromarray(checkerboard(64)).convert("RGB")
    for profile, why in ((with_tone_curves(srgb_profile(), None), "no tone curves"), (b"junk" * 10, "truncated")):
        board.info["icc_profile"] = profile
        with pytest.warns(UserWarning, match=f"{why}.*resampling as sRGB"):
            got = rescale.rescale(board, 0.125, linear=True)
        assert set(np.unique(np.asarray(got))) <= {187, 188}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rescale.rescale(np.asarray(board), 0.125, linear=True)  # arrays have no profile: sRGB, silently


def test_curve_arguments():
    x = image(np.uint8, 30, 40, 3, False, "curves")
    y = rescale.rescale(x, 0.5, linear=parametric(2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
    assert np.array_equal(y, rescale.rescale(x, 0.5, linear=True))
    assert np.array_equal(rescale.rescale(x, 0.5, linear=srgb_profile()), y)


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_box_resamples_the_region_in_linear_light(backend):
    """box= (a region, Pillow's): linear light is the float resampling of the decoded image over the
    same region (taps outside it included, as Pillow reads them), encoded back."""
    x = image(np.uint8, 40, 50, 3, False, "box")
    box = (3.5, 2, 41, 37.25)
    decoded = srgb_decode(x / 255.0)
    want = srgb_encode(np.clip(rescale.rescale(decoded, size=(17, 13), box=box, method="lanczos"), 0, 1))
    for img in (x, torch.from_numpy(x).permute(2, 0, 1)):
        got = rescale.rescale(img, size=(17, 13), box=box, method="lanczos", linear=True, backend=backend)
        got = got.permute(1, 2, 0).numpy() if isinstance(got, torch.Tensor) else got
        assert_close(got, np.round(255 * want), 1, f"{type(img).__name__} {backend}")
