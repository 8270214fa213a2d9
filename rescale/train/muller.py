"""Fit MULLER (rescale.models.muller.Muller) in front of an image classifier on any folder of class subfolders.

Data: ``--data ROOT`` with ``ROOT/train/<class>/*`` and ``ROOT/val/<class>/*`` (Imagewoof's layout),
or ``ROOT/<class>/*`` split by ``--val-fraction``. Every image is decoded once, its short side resized
to ``--load`` px (antialiased bicubic) and centre-cropped square, and kept in memory as uint8.
Training takes random ``--crop`` px crops (and flips); evaluation the centre crop. The resizer maps
the crop to ``--size`` px and the classifier sees the result:

    crop [N, 3, crop, crop] -> Muller -> [N, 3, size, size] -> SmallCNN -> logits [N, classes]

The classifier is :class:`SmallCNN`, defined here (no downloaded weights), trained from scratch or
loaded with ``--classifier`` (a ``--save-classifier`` file of an earlier run). ``--freeze-classifier``
fits only MULLER's 2K parameters to a fixed model; otherwise both are trained jointly (the paper's
setting). ``--layers 0`` trains with the plain base resizer (a baseline). ``--export PATH`` writes the
MULLER parameters as ``PATH.safetensors`` + ``PATH.json`` for ``rescale.rescale(..., method="muller",
weights=PATH)``.

Example (resumable: rerun the same command to continue ``--run``)::

    python -m rescale.train muller --data ../shared/data/imagewoof --size 64 --steps 2000 \\
        --run runs/muller64 --export runs/muller64/muller_w64 --save-classifier runs/muller64/cnn.pt
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "SmallCNN",
    "Dataset",
    "load_dataset",
    "random_crops",
    "center_crops",
    "make_optimizer",
    "train_steps",
    "evaluate",
    "load_classifier",
    "add_arguments",
    "main",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# --- data ----------------------------------------------------------------------------------------


class Dataset:
    """Images as one uint8 tensor ``[N, 3, S, S]`` with int64 ``labels [N]`` and ``classes`` names."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: list[str]):
        self.images, self.labels, self.classes = images, labels, classes

    def __len__(self) -> int:
        return len(self.labels)


def _class_files(folder: Path, classes: list[str] | None = None) -> tuple[list[tuple[Path, int]], list[str]]:
    from ..eval.datasets import find_images

    if classes is None:
        classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"{folder} has no class subfolders")
    files = [(f, i) for i, name in enumerate(classes) if (folder / name).is_dir() for f in find_images(folder / name)]
    return files, classes


def _decode(path: Path, load: int) -> torch.Tensor:
    """``[3, load, load]`` uint8: short side resized to ``load`` (antialiased bicubic), centre crop."""
    from PIL import Image

    from ..api import rescale

    with Image.open(path) as im:
        im = im.convert("RGB")
    w, h = im.size
    s = load / min(w, h)
    im = rescale(im, size=(max(load, round(w * s)), max(load, round(h * s))), method="bicubic")
    w, h = im.size
    left, top = (w - load) // 2, (h - load) // 2
    return torch.from_numpy(np.asarray(im.crop((left, top, left + load, top + load)))).permute(2, 0, 1).contiguous()


def load_dataset(
    root, load: int, *, limit: int | None = None, val_fraction: float = 0.2, seed: int = 0
) -> tuple[Dataset, Dataset]:
    """``(train, val)`` from ``root/train`` + ``root/val`` or, without them, ``root/<class>`` split
    at random by ``val_fraction``. ``limit``: at most that many images per class and split."""
    root = Path(root)
    if (root / "train").is_dir():
        train_files, classes = _class_files(root / "train")
        val_files, _ = _class_files(root / "val", classes) if (root / "val").is_dir() else ([], classes)
    else:
        files, classes = _class_files(root)
        order = np.random.default_rng(seed).permutation(len(files))
        n_val = int(round(len(files) * val_fraction))
        val_files = [files[i] for i in sorted(order[:n_val])]
        train_files = [files[i] for i in sorted(order[n_val:])]
    if limit:
        train_files, val_files = (_per_class(f, limit) for f in (train_files, val_files))
    if not train_files:
        raise ValueError(f"no training images under {root}")

    def build(files) -> Dataset:
        images = (
            torch.stack([_decode(f, load) for f, _ in files])
            if files
            else torch.zeros(0, 3, load, load, dtype=torch.uint8)
        )
        return Dataset(images, torch.tensor([c for _, c in files], dtype=torch.int64), classes)

    return build(train_files), build(val_files)


def _per_class(files, limit: int):
    seen: dict[int, int] = {}
    out = []
    for f, c in files:
        if seen.get(c, 0) < limit:
            out.append((f, c))
            seen[c] = seen.get(c, 0) + 1
    return out


def random_crops(images: torch.Tensor, crop: int, generator: torch.Generator) -> torch.Tensor:
    """Random ``crop x crop`` windows with random horizontal flips: uint8 ``[N, 3, S, S]`` -> float
    ``[N, 3, crop, crop]`` in ``[0, 1]``."""
    n, _, s, _ = images.shape
    offsets = torch.randint(0, s - crop + 1, (n, 2), generator=generator).tolist()
    flips = torch.rand(n, generator=generator).lt(0.5).tolist()
    out = []
    for img, (i, j), flip in zip(images, offsets, flips):
        patch = img[:, i : i + crop, j : j + crop]
        out.append(patch.flip(-1) if flip else patch)
    return torch.stack(out).float().div_(255)


def center_crops(images: torch.Tensor, crop: int) -> torch.Tensor:
    """Centre ``crop x crop`` windows: uint8 ``[N, 3, S, S]`` -> float ``[N, 3, crop, crop]`` in [0, 1]."""
    o = (images.shape[-1] - crop) // 2
    return images[..., o : o + crop, o : o + crop].float().div_(255)


# --- model ---------------------------------------------------------------------------------------


class SmallCNN(nn.Module):
    """A small ResNet-free classifier for low-resolution inputs: ``[N, 3, H, W]`` in ``[0, 1]`` ->
    logits ``[N, classes]``. A 3x3 stem, then ``stages`` blocks of two 3x3 conv-BN-ReLU, each block
    halving the resolution and doubling the width, global average pooling, dropout, linear."""

    def __init__(self, classes: int, width: int = 32, stages: int = 4, dropout: float = 0.2):
        super().__init__()
        self.config = {"classes": classes, "width": width, "stages": stages, "dropout": dropout}
        layers, c = [_conv_bn(3, width, 1)], width
        for s in range(stages):
            out = width * 2 ** min(s + 1, stages - 1)
            layers += [_conv_bn(c, out, 2), _conv_bn(out, out, 1)]
            c = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, classes))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features((x - self.mean) / self.std))


def _conv_bn(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


# --- training ------------------------------------------------------------------------------------


def cosine(progress: float, floor: float = 0.01) -> float:
    """Learning-rate factor: 1 at the start, ``floor`` at the end of the budget."""
    progress = min(max(progress, 0.0), 1.0)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(
    classifier: nn.Module | None, resizer: nn.Module, lr: float, muller_lr: float, weight_decay: float = 5e-4
) -> torch.optim.Optimizer:
    """AdamW over the classifier (if trained) and the resizer's alpha/beta (no weight decay on those:
    they start at 0, the base resizer, and decay would pull them back)."""
    groups = []
    if classifier is not None:
        groups.append({"params": list(classifier.parameters()), "lr": lr, "base_lr": lr, "weight_decay": weight_decay})
    resizer_params = [p for p in resizer.parameters() if p.numel()]
    if resizer_params:
        groups.append({"params": resizer_params, "lr": muller_lr, "base_lr": muller_lr, "weight_decay": 0.0})
    if not groups:
        raise ValueError("nothing to train: a frozen classifier and a resizer without parameters (--layers 0)")
    return torch.optim.AdamW(groups)


def train_steps(
    classifier,
    resizer,
    data: Dataset,
    opt,
    *,
    start: int,
    stop: int,
    total: int,
    batch: int,
    crop: int,
    size: int,
    generator: torch.Generator,
    train_classifier: bool = True,
    should_stop=lambda: False,
):
    """Run steps ``start .. stop - 1`` of a ``total``-step cosine schedule. Returns ``(step, mean loss)``."""
    classifier.train(train_classifier)
    loss_sum, n, step = 0.0, 0, start
    while step < stop and not should_stop():
        for group in opt.param_groups:
            group["lr"] = group["base_lr"] * cosine(step / total)
        index = torch.randint(0, len(data), (batch,), generator=generator)
        x = random_crops(data.images[index], crop, generator)
        loss = F.cross_entropy(classifier(resizer(x, size)), data.labels[index])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum, n, step = loss_sum + loss.item(), n + 1, step + 1
    return step, loss_sum / max(n, 1)


@torch.no_grad()
def evaluate(classifier, resizer, data: Dataset, *, crop: int, size: int, batch: int = 200) -> float:
    """Top-1 accuracy (fraction) on the centre crops of ``data``."""
    if not len(data):
        return float("nan")
    was_training = classifier.training
    classifier.eval()
    correct = 0
    for i in range(0, len(data), batch):
        x = center_crops(data.images[i : i + batch], crop)
        correct += int((classifier(resizer(x, size)).argmax(1) == data.labels[i : i + batch]).sum())
    classifier.train(was_training)
    return correct / len(data)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = __doc__.split("\n\n")[0]
    p.add_argument(
        "--data", required=True, metavar="ROOT", help="ROOT/train/<class>/ and ROOT/val/<class>/, or ROOT/<class>/"
    )
    p.add_argument("--size", type=int, default=64, help="resizer output (classifier input) in px (default 64)")
    p.add_argument(
        "--load", type=int, default=128, help="short side the images are decoded to and cached at (default 128)"
    )
    p.add_argument("--crop", type=int, default=0, help="crop fed to the resizer, px (default 7/8 of --load)")
    p.add_argument("--layers", type=int, default=2, help="MULLER bands K (default 2; 0: the plain base resizer)")
    p.add_argument("--base", default="bilinear", help="base resizer filter (default bilinear)")
    p.add_argument("--antialias", action="store_true", help="antialias the base resizer (the paper's default is off)")
    p.add_argument("--steps", type=int, default=2000, help="training steps (default 2000)")
    p.add_argument("--minutes", type=float, default=0, help="wall-clock budget, resumed time included (0: none)")
    p.add_argument("--batch", type=int, default=64, help="images per step (default 64)")
    p.add_argument(
        "--lr", type=float, default=2e-3, help="AdamW learning rate of the classifier, cosine to 1%% (default 2e-3)"
    )
    p.add_argument("--muller-lr", type=float, default=1e-2, help="learning rate of MULLER's alpha/beta (default 1e-2)")
    p.add_argument("--width", type=int, default=32, help="SmallCNN base width (default 32)")
    p.add_argument("--classifier", metavar="PATH", help="start from this SmallCNN (a --save-classifier file)")
    p.add_argument("--freeze-classifier", action="store_true", help="train MULLER only (needs --classifier)")
    p.add_argument("--save-classifier", metavar="PATH", help="write the final SmallCNN here (torch state + config)")
    p.add_argument("--limit", type=int, default=0, help="at most this many images per class and split (0: all)")
    p.add_argument(
        "--val-fraction", type=float, default=0.2, help="validation share when ROOT has no train/val (default 0.2)"
    )
    p.add_argument("--eval-every", type=int, default=500, help="steps between validations (default 500)")
    p.add_argument("--run", metavar="DIR", help="run folder: checkpoint + log.jsonl, resumed automatically")
    p.add_argument("--export", metavar="PATH", help="write the MULLER parameters to PATH.safetensors + PATH.json")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, ...")
    p.add_argument("--seed", type=int, default=0)


def load_classifier(path, device="cpu") -> SmallCNN:
    state = torch.load(path, map_location=device, weights_only=True)
    net = SmallCNN(**state["config"])
    net.load_state_dict(state["model"])
    return net.to(device)


def main(args: argparse.Namespace) -> int:
    from ..models.muller import Muller
    from .run import RunDir, command_line, export_weights, hardware

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.freeze_classifier and not args.classifier:
        raise SystemExit("--freeze-classifier needs --classifier PATH (a model to fit MULLER to)")
    crop = args.crop or args.load * 7 // 8
    if not args.size <= crop <= args.load:
        raise SystemExit(f"need --size {args.size} <= crop {crop} <= --load {args.load}")
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    torch.manual_seed(args.seed)

    t_load = time.perf_counter()
    train, val = load_dataset(
        args.data, args.load, limit=args.limit or None, val_fraction=args.val_fraction, seed=args.seed
    )
    train, val = (Dataset(d.images.to(device), d.labels.to(device), d.classes) for d in (train, val))
    print(
        f"muller: {len(train)} train / {len(val)} val images, {len(train.classes)} classes, "
        f"decoded in {time.perf_counter() - t_load:.1f} s",
        flush=True,
    )

    classifier = (
        load_classifier(args.classifier, device)
        if args.classifier
        else SmallCNN(len(train.classes), args.width).to(device)
    )
    if classifier.config["classes"] != len(train.classes):
        raise SystemExit(f"{args.classifier} has {classifier.config['classes']} classes, the data {len(train.classes)}")
    resizer = Muller(layers=args.layers, base=args.base, antialias=args.antialias).to(device)
    train_classifier = not args.freeze_classifier
    if not train_classifier:
        classifier.requires_grad_(False)
    opt = make_optimizer(classifier if train_classifier else None, resizer, args.lr, args.muller_lr)
    generator = torch.Generator().manual_seed(args.seed)

    run = RunDir(args.run) if args.run else None
    step, elapsed = 0, 0.0
    state = run.load(map_location=device) if run else None
    if state is not None:
        if state["resizer_config"] != resizer.config or state["classifier_config"] != classifier.config:
            raise SystemExit(
                f"{run.ckpt} holds another model ({state['resizer_config']}, {state['classifier_config']})"
            )
        classifier.load_state_dict(state["classifier"])
        resizer.load_state_dict(state["resizer"])
        opt.load_state_dict(state["optimizer"])
        step, elapsed = state["step"], state["elapsed"]
        generator.manual_seed(args.seed + step)  # fresh batches after a resume
        print(f"resumed {run.ckpt} at step {step} ({elapsed / 60:.1f} min)", flush=True)

    def save() -> None:
        if run:
            run.save(
                {
                    "classifier": classifier.state_dict(),
                    "resizer": resizer.state_dict(),
                    "optimizer": opt.state_dict(),
                    "step": step,
                    "elapsed": elapsed,
                    "resizer_config": resizer.config,
                    "classifier_config": classifier.config,
                    "args": vars(args),
                }
            )

    stop = []  # SIGTERM or Ctrl-C: finish the step, save, export
    signal.signal(signal.SIGTERM, lambda *_: stop.append("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: stop.append("SIGINT"))
    budget = args.minutes * 60
    t0 = time.perf_counter() - elapsed
    top1, evaluated_at = None, None
    while step < args.steps and not stop and not (budget and elapsed >= budget):
        chunk_end = min(args.steps, (step // args.eval_every + 1) * args.eval_every)
        step, loss = train_steps(
            classifier,
            resizer,
            train,
            opt,
            start=step,
            stop=chunk_end,
            total=args.steps,
            batch=args.batch,
            crop=crop,
            size=args.size,
            generator=generator,
            train_classifier=train_classifier,
            should_stop=lambda: bool(stop) or bool(budget and time.perf_counter() - t0 >= budget),
        )
        elapsed = time.perf_counter() - t0
        top1, evaluated_at = evaluate(classifier, resizer, val, crop=crop, size=args.size), step
        record = {
            "step": step,
            "seconds": round(elapsed, 1),
            "loss": loss,
            "val_top1": top1,
            "alpha": resizer.alpha.tolist(),
            "beta": resizer.beta.tolist(),
        }
        if run:
            run.log(**record)
        print(
            f"step {step}: loss {loss:.4f}, val top-1 {100 * top1:.2f}%, "
            f"alpha {[round(a, 4) for a in record['alpha']]}, beta {[round(b, 4) for b in record['beta']]}, "
            f"{elapsed:.0f} s",
            flush=True,
        )
        save()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if stop:
        print(f"stopped by {stop[0]} at step {step}", flush=True)
    save()
    if evaluated_at != step:  # nothing trained in this invocation (already at --steps)
        top1 = evaluate(classifier, resizer, val, crop=crop, size=args.size)
    if args.save_classifier:
        Path(args.save_classifier).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"config": classifier.config, "model": classifier.state_dict()}, args.save_classifier)
    if args.export:
        manifest = {
            "method": "muller",
            "architecture": {"name": "rescale.models.muller.Muller", "args": resizer.config},
            "command": command_line("muller"),
            "data": {
                "root": str(args.data),
                "train_images": len(train),
                "val_images": len(val),
                "classes": train.classes,
                "load_px": args.load,
                "crop_px": crop,
            },
            "classifier": {
                "name": "rescale.train.muller.SmallCNN",
                "args": classifier.config,
                "start": args.classifier,
                "trained": train_classifier,
                "input_px": args.size,
            },
            "training": {
                "optimizer": "AdamW",
                "lr": args.lr,
                "muller_lr": args.muller_lr,
                "schedule": "cosine to 1%",
                "batch": args.batch,
                "seed": args.seed,
            },
            "steps": step,
            "wall_seconds": round(elapsed, 1),
            "hardware": hardware(),
            "metrics": {
                "val_top1": top1,
                "protocol": (
                    f"centre {crop}px crop of the {args.load}px short-side image, "
                    f"resized to {args.size}px by this MULLER"
                ),
            },
        }
        path = export_weights(resizer, args.export, manifest)
        print(f"wrote {path} and {path.with_suffix('.json')}", flush=True)
    print(f"done: step {step}, {elapsed / 60:.1f} min, val top-1 {100 * top1:.2f}%", flush=True)
    return 0


if __name__ == "__main__":  # python -m rescale.train.muller ... (same as python -m rescale.train muller ...)
    parser = argparse.ArgumentParser(prog="python -m rescale.train.muller")
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
