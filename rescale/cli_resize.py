"""``rescale resize``: rescale image files, folders and globs into an output folder.

The command line and the reporting (progress bar, per-file lines, JSON lines, summary, exit code);
the work itself is :mod:`rescale.batch` and the file handling :mod:`rescale.io`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

from .batch import FITS, Job, Options, Result, Target, plan_jobs, run_jobs
from .io import FORMATS, clean_temp_files, upright_size

__all__ = ["add_parser", "run", "run_batch", "Reporter"]

EXAMPLES = """\
examples:
  rescale resize photos -o small --scale 0.5                 # every image in photos/, half size
  rescale resize photos -o thumbs -r --size 256x256 --fit cover --format webp
  rescale resize 'scans/**/*.tif' -o web --width 1600 --method lanczos --workers 8
  rescale resize big.png -o small.png --scale 0.25x0.5       # one file to one file
  rescale resize photos -o small --scale 0.5 --json > log.jsonl
  rescale resize photos -o small --scale 0.5 --engine ray    # on a Ray cluster (here: a local one)
  rescale resize manga -o small --scale 0.5 --screentone     # keep screentones of greyscale pages

Orientation from EXIF is applied; the ICC profile, EXIF and DPI are kept; outputs are written
atomically, so an interrupted run can be rerun with --skip-existing.
"""


class UsageError(ValueError):
    pass


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "resize",
        help="rescale image files and folders",
        description="Rescale image files, folders and glob patterns into an output folder that mirrors the input tree.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(p)

    add_size_arguments(p)

    g = p.add_argument_group("resampling")
    g.add_argument("--method", default="bicubic", metavar="NAME", help=f"resampling method (default bicubic): {', '.join(method_names())}")
    g.add_argument("--antialias", action=argparse.BooleanOptionalAction, default=True, help="widen the filter when downscaling (default; --no-antialias interpolates like OpenCV)")
    g.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu", help="where to resample: cpu (default), cuda (decode on CPU workers, resample batches of same-size images on the GPU), auto (cuda when available)")
    g.add_argument("--screentone", action="store_true", help="manga pages: keep each screentone's pitch, angle and tone (method screentone) on greyscale and "
                   "bitonal pages; colour pages are resampled with --method, with a note (CPU only)")
    add_workers_argument(g)
    add_engine_arguments(p)
    add_output_arguments(p)
    add_reporting_arguments(p)
    return p


# Argument groups shared with the other batch commands (rescale down / up).


def add_input_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders, or quoted glob patterns ('photos/**/*.jpg')")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder; or the output file when the only input is a file")


def add_size_arguments(
    p: argparse.ArgumentParser,
    *,
    scale_help: str = "scale factor: 0.5, or 0.5x0.75 for horizontal x vertical",
    box_example: str = "1920x1080",
    fits: tuple[str, ...] = FITS,
    fit_help: str = "contain (fit inside, default), cover (fill and crop the overflow), fill (stretch)",
) -> None:
    """The output-size group (``--scale``, ``--width``, ``--height``, ``--size``, ``--fit``), read
    back and checked by :func:`_target`; ``rescale down`` words it for shrinking and leaves out cover."""
    g = p.add_argument_group("output size (give --scale, --size, or --width and/or --height)")
    g.add_argument("--scale", type=_scale, metavar="S", help=scale_help)
    g.add_argument("--width", type=_positive_int, metavar="W", help="output width (height follows the aspect ratio unless --height is given)")
    g.add_argument("--height", type=_positive_int, metavar="H", help="output height")
    g.add_argument("--size", type=_size, metavar="WxH", help=f"output box, e.g. {box_example}, with --fit")
    g.add_argument("--fit", choices=fits, help=f"for a box: {fit_help}")


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine")
    g.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local (default): processes on this machine; ray: Ray Data tasks (filters) and actors (learned "
                   "methods, on the cluster's GPUs when it has any) on a Ray cluster, --workers of them at once (default: as many as "
                   "it holds); needs pip install 'rescalekit[ray]'")
    g.add_argument("--address", metavar="ADDR", help="with --engine ray: the cluster (auto, HOST:PORT or ray://HOST:10001; "
                   "default: $RAY_ADDRESS, else a Ray instance started on this machine); its nodes must see the input and output paths")


def add_workers_argument(g) -> None:
    g.add_argument("--workers", type=_positive_int, metavar="N", help="worker processes (default: the number of CPU cores)")


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output files")
    g.add_argument("--format", choices=list(FORMATS), help="output format (default: the input's for png/jpg/webp/tiff, png for others)")
    g.add_argument("--quality", type=_quality, metavar="Q", help="JPEG/WebP quality 1-100 (default 90)")
    ex = g.add_mutually_exclusive_group()
    ex.add_argument("--skip-existing", action="store_true", help="leave outputs that already exist (e.g. to finish an interrupted run)")
    ex.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    g.add_argument("--in-place", action="store_true", help="allow an output to replace its own input")
    g.add_argument("-r", "--recursive", action="store_true", help="include subfolders of input folders")
    g.add_argument("--max-pixels", type=int, metavar="N", help="refuse inputs larger than N pixels (default: Pillow's decompression-bomb limit, about 89 MP; 0: no limit)")


def add_reporting_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reporting")
    g.add_argument("-n", "--dry-run", action="store_true", help="show what would be done, write nothing")
    g.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    g.add_argument("-v", "--verbose", action="store_true", help="print a line per file")
    g.add_argument("--json", action="store_true", help="print one JSON object per file and a summary object, nothing else on stdout")


def method_names() -> list[str]:
    """Every name ``--method`` takes: the registered filters and, once registered, learned methods."""
    from . import filters

    names = filters.available()
    try:
        from .methods import learned_methods
    except ImportError:
        return names
    return names + [m for m in learned_methods() if m not in names]


def run(args: argparse.Namespace) -> int:
    try:
        target = _target(args)
        if args.method.lower() not in method_names():
            raise UsageError(f"unknown method {args.method!r}; available: {', '.join(method_names())}")
        if getattr(args, "engine", "local") == "ray" and args.device != "cpu":
            raise UsageError("--device is for --engine local; --engine ray runs learned methods on the cluster's GPUs when it has any")
        if args.screentone and args.device == "cuda":
            raise UsageError("--screentone runs on the CPU (use --device cpu)")
        device = None if args.screentone else _device(args.device)
    except UsageError as e:
        print(f"rescale resize: error: {e}", file=sys.stderr)
        return 2
    opts = Options(target, args.method.lower(), args.antialias, args.quality, args.max_pixels, screentone=args.screentone)
    return run_batch(args, opts, "rescale resize", device=device)


def run_batch(args: argparse.Namespace, opts: Options, prog: str, *, device: str | None = None, planned=None) -> int:
    """Plan, run and report a batch command (the arguments of :func:`add_input_arguments`,
    :func:`add_output_arguments`, :func:`add_reporting_arguments` and ``--workers``) and return its
    exit code. ``planned(job, opts) -> Result`` describes a job for ``--dry-run`` (default: its
    size by ``opts.target``); ``prog`` starts the messages."""
    planned = planned or _dry_run
    engine = getattr(args, "engine", "local")
    if engine == "ray":
        from .distributed import RayUnavailable, require_ray

        try:
            require_ray()
        except RayUnavailable as e:
            print(f"{prog}: error: {e}", file=sys.stderr)
            return 2
    elif getattr(args, "address", None):
        print(f"{prog}: error: --address goes with --engine ray", file=sys.stderr)
        return 2
    plan = plan_jobs(args.inputs, args.output, fmt=args.format, recursive=args.recursive, in_place=args.in_place)
    jobs, skipped = [], []
    for job in plan.jobs:
        exists = job.dst.exists() and not (args.in_place and _same(job.dst, job.src))
        if exists and args.skip_existing:
            skipped.append(Result(job.name, str(job.src), str(job.dst), "skipped", "output exists"))
        else:
            jobs.append((job, exists))
    clash = [job for job, exists in jobs if exists]
    if clash and not args.overwrite and not args.dry_run:
        print(
            f"{prog}: error: {len(clash)} output(s) already exist, e.g. {clash[0].dst}; "
            "pass --overwrite to replace them or --skip-existing to keep them",
            file=sys.stderr,
        )
        return 2
    jobs = [job for job, _ in jobs]

    report = Reporter(len(plan.problems) + len(skipped) + len(jobs), args, prog)
    t0 = time.perf_counter()
    try:
        for r in plan.problems + skipped:
            report.file(r)
        if args.dry_run:
            for job in jobs:
                report.file(planned(job, opts))
        else:
            for folder in sorted({job.dst.parent for job in plan.jobs}):  # skipped ones too
                removed = clean_temp_files(folder)
                if removed and not (args.quiet or args.json):
                    report.note(f"removed {len(removed)} temporary file(s) left by an interrupted run in {folder}")
            if engine == "ray":
                from .distributed import run_jobs_ray

                results = run_jobs_ray(jobs, opts, address=args.address, workers=args.workers)
            else:
                results = run_jobs(jobs, opts, workers=min(args.workers or _cpu_count(), max(1, len(jobs))), device=device)
            for r in results:
                report.file(r)
    except KeyboardInterrupt:
        report.close()
        print(f"{prog}: interrupted; outputs written so far are complete (rerun with --skip-existing)", file=sys.stderr)
        return 130
    report.close()
    report.summary(time.perf_counter() - t0, args.output)
    return 1 if report.counts["failed"] else 0


class Reporter:
    """Progress bar on a terminal, a line per failure (per file with --verbose), JSON lines with
    --json, and the summary."""

    def __init__(self, total: int, args: argparse.Namespace, prog: str = "rescale resize"):
        self.args, self.prog = args, prog
        self.counts: Counter = Counter()
        self.megapixels = 0.0
        self.bar = None
        if not (args.quiet or args.json or args.dry_run) and sys.stderr.isatty() and total > 1:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="img", file=sys.stderr, dynamic_ncols=True, leave=False)

    def file(self, r: Result) -> None:
        self.counts[r.status] += 1
        if r.status == "done":
            self.megapixels += r.megapixels
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"{self.counts['failed']} failed" if self.counts["failed"] else "", refresh=False)
        if self.args.json:
            print(json.dumps(r.to_json()), flush=True)
        elif r.status == "failed":
            self._print(f"failed: {r.src}: {r.reason}", sys.stderr)
        elif self.args.verbose or r.status == "planned":
            self._print(_describe(r), sys.stdout)
        if r.note and not (self.args.json or self.args.quiet):
            self._print(f"note: {r.src}: {r.note}", sys.stderr)

    def note(self, text: str) -> None:
        self._print(text, sys.stderr)

    def _print(self, text: str, stream) -> None:
        if self.args.quiet and stream is sys.stdout:
            return
        if self.bar is not None:
            self.bar.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def summary(self, seconds: float, out: str) -> None:
        c = self.counts
        rate = self.megapixels / seconds if seconds > 0 else 0.0
        if self.args.json:
            print(json.dumps({"summary": {
                "done": c["done"], "skipped": c["skipped"], "failed": c["failed"], "planned": c["planned"],
                "seconds": round(seconds, 3), "megapixels": round(self.megapixels, 3), "mp_per_s": round(rate, 3),
            }}), flush=True)
        elif not self.args.quiet:
            first = f"{c['planned']} planned (dry run)" if self.args.dry_run else f"{c['done']} done"
            print(
                f"{self.prog}: {first}, {c['skipped']} skipped, {c['failed']} failed in {seconds:.2f} s "
                f"({self.megapixels:.1f} MP in, {rate:.1f} MP/s) -> {out}",
                flush=True,
            )


def _describe(r: Result) -> str:
    sizes = f"{r.size[0]}x{r.size[1]} -> {r.out_size[0]}x{r.out_size[1]}" if r.size and r.out_size else ""
    extra = f" ({r.converted})" if r.converted else ""
    extra += f" with {r.method}" if r.method else ""
    return f"{r.status}: {r.src} -> {r.dst}  {sizes}{extra}".rstrip()


def _dry_run(job: Job, opts: Options) -> Result:
    """What a job would make, from the file's headers only."""
    try:
        w, h = upright_size(job.src)
    except Exception as e:  # noqa: BLE001
        return Result(job.name, str(job.src), str(job.dst), "failed", f"cannot read: {e}")
    (rw, rh), box = opts.target.plan(w, h)
    out_size = (box[2] - box[0], box[3] - box[1]) if box else (rw, rh)
    return Result(job.name, str(job.src), str(job.dst), "planned", None, (w, h), out_size)


def _target(args) -> Target:
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
    return Target(scale=args.scale, width=width, height=height, fit=args.fit or "contain")


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


def _same(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# --- argument types ---------------------------------------------------------------------------------


def _scale(text: str) -> tuple[float, float]:
    parts = text.lower().split("x")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(0 < v < float("inf") for v in values):
        raise argparse.ArgumentTypeError(f"expected a positive factor like 0.5 or 0.5x0.75, got {text!r}")
    return (values[0], values[-1])


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT like 1920x1080, got {text!r}")
    return int(parts[0]), int(parts[1])


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _quality(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(f"expected a quality from 1 to 100, got {text!r}")
    return int(text)
