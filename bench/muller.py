"""Overhead of MULLER over its base resizer, and beside a plain-torch port of MULLER.

    .venv/bin/python bench/muller.py [--batch 32] [--size 224] [--out 64] [--repeat 5] [--threads N]

A float32 batch ``[B, 3, size, size]`` in [0, 1] resized to ``out x out`` (bilinear, no antialias,
the released code's setting), on CPU, and on CUDA when available. Rows:

* base: ``rescale.resample.resample`` (our kernels), the resizer MULLER adds to;
* muller: ``rescale.models.muller.Muller(layers=2)`` (blur and resizes on our kernels);
* torch port: the same formula with ``F.conv2d`` (zero-padded depthwise Gaussian) and
  ``F.interpolate`` (what an unofficial PyTorch port does).

Modes: ``forward`` (no autograd); ``train`` (forward + backward to alpha/beta only, the input needs
no gradient: MULLER in front of a classifier); ``grad-in`` (forward + backward to the input too).
Times are medians over ``--repeat`` rounds, the rows alternating within a round. Ratios: time / the
base resizer's forward time in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from rescale.filters import get_filter
from rescale.models.muller import Muller
from rescale.resample import resample


class TorchMuller(torch.nn.Module):
    """MULLER in plain torch ops, for comparison (same formula and padding as rescale.models.muller)."""

    def __init__(self, layers: int = 2):
        super().__init__()
        self.alpha = torch.nn.Parameter(torch.zeros(layers))
        self.beta = torch.nn.Parameter(torch.zeros(layers))
        g = torch.exp(-0.5 * torch.arange(-2.0, 3.0) ** 2)
        self.register_buffer("g", g / g.sum())

    def forward(self, x, size):
        c = x.shape[1]
        kh = self.g.view(1, 1, 5, 1).expand(c, 1, 5, 1).to(x.dtype)
        kw = self.g.view(1, 1, 1, 5).expand(c, 1, 1, 5).to(x.dtype)

        def r(t):
            return F.interpolate(t, size, mode="bilinear", align_corners=False)

        y, prev = r(x), x
        for k in range(len(self.alpha)):
            blurred = F.conv2d(F.conv2d(prev, kw, padding=(0, 2), groups=c), kh, padding=(2, 0), groups=c)
            y = y + torch.tanh(self.alpha[k] * r(blurred - prev) + self.beta[k])
            prev = blurred
        return y


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench(device: torch.device, args) -> None:
    x = torch.rand(args.batch, 3, args.size, args.size, device=device)
    size = (args.out, args.out)
    bilinear = get_filter("bilinear")
    muller, port = Muller(layers=2).to(device), TorchMuller(2).to(device)
    for m in (muller, port):  # trained-looking values (the released ResNet-50 ones)
        with torch.no_grad():
            m.alpha.copy_(torch.tensor([1.892, -11.295]))
            m.beta.copy_(torch.tensor([-0.014, 0.003]))

    def run(fn, mode):
        def call():
            if mode == "forward":
                with torch.no_grad():
                    fn(x)
                return
            xi = x.detach().requires_grad_(mode == "grad-in")
            y = fn(xi)
            y.sum().backward() if y.requires_grad else None

        return call

    rows = {
        "base": lambda t: resample(t, *size, bilinear, antialias=False),
        "muller": lambda t: muller(t, size),
        "torch port": lambda t: port(t, size),
    }
    cases = [
        (name, mode)
        for mode in ("forward", "train", "grad-in")
        for name in rows
        if not (name == "base" and mode == "train")
    ]
    calls = {case: run(rows[case[0]], case[1]) for case in cases}
    for call in calls.values():  # warm-up (numba compilation, Triton autotuning)
        call()
    times = {case: [] for case in cases}
    for _ in range(args.repeat):
        for case, call in calls.items():
            sync(device)
            t = time.perf_counter()
            call()
            sync(device)
            times[case].append(time.perf_counter() - t)
    base = statistics.median(times[("base", "forward")])
    print(
        f"\n{device} ({torch.get_num_threads()} threads): [{args.batch}, 3, {args.size}, {args.size}] float32 -> "
        f"{args.out}x{args.out}, median of {args.repeat}"
    )
    print("| mode | resizer | ms | / base forward |\n|---|---|---:|---:|")
    for (name, mode), ts in times.items():
        t = statistics.median(ts)
        print(f"| {mode} | {name} | {1e3 * t:.1f} | {t / base:.2f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--out", type=int, default=64)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    bench(torch.device("cpu"), args)
    if torch.cuda.is_available():
        bench(torch.device("cuda"), args)


if __name__ == "__main__":
    main()
