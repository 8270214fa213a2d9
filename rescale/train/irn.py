"""Train IRN (invertible rescaling), x2 or x4, on CPU or CUDA, resumable, within a wall-time budget.

``python -m rescale.train irn --scale 2 --data ../shared/data/BSD200 ../shared/data/T91 --run runs/irn_x2
--minutes 60 --export weights/irn_x2``

Recipe, chosen for quality per unit of compute (see ``../shared/research/irn_training_notes.md``):

- the model starts near bicubic quality: Haar plus a linear lifting pair fitted by least squares on
  training patches (:meth:`rescale.models.invertible.Lift.fit_`), couplings at identity;
- losses are means over HR values: Charbonnier reconstruction of the HR from the 8-bit LR
  (straight-through rounding) with ``z = 0`` (the API's default; ``--z-sample`` also trains with
  ``z ~ N(0, 1)``), ``lambda_lr * MSE(LR, MATLAB bicubic LR)``, ``lambda_z * mean(z^2)``;
- ``lambda_lr`` adapts (a Lagrange-multiplier-style update) so the batch LR stays near
  ``--lr-psnr`` dB from the bicubic LR: the LR must remain a good image, and a fixed weight either
  wastes HR quality or lets the LR drift;
- Adam, linear warm-up, cosine decay over the budget (steps or minutes, whichever ends first),
  gradient-norm clipping; bf16 autocast on CUDA (the coupling trunk stays float32).

Every ``--eval-every`` steps the Set5 score (Y-PSNR of the HR from the 8-bit LR with ``z = 0``, border
``scale``, and PSNR of the 8-bit LR against the float MATLAB-bicubic LR) goes to ``RUN/log.jsonl``.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..eval.metrics import psnr, quantize, rgb_to_y
from ..models.invertible import haar
from ..models.irn import IRN, bicubic_down, quantize_ste
from .loop import add_budget_arguments, add_guidance_arguments, start_run, train
from .patches import PatchSampler, image_files
from .run import RunDir

DEFAULT_SET5 = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "Set5"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", type=int, choices=(2, 4), default=2)
    p.add_argument("--data", nargs="+", required=True, help="folders of training images")
    p.add_argument("--eval-data", default=str(DEFAULT_SET5), help="folder of Set5 HR images ('' to skip)")
    p.add_argument("--run", required=True, help="run folder (resumes from RUN/ckpt.pt)")
    p.add_argument("--export", help="write PATH.safetensors + PATH.json at the end")
    p.add_argument(
        "--init",
        help="exported weights (.safetensors + .json) to start from: of the same scale, training continues "
        "them (step count and curve carried on); irn_x2 for --scale 4 initialises the first stage",
    )
    add_budget_arguments(p, eval_every=500, log_seconds=30)
    g = p.add_argument_group("model")
    g.add_argument("--blocks", type=int, default=8)
    g.add_argument("--growth", type=int, default=32)
    g.add_argument("--convs", type=int, default=5)
    g.add_argument("--lift-kernel", type=int, default=5)
    g.add_argument("--dlv", type=int, default=0, help="channels of the downscaling latent (DLV-IRN); 0: plain IRN")
    g = p.add_argument_group("optimisation")
    g.add_argument("--batch", type=int, default=16)
    g.add_argument("--patch", type=int, default=128, help="HR patch size (multiple of the scale)")
    g.add_argument("--lr", type=float, default=4e-4)
    add_guidance_arguments(g)
    g.add_argument("--z-sample", type=float, default=0.0, help="fraction of the batch reconstructed with z ~ N(0, 1)")
    g.add_argument(
        "--dlv-sigma", type=float, default=0.1, help="std of the downscaling latent in training (0: zero channels)"
    )
    g = p.add_argument_group("machine")
    g.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    g.add_argument("--amp", choices=("auto", "bf16", "off"), default="auto", help="auto: bf16 on CUDA, off on CPU")
    g.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    g.add_argument("--seed", type=int, default=0)


def load_eval_images(folder, device) -> dict[str, torch.Tensor]:
    """``{file name: uint8 [1, 3, H, W]}`` of the images in ``folder`` (empty if it is missing)."""
    if not folder or not Path(folder).is_dir():
        return {}
    out = {}
    for path in image_files([folder]):
        with Image.open(path) as im:
            out[path.name] = torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)[None].to(device)
    return out


@torch.no_grad()
def evaluate(model: IRN, images: dict[str, torch.Tensor]) -> dict:
    """Mean Y-PSNR (border = scale) of the HR rebuilt from the 8-bit LR with z = 0, and PSNR of the
    8-bit LR against the float MATLAB-bicubic LR, over ``images`` (uint8 ``[1, 3, H, W]``); also
    the Y-PSNR per image."""
    s, hr_scores, lr_scores = model.scale, [], []
    for img in images.values():
        img = img[..., : img.shape[-2] // s * s, : img.shape[-1] // s * s]
        x = img.float() / 255
        lr = quantize_ste(model(x)[:, :3])
        hr = model.up(lr)
        hr_scores.append(psnr(rgb_to_y(quantize(hr)), rgb_to_y(img.double()), crop=s).item())
        lr_scores.append(psnr(quantize(lr), quantize(bicubic_down(x, s))).item())
    per_image = {name: round(v, 3) for name, v in zip(images, hr_scores)}
    return {"psnr_y": float(np.mean(hr_scores)), "psnr_lr": float(np.mean(lr_scores)), "images": per_image}


@torch.no_grad()
def fit_lifts(model: IRN, x: torch.Tensor, skip: int = 0) -> None:
    """Least-squares fit of each stage's lifting pair on patches ``x`` (stages before ``skip`` are
    kept, e.g. loaded from x2 weights)."""
    h = x
    for k, (lift, blocks) in enumerate(zip(model.lifts, model.stages)):
        h = haar(h)
        if k == 0 and model.dlv:
            h = torch.cat([h, h.new_zeros(h.shape[0], model.dlv, *h.shape[2:])], 1)
        if k >= skip:
            lift.fit_(h, bicubic_down(x, 2 ** (k + 1)))
        h = lift(h)
        for block in blocks:
            h = block(h)


def training_loss(model: IRN, x: torch.Tensor, args, lambda_lr: float, amp) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch ``x`` ``[N, 3, P, P]`` -> (loss, its parts :data:`rescale.train.loop.PARTS` as one detached tensor, so
    that reading them costs one device sync per step)."""
    n = x.shape[0]
    zd = (
        torch.randn(n, model.dlv, x.shape[-2] // 2, x.shape[-1] // 2, device=x.device) * args.dlv_sigma
        if model.dlv
        else None
    )
    with amp():
        out = model(x, zd).float()
    lr, z = out[:, :3], out[:, 3:]
    l_lr = (lr - bicubic_down(x, model.scale)).square().mean()
    l_z = z.square().mean()
    z_in = torch.zeros_like(z)
    k = int(round(args.z_sample * n))
    if k:
        z_in[:k] = torch.randn_like(z[:k])
    with amp():
        rec = model.inverse(torch.cat([quantize_ste(lr), z_in], 1))
    l_rec = torch.sqrt((rec.float() - x).square() + 1e-6).mean()
    loss = l_rec + lambda_lr * l_lr + args.lambda_z * l_z
    return loss, torch.stack([loss, l_rec, l_lr, l_z]).detach()


def main(args) -> int:
    t_start, device = start_run(args)
    if args.patch % args.scale or args.patch < 4 * args.scale:
        raise SystemExit(f"--patch must be a multiple of the scale {args.scale} and at least {4 * args.scale}")
    use_bf16 = args.amp == "bf16" or (args.amp == "auto" and device.type == "cuda")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True

    def amp():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)

    run = RunDir(args.run)
    sampler = PatchSampler(args.data, args.patch, device=device, seed=args.seed)
    evals = load_eval_images(args.eval_data, device)
    state = run.load(map_location=device)
    if state is not None:
        model = IRN(**state["arch"]).to(device)
        model.load_state_dict(state["model"])
        print(f"resuming {run.ckpt} at step {state['step']}", flush=True)
    else:
        state = {"step": 0, "seconds": 0.0, "lambda_lr": args.lambda_lr, "segments": []}
        init = _init_manifest(args.init) if args.init else None
        if init is not None and init["architecture"]["args"]["scale"] == args.scale:
            # continue exported weights (e.g. from a GPU burst): same model, its history carried on
            model = IRN(**init["architecture"]["args"]).to(device)
            model.load_state_dict(_load_tensors(args.init))
            state.update(
                step=init["steps"],
                seconds=init["wall_time_s"],
                segments=init["hardware"],
                lambda_lr=init.get("lambda_lr", args.lambda_lr),
            )
            for rec in init.get("learning_curve", []) if not run.history() else []:
                run.log(kind="eval", **rec)
            print(f"continuing {args.init} from step {init['steps']}", flush=True)
        else:
            model = IRN(args.scale, args.blocks, args.growth, args.convs, args.lift_kernel, args.dlv).to(device)
            skip = _init_from(model, args.init) if args.init else 0
            fit_lifts(model, sampler.batch(64), skip)

    def evaluate_set5() -> tuple[dict, str]:
        scores = evaluate(model, evals)
        fields = {
            "psnr_y": round(scores["psnr_y"], 3),
            "psnr_lr": round(scores["psnr_lr"], 3),
            "images": scores["images"],
        }
        return fields, f"Set5 x{model.scale} Y-PSNR {scores['psnr_y']:.2f} dB, LR vs bicubic {scores['psnr_lr']:.2f} dB"

    def batch_loss(lambda_lr: float):
        return training_loss(model, sampler.batch(args.batch), args, lambda_lr, amp)

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


def _init_manifest(name: str) -> dict | None:
    from ..pretrained import load_manifest

    try:
        return load_manifest(name)
    except FileNotFoundError:
        return None


def _load_tensors(name: str) -> dict:
    from ..pretrained import load_state_dict

    return load_state_dict(name)


def _init_from(model: IRN, name: str) -> int:
    """Copy tensors of matching name and shape from weights ``name`` (e.g. x2 weights into x4's first
    stage); returns how many leading stages were initialised (their lifts are not refitted)."""
    own = model.state_dict()
    loaded = {k: v for k, v in _load_tensors(name).items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(loaded, strict=False)
    stages = 0
    while any(k.startswith(f"stages.{stages}.") for k in loaded):
        stages += 1
    print(f"initialised {len(loaded)} tensors ({stages} stage(s)) from {name}", flush=True)
    return stages


def _manifest(
    args, model: IRN, run: RunDir, step: int, seconds: float, segments: list, final: dict | None, lambda_lr: float
) -> dict:
    curve = [
        {k: r[k] for k in ("step", "seconds", "psnr_y", "psnr_lr")} for r in run.history() if r.get("kind") == "eval"
    ]
    files = image_files(args.data)
    return {
        "model": "irn",
        "architecture": {
            "class": "rescale.models.irn.IRN",
            "args": model.args,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "command": "python -m rescale.train irn "
        + " ".join(sys.argv[2:] if sys.argv[1:2] == ["irn"] else sys.argv[1:]),
        "data": {
            "folders": [Path(d).name for d in args.data],
            "images": len(files),
            "patch": args.patch,
            "batch": args.batch,
        },
        "steps": step,
        "wall_time_s": round(seconds, 1),
        "hardware": segments,
        "metrics": {
            "set5": final,
            "measured_by": (
                "rescale.train.irn.evaluate: Set5 modcropped, 8-bit LR, z = 0, Y-PSNR (MATLAB BT.601) border = scale; "
                "LR PSNR vs float MATLAB bicubic, 8-bit, no border"
            ),
        },
        "learning_curve": curve,
        "lambda_lr": lambda_lr,
        "recipe": {
            k: getattr(args, k) for k in ("lr", "warmup", "clip", "lr_psnr", "lambda_z", "z_sample", "dlv_sigma", "amp")
        },
    }
