"""Issue 8's experiment: does MULLER in front of a classifier beat a fixed resizer on Imagewoof?

    .venv/bin/python scripts/muller_experiment.py [--out runs/muller_experiment] [--threads 2]
    .venv/bin/python scripts/muller_experiment.py --timing      # a few steps of each stage, then the estimate

Protocol (CPU-sized; every arm shares classifier, schedule, data order and seeds):

1. Data: ``../shared/data/imagewoof`` (10 classes, 4000 train / 1000 val, short side 224). Each image
   is decoded once, short side resized to ``--load`` 160 px (antialiased bicubic), centre-cropped
   160x160, and held in memory as uint8 (cached to ``OUT/images_160.pt`` for reruns).
2. Resizer input: a ``--crop`` 144 px crop (random + flip in training, centre in evaluation), resized
   to ``--size`` 64 px (a 2.25x reduction, where bilinear without antialias aliases) and fed to
   :class:`rescale.train.muller.SmallCNN` (width 32, 4 stages, 2.3 M parameters).
3. Pre-training, once (seed 0): the classifier from scratch for ``--pretrain-steps`` 2000 steps of
   batch 64 (32 epochs), AdamW lr 2e-3, cosine to 1%, each step's batch resized at random with (a) or
   (b) below, so the starting classifier is familiar with both fixed resizers and favours neither.
4. Fine-tuning, per arm and seed 0, 1, 2: the pre-trained classifier, all its weights trained for
   ``--finetune-steps`` 800 steps (13 epochs), AdamW lr 5e-4, cosine to 1%; the seed fixes the batch
   order, crops, flips and dropout, identical across arms. Arms:
   (a) bilinear without antialias (what most pipelines do; MULLER's base resizer),
   (b) antialiased bicubic (Pillow's), (c) MULLER (K = 2 on (a), alpha = beta = 0 at the start, its
   4 parameters trained jointly with the classifier at lr 1e-2).
5. Result: top-1 on the 1000 validation images after fine-tuning; per arm mean and sample standard
   deviation over the seeds, and the paired per-seed differences (c) - (a) and (c) - (b). The
   learned alpha/beta are written with their linearised frequency response
   H(w) = 1 + sum_k alpha_k (G(w)^k - G(w)^(k-1)) (tanh taken as identity, beta as 0) and a plot.
   Issue 8's threshold: (c) beats (a) by >= 1 point on the mean and is level with (b) or better.

Outputs in ``--out`` (default ``runs/muller_experiment``): ``pretrained.pt``, one ``ARM_seedS.json``
per finished fine-tune (finished arms are skipped on a rerun, so it is resumable), ``results.json``,
``results.md`` (the table), ``muller_response.png``, and ``muller_seedS.safetensors`` + ``.json``.

CPU time: ``--timing`` runs 5 steps of each stage (after a warm-up) and prints the estimate.
Measured with ``--timing --limit 20 --threads 1`` on the 2-core development machine while two other
trainings loaded both cores (so an upper bound): about 1.0-1.5 s per step for every stage, MULLER
within the noise of the fixed resizers (the SmallCNN dominates), 6-9 s per evaluation, so
2000 + 9 x 800 steps come to about 3 h on one loaded core; expect roughly half with 2 free cores.
Decoding the 5000 JPEGs once adds about 1 min (200 + 200 images took 2 s).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rescale.models.muller import BLUR_SIGMA, BLUR_TAPS, Muller  # noqa: E402
from rescale.train.muller import Dataset, SmallCNN, evaluate, load_dataset, make_optimizer, train_steps  # noqa: E402

#: arm -> Muller arguments (layers=0 is the plain base resizer)
ARMS = {
    "a_bilinear": {"layers": 0, "base": "bilinear", "antialias": False},
    "b_bicubic_aa": {"layers": 0, "base": "bicubic", "antialias": True},
    "c_muller": {"layers": 2, "base": "bilinear", "antialias": False},
}


class RandomFixed(torch.nn.Module):
    """Pre-training resizer: (a) or (b) at random per batch (its own generator, so it does not
    shift the data order)."""

    def __init__(self, seed: int):
        super().__init__()
        self.choices = [Muller(**ARMS["a_bilinear"]), Muller(**ARMS["b_bicubic_aa"])]
        self.generator = torch.Generator().manual_seed(seed + 12345)

    def forward(self, x, size):
        return self.choices[int(torch.randint(0, 2, (1,), generator=self.generator))](x, size)


def load_data(args) -> tuple[Dataset, Dataset]:
    cache = Path(args.out) / f"images_{args.load}.pt"
    if cache.exists():
        d = torch.load(cache, weights_only=True)
        return Dataset(d["train_images"], d["train_labels"], d["classes"]), Dataset(
            d["val_images"], d["val_labels"], d["classes"]
        )
    t = time.perf_counter()
    train, val = load_dataset(args.data, args.load, limit=args.limit or None)
    print(f"decoded {len(train)} + {len(val)} images in {time.perf_counter() - t:.0f} s", flush=True)
    if not args.limit:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "train_images": train.images,
                "train_labels": train.labels,
                "val_images": val.images,
                "val_labels": val.labels,
                "classes": train.classes,
            },
            cache,
        )
    return train, val


def pretrain(args, train, val, steps: int) -> SmallCNN:
    torch.manual_seed(0)
    net = SmallCNN(len(train.classes), args.width)
    resizer = RandomFixed(0)
    opt = make_optimizer(net, torch.nn.Identity(), args.lr, 0.0)
    train_steps(
        net,
        resizer,
        train,
        opt,
        start=0,
        stop=steps,
        total=steps,
        batch=args.batch,
        crop=args.crop,
        size=args.size,
        generator=torch.Generator().manual_seed(0),
    )
    return net


def finetune(args, pretrained: SmallCNN, train, val, arm: str, seed: int, steps: int) -> dict:
    torch.manual_seed(seed)
    net = SmallCNN(**pretrained.config)
    net.load_state_dict(pretrained.state_dict())
    resizer = Muller(**ARMS[arm])
    opt = make_optimizer(net, resizer, args.finetune_lr, args.muller_lr)
    t = time.perf_counter()
    _, loss = train_steps(
        net,
        resizer,
        train,
        opt,
        start=0,
        stop=steps,
        total=steps,
        batch=args.batch,
        crop=args.crop,
        size=args.size,
        generator=torch.Generator().manual_seed(seed),
    )
    seconds = time.perf_counter() - t
    top1 = evaluate(net, resizer, val, crop=args.crop, size=args.size)
    return {
        "arm": arm,
        "seed": seed,
        "steps": steps,
        "top1": top1,
        "last_loss": loss,
        "seconds": round(seconds, 1),
        "alpha": resizer.alpha.tolist(),
        "beta": resizer.beta.tolist(),
        "resizer": resizer,
    }


def response(alpha, omegas) -> list[float]:
    """Linearised gain of MULLER before resizing at frequencies ``omegas`` (radians/px)."""
    r = BLUR_TAPS // 2
    g = np.exp(-0.5 * (np.arange(-r, r + 1) / BLUR_SIGMA) ** 2)
    g /= g.sum()
    G = np.array([np.sum(g * np.cos(w * np.arange(-r, r + 1))) for w in omegas])
    return (1 + sum(a * (G ** (k + 1) - G**k) for k, a in enumerate(alpha))).tolist()


def summarise(args, results: list[dict], pre_top1: float) -> None:
    out = Path(args.out)
    by_arm = {arm: [r for r in results if r["arm"] == arm] for arm in ARMS}
    lines = [
        f"Imagewoof val top-1 (%), SmallCNN at {args.size} px from {args.crop} px crops; "
        f"pre-trained {args.pretrain_steps} steps "
        f"(top-1 {100 * pre_top1:.2f}% with (a)), then {args.finetune_steps} fine-tuning steps per arm; "
        f"seeds {args.seeds}.",
        "",
        "| arm | top-1 mean | std | per seed |",
        "|---|---:|---:|---|",
    ]
    summary = {}
    for arm, rs in by_arm.items():
        if not rs:
            continue
        acc = [100 * r["top1"] for r in sorted(rs, key=lambda r: r["seed"])]
        sd = statistics.stdev(acc) if len(acc) > 1 else float("nan")
        summary[arm] = {"mean": statistics.mean(acc), "std": sd, "per_seed": acc}
        lines.append(f"| {arm} | {statistics.mean(acc):.2f} | {sd:.2f} | {', '.join(f'{a:.2f}' for a in acc)} |")
    for other in ("a_bilinear", "b_bicubic_aa"):
        pairs = [
            (100 * (c["top1"] - o["top1"])) for c in by_arm["c_muller"] for o in by_arm[other] if c["seed"] == o["seed"]
        ]
        if pairs:
            sd = statistics.stdev(pairs) if len(pairs) > 1 else float("nan")
            summary[f"c_minus_{other[0]}"] = {"mean": statistics.mean(pairs), "std": sd, "per_seed": pairs}
            lines.append(f"\n(c) - ({other[0]}), paired by seed: {statistics.mean(pairs):+.2f} +- {sd:.2f} points")
    omegas = np.linspace(0, math.pi, 9)
    learned = [
        {"seed": r["seed"], "alpha": r["alpha"], "beta": r["beta"], "response": response(r["alpha"], omegas)}
        for r in by_arm["c_muller"]
    ]
    if learned:
        lines += [
            "",
            "Learned MULLER parameters and linearised gain H(w) at w/pi = "
            + ", ".join(f"{w / math.pi:.3g}" for w in omegas),
            "",
        ]
        lines += [
            f"- seed {m['seed']}: alpha {[round(a, 3) for a in m['alpha']]}, "
            f"beta {[round(b, 4) for b in m['beta']]}, H {[round(h, 2) for h in m['response']]}"
            for m in learned
        ]
        _plot(out / "muller_response.png", learned)
    (out / "results.md").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(
        json.dumps(
            {"args": vars(args), "pretrained_top1": pre_top1, "summary": summary, "runs": results, "learned": learned},
            indent=2,
        )
        + "\n"
    )
    print("\n".join(lines), flush=True)


def _plot(path: Path, learned: list[dict]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    w = np.linspace(0, math.pi, 129)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for m in learned:
        ax.plot(w / math.pi, response(m["alpha"], w), label=f"seed {m['seed']}")
    ax.plot(w / math.pi, response([1.892, -11.295], w), "k--", label="paper, ResNet-50")
    ax.axhline(1, color="grey", lw=0.5)
    ax.set_xlabel("frequency (x pi rad/px, input grid)")
    ax.set_ylabel("linearised gain")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def timing(args, train, val) -> None:
    """Seconds per step of each stage (a few steps after a warm-up) and the whole protocol's estimate."""
    n, per = 5, {}
    stages = {"pretrain": RandomFixed(0), **{arm: Muller(**kw) for arm, kw in ARMS.items()}}
    for label, resizer in stages.items():
        net = SmallCNN(len(train.classes), args.width)
        opt = make_optimizer(net, resizer, args.lr, args.muller_lr)
        gen = torch.Generator().manual_seed(0)
        train_steps(
            net,
            resizer,
            train,
            opt,
            start=0,
            stop=1,
            total=n + 1,
            batch=args.batch,
            crop=args.crop,
            size=args.size,
            generator=gen,
        )  # warm-up
        t = time.perf_counter()
        train_steps(
            net,
            resizer,
            train,
            opt,
            start=1,
            stop=n + 1,
            total=n + 1,
            batch=args.batch,
            crop=args.crop,
            size=args.size,
            generator=gen,
        )
        step = (time.perf_counter() - t) / n
        t = time.perf_counter()
        evaluate(net, resizer, val, crop=args.crop, size=args.size)
        full_eval = (time.perf_counter() - t) * 1000 / max(len(val), 1)  # Imagewoof has 1000 val images
        per[label] = (step, full_eval)
        print(f"{label}: {step:.3f} s/step, evaluation of 1000 images {full_eval:.1f} s", flush=True)
    total = args.pretrain_steps * per["pretrain"][0] + sum(
        len(args.seeds) * (args.finetune_steps * s + e) for arm, (s, e) in per.items() if arm in ARMS
    )
    print(
        f"estimate: {total / 3600:.2f} h for pre-training ({args.pretrain_steps} steps) + "
        f"{len(args.seeds)} seeds x {len(ARMS)} arms x {args.finetune_steps} steps, decoding not included",
        flush=True,
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "imagewoof"))
    p.add_argument("--out", default=str(REPO / "runs" / "muller_experiment"))
    p.add_argument("--load", type=int, default=160)
    p.add_argument("--crop", type=int, default=144)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3, help="pre-training learning rate")
    p.add_argument("--finetune-lr", type=float, default=5e-4)
    p.add_argument("--muller-lr", type=float, default=1e-2)
    p.add_argument("--pretrain-steps", type=int, default=2000)
    p.add_argument("--finetune-steps", type=int, default=800)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--limit", type=int, default=0, help="images per class and split (0: all; a limited run is not cached)"
    )
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--timing", action="store_true", help="time a few steps of each stage and print the estimate")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not Path(args.data).is_dir():
        raise SystemExit(f"no data at {args.data}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, val = load_data(args)
    if args.timing:
        timing(args, train, val)
        return 0

    ckpt = out / "pretrained.pt"
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=True)
        pretrained = SmallCNN(**state["config"])
        pretrained.load_state_dict(state["model"])
    else:
        t = time.perf_counter()
        pretrained = pretrain(args, train, val, args.pretrain_steps)
        torch.save(
            {"config": pretrained.config, "model": pretrained.state_dict(), "seconds": time.perf_counter() - t}, ckpt
        )
        print(f"pre-trained in {(time.perf_counter() - t) / 60:.1f} min", flush=True)
    pre_top1 = evaluate(pretrained, Muller(**ARMS["a_bilinear"]), val, crop=args.crop, size=args.size)
    print(f"pre-trained classifier: val top-1 {100 * pre_top1:.2f}% with (a)", flush=True)

    results = []
    for seed in args.seeds:
        for arm in ARMS:
            path = out / f"{arm}_seed{seed}.json"
            if path.exists():
                results.append(json.loads(path.read_text()))
                continue
            r = finetune(args, pretrained, train, val, arm, seed, args.finetune_steps)
            resizer = r.pop("resizer")
            if arm == "c_muller":
                from rescale.train.run import export_weights

                export_weights(
                    resizer,
                    out / f"muller_seed{seed}",
                    {
                        "method": "muller",
                        "architecture": {"name": "rescale.models.muller.Muller", "args": resizer.config},
                        "command": " ".join(["python", *sys.argv]),
                        "data": {"root": args.data, "load_px": args.load, "crop_px": args.crop},
                        "classifier": {
                            "name": "rescale.train.muller.SmallCNN",
                            "args": pretrained.config,
                            "input_px": args.size,
                        },
                        "steps": args.finetune_steps,
                        "seed": seed,
                        "metrics": {"val_top1": r["top1"]},
                    },
                )
            path.write_text(json.dumps(r) + "\n")
            print(
                f"{arm} seed {seed}: top-1 {100 * r['top1']:.2f}% ({r['seconds']:.0f} s), "
                f"alpha {r['alpha']}, beta {r['beta']}",
                flush=True,
            )
            results.append(r)
    summarise(args, results, pre_top1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
