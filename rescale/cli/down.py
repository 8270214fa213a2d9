"""``rescale down``: a method's down direction over files, with the original size and the method
recorded in each output (:mod:`rescale.batch.provenance`), so that ``rescale up`` restores the
original without being told its size. The file handling and reporting are ``rescale resize``'s.
"""

from __future__ import annotations

import argparse
import sys

from ..batch import Options
from ..batch.job import DEFAULT_DOWN_METHOD, LOSSY_DOWN_METHOD, LOSSY_DOWN_SCALES
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

DOWN_EXAMPLES = """\
examples:
  rescale down photos -o small --scale 0.5                   # an ordinary-looking half-size copy
  rescale down big.png -o small.png --scale 0.25 --method irn
  rescale down photos -o small --scale 0.5 --format jpg      # CAIRN (x2, x4): made to survive JPEG
  rescale down scans -o web --width 800 --method lanczos     # any filter or learned method

Outputs keep the input's format unless --format says otherwise. Without --method, lossless outputs
(PNG, TIFF) use IRN, the best restoration from a lossless LR, and JPEG/WebP outputs at x2 and x4 use
CAIRN, whose LR keeps more of its restoration gain through the codec (IRN's falls to about bicubic's;
CAIRN has no weights for other factors, which get IRN). Each output
records its original size, the method and, for JPEG/WebP, the quality (PNG text chunks; EXIF
UserComment for JPEG, WebP and TIFF), which `rescale up` reads.
"""

#: "x2 and x4": the factors CAIRN is the lossy default at.
LOSSY_AT = " and ".join(f"x{s}" for s in LOSSY_DOWN_SCALES)


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
    add_method_group(
        down,
        f"method (default: {DEFAULT_DOWN_METHOD} for PNG/TIFF, {LOSSY_DOWN_METHOD} for JPEG/WebP at {LOSSY_AT})",
    )
    add_engine_arguments(down)
    add_output_arguments(down)
    add_reporting_arguments(down)


def run(args: argparse.Namespace) -> int:
    try:
        method = checked_method(args.method)  # None: by each output's format (rescale.batch.job.down_method)
        if method is None and args.weights is not None:
            raise UsageError(
                f"--weights needs --method: without it each output's format picks the method "
                f"({DEFAULT_DOWN_METHOD} for PNG/TIFF, {LOSSY_DOWN_METHOD} for JPEG/WebP at {LOSSY_AT})"
            )
        weights = checked_weights(method, args.weights)
        target = target_from_args(args)
        if target.scale is not None and max(target.scale) > 1:
            sx, sy = (1 / s if s > 1 else s for s in target.scale)
            meant = f"{sx:g}" if sx == sy else f"{sx:g}x{sy:g}"
            raise UsageError(
                "rescale down shrinks: --scale is the output's size over the input's (at most 1); "
                f"did you mean --scale {meant}?"
            )
    except UsageError as e:
        print(f"rescale down: error: {e}", file=sys.stderr)
        return 2
    opts = Options(target, method, quality=args.quality, max_pixels=args.max_pixels, direction="down", weights=weights)
    return run_batch(args, opts, "rescale down")
