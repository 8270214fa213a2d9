"""Image-quality metrics as the super-resolution literature computes them.

Conventions (those of the MATLAB evaluation scripts behind the published tables):

- images are compared as 8-bit: float results are rounded to ``uint8`` first (:func:`quantize`);
- Y is ITU-R BT.601 "studio swing" as MATLAB's ``rgb2ycbcr``:
  ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` for ``R, G, B`` in ``[0, 1]``, kept in float64
  (not rounded again), so it spans ``[16, 235]``;
- ``crop`` pixels are removed from every border of both images (SR papers crop ``scale``);
- PSNR is ``10 log10(255^2 / MSE)`` per image; a set's score is the mean over its images;
- SSIM is Wang et al.'s: Gaussian window 11x11, sigma 1.5, ``K1 = 0.01``, ``K2 = 0.03``, averaged
  over the window positions that fit inside the image (MATLAB ``filter2(..., 'valid')``); on RGB it
  is the mean over the three channels.

LPIPS (Zhang et al. 2018) goes through the ``lpips`` package; see :func:`load_lpips`.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path

import torch

from ..containers import from_unit

__all__ = [
    "Y_WEIGHTS",
    "quantize",
    "rgb_to_y",
    "crop_border",
    "psnr",
    "ssim",
    "LpipsUnavailable",
    "load_lpips",
    "Lpips",
]

#: MATLAB ``rgb2ycbcr`` luma row for R, G, B in [0, 1] (offset 16), on the 0..255 scale.
Y_WEIGHTS = (65.481, 128.553, 24.966)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Float ``[0, 1]`` -> float64 levels ``0..255``, rounded exactly as ``rescale`` returns 8-bit
    images (:func:`rescale.containers.from_unit`); uint8 -> float64."""
    if x.dtype == torch.uint8:
        return x.to(torch.float64)
    if not x.dtype.is_floating_point:
        raise TypeError(f"expected uint8 or a float tensor in [0, 1], got {x.dtype}")
    return from_unit(x.detach(), torch.uint8).to(torch.float64)


def rgb_to_y(x: torch.Tensor, *, grey: bool = False) -> torch.Tensor:
    """Luma of RGB levels: ``[N, 3, H, W]`` in ``0..255`` -> ``[N, 1, H, W]`` in ``16..235`` (float64).

    ``grey=True`` is for images that were greyscale files replicated to RGB: the MATLAB scripts
    behind the published tables skip ``rgb2ycbcr`` for one-channel images and score the grey level
    itself, so Y is stretched back to ``0..255`` (``(Y - 16) * 255 / 219``, exactly the grey level
    when R = G = B). This matters: on Set14 (``bridge.png``) it moves the mean by about 0.09 dB.
    """
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected RGB [N, 3, H, W], got shape {tuple(x.shape)}")
    r, g, b = (x[:, i : i + 1].to(torch.float64) / 255 for i in range(3))
    y = 16 + Y_WEIGHTS[0] * r + Y_WEIGHTS[1] * g + Y_WEIGHTS[2] * b
    return (y - 16) * (255 / 219) if grey else y


def crop_border(x: torch.Tensor, crop: int) -> torch.Tensor:
    """``x[..., crop:-crop, crop:-crop]`` (``crop = 0`` keeps everything)."""
    if crop < 0:
        raise ValueError(f"crop must be >= 0, got {crop}")
    if crop == 0:
        return x
    if x.shape[-1] <= 2 * crop or x.shape[-2] <= 2 * crop:
        raise ValueError(f"cannot crop {crop} px from each side of a {x.shape[-1]}x{x.shape[-2]} image")
    return x[..., crop:-crop, crop:-crop]


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(
            f"expected two [N, C, H, W] tensors of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def psnr(a: torch.Tensor, b: torch.Tensor, *, crop: int = 0, data_range: float = 255.0) -> torch.Tensor:
    """PSNR per image in dB: ``[N, C, H, W]`` x 2 -> ``[N]`` float64 (``inf`` where equal).

    Inputs are levels (``0..data_range``), e.g. from :func:`quantize` or :func:`rgb_to_y`.
    """
    _check_pair(a, b)
    a, b = crop_border(a, crop).to(torch.float64), crop_border(b, crop).to(torch.float64)
    mse = (a - b).square().mean(dim=(1, 2, 3))
    return 10 * torch.log10(data_range**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, *, crop: int = 0, data_range: float = 255.0) -> torch.Tensor:
    """SSIM per image: ``[N, C, H, W]`` x 2 -> ``[N]`` float64, mean over channels and valid windows.

    Computed in float64 with a separable Gaussian (11 taps, sigma 1.5) and no padding, which is
    Wang et al.'s ``ssim_index.m`` and scikit-image's ``structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False)``.
    """
    _check_pair(a, b)
    a, b = crop_border(a, crop).to(torch.float64), crop_border(b, crop).to(torch.float64)
    if min(a.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs at least 11x11 pixels after cropping, got {a.shape[-1]}x{a.shape[-2]}")
    n, c, h, w = a.shape
    g = _gaussian_window().tolist()

    def blur(t: torch.Tensor) -> torch.Tensor:
        # "valid" separable filtering as 11 shifted multiply-adds per axis: float64 conv2d on the
        # CPU has no fast path and was most of an evaluation's run time.
        k = len(g)
        rows = sum(g[i] * t[..., i : h - k + 1 + i, :] for i in range(k))
        return sum(g[i] * rows[..., i : w - k + 1 + i] for i in range(k))

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3))


# --- LPIPS ---------------------------------------------------------------------------------------

#: Environment variable naming a backbone weight file, or a folder holding torchvision's files.
LPIPS_WEIGHTS_ENV = "RESCALE_LPIPS_WEIGHTS"


class LpipsUnavailable(RuntimeError):
    """LPIPS cannot be computed here; ``str(err)`` says why (shown instead of a number)."""


def _torchvision_weights(net: str):
    from torchvision import models

    enums = {"alex": models.AlexNet_Weights.IMAGENET1K_V1, "vgg": models.VGG16_Weights.IMAGENET1K_V1}
    if net not in enums:
        raise ValueError(f"LPIPS backbone must be one of {sorted(enums)}, got {net!r}")
    return enums[net]


def _find_backbone(filename: str, weights: str | os.PathLike | None) -> Path:
    """The backbone file: ``weights`` (a file or a folder), else ``$RESCALE_LPIPS_WEIGHTS``, else the
    torch hub cache; an explicit location that lacks the file is an error, not a fallback."""
    given = weights if weights is not None else os.environ.get(LPIPS_WEIGHTS_ENV)
    if given:
        path = Path(given)
        path = path / filename if path.is_dir() else path
        source = "weights=" if weights is not None else f"${LPIPS_WEIGHTS_ENV}"
    else:
        path = Path(torch.hub.get_dir()) / "checkpoints" / filename
        source = "the torch hub cache"
    if not path.is_file():
        raise LpipsUnavailable(
            f"LPIPS backbone weights {filename} not found ({source}: {path}); they cannot be downloaded "
            f"here - copy torchvision's file there or point {LPIPS_WEIGHTS_ENV} at it"
        )
    return path


def _check_hash(path: Path) -> None:
    """torchvision names its files ``name-<first hex digits of sha256>.pth``: check them as
    ``torch.hub`` does, so a truncated or wrong file is never used."""
    m = re.search(r"-([a-f0-9]{8,})\.pth$", path.name)
    if m is None:
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(m.group(1)):
        raise LpipsUnavailable(f"{path} does not match the sha256 prefix in its name ({m.group(1)} vs {digest[:8]})")


def load_lpips(net: str = "alex", weights: str | os.PathLike | None = None, device: str | torch.device = "cpu"):
    """An :class:`Lpips` scorer ``f(a, b) -> [N]`` for float RGB ``[N, 3, H, W]`` in ``[0, 1]``.

    The linear calibration layers ship inside the ``lpips`` package; the backbone (AlexNet or VGG16
    ImageNet weights) is torchvision's file, which ``lpips`` would download. We never let it: the
    network is built without weights and the backbone is loaded from ``weights`` (file or folder),
    ``$RESCALE_LPIPS_WEIGHTS`` or ``torch.hub.get_dir()/checkpoints``, every tensor checked.

    Raises:
        LpipsUnavailable: the package or the backbone file is missing or does not fit.
    """
    filename = _torchvision_weights(net).url.rsplit("/", 1)[-1]
    path = _find_backbone(filename, weights)
    _check_hash(path)
    try:
        import lpips
    except ImportError as err:
        raise LpipsUnavailable(f"the lpips package is not installed ({err})") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file means "unavailable", with the reason
        raise LpipsUnavailable(f"cannot read LPIPS backbone {path}: {err}") from None
    if not isinstance(state, dict):
        raise LpipsUnavailable(f"{path} holds a {type(state).__name__}, not a state dict")

    with warnings.catch_warnings():  # lpips passes torchvision's deprecated pretrained=False
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)  # pnet_rand: no download
    # lpips keeps torchvision's layer indices inside its slices: net.sliceK.<i>.weight <- features.<i>.weight
    backbone = dict(model.net.named_parameters())
    missing, mismatched = [], []
    with torch.no_grad():
        for name, param in backbone.items():
            key = "features." + name.split(".", 1)[1]
            if key not in state:
                missing.append(key)
            elif state[key].shape != param.shape:
                mismatched.append(key)
            else:
                param.copy_(state[key])
    if missing or mismatched or not backbone:
        raise LpipsUnavailable(
            f"{path} is not a torchvision {net} checkpoint (missing {missing[:3]}, wrong shape {mismatched[:3]})"
        )
    return Lpips(model.to(device).eval(), path, device)


class Lpips:
    """LPIPS distance per image: float RGB ``[N, 3, H, W]`` in ``[0, 1]`` x 2 -> ``[N]`` float64."""

    def __init__(self, model: torch.nn.Module, backbone: Path, device):
        self.model, self.backbone, self.device = model, backbone, device

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        _check_pair(a, b)
        with torch.no_grad():
            d = self.model(a.to(self.device, torch.float32), b.to(self.device, torch.float32), normalize=True)
        return d.flatten().double().cpu()
