"""GPU benchmark: rescale's Triton path against ``torch.nn.functional.interpolate(antialias=True)``.

    .venv/bin/python bench/resample_gpu.py            # meant for < 90 s on an H100
    .venv/bin/python bench/resample_gpu.py --sweep    # also time other tile shapes (a few minutes more)

Per case: milliseconds (median of ``triton.testing.do_bench``), GB/s counting the bytes a single
pass over the data must move (input read once + output written once, the same figure for both
contenders), that rate as a share of the card's bandwidth (a device-to-device copy measured in the
same run, and the nominal spec where the card is known) and the speed-up over torch. The Triton
path resamples the axes one after the other, so it moves more than that minimum: its own traffic
(every pass's input and output) is printed too, with the time of each pass, and the time a fused
one-pass kernel would need at copy bandwidth.
torch has no antialiased uint8 resize on CUDA: its column times a user's workaround, convert to
float32, resize, round and convert back (and torch copies channels_last input to contiguous itself).
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere in the checkout

from rescale.filters import get_filter
from rescale.resample import resample, vertical_first
from rescale.tables import axis_table

DEVICE = "cuda"

#: Nominal memory bandwidth in GB/s, by a substring of ``torch.cuda.get_device_name()``.
NOMINAL_GBPS = [
    ("H200", 4800),
    ("H100 NVL", 3900),
    ("H100 PCIe", 2000),
    ("H100", 3350),  # SXM5, "NVIDIA H100 80GB HBM3"
    ("A100-SXM4-80GB", 2039),
    ("A100 80GB PCIe", 1935),
    ("A100", 1555),
    ("L40S", 864),
    ("L4", 300),
]

# (name, (N, C, H, W), dtype, channels_last, (out_h, out_w), method)
CASES = [
    ("64x3x1024² f16 x0.5", (64, 3, 1024, 1024), torch.float16, False, (512, 512), "bilinear"),
    ("64x3x1024² f16 x0.5", (64, 3, 1024, 1024), torch.float16, False, (512, 512), "bicubic"),
    ("16 4K u8 nhwc ->1080p", (16, 3, 2160, 3840), torch.uint8, True, (1080, 1920), "bicubic"),
    ("16 4K u8 nhwc x0.37", (16, 3, 2160, 3840), torch.uint8, True, (799, 1421), "bicubic"),
    ("16 4K u8 planar ->1080p", (16, 3, 2160, 3840), torch.uint8, False, (1080, 1920), "bicubic"),
    ("16 4K u8 planar x0.37", (16, 3, 2160, 3840), torch.uint8, False, (799, 1421), "bicubic"),
]


def nominal_gbps(name: str) -> float | None:
    return next((gbps for key, gbps in NOMINAL_GBPS if key in name), None)


def copy_gbps(do_bench) -> float:
    """Practical peak: a 1 GiB device-to-device copy (read + write)."""
    src = torch.empty(1 << 30, dtype=torch.uint8, device=DEVICE)
    dst = torch.empty_like(src)
    ms = do_bench(lambda: dst.copy_(src))
    return 2 * src.numel() / ms / 1e6


def torch_resize(x: torch.Tensor, size, mode: str) -> torch.Tensor:
    if x.dtype == torch.uint8:
        y = F.interpolate(x.float(), size=size, mode=mode, antialias=True, align_corners=False)
        return y.round_().clamp_(0, 255).to(torch.uint8)
    return F.interpolate(x, size=size, mode=mode, antialias=True, align_corners=False)


def passes(x: torch.Tensor, size, filt):
    """The Triton path's passes in order, as ``(dim, table, input, output)``."""
    from rescale.kernels.triton_resample import resample_axis

    (_, _, h, w), (out_h, out_w) = x.shape, size
    order = [(3, w, out_w), (2, h, out_h)]
    if vertical_first(w, h, out_w, out_h):
        order.reverse()
    result = []
    for dim, n_in, n_out in order:
        if n_in != n_out:
            table = axis_table(n_in, n_out, filt)
            y = resample_axis(x, table, dim)
            result.append((dim, table, x, y))
            x = y
    return result


def sweep(x, size, filt, do_bench) -> None:
    """Time a few tile shapes around the heuristic's for each pass (a measure-later hook)."""
    from rescale.kernels.triton_resample import _rows_axis_inner, resample_axis, tile_config

    channels_last = not x.is_contiguous()
    for dim, table, inp, out in passes(x, size, filt):
        n_rows, n_out, n_inner, _, _ = _rows_axis_inner(tuple(out.shape), dim, channels_last)
        configs = {tile_config(n_rows, n_out, n_inner, e)[:3] for e in (1024, 2048, 4096, 8192)}
        if n_inner == 1:
            configs |= {(r, o, 1) for r, o in ((1, 512), (4, 256), (32, 64))}
        results = []
        for config in sorted(configs):
            for warps in (4, 8):
                ms = do_bench(lambda: resample_axis(inp, table, dim, config=(*config, warps)))
                results.append((ms, config, warps))
        results.sort()
        best = ", ".join(f"{c} w{wp}: {ms:.3f} ms" for ms, c, wp in results[:4])
        print(
            f"    sweep pass dim={dim} [R={n_rows}, O={n_out}, I={n_inner}] "
            f"heuristic {tile_config(n_rows, n_out, n_inner)[:3]}; best: {best}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", action="store_true", help="also time other tile shapes for each pass")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench/resample_gpu.py needs a CUDA GPU: torch.cuda.is_available() is False")
    import triton
    import triton.testing

    from rescale.kernels.triton_resample import resample_axis

    do_bench = functools.partial(triton.testing.do_bench, return_mode="median")

    name = torch.cuda.get_device_name()
    peak = copy_gbps(do_bench)
    nominal = nominal_gbps(name)
    print(f"{name}; torch {torch.__version__}, triton {triton.__version__}")
    print(
        f"device-to-device copy: {peak:.0f} GB/s"
        + (f"; nominal {nominal} GB/s" if nominal else "; nominal bandwidth unknown")
    )
    print(
        "GB/s = (input + output bytes) / time; share of the copy rate [and of nominal]; "
        "triton traffic = bytes its passes move"
    )
    header = (
        f"{'case':24s} {'method':8s} {'triton ms':>9s} {'GB/s':>6s} {'share':>12s} "
        f"{'torch ms':>9s} {'GB/s':>6s} {'share':>12s} {'speed-up':>8s}"
    )
    print(header)
    torch.manual_seed(0)
    swept = set()
    for label, shape, dtype, channels_last, size, method in CASES:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        if dtype == torch.uint8:
            x = torch.randint(0, 256, shape, dtype=dtype, device=DEVICE)
        else:
            x = torch.rand(shape, device=DEVICE).to(dtype)
        x = x.contiguous(memory_format=fmt)
        filt = get_filter(method)
        ours = resample(x, *size, filt, backend="triton")
        theirs = torch_resize(x, size, method)
        diff = (ours.float() - theirs.float()).abs().max().item()

        t_ms = do_bench(lambda x=x: resample(x, *size, filt, backend="triton"))
        r_ms = do_bench(lambda x=x: torch_resize(x, size, method))
        nbytes = x.numel() * x.element_size() + ours.numel() * ours.element_size()

        def rate(ms):
            gbps = nbytes / ms / 1e6
            share = f"{gbps / peak:5.0%}" + (f" [{gbps / nominal:3.0%}]" if nominal else "")
            return f"{gbps:6.0f} {share:>12s}"

        print(f"{label:24s} {method:8s} {t_ms:9.3f} {rate(t_ms)} {r_ms:9.3f} {rate(r_ms)} {r_ms / t_ms:7.2f}x")
        traffic, pass_report = 0, []
        for dim, table, inp, out in passes(x, size, filt):
            pass_bytes = (inp.numel() + out.numel()) * inp.element_size()
            ms = do_bench(lambda: resample_axis(inp, table, dim))
            traffic += pass_bytes
            pass_report.append(
                f"{'vertical' if dim == 2 else 'horizontal'} {ms:.3f} ms {pass_bytes / ms / 1e6:.0f} GB/s"
            )
        print(
            f"    triton passes: {'; '.join(pass_report)}; all passes {traffic / 1e9:.2f} GB in {t_ms:.3f} ms ="
            f" {traffic / t_ms / 1e6:.0f} GB/s ({traffic / t_ms / 1e6 / peak:.0%} of copy);"
            f" a one-pass kernel at copy rate would take {nbytes / peak / 1e6:.3f} ms;"
            f" max |triton - torch| = {diff:.3g}"
        )
        if args.sweep and label not in swept:  # one method per shape and layout
            swept.add(label)
            sweep(x, size, filt, functools.partial(do_bench, warmup=5, rep=20))
        del x, ours, theirs
        torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
