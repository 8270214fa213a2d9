"""Many files on a process pool: :func:`run_jobs`.

Each worker process decodes, resamples and writes whole files (:func:`~rescale.batch.job.process_file`);
results come back as they finish. A worker that dies (out of memory, a crash in a decoder) fails
the files in flight and the pool is made anew for the rest. With ``device`` set, the batched path of
:mod:`rescale.batch.device` runs instead.

The workers share one memory budget (:mod:`rescale.batch.budget`), and when the run is over the
temporary files of its killed writers are removed (:mod:`rescale.batch.atomic`).
"""

from __future__ import annotations

import os
import signal
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import replace

from PIL import Image

from .. import fastpath
from ..filters import get_filter
from ..methods import is_method
from . import budget
from .atomic import clean_temp_files, new_run_id
from .files import KEPT_MODES
from .job import Options, failed, process_file, resample_image
from .plan import Job
from .result import Result

__all__ = ["run_jobs"]


def run_jobs(
    jobs: list[Job], opts: Options, *, workers: int = 1, device: str | None = None, batch_size: int = 16
) -> Iterator[Result]:
    """Process ``jobs``, yielding a :class:`Result` per file in the order they finish.

    ``workers``: processes (1: everything in this process). ``device``: ``None`` resamples on the
    workers; a torch device (``"cuda"``; ``"cpu"`` runs the same batched path on the CPU, for tests)
    resamples same-size images in batches of up to ``batch_size`` in this process while
    ``workers`` threads decode and encode.

    ``opts.max_memory`` (None: the memory available now) is shared by all the workers. Once every
    job has its result, the temporary files of this run (``opts.run_id``, made up when empty) that
    killed writers left are removed.
    """
    if not opts.run_id:
        opts = replace(opts, run_id=new_run_id())
    if opts.max_memory is None:
        opts = replace(opts, max_memory=budget.available_memory() or 0)
    if device is None and workers > 1 and len(jobs) > 1:
        yield from _run_pool(jobs, opts, workers)
    else:
        budget.install(budget.MemoryBudget(opts.max_memory))  # shared by this process's threads
        try:
            if device is not None:
                from .device import run_batched  # numpy and torch: only on this path

                yield from run_batched(jobs, opts, max(1, workers), device, batch_size)
            else:
                for job in jobs:
                    yield process_file(job, opts)
        finally:
            budget.install(None)
    for folder in sorted({job.dst.parent for job in jobs}):
        clean_temp_files(folder, run=opts.run_id)


def _run_pool(jobs: list[Job], opts: Options, workers: int) -> Iterator[Result]:
    _warm_up(jobs, opts, workers)
    pending = deque(jobs)
    while pending:  # a new pool (and budget: the dead worker's reservation is lost) after a worker died
        pool = _make_pool(min(workers, len(pending)), opts.max_memory)
        inflight: dict = {}
        try:
            while pending or inflight:
                while pending and len(inflight) < 4 * workers:  # bounded, for huge folders
                    job = pending.popleft()
                    inflight[pool.submit(process_file, job, opts)] = job
                broken = yield from _drain(inflight, wait(inflight, return_when=FIRST_COMPLETED)[0])
                if broken:
                    break
        finally:
            # Waits for the files in hand (none at the end; on Ctrl-C the workers finish theirs):
            # an executor left running while the interpreter exits complains about closed pipes.
            pool.shutdown(wait=True, cancel_futures=True)


def _warm_up(jobs: list[Job], opts: Options, workers: int, sample: int = 16) -> None:
    """Load the CPU kernels here, before the workers fork, when the batch's resampling is large
    enough to repay loading them (:mod:`rescale.fastpath`: about half a second, which each worker
    would otherwise spend itself); a small batch stays with Pillow's resize and never loads numba.
    The batch's work is estimated from the headers of its first ``sample`` files. The warm-up
    image is too small for any thread pool to start, so forking stays safe."""
    if opts.screentone or opts.method is None or is_method(opts.method):
        return  # a network would start torch's thread pool here, which forked workers must not inherit
    filt = get_filter(opts.method)
    work, first = 0.0, None
    for job in jobs[:sample]:
        try:
            with Image.open(job.src) as im:
                (w, h), mode = im.size, im.mode if im.mode in KEPT_MODES else "RGB"
            (rw, rh), _ = opts.target.plan(w, h)
        except Exception:  # noqa: BLE001 - a file that cannot be read fails on its own later
            continue
        work += fastpath.work(w, h, rw, rh, Image.getmodebands(mode), filt, opts.antialias)
        first = first or (mode, w, h, rw, rh)
    # Loading here is serial time before the workers start; each worker would otherwise load them
    # itself, in parallel, once its own Pillow work passes the threshold (rescale.fastpath).
    if first is None or work * len(jobs) / min(sample, len(jobs)) < fastpath.KERNEL_WORK * workers:
        return
    fastpath.prefer_kernels()
    mode, w, h, rw, rh = first
    s = min(1.0, 256 / max(w, h))  # the first file's mode and scale, at most 256 pixels wide
    size = max(1, round(w * s)), max(1, round(h * s))
    try:
        resample_image(Image.new(mode, size), (max(1, round(rw * s)), max(1, round(rh * s))), opts)
    except Exception:  # noqa: BLE001 - a method that cannot run shows its error on the real files
        pass


def _drain(inflight: dict, done) -> Iterator[Result]:
    """Yield the results of finished futures; if the pool broke (a worker was killed, e.g. out of
    memory), fail everything in flight, since which file did it is unknown, and return True."""
    from concurrent.futures.process import BrokenProcessPool  # imported with the pool

    broken = False
    for fut in done:
        job = inflight.pop(fut)
        try:
            yield fut.result()
        except BrokenProcessPool:
            broken = True
            yield failed(job, _DIED)
    if broken:
        for job in inflight.values():
            yield failed(job, _DIED)
        inflight.clear()
    return broken


_DIED = "a worker process died while this file was in flight (out of memory, or a crash in a decoder)"


def _make_pool(workers: int, max_memory: int):
    import multiprocessing as mp  # with the process pool: only for runs of several files
    from concurrent.futures import ProcessPoolExecutor

    # fork is cheap (what is imported stays imported) and safe in the CLI, which has started neither
    # torch's thread pool nor CUDA by now. Where there is no fork, spawn (cli.py guards its main).
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    shared = budget.MemoryBudget(max_memory, ctx)
    return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(), shared))


def _init_worker(parent: int, shared: budget.MemoryBudget) -> None:
    # Ctrl-C is the parent's to handle; workers finish the file in hand (writes are atomic).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    budget.install(shared)
    # Parallelism comes from the processes: one thread each for the CPU kernels and for torch
    # (set now if the parent imported it, else read by torch when a learned method imports it).
    from .. import kernels

    kernels.set_num_threads(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    else:
        os.environ["OMP_NUM_THREADS"] = "1"


def _die_with_parent(parent: int) -> None:
    """Linux: get SIGKILLed when the parent dies, so that a killed run leaves no orphan workers."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)
