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
- ``--jpeg Q ...`` / ``--webp Q ...``: the LR goes through a Pillow JPEG file (4:2:0) or lossy WebP
  file at each quality ``Q`` before ``up`` (:class:`Storage`; the LR is made once per image). Each
  result also has the stored LR's bits per HR pixel (``bpp``; a PNG file for the lossless LR).

``SR`` is rounded to uint8, then scored against ``HR`` with :mod:`rescale.eval.metrics`: PSNR and SSIM on
Y (greyscale files: on their grey level, as the MATLAB scripts) and on RGB with ``ceil(max(sx, sy))``
border pixels cropped, LPIPS (AlexNet, same crop) where its weights are present. Methods that make
their own LR (rescalers, classical) also get the PSNR of their LR, as made (before storage),
against the bicubic LR (no crop, as IRN's test script). Seconds per image time the
method's own passes only (not loading or scoring).

    rescale eval --method bicubic --scale 2 --scale 4 --sets Set5,Set14,BSD100
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..methods import Classical, Method, get_method, is_method, load_method
from ..models.codec import encode_decode
from . import metrics
from .datasets import ImageFolder, imresize_uint8, resolve_set, scaled_sizes

__all__ = [
    "evaluate",
    "prepare_method",
    "upscale_pair",
    "upscale_pairs",
    "score_pair",
    "score_sample",
    "collect_sets",
    "Storage",
    "LOSSLESS",
    "storages_from",
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


@dataclass(frozen=True)
class Storage:
    """How the LR is stored between ``down`` and ``up``: ``codec`` None (the 8-bit LR as it is; its
    size is that of a PNG file) or ``"jpeg"`` / ``"webp"`` (a Pillow file: JPEG at 4:2:0, lossy
    WebP) at ``quality`` 1..100."""

    codec: str | None = None
    quality: int | None = None

    def __post_init__(self):
        if self.codec is not None and self.codec not in ("jpeg", "webp"):
            raise ValueError(f"storage codec must be jpeg or webp, got {self.codec!r}")
        if self.codec is not None and not (isinstance(self.quality, int) and 1 <= self.quality <= 100):
            raise ValueError(f"{self.codec} quality must be an integer 1..100, got {self.quality!r}")

    @property
    def label(self) -> str:
        return "lossless" if self.codec is None else f"{self.codec} q{self.quality}"

    def roundtrip(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        """uint8 ``[1, 3, H, W]`` -> (the image as decoded from its file, the file's size in bytes)."""
        arr = x[0].permute(1, 2, 0).cpu().numpy()
        out, size = encode_decode(arr, self.codec or "png", self.quality)
        if self.codec is None:
            return x, size
        return torch.from_numpy(out.copy()).permute(2, 0, 1).unsqueeze(0).to(x.device), size


#: the default: the LR stored losslessly
LOSSLESS = Storage()


def storages_from(jpeg=(), webp=(), lossless: bool = False) -> list[Storage]:
    """The storages of ``--jpeg Q ...``, ``--webp Q ...`` (the lossless LR first with ``lossless``,
    or when neither is given)."""
    out = [LOSSLESS] if lossless or not (jpeg or webp) else []
    return out + [Storage("jpeg", int(q)) for q in jpeg] + [Storage("webp", int(q)) for q in webp]


def jpeg_roundtrip(x: torch.Tensor, quality: int) -> torch.Tensor:
    """uint8 ``[1, 3, H, W]`` through a Pillow JPEG file at ``quality`` (default 4:2:0 chroma)."""
    return Storage("jpeg", quality).roundtrip(x)[0]


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return metrics.quantize(x).to(torch.uint8)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Pair:
    """One image's results for one storage: uint8 ``[1, 3, H, W]`` tensors on the CPU."""

    hr: torch.Tensor  #: HR cropped to a multiple of the scale
    lr: torch.Tensor  #: the LR as the method made it (before storage)
    bicubic_lr: torch.Tensor  #: MATLAB bicubic LR of ``hr``
    sr: torch.Tensor  #: the method's reconstruction
    seconds: float  #: time in the method's own passes
    stored: torch.Tensor | None = None  #: the LR the method upscaled, as decoded from its file (lossy storage)
    nbytes: int = 0  #: size of the stored LR file

    @property
    def bpp(self) -> float:
        """Bits of the stored LR per HR pixel."""
        return 8 * self.nbytes / (self.hr.shape[-1] * self.hr.shape[-2])


def upscale_pairs(
    method: Method, hr: torch.Tensor, sx: float, sy: float, storages=(LOSSLESS,), *, device="cpu"
) -> list[Pair]:
    """Run the protocol of the module docstring on one uint8 ``[1, 3, H, W]`` image: the LR is made
    once, then stored and upscaled once per :class:`Storage` of ``storages``; one :class:`Pair` each."""
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
    _sync(device)
    down_seconds = time.perf_counter() - start
    if lr.shape[-2:] != (lr_size[1], lr_size[0]):
        raise ValueError(f"{method.name}: LR {tuple(lr.shape)} does not fit HR {tuple(hr.shape)} at scale {sx}x{sy}")
    pairs = []
    for storage in storages:
        stored, nbytes = storage.roundtrip(lr)
        start = time.perf_counter()
        if classical:
            sr = imresize_uint8(stored, (w, h), method)
        else:
            sr = _to_uint8(method.up(stored.to(torch.float32) / 255, (w, h)))
        _sync(device)
        if sr.shape != hr.shape:
            raise ValueError(
                f"{method.name}: SR {tuple(sr.shape)} does not fit HR {tuple(hr.shape)} at scale {sx}x{sy}"
            )
        seconds = down_seconds + time.perf_counter() - start
        lossy = storage.codec is not None
        pairs.append(Pair(hr, lr.cpu(), bicubic, sr.cpu(), seconds, stored.cpu() if lossy else None, nbytes))
    return pairs


def upscale_pair(
    method: Method,
    hr: torch.Tensor,
    sx: float,
    sy: float,
    *,
    storage: Storage = LOSSLESS,
    jpeg: int | None = None,
    device="cpu",
) -> Pair:
    """:func:`upscale_pairs` for one storage (``jpeg=Q`` is ``storage=Storage("jpeg", Q)``)."""
    if jpeg is not None:
        storage = Storage("jpeg", jpeg)
    return upscale_pairs(method, hr, sx, sy, (storage,), device=device)[0]


def score_pair(
    pair: Pair, crop: int, *, grey: bool = False, own_lr: bool = True, lpips=None
) -> dict[str, float | None]:
    """Metrics of one :class:`Pair` (see :mod:`rescale.eval.metrics`); ``own_lr``: the method made its
    LR (scored before storage: how the method's LR looks, not what the codec did to it)."""
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
        "bpp": pair.bpp,
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
    storages=(LOSSLESS,),
    device="cpu",
    lpips=None,
    with_bicubic: bool = False,
    keep: bool = False,
) -> list[tuple[dict, dict | None]]:
    """One image of a set (a :class:`rescale.eval.datasets.Sample`) through the protocol and the metrics,
    once per storage: a list of ``(entry, shown)``, ``entry`` the image's row (name, scores, seconds,
    with ``with_bicubic`` the bicubic baseline's Y-PSNR and bits per pixel too), ``shown`` its report
    material when ``keep`` (else None). The per-image step of both engines (:func:`evaluate` and
    :func:`rescale.eval.ray.evaluate_on_ray`)."""
    crop = math.ceil(max(sx, sy))
    pairs = upscale_pairs(method, sample.image, sx, sy, storages, device=device)
    if with_bicubic:
        same = method.name == "bicubic" and method.kind == "classical"
        bases = pairs if same else upscale_pairs(bicubic, sample.image, sx, sy, storages)
    out = []
    for k, pair in enumerate(pairs):
        scores = score_pair(pair, crop, grey=sample.grey, own_lr=method.kind != "upscaler", lpips=lpips)
        entry = {"name": sample.name, **scores, "seconds": pair.seconds}
        shown = None
        if with_bicubic:
            base = bases[k]
            y = lambda t: metrics.rgb_to_y(t.double(), grey=sample.grey)  # noqa: E731
            entry["bicubic_psnr_y"] = metrics.psnr(y(base.hr), y(base.sr), crop=crop).item()
            entry["bicubic_bpp"] = base.bpp
            if keep:
                shown = {"name": sample.name, "hr": pair.hr, "bicubic": base.sr, "method": pair.sr}
        out.append((entry, shown))
    return out


# --- sets and scales -----------------------------------------------------------------------------


@dataclass
class SetResult:
    set: str
    scale: tuple[float, float]
    images: list[dict] = field(default_factory=list)  #: per image: name + scores + seconds
    samples: list[dict] = field(default_factory=list)  #: report material (HR, bicubic SR, method SR)
    storage: Storage = LOSSLESS  #: how the LR was stored

    def summary(self) -> dict:
        keys = (
            "psnr_y",
            "ssim_y",
            "psnr_rgb",
            "ssim_rgb",
            "lr_psnr_y",
            "lr_psnr_rgb",
            "lpips",
            "bpp",
            "bicubic_psnr_y",
            "bicubic_bpp",
            "seconds",
        )
        out = {
            "set": self.set,
            "scale_x": self.scale[0],
            "scale_y": self.scale[1],
            "storage": self.storage.label,
            "images": len(self.images),
        }
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
    storages=(LOSSLESS,),
    limit: int | None = None,
    device: str | torch.device = "cpu",
    lpips=None,
    report_images: int = 0,
    log=None,
) -> list[SetResult]:
    """Score ``method`` on every set (names under ``data`` or folders) at every ``(sx, sy)``, with
    the LR stored each way of ``storages`` (:class:`Storage`, e.g. from :func:`storages_from`): one
    :class:`SetResult` per scale, set and storage, in that nesting order.

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
                        storages=storages,
                        device=device,
                        lpips=lpips,
                        with_bicubic=bool(report_images),
                        keep=i < report_images,
                    )
                    for i, sample in enumerate(folder)
                )
                results += collect_sets(name, (sx, sy), storages, scored, log)
    return results


def collect_sets(name: str, scale: tuple[float, float], storages, scored, log=None) -> list[SetResult]:
    """One set at one scale, one :class:`SetResult` per storage, from its images' lists of
    ``(entry, shown)`` of :func:`score_sample` (one per storage), in image order (scored as they are
    iterated); logs :func:`set_line` for each when ``log`` is given. The assembly step of both
    engines (:func:`evaluate` and :func:`rescale.eval.ray.evaluate_on_ray`)."""
    results = [SetResult(name, scale, storage=storage) for storage in storages]
    for per_storage in scored:
        for res, (entry, shown) in zip(results, per_storage):
            res.images.append(entry)
            if shown is not None:
                res.samples.append(shown)
    if log is not None:
        for res in results:
            log(set_line(res))
    return results


def set_line(res: SetResult) -> str:
    """The progress line logged after each set and scale."""
    s = res.summary()
    stored = f", LR {res.storage.label}" if res.storage.codec else ""
    return f"{res.set} x{format_scale(*res.scale)}{stored}: {s['images']} images, Y-PSNR {s['psnr_y']:.2f} dB"


def format_scale(sx: float, sy: float) -> str:
    """``2`` for 2x2, ``1.5x3`` for different factors."""
    return f"{sx:g}" if sx == sy else f"{sx:g}x{sy:g}"
