"""``rescale down`` and ``rescale up``: a method's two directions over files, with the original size
and the method recorded in each downscaled file (:mod:`rescale.provenance`), so that ``rescale up``
restores the original without being told its size.

The batch machinery, the file options and the reporting are those of ``rescale resize``
(:mod:`rescale.cli_resize`, :mod:`rescale.batch`); only the size and method arguments differ.
"""

from __future__ import annotations

import argparse
import sys

from .batch import DEFAULT_UP_METHOD, Job, Options, Result, Target, file_options
from .cli_resize import (
    UsageError,
    _scale,
    _size,
    _target,
    add_engine_arguments,
    add_input_arguments,
    add_output_arguments,
    add_reporting_arguments,
    add_size_arguments,
    add_workers_argument,
    method_names,
    run_batch,
)
from .io import upright_size
from .provenance import read

__all__ = ["add_parser", "run"]

DEFAULT_DOWN_METHOD = "irn"

DOWN_EXAMPLES = """\
examples:
  rescale down photos -o small --scale 0.5                   # IRN: an ordinary-looking half-size copy
  rescale down big.png -o small.png --scale 0.25 --method irn
  rescale down scans -o web --width 800 --method lanczos     # any filter or learned method

Each output records its original size and the method (PNG text chunks; EXIF UserComment for
JPEG, WebP and TIFF), which `rescale up` reads. Save as PNG to keep the LR image exact.
"""

UP_EXAMPLES = """\
examples:
  rescale up small -o restored                               # the original size and method, from each file
  rescale up small.png -o big.png --scale 2 --method espcn   # an explicit size or method wins
"""


def add_parser(subparsers) -> None:
    down = subparsers.add_parser(
        "down",
        help="downscale files with a method's down direction, recording how",
        description="Downscale image files, folders and glob patterns with a method's down direction (a learned "
        "rescaler's, or an antialiased filter), recording the original size and the method in each output.",
        epilog=DOWN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(down)
    add_size_arguments(down, scale_help="scale factor at most 1: 0.5, or 0.5x0.75 for horizontal x vertical", box_example="960x540",
                       fits=("contain", "fill"), fit_help="contain (fit inside, default) or fill (stretch)")
    _add_method_group(down, f"method (default {DEFAULT_DOWN_METHOD})")
    add_engine_arguments(down)
    add_output_arguments(down)
    add_reporting_arguments(down)

    up = subparsers.add_parser(
        "up",
        help="restore files made by rescale down (or upscale others)",
        description="Upscale image files, folders and glob patterns with a method's up direction: by default to the "
        "original size and with the method that rescale down recorded in each file.",
        epilog=UP_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(up)
    g = up.add_argument_group("output size (default: the original size recorded by rescale down)").add_mutually_exclusive_group()
    g.add_argument("--scale", type=_scale, metavar="S", help="enlargement factor at least 1: 2, or 2x1.5 for horizontal x vertical")
    g.add_argument("--size", type=_size, metavar="WxH", help="output size, e.g. 1920x1080")
    _add_method_group(up, f"method (default: the one recorded in the file, else {DEFAULT_UP_METHOD})")
    add_engine_arguments(up)
    add_output_arguments(up)
    add_reporting_arguments(up)


def _add_method_group(p: argparse.ArgumentParser, title: str) -> None:
    g = p.add_argument_group(title)
    g.add_argument("--method", metavar="NAME", help=f"{', '.join(method_names())}")
    add_workers_argument(g)


def run(args: argparse.Namespace) -> int:
    prog = f"rescale {args.command}"
    try:
        opts = _options(args)
    except UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    return run_batch(args, opts, prog, planned=_planned)


def _options(args: argparse.Namespace) -> Options:
    method = args.method.lower() if args.method else None
    if method is not None and method not in method_names():
        raise UsageError(f"unknown method {args.method!r}; available: {', '.join(method_names())}")
    if args.command == "down":
        target = _target(args)
        if target.scale is not None and max(target.scale) > 1:
            raise UsageError(f"rescale down shrinks: --scale takes factors of at most 1 (e.g. 0.5), got {target.scale[0]}x{target.scale[1]}")
        method = method or DEFAULT_DOWN_METHOD
    elif args.scale is not None:
        if min(args.scale) < 1:
            raise UsageError(f"rescale up enlarges: --scale takes factors of at least 1 (e.g. 2), got {args.scale[0]}x{args.scale[1]}")
        target = Target(scale=args.scale)
    else:
        target = Target(width=args.size[0], height=args.size[1], fit="fill") if args.size else None
    return Options(target, method, quality=args.quality, max_pixels=args.max_pixels, direction=args.command)


def _planned(job: Job, opts: Options) -> Result:
    """What a job would make (``--dry-run``), from the file's headers only."""
    try:
        size = upright_size(job.src)
        opts = file_options(opts, size, lambda: read(job.src), job.src)
    except Exception as e:  # noqa: BLE001
        return Result(job.name, str(job.src), str(job.dst), "failed", str(e))
    out_size, _ = opts.target.plan(*size)
    return Result(job.name, str(job.src), str(job.dst), "planned", None, size, out_size, method=opts.method)
