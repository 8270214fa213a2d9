"""``rescale eval``: score a method on image sets the way the SR literature does (the protocol is
:mod:`rescale.eval.protocol`), print the table, write JSON and an HTML report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["add_parser", "run"]

DEFAULT_SETS = "Set5,Set14,BSD100"
#: How many images per set and scale the HTML report shows.
REPORT_IMAGES = 2

DESCRIPTION = """\
Score a rescaling method on image sets the way the super-resolution literature does: each HR image
is cropped to a multiple of the scale, its LR is made (MATLAB bicubic for upscalers such as espcn,
the method's own down direction for rescalers such as irn, the filter itself for filters), then
upscaled back and compared with the HR: PSNR and SSIM on Y and RGB, LPIPS when its weights are
present, and for methods that make their own LR, how far that LR is from the bicubic one.
"""

EXAMPLES = """\
examples:
  rescale eval --method bicubic --scale 2 --scale 4                # the literature's bicubic baseline
  rescale eval --method irn --scale 2 --sets Set5 --jpeg 90        # the LR stored as JPEG first
  rescale eval --method cairn --scale 2 --jpeg 90 75 50 --lossless  # several qualities (and PNG) in one run
  rescale eval --method cairn --webp 80 60 --report out/webp        # report with a rate-distortion plot
  rescale eval --method espcn --scale 3 --json out/espcn.json --report out/espcn
"""


def _scales(args) -> list[tuple[float, float]]:
    sx = args.scale or [2.0]
    if args.scale_y is None:
        return [(s, s) for s in sx]
    if len(args.scale_y) not in (1, len(sx)):
        raise ValueError(f"give one --scale-y or one per --scale ({len(sx)}), got {len(args.scale_y)}")
    sy = args.scale_y * len(sx) if len(args.scale_y) == 1 else args.scale_y
    return list(zip(sx, sy))


def _quality(v: str) -> int:
    try:
        q = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"quality must be an integer 1..100, got {v!r}") from None
    if not 1 <= q <= 100:
        raise argparse.ArgumentTypeError(f"quality must be 1..100, got {q}")
    return q


def _positive(v: str) -> int:
    n = int(v)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {n}")
    return n


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", default="bicubic", help="filter name or learned method (default: bicubic)")
    p.add_argument("--scale", type=float, action="append", help="reduction factor; repeat for several (default: 2)")
    p.add_argument(
        "--scale-y", type=float, action="append", help="vertical factor if different (one, or one per --scale)"
    )
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="folder holding the sets (default: $RESCALE_DATA, else ../shared/data beside the repository)",
    )
    p.add_argument(
        "--sets",
        default=DEFAULT_SETS,
        help=f"comma-separated set names under --data, or folders (default: {DEFAULT_SETS})",
    )
    p.add_argument(
        "--jpeg",
        type=_quality,
        nargs="+",
        default=[],
        metavar="Q",
        help="store the LR as JPEG (Pillow, 4:2:0) at each quality Q before upscaling",
    )
    p.add_argument(
        "--webp", type=_quality, nargs="+", default=[], metavar="Q", help="store the LR as lossy WebP at each quality Q"
    )
    p.add_argument(
        "--lossless", action="store_true", help="with --jpeg/--webp: also score the LR stored losslessly (PNG)"
    )
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="DIR",
        help="write an HTML report with crops and a PSNR-vs-scale plot",
    )
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results (per image too) as JSON")
    p.add_argument(
        "--device", default="auto", help="torch device for the method (default: cuda if available, else cpu)"
    )
    p.add_argument("--limit", type=_positive, default=None, metavar="N", help="only the first N images of each set")
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local (default): this process; ray: one Ray task per image on a Ray cluster "
        "(pip install 'rescalekit[ray]')",
    )
    p.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="with --engine ray: the cluster to use (default: start one on this machine)",
    )
    p.add_argument(
        "--workers",
        type=_positive,
        default=None,
        metavar="N",
        help="with --engine ray: at most N tasks at once (default: the cluster's CPUs)",
    )
    p.add_argument(
        "--lpips-weights",
        type=Path,
        default=None,
        metavar="PATH",
        help="torchvision AlexNet weight file or folder for LPIPS (default: $RESCALE_LPIPS_WEIGHTS "
        "or the torch hub cache)",
    )


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``eval`` on an ``argparse`` subparsers object; the handler is :func:`run`."""
    p = subparsers.add_parser(
        "eval",
        help="score a method on image sets (PSNR, SSIM, LPIPS)",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``eval`` for parsed ``args``; prints the table, writes JSON / report. Returns the exit code."""
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    # Imported here, so that `rescale --help` lists eval without importing torch.
    try:
        import torch
    except ModuleNotFoundError as err:
        log(f"rescale eval: error: {err}: pip install 'rescalekit[torch]' (and [eval] for LPIPS and plots)")
        return 2
    from ..eval import metrics
    from ..eval.protocol import evaluate, prepare_method, storages_from
    from ..eval.results import format_table, to_json

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if args.engine == "ray":
        from ..batch.ray import RayUnavailable, require_ray

        try:
            require_ray()
        except RayUnavailable as err:
            log(f"rescale eval: error: {err}")
            return 2
    elif args.address or args.workers:
        log("rescale eval: error: --address and --workers go with --engine ray")
        return 2
    try:
        scales = _scales(args)
        storages = storages_from(args.jpeg, args.webp, args.lossless)
        sets = [s.strip() for s in args.sets.split(",") if s.strip()]
        method = prepare_method(args.method, device)
        try:
            lpips, lpips_note = metrics.load_lpips(weights=args.lpips_weights, device=device), None
        except metrics.LpipsUnavailable as err:
            lpips, lpips_note = None, str(err)
        report_images = REPORT_IMAGES if args.report else 0
        if args.engine == "ray":
            from ..eval.ray import evaluate_on_ray

            results = evaluate_on_ray(
                args.method,
                sets,
                scales,
                data=args.data,
                storages=storages,
                limit=args.limit,
                device=args.device,
                lpips_weights=args.lpips_weights,
                report_images=report_images,
                log=log,
                address=args.address,
                workers=args.workers,
            )
        else:
            results = evaluate(
                method,
                sets,
                scales,
                data=args.data,
                storages=storages,
                limit=args.limit,
                device=device,
                lpips=lpips,
                report_images=report_images,
                log=log,
            )
    except (ValueError, FileNotFoundError) as err:
        log(f"rescale eval: error: {err}")
        return 1
    print(format_table(results, lpips_note))
    plain = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"}
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(method, results, plain, lpips_note), indent=1) + "\n")
        log(f"wrote {args.json}")
    if args.report is not None:
        from ..eval.report import write_report

        log(f"wrote {write_report(args.report, method, results, format_table(results, lpips_note))}")
    return 0
