"""The results of ``rescale eval`` as a Markdown table and as JSON."""

from __future__ import annotations

import math

from ..methods import Method
from .protocol import SetResult, format_scale

__all__ = ["format_table", "to_json"]


def _fmt(v, digits: int) -> str:
    if v is None:
        return "n/a"
    return "inf" if math.isinf(v) else f"{v:.{digits}f}"


def format_table(results: list[SetResult], lpips_note: str | None = None) -> str:
    """Markdown table, one row per set, scale and (when the LR was stored lossily) storage, with the
    stored LR's bits per HR pixel."""
    stored = any(r.storage.codec for r in results)
    head = "| set | scale | " + ("LR stored as | bpp | " if stored else "")
    rows = [
        head + "images | Y-PSNR | Y-SSIM | RGB-PSNR | RGB-SSIM | LR Y-PSNR vs bicubic | LPIPS | s/img |",
        "|---|---|" + ("---|---|" if stored else "") + "---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r.summary()
        lr = _fmt(s["lr_psnr_y"], 2) if s["lr_psnr_y"] is not None else "-"
        storage = f"{s['storage']} | {_fmt(s['bpp'], 3)} | " if stored else ""
        rows.append(
            f"| {s['set']} | x{format_scale(s['scale_x'], s['scale_y'])} | {storage}{s['images']} | "
            f"{_fmt(s['psnr_y'], 2)} | {_fmt(s['ssim_y'], 4)} | {_fmt(s['psnr_rgb'], 2)} | {_fmt(s['ssim_rgb'], 4)} | "
            f"{lr} | {_fmt(s['lpips'], 4)} | {_fmt(s['seconds_per_image'], 3)} |"
        )
    if lpips_note:
        rows.append(f"\nLPIPS n/a: {lpips_note}")
    return "\n".join(rows)


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # "inf": an LR identical to the bicubic one; strict JSON has no Infinity
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def to_json(method: Method, results: list[SetResult], args: dict, lpips_note: str | None) -> dict:
    return _jsonable(
        {
            "method": method.name,
            "kind": method.kind,
            "protocol": {
                "lr": {
                    "upscaler": "MATLAB bicubic of modcropped HR, uint8",
                    "rescaler": "method.down, rounded to uint8",
                    "classical": "MATLAB imresize with the filter, uint8",
                }[method.kind],
                "storage": list(dict.fromkeys(r.storage.label for r in results)),
                "lr_psnr": "the method's LR as made (before storage) against the bicubic LR",
                "bpp": "bits of the stored LR file (PNG when lossless; Pillow JPEG 4:2:0 or lossy WebP) per HR pixel",
                "y": "MATLAB rgb2ycbcr on uint8 output, float Y; greyscale files scored on their grey level",
                "crop": "ceil(max(scale)) px from each HR border; none for LR PSNR",
                "ssim": "Gaussian 11x11, sigma 1.5, valid windows",
                "lpips": lpips_note or "alex, same crop",
            },
            "args": args,
            "results": [{**r.summary(), "per_image": r.images} for r in results],
        }
    )
