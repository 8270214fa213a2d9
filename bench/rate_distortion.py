"""Rate-distortion of storing an image small: JPEG at full size against rescalers whose LR is a JPEG.

    .venv/bin/python bench/rate_distortion.py --sets Set5,BSD100 --scale 2 \\
        --json docs/cairn_rate_distortion.json --plot docs/cairn_rate_distortion.png

For each image (cropped to a multiple of the scale) and each JPEG quality (Pillow, 4:2:0), the bits
per HR pixel of the stored file and the Y-PSNR of what comes back (MATLAB BT.601 Y, ``scale`` border
pixels cropped, as ``rescale eval``):

- (a) ``jpeg``: the HR image itself as JPEG;
- (b) ``bicubic``: MATLAB bicubic down, the LR as JPEG, bicubic up;
- (c) each ``--methods`` rescaler (default ``irn`` and ``cairn``): its down, the LR as JPEG, its up
  (the protocol of :func:`rescale.eval.protocol.upscale_pairs`).

Prints one table per set (means over its images at each quality) and, for each rescaler, the range
of bits per pixel where it beats (a) (``jpeg``'s curve interpolated linearly in bits per pixel);
writes the per-image rows as JSON and a PSNR-against-bpp plot (one panel per set).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from rescale.eval import metrics
from rescale.eval.datasets import ImageFolder, resolve_set, scaled_sizes
from rescale.eval.protocol import Storage, prepare_method, upscale_pairs
from rescale.models.codec import encode_decode

QUALITIES = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95)


def full_size_jpeg(hr: torch.Tensor, quality: int, crop: int, grey: bool) -> tuple[float, float]:
    """(bits per pixel, Y-PSNR) of uint8 ``[1, 3, H, W]`` stored as one JPEG at ``quality``."""
    decoded, nbytes = encode_decode(hr[0].permute(1, 2, 0).numpy(), "jpeg", quality)
    out = torch.from_numpy(decoded.copy()).permute(2, 0, 1)[None].double()
    y = lambda t: metrics.rgb_to_y(t.double(), grey=grey)  # noqa: E731
    return 8 * nbytes / (hr.shape[-1] * hr.shape[-2]), metrics.psnr(y(hr), y(out), crop=crop).item()


def measure(sets, data, scale: int, qualities, methods, limit=None, log=print) -> list[dict]:
    """One row per set, image, curve and quality: ``{"set", "image", "curve", "quality", "bpp", "psnr_y"}``."""
    rescalers = {name: prepare_method(name) for name in ["bicubic", *methods]}
    storages = [Storage("jpeg", q) for q in qualities]
    rows = []
    with torch.inference_mode():
        for set_name in sets:
            for sample in ImageFolder(resolve_set(set_name, data), limit=limit):
                (w, h), _ = scaled_sizes(sample.image.shape[-1], sample.image.shape[-2], scale, scale)
                hr = sample.image[..., :h, :w]
                base = {"set": set_name, "image": sample.name}
                for q in qualities:
                    bpp, p = full_size_jpeg(hr, q, scale, sample.grey)
                    rows.append({**base, "curve": "jpeg", "quality": q, "bpp": bpp, "psnr_y": p})
                for name, method in rescalers.items():
                    for q, pair in zip(qualities, upscale_pairs(method, hr, scale, scale, storages)):
                        y = lambda t: metrics.rgb_to_y(t.double(), grey=sample.grey)  # noqa: E731
                        p = metrics.psnr(y(pair.hr), y(pair.sr), crop=scale).item()
                        rows.append({**base, "curve": name, "quality": q, "bpp": pair.bpp, "psnr_y": p})
            log(f"{set_name}: done")
    return rows


def means(rows: list[dict]) -> dict:
    """``{set: {curve: [(quality, mean bpp, mean Y-PSNR), ...]}}`` in quality order."""
    out: dict = {}
    for r in rows:
        out.setdefault(r["set"], {}).setdefault(r["curve"], {}).setdefault(r["quality"], []).append(r)
    return {
        s: {
            c: [
                (q, float(np.mean([r["bpp"] for r in rs])), float(np.mean([r["psnr_y"] for r in rs])))
                for q, rs in sorted(per_q.items())
            ]
            for c, per_q in curves.items()
        }
        for s, curves in out.items()
    }


def beats_range(curve, reference) -> tuple[float, float] | None:
    """The bits-per-pixel span of ``curve``'s points ``(q, bpp, psnr)`` that lie above ``reference``'s
    curve (interpolated linearly in bpp; points outside its bpp range are not compared), or None."""
    ref = sorted((b, p) for _, b, p in reference)
    xs, ys = [b for b, _ in ref], [p for _, p in ref]
    wins = [b for _, b, p in curve if xs[0] <= b <= xs[-1] and p > np.interp(b, xs, ys)]
    return (min(wins), max(wins)) if wins else None


def table(set_means: dict) -> str:
    curves = list(set_means)
    qualities = [q for q, _, _ in set_means[curves[0]]]
    lines = ["| quality | " + " | ".join(f"{c} bpp | {c} dB" for c in curves) + " |"]
    lines.append("|---|" + "---|---|" * len(curves))
    for k, q in enumerate(qualities):
        cells = " | ".join(f"{set_means[c][k][1]:.3f} | {set_means[c][k][2]:.2f}" for c in curves)
        lines.append(f"| {q} | {cells} |")
    return "\n".join(lines)


def plot(all_means: dict, path: Path, scale: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(all_means), figsize=(6 * len(all_means), 4.5), squeeze=False)
    for ax, (set_name, curves) in zip(axes[0], all_means.items()):
        for k, (curve, pts) in enumerate(curves.items()):
            full = curve == "jpeg"
            ax.plot(
                [b for _, b, _ in pts],
                [p for _, _, p in pts],
                "." + ("-" if full or curve != "bicubic" else "--"),
                color="k" if full else f"C{k}",
                label="JPEG at full size" if full else f"{curve} x{scale}, LR as JPEG",
            )
        ax.set_title(f"{set_name}: Y-PSNR against file size")
        ax.set_xlabel("bits per HR pixel")
        ax.set_ylabel("Y-PSNR (dB)")
        ax.set_xscale("log")
        ticks = [t for t in (0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5) if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_xticks([], minor=True)  # the log axis's own minor labels overlap
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", default="Set5,BSD100")
    p.add_argument("--data", default=None, help="folder holding the sets (default: $RESCALE_DATA or ../shared/data)")
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--qualities", type=int, nargs="+", default=list(QUALITIES))
    p.add_argument("--methods", nargs="+", default=["irn", "cairn"], help="rescalers besides bicubic")
    p.add_argument("--limit", type=int, default=None, help="only the first N images of each set")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--plot", type=Path, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sets = [s for s in args.sets.split(",") if s]
    rows = measure(sets, args.data, args.scale, args.qualities, args.methods, args.limit)
    all_means = means(rows)
    for set_name, curves in all_means.items():
        print(
            f"\n{set_name} x{args.scale} (means over {len({r['image'] for r in rows if r['set'] == set_name})} images)"
        )
        print(table(curves))
        for curve in curves:
            if curve == "jpeg":
                continue
            span = beats_range(curves[curve], curves["jpeg"])
            where = f"{span[0]:.3f}-{span[1]:.3f} bpp" if span else "nowhere in the compared range"
            print(f"{curve} beats full-size JPEG at {where}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {"scale": args.scale, "qualities": args.qualities, "means": all_means, "rows": rows}
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    if args.plot:
        plot(all_means, args.plot, args.scale)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
