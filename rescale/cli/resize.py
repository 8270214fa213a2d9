"""``rescale resize``: rescale image files, folders and globs into an output folder.

Its command line; the run and the reporting are :mod:`rescale.cli.runner`, the work itself
:mod:`rescale.batch`.
"""

from __future__ import annotations

import argparse
import sys

from ..batch import Options
from ..methods import is_method
from .common import (
    UsageError,
    add_engine_arguments,
    add_input_arguments,
    add_no_enlarge_argument,
    add_output_arguments,
    add_reporting_arguments,
    add_size_arguments,
    add_weights_argument,
    add_workers_argument,
    checked_weights,
    method_names,
    target_from_args,
)
from .runner import run_batch

__all__ = ["add_parser", "run"]

EXAMPLES = """\
examples:
  rescale resize photos -o small --scale 0.5                 # every image in photos/, half size
  rescale resize photos -o thumbs -r --size 256x256 --fit cover --format webp
  rescale resize 'scans/**/*.tif' -o web --width 1600 --method lanczos --workers 8
  rescale resize big.png -o small.png --scale 0.25x0.5       # one file to one file
  rescale resize photos -o small --scale 0.5 --json > log.jsonl
  rescale resize photos -o thumbs --size 256x256 --no-enlarge  # small images keep their size
  cat in.jpg | rescale resize - -o - --width 800 > out.jpg   # stdin to stdout
  rescale resize photos -o small --scale 0.5 --engine ray    # on a Ray cluster (here: a local one)
  rescale resize manga -o small --scale 0.5 --screentone     # keep screentones of greyscale pages
  rescale resize photos -o web --width 1600 --linear         # gamma-correct: fine detail keeps its brightness

Orientation from EXIF is applied; the ICC profile, EXIF and DPI are kept; outputs are written
atomically, so an interrupted run can be rerun with --skip-existing.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "resize",
        help="rescale image files and folders",
        description="Rescale image files, folders and glob patterns into an output folder that mirrors the input tree.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(p)

    add_no_enlarge_argument(add_size_arguments(p))

    g = p.add_argument_group("resampling")
    g.add_argument(
        "--method",
        default="bicubic",
        metavar="NAME",
        help=f"resampling method (default bicubic): {', '.join(method_names())}",
    )
    g.add_argument(
        "--antialias",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="widen the filter when downscaling (default; --no-antialias interpolates like OpenCV)",
    )
    g.add_argument(
        "--linear",
        action="store_true",
        help="resample in linear light (gamma-correct): decode each file's transfer curve (its ICC profile's, "
        "else sRGB), resample, encode back; fine detail keeps its brightness (filters only; docs/linear.md)",
    )
    g.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default="cpu",
        help="where to resample: cpu (default), cuda (decode on CPU workers, resample batches of same-size images "
        "on the GPU), auto (cuda when available)",
    )
    g.add_argument(
        "--screentone",
        action="store_true",
        help="manga pages: keep each screentone's pitch, angle and tone (method screentone) on greyscale and "
        "bitonal pages; colour pages are resampled with --method, with a note (CPU only)",
    )
    g.add_argument(
        "--fast-decode",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="decode JPEGs reduced by 2, 4 or 8 (DCT domain, to at least twice the target size), then resample "
        "exactly: much faster thumbnails, 45-47 dB PSNR from a full decode's result (default: on for --width, "
        "--height and --size, off for --scale)",
    )
    add_weights_argument(g)
    add_workers_argument(g)
    add_engine_arguments(p)
    add_output_arguments(p)
    add_reporting_arguments(p)
    return p


def run(args: argparse.Namespace) -> int:
    try:
        target = target_from_args(args)
        if args.method.lower() not in method_names():
            raise UsageError(f"unknown method {args.method!r}; available: {', '.join(method_names())}")
        if getattr(args, "engine", "local") == "ray" and args.device != "cpu":
            raise UsageError(
                "--device is for --engine local; "
                "--engine ray runs learned methods on the cluster's GPUs when it has any"
            )
        if args.linear and is_method(args.method.lower()):
            raise UsageError(f"--linear is for the filters, not the learned method {args.method!r}")
        if args.screentone and args.device == "cuda":
            raise UsageError("--screentone runs on the CPU (use --device cpu)")
        device = None if args.screentone else _device(args.device)
        weights = checked_weights(args.method.lower(), args.weights)
    except UsageError as e:
        print(f"rescale resize: error: {e}", file=sys.stderr)
        return 2
    fast_decode = args.scale is None if args.fast_decode is None else args.fast_decode
    opts = Options(
        target,
        args.method.lower(),
        args.antialias,
        args.quality,
        args.max_pixels,
        screentone=args.screentone,
        fast_decode=fast_decode,
        weights=weights,
        linear=args.linear,
    )
    return run_batch(args, opts, "rescale resize", device=device)


def _device(name: str) -> str | None:
    """The device batches are resampled on, or None for resampling on the CPU workers."""
    if name == "cpu":
        return None
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if name == "cuda":
        raise UsageError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    return None
