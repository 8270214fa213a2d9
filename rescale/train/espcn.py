"""Train an ESPCN network (Y channel) for one scale on MATLAB-bicubic LR made by our kernels.

    python -m rescale.train espcn --scale 3 --data ../shared/data/T91 --eval-data ../shared/data/Set5 \\
        --threads 1 --run runs/espcn_x3 --export weights/espcn_x3

Each step crops random HR patches (flips and 90-degree rotations) from images kept in memory on the
training device, makes their LR there as MATLAB ``imresize`` does for uint8 images (antialiased
bicubic, mirrored edges, each of the two passes rounded to 8 bits; a margin of real pixels around each
patch so the LR equals that of the whole image, as the benchmark LR files are), and fits the network's
Y to the HR Y (MATLAB ``rgb2ycbcr``).
Adam with a cosine learning-rate decay over the step or wall-clock budget, whichever ends first.

The defaults are the paper's recipe, which converges on one CPU core: LR patches of 17 px, batch
16, Adam at 1e-3 with the last layer at a tenth of that, 100k steps (about 25 minutes on an idle
core), T91 alone. Set5 after 30k-step probes (x3 32.40 dB, x2 36.29): the last layer at the full rate
was worse (x2 36.21 at 26k steps against 36.28); adding BSD200 to T91 was worse on all three test
sets (x2 Set5 / Set14 / BSD100 35.99 / 32.10 / 30.98 against 36.29 / 32.23 / 31.06); scoring only
outputs that see no zero padding (4 LR px of real context around each patch) made the image borders
of the test images worse (x3 31.46 at 17k steps against 32.28 at 16k). The former recipe (batch 128,
96 px HR patches, 3e-3, full-rate last layer) gave an unstable curve that ended 1.2 dB lower.
``--shrinks`` adds copies of the images shrunk by bicubic (FSRCNN's augmentation): resuming x2's 100k
run for 50k steps with them gave 36.57 dB against 36.54 without (docs/espcn.md).

Set5 Y-PSNR is measured every ``--eval-every`` steps with the SR protocol (LR = MATLAB imresize on
uint8, output rounded to uint8, border crop = scale); it is a learning curve, never a checkpoint
choice: the export is the network at the last step. ``--run DIR`` keeps a checkpoint and the
learning curve (``log.jsonl``) and resumes from them; ``--export PATH`` writes
``PATH.safetensors`` + ``PATH.json`` (manifest).

Runs from a source checkout without installing (``PYTHONPATH=.``) on CPU or CUDA; it needs only
torch, numpy, Pillow, safetensors and tqdm.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "add_arguments",
    "main",
    "BatchCropper",
    "load_training_images",
    "make_lr",
    "set5_psnr",
    "init_from_other_scale",
]

#: LR pixels of real image kept around a patch when making its LR: MATLAB bicubic's support is
#: 2 LR pixels at every scale, so the LR of the patch's interior equals that of the whole image.
BICUBIC_MARGIN = 2


# --- data --------------------------------------------------------------------------------------


def load_training_images(folders, shrinks=(1.0,)) -> list[torch.Tensor]:
    """uint8 ``[3, H, W]`` landscape images; one copy per factor of ``shrinks``, downscaled with
    antialiased bicubic (FSRCNN's augmentation: shrunk copies add denser detail to a small set)."""
    from PIL import Image

    from .patches import image_files

    images = []
    for path in image_files(folders):
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        for factor in shrinks:
            size = (round(rgb.width * factor), round(rgb.height * factor))
            arr = np.asarray(rgb if factor == 1 else rgb.resize(size, Image.Resampling.BICUBIC))
            if arr.shape[0] > arr.shape[1]:  # landscape only: a smaller padded stack (rotations come later)
                arr = arr.transpose(1, 0, 2)
            images.append(torch.from_numpy(arr.copy()).permute(2, 0, 1))
    return images


class BatchCropper:
    """Random square uint8 crops with random flips / transposes, made in a few batched ops.

    The images are zero-padded into one ``[M, 3, Hmax, Wmax]`` tensor on ``device``; a batch is one
    advanced-indexing gather (a per-crop Python loop costs more than an ESPCN step on a GPU).

    Args:
        images: uint8 ``[3, H, W]`` tensors (smaller than ``size`` on a side: skipped).
        size: crop size in pixels.
    """

    def __init__(self, images, size: int, *, device="cpu", seed: int = 0):
        images = [im for im in images if min(im.shape[-2:]) >= size]
        if not images:
            raise ValueError(f"no training image is at least {size} px on each side")
        self.size, self.device = size, torch.device(device)
        h = max(im.shape[1] for im in images)
        w = max(im.shape[2] for im in images)
        self.stack = torch.zeros((len(images), 3, h, w), dtype=torch.uint8)
        for i, im in enumerate(images):
            self.stack[i, :, : im.shape[1], : im.shape[2]] = im
        self.stack = self.stack.to(self.device)
        sizes = torch.tensor([im.shape[1:] for im in images], dtype=torch.float64)
        self.weights = (sizes[:, 0] * sizes[:, 1]).to(self.device)  # pick in proportion to area
        self.room = (sizes - size + 1).to(self.device)  # number of valid top-left positions per axis
        self.generator = torch.Generator(self.device).manual_seed(seed)

    def __len__(self) -> int:
        return self.stack.shape[0]

    def __call__(self, n: int) -> torch.Tensor:
        """``[n, 3, size, size]`` uint8."""
        g, p, dev = self.generator, self.size, self.device
        k = torch.multinomial(self.weights, n, replacement=True, generator=g)
        corner = (torch.rand((n, 2), generator=g, device=dev, dtype=torch.float64) * self.room[k]).long()
        ar = torch.arange(p, device=dev)
        rows = (corner[:, 0:1] + ar)[:, None, :, None]
        cols = (corner[:, 1:2] + ar)[:, None, None, :]
        out = self.stack[k[:, None, None, None], torch.arange(3, device=dev)[None, :, None, None], rows, cols]
        flips = torch.rand((n, 3), generator=g, device=dev) < 0.5  # 8 dihedral transforms
        out = torch.where(flips[:, 0, None, None, None], out.flip(-1), out)
        out = torch.where(flips[:, 1, None, None, None], out.flip(-2), out)
        return torch.where(flips[:, 2, None, None, None], out.transpose(-1, -2), out)


def make_lr(hr: torch.Tensor, scale: int, bicubic) -> tuple[torch.Tensor, torch.Tensor]:
    """``(lr, hr)`` float ``[N, 3, h, w]`` in ``[0, 1]`` from uint8 HR crops with a margin of
    ``BICUBIC_MARGIN * scale`` px, both cropped. The LR is MATLAB imresize on uint8, each of its two
    passes rounded to 8 bits, as the evaluation's LR (a single rounding at the end differs by one
    level on 10-15% of the pixels)."""
    from ..eval.datasets import imresize_uint8

    m = BICUBIC_MARGIN
    big_lr = imresize_uint8(hr, (hr.shape[-1] // scale, hr.shape[-2] // scale), bicubic)
    return big_lr[..., m:-m, m:-m].float() / 255, hr[..., m * scale : -m * scale, m * scale : -m * scale].float() / 255


def rgb_y(x: torch.Tensor) -> torch.Tensor:
    from ..models.espcn import rgb_to_ycbcr

    return rgb_to_ycbcr(x)[:, :1]


# --- evaluation -----------------------------------------------------------------------------------


def load_eval_set(folder) -> list[tuple[str, torch.Tensor]]:
    """``(stem, uint8 [1, 3, H, W])`` for every image of ``folder`` (greyscale replicated)."""
    from ..eval.datasets import find_images, load_rgb

    return [(p.stem, load_rgb(p)[0]) for p in find_images(folder)]  # stems: the GPU copies are WebP


def set5_psnr(method, images, scale: int, device) -> dict[str, float]:
    """Y-PSNR per image (and ``"mean"``) with the SR protocol: HR cropped to a multiple of ``scale``,
    LR = MATLAB imresize on uint8, SR rounded to uint8, Y of MATLAB ``rgb2ycbcr``, ``scale`` px
    border crop."""
    from ..eval import metrics
    from ..eval.datasets import bicubic_lr

    scores = {}
    for name, img in images:
        hr, lr = bicubic_lr(img.to(device), scale)
        sr = method.up(lr.float() / 255, (hr.shape[-1], hr.shape[-2]))
        y_sr, y_hr = metrics.rgb_to_y(metrics.quantize(sr)), metrics.rgb_to_y(hr.double())
        scores[name] = metrics.psnr(y_hr, y_sr, crop=scale).item()
    scores["mean"] = float(np.mean(list(scores.values())))
    return scores


# --- training ------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..models.espcn import PADDINGS

    p.description = __doc__.split("\n\n")[0]
    p.add_argument("--scale", type=int, required=True, help="upscaling factor (one network per scale)")
    p.add_argument("--data", nargs="+", required=True, metavar="FOLDER", help="folders of HR training images")
    p.add_argument("--eval-data", metavar="FOLDER", help="folder of HR evaluation images (Set5)")
    p.add_argument("--eval-every", type=int, default=1000, help="steps between evaluations (default 1000)")
    p.add_argument(
        "--minutes",
        type=float,
        default=0,
        help="wall-clock budget of the whole run in minutes, resumed time included (0: none)",
    )
    p.add_argument("--steps", type=int, default=100_000, help="step budget of the whole run (default 100000)")
    p.add_argument("--batch", type=int, default=16, help="patches per step (default 16)")
    p.add_argument(
        "--patch",
        type=int,
        default=0,
        help="HR patch size in px, a multiple of the scale (default 17 * scale, the paper's)",
    )
    p.add_argument(
        "--lr", type=float, default=1e-3, help="Adam learning rate at the start; cosine decay to 1%% (default 1e-3)"
    )
    p.add_argument(
        "--last-layer-lr",
        type=float,
        default=0.1,
        help="learning-rate factor of the last layer (default 0.1, the paper's)",
    )
    p.add_argument("--loss", choices=("l1", "mse"), default="mse", help="loss on Y (default mse)")
    p.add_argument(
        "--padding",
        choices=PADDINGS,
        default="zeros",
        help="how the convolutions pad at the image's (and patch's) edge (default zeros, the paper's)",
    )
    p.add_argument(
        "--shrinks",
        type=float,
        nargs="+",
        default=[1.0],
        metavar="F",
        help="train on copies of each image downscaled by these factors (default 1: the images as they are)",
    )
    p.add_argument(
        "--init",
        metavar="WEIGHTS",
        help="start a new run from another scale's ESPCN (e.g. espcn_x2): its features, and its last layer "
        "spread over this scale's sub-pixel positions (EDSR starts x3/x4 from x2 the same way)",
    )
    p.add_argument("--run", metavar="DIR", help="run folder: checkpoint + log.jsonl, resumed automatically")
    p.add_argument("--export", metavar="PATH", help="write PATH.safetensors and PATH.json at the end")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=float, default=60, help="seconds between checkpoints (default 60)")
    p.add_argument("--print-every", type=float, default=30, help="seconds between progress lines when not on a TTY")


def init_from_other_scale(net, state: dict, scale: int) -> None:
    """Load an x``scale`` ESPCN's ``state`` into ``net`` (another scale, same layers otherwise): the
    first two layers as they are; each of ``net``'s sub-pixel outputs takes the filter of the
    ``scale`` sub-pixel it lies in, so ``net`` starts as that network followed by a nearest upscale.

    >>> from rescale.models.espcn import ESPCNNet
    >>> x2, x4 = ESPCNNet(2), ESPCNNet(4)
    >>> init_from_other_scale(x4, x2.state_dict(), 2)
    >>> x = torch.rand(1, 1, 8, 8)
    >>> torch.allclose(x4(x), x2(x).repeat_interleave(2, -1).repeat_interleave(2, -2))
    True
    """
    r, c = net.scale, net.channels
    sub = torch.arange(r) * scale // r  # the source sub-pixel row / column of each target one
    src = (torch.arange(c)[:, None, None] * scale + sub[None, :, None]) * scale + sub[None, None, :]
    state = dict(state)
    for key in ("conv3.weight", "conv3.bias"):
        state[key] = state[key][src.flatten()]
    net.load_state_dict(state)


def _param_groups(net, lr: float, last_factor: float) -> list[dict]:
    last = list(net.conv3.parameters())
    rest = [p for n, p in net.named_parameters() if not n.startswith("conv3.")]
    return [
        {"params": rest, "lr": lr, "base_lr": lr},
        {"params": last, "lr": lr * last_factor, "base_lr": lr * last_factor},
    ]


def _cosine(progress: float) -> float:
    """Learning-rate factor: 1 at the start, 0.01 at the end of the budget."""
    progress = min(max(progress, 0.0), 1.0)
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))


def _curve_summary(history: list[dict]) -> dict:
    evals = [r for r in history if "psnr_y" in r]
    losses = [r for r in history if "loss" in r]
    return {
        "evals": [
            {"step": r["step"], "seconds": round(r["seconds"], 1), "psnr_y": round(r["psnr_y"], 3)} for r in evals
        ],
        "loss": [
            {"step": r["step"], "seconds": round(r["seconds"], 1), "loss": r["loss"]}
            for r in losses[:: max(1, len(losses) // 20)]
        ],
    }


def main(args: argparse.Namespace) -> int:
    from ..methods import matlab_bicubic
    from ..models.espcn import ESPCN, ESPCNNet
    from .run import RunDir, command_line, export_weights, hardware

    scale = args.scale
    if scale < 2:
        raise SystemExit("--scale must be an integer >= 2")
    patch = args.patch or 17 * scale
    if patch % scale or patch < 4 * scale:
        raise SystemExit(f"--patch {patch} must be a multiple of --scale {scale} and at least {4 * scale}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else "cpu"
        if args.device == "auto"
        else args.device
    )
    torch.manual_seed(args.seed)
    torch.backends.cudnn.benchmark = True

    start_load = time.perf_counter()
    crop = BatchCropper(
        load_training_images(args.data, args.shrinks), patch + 2 * BICUBIC_MARGIN * scale, device=device, seed=args.seed
    )
    eval_images = load_eval_set(args.eval_data) if args.eval_data else []
    # On CUDA the torch reference gathers (the Triton backend is not required); on CPU the fast kernels.
    backend = "torch" if device.type == "cuda" else "auto"
    bicubic = matlab_bicubic(backend=backend)
    net = ESPCNNet(scale, padding=args.padding).to(device)
    method = ESPCN({scale: net}, backend=backend).to(device)
    opt = torch.optim.Adam(_param_groups(net, args.lr, args.last_layer_lr))
    loss_fn = F.l1_loss if args.loss == "l1" else F.mse_loss

    run = RunDir(args.run) if args.run else None
    step, elapsed, init = 0, 0.0, args.init
    state = run.load(map_location=device) if run else None
    if state is not None:
        saved = {"padding": "zeros", **state["config"]}  # checkpoints from before --padding padded with zeros
        if {**saved, "padding": args.padding} != net.config:
            raise SystemExit(f"{run.ckpt} holds a {state['config']} network, not {net.config}")
        if saved["padding"] != args.padding:  # the same weights: a later stage may change the padding
            print(f"padding {saved['padding']} -> {args.padding} from step {state['step']}", flush=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        for group, fresh in zip(opt.param_groups, _param_groups(net, args.lr, args.last_layer_lr)):
            group["base_lr"] = fresh["base_lr"]  # this invocation's --lr, not the checkpoint's
        step, elapsed, init = state["step"], state["elapsed"], state.get("init")
        crop.generator.manual_seed(args.seed + step)  # fresh crops after a resume
        print(f"resumed {run.ckpt} at step {step} ({elapsed / 60:.1f} min)", flush=True)
    elif args.init:
        from ..pretrained import load_manifest, load_state_dict

        init_from_other_scale(
            net, load_state_dict(args.init), load_manifest(args.init)["architecture"]["args"]["scale"]
        )
        print(f"started from {args.init}", flush=True)
    print(
        f"espcn x{scale}: {len(crop)} training images, {len(eval_images)} eval images, patch {patch} px HR, "
        f"batch {args.batch}, "
        f"{device} ({hardware() if device.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
        f"loaded in {time.perf_counter() - start_load:.1f} s",
        flush=True,
    )

    def save() -> None:
        if run:
            run.save(
                {
                    "model": net.state_dict(),
                    "optimizer": opt.state_dict(),
                    "step": step,
                    "elapsed": elapsed,
                    "config": net.config,
                    "init": init,
                    "args": vars(args),
                }
            )

    def evaluate() -> float | None:
        if not eval_images:
            return None
        net.eval()
        scores = set5_psnr(method, eval_images, scale, device)
        net.train()
        if run:
            run.log(step=step, seconds=elapsed, psnr_y=scores["mean"], per_image=scores)
        return scores["mean"]

    budget = args.minutes * 60
    progress_bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        progress_bar = tqdm(total=args.steps, initial=step, desc=f"espcn x{scale}", dynamic_ncols=True)
    psnr = evaluate() if step == 0 else None
    if psnr is not None:
        print(f"step 0: Set5 x{scale} Y-PSNR {psnr:.3f} dB (untrained)", flush=True)
    net.train()
    stop = []  # SIGTERM (e.g. from `timeout`) or Ctrl-C: finish the step, then save and export
    signal.signal(signal.SIGTERM, lambda *_: stop.append("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: stop.append("SIGINT"))
    t0 = time.perf_counter() - elapsed
    last_save = last_print = time.perf_counter()
    rate_start, rate_step = time.perf_counter(), step  # training speed between evaluations
    loss_sum, loss_n = torch.zeros((), device=device), 0
    while step < args.steps and not (budget and elapsed >= budget) and not stop:
        progress = max(step / args.steps, elapsed / budget if budget else 0.0)
        for group in opt.param_groups:
            group["lr"] = group["base_lr"] * _cosine(progress)
        with torch.no_grad():
            lr_img, hr_img = make_lr(crop(args.batch), scale, bicubic)
            lr_y, hr_y = rgb_y(lr_img), rgb_y(hr_img)
        loss = loss_fn(net(lr_y), hr_y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        loss_sum += loss.detach()
        loss_n += 1
        if progress_bar is not None:
            progress_bar.update()
        now = time.perf_counter()
        elapsed = now - t0
        if step % args.eval_every == 0 or step == args.steps or (budget and elapsed >= budget):
            mean_loss = loss_sum.item() / loss_n
            loss_sum.zero_()
            loss_n = 0
            if run:
                run.log(step=step, seconds=elapsed, loss=mean_loss, lr=opt.param_groups[0]["lr"])
            psnr = evaluate()
            msg = f"step {step}: loss {mean_loss:.3g}" + (
                f", Set5 x{scale} Y-PSNR {psnr:.3f} dB" if psnr is not None else ""
            )
            if progress_bar is not None:
                progress_bar.set_postfix_str(msg)
            else:
                print(
                    f"{msg}, {elapsed:.0f} s, {(step - rate_step) / max(now - rate_start, 1e-9):.1f} steps/s",
                    flush=True,
                )
            last_print = rate_start = time.perf_counter()
            rate_step = step
        elif progress_bar is None and now - last_print >= args.print_every:
            print(
                f"step {step}, {elapsed:.0f} s, {(step - rate_step) / max(now - rate_start, 1e-9):.1f} steps/s",
                flush=True,
            )
            last_print = now
        if now - last_save >= args.save_every:
            save()
            last_save = now
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if progress_bar is not None:
        progress_bar.close()
    if stop:
        print(f"stopped by {stop[0]} at step {step}", flush=True)
    save()
    net.eval()
    torch.backends.cudnn.allow_tf32 = False  # the recorded numbers in full float32, as on a CPU
    final = set5_psnr(method, eval_images, scale, device) if eval_images else None
    if final:
        print(f"done: step {step}, {elapsed / 60:.1f} min, Set5 x{scale} Y-PSNR {final['mean']:.3f} dB", flush=True)
    if args.export:
        history = run.history() if run else []
        manifest = {
            "method": "espcn",
            "architecture": {"name": "rescale.models.espcn.ESPCNNet", "args": net.config},
            "command": command_line("espcn"),
            "data": {
                "train": [str(d) for d in args.data],
                "train_images": len(crop),
                "lr": "MATLAB imresize (rescale.eval.datasets.imresize_uint8: bicubic, each pass rounded to uint8)"
                " of uint8 HR patches, as the evaluation's LR",
            },
            "training": {
                "loss": args.loss,
                "optimizer": "Adam",
                "lr": args.lr,
                "last_layer_lr": args.last_layer_lr,
                "schedule": "cosine to 1%",
                "batch": args.batch,
                "patch_hr": patch,
                "shrinks": args.shrinks,
                "padding": args.padding,
                "seed": args.seed,
                "init": init,  # the weights the run started from (None: a fresh network)
            },
            "steps": step,
            "weights": "the network at the last step of the run; no checkpoint is chosen by an evaluation score",
            "wall_seconds": round(elapsed, 1),
            "hardware": hardware() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads",
            "metrics": {
                f"set5_x{scale}_psnr_y": None if final is None else round(final["mean"], 4),
                "per_image": None if final is None else {k: round(v, 4) for k, v in final.items() if k != "mean"},
                "protocol": (
                    "HR modcrop, LR = MATLAB imresize bicubic on uint8, SR rounded to uint8, Y of rgb2ycbcr, "
                    "border crop = scale"
                ),
                "eval_data": args.eval_data,
            },
            "learning_curve": _curve_summary(history),
        }
        path = export_weights(net, args.export, manifest)
        print(f"wrote {path} and {path.with_suffix('.json')}", flush=True)
    return 0


if __name__ == "__main__":  # python -m rescale.train.espcn ... (same as python -m rescale.train espcn ...)
    parser = argparse.ArgumentParser(prog="python -m rescale.train.espcn")
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
