"""Train IARN (one invertible rescaler for every scale 1.1-4 per axis), resumable, within a budget.

``python -m rescale.train iarn --data ../shared/data/BSD200 ../shared/data/T91 --run runs/iarn
--minutes 90 --threads 1 --export weights/iarn``

Recipe (the IRN recipe of :mod:`rescale.train.irn`, see ``../shared/research/irn_training_notes.md``,
with the scale drawn per step):

- the trunk starts as our trained IRN x4 (``--init irn_x4``, :func:`rescale.models.iarn.from_irn`),
  which is already the right model at scale 4, so training teaches it the other scales;
- each step draws one scale pair for the batch: half the time ``sx = sy``, otherwise independent, each
  uniform in ``[--scale-min, --scale-max]``. The LR patch is fixed (``--lr-patch`` 16), so the HR patch
  is ``round(16 s)`` per axis and every step costs the same (the trunk runs on the ``4 x 16`` pivot);
- losses as IRN: Charbonnier reconstruction of the HR from the 8-bit LR (straight-through) with
  ``z = 0``, ``lambda_lr * MSE(LR, MATLAB bicubic LR)`` with ``lambda_lr`` adapted to hold the LR near
  ``--lr-psnr`` dB, ``lambda_z * mean(z^2)``; Adam, warm-up, cosine decay, gradient clipping.

Every ``--eval-every`` steps: Set5 Y-PSNR of the HR rebuilt from the 8-bit LR at scales 2, 4 and
(1.5, 3) (the protocol of ``rescale eval``) and the LR's PSNR against MATLAB bicubic, to ``RUN/log.jsonl``.
"""

from __future__ import annotations

import argparse
import math
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ..eval.datasets import scaled_sizes
from ..eval.metrics import psnr, quantize, rgb_to_y
from ..methods import matlab_bicubic
from ..models.iarn import IARN, from_irn
from ..models.irn import quantize_ste
from .irn import DEFAULT_SET5, load_eval_images
from .loop import add_budget_arguments, add_guidance_arguments, start_run, train
from .patches import PatchSampler, image_files
from .run import RunDir

EVAL_SCALES = ((2.0, 2.0), (4.0, 4.0), (1.5, 3.0))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", nargs="+", required=True, help="folders of training images")
    p.add_argument("--eval-data", default=str(DEFAULT_SET5), help="folder of Set5 HR images ('' to skip)")
    p.add_argument("--run", required=True, help="run folder (resumes from RUN/ckpt.pt)")
    p.add_argument("--export", help="write PATH.safetensors + PATH.json at the end")
    p.add_argument(
        "--init",
        default="irn_x4",
        help="IRN x4 weights to start the trunk from, or IARN weights to continue ('' : from scratch)",
    )
    add_budget_arguments(p, eval_every=1500, log_seconds=60)
    g = p.add_argument_group("model (used without --init)")
    g.add_argument("--blocks", type=int, default=4)
    g.add_argument("--growth", type=int, default=16)
    g.add_argument("--convs", type=int, default=4)
    g = p.add_argument_group("optimisation")
    g.add_argument("--batch", type=int, default=4)
    g.add_argument("--lr-patch", type=int, default=16, help="LR patch size; the HR patch is round(lr_patch * s)")
    g.add_argument("--scale-min", type=float, default=1.1)
    g.add_argument("--scale-max", type=float, default=4.0)
    g.add_argument(
        "--lr",
        type=float,
        default=5e-5,
        help="fine-tuning rate: the trunk starts trained (higher rates undo the IRN start)",
    )
    add_guidance_arguments(g)
    g = p.add_argument_group("machine")
    g.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    g.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    g.add_argument("--seed", type=int, default=0)


def draw_scale(g: torch.Generator, lo: float, hi: float) -> tuple[float, float]:
    """``(sx, sy)``: equal half the time, else independent; each uniform in ``[lo, hi]``."""
    u = torch.rand(3, generator=g).tolist()
    sx = lo + (hi - lo) * u[0]
    return (sx, sx) if u[2] < 0.5 else (sx, lo + (hi - lo) * u[1])


def training_loss(model: IARN, x: torch.Tensor, lr_size: tuple[int, int], args, lambda_lr: float):
    """One batch of HR patches ``x`` ``[N, 3, H, W]`` reduced to ``lr_size`` -> (loss, detached parts)."""
    hr = (x.shape[-1], x.shape[-2])
    out = model.down(x, lr_size)
    lr, z = out[:, :3], out[:, 3:]
    target = matlab_bicubic("torch").down(x, lr_size)
    l_lr = (lr - target).square().mean()
    l_z = z.square().mean()
    rec = model.up(quantize_ste(lr), hr)
    l_rec = torch.sqrt((rec - x).square() + 1e-6).mean()
    loss = l_rec + lambda_lr * l_lr + args.lambda_z * l_z
    return loss, torch.stack([loss, l_rec, l_lr, l_z]).detach()


@torch.no_grad()
def evaluate(model: IARN, images: dict[str, torch.Tensor], scales=EVAL_SCALES) -> dict:
    """Per scale ``"SXxSY"``: mean Y-PSNR over ``images`` (uint8 ``[1, 3, H, W]``) of the HR rebuilt
    from the 8-bit LR with ``z = 0`` (HR cropped by :func:`rescale.eval.datasets.scaled_sizes`, border
    ``ceil(max(s))``), and the PSNR of the 8-bit LR against the float MATLAB-bicubic LR."""
    out = {}
    for sx, sy in scales:
        hr_scores, lr_scores = [], []
        for img in images.values():
            (W, H), lr_size = scaled_sizes(img.shape[-1], img.shape[-2], sx, sy)
            x = img[..., :H, :W].float() / 255
            lr = (quantize(model.down(x, lr_size)[:, :3]) / 255).float()
            hr = model.up(lr, (W, H))
            hr_scores.append(
                psnr(rgb_to_y(quantize(hr)), rgb_to_y(img[..., :H, :W].double()), crop=math.ceil(max(sx, sy))).item()
            )
            lr_scores.append(psnr(lr * 255, quantize(matlab_bicubic("torch").down(x, lr_size))).item())
        out[f"{sx:g}x{sy:g}"] = {
            "psnr_y": round(float(np.mean(hr_scores)), 3),
            "psnr_lr": round(float(np.mean(lr_scores)), 3),
        }
    return out


def _build(args, state, device) -> tuple[IARN, dict]:
    """The model: from the checkpoint, else from ``--init`` (IRN x4 or IARN weights), else fresh."""
    from ..pretrained import load_manifest, load_state_dict

    if state is not None:
        model = IARN(**state["arch"])
        model.load_state_dict(state["model"])
        print(f"resuming at step {state['step']}", flush=True)
        return model.to(device), state
    state = {"step": 0, "seconds": 0.0, "lambda_lr": args.lambda_lr, "segments": [], "init": args.init or None}
    if not args.init:
        return IARN(args.blocks, args.growth, args.convs).to(device), state
    manifest = load_manifest(args.init)
    if manifest["model"] == "iarn":  # continue exported IARN weights (e.g. from a GPU burst)
        model = IARN(**manifest["architecture"]["args"])
        model.load_state_dict(load_state_dict(args.init))
        state.update(
            step=manifest["steps"],
            seconds=manifest["wall_time_s"],
            segments=manifest["hardware"],
            lambda_lr=manifest.get("lambda_lr", args.lambda_lr),
            curve=manifest.get("learning_curve", []),
        )
        print(f"continuing {args.init} from step {manifest['steps']}", flush=True)
        return model.to(device), state
    irn = manifest["architecture"]["args"]
    if irn["scale"] != 4 or irn.get("dlv"):
        raise SystemExit(f"--init {args.init}: IARN starts from plain IRN x4 weights, got {irn}")
    model = IARN(irn["blocks"], irn["growth"], irn["convs"], irn["lift_kernel"])
    print(f"initialised {from_irn(model, load_state_dict(args.init))} tensors from {args.init}", flush=True)
    return model.to(device), state


def main(args) -> int:
    t_start, device = start_run(args)
    if not 1 <= args.scale_min <= args.scale_max <= 4:
        raise SystemExit("need 1 <= --scale-min <= --scale-max <= 4")
    run = RunDir(args.run)
    max_patch = math.ceil(args.lr_patch * args.scale_max)
    sampler = PatchSampler(args.data, max_patch, device=device, seed=args.seed)
    evals = load_eval_images(args.eval_data, device)
    model, state = _build(args, run.load(map_location=device), device)
    for rec in state.pop("curve", []) if not run.history() else []:
        run.log(kind="eval", **rec)
    scale_rng = torch.Generator().manual_seed(args.seed + 1 + state["step"])

    def evaluate_set5() -> tuple[dict, str]:
        scores = evaluate(model, evals)
        return {"scales": scores}, "Set5 " + ", ".join(
            f"x{k} {v['psnr_y']:.2f} dB (LR {v['psnr_lr']:.1f})" for k, v in scores.items()
        )

    def batch_loss(lambda_lr: float):
        sx, sy = draw_scale(scale_rng, args.scale_min, args.scale_max)
        x = sampler.batch(args.batch)[..., : round(args.lr_patch * sy), : round(args.lr_patch * sx)]
        return training_loss(model, x, (args.lr_patch, args.lr_patch), args, lambda_lr)

    return train(
        args,
        run,
        model,
        state,
        t_start,
        batch_loss=batch_loss,
        evaluate=evaluate_set5 if evals else None,
        manifest=partial(_manifest, args, model, run, state),
        segment_info={"batch": args.batch, "lr_patch": args.lr_patch},
        checkpoint_info={"init": state.get("init")},
        eval_reserve=1,
        eval_s_digits=1,
    )


def _manifest(
    args,
    model: IARN,
    run: RunDir,
    state: dict,
    step: int,
    seconds: float,
    segments: list,
    final: dict | None,
    lambda_lr: float,
) -> dict:
    curve = [{k: r[k] for k in ("step", "seconds", "scales")} for r in run.history() if r.get("kind") == "eval"]
    return {
        "model": "iarn",
        "architecture": {
            "class": "rescale.models.iarn.IARN",
            "args": model.args,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "command": "python -m rescale.train iarn "
        + " ".join(sys.argv[2:] if sys.argv[1:2] == ["iarn"] else sys.argv[1:]),
        "init": state.get("init"),
        "data": {
            "folders": [Path(d).name for d in args.data],
            "images": len(image_files(args.data)),
            "lr_patch": args.lr_patch,
            "batch": args.batch,
            "scales": [args.scale_min, args.scale_max],
        },
        "steps": step,
        "wall_time_s": round(seconds, 1),
        "hardware": segments,
        "metrics": {
            "set5": final,
            "measured_by": (
                "rescale.train.iarn.evaluate: Set5 cropped by rescale.eval.datasets.scaled_sizes, 8-bit LR, z = 0, "
                "Y-PSNR (MATLAB BT.601) border = ceil(max(s)); LR PSNR vs float MATLAB bicubic, 8-bit, no border"
            ),
        },
        "learning_curve": curve,
        "lambda_lr": lambda_lr,
        "recipe": {
            k: getattr(args, k) for k in ("lr", "warmup", "clip", "lr_psnr", "lambda_z", "scale_min", "scale_max")
        },
    }
