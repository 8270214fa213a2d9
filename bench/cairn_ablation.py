"""Score CAIRN weights (shipped or from training runs) with the ``rescale eval`` protocol at several
JPEG qualities: the ablation table of ``docs/cairn.md``.

    .venv/bin/python bench/cairn_ablation.py runs/abl_real/w.safetensors runs/abl_both/w.safetensors \\
        --sets Set5,BSD100 --jpeg 90 75 50 --lossless [--irn] [--bicubic] [--json out.json]

Each weight file is a CAIRN export (``python -m rescale.train cairn ... --export PATH``) or IRN weights
(``irn_x2``: scored as plain IRN); the scale comes from its manifest. ``--irn`` and ``--bicubic`` add
the shipped IRN and bicubic rows. One Markdown row per model and set: Y-PSNR at each storage and the
LR's Y-PSNR against the bicubic LR (before storage), plus the recipe the manifest records.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from rescale.eval.protocol import evaluate, storages_from
from rescale.models.cairn import CAIRNMethod
from rescale.models.irn import IRNMethod
from rescale.pretrained import load_manifest


def method_for(weights: str):
    """(label, Method, scale, manifest) for a CAIRN or IRN weight file or shipped name."""
    manifest = load_manifest(weights)
    scale = manifest["architecture"]["args"]["scale"]
    cls = CAIRNMethod if manifest.get("model") == "cairn" else IRNMethod
    label = Path(weights).stem if Path(weights).suffix else weights
    if Path(weights).suffix:
        label = Path(weights).parent.name or label
    return label, cls(weights={scale: weights}), scale, manifest


def recipe(manifest: dict) -> str:
    if manifest.get("model") != "cairn":
        return "IRN as shipped"
    r, a = manifest["recipe"], manifest["architecture"]["args"]
    up = "shared inverse" if a["shared"] else "own up network"
    up += f" + restore {a['restore']}x{a['restore_convs']}" if a["restore"] else ""
    storage = f"q {r['quality']}, lossless {r['lossless']}"
    return f"codec {r['codec']}, {storage}, train {r['train']}, {up}, {manifest['steps']} steps"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights", nargs="*", help="CAIRN/IRN .safetensors files (manifest beside) or shipped names")
    p.add_argument("--sets", default="Set5,BSD100")
    p.add_argument("--data", default=None)
    p.add_argument("--jpeg", type=int, nargs="+", default=[90, 75, 50])
    p.add_argument("--lossless", action="store_true")
    p.add_argument("--irn", action="store_true", help="add the shipped IRN of each scale")
    p.add_argument("--bicubic", action="store_true", help="add bicubic down + up")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sets = [s for s in args.sets.split(",") if s]
    storages = storages_from(args.jpeg, (), args.lossless)
    models = [method_for(w) for w in args.weights]
    scales = sorted({m[2] for m in models}) or [2]
    if args.irn:
        models = [method_for(f"irn_x{s}") for s in scales] + models
    if args.bicubic:
        models = [("bicubic", "bicubic", s, {}) for s in scales] + models
    labels = [st.label for st in storages]
    print("| model | scale | set | " + " | ".join(labels) + " | LR Y-PSNR | recipe |")
    print("|---|---|---|" + "---|" * len(labels) + "---|---|")
    doc = []
    for label, method, scale, manifest in models:
        results = evaluate(method, sets, [(scale, scale)], data=args.data, storages=storages, limit=args.limit)
        for set_name in sets:
            rows = [r.summary() for r in results if r.set == set_name]
            cells = " | ".join(f"{r['psnr_y']:.2f}" for r in rows)
            lr = rows[0]["lr_psnr_y"]
            about = recipe(manifest) if manifest else "MATLAB bicubic down and up"
            print(f"| {label} | x{scale} | {set_name} | {cells} | {lr:.2f} | {about} |", flush=True)
            doc.append({"model": label, "scale": scale, "set": set_name, "recipe": about, "results": rows})
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
