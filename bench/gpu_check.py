"""Check the compiled Triton kernels on a CUDA GPU against the torch reference. A script, not a test:

    .venv/bin/python bench/gpu_check.py            # on a machine with a GPU (meant for < 60 s on an H100)
    TRITON_INTERPRET=1 .venv/bin/python bench/gpu_check.py --dry-run   # the small cases, on the CPU

Prints one line per case and then ``N passed, M failed``; exits with 1 if a case failed, 2 if the
time budget (``--budget``, 50 s) ran out before every case ran. Most of the time goes into compiling
kernel variants (one per dtype, tile shape and stride divisibility). Covers shapes from 1x1 to 4K
frames and a tensor of more than 2**31 elements, every dtype, both layouts, every filter and edge
mode, and the backward pass (gradcheck in float64; float32 gradients against the reference's
autograd); and the forward pass against ``torch.nn.functional.interpolate(antialias=True)``, an
implementation independent of ours.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere in the checkout

from rescale.api import rescale
from rescale.filters import available, bicubic, get_filter
from rescale.kernels import reference
from rescale.resample import resample
from rescale.tables import axis_table

TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}
ALL_DTYPES = (torch.uint8, torch.float32, torch.float16, torch.bfloat16, torch.float64)
EXACT = (torch.uint8, torch.float32)  # the bit-exact and the 1e-5 contracts
# (N, C, H, W) -> (out_h, out_w), dtypes: odd sizes; sizes divisible by 16 (vectorised loads);
# single rows and columns, 1x1, up and down at once. Each (dtype, tile shape, stride divisibility)
# is one more kernel variant to compile, a fraction of a second each: hence not every dtype on all.
SHAPES = [
    ((2, 3, 17, 23), (9, 40), ALL_DTYPES),
    ((4, 3, 480, 640), (224, 224), ALL_DTYPES[:4]),
    ((1, 1, 1, 37), (1, 12), EXACT),
    ((1, 1, 29, 1), (64, 1), EXACT),
    ((1, 1, 1, 1), (3, 5), EXACT),
    ((1, 4, 64, 48), (23, 31), EXACT),
    ((2, 3, 333, 1000), (1500, 377), EXACT),
]


def image(shape, dtype, channels_last, device, seed=0) -> torch.Tensor:
    """uint8 over the full range (with clipping filters, 0 and 255 come out often) or floats in [0, 1)."""
    g = torch.Generator(device).manual_seed(seed)
    if dtype == torch.uint8:
        x = torch.randint(0, 256, shape, generator=g, device=device, dtype=torch.uint8)
    else:
        x = torch.rand(shape, generator=g, device=device, dtype=torch.float32).to(dtype)
    return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def max_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """Largest absolute difference; raises if shape, dtype or (for uint8) any value differs."""
    assert out.shape == ref.shape and out.dtype == ref.dtype, f"{out.shape} {out.dtype} vs {ref.shape} {ref.dtype}"
    err = (out.double() - ref.double()).abs().max().item() if out.numel() else 0.0
    limit = 0 if out.dtype == torch.uint8 else TOLERANCE[out.dtype]
    assert err <= limit, f"max error {err:.3g} > {limit:.3g}"
    return err


def forward_case(shape, size, dtype, channels_last, device, filt=None, **kw):
    def run():
        x = image(shape, dtype, channels_last, device)
        f = filt or bicubic()
        out = resample(x, *size, f, backend="triton", **kw)
        if size != shape[2:]:
            fmt = torch.channels_last if channels_last else torch.contiguous_format
            assert out.is_contiguous(memory_format=fmt), "output lost the input's memory format"
        return max_error(out, resample(x, *size, f, backend="torch", **kw))

    return run


def axis_case(shape, dim, out_size, dtype, channels_last, device):
    """One pass straight through ``resample_axis`` (used for the >2**31-element tensor)."""

    def run():
        from rescale.kernels.triton_resample import resample_axis

        x = image(shape, dtype, channels_last, device)
        table = axis_table(shape[dim], out_size, get_filter("bilinear"), antialias=False)
        return max_error(resample_axis(x, table, dim), reference.resample_axis(x, table, dim))

    return run


def gradcheck_case(method, edge, scale, channels_last, device):
    def run():
        x = image((1, 2, 7, 9), torch.float64, channels_last, device).requires_grad_()
        fn = lambda t: rescale(t, *scale, method=method, edge=edge, backend="triton")  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x,))
        return 0.0

    return run


def backward_case(shape, size, method, channels_last, device):
    """float32 gradients of the Triton path against autograd through the reference gathers."""

    def run():
        x = image(shape, torch.float32, channels_last, device)
        upstream = image((shape[0], shape[1], *size), torch.float32, False, device, seed=1)
        grads = []
        for backend in ("triton", "torch"):
            leaf = x.clone().requires_grad_()
            (rescale(leaf, size=size[::-1], method=method, backend=backend) * upstream).sum().backward()
            grads.append(leaf.grad)
        return max_error(*grads)

    return run


def torch_interpolate_case(shape, size, mode, channels_last, device):
    """Against torch's own antialiased resize (same Pillow semantics, float32 weights): 2e-4."""

    def run():
        x = image(shape, torch.float32, channels_last, device)
        ours = resample(x, *size, get_filter(mode), backend="triton")
        theirs = F.interpolate(x, size=size, mode=mode, antialias=True, align_corners=False)
        err = (ours - theirs).abs().max().item()
        assert err <= 2e-4, f"max error {err:.3g} > 2e-4"
        return err

    return run


def cases(device: str):
    """``(name, run, big)``: ``run()`` returns the max error or raises; ``big`` cases are left out
    of a dry run."""
    layouts = (("nchw", False), ("nhwc", True))
    for shape, size, dtypes in SHAPES:
        for dtype in dtypes:
            for layout, cl in layouts:
                name = f"forward {shape}->{size} {str(dtype)[6:]} {layout}"
                yield name, forward_case(shape, size, dtype, cl, device), shape[2] * shape[3] > 1e5
    for layout, cl in layouts:
        for size in ((1080, 1920), (799, 1421)):
            yield (
                f"4K frames uint8 (4,3,2160,3840)->{size} {layout}",
                forward_case((4, 3, 2160, 3840), size, torch.uint8, cl, device),
                True,
            )
        yield (
            f"float16 (8,3,1024,1024)->(512,512) bilinear {layout}",
            forward_case((8, 3, 1024, 1024), (512, 512), torch.float16, cl, device, get_filter("bilinear")),
            True,
        )
        for dim in (2, 3):  # 2.16e9 elements: 64-bit offsets
            yield (
                f">2**31 elements uint8 (2,3,20000,18000) dim={dim} {layout}",
                axis_case((2, 3, 20000, 18000), dim, 16, torch.uint8, cl, device),
                True,
            )
    methods = [(m, get_filter(m)) for m in available()] + [("bicubic(a=-0.75)", bicubic(-0.75))]
    for mname, filt in methods:
        for edge in ("renormalize", "symmetric", "clamp"):
            for dtype, aa in ((torch.uint8, True), (torch.uint8, False), (torch.float32, True)):
                for layout, cl in layouts:
                    name = f"filter {mname} edge={edge} antialias={aa} {str(dtype)[6:]} {layout}"
                    yield (
                        name,
                        forward_case((2, 3, 61, 47), (20, 90), dtype, cl, device, filt, antialias=aa, edge=edge),
                        False,
                    )
    for args in (
        ("bicubic", "renormalize", (0.6, 1.5), False),
        ("lanczos", "symmetric", (1.4, 0.45), True),
        ("bilinear", "clamp", (0.5, 0.5), False),
    ):
        yield f"gradcheck float64 {args}", gradcheck_case(*args, device), False
    for shape, size, method in (((2, 3, 64, 48), (40, 100), "lanczos"), ((4, 3, 256, 256), (128, 128), "bicubic")):
        for layout, cl in layouts:
            yield (
                f"backward float32 {shape}->{size} {method} {layout}",
                backward_case(shape, size, method, cl, device),
                False,
            )
    for mode in ("bilinear", "bicubic"):
        for size in ((512, 384), (379, 284), (700, 1000)):
            yield (
                f"vs F.interpolate {mode} (2,3,1024,768)->{size}",
                torch_interpolate_case((2, 3, 1024, 768), size, mode, False, device),
                True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dry-run", action="store_true", help="no GPU: run the small cases in Triton's interpreter on the CPU"
    )
    parser.add_argument("--budget", type=float, default=50.0, help="stop starting new cases after this many seconds")
    args = parser.parse_args()
    if torch.cuda.is_available():
        device = "cuda"
        print(
            f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
            f"triton {__import__('triton').__version__}"
        )
    elif args.dry_run and os.environ.get("TRITON_INTERPRET") == "1":
        device = "cpu"
        print("dry run: Triton interpreter on the CPU, small cases only")
    else:
        sys.exit("bench/gpu_check.py needs a CUDA GPU (or --dry-run with TRITON_INTERPRET=1 set)")

    start = time.perf_counter()
    passed = failed = not_run = 0
    for name, run, big in cases(device):
        if device == "cpu" and big:
            continue
        if time.perf_counter() - start > args.budget:
            not_run += 1
            continue
        t0 = time.perf_counter()
        try:
            err = run()
            status = f"PASS  max err {err:.2e}"
            passed += 1
        except Exception as e:  # noqa: BLE001 - a failing case is reported, the others still run
            status = f"FAIL  {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            failed += 1
        if device == "cuda":
            torch.cuda.synchronize()
        print(f"{status:40s} {time.perf_counter() - t0:6.2f}s  {name}", flush=True)
    elapsed = time.perf_counter() - start
    print(
        f"{passed} passed, {failed} failed"
        + (f", {not_run} not run (budget of {args.budget:.0f} s spent)" if not_run else "")
        + f" in {elapsed:.1f} s"
    )
    return 1 if failed else 2 if not_run else 0


if __name__ == "__main__":
    sys.exit(main())
