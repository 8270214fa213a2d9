"""ESPCN: the network, its Method (Y network + bicubic chroma), the trainer's data path, and the
shipped weights against the numbers stored in their manifests."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rescale
from rescale.methods import matlab_bicubic
from rescale.models.espcn import ESPCNNet, load, pick_scale, rgb_to_ycbcr, ycbcr_to_rgb

SET5 = Path(__file__).resolve().parents[3] / "shared" / "data" / "Set5"
#: Bicubic Set5 Y-PSNR (dB), the floor any shipped weights must beat (the targets are in
#: docs/espcn.md, beside the measured numbers).
BICUBIC_SET5 = {2: 33.66, 3: 30.39, 4: 28.42}


@pytest.fixture(scope="module")
def espcn():
    torch.manual_seed(0)
    return load(pretrained=False)


# --- network and pixel shuffle --------------------------------------------------------------------


def test_pixel_shuffle_channel_order_by_hand():
    # r = 2, C = 2, one LR row of two pixels; input channel k at pixel w holds 10 k + w.
    # Output channel c, pixel (h r + i, w r + j) comes from input channel c r^2 + i r + j (c slowest,
    # unlike the paper's channel-last formula where c is fastest).
    x = (10 * torch.arange(8.0)[:, None] + torch.arange(2.0)).reshape(1, 8, 1, 2)
    expected = torch.tensor([[[0.0, 10, 1, 11], [20, 30, 21, 31]], [[40, 50, 41, 51], [60, 70, 61, 71]]])
    assert torch.equal(F.pixel_shuffle(x, 2)[0], expected)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_network_places_last_layer_channels(scale):
    # A last layer that outputs the constant k on channel k: each r x r block must read 0 .. r^2 - 1
    # row by row, whatever the input.
    net = ESPCNNet(scale)
    with torch.no_grad():
        net.conv3.weight.zero_()
        net.conv3.bias.copy_(torch.arange(scale * scale, dtype=torch.float32))
    out = net(torch.rand(2, 1, 3, 5))
    block = torch.arange(scale * scale, dtype=torch.float32).reshape(scale, scale)
    assert out.shape == (2, 1, 3 * scale, 5 * scale)
    assert torch.equal(out, block.repeat(3, 5).expand_as(out))


@pytest.mark.parametrize("scale, params", [(2, 21_284), (3, 22_729), (4, 24_752)])
def test_parameter_count_is_the_papers(scale, params):
    assert sum(p.numel() for p in ESPCNNet(scale).parameters()) == params


def test_replicate_padding_leaves_no_frame():
    # A flat image: with the edge pixels repeated every LR pixel sees the same flat input, so the
    # output repeats one 2x2 block (the sub-pixel channels) to float precision; zero padding makes a
    # frame as wide as the receptive field.
    torch.manual_seed(0)
    zeros, replicate = ESPCNNet(2), ESPCNNet(2, padding="replicate")
    replicate.load_state_dict(zeros.state_dict())
    flat = torch.full((1, 1, 12, 10), 0.7)
    with torch.no_grad():
        out_r, out_z = replicate(flat), zeros(flat)
    inner = out_z[..., 8:-8, 8:-8]  # 4 LR px from every edge: untouched by any padding
    assert torch.allclose(out_r, inner[..., :2, :2].repeat(1, 1, 12, 10), atol=1e-6)
    assert torch.allclose(out_r[..., 8:-8, 8:-8], inner, atol=1e-6)
    assert (out_z - out_r).abs().amax() > 1e-3
    with pytest.raises(ValueError, match="padding"):
        ESPCNNet(2, padding="reflect101")


def test_training_resumes_with_another_padding(tmp_path, capsys):
    """A later stage may switch ``--padding``: the weights carry over, the export records it."""
    import argparse
    import json

    from PIL import Image

    from rescale.train import espcn as trainer

    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    parser = argparse.ArgumentParser()
    trainer.add_arguments(parser)
    common = ["--scale", "2", "--data", str(tmp_path), "--batch", "2", "--threads", "1", "--run", str(tmp_path / "run")]
    assert trainer.main(parser.parse_args([*common, "--steps", "2"])) == 0
    args = parser.parse_args([*common, "--steps", "4", "--padding", "replicate", "--export", str(tmp_path / "w")])
    assert trainer.main(args) == 0
    assert "padding zeros -> replicate from step 2" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "w.json").read_text())
    assert manifest["architecture"]["args"]["padding"] == "replicate" and manifest["steps"] == 4
    with pytest.raises(SystemExit, match="network"):  # a different network still cannot resume
        trainer.main(parser.parse_args([*common[:1], "3", *common[2:], "--steps", "6"]))
    # a new x4 run can start from these x2 weights (--init)
    x4 = ["--scale", "4", *common[2:-1], str(tmp_path / "run4"), "--steps", "1", "--patch", "32"]
    x4 += ["--init", str(tmp_path / "w.safetensors")]
    assert trainer.main(parser.parse_args(x4)) == 0
    assert "started from" in capsys.readouterr().out
    x4[x4.index("1", x4.index("--steps"))] = "2"  # resumed without --init, the manifest still says where it began
    assert trainer.main(parser.parse_args(x4[:-2] + ["--export", str(tmp_path / "w4")])) == 0
    assert json.loads((tmp_path / "w4.json").read_text())["training"]["init"] == str(tmp_path / "w.safetensors")


@pytest.mark.parametrize("source, target", [(2, 4), (2, 3), (3, 2)])
def test_a_run_started_from_another_scale_is_that_network_upscaled_by_nearest(source, target):
    from rescale.train.espcn import init_from_other_scale

    torch.manual_seed(0)
    src = ESPCNNet(source)
    torch.nn.init.normal_(src.conv3.weight, 0, 0.1)  # not the tiny init: every sub-pixel differs
    torch.nn.init.normal_(src.conv3.bias, 0.5, 0.1)
    net = ESPCNNet(target)
    init_from_other_scale(net, src.state_dict(), source)
    x = torch.rand(1, 1, 6, 7)
    a, b = net(x), src(x)
    # output pixel (target * h + i) of net: output pixel (source * h + i * source // target) of src
    rows = torch.tensor([source * (k // target) + (k % target) * source // target for k in range(a.shape[-2])])
    cols = torch.tensor([source * (k // target) + (k % target) * source // target for k in range(a.shape[-1])])
    assert torch.allclose(a, b[..., rows[:, None], cols[None, :]], atol=1e-6)


# --- the Method ------------------------------------------------------------------------------------


def test_ycbcr_matches_skimage_and_round_trips():
    color = pytest.importorskip("skimage.color")
    x = torch.rand(2, 3, 4, 5, dtype=torch.float64)
    ours = rgb_to_ycbcr(x) * 255
    ref = color.rgb2ycbcr(x.permute(0, 2, 3, 1).numpy())  # MATLAB convention, 0..255 scale
    np.testing.assert_allclose(ours.permute(0, 2, 3, 1).numpy(), ref, atol=1e-9)
    torch.testing.assert_close(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-12, rtol=0)


def test_pick_scale():
    assert pick_scale((10, 10), (20, 20), (2, 3, 4)) == 2
    assert pick_scale((10, 10), (25, 21), (2, 3, 4)) == 3  # round up, then shrink
    assert pick_scale((10, 10), (30, 30), (2, 3, 4)) == 3
    assert pick_scale((10, 10), (60, 60), (2, 3, 4)) == 4  # largest, then bicubic
    assert pick_scale((10, 10), (10, 8), (2, 3, 4)) is None


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_shapes(espcn, scale, channels):
    x = torch.rand(2, channels, 7, 11)
    for size in [(11 * scale, 7 * scale), (11 * scale + 1, 7 * scale - 2)]:
        out = espcn.up(x, size)
        assert out.shape == (2, channels, size[1], size[0]) and out.dtype == x.dtype


def test_colour_is_y_network_plus_bicubic_chroma(espcn):
    x = torch.rand(1, 3, 9, 13, dtype=torch.float64)
    out = espcn.up(x, (39, 27))
    ycbcr = rgb_to_ycbcr(x)
    got = rgb_to_ycbcr(out)
    with torch.no_grad():
        y = espcn.nets[3](ycbcr[:, :1].float()).double()
    torch.testing.assert_close(got[:, :1], y, atol=1e-6, rtol=0)
    torch.testing.assert_close(got[:, 1:], matlab_bicubic().up(ycbcr[:, 1:], (39, 27)), atol=1e-9, rtol=0)


def test_grey_is_rgb_with_equal_channels(espcn):
    g = torch.rand(1, 1, 8, 6, dtype=torch.float64)
    grey = espcn.up(g, (24, 32))
    rgb = espcn.up(g.expand(1, 3, 8, 6), (24, 32))
    torch.testing.assert_close(grey[:, 0], rgb[:, 0], atol=1e-6, rtol=0)
    torch.testing.assert_close(rgb[:, 0], rgb[:, 2], atol=1e-6, rtol=0)


def test_up_uint8_in_uint8_out():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (10, 7, 3), dtype=np.uint8)
    out = rescale.up(img, 3, method="espcn", pretrained=False)
    assert out.dtype == np.uint8 and out.shape == (30, 21, 3)
    t = torch.from_numpy(img).permute(2, 0, 1)[None].repeat(2, 1, 1, 1)
    out_t = rescale.up(t, size=(15, 19), method="espcn", pretrained=False)  # ratio 2.1 -> x3, shrink
    assert out_t.dtype == torch.uint8 and out_t.shape == (2, 3, 19, 15)


def test_rescale_routes_pil_images_to_espcn(monkeypatch):
    from PIL import Image

    from rescale import methods

    monkeypatch.setitem(methods._LEARNED, "espcn", lambda **params: load(pretrained=False))  # no weights needed
    img = Image.fromarray(np.random.default_rng(1).integers(0, 256, (6, 9, 3), dtype=np.uint8))
    out = rescale.rescale(img, 3, method="espcn")
    assert out.mode == "RGB" and out.size == (27, 18)


def test_bad_input(espcn):
    with pytest.raises(ValueError):
        espcn.up(torch.rand(1, 5, 4, 4), (8, 8))
    with pytest.raises(TypeError):
        espcn.up(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), (8, 8))


def test_missing_weights_say_so(tmp_path):
    m = load(weights=str(tmp_path / "none_x{scale}.safetensors"))
    with pytest.raises(FileNotFoundError):
        m.up(torch.rand(1, 3, 4, 4), (8, 8))


# --- the trainer's data path ----------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_patch_lr_equals_whole_image_lr(scale):
    # The training LR of a patch is, level for level, the evaluation's LR of the whole image
    # (MATLAB imresize on uint8, each pass rounded) at the same place; rounding once at the end
    # instead (as make_lr once did) is off by one level on 10-15% of the pixels.
    from rescale.eval.datasets import imresize_uint8
    from rescale.train.espcn import BICUBIC_MARGIN, make_lr

    m = BICUBIC_MARGIN
    img = (torch.rand(1, 3, 24 * scale, 20 * scale) * 255).round().to(torch.uint8)
    bicubic = matlab_bicubic()
    whole = imresize_uint8(img, (20, 24))[..., m:-m, m:-m].float()
    rounded_once = (bicubic.down(img.float() / 255, (20, 24)) * 255).round()[..., m:-m, m:-m]
    assert (rounded_once != whole).any()
    y0, x0 = 5, 3  # LR corner of the patch's margin
    patch = img[..., y0 * scale : (y0 + 10 + 2 * m) * scale, x0 * scale : (x0 + 8 + 2 * m) * scale]
    lr, hr = make_lr(patch, scale, bicubic)
    assert torch.equal(lr, whole[..., y0 : y0 + 10, x0 : x0 + 8] / 255)
    assert torch.equal(
        hr, img[..., (y0 + m) * scale : (y0 + m + 10) * scale, (x0 + m) * scale : (x0 + m + 8) * scale].float() / 255
    )


def test_batch_cropper_gives_transformed_subimages():
    from rescale.train.espcn import BatchCropper

    images = [
        torch.randint(0, 256, (3, 13, 17), dtype=torch.uint8),
        torch.randint(0, 256, (3, 9, 9), dtype=torch.uint8),
    ]
    crops = BatchCropper(images, 5, seed=1)(32)
    assert crops.shape == (32, 3, 5, 5) and crops.dtype == torch.uint8
    for c in crops:  # each crop is a window of some image under one of the 8 flips / rotations
        views = [v for k in range(4) for v in (torch.rot90(c, k, (1, 2)), torch.rot90(c.flip(-1), k, (1, 2)))]
        windows = (im.unfold(1, 5, 1).unfold(2, 5, 1).permute(1, 2, 0, 3, 4).reshape(-1, 3, 5, 5) for im in images)
        assert any((w == v).all(dim=(1, 2, 3)).any() for w in windows for v in views)


def test_training_images_shrunk_copies(tmp_path):
    """``--shrinks``: one landscape copy per factor, the shrunk one an antialiased downscale (its
    mean tone kept, and it follows a 2x2 box average of the original)."""
    from PIL import Image

    from rescale.train.espcn import load_training_images

    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 256, (12, 8, 3)), np.ones((4, 4, 1))).astype(np.uint8)  # 48 x 32
    Image.fromarray(smooth).save(tmp_path / "portrait.png")
    full, half = load_training_images([tmp_path], shrinks=(1, 0.5))
    assert full.shape == (3, 32, 48) and half.shape == (3, 16, 24)  # transposed to landscape
    assert torch.equal(full, torch.from_numpy(smooth).permute(2, 1, 0))
    box = full.double().reshape(3, 16, 2, 24, 2).mean(dim=(2, 4))
    assert abs(half.double().mean() - full.double().mean()) < 1
    assert np.corrcoef(half.double().flatten(), box.flatten())[0, 1] > 0.95


# --- shipped weights ----------------------------------------------------------------------------


def _shipped(scale):
    from rescale.pretrained import available_weights, load_manifest

    name = f"espcn_x{scale}"
    if name not in available_weights():
        pytest.skip(f"no shipped weights {name} yet (train with python -m rescale.train espcn --scale {scale})")
    if not SET5.is_dir():
        pytest.skip(f"Set5 not found at {SET5}")
    return name, load_manifest(name)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_shipped_weights_reproduce_manifest(scale):
    from rescale.train.espcn import load_eval_set, set5_psnr

    name, manifest = _shipped(scale)
    stored = manifest["metrics"]["per_image"]
    method = rescale.get_method("espcn")
    scores = set5_psnr(method, load_eval_set(SET5), scale, "cpu")
    for image, value in stored.items():  # recorded on the training device, here on the CPU
        assert scores[image] == pytest.approx(value, abs=0.01), image
    assert scores["mean"] > BICUBIC_SET5[scale]  # whatever the training budget, better than bicubic
