"""Train CAIRN (compression-aware invertible rescaling) from our IRN weights, resumable, within a budget.

``python -m rescale.train cairn --scale 2 --data ../shared/data/BSD200 ../shared/data/T91 --run runs/cairn_x2
--minutes 120 --threads 1 --export weights/cairn_x2``

Recipe (the IRN recipe of :mod:`rescale.train.irn` with a codec in the loop):

- the model starts as our trained IRN (``--init irn_x2`` / ``irn_x4``: both directions, the
  restoration branch at zero), so it starts at IRN's quality and only has to learn the codec;
- each image of a batch draws its storage: lossless (8-bit rounding) with probability
  ``--lossless``, else JPEG at a quality drawn from ``--quality`` (``40-95``, ``50,75,90`` or ``75``);
- the codec enters as ``--codec``: ``real`` (Pillow's JPEG forward, identity gradient), ``proxy``
  (a differentiable JPEG both ways, :func:`rescale.models.codec.jpeg_proxy`) or ``both`` (Pillow's
  JPEG forward, the proxy's gradient);
- losses: Charbonnier reconstruction of the HR from the stored LR with ``z = 0``,
  ``lambda_lr * MSE(LR, MATLAB bicubic LR)`` with ``lambda_lr`` adapted to hold the LR near
  ``--lr-psnr`` dB, ``lambda_z * mean(z^2)``; Adam, warm-up, cosine decay, gradient clipping
  (:mod:`rescale.train.loop`); ``--train up`` freezes the down network (restoration only).

Every ``--eval-every`` steps: Set5 Y-PSNR of the HR rebuilt from the LR stored through Pillow's JPEG
at each ``--eval-quality`` (0: lossless), the mean over the JPEG qualities as ``psnr_y``, and the
PSNR of the 8-bit LR against MATLAB bicubic (RGB against the float LR as IRN's trainer, and Y
against the 8-bit LR as ``rescale eval``), to ``RUN/log.jsonl``.
"""

from __future__ import annotations

import argparse
import random
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ..eval.metrics import psnr, quantize, rgb_to_y
from ..models.cairn import CAIRN, from_irn, with_own_up_path
from ..models.codec import MODES, real_roundtrip, rgb_to_ycbcr, simulate
from ..models.irn import bicubic_down
from .irn import DEFAULT_SET5, load_eval_images
from .loop import add_budget_arguments, add_guidance_arguments, start_run, train
from .patches import PatchSampler, image_files
from .run import RunDir, command_line

EVAL_QUALITIES = (0, 90, 75, 50)


def parse_qualities(text: str) -> list[int]:
    """``"40-95"`` (every quality in the range), ``"50,75,90"`` or ``"75"`` -> the qualities to draw from."""
    try:
        if "-" in text:
            a, b = (int(v) for v in text.split("-"))
            qs = list(range(a, b + 1))
        else:
            qs = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected qualities like 40-95, 50,75,90 or 75, got {text!r}") from None
    if not qs or not all(1 <= q <= 100 for q in qs):
        raise argparse.ArgumentTypeError(f"JPEG qualities must be 1..100, got {text!r}")
    return qs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", type=int, choices=(2, 4), default=2)
    p.add_argument("--data", nargs="+", required=True, help="folders of training images")
    p.add_argument("--eval-data", default=str(DEFAULT_SET5), help="folder of Set5 HR images ('' to skip)")
    p.add_argument("--eval-quality", type=int, nargs="+", default=list(EVAL_QUALITIES), help="0: lossless")
    p.add_argument("--run", required=True, help="run folder (resumes from RUN/ckpt.pt)")
    p.add_argument("--export", help="write PATH.safetensors + PATH.json at the end")
    p.add_argument(
        "--init",
        help="IRN weights to start both directions from (default irn_x2 / irn_x4), or CAIRN weights to continue",
    )
    add_budget_arguments(p, eval_every=500, log_seconds=60)
    g = p.add_argument_group("model (the IRN part comes from --init)")
    g.add_argument("--shared", action="store_true", help="up uses the down network's inverse (no separate copy)")
    g.add_argument("--restore", type=int, default=32, help="features of the restoration branch (0: none)")
    g.add_argument("--restore-convs", type=int, default=6)
    g.add_argument(
        "--asymmetric",
        action="store_true",
        help="with --init CAIRN weights that share one network or have no restoration branch: give up its own "
        "copy of the network and a --restore branch at zero (the same model at first, more to train)",
    )
    g.add_argument("--train", choices=("all", "up"), default="all", help="up: freeze the down network")
    g = p.add_argument_group("codec")
    g.add_argument("--codec", choices=MODES, default="both", help="how JPEG enters training (module docstring)")
    g.add_argument("--quality", type=parse_qualities, default=parse_qualities("40-95"), help="JPEG qualities drawn")
    g.add_argument("--lossless", type=float, default=0.2, help="fraction of images stored losslessly")
    g = p.add_argument_group("optimisation")
    g.add_argument("--batch", type=int, default=4)
    g.add_argument("--patch", type=int, default=64, help="HR patch size (multiple of 8 x the scale)")
    g.add_argument("--lr", type=float, default=2e-4)
    add_guidance_arguments(g)
    g.set_defaults(lr_psnr=35.0)
    g.add_argument(
        "--chroma-weight",
        type=float,
        default=0.0,
        help="0: LR guidance as MSE in RGB; W > 0: in JFIF YCbCr, (dY^2 + W dCb^2 + W dCr^2) / 3, so W > 1 makes "
        "chroma deviations dearer and pushes what the LR hides into luma, which 4:2:0 JPEG keeps",
    )
    g = p.add_argument_group("machine")
    g.add_argument("--device", default="cpu")
    g.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    g.add_argument("--seed", type=int, default=0)


@torch.no_grad()
def evaluate(model: CAIRN, images: dict[str, torch.Tensor], qualities) -> dict:
    """Set5 scores of ``model`` (see the module docstring): ``psnr_q`` ``{quality: Y-PSNR}``,
    ``psnr_y`` (their mean over the JPEG qualities, or the lossless one if there are none),
    ``psnr_lr`` (RGB, against the float bicubic LR) and ``psnr_lr_y`` (Y, against the 8-bit one)."""
    s = model.scale
    scores = {q: [] for q in qualities}
    lr_rgb, lr_y = [], []
    for img in images.values():
        img = img[..., : img.shape[-2] // s * s, : img.shape[-1] // s * s]
        x = img.float() / 255
        lr = (quantize(model(x)[:, :3]) / 255).float()
        ref = bicubic_down(x, s)
        lr_rgb.append(psnr(lr * 255, quantize(ref)).item())
        lr_y.append(psnr(rgb_to_y(lr * 255), rgb_to_y(quantize(ref))).item())
        for q in qualities:
            stored = real_roundtrip(lr, q)
            hr = model.up(stored)
            scores[q].append(psnr(rgb_to_y(quantize(hr)), rgb_to_y(img.double()), crop=s).item())
    psnr_q = {str(q): round(float(np.mean(v)), 3) for q, v in scores.items()}
    lossy = [v for q, v in psnr_q.items() if q != "0"] or list(psnr_q.values())
    return {
        "psnr_y": round(float(np.mean(lossy)), 3),
        "psnr_q": psnr_q,
        "psnr_lr": round(float(np.mean(lr_rgb)), 3),
        "psnr_lr_y": round(float(np.mean(lr_y)), 3),
    }


def draw_qualities(rng: random.Random, n: int, qualities: list[int], lossless: float) -> list[int]:
    """A storage per image: 0 (lossless) with probability ``lossless``, else a quality of ``qualities``."""
    return [0 if rng.random() < lossless else rng.choice(qualities) for _ in range(n)]


def training_loss(model: CAIRN, x: torch.Tensor, qs: list[int], args, lambda_lr: float):
    """One batch ``x`` ``[N, 3, P, P]`` stored at qualities ``qs`` -> (loss, the detached parts
    :data:`rescale.train.loop.PARTS`)."""
    out = model(x)
    lr, z = out[:, :3], out[:, 3:]
    stored = simulate(lr, qs, args.codec)
    rec = model.inverse(torch.cat([stored, torch.zeros_like(z)], 1))
    l_rec = torch.sqrt((rec - x).square() + 1e-6).mean()
    diff = lr - bicubic_down(x, model.scale)
    if args.chroma_weight > 0:
        ycc = rgb_to_ycbcr(diff).square()
        l_lr = (ycc[:, 0] + args.chroma_weight * (ycc[:, 1] + ycc[:, 2])).mean() / 3
    else:
        l_lr = diff.square().mean()
    l_z = z.square().mean()
    loss = l_rec + lambda_lr * l_lr + args.lambda_z * l_z
    return loss, torch.stack([loss, l_rec, l_lr, l_z]).detach()


def build_model(args) -> tuple[CAIRN, dict]:
    """A fresh model started from ``--init`` (IRN weights), or the CAIRN weights ``--init`` names
    with their history (``{"step", "seconds", "segments", "lambda_lr", "curve"}``; empty when new)."""
    from ..pretrained import load_manifest, load_state_dict

    name = args.init or f"irn_x{args.scale}"
    manifest = load_manifest(name)
    arch = manifest["architecture"]["args"]
    if manifest.get("model") == "cairn":
        model = CAIRN(**arch)
        model.load_state_dict(load_state_dict(name))
        if args.asymmetric:
            model = with_own_up_path(model, args.restore, args.restore_convs)
        history = {
            "step": manifest["steps"],
            "seconds": manifest["wall_time_s"],
            "segments": manifest["hardware"],
            "lambda_lr": manifest.get("lambda_lr", args.lambda_lr),
            "curve": manifest.get("learning_curve", []),
        }
        return model, history
    if arch["scale"] != args.scale or arch.get("dlv", 0):
        raise SystemExit(
            f"--init {name} is an IRN x{arch['scale']} (dlv {arch.get('dlv', 0)}); need a plain x{args.scale}"
        )
    irn = {k: arch[k] for k in ("scale", "blocks", "growth", "convs", "lift_kernel")}
    model = CAIRN(**irn, shared=args.shared, restore=args.restore, restore_convs=args.restore_convs)
    from_irn(model, load_state_dict(name))
    return model, {}


def main(args) -> int:
    t_start, device = start_run(args)
    if args.patch % (8 * args.scale):
        raise SystemExit(f"--patch must be a multiple of {8 * args.scale} (whole JPEG blocks in the LR)")
    run = RunDir(args.run)
    sampler = PatchSampler(args.data, args.patch, device=device, seed=args.seed)
    evals = load_eval_images(args.eval_data, device)
    rng = random.Random(args.seed)
    state = run.load(map_location=device)
    if state is not None:
        model = CAIRN(**state["arch"]).to(device)
        model.load_state_dict(state["model"])
        rng.seed(f"{args.seed}:{state['step']}")  # a resumed run does not replay the same qualities
        print(f"resuming {run.ckpt} at step {state['step']}", flush=True)
    else:
        model, history = build_model(args)
        model = model.to(device)
        state = {"step": 0, "seconds": 0.0, "lambda_lr": args.lambda_lr, "segments": []}
        if history:
            state.update({k: history[k] for k in ("step", "seconds", "segments", "lambda_lr")})
            for rec in history["curve"] if not run.history() else []:
                run.log(kind="eval", **rec)
            print(f"continuing {args.init} from step {history['step']}", flush=True)
    if args.train == "up":
        model.down_net.requires_grad_(False)

    def evaluate_set5() -> tuple[dict, str]:
        fields = evaluate(model, evals, args.eval_quality)
        per_q = " ".join(f"{'q' + q if q != '0' else 'lossless'} {v:.2f}" for q, v in fields["psnr_q"].items())
        return fields, f"Set5 x{model.scale} Y-PSNR {per_q}; LR vs bicubic {fields['psnr_lr_y']:.2f} dB (Y)"

    def batch_loss(lambda_lr: float):
        x = sampler.batch(args.batch)
        return training_loss(model, x, draw_qualities(rng, len(x), args.quality, args.lossless), args, lambda_lr)

    return train(
        args,
        run,
        model,
        state,
        t_start,
        batch_loss=batch_loss,
        evaluate=evaluate_set5 if evals else None,
        manifest=partial(_manifest, args, model, run),
        segment_info={"batch": args.batch, "patch": args.patch},
        eval_reserve=2,
        eval_s_digits=2,
    )


def _manifest(
    args, model: CAIRN, run: RunDir, step: int, seconds: float, segments: list, final: dict | None, lambda_lr: float
) -> dict:
    keys = ("step", "seconds", "psnr_y", "psnr_q", "psnr_lr", "psnr_lr_y")
    curve = [{k: r[k] for k in keys if k in r} for r in run.history() if r.get("kind") == "eval"]
    return {
        "model": "cairn",
        "architecture": {
            "class": "rescale.models.cairn.CAIRN",
            "args": model.args,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "command": command_line("cairn"),
        "init": args.init or f"irn_x{args.scale}",
        "data": {
            "folders": [Path(d).name for d in args.data],
            "images": len(image_files(args.data)),
            "patch": args.patch,
            "batch": args.batch,
        },
        "steps": step,
        "wall_time_s": round(seconds, 1),
        "hardware": segments,
        "metrics": {
            "set5": final,
            "measured_by": (
                "rescale.train.cairn.evaluate: Set5 modcropped, 8-bit LR stored through Pillow JPEG (4:2:0) at each "
                "quality (0: lossless), z = 0, Y-PSNR (MATLAB BT.601) border = scale; LR PSNR vs MATLAB bicubic"
            ),
        },
        "learning_curve": curve,
        "lambda_lr": lambda_lr,
        "recipe": {
            "codec": args.codec,
            "quality": args.quality if len(args.quality) <= 5 else f"{min(args.quality)}-{max(args.quality)}",
            "lossless": args.lossless,
            "train": args.train,
            **{k: getattr(args, k) for k in ("lr", "warmup", "clip", "lr_psnr", "chroma_weight", "lambda_z")},
        },
    }
