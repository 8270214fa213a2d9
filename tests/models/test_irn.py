"""IRN (invertible rescaling), its training pieces and HCD refinement, on tiny CPU models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rescale.api import down, up
from rescale.api import rescale as resize
from rescale.methods import get_refiner
from rescale.models.hcd import hcd
from rescale.models.invertible import haar, haar_inverse
from rescale.models.irn import IRN, IRNMethod, bicubic_down, pick_scale, quantize_ste
from rescale.train.irn import fit_lifts

from helpers import perturbed, smooth_image

SET5 = Path(__file__).resolve().parents[3] / "shared" / "data" / "Set5"


def test_haar_is_orthogonal_and_exactly_inverted():
    x = torch.rand(2, 3, 6, 10, dtype=torch.float64)
    y = haar(x)
    assert y.shape == (2, 12, 3, 5)
    assert torch.allclose(y[:, :3], F.avg_pool2d(x, 2))  # low band = 2x2 average, band-major
    assert torch.allclose(haar_inverse(y), x, atol=1e-12)
    assert torch.allclose(4 * y.square().sum(), x.square().sum())  # orthogonal up to the 1/4


@pytest.mark.parametrize("scale, dlv", [(2, 0), (2, 2), (4, 0)])
def test_inverse_is_exact_with_the_true_latent(scale, dlv):
    model = perturbed(IRN(scale, blocks=2, growth=8, convs=3, dlv=dlv))
    x = torch.rand(2, 3, 16, 24)
    zd = torch.randn(2, dlv, 8, 12) if dlv else None
    y = model(x, zd)
    assert y.shape == (2, model.channels, 16 // scale, 24 // scale)
    rebuilt, zd_rebuilt = model.inverse(y, return_zd=True)
    assert (rebuilt - x).abs().max() < 1e-4
    assert (y[:, :3] - bicubic_down(x, scale)).abs().max() > 1e-3  # the couplings did act
    if dlv:
        assert (zd_rebuilt - zd).abs().max() < 1e-4


@pytest.mark.parametrize("scale", [2, 4])
def test_bicubic_target_is_matlab_imresize(scale):
    x = torch.rand(2, 3, 24, 40, dtype=torch.float64)
    want = resize(x, 1 / scale, method="bicubic", edge="symmetric", backend="torch")
    assert torch.allclose(bicubic_down(x, scale), want, atol=1e-10)


def test_quantisation_rounds_to_8_bit_and_passes_the_gradient_straight_through():
    model = perturbed(IRN(2, blocks=1, growth=8, convs=3))
    x = torch.rand(1, 3, 8, 8)
    lr = model(x)[:, :3].detach().requires_grad_(True)
    q = quantize_ste(lr)
    assert torch.equal(q * 255, (q * 255).round())
    assert (q - lr).abs().max() <= 0.5 / 255 + 1e-7
    target = torch.rand(1, 3, 8, 8)
    (grad_ste,) = torch.autograd.grad((model.up(q) - target).square().sum(), lr)
    leaf = q.detach().requires_grad_(True)
    (grad_at_q,) = torch.autograd.grad((model.up(leaf) - target).square().sum(), leaf)
    assert grad_ste.abs().sum() > 0
    assert torch.allclose(grad_ste, grad_at_q)  # identity through the rounding


def test_odd_sizes_pad_and_crop_like_box_average_and_nearest():
    # A fresh IRN without lifting is a pure Haar transform: down = 2x2 average of the edge-replicated
    # image, up at z = 0 = nearest neighbour; independent formulas for the pad/crop logic.
    method = IRNMethod(models={2: IRN(2, blocks=1, growth=8, convs=3).eval()})
    x = torch.rand(1, 3, 23, 37)
    lr = method.down(x, (19, 12))
    assert torch.allclose(lr, F.avg_pool2d(F.pad(x, (0, 1, 0, 1), mode="replicate"), 2), atol=1e-6)
    hr = method.up(lr, (37, 23))
    assert torch.allclose(hr, lr.repeat_interleave(2, -1).repeat_interleave(2, -2)[..., :23, :37], atol=1e-6)
    assert pick_scale((37, 23), (10, 6)) == 4
    with pytest.raises(ValueError, match="2 or 4"):
        pick_scale((37, 23), (12, 8))


def test_grey_and_alpha_images():
    method = IRNMethod(models={2: perturbed(IRN(2, blocks=1, growth=8, convs=3))})
    grey = torch.rand(1, 1, 16, 16)
    assert method.down(grey, (8, 8)).shape == (1, 1, 8, 8)
    rgba = torch.rand(1, 4, 16, 16)
    assert method.up(method.down(rgba, (8, 8)), (16, 16)).shape == (1, 4, 16, 16)


@pytest.mark.parametrize("scale", [2, 4])
def test_tiled_equals_untiled_on_8_bit_output(scale):
    x = smooth_image(40 * scale, 56 * scale)
    model = IRN(scale, blocks=2, growth=8, convs=3)
    fit_lifts(model, x)  # a realistic start, then couplings moved off the identity
    model = perturbed(model, std=0.01)
    tiled = IRNMethod(models={scale: model}, tile=12, overlap=8)
    whole = IRNMethod(models={scale: model}, tile=0)
    size = (56, 40)
    lr_whole = down((x * 255).round().to(torch.uint8), size=size, method=whole)
    lr_tiled = down((x * 255).round().to(torch.uint8), size=size, method=tiled)
    assert (lr_whole.int() - lr_tiled.int()).abs().max() <= 1
    hr_whole = up(lr_whole, size=(56 * scale, 40 * scale), method=whole)
    hr_tiled = up(lr_whole, size=(56 * scale, 40 * scale), method=tiled)
    assert (hr_whole.int() - hr_tiled.int()).abs().max() <= 1
    assert (hr_whole.int() - (x * 255).round().int()).abs().max() > 1  # not an identity


def _fitted_haar_lift(x: torch.Tensor) -> IRN:
    """A coupling-free IRN whose lifting pair is fitted on ``x``: a linear rescaler above Haar."""
    model = IRN(2, blocks=0)
    fit_lifts(model, x)
    return model.eval().requires_grad_(False)


def test_hcd_improves_the_reconstruction():
    x = smooth_image(48, 64, seed=1)
    method = IRNMethod(models={2: _fitted_haar_lift(x)})
    plain = method.down(x, (32, 24))

    def err(lr):
        return (method.up(lr, (64, 48)) - x).square().mean().item()

    refined = get_refiner("hcd")(method, x, plain, quantize=True)
    q = (plain * 255).round() / 255
    assert torch.equal(refined * 255, (refined * 255).round())  # still 8 bit
    gain_db = 10 * np.log10(err(q) / err(refined))
    assert gain_db > 0.2
    # through the public API, uint8 in and out
    out = down((x * 255).round().to(torch.uint8), 2, method=method, refine="hcd")
    assert out.dtype == torch.uint8 and out.shape == (1, 3, 24, 32)
    with pytest.raises(ValueError, match="refine"):
        get_refiner("bogus")


def test_hcd_needs_differentiable_up():
    x = smooth_image(16, 16)
    method = IRNMethod(models={2: _fitted_haar_lift(x)})
    lr = method.down(x, (8, 8))
    out = hcd(method, x, lr, hr_steps=1, lr_steps=1, quantize=False)
    assert out.shape == lr.shape and not out.requires_grad


@pytest.mark.parametrize("scale", [2, 4])
def test_shipped_weights_reproduce_their_manifest(scale):
    from rescale.pretrained import available_weights, load_manifest

    name = f"irn_x{scale}"
    if name not in available_weights():
        pytest.skip(f"no shipped weights {name} in weights/")
    if not SET5.is_dir():
        pytest.skip(f"Set5 not found at {SET5}")
    per_image = load_manifest(name)["metrics"]["set5"]["images"]
    stored = next(v for k, v in per_image.items() if k.startswith("baby."))  # baby.png or .webp
    from PIL import Image

    from rescale.eval.metrics import psnr, quantize, rgb_to_y

    hr = np.asarray(Image.open(SET5 / "baby.png").convert("RGB"))
    hr = hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale]
    lr = down(hr, scale, method="irn")
    rebuilt = up(lr, scale, method="irn")
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None]  # noqa: E731
    got = psnr(rgb_to_y(quantize(to_t(rebuilt))), rgb_to_y(quantize(to_t(hr))), crop=scale).item()
    assert got == pytest.approx(stored, abs=0.05)
