"""The evaluation protocol of ``rescale eval``: score a rescaling method on image sets the way the SR
literature does.

Protocol, per HR image and scale ``s`` (``sx``, ``sy``), by the method's ``kind``:

- every kind: ``HR`` is cropped to a multiple of ``s`` (:func:`rescale.eval.datasets.scaled_sizes`); the
  reference ``bicubic LR`` is MATLAB ``imresize(HR, 1/s, 'bicubic')`` on uint8
  (:func:`rescale.eval.datasets.imresize_uint8`);
- ``upscaler`` (SR networks): ``LR = bicubic LR``, ``SR = method.up(LR)``;
- ``rescaler`` (IRN family): ``LR = method.down(HR)`` rounded to uint8, as it would be saved;
  ``SR = method.up(LR)``;
- ``classical`` filters: down and up with the filter, both MATLAB ``imresize`` style (antialiased,
  mirrored edges, uint8 after every pass) whatever edge mode the filter has elsewhere, so
  ``--method bicubic`` is the literature's "Bicubic & Bicubic" baseline;
- ``--jpeg Q``: the LR goes through a Pillow JPEG file at quality ``Q`` (4:2:0) before ``up``.

``SR`` is rounded to uint8, then scored against ``HR`` with :mod:`rescale.eval.metrics`: PSNR and SSIM on
Y (greyscale files: on their grey level, as the MATLAB scripts) and on RGB with ``ceil(max(sx, sy))``
border pixels cropped, LPIPS (AlexNet, same crop) where its weights are present. Methods that make
their own LR (rescalers, classical) also get the PSNR of their LR against the bicubic LR (no crop,
as IRN's test script). Seconds per image time the
method's own passes only (not loading or scoring).

    rescale eval --method bicubic --scale 2 --scale 4 --sets Set5,Set14,BSD100
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..methods import Classical, Method, get_method, is_method, load_method
from . import metrics
from .datasets import ImageFolder, imresize_uint8, resolve_set, scaled_sizes

__all__ = [
    "evaluate",
    "prepare_method",
    "upscale_pair",
    "score_pair",
    "score_sample",
    "collect_set",
    "jpeg_roundtrip",
    "SetResult",
    "Pair",
    "format_scale",
]


# --- one image -----------------------------------------------------------------------------------


def prepare_method(name: str | Method, device: str | torch.device = "cpu") -> Method:
    """The method to evaluate: learned ones from the registry (moved to ``device`` when they can
    be), classical filters rebuilt MATLAB style (antialiased, mirrored edges, float64 reference
    kernels, which :func:`rescale.eval.datasets.imresize_uint8` needs)."""
    if isinstance(name, str) and is_method(name):
        method = load_method(name, str(device))
    else:
        method = get_method(name)
    if method.kind == "classical":
        return Classical(method.filter, antialias=True, edge="symmetric", backend="torch")
    if method.kind not in ("upscaler", "rescaler"):
        raise ValueError(f"method {method.name!r} has unknown kind {method.kind!r}")
    if callable(getattr(method, "to", None)):  # a Method instance passed in: to the device
        method = method.to(device) or method
    if callable(getattr(method, "eval", None)):
        method.eval()
    return method


def jpeg_roundtrip(x: torch.Tensor, quality: int) -> torch.Tensor:
    """uint8 ``[1, 3, H, W]`` through a Pillow JPEG file at ``quality`` (default 4:2:0 chroma)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(x[0].permute(1, 2, 0).cpu().numpy()).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as img:
        arr = torch.from_numpy(np.asarray(img.convert("RGB")).copy())
    return arr.permute(2, 0, 1).unsqueeze(0).to(x.device)


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return metrics.quantize(x).to(torch.uint8)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Pair:
    """One image's results: uint8 ``[1, 3, H, W]`` tensors on the CPU."""

    hr: torch.Tensor  #: HR cropped to a multiple of the scale
    lr: torch.Tensor  #: the LR the method upscaled (after JPEG if any)
    bicubic_lr: torch.Tensor  #: MATLAB bicubic LR of ``hr``
    sr: torch.Tensor  #: the method's reconstruction
    seconds: float  #: time in the method's own passes


def upscale_pair(
    method: Method, hr: torch.Tensor, sx: float, sy: float, *, jpeg: int | None = None, device="cpu"
) -> Pair:
    """Run the protocol of the module docstring on one uint8 ``[1, 3, H, W]`` image."""
    device = torch.device(device)
    (w, h), lr_size = scaled_sizes(hr.shape[-1], hr.shape[-2], sx, sy)
    hr = hr[..., :h, :w]
    bicubic = imresize_uint8(hr, lr_size)
    classical = method.kind == "classical"
    _sync(device)
    start = time.perf_counter()
    if classical:
        lr = imresize_uint8(hr.to(device), lr_size, method)
    elif method.kind == "rescaler":
        lr = _to_uint8(method.down(hr.to(device, torch.float32) / 255, lr_size))
    else:
        lr = bicubic.to(device)
    elapsed = time.perf_counter() - start
    if jpeg is not None:
        lr = jpeg_roundtrip(lr, jpeg)
    start = time.perf_counter()
    if classical:
        sr = imresize_uint8(lr, (w, h), method)
    else:
        sr = _to_uint8(method.up(lr.to(torch.float32) / 255, (w, h)))
    _sync(device)
    elapsed += time.perf_counter() - start
    if sr.shape != hr.shape or lr.shape[-2:] != (lr_size[1], lr_size[0]):
        raise ValueError(
            f"{method.name}: LR {tuple(lr.shape)} / SR {tuple(sr.shape)} "
            f"do not fit HR {tuple(hr.shape)} at scale {sx}x{sy}"
        )
    return Pair(hr, lr.cpu(), bicubic, sr.cpu(), elapsed)


def score_pair(
    pair: Pair, crop: int, *, grey: bool = False, own_lr: bool = True, lpips=None
) -> dict[str, float | None]:
    """Metrics of one :class:`Pair` (see :mod:`rescale.eval.metrics`); ``own_lr``: the method made its LR."""
    hr, sr = pair.hr.double(), pair.sr.double()
    y_hr, y_sr = metrics.rgb_to_y(hr, grey=grey), metrics.rgb_to_y(sr, grey=grey)
    scores = {
        "psnr_y": metrics.psnr(y_hr, y_sr, crop=crop).item(),
        "ssim_y": metrics.ssim(y_hr, y_sr, crop=crop).item(),
        "psnr_rgb": metrics.psnr(hr, sr, crop=crop).item(),
        "ssim_rgb": metrics.ssim(hr, sr, crop=crop).item(),
        "lr_psnr_y": None,
        "lr_psnr_rgb": None,
        "lpips": None,
    }
    if own_lr:
        lr, ref = pair.lr.double(), pair.bicubic_lr.double()
        scores["lr_psnr_y"] = metrics.psnr(metrics.rgb_to_y(ref, grey=grey), metrics.rgb_to_y(lr, grey=grey)).item()
        scores["lr_psnr_rgb"] = metrics.psnr(ref, lr).item()
    if lpips is not None:
        unit = lambda t: metrics.crop_border(t, crop).float() / 255  # noqa: E731
        scores["lpips"] = lpips(unit(pair.hr), unit(pair.sr)).item()
    return scores


def score_sample(
    method: Method,
    bicubic: Method,
    sample,
    sx: float,
    sy: float,
    *,
    jpeg: int | None = None,
    device="cpu",
    lpips=None,
    with_bicubic: bool = False,
    keep: bool = False,
) -> tuple[dict, dict | None]:
    """One image of a set (a :class:`rescale.eval.datasets.Sample`) through the protocol and the metrics:
    ``(entry, shown)``, ``entry`` the image's row (name, scores, seconds, with ``with_bicubic`` the
    bicubic baseline's Y-PSNR too), ``shown`` its report material when ``keep`` (else None). The
    per-image step of both engines (:func:`evaluate` and :func:`rescale.eval.ray.evaluate_on_ray`)."""
    crop = math.ceil(max(sx, sy))
    pair = upscale_pair(method, sample.image, sx, sy, jpeg=jpeg, device=device)
    scores = score_pair(pair, crop, grey=sample.grey, own_lr=method.kind != "upscaler", lpips=lpips)
    entry = {"name": sample.name, **scores, "seconds": pair.seconds}
    shown = None
    if with_bicubic:
        base = (
            upscale_pair(bicubic, sample.image, sx, sy, jpeg=jpeg)
            if method.name != "bicubic" or method.kind != "classical"
            else pair
        )
        y = lambda t: metrics.rgb_to_y(t.double(), grey=sample.grey)  # noqa: E731
        entry["bicubic_psnr_y"] = metrics.psnr(y(base.hr), y(base.sr), crop=crop).item()
        if keep:
            shown = {"name": sample.name, "hr": pair.hr, "bicubic": base.sr, "method": pair.sr}
    return entry, shown


# --- sets and scales -----------------------------------------------------------------------------


@dataclass
class SetResult:
    set: str
    scale: tuple[float, float]
    images: list[dict] = field(default_factory=list)  #: per image: name + scores + seconds
    samples: list[dict] = field(default_factory=list)  #: report material (HR, bicubic SR, method SR)

    def summary(self) -> dict:
        keys = (
            "psnr_y",
            "ssim_y",
            "psnr_rgb",
            "ssim_rgb",
            "lr_psnr_y",
            "lr_psnr_rgb",
            "lpips",
            "bicubic_psnr_y",
            "seconds",
        )
        out = {"set": self.set, "scale_x": self.scale[0], "scale_y": self.scale[1], "images": len(self.images)}
        for k in keys:
            vals = [im[k] for im in self.images if im.get(k) is not None]
            out[k if k != "seconds" else "seconds_per_image"] = (
                sum(vals) / len(vals) if vals and len(vals) == len(self.images) else None
            )
        return out


def evaluate(
    method: str | Method,
    sets: list[str],
    scales: list[tuple[float, float]],
    *,
    data: str | Path | None = None,
    jpeg: int | None = None,
    limit: int | None = None,
    device: str | torch.device = "cpu",
    lpips=None,
    report_images: int = 0,
    log=None,
) -> list[SetResult]:
    """Score ``method`` on every set (names under ``data`` or folders) at every ``(sx, sy)``.

    ``lpips``: a scorer from :func:`rescale.eval.metrics.load_lpips` or None. ``report_images``: keep the
    first that many images per set and scale (and score bicubic on all) for the HTML report.
    """
    method = prepare_method(method, device)
    bicubic = prepare_method("bicubic")
    folders = [(name, ImageFolder(resolve_set(name, data), limit=limit)) for name in sets]
    results = []
    with torch.inference_mode():
        for sx, sy in scales:
            for name, folder in folders:
                scored = (
                    score_sample(
                        method,
                        bicubic,
                        sample,
                        sx,
                        sy,
                        jpeg=jpeg,
                        device=device,
                        lpips=lpips,
                        with_bicubic=bool(report_images),
                        keep=i < report_images,
                    )
                    for i, sample in enumerate(folder)
                )
                results.append(collect_set(name, (sx, sy), scored, log))
    return results


def collect_set(name: str, scale: tuple[float, float], scored, log=None) -> SetResult:
    """One set at one scale from its images' ``(entry, shown)`` pairs of :func:`score_sample`, in
    image order (scored as they are iterated); logs :func:`set_line` when ``log`` is given. The
    assembly step of both engines (:func:`evaluate` and :func:`rescale.eval.ray.evaluate_on_ray`)."""
    res = SetResult(name, scale)
    for entry, shown in scored:
        res.images.append(entry)
        if shown is not None:
            res.samples.append(shown)
    if log is not None:
        log(set_line(res))
    return res


def set_line(res: SetResult) -> str:
    """The progress line logged after each set and scale."""
    s = res.summary()
    return f"{res.set} x{format_scale(*res.scale)}: {s['images']} images, Y-PSNR {s['psnr_y']:.2f} dB"


def format_scale(sx: float, sy: float) -> str:
    """``2`` for 2x2, ``1.5x3`` for different factors."""
    return f"{sx:g}" if sx == sy else f"{sx:g}x{sy:g}"
