"""``rescale up``: a method's up direction over files, by default to the original size and with the
method that ``rescale down`` recorded in each file (:mod:`rescale.batch.provenance`). The file
handling and reporting are ``rescale resize``'s.
"""

from __future__ import annotations

import argparse
import sys

from ..batch import DEFAULT_UP_METHOD, Options, Target
from .common import (
    UsageError,
    add_engine_arguments,
    add_input_arguments,
    add_method_group,
    add_output_arguments,
    add_reporting_arguments,
    checked_method,
    checked_weights,
    parse_scale,
    parse_size,
)
from .runner import run_batch

__all__ = ["add_parser", "run"]

EXAMPLES = """\
examples:
  rescale up small -o restored                               # the original size and method, from each file
  rescale up small.png -o big.png --scale 2 --method espcn   # an explicit size or method wins
"""


def add_parser(subparsers) -> None:
    up = subparsers.add_parser(
        "up",
        help="restore files made by rescale down (or upscale others)",
        description="Upscale image files, folders and glob patterns with a method's up direction: by default to the "
        "original size and with the method that rescale down recorded in each file.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(up)
    g = up.add_argument_group(
        "output size (default: the original size recorded by rescale down)"
    ).add_mutually_exclusive_group()
    g.add_argument(
        "--scale",
        type=parse_scale,
        metavar="S",
        help="enlargement factor at least 1: 2, or 2x1.5 for horizontal x vertical",
    )
    g.add_argument("--size", type=parse_size, metavar="WxH", help="output size, e.g. 1920x1080")
    add_method_group(up, f"method (default: the one recorded in the file, else {DEFAULT_UP_METHOD})")
    add_engine_arguments(up)
    add_output_arguments(up)
    add_reporting_arguments(up)


def run(args: argparse.Namespace) -> int:
    try:
        method = checked_method(args.method)  # None: the file's own, per file
        weights = checked_weights(method, args.weights)  # None: the recorded ones, per file
        if args.scale is not None and min(args.scale) < 1:
            raise UsageError(
                "rescale up enlarges: --scale takes factors of at least 1 (e.g. 2), "
                f"got {args.scale[0]}x{args.scale[1]}"
            )
    except UsageError as e:
        print(f"rescale up: error: {e}", file=sys.stderr)
        return 2
    if args.scale is not None:
        target = Target(scale=args.scale)
    else:  # None: the recorded original size, per file
        target = Target(width=args.size[0], height=args.size[1], fit="fill") if args.size else None
    opts = Options(target, method, quality=args.quality, max_pixels=args.max_pixels, direction="up", weights=weights)
    return run_batch(args, opts, "rescale up")
