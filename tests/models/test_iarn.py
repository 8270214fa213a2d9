"""IARN (one invertible rescaler for any scale 1-4 per axis): pivot, scale encoding, invertibility,
the registered method through the public API, HCD, and the shipped weights."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import rescale
from rescale.eval.datasets import scaled_sizes
from rescale.eval.metrics import psnr, quantize, rgb_to_y
from rescale.models.iarn import IARN, IARNMethod, check_sizes, from_irn, pivot_inverse, scale_encoding, to_pivot
from rescale.models.irn import IRN
from rescale.pretrained import available_weights

from helpers import perturbed, smooth_image

SET5 = Path(__file__).resolve().parents[3] / "shared" / "data" / "Set5"
SHIPPED = "iarn" in available_weights()


def tiny_iarn(seed: int = 0) -> IARN:
    """A small IARN with every weight off its identity initialisation, so couplings and the
    condition inputs act."""
    return perturbed(IARN(blocks=1, growth=4, convs=2), std=0.05, seed=seed)


@pytest.mark.parametrize(
    "hr, lr", [((37, 50), (30, 20)), ((33, 33), (30, 30)), ((64, 48), (16, 12)), ((40, 25), (11, 20))]
)
def test_pivot_inverse_is_the_exact_left_inverse_of_the_enlargement(hr, lr):
    W, H = hr
    x = torch.rand(2, 3, H, W, dtype=torch.float64)
    back = pivot_inverse(to_pivot(x, lr), hr)
    assert back.shape == x.shape
    assert torch.allclose(back, x, atol=1e-9)
    # For any pivot p, U+ p is the least-squares solution: U^T (U x - p) = 0, with U^T taken from
    # autograd through the resampling kernels (independent of the dense matrices inside U+).
    p = torch.rand(1, 1, 4 * lr[1], 4 * lr[0], dtype=torch.float64)
    x = pivot_inverse(p, hr).requires_grad_()
    (normal,) = torch.autograd.grad(to_pivot(x, lr), x, to_pivot(x, lr).detach() - p)
    assert normal.abs().max() < 1e-9


def test_scale_encoding_holds_factors_and_phases():
    enc = scale_encoding((100, 60), (50, 20), 20, 50)
    assert enc.shape == (1, 4, 20, 50)
    assert torch.allclose(enc[0, 0], torch.full((20, 50), (60 / 20 - 1) / 3))
    assert torch.allclose(enc[0, 1], torch.full((20, 50), (100 / 50 - 1) / 3))
    # x2 horizontally: every LR centre falls half-way between two HR pixels; x3 vertically: on one
    assert torch.allclose(enc[0, 3], torch.full((20, 50), 0.5))
    assert torch.allclose(enc[0, 2], torch.zeros(20, 50))
    odd = scale_encoding((10, 10), (4, 4), 4, 4)[0, 2, :, 0]  # centres at 0.75, 3.25, 5.75, 8.25
    assert torch.allclose(odd, torch.tensor([0.75, 0.25, 0.75, 0.25]))


@pytest.mark.parametrize("hr, lr", [((45, 30), (30, 10)), ((24, 24), (16, 16)), ((50, 41), (13, 37))])
def test_trunk_is_exactly_invertible_with_the_true_latent(hr, lr):
    model = tiny_iarn()
    x = smooth_image(hr[1], hr[0])
    y = model.down(x, lr)
    assert y.shape == (1, 48, lr[1], lr[0])
    assert torch.allclose(model.up(y, hr), x, atol=1e-5)  # the couplings run in float32


def test_starts_as_irn_x4_and_only_the_condition_inputs_are_new():
    irn = perturbed(IRN(4, blocks=2, growth=8, convs=3), std=0.05)
    model = IARN(blocks=2, growth=8, convs=3)
    assert from_irn(model, irn.state_dict()) == len(irn.state_dict())
    x = smooth_image(32, 48)
    assert torch.allclose(model.down(x, (12, 8)), irn(x), atol=1e-5)  # scale exactly 4: pivot = HR
    with pytest.raises(ValueError, match="does not fit"):
        from_irn(model, IRN(4, blocks=2, growth=4, convs=3).state_dict())


def test_sizes_outside_one_to_four_are_refused():
    check_sizes((100, 100), (25, 25))
    check_sizes((9, 9), (2, 2))  # the size rule rounds 9 / 4 to 2
    for lr in [(24, 25), (101, 50), (50, 0)]:
        with pytest.raises(ValueError, match="1 to 4"):
            check_sizes((100, 100), lr)
    method = IARNMethod(model=tiny_iarn())
    with pytest.raises(ValueError, match="1 to 4"):
        rescale.down(torch.rand(1, 3, 40, 40), 5, method=method)


def test_method_shapes_dtypes_asymmetric_and_non_integer_sizes():
    method = IARNMethod(model=tiny_iarn())
    img = (smooth_image(45, 67) * 255).round().to(torch.uint8)[0]  # CxHxW uint8
    lr = rescale.down(img, 1.5, 3, method=method)
    assert lr.dtype == torch.uint8 and lr.shape == (3, 15, 45)  # round(67 / 1.5) = 45, 45 / 3 = 15
    hr = rescale.up(lr, size=(67, 45), method=method)
    assert hr.dtype == torch.uint8 and hr.shape == img.shape
    # rescale() picks the direction from the size; a non-integer factor per axis
    small = rescale.rescale(img, 1 / 2.3, 1 / 1.7, method=method)
    assert small.shape == (3, round(45 / 1.7), round(67 / 2.3))
    # grey and RGBA numpy images
    grey = np.asarray(img[0])
    assert rescale.down(grey, 2.5, method=method).shape == (18, 27)
    rgba = np.dstack([np.asarray(img.permute(1, 2, 0)), np.full((45, 67), 200, np.uint8)])
    out = rescale.down(rgba, 2, method=method)
    assert out.shape == (23, 34, 4) and np.all(out[..., 3] == 200)


def test_tiled_equals_untiled_on_8_bit_output():
    model = tiny_iarn(seed=3)
    x = smooth_image(70, 90)
    whole, tiled = IARNMethod(model=model, tile=0), IARNMethod(model=model, tile=8, overlap=12)
    lr_size, hr_size = (40, 28), (90, 70)
    a, b = whole.down(x, lr_size), tiled.down(x, lr_size)
    assert (quantize(a) - quantize(b)).abs().max() <= 1
    lr = quantize(a).float() / 255
    assert (quantize(whole.up(lr, hr_size)) - quantize(tiled.up(lr, hr_size))).abs().max() <= 1


def test_gradients_reach_the_input_for_hcd():
    method = IARNMethod(model=tiny_iarn())
    x = smooth_image(30, 40).requires_grad_()
    lr = method.down(x, (16, 12))
    method.up(lr, (40, 30)).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def _y_psnr(a: np.ndarray, b: np.ndarray, crop: int) -> float:
    t = lambda v: torch.from_numpy(np.ascontiguousarray(v)).permute(2, 0, 1)[None]  # noqa: E731
    return psnr(rgb_to_y(quantize(t(a))), rgb_to_y(quantize(t(b))), crop=crop).item()


def _set5(name: str) -> np.ndarray:
    if not SHIPPED:
        pytest.skip("no shipped weights iarn in weights/")
    if not SET5.is_dir():
        pytest.skip(f"Set5 not found at {SET5}")
    from PIL import Image

    return np.asarray(Image.open(SET5 / name).convert("RGB"))


@pytest.mark.parametrize("sx, sy", [(2.5, 2.5), (1.5, 3.0)])
def test_shipped_weights_beat_bicubic_by_3_db(sx, sy):
    hr = _set5("bird.png")
    (W, H), lr_size = scaled_sizes(hr.shape[1], hr.shape[0], sx, sy)
    hr = hr[:H, :W]
    crop = math.ceil(max(sx, sy))
    ours = rescale.up(rescale.down(hr, size=lr_size, method="iarn"), size=(W, H), method="iarn")
    bicubic = rescale.rescale(rescale.rescale(hr, size=lr_size, method="bicubic"), size=(W, H), method="bicubic")
    assert _y_psnr(ours, hr, crop) > _y_psnr(bicubic, hr, crop) + 3


def test_hcd_on_iarn_improves_the_reconstruction():
    hr = _set5("head.png")[:96, :96]
    plain = rescale.down(hr, 2.5, method="iarn")
    refined = rescale.down(hr, 2.5, method="iarn", refine="hcd")
    assert refined.dtype == np.uint8 and refined.shape == plain.shape
    gain = _y_psnr(rescale.up(refined, size=(96, 96), method="iarn"), hr, 3) - _y_psnr(
        rescale.up(plain, size=(96, 96), method="iarn"), hr, 3
    )
    assert gain > 0.1
