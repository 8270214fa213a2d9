"""Rescaling on a Ray cluster with Ray Data: ``rescale resize --engine ray`` (and down / up).

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
from collections.abc import Iterator
from pathlib import Path

from ..methods import is_method
from .atomic import clean_temp_files, new_run_id
from .job import Options, method_of, process_file
from .plan import Job
from .pool import run_jobs
from .result import Result

__all__ = [
    "RayUnavailable",
    "require_ray",
    "connect",
    "job_rows",
    "resize_dataset",
    "resize_batch",
    "LearnedResizer",
    "run_jobs_ray",
    "dataset",
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


class RayUnavailable(RuntimeError):
    """Ray (with Ray Data) is not installed."""


def require_ray():
    """The ``ray`` module, or :class:`RayUnavailable` saying how to install it."""
    try:
        import ray
        import ray.data
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


#: The fields of a Job that are dataset columns: not those of stdin/stdout jobs, which run locally only
#: (a column of None would come back from Arrow as something else).
_COLUMNS = [f for f in dataclasses.fields(Job) if f.name not in ("data", "to_stdout")]


def job_rows(jobs: list[Job]) -> list[dict]:
    """Dataset rows of ``jobs``: their fields, paths as strings."""
    return [{f.name: _plain(getattr(job, f.name)) for f in _COLUMNS} for job in jobs]


def _plain(v):
    return str(v) if isinstance(v, Path) else v


def _jobs(batch) -> list[Job]:
    """The jobs of a batch (``{column: array}``) of :func:`job_rows` rows."""
    cols = [f.name for f in _COLUMNS]
    n = len(batch[cols[0]])
    paths = {f.name for f in _COLUMNS if f.type in ("Path", Path)}
    return [Job(**{c: (Path(str(batch[c][i])) if c in paths else _item(batch[c][i])) for c in cols}) for i in range(n)]


def _item(v):
    return v.item() if hasattr(v, "item") else v  # numpy scalar -> Python


def _result_table(results: list[Result]):
    import pyarrow as pa

    return pa.table(
        {
            "name": pa.array([r.name for r in results], pa.string()),
            "status": pa.array([r.status for r in results], pa.string()),
            "result": pa.array([pickle.dumps(r) for r in results], pa.binary()),
        }
    )


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
        method_of(opts, device)  # the weights load here, once; every image reuses them

    def __call__(self, batch):
        jobs = _jobs(batch)
        if self.device == "cpu":
            results = [process_file(job, self.opts) for job in jobs]
        else:
            results = list(run_jobs(jobs, self.opts, workers=GPU_IO_THREADS, device=self.device))
        return _result_table(results)


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
    return ds.map_batches(
        LearnedResizer,
        fn_constructor_kwargs={"opts": opts, "device": device},
        batch_size=per_call,
        concurrency=size,
        **need,
    )


def dataset(ray, rows: list[dict]):
    """``rows`` as a dataset in blocks of at most :data:`ROWS_PER_BLOCK` rows, and of at least
    twice as many blocks as the cluster has CPUs (when there are enough rows), so every core gets
    work until the end."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    blocks = min(len(rows), max(math.ceil(len(rows) / ROWS_PER_BLOCK), 2 * cpus))
    return ray.data.from_items(rows, override_num_blocks=max(1, blocks))


def run_jobs_ray(
    jobs: list[Job], opts: Options, *, address: str | None = None, workers: int | None = None
) -> Iterator[Result]:
    """:func:`rescale.batch.run_jobs` on a Ray cluster: a :class:`Result` per job as blocks finish.

    The cluster's nodes must see the input and output paths (a shared filesystem) and have this
    package installed. A worker that dies mid-job has its block retried by Ray; the temporary files
    of this run (``opts.run_id``, made up when empty) that dead workers left, on any node, are
    removed here at the end. Each task checks its file against ``opts.max_memory`` (None: the
    memory available on its node); how many tasks share a node is Ray's to decide.
    """
    if not jobs:
        return
    if not opts.run_id:
        opts = dataclasses.replace(opts, run_id=new_run_id())
    with connect(address) as ray:
        ds = resize_dataset(dataset(ray, job_rows(jobs)), opts, workers=workers, rows=len(jobs))
        for row in ds.iter_rows():
            yield result_from_row(row)
    for folder in sorted({job.dst.parent for job in jobs}):
        clean_temp_files(folder, run=opts.run_id or None)
