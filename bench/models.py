"""Seconds per 1920x1080 (HR) image for the learned methods' down and up directions.

    .venv/bin/python bench/models.py [--device cpu|cuda] [--repeat 3] [--threads N]

One table row per (model, scale, device): the best of ``--repeat`` runs of ``down`` (HR 1920x1080 ->
LR) and ``up`` (LR -> 1920x1080) on a float RGB image, with MATLAB-style bicubic in the same run as
the reference (``x bicubic`` = model time / bicubic time). Models without shipped weights run with
the architecture of the trainer's defaults, untrained (speed does not depend on the weights).
To add a model, append a ``(name, scale, factory)`` to ``MODELS``.
"""

from __future__ import annotations

import argparse
import time

import torch

W, H = 1920, 1080


def _irn(scale: int):
    from rescale.models.irn import IRN, IRNMethod
    from rescale.pretrained import available_weights

    if f"irn_x{scale}" in available_weights():
        return IRNMethod(), "shipped"
    return IRNMethod(models={scale: IRN(scale).eval().requires_grad_(False)}), "untrained"


def _bicubic(scale: int):
    from rescale.methods import matlab_bicubic

    return matlab_bicubic(), "-"


def _espcn(scale: int):
    from rescale.models.espcn import load

    return load(), "shipped"  # down is MATLAB bicubic; up is the network (the paper's fps case)


#: (name, scale, factory(scale) -> (Method, weights note))
MODELS = [
    ("bicubic", 2, _bicubic),
    ("irn", 2, _irn),
    ("espcn", 2, _espcn),
    ("bicubic", 3, _bicubic),
    ("espcn", 3, _espcn),
    ("bicubic", 4, _bicubic),
    ("irn", 4, _irn),
    ("espcn", 4, _espcn),
]


def _time(fn, device, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.no_grad():
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--only", nargs="*", help="model names to run (default: all)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    hr = torch.rand(1, 3, H, W, device=device)
    print(
        f"{'model':10} {'scale':>5} {'device':8} {'weights':10} {'down s':>8} {'up s':>8} {'x bicubic (down/up)':>20}"
    )
    reference = {}
    for name, scale, factory in MODELS:
        if args.only and name not in args.only and name != "bicubic":
            continue
        method, note = factory(scale)
        lr_size, hr_size = (W // scale, H // scale), (W, H)
        lr = method.down(hr, lr_size)
        down = _time(lambda: method.down(hr, lr_size), device, args.repeat)
        up = _time(lambda: method.up(lr, hr_size), device, args.repeat)
        if name == "bicubic":
            reference[scale] = (down, up)
        ratio = "" if scale not in reference else f"{down / reference[scale][0]:.0f} / {up / reference[scale][1]:.0f}"
        print(f"{name:10} {scale:>5} {device.type:8} {note:10} {down:8.3f} {up:8.3f} {ratio:>20}", flush=True)


if __name__ == "__main__":
    main()
