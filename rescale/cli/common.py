"""What the batch subcommands (``resize``, ``down``, ``up``) share on the command line: argument
groups, argument types, and reading the output size back (:func:`target_from_args`)."""

from __future__ import annotations

import argparse
import os
import re

from .. import filters
from ..batch import FITS, Target
from ..batch.files import FORMATS
from ..methods import is_method, learned_methods, load_method
from ..pretrained import available_weights, load_manifest

__all__ = [
    "UsageError",
    "add_input_arguments",
    "add_size_arguments",
    "add_engine_arguments",
    "add_workers_argument",
    "add_no_enlarge_argument",
    "add_output_arguments",
    "add_reporting_arguments",
    "method_names",
    "add_method_group",
    "add_weights_argument",
    "checked_method",
    "checked_weights",
    "target_from_args",
    "parse_scale",
    "parse_size",
    "positive_int",
    "parse_quality",
    "parse_bytes",
]


class UsageError(ValueError):
    """A bad combination of arguments: reported as ``prog: error: ...``, exit status 2."""


def add_input_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files, folders, or quoted glob patterns ('photos/**/*.jpg'); - reads one image from stdin",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output folder; or the output file when the only input is a file (or -); - writes to stdout",
    )


def add_size_arguments(
    p: argparse.ArgumentParser,
    *,
    scale_help: str = "scale factor: 0.5, or 0.5x0.75 for horizontal x vertical",
    box_example: str = "1920x1080",
    fits: tuple[str, ...] = FITS,
    fit_help: str = "contain (fit inside, default), cover (fill and crop the overflow), fill (stretch)",
):
    """The output-size group (``--scale``, ``--width``, ``--height``, ``--size``, ``--fit``), read
    back and checked by :func:`target_from_args`; ``rescale down`` words it for shrinking and leaves out
    cover. Returns the group, for options of one command (:func:`add_no_enlarge_argument`)."""
    g = p.add_argument_group("output size (give --scale, --size, or --width and/or --height)")
    g.add_argument("--scale", type=parse_scale, metavar="S", help=scale_help)
    g.add_argument(
        "--width",
        type=positive_int,
        metavar="W",
        help="output width (height follows the aspect ratio unless --height is given)",
    )
    g.add_argument("--height", type=positive_int, metavar="H", help="output height")
    g.add_argument("--size", type=parse_size, metavar="WxH", help=f"output box, e.g. {box_example}, with --fit")
    g.add_argument("--fit", choices=fits, help=f"for a box: {fit_help}")
    return g


def add_no_enlarge_argument(g) -> None:
    """``--no-enlarge``, read back by :func:`target_from_args` (vipsthumbnail's ``--size x>``,
    ImageMagick's ``-resize WxH>``)."""
    g.add_argument(
        "--no-enlarge",
        action="store_true",
        help="never make an image larger than it is: one the size rule would enlarge keeps its size "
        "(cover still crops it to the box where it is larger)",
    )


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine")
    g.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local (default): processes on this machine; ray: Ray Data tasks (filters) and actors (learned "
        "methods, on the cluster's GPUs when it has any) on a Ray cluster, --workers of them at once "
        "(default: as many as it holds); needs pip install 'rescalekit[ray]'",
    )
    g.add_argument(
        "--address",
        metavar="ADDR",
        help="with --engine ray: the cluster (auto, HOST:PORT or ray://HOST:10001; "
        "default: $RAY_ADDRESS, else a Ray instance started on this machine); "
        "its nodes must see the input and output paths",
    )


def add_workers_argument(g) -> None:
    g.add_argument(
        "--workers", type=positive_int, metavar="N", help="worker processes (default: the number of CPU cores)"
    )


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output files")
    g.add_argument(
        "--format",
        choices=list(FORMATS),
        help="output format (default: the input's for png/jpg/webp/tiff, png for others)",
    )
    g.add_argument("--quality", type=parse_quality, metavar="Q", help="JPEG/WebP quality 1-100 (default 90)")
    g.add_argument(
        "--strip",
        action="store_true",
        help="write no EXIF and no ICC profile (the EXIF orientation is applied to the pixels first; the DPI, "
        "and rescale down's record of the original size, are kept)",
    )
    ex = g.add_mutually_exclusive_group()
    ex.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave outputs that already exist (e.g. to finish an interrupted run)",
    )
    ex.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    g.add_argument("--in-place", action="store_true", help="allow an output to replace its own input")
    g.add_argument("-r", "--recursive", action="store_true", help="include subfolders of input folders")
    g.add_argument(
        "--max-pixels",
        type=int,
        metavar="N",
        help="refuse inputs larger than N pixels, and rescale up's recorded original sizes too "
        "(default: Pillow's decompression-bomb limit, about 89 MP; 0: no limit)",
    )
    g.add_argument(
        "--max-memory",
        type=parse_bytes,
        metavar="SIZE",
        help="memory the files being processed may use at once, all workers together, e.g. 8G or 500M; "
        "a file that needs more fails (default: the memory available at the start; 0: no limit)",
    )


def add_reporting_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reporting")
    g.add_argument(
        "-n",
        "--dry-run",
        action="store_true",
        help="show what would be done, write nothing: reads each file's headers, and lists as failed the files "
        "the run would refuse (truncated, too large, a mode the format cannot hold)",
    )
    g.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    g.add_argument("-v", "--verbose", action="store_true", help="print a line per file")
    g.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per file and a summary object, nothing else on stdout",
    )


def method_names() -> list[str]:
    """Every name ``--method`` takes: the registered filters and, once registered, learned methods."""
    names = filters.available()
    return names + [m for m in learned_methods() if m not in names]


def add_method_group(p: argparse.ArgumentParser, title: str) -> None:
    """``--method`` (no default: each command says its own), ``--weights`` and ``--workers`` under ``title``."""
    g = p.add_argument_group(title)
    g.add_argument("--method", metavar="NAME", help=f"{', '.join(method_names())}")
    add_weights_argument(g)
    add_workers_argument(g)


def add_weights_argument(g) -> None:
    g.add_argument(
        "--weights",
        metavar="NAME|PATH",
        help="weights of a learned method that takes them (muller needs them): a shipped name "
        f"({', '.join(available_weights())}) or a .safetensors file with its .json manifest beside it",
    )


def checked_method(name: str | None) -> str | None:
    """``--method`` in lower case, refused with the list of names when unknown."""
    if name is None:
        return None
    if name.lower() not in method_names():
        raise UsageError(f"unknown method {name!r}; available: {', '.join(method_names())}")
    return name.lower()


def checked_weights(method: str | None, weights: str | None) -> str | None:
    """``--weights`` for ``method`` (None: each file's recorded method), checked by building the
    method once here, so that missing or wrong weights are one usage error rather than a failure
    per file. A path is made absolute (``rescale down`` records it for ``rescale up``)."""
    if weights is not None and (weights.endswith(".safetensors") or os.path.exists(weights)):
        weights = os.path.abspath(weights)
    if method is None:
        return weights
    if not is_method(method):
        if weights is not None:
            raise UsageError(f"--weights is for learned methods ({', '.join(learned_methods())}), not {method}")
        return None
    try:
        load_method(method, **({} if weights is None else {"weights": weights}))
    except Exception as e:  # noqa: BLE001 - any failure to build it is the user's to fix
        if weights is not None:
            raise UsageError(f"--weights {weights} for {method}: {e}") from None
        shipped = [n for n in available_weights() if load_manifest(n).get("method") == method]
        hint = f" (shipped: {', '.join(shipped)})" if shipped else ""
        raise UsageError(f"--method {method} needs --weights{hint}: {e}") from None
    return weights


def target_from_args(args: argparse.Namespace) -> Target:
    """The :class:`Target` of ``--scale`` / ``--size`` / ``--width`` / ``--height`` / ``--fit``."""
    given = [name for name in ("scale", "size", "width", "height") if getattr(args, name) is not None]
    if not given:
        raise UsageError("give the output size: --scale, --size, --width or --height")
    if args.scale is not None and len(given) > 1:
        raise UsageError("--scale cannot be combined with --size, --width or --height")
    if args.size is not None and (args.width is not None or args.height is not None):
        raise UsageError("--size cannot be combined with --width or --height")
    width, height = args.size if args.size is not None else (args.width, args.height)
    if args.fit is not None and (width is None or height is None):
        raise UsageError("--fit needs a box: --size WxH, or both --width and --height")
    enlarge = not getattr(args, "no_enlarge", False)
    return Target(scale=args.scale, width=width, height=height, fit=args.fit or "contain", enlarge=enlarge)


# --- argument types ---------------------------------------------------------------------------------


def parse_scale(text: str) -> tuple[float, float]:
    parts = text.lower().split("x")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(0 < v < float("inf") for v in values):
        raise argparse.ArgumentTypeError(f"expected a positive factor like 0.5 or 0.5x0.75, got {text!r}")
    return (values[0], values[-1])


def parse_size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT like 1920x1080, got {text!r}")
    return int(parts[0]), int(parts[1])


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def parse_bytes(text: str) -> int:
    """A memory size: ``8G``, ``1.5G``, ``500M``, ``64K`` (powers of 1024) or plain bytes; 0 for no limit."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if m is None:
        raise argparse.ArgumentTypeError(f"expected a size like 8G, 500M or 0, got {text!r}")
    return int(float(m[1]) * 1024 ** " kmgt".index(m[2] or " "))


def parse_quality(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(f"expected a quality from 1 to 100, got {text!r}")
    return int(text)
