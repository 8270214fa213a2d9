"""HTML report of a ``rescale eval`` run: the results table, zoomed side-by-side crops (HR, bicubic,
method), with several scales a PSNR-vs-scale plot and, with the LR stored at several qualities, a
rate-distortion plot (PSNR against the stored LR's bits per HR pixel). Everything is written into one folder
(``index.html`` plus PNGs) that opens in a browser without a server."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

import numpy as np
import torch

from .protocol import format_scale

__all__ = ["write_report", "detail_box"]

#: Side of the square crop (HR pixels) and its on-screen zoom.
CROP = 96
ZOOM = 3


def detail_box(hr: torch.Tensor, blurred: torch.Tensor, size: int = CROP, margin: int = 0) -> tuple[int, int, int]:
    """``(top, left, side)`` of the square where ``blurred`` (e.g. bicubic, ``[1, 3, H, W]`` like
    ``hr``) loses most against ``hr`` (largest mean squared difference, searched on a grid with a
    quarter-square step, ``margin`` px from the borders): where methods differ most visibly."""
    err = (hr[0].double() - blurred[0].double()).square().mean(0)
    h, w = err.shape
    if h - 2 * margin < 1 or w - 2 * margin < 1:
        margin = 0
    err = err[margin : h - margin, margin : w - margin]
    side = min(size, err.shape[0], err.shape[1])
    stride = max(1, side // 4)
    pooled = torch.nn.functional.avg_pool2d(err[None, None], side, stride=stride)[0, 0]
    i, j = divmod(int(pooled.argmax()), pooled.shape[1])
    return margin + i * stride, margin + j * stride, side


def _save_png(x: torch.Tensor, path: Path, zoom: int = 1) -> None:
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(x[0].permute(1, 2, 0).numpy()))
    if zoom > 1:
        img = img.resize((img.width * zoom, img.height * zoom), Image.Resampling.NEAREST)
    img.save(path)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display; only the file is wanted
    import matplotlib.pyplot as plt

    return plt


def _curves(results, method_name: str, path: Path, x_of, groups, xlabel: str) -> None:
    """One plot: for each ``(label, rows)`` of ``groups``, Y-PSNR against ``x_of(row, bicubic)``,
    method solid and bicubic dashed (when scored and the method is not bicubic itself)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, (label, rows) in enumerate(groups):
        colour = f"C{k}"
        ax.plot(
            [x_of(r, False) for r in rows],
            [r.summary()["psnr_y"] for r in rows],
            "o-",
            color=colour,
            label=f"{label} {method_name}",
        )
        base = [r.summary()["bicubic_psnr_y"] for r in rows]
        if method_name != "bicubic" and None not in base:
            ax.plot([x_of(r, True) for r in rows], base, "s--", color=colour, alpha=0.6, label=f"{label} bicubic")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("PSNR on Y (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot(results, method_name: str, path: Path) -> bool:
    """PSNR (Y) against scale per set and storage; False with one scale."""
    if len({r.scale for r in results}) < 2:
        return False
    groups = {}
    for r in results:
        label = r.set if len({q.storage for q in results}) == 1 else f"{r.set} {r.storage.label}"
        groups.setdefault(label, []).append(r)
    rows = [(label, sorted(rs, key=lambda r: r.scale)) for label, rs in groups.items()]
    _curves(results, method_name, path, lambda r, _: math.sqrt(r.scale[0] * r.scale[1]), rows, "scale factor")
    return True


def _plot_rate(results, method_name: str, path: Path) -> bool:
    """Rate-distortion: PSNR (Y) against the stored LR's bits per HR pixel, per set, scale and
    codec over its qualities; False unless some codec has several qualities."""
    groups = {}
    for r in results:
        if r.storage.codec is not None:
            groups.setdefault(f"{r.set} x{format_scale(*r.scale)} {r.storage.codec}", []).append(r)
    rows = [(label, sorted(rs, key=lambda r: r.storage.quality)) for label, rs in groups.items() if len(rs) > 1]
    if not rows:
        return False
    bpp = lambda r, base: r.summary()["bicubic_bpp" if base else "bpp"]  # noqa: E731
    _curves(results, method_name, path, bpp, rows, "bits per HR pixel of the stored LR")
    return True


def write_report(folder: str | Path, method, results, table: str) -> Path:
    """Write ``folder/index.html`` (and its PNGs) for ``results`` of :func:`rescale.eval.protocol.evaluate`
    run with ``report_images > 0``; ``table`` is the markdown table. Returns the HTML path."""
    folder = Path(folder)
    (folder / "crops").mkdir(parents=True, exist_ok=True)
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>rescale eval: {esc(method.name)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
        "figure{display:inline-block;margin:4px;text-align:center}img{image-rendering:pixelated}</style>",
        "</head><body>",
        f"<h1>{esc(method.name)} ({esc(method.kind)})</h1>",
        _table_html(table),
    ]
    if _plot(results, method.name, folder / "psnr_vs_scale.png"):
        parts.append("<h2>PSNR vs scale</h2><img src='psnr_vs_scale.png' alt='PSNR vs scale'>")
    if _plot_rate(results, method.name, folder / "rate_distortion.png"):
        parts.append("<h2>Rate-distortion</h2><img src='rate_distortion.png' alt='PSNR vs bits per pixel'>")
    for r in results:
        if not r.samples:
            continue
        scale = format_scale(*r.scale)
        stored = f", LR stored as {r.storage.label}" if r.storage.codec else ""
        parts.append(f"<h2>{esc(r.set)} x{scale}{esc(stored)}</h2>")
        for sample in r.samples:
            top, left, side = detail_box(sample["hr"], sample["bicubic"], margin=math.ceil(max(r.scale)))
            stem = _slug(f"{r.set}_x{scale}_{r.storage.label}_{sample['name']}")
            score = next(im for im in r.images if im["name"] == sample["name"])
            figures = []
            shown = [("hr", "HR"), ("bicubic", "bicubic"), ("method", method.name)]
            if method.name == "bicubic":  # the baseline is the method itself: one figure, not the same one twice
                del shown[1]
            for key, label in shown:
                crop = sample[key][..., top : top + side, left : left + side]
                _save_png(crop, folder / "crops" / f"{stem}_{key}.png", ZOOM)
                caption = esc(label)
                if key == "method":
                    caption += f" {score['psnr_y']:.2f} dB"
                elif key == "bicubic" and score.get("bicubic_psnr_y") is not None:
                    caption += f" {score['bicubic_psnr_y']:.2f} dB"
                figures.append(
                    f"<figure><img src='crops/{stem}_{key}.png' alt='{caption}'>"
                    f"<figcaption>{caption}</figcaption></figure>"
                )
            parts.append(
                f"<h3>{esc(sample['name'])} <small>crop {side}px at ({left}, {top}), zoom x{ZOOM}</small></h3>"
            )
            parts.append("<div>" + "".join(figures) + "</div>")
    parts.append("</body></html>")
    index = folder / "index.html"
    index.write_text("\n".join(parts))
    return index


def _table_html(table: str) -> str:
    """The markdown table of :func:`rescale.eval.results.format_table` as HTML (plus any note)."""
    lines = table.strip().splitlines()
    rows = [line.strip().strip("|").split("|") for line in lines if line.startswith("|")]
    notes = [line for line in lines if line.strip() and not line.startswith("|")]
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(c.strip())}</th>" for c in rows[0]) + "</tr>"]
    for row in rows[2:]:
        out.append("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in row) + "</tr>")
    out.append("</table>")
    out += [f"<p>{html.escape(n)}</p>" for n in notes]
    return "\n".join(out)
