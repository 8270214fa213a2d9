"""``rescale down``: a method's down direction over files, with the original size and the method
recorded in each output (:mod:`rescale.batch.provenance`), so that ``rescale up`` restores the
original without being told its size. The file handling and reporting are ``rescale resize``'s.
"""

from __future__ import annotations

import argparse
import sys

from ..batch import Options
from .common import (
    UsageError,
    add_engine_arguments,
    add_input_arguments,
    add_method_group,
    add_output_arguments,
    add_reporting_arguments,
    add_size_arguments,
    checked_method,
    checked_weights,
    target_from_args,
)
from .runner import run_batch

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
    add_size_arguments(
        down,
        scale_help="scale factor at most 1: 0.5, or 0.5x0.75 for horizontal x vertical",
        box_example="960x540",
        fits=("contain", "fill"),
        fit_help="contain (fit inside, default) or fill (stretch)",
    )
    add_method_group(down, f"method (default {DEFAULT_DOWN_METHOD})")
    add_engine_arguments(down)
    add_output_arguments(down)
    add_reporting_arguments(down)


def run(args: argparse.Namespace) -> int:
    try:
        method = checked_method(args.method) or DEFAULT_DOWN_METHOD
        weights = checked_weights(method, args.weights)
        target = target_from_args(args)
        if target.scale is not None and max(target.scale) > 1:
            raise UsageError(
                "rescale down shrinks: --scale takes factors of at most 1 (e.g. 0.5), "
                f"got {target.scale[0]}x{target.scale[1]}"
            )
    except UsageError as e:
        print(f"rescale down: error: {e}", file=sys.stderr)
        return 2
    opts = Options(target, method, quality=args.quality, max_pixels=args.max_pixels, direction="down", weights=weights)
    return run_batch(args, opts, "rescale down")
