"""The batch job runner behind ``rescale resize``: which files, where their outputs go, and running
them on a process pool.

- :func:`plan_jobs` turns input files, folders and glob patterns into :class:`Job` s whose outputs
  mirror the input tree under the output folder, refusing outputs that would overwrite an input or
  collide with each other.
- :func:`run_jobs` processes them and yields one :class:`Result` per file as it finishes: on a
  process pool over the CPU cores (each worker decodes, resamples with :func:`rescale.rescale` and
  writes one file), or with ``device`` set, decoding and encoding on threads while this process
  resamples batches of same-size images on that device (:class:`Batcher`).

A failing file (corrupt, truncated, too large, ...) gives a failed Result with its reason; the others
go on.
"""

from __future__ import annotations

import glob
import math
import os
import signal
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image, ImageFile

from .io import KEEP_SUFFIXES, ImageError, Metadata, output_format, read_image, write_image
from .provenance import Provenance, ProvenanceError, from_metadata, strip_exif

__all__ = ["Target", "Job", "Options", "Result", "Plan", "plan_jobs", "run_jobs", "process_file", "file_options", "Batcher", "FITS", "DIRECTIONS"]

FITS = ("contain", "cover", "fill")
#: ``Options.direction``: ``rescale down`` / ``rescale up``.
DIRECTIONS = ("down", "up")
#: The method of ``rescale up`` for a file that names none (as :func:`rescale.up`).
DEFAULT_UP_METHOD = "irn"
#: Modes the batched (GPU) path resamples; the rest (16-bit) are done whole on a CPU thread, since
#: rescale() takes no uint16 tensors.
BATCHED_MODES = ("L", "LA", "RGB", "RGBA", "F")


# --- what to make ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The output size rule: a ``scale`` ``(sx, sy)``, or a ``width`` and/or ``height``.

    With only one of width/height the other follows the aspect ratio. With both, ``fit`` decides:
    ``"contain"`` fits inside the box keeping the aspect ratio, ``"cover"`` fills the box keeping
    the aspect ratio and crops the overflow evenly from both sides, ``"fill"`` stretches to the box.
    """

    scale: tuple[float, float] | None = None
    width: int | None = None
    height: int | None = None
    fit: str = "contain"

    def __post_init__(self):
        if (self.scale is None) == (self.width is None and self.height is None):
            raise ValueError("give either a scale or a width and/or height")
        if self.fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, got {self.fit!r}")
        if self.scale is not None and not all(math.isfinite(s) and s > 0 for s in self.scale):
            raise ValueError(f"scale factors must be positive and finite, got {self.scale}")
        for v, name in ((self.width, "width"), (self.height, "height")):
            if v is not None and v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v}")

    def plan(self, w: int, h: int) -> tuple[tuple[int, int], tuple[int, int, int, int] | None]:
        """For an upright input of ``w x h``: the size to resample to and the crop box after it
        (``None`` unless ``fit="cover"``)."""
        if self.scale is not None:
            from .api import output_size

            return output_size(w, h, *self.scale), None
        W, H = self.width, self.height
        if H is None:
            return (W, _round(h * W / w)), None
        if W is None:
            return (_round(w * H / h), H), None
        if self.fit == "fill":
            return (W, H), None
        # The limiting axis gets exactly its box size; the other follows the aspect ratio.
        width_limits = W * h <= H * w
        if self.fit == "contain":
            return ((W, min(H, _round(h * W / w))) if width_limits else (min(W, _round(w * H / h)), H)), None
        rw, rh = (max(W, _round(w * H / h)), H) if width_limits else (W, max(H, _round(h * W / w)))
        left, top = (rw - W) // 2, (rh - H) // 2
        return (rw, rh), (left, top, left + W, top + H)


def _round(v: float) -> int:
    return max(1, math.floor(v + 0.5))


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path
    fmt: str  # a key of rescale.io.FORMATS
    name: str  # how the file is shown: its path relative to the input it came from


@dataclass(frozen=True)
class Options:
    """Everything a worker needs besides the job (picklable).

    ``direction`` ``None`` (``rescale resize``) resamples with :func:`rescale.rescale`. ``"down"``
    and ``"up"`` run that direction of the method (:func:`rescale.down` / :func:`rescale.up` for
    learned methods; filters resample antialiased either way): ``"down"`` refuses to enlarge and
    records the original size and the method in the output (:mod:`rescale.provenance`); ``"up"``
    refuses to shrink, takes ``target=None`` (the recorded original size) and ``method=None`` (the
    recorded method, else :data:`DEFAULT_UP_METHOD`) per file, and leaves the record out.
    """

    target: Target | None
    method: str | None = "bicubic"
    antialias: bool = True
    quality: int | None = None
    max_pixels: int | None = None  # None: Pillow's MAX_IMAGE_PIXELS; 0: no limit
    direction: str | None = None
    screentone: bool = False  # greyscale pages with method "screentone", colour ones with `method`


@dataclass
class Result:
    name: str
    src: str
    dst: str | None
    status: str  # "done", "skipped", "failed" or "planned" (dry run)
    reason: str | None = None
    size: tuple[int, int] | None = None  # input, upright
    out_size: tuple[int, int] | None = None
    mode: str | None = None  # of the output file
    converted: str | None = None  # mode conversion on reading, e.g. "P -> RGBA"
    seconds: float = 0.0
    method: str | None = None  # the method rescale down / up used (resize: None, left out of the JSON)
    note: str | None = None  # something the user should know about a done file (left out if None)

    @property
    def megapixels(self) -> float:
        return self.size[0] * self.size[1] / 1e6 if self.size else 0.0

    def to_json(self) -> dict:
        return {
            "input": self.src,
            "output": self.dst,
            "status": self.status,
            "error": self.reason,
            "size": list(self.size) if self.size else None,
            "out_size": list(self.out_size) if self.out_size else None,
            "mode": self.mode,
            "converted": self.converted,
            "seconds": round(self.seconds, 4),
        } | ({"method": self.method} if self.method is not None else {}) | ({"note": self.note} if self.note else {})


def failed(job: Job, reason: str, **kw) -> Result:
    return Result(job.name, str(job.src), str(job.dst), "failed", reason, **kw)


# --- planning -------------------------------------------------------------------------------------


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    problems: list[Result] = field(default_factory=list)  # inputs refused before processing


def plan_jobs(
    inputs: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    *,
    fmt: str | None = None,
    recursive: bool = False,
    in_place: bool = False,
) -> Plan:
    """Jobs for ``inputs`` (files, folders, glob patterns) with outputs under the folder ``out``.

    A file goes to ``out/<its name>``; a folder's images (its subfolders' too with ``recursive``) to
    ``out/<path relative to the folder>``; a glob's matches to ``out/<path relative to the glob's
    fixed leading folders>`` (``photos/**/*.jpg`` mirrors ``photos``). When the only input is a file
    and ``out`` ends in an image suffix and is not a folder, ``out`` is the output file itself.
    The output keeps the input's format for PNG/JPEG/WebP/TIFF and is PNG for others, unless
    ``fmt`` names one. Hidden files and the output folder itself are never picked up from folders.
    """
    inputs = [os.fspath(p) for p in inputs]
    out = Path(out)
    plan = Plan()
    sources: list[tuple[Path, Path]] = []  # (file, path relative to its input)
    for arg in inputs:
        p = Path(arg)
        if glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                plan.problems.append(Result(arg, arg, None, "failed", "no files match this pattern"))
            base = _glob_base(arg)
            for m in map(Path, matches):
                if m.is_dir():
                    sources += [(f, m.relative_to(base) / rel) for f, rel in _walk(m, recursive, out)]
                elif m.is_file() and _is_image_name(m.name) and not _inside(m, out):
                    sources.append((m, m.relative_to(base)))
        elif p.is_dir():
            sources += _walk(p, recursive, out)
        elif p.is_file():
            sources.append((p, Path(p.name)))
        else:
            plan.problems.append(Result(arg, arg, None, "failed", "no such file or folder"))

    single_file = len(inputs) == 1 and len(sources) == 1 and Path(inputs[0]).is_file()
    to_file = single_file and out.suffix.lower() in KEEP_SUFFIXES and not out.is_dir()
    seen_src: set[Path] = set()
    src_real = {f.resolve() for f, _ in sources}
    dst_owner: dict[Path, str] = {}
    for src, rel in sources:
        real = src.resolve()
        if real in seen_src:  # the same file named twice
            continue
        seen_src.add(real)
        name = rel.as_posix()
        if to_file:
            job_fmt, _ = output_format(out, fmt)
            dst = out
        else:
            job_fmt, suffix = output_format(src, fmt)
            dst = out / rel.with_suffix(suffix)
        dst_real = dst.resolve()
        if dst_real in src_real and not (in_place and dst_real == real):
            why = "output would overwrite this input" if dst_real == real else f"output {dst} would overwrite another input"
            hint = " (pass --in-place to replace inputs with their outputs)" if dst_real == real else ""
            plan.problems.append(Result(name, str(src), str(dst), "failed", why + hint))
        elif dst_real in dst_owner:
            plan.problems.append(Result(name, str(src), str(dst), "failed", f"output {dst} is also the output of {dst_owner[dst_real]}"))
        else:
            dst_owner[dst_real] = str(src)
            plan.jobs.append(Job(src, dst, job_fmt, name))
    return plan


def _glob_base(pattern: str) -> Path:
    parts = []
    for part in Path(pattern).parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _walk(folder: Path, recursive: bool, out: Path) -> list[tuple[Path, Path]]:
    found = []
    out_real = out.resolve()
    for root, dirs, files in os.walk(folder):
        root_p = Path(root)
        # Never descend into hidden folders or the output folder (a rerun must not eat its outputs).
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (root_p / d).resolve() != out_real) if recursive else []
        for name in sorted(files):
            if _is_image_name(name):
                f = root_p / name
                found.append((f, f.relative_to(folder)))
    return found


def _inside(path: Path, folder: Path) -> bool:
    return folder.resolve() in path.resolve().parents


_IMAGE_SUFFIXES: set[str] | None = None


def _is_image_name(name: str) -> bool:
    """Whether a file found in a folder is taken as an image: not hidden (our temporary files are
    hidden) and a suffix of a format Pillow decodes (not its stubs, nor EPS which needs
    Ghostscript, nor MPEG of which it reads only the header)."""
    global _IMAGE_SUFFIXES
    if _IMAGE_SUFFIXES is None:
        Image.init()
        readable = {
            f for f, (cls, _) in Image.OPEN.items()
            if not (isinstance(cls, type) and issubclass(cls, ImageFile.StubImageFile)) and f not in ("EPS", "MPEG")
        }
        _IMAGE_SUFFIXES = {ext for ext, f in Image.registered_extensions().items() if f in readable}
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in _IMAGE_SUFFIXES


# --- one file -------------------------------------------------------------------------------------


def process_file(job: Job, opts: Options) -> Result:
    """Read, resample, crop (cover fit) and write one file; never raises for a bad file."""
    t0 = time.perf_counter()
    size = None
    try:
        dec = read_image(job.src, opts.max_pixels)
        size = dec.image.size
        meta, record = dec.meta, None
        if opts.direction is not None:
            opts = file_options(opts, size, lambda: _stored(dec.text, meta.exif), job.src)
            meta = replace(meta, exif=strip_exif(meta.exif))  # an input's record never passes to the output
        note = None
        if opts.screentone and opts.direction is None:
            opts, note = screentone_choice(dec.image, opts)
        rsize, box = opts.target.plan(*size)
        out = resample_image(dec.image, rsize, opts)
        if box is not None:
            out = out.crop(box)
        if opts.direction == "down":
            record = Provenance(size, opts.method, out.size)
        written = _write(out, job, meta, opts, record)
    except Exception as e:  # noqa: BLE001 - one bad file must not stop the others
        return failed(job, _reason(e), size=size, seconds=time.perf_counter() - t0)
    method = opts.method if opts.direction is not None or opts.screentone else None
    return Result(job.name, str(job.src), str(job.dst), "done", None, size, written.size, written.mode, dec.converted, time.perf_counter() - t0, method, note)


def screentone_choice(img: Image.Image, opts: Options) -> tuple[Options, str | None]:
    """``--screentone``: ``opts`` with method ``"screentone"`` for a greyscale or bitonal page
    (mode L or I;16, or RGB with equal channels up to JPEG noise); other pages keep their method,
    with a note that says so."""
    if img.mode in ("L", "I;16"):
        return replace(opts, method="screentone"), None
    if img.mode == "RGB":
        rgb = np.asarray(img, dtype=np.int16)
        if np.percentile(np.abs(rgb - rgb.mean(axis=2, keepdims=True)), 99.5) <= 6:
            return replace(opts, method="screentone"), None
        why = "in colour"
    else:
        why = f"mode {img.mode}"
    return opts, f"{why}: resampled with {opts.method} (--screentone is for greyscale and bitonal pages without transparency)"


def file_options(opts: Options, size: tuple[int, int], read_stored, src) -> Options:
    """``opts`` for one file of ``rescale down``/``up`` of upright ``size``: the recorded size and
    method filled in where not given (``up``; ``read_stored()`` returns the file's
    :class:`Provenance` or None, called only then), and the direction checked. Raises
    :class:`ImageError` with the reason otherwise."""
    if opts.direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {opts.direction!r}")
    target, method = opts.target, opts.method
    if opts.direction == "up":
        stored = read_stored() if target is None or method is None else None
        method = method or (stored.method if stored else DEFAULT_UP_METHOD)
        if target is None:
            if stored is None:
                raise ImageError(f"no original size stored in {src}; give --scale or --size")
            if stored.lr_size != size:
                raise ImageError(
                    f"the stored original size {stored.original_size[0]}x{stored.original_size[1]} belongs to a "
                    f"{stored.lr_size[0]}x{stored.lr_size[1]} image, but {src} is {size[0]}x{size[1]} "
                    "(changed since rescale down?); give --scale or --size"
                )
            target = Target(width=stored.original_size[0], height=stored.original_size[1], fit="fill")
    (w, h), box = target.plan(*size)
    if box is not None:
        raise ValueError("rescale down/up take no cropping fit (cover)")
    if opts.direction == "down" and (w > size[0] or h > size[1]):
        raise ImageError(f"rescale down makes images smaller, but {size[0]}x{size[1]} -> {w}x{h} enlarges (use rescale up or resize)")
    if opts.direction == "up" and (w < size[0] or h < size[1]):
        raise ImageError(f"rescale up makes images larger, but {size[0]}x{size[1]} -> {w}x{h} shrinks (use rescale down or resize)")
    return replace(opts, target=target, method=method)


def _stored(text: dict, exif: bytes | None) -> Provenance | None:
    try:
        return from_metadata(text, exif)
    except ProvenanceError as e:
        raise ImageError(str(e)) from None


def resample_image(img, size: tuple[int, int], opts: Options):
    """The one place pixels are resampled (a PIL image, or an NCHW tensor batch): rescale() with
    the method by name, so every registered filter and learned method works here; with a
    direction, a learned method's own down or up."""
    from .api import down, rescale, up
    from .methods import is_method

    if opts.direction in DIRECTIONS and is_method(opts.method):
        return (down if opts.direction == "down" else up)(img, size=size, method=_learned(opts.method.lower()))
    alpha = None
    if not isinstance(img, Image.Image):  # a batch from the GPU path: say whether it has alpha
        alpha = img.shape[1] in (2, 4)
    return rescale(img, size=size, method=opts.method, antialias=opts.antialias, alpha=alpha)


_LEARNED: dict = {}


def _learned(name: str):
    """One instance of each learned method per process, so that its weights load once."""
    from .methods import get_method

    if name not in _LEARNED:
        _LEARNED[name] = get_method(name)
    return _LEARNED[name]


def _write(img: Image.Image, job: Job, meta: Metadata, opts: Options, provenance: Provenance | None = None) -> Image.Image:
    job.dst.parent.mkdir(parents=True, exist_ok=True)
    return write_image(img, job.dst, job.fmt, meta, opts.quality, provenance)


def _reason(e: BaseException) -> str:
    if isinstance(e, ImageError):
        return str(e)
    return f"{type(e).__name__}: {e}"


# --- many files -----------------------------------------------------------------------------------


def run_jobs(jobs: list[Job], opts: Options, *, workers: int = 1, device: str | None = None, batch_size: int = 16) -> Iterator[Result]:
    """Process ``jobs``, yielding a :class:`Result` per file in the order they finish.

    ``workers``: processes (1: everything in this process). ``device``: ``None`` resamples on the
    workers; a torch device (``"cuda"``; ``"cpu"`` runs the same batched path on the CPU, for tests)
    resamples same-size images in batches of up to ``batch_size`` in this process while
    ``workers`` threads decode and encode.
    """
    if device is not None:
        yield from _run_batched(jobs, opts, max(1, workers), device, batch_size)
    elif workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield process_file(job, opts)
    else:
        yield from _run_pool(jobs, opts, workers)


def _run_pool(jobs: list[Job], opts: Options, workers: int) -> Iterator[Result]:
    _warm_up(opts)
    pending = deque(jobs)
    while pending:  # a new pool after a worker died (see _drain)
        pool = _make_pool(min(workers, len(pending)))
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
            pool.shutdown(wait=False, cancel_futures=True)


def _warm_up(opts: Options) -> None:
    """Resample a tiny image here first: forked workers then inherit the loaded (numba-compiled)
    CPU kernels instead of each loading them, about a second of CPU per worker. The image is too
    small for any thread pool to start, so forking stays safe."""
    from .methods import is_method

    if opts.direction is not None and (opts.method is None or is_method(opts.method)):
        return  # a network would start torch's thread pool here, which forked workers must not inherit
    try:
        resample_image(Image.new("RGB", (8, 8)), (4, 4), opts)
    except Exception:  # noqa: BLE001 - a method that cannot run shows its error on the real files
        pass


def _drain(inflight: dict, done) -> Iterator[Result]:
    """Yield the results of finished futures; if the pool broke (a worker was killed, e.g. out of
    memory), fail everything in flight, since which file did it is unknown, and return True."""
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


def _make_pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing as mp

    # fork is cheap (torch is already imported) and safe in the CLI, which has started neither
    # torch's thread pool nor CUDA by now. Where there is no fork, spawn (cli.py guards its main).
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(),))


def _init_worker(parent: int) -> None:
    # Ctrl-C is the parent's to handle; workers finish the file in hand (writes are atomic).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    import torch

    torch.set_num_threads(1)  # parallelism comes from the processes


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


# --- batched resampling on a device ---------------------------------------------------------------


@dataclass
class Decoded:
    """A decoded image waiting for its batch."""

    job: Job
    pixels: np.ndarray  # HxW or HxWxC, upright
    meta: Metadata
    converted: str | None
    rsize: tuple[int, int]
    box: tuple[int, int, int, int] | None
    seconds: float

    @property
    def key(self) -> tuple:
        """Images with the same key are resampled together."""
        return self.pixels.shape, self.pixels.dtype.str, self.rsize


def decode_job(job: Job, opts: Options) -> "Decoded | Result":
    """Decoding thread of the batched path; 16-bit images, and down/up jobs (sizes and methods per
    file, records to write), are processed whole right here (on the CPU)."""
    t0 = time.perf_counter()
    try:
        if opts.direction is not None:
            return process_file(job, opts)
        dec = read_image(job.src, opts.max_pixels)
        if dec.image.mode not in BATCHED_MODES:
            return process_file(job, opts)
        rsize, box = opts.target.plan(*dec.image.size)
        return Decoded(job, np.asarray(dec.image), dec.meta, dec.converted, rsize, box, time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001
        return failed(job, _reason(e), seconds=time.perf_counter() - t0)


def encode_job(item: Decoded, pixels: np.ndarray, seconds: float, opts: Options) -> Result:
    """Encoding thread of the batched path: crop and write the resampled pixels."""
    t0 = time.perf_counter()
    size = item.pixels.shape[1], item.pixels.shape[0]
    try:
        img = Image.fromarray(pixels)
        if item.box is not None:
            img = img.crop(item.box)
        written = _write(img, item.job, item.meta, opts)
    except Exception as e:  # noqa: BLE001
        return failed(item.job, _reason(e), size=size)
    job = item.job
    return Result(job.name, str(job.src), str(job.dst), "done", None, size, written.size, written.mode, item.converted, seconds + time.perf_counter() - t0)


def resample_batch(items: list[Decoded], opts: Options, device: str) -> list[np.ndarray]:
    """Resample same-key images as one ``[N, C, H, W]`` tensor on ``device``; HxW(xC) arrays back."""
    import torch

    stacked = np.stack([it.pixels for it in items])  # N x H x W (x C)
    if stacked.ndim == 3:
        stacked = stacked[..., None]
    x = torch.from_numpy(stacked).permute(0, 3, 1, 2).to(device)  # channels-last NCHW, no copy on CPU
    y = resample_image(x, items[0].rsize, opts)
    out = y.permute(0, 2, 3, 1).cpu().numpy()
    return [o[..., 0] if o.shape[-1] == 1 else o for o in out]


class Batcher:
    """Groups items by key into batches of at most ``max_items`` items or ``max_bytes`` bytes.

    :meth:`add` returns the batches that became full; at most ``max_pending_bytes`` wait in total
    (the largest group is sent early when over), so a folder of all-different sizes neither waits
    for the end nor fills the memory; :meth:`flush` returns everything left.
    """

    def __init__(self, max_items: int = 16, max_bytes: int = 512 << 20, max_pending_bytes: int = 2 << 30):
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items, self.max_bytes, self.max_pending_bytes = max_items, max_bytes, max_pending_bytes
        self._groups: dict = {}  # key -> (items, bytes), in insertion order
        self._bytes = 0

    def __len__(self) -> int:
        return sum(len(items) for items, _ in self._groups.values())

    def add(self, key, item, nbytes: int) -> list[list]:
        items, size = self._groups.get(key, ([], 0))
        items.append(item)
        self._groups[key] = (items, size + nbytes)
        self._bytes += nbytes
        ready = []
        if len(items) >= self.max_items or size + nbytes >= self.max_bytes:
            ready.append(self._pop(key))
        while self._bytes > self.max_pending_bytes and self._groups:
            ready.append(self._pop(max(self._groups, key=lambda k: self._groups[k][1])))
        return ready

    def flush(self) -> list[list]:
        return [self._pop(k) for k in list(self._groups)]

    def _pop(self, key) -> list:
        items, size = self._groups.pop(key)
        self._bytes -= size
        return items


def _run_batched(jobs: list[Job], opts: Options, workers: int, device: str, batch_size: int) -> Iterator[Result]:
    # Decoding and encoding run on threads of this process: Pillow's codecs release the GIL, and
    # the pixels reach the device without being copied between processes (a pipe moved only about
    # 300 MB/s of decoded pixels, slower than the GPU path saves).
    pending = deque(jobs)
    batcher = Batcher(batch_size)
    decoding: dict = {}
    encoding: dict = {}
    pool = ThreadPoolExecutor(workers, thread_name_prefix="rescale-io")
    try:
        while pending or decoding or encoding or len(batcher):
            while pending and len(decoding) < 2 * workers + batch_size:  # bounds the decoded pixels held
                job = pending.popleft()
                decoding[pool.submit(decode_job, job, opts)] = job
            ready = []
            if decoding or encoding:
                for fut in wait([*decoding, *encoding], return_when=FIRST_COMPLETED)[0]:
                    (encoding if fut in encoding else decoding).pop(fut)
                    r = fut.result()  # decode_job and encode_job report failures as Results
                    if isinstance(r, Result):
                        yield r
                    else:
                        ready += batcher.add(r.key, r, r.pixels.nbytes)
            if not pending and not decoding:
                ready += batcher.flush()
            for batch in ready:
                t0 = time.perf_counter()
                try:
                    outs = resample_batch(batch, opts, device)
                except Exception as e:  # noqa: BLE001 - e.g. out of device memory: fail this batch only
                    for it in batch:
                        yield failed(it.job, _reason(e), size=(it.pixels.shape[1], it.pixels.shape[0]))
                    continue
                share = (time.perf_counter() - t0) / len(batch)
                for it, pixels in zip(batch, outs):
                    encoding[pool.submit(encode_job, it, pixels, it.seconds + share, opts)] = it.job
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
