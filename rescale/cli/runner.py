"""Running a batch subcommand and reporting on it: :func:`run_batch` plans the files, runs them on the
chosen engine, and the :class:`Reporter` shows a progress bar, per-file lines or JSON lines, and the
summary."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from dataclasses import replace

from ..batch import Options, Result, plan_jobs, run_jobs
from ..batch.atomic import clean_temp_files, flush_to_disk, new_run_id
from ..batch.inplace import done_by, signature
from ..batch.plan import Plan, PlanError, plan_stdio
from ..batch.preview import preview

__all__ = ["run_batch", "Reporter", "printable", "report_error"]


def run_batch(args: argparse.Namespace, opts: Options, prog: str, *, device: str | None = None) -> int:
    """Plan, run and report a batch command (the arguments of :func:`add_input_arguments`,
    :func:`add_output_arguments`, :func:`add_reporting_arguments` and ``--workers``) and return its
    exit code; ``prog`` starts the messages. ``--dry-run`` reports each job's
    :func:`rescale.batch.preview.preview`."""
    engine = getattr(args, "engine", "local")
    if engine == "ray":
        from ..batch.ray import RayUnavailable, require_ray

        try:
            require_ray()
        except RayUnavailable as e:
            report_error(prog, str(e))
            return 2
    elif getattr(args, "address", None):
        report_error(prog, "--address goes with --engine ray")
        return 2
    try:
        plan = _plan(args, engine)
    except PlanError as e:
        report_error(prog, str(e))
        return 2
    opts = replace(opts, run_id=new_run_id(), max_memory=getattr(args, "max_memory", None), strip=args.strip)
    jobs, skipped = [], []
    for job in plan.jobs:
        # An in-place output is its input: whether it is done is in the file's own mark.
        exists = done_by(job.src, signature(opts, job.fmt)) if job.in_place else job.dst.exists() and not job.to_stdout
        if exists and args.skip_existing:
            why = "already processed in place by this command" if job.in_place else "output exists"
            skipped.append(Result(job.name, str(job.src), str(job.dst), "skipped", why))
        else:
            jobs.append((job, exists))
    clash = [job for job, exists in jobs if exists]
    if clash and not args.overwrite and not args.dry_run:
        in_place = [job for job in clash if job.in_place]
        if in_place:
            what = (
                f"{len(in_place)} file(s) were already processed in place by this same command (an interrupted "
                f"run?), e.g. {in_place[0].src}; pass --skip-existing to finish the run without processing them "
                "again, or --overwrite to process them again"
            )
        else:
            what = (
                f"{len(clash)} output(s) already exist, e.g. {clash[0].dst}; "
                "pass --overwrite to replace them or --skip-existing to keep them"
            )
        report_error(prog, what)
        return 2
    jobs = [job for job, _ in jobs]

    to_stdout = any(job.to_stdout for job in jobs)
    report = Reporter(len(plan.problems) + len(skipped) + len(jobs), args, prog, to_stdout=to_stdout)
    t0 = time.perf_counter()
    results = (r for r in ())  # a generator: close() ends a run cleanly
    try:
        for r in plan.problems + skipped:
            report.file(r)
        if args.dry_run:
            for job in jobs:
                report.file(preview(job, opts))
        else:
            for folder in sorted({job.dst.parent for job in plan.jobs if not job.to_stdout}):  # skipped ones too
                removed = clean_temp_files(folder)
                if removed and not (args.quiet or args.json):
                    report.note(f"removed {len(removed)} temporary file(s) left by an interrupted run in {folder}")
            if engine == "ray":
                from ..batch.ray import run_jobs_ray

                results = run_jobs_ray(jobs, opts, address=args.address, workers=args.workers)
            else:
                results = run_jobs(
                    jobs, opts, workers=min(args.workers or _cpu_count(), max(1, len(jobs))), device=device
                )
            for r in results:
                report.file(r)
            flush_to_disk()
    except KeyboardInterrupt:
        report.close()
        results.close()  # now, not at exit: the workers finish the files in hand, and the pool is shut down
        flush_to_disk()
        report_error(prog, "interrupted; outputs written so far are complete (rerun with --skip-existing)", "")
        return 130
    report.close()
    report.summary(time.perf_counter() - t0, args.output)
    return 1 if report.counts["failed"] else 0


def _plan(args: argparse.Namespace, engine: str) -> Plan:
    """The jobs of the command line; ``-`` as the input or the output is one image through stdin
    or stdout (:func:`rescale.batch.plan.plan_stdio`). A :class:`PlanError` for what cannot be."""
    if "-" not in args.inputs and args.output != "-":
        return plan_jobs(args.inputs, args.output, fmt=args.format, recursive=args.recursive, in_place=args.in_place)
    if len(args.inputs) > 1:
        raise PlanError(f"- (stdin or stdout) goes with one input, got {len(args.inputs)}: give one image")
    if engine != "local":
        raise PlanError("- (stdin or stdout) works with --engine local only")
    if args.output == "-" and sys.stdout.isatty() and not args.dry_run:
        raise PlanError("-o - writes the image's bytes to stdout, a terminal here: redirect it (> out.png) or pipe it")
    if args.inputs == ["-"] and sys.stdin.isatty():
        raise PlanError("- reads an image from stdin, a terminal here: redirect a file into it (< in.png) or pipe one")
    return plan_stdio(args.inputs[0], args.output, fmt=args.format, stdin=sys.stdin.buffer)


class Reporter:
    """Progress bar on a terminal, a line per failure (per file with --verbose), JSON lines with
    --json, and the summary; on stderr when ``to_stdout`` (the image goes to stdout)."""

    def __init__(self, total: int, args: argparse.Namespace, prog: str = "rescale resize", *, to_stdout: bool = False):
        self.args, self.prog = args, prog
        self.out = sys.stderr if to_stdout else sys.stdout
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
            print(json.dumps(r.to_json()), file=self.out, flush=True)
        elif r.status == "failed":
            self._print(f"failed: {r.src}: {r.reason}", sys.stderr)
        elif (self.args.verbose or r.status == "planned") and not self.args.quiet:
            self._print(_describe(r), self.out)
        if r.note and not (self.args.json or self.args.quiet):
            self._print(f"note: {r.src}: {r.note}", sys.stderr)

    def note(self, text: str) -> None:
        self._print(text, sys.stderr)

    def _print(self, text: str, stream) -> None:
        text = printable(text)
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
            print(
                json.dumps(
                    {
                        "summary": {
                            "done": c["done"],
                            "skipped": c["skipped"],
                            "failed": c["failed"],
                            "planned": c["planned"],
                            "seconds": round(seconds, 3),
                            "megapixels": round(self.megapixels, 3),
                            "mp_per_s": round(rate, 3),
                        }
                    }
                ),
                file=self.out,
                flush=True,
            )
        elif not self.args.quiet:
            first = f"{c['planned']} planned (dry run)" if self.args.dry_run else f"{c['done']} done"
            print(
                printable(
                    f"{self.prog}: {first}, {c['skipped']} skipped, {c['failed']} failed in {seconds:.2f} s "
                    f"({self.megapixels:.1f} MP in, {rate:.1f} MP/s) -> {out}"
                ),
                file=self.out,
                flush=True,
            )


def _describe(r: Result) -> str:
    sizes = f"{r.size[0]}x{r.size[1]} -> {r.out_size[0]}x{r.out_size[1]}" if r.size and r.out_size else ""
    extra = f" ({r.converted})" if r.converted else ""
    extra += f" with {r.method}" if r.method else ""
    return f"{r.status}: {r.src} -> {r.dst}  {sizes}{extra}".rstrip()


def printable(text: str) -> str:
    """``text`` with the bytes of non-UTF-8 file names (surrogate escapes) shown as ``\\xff``,
    so that no output encoding fails on them."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # other lone surrogates
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def report_error(prog: str, text: str, kind: str = "error: ") -> None:
    print(printable(f"{prog}: {kind}{text}"), file=sys.stderr)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
