"""Rescaling and evaluation on a Ray cluster with Ray Data: ``rescale resize --engine ray`` and
``rescale eval --engine ray``.

The work per file is the local engine's, unchanged: every image goes through
:func:`rescale.batch.process_file` (or, on GPUs, the batched path of :func:`rescale.batch.run_jobs`),
so outputs, metadata, atomic writes and per-file errors are the same bytes and the same
:class:`~rescale.batch.Result` s. Ray only decides where it runs:

- classical filters: stateless CPU tasks over blocks of jobs (:func:`resize_batch`);
- learned methods (:func:`rescale.methods.is_method`): actors (:class:`LearnedResizer`) that load
  the weights once and keep them; on a GPU each when the cluster has GPUs, where same-size images
  are resampled as one batch.

A dataset row is a job, ``{"src", "dst", "fmt", "name"}`` (:func:`job_rows`); the stage
(:func:`resize_dataset`) turns it into ``{"name", "status", "result"}``, ``result`` being the pickled
Result. Ray retries the tasks of a worker that dies (and restarts a dead actor); since outputs are
renamed into place only when complete, a retried file is simply written again, and the temporary
files of killed writers are removed at the end (:func:`run_jobs_ray`).

Ray is an optional extra (``pip install 'rescalekit[ray]'``): this module imports it only inside
its functions, and ``import rescale`` never imports this module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import pickle
from pathlib import Path
from typing import Iterator

from .batch import Job, Options, Result, process_file, run_jobs
from .io import clean_temp_files
from .methods import is_method

__all__ = [
    "RayUnavailable",
    "require_ray",
    "connect",
    "job_rows",
    "resize_dataset",
    "resize_batch",
    "LearnedResizer",
    "run_jobs_ray",
    "evaluate_on_ray",
]

INSTALL_HINT = "pip install 'rescalekit[ray]'"

#: Jobs per dataset block at most: a block is the unit of scheduling and of retry, and its results
#: come back together, so it is small enough for a steady progress bar and cheap retries.
ROWS_PER_BLOCK = 16
#: Jobs handed to a learned-method actor per call: on a GPU, enough for full same-size batches.
GPU_ROWS_PER_CALL = 64
CPU_ROWS_PER_CALL = 4
#: Decoding/encoding threads of a GPU actor (run_jobs' batched path).
GPU_IO_THREADS = 4
#: Evaluation tasks sharing one GPU (scoring is mostly CPU work).
EVAL_TASKS_PER_GPU = 4


class RayUnavailable(RuntimeError):
    """Ray (with Ray Data) is not installed."""


def require_ray():
    """The ``ray`` module, or :class:`RayUnavailable` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise RayUnavailable(f"the Ray engine needs Ray Data, which is not installed ({e}); {INSTALL_HINT}") from None
    return ray


@contextlib.contextmanager
def connect(address: str | None = None):
    """Use the Ray cluster this process is connected to, or connect to ``address`` (``"auto"``,
    ``"HOST:PORT"``, ``"ray://HOST:10001"``), or, with neither, start a local instance on this
    machine (``ray.init()``; it honours ``$RAY_ADDRESS``). What this starts it also shuts down."""
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        # Quiet: the CLI reports per file itself; worker output would interleave with it.
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    elif address is not None:
        raise RuntimeError(f"already connected to a Ray cluster; cannot connect to {address!r} as well")
    _ray_messages_to_stderr(ray)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # e.g. "progress bars disabled": we have our own
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def _ray_messages_to_stderr(ray) -> None:
    """Ray prints its error messages (e.g. "a worker died ... while executing a task") to stdout,
    where ``--json`` promises JSON lines only: send them to stderr. The hook is Ray's internal
    printer; on a Ray without it the messages stay where Ray puts them."""
    worker = getattr(getattr(ray, "_private", None), "worker", None)
    original = getattr(worker, "print_to_stdstream", None)
    if original is None or getattr(original, "_to_stderr", False):
        return

    def to_stderr(data, *args, **kwargs):
        return original({**data, "is_err": True}, *args, **kwargs)

    to_stderr._to_stderr = True
    worker.print_to_stdstream = to_stderr


# --- rows <-> jobs and results --------------------------------------------------------------------


def job_rows(jobs: list[Job]) -> list[dict]:
    """Dataset rows of ``jobs``: their fields, paths as strings."""
    return [{f.name: _plain(getattr(job, f.name)) for f in dataclasses.fields(Job)} for job in jobs]


def _plain(v):
    return str(v) if isinstance(v, Path) else v


def _jobs(batch) -> list[Job]:
    """The jobs of a batch (``{column: array}``) of :func:`job_rows` rows."""
    cols = [f.name for f in dataclasses.fields(Job)]
    n = len(batch[cols[0]])
    paths = {f.name for f in dataclasses.fields(Job) if f.type in ("Path", Path)}
    return [Job(**{c: (Path(str(batch[c][i])) if c in paths else _item(batch[c][i])) for c in cols}) for i in range(n)]


def _item(v):
    return v.item() if hasattr(v, "item") else v  # numpy scalar -> Python


def _result_table(results: list[Result]):
    import pyarrow as pa

    return pa.table({
        "name": pa.array([r.name for r in results], pa.string()),
        "status": pa.array([r.status for r in results], pa.string()),
        "result": pa.array([pickle.dumps(r) for r in results], pa.binary()),
    })


def result_from_row(row) -> Result:
    return pickle.loads(row["result"])


# --- the stage ------------------------------------------------------------------------------------


def resize_batch(batch, opts: Options):
    """Ray task body for filters: :func:`rescale.batch.process_file` on every job of the batch."""
    return _result_table([process_file(job, opts) for job in _jobs(batch)])


class LearnedResizer:
    """Ray actor for learned methods: loads the method once, then processes batches of jobs.

    On the CPU each job is :func:`rescale.batch.process_file`; on a GPU the batch goes through the
    batched path of :func:`rescale.batch.run_jobs` (threads decode and encode, same-size images are
    resampled as one ``[N, C, H, W]`` tensor).
    """

    def __init__(self, opts: Options, device: str = "cpu"):
        self.opts, self.device = opts, device
        _pin_method(opts.method, device)

    def __call__(self, batch):
        jobs = _jobs(batch)
        if self.device == "cpu":
            results = [process_file(job, self.opts) for job in jobs]
        else:
            results = list(run_jobs(jobs, self.opts, workers=GPU_IO_THREADS, device=self.device))
        return _result_table(results)


def _pin_method(name: str, device: str) -> None:
    """Build learned method ``name`` once in this (actor) process and make the registry return that
    instance from now on, so that :func:`rescale.rescale` (hence ``process_file``) reuses its loaded
    weights instead of building the method, and reading its weights, for every image. An actor's
    process serves that actor only, so the rest of the program never sees the pin."""
    from .evaluate import prepare_method
    from .methods import register_method

    method = prepare_method(name, device)

    def pinned(**params):
        if params:
            raise TypeError(f"{name!r} is pinned in this worker to its default options; got {sorted(params)}")
        return method

    register_method(name, pinned)


def resize_dataset(ds, opts: Options, *, workers: int | None = None, rows: int | None = None):
    """The Ray Data stage: a dataset of :func:`job_rows` rows -> ``{"name", "status", "result"}``
    (``result``: the pickled :class:`rescale.batch.Result`).

    ``workers``: at most this many tasks or actors at once (default: what the cluster holds).
    ``rows``: the number of rows, when known (no more actors are started than they fill).
    """
    ray = require_ray()
    if not is_method(opts.method):
        extra = {"concurrency": workers} if workers else {}
        return ds.map_batches(resize_batch, fn_kwargs={"opts": opts}, batch_size=None, num_cpus=1, **extra)
    resources = ray.cluster_resources()
    gpus = resources.get("GPU", 0)
    if gpus >= 1:
        device, size, per_call, need = "cuda", int(gpus), GPU_ROWS_PER_CALL, {"num_gpus": 1, "num_cpus": 1}
    else:
        device, size, per_call, need = "cpu", max(1, int(resources.get("CPU", 1))), CPU_ROWS_PER_CALL, {"num_cpus": 1}
    size = min(size, workers or size, math.ceil(rows / per_call) if rows else size)
    return ds.map_batches(LearnedResizer, fn_constructor_kwargs={"opts": opts, "device": device}, batch_size=per_call,
                          concurrency=size, **need)


def _dataset(ray, rows: list[dict]):
    """``rows`` as a dataset in blocks of at most :data:`ROWS_PER_BLOCK` rows, and of at least
    twice as many blocks as the cluster has CPUs (when there are enough rows), so every core gets
    work until the end."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    blocks = min(len(rows), max(math.ceil(len(rows) / ROWS_PER_BLOCK), 2 * cpus))
    return ray.data.from_items(rows, override_num_blocks=max(1, blocks))


def run_jobs_ray(jobs: list[Job], opts: Options, *, address: str | None = None, workers: int | None = None) -> Iterator[Result]:
    """:func:`rescale.batch.run_jobs` on a Ray cluster: a :class:`Result` per job as blocks finish.

    The cluster's nodes must see the input and output paths (a shared filesystem) and have this
    package installed. A worker that dies mid-job has its block retried by Ray; the temporary files
    it left are removed here at the end (those of other nodes' dead workers by the next run, as
    their pids mean nothing here).
    """
    if not jobs:
        return
    with connect(address) as ray:
        ds = resize_dataset(_dataset(ray, job_rows(jobs)), opts, workers=workers, rows=len(jobs))
        for row in ds.iter_rows():
            yield result_from_row(row)
    for folder in sorted({job.dst.parent for job in jobs}):
        clean_temp_files(folder)


# --- evaluation -----------------------------------------------------------------------------------


def score_batch(batch, method: str, device: str, jpeg: int | None, report_images: int, lpips_weights: str | None):
    """Ray task body of ``rescale eval``: score each ``{"scale", "set", "index", "folder", "path",
    "sx", "sy"}`` row with :func:`rescale.evaluate.score_sample`; the method (and LPIPS) are
    loaded once per worker process."""
    import pyarrow as pa
    import torch

    from .data import Sample, load_rgb
    from .evaluate import score_sample

    m, bicubic, lpips = _eval_tools(method, device, lpips_weights)
    out = []
    with torch.inference_mode():
        for i in range(len(batch["path"])):
            key = tuple(int(batch[c][i]) for c in ("scale", "set", "index"))
            folder, path = str(batch["folder"][i]), str(batch["path"][i])
            sample = Sample(Path(path).relative_to(folder).as_posix(), *load_rgb(path))
            entry, shown = score_sample(m, bicubic, sample, float(batch["sx"][i]), float(batch["sy"][i]), jpeg=jpeg,
                                        device=device, lpips=lpips, with_bicubic=report_images > 0, keep=key[2] < report_images)
            out.append(pickle.dumps((key, entry, shown)))
    return pa.table({"scored": pa.array(out, pa.binary())})


_EVAL_TOOLS: dict = {}


def _eval_tools(method: str, device: str, lpips_weights: str | None):
    """(method, bicubic, lpips scorer or None), built once per worker process."""
    key = (method, device, lpips_weights)
    if key not in _EVAL_TOOLS:
        from . import metrics
        from .evaluate import prepare_method

        try:
            lpips = metrics.load_lpips(weights=lpips_weights, device=device)
        except metrics.LpipsUnavailable:
            lpips = None
        _EVAL_TOOLS[key] = (prepare_method(method, device), prepare_method("bicubic"), lpips)
    return _EVAL_TOOLS[key]


def evaluate_on_ray(method: str, sets: list[str], scales: list[tuple[float, float]], *, data=None, jpeg: int | None = None,
                    limit: int | None = None, device: str = "auto", lpips_weights=None, report_images: int = 0, log=None,
                    address: str | None = None, workers: int | None = None):
    """:func:`rescale.evaluate.evaluate` with one Ray task per image (same results, same order).

    ``device``: ``"auto"`` uses the cluster's GPUs when it has any (shared by
    :data:`EVAL_TASKS_PER_GPU` tasks each), else ``"cpu"`` / ``"cuda"``. ``method`` is a name: the
    workers build it themselves. LPIPS is scored when the workers find its weights.
    """
    from .data import ImageFolder, resolve_set
    from .evaluate import collect_set

    folders = [(name, ImageFolder(resolve_set(name, data), limit=limit)) for name in sets]
    rows = [
        {"scale": si, "set": fi, "index": i, "folder": str(folder.folder), "path": str(path), "sx": sx, "sy": sy}
        for si, (sx, sy) in enumerate(scales) for fi, (_, folder) in enumerate(folders) for i, path in enumerate(folder.files)
    ]
    scored = {}
    with connect(address) as ray:
        gpus = ray.cluster_resources().get("GPU", 0)
        if device == "auto":
            device = "cuda" if gpus else "cpu"
        need = {"num_gpus": 1 / EVAL_TASKS_PER_GPU} if device.startswith("cuda") else {"num_cpus": 1}
        extra = {"concurrency": workers} if workers else {}
        ds = _dataset(ray, rows).map_batches(
            score_batch, batch_size=None, fn_kwargs={"method": method, "device": device, "jpeg": jpeg,
                                                     "report_images": report_images,
                                                     "lpips_weights": None if lpips_weights is None else str(lpips_weights)},
            **need, **extra)
        for row in ds.iter_rows():
            key, entry, shown = pickle.loads(row["scored"])
            scored[key] = (entry, shown)
    return [collect_set(name, (sx, sy), (scored[(si, fi, i)] for i in range(len(folder))), log)
            for si, (sx, sy) in enumerate(scales) for fi, (name, folder) in enumerate(folders)]
