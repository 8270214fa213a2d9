"""rescale.eval.metrics against known values and independent implementations (scikit-image, kornia)."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch

from rescale.eval import metrics
from rescale.eval.metrics import LpipsUnavailable, crop_border, load_lpips, psnr, quantize, rgb_to_y, ssim


def test_psnr_of_known_mse():
    a = torch.full((2, 3, 10, 12), 100.0, dtype=torch.float64)
    b = a.clone()
    b[0] += 1  # MSE 1
    b[1, :, ::2] += 4  # half the pixels off by 4: MSE 8
    got = psnr(a, b)
    assert got.shape == (2,)
    assert got[0].item() == pytest.approx(20 * math.log10(255), abs=1e-12)  # 48.1308 dB
    assert got[1].item() == pytest.approx(10 * math.log10(255**2 / 8), abs=1e-12)
    assert math.isinf(psnr(a, a)[0].item())


def test_psnr_border_crop_ignores_border():
    a = torch.zeros(1, 1, 20, 20, dtype=torch.float64)
    b = a.clone()
    b[..., :3, :] = 255  # garbage in a 3-pixel top border
    b[..., 3:-3, 3:-3] += 2
    assert psnr(a, b, crop=3).item() == pytest.approx(10 * math.log10(255**2 / 4), abs=1e-12)
    assert psnr(a, b).item() < 20
    assert crop_border(a, 3).shape == (1, 1, 14, 14)
    with pytest.raises(ValueError, match="cannot crop"):
        crop_border(a, 10)


def test_y_of_pure_colours_matches_matlab_rgb2ycbcr():
    colours = torch.tensor([[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=torch.float64)
    x = colours.T.reshape(1, 3, 1, 5)
    y = rgb_to_y(x).flatten().tolist()
    # MATLAB: rgb2ycbcr(double([0 0 0; 1 1 1; 1 0 0; 0 1 0; 0 0 1])) * 255 -> Y column
    assert y == pytest.approx([16.0, 235.0, 81.481, 144.553, 40.966], abs=1e-9)
    grey = torch.arange(256, dtype=torch.float64).view(1, 1, 1, 256).expand(1, 3, 1, 256)
    assert rgb_to_y(grey, grey=True).flatten().numpy() == pytest.approx(np.arange(256), abs=1e-9)
    with pytest.raises(ValueError, match="RGB"):
        rgb_to_y(torch.zeros(1, 1, 4, 4))


def test_quantize_rounds_like_saving_8_bit():
    x = torch.tensor([-0.1, 0.0, 0.5 / 255, 1.49 / 255, 0.5, 1.2]).view(1, 1, 1, 6)
    assert quantize(x).flatten().tolist() == [0, 0, 0, 1, 128, 255]
    assert quantize(torch.tensor([[[[7]]]], dtype=torch.uint8)).item() == 7
    with pytest.raises(TypeError):
        quantize(torch.zeros(1, 1, 1, 1, dtype=torch.int32))


def _pair(seed: int, shape=(1, 3, 48, 61)):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(shape, generator=g, dtype=torch.float64)
    base = torch.nn.functional.avg_pool2d(base, 5, stride=1, padding=2) * 255  # some structure
    noisy = (base + 25 * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 255).round()
    return base.round(), noisy


@pytest.mark.parametrize("seed, crop", [(0, 0), (1, 4), (2, 2)])
def test_ssim_matches_scikit_image(seed, crop):
    skm = pytest.importorskip("skimage.metrics")
    a, b = _pair(seed)
    ours = ssim(a, b, crop=crop)
    ac, bc = crop_border(a, crop)[0].permute(1, 2, 0).numpy(), crop_border(b, crop)[0].permute(1, 2, 0).numpy()
    want = skm.structural_similarity(
        ac, bc, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=2
    )
    assert ours.item() == pytest.approx(want, abs=1e-12)
    assert 0.2 < want < 0.99  # a meaningful value, not a degenerate 0 or 1


def test_ssim_matches_kornia():
    kornia = pytest.importorskip("kornia")
    a, b = _pair(3, (2, 1, 40, 40))
    want = kornia.metrics.ssim(a, b, 11, max_val=255.0, padding="valid").mean((1, 2, 3))
    torch.testing.assert_close(ssim(a, b), want, rtol=0, atol=1e-12)


def test_ssim_identity_and_errors():
    a, _ = _pair(4)
    assert ssim(a, a).item() == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        ssim(a, a[..., :-1])
    with pytest.raises(ValueError, match="11x11"):
        ssim(a[..., :10, :10], a[..., :10, :10])


# --- LPIPS ---------------------------------------------------------------------------------------


@pytest.fixture
def no_downloads(monkeypatch):
    """Fail the test if anything tries to fetch weights from the internet."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"attempted download: {args} {kwargs}")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def test_lpips_unavailable_without_weights(tmp_path, monkeypatch, no_downloads):
    monkeypatch.delenv(metrics.LPIPS_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(LpipsUnavailable, match=r"alexnet-owt-\w+\.pth not found \(the torch hub cache"):
        load_lpips()
    monkeypatch.setenv(metrics.LPIPS_WEIGHTS_ENV, str(tmp_path))  # a folder without the file
    with pytest.raises(LpipsUnavailable, match="RESCALE_LPIPS_WEIGHTS"):
        load_lpips()
    with pytest.raises(LpipsUnavailable, match="weights="):
        load_lpips(weights=tmp_path / "missing.pth")


def test_lpips_rejects_a_file_that_fails_its_hash(tmp_path, monkeypatch, no_downloads):
    pytest.importorskip("torchvision")
    name = metrics._torchvision_weights("alex").url.rsplit("/", 1)[-1]
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / name).write_bytes(b"truncated download")
    monkeypatch.delenv(metrics.LPIPS_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(LpipsUnavailable, match="sha256"):
        load_lpips()


def test_lpips_rejects_a_file_of_the_wrong_network(tmp_path, no_downloads):
    pytest.importorskip("lpips")
    torch.save({"features.0.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(LpipsUnavailable, match="not a torchvision alex checkpoint"):
        load_lpips(weights=tmp_path / "other.pth")


def test_lpips_uses_the_given_backbone_not_random_weights(tmp_path, no_downloads):
    pytest.importorskip("lpips")
    from torchvision.models import alexnet

    torch.manual_seed(0)
    # the convolutional part is all LPIPS uses (and keeps the file small)
    state = {k: v for k, v in alexnet(weights=None).state_dict().items() if k.startswith("features.")}
    path = tmp_path / "alexnet-mine.pth"  # no hash in the name: loaded with key and shape checks only
    torch.save(state, path)
    score = load_lpips(weights=path)
    assert score.backbone == path
    for name, param in score.model.net.named_parameters():  # the backbone in use is the file's
        assert torch.equal(param, state["features." + name.split(".", 1)[1]])
    x = torch.rand(2, 3, 64, 64)
    y = (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    d = score(x, y)
    assert d.shape == (2,) and torch.all(d > 0)
    assert torch.allclose(score(x, x), torch.zeros(2, dtype=torch.float64), atol=1e-6)
    # torchvision-named files are checked against their hash prefix and then accepted
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    named = tmp_path / f"alexnet-owt-{digest}.pth"
    path.rename(named)
    assert torch.equal(load_lpips(weights=named)(x, y), d)
