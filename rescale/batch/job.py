"""One file of a batch command: read, resample, crop, write (:func:`process_file`).

A failing file (corrupt, truncated, too large, ...) gives a failed :class:`Result` with its reason;
it never raises, so the other files go on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import cache

from PIL import Image

from .. import api
from ..methods import is_method, load_method
from .files import KEEP_SUFFIXES, ImageError, Metadata, read_image, write_image
from .plan import Job, Target
from .provenance import Provenance, ProvenanceError, from_metadata, strip_exif
from .result import Result

__all__ = [
    "Options",
    "process_file",
    "file_options",
    "resample_image",
    "write_output",
    "failed",
    "reason_of",
    "DIRECTIONS",
    "DEFAULT_UP_METHOD",
    "DEFAULT_DOWN_METHOD",
    "down_method",
    "storage_note",
]

#: ``Options.direction``: ``rescale down`` / ``rescale up``.
DIRECTIONS = ("down", "up")
#: The method of ``rescale up`` for a file that names none (as :func:`rescale.up`).
DEFAULT_UP_METHOD = "irn"
#: ``rescale down``'s method for a lossless output when none is given: the best lossless rescaler.
DEFAULT_DOWN_METHOD = "irn"
#: ``rescale down``'s method for lossy outputs when none is given: the compression-aware CAIRN, whose
#: LR survives JPEG and WebP (IRN's falls to about bicubic quality there: docs/cairn.md).
LOSSY_DOWN_METHOD = "cairn"
#: Output formats that lose detail (a key of :data:`rescale.batch.files.FORMATS`).
LOSSY_FORMATS = ("jpg", "webp")
#: Learned rescalers whose LR only restores well when stored losslessly.
LOSSLESS_ONLY = ("irn", "iarn")


def down_method(fmt: str) -> str:
    """``rescale down``'s default method for output format ``fmt``."""
    return LOSSY_DOWN_METHOD if fmt in LOSSY_FORMATS else DEFAULT_DOWN_METHOD


def storage_note(method: str | None, fmt: str | None, quality: int | None = None) -> str | None:
    """What to tell a user whose LR made by ``method`` is (to be) stored as ``fmt`` (at ``quality``,
    when known): a lossless-only rescaler's LR in a lossy file restores barely better than bicubic."""
    if method not in LOSSLESS_ONLY or fmt not in LOSSY_FORMATS:
        return None
    stored = {"jpg": "JPEG", "webp": "WebP"}[fmt] + (f" (quality {quality})" if quality else "")
    return (
        f"{method}'s LR stored as {stored} restores about as well as bicubic; "
        f"use --method {LOSSY_DOWN_METHOD} (made for lossy files) or --format png when downscaling"
    )


@dataclass(frozen=True)
class Options:
    """Everything a worker needs besides the job (picklable).

    ``direction`` ``None`` (``rescale resize``) resamples with :func:`rescale.rescale`. ``"down"``
    and ``"up"`` run that direction of the method (:func:`rescale.down` / :func:`rescale.up` for
    learned methods; filters resample antialiased either way): ``"down"`` refuses to enlarge, takes
    ``method=None`` (:func:`down_method` of each output's format) and records the original size,
    the method and a lossy file's quality in the output (:mod:`rescale.batch.provenance`); ``"up"``
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


def failed(job: Job, reason: str, **kw) -> Result:
    return Result(job.name, str(job.src), str(job.dst), "failed", reason, **kw)


def process_file(job: Job, opts: Options) -> Result:
    """Read, resample, crop (cover fit) and write one file; never raises for a bad file."""
    t0 = time.perf_counter()
    size = None
    try:
        dec = read_image(job.src, opts.max_pixels)
        size = dec.image.size
        meta, record, note = dec.meta, None, None
        if opts.direction is not None:

            @cache
            def read_stored():
                return _stored(dec.text, meta.exif)

            opts = file_options(opts, size, read_stored, job.src, job.fmt)
            note = _storage_note(job, opts, read_stored)
            meta = replace(meta, exif=strip_exif(meta.exif))  # an input's record never passes to the output
        if opts.screentone and opts.direction is None:
            opts, note = _screentone_options(dec.image, opts)
        rsize, box = opts.target.plan(*size)
        out = resample_image(dec.image, rsize, opts)
        if box is not None:
            out = out.crop(box)
        if opts.direction == "down":
            record = Provenance(size, opts.method, out.size)
        written = write_output(out, job, meta, opts, record)
    except Exception as e:  # noqa: BLE001 - one bad file must not stop the others
        return failed(job, reason_of(e), size=size, seconds=time.perf_counter() - t0)
    method = opts.method if opts.direction is not None or opts.screentone else None
    return Result(
        job.name,
        str(job.src),
        str(job.dst),
        "done",
        None,
        size,
        written.size,
        written.mode,
        dec.converted,
        time.perf_counter() - t0,
        method,
        note,
    )


def _storage_note(job: Job, opts: Options, read_stored) -> str | None:
    """:func:`storage_note` for a ``down`` output, or for an ``up`` input (with the quality its
    record gives, when it has one)."""
    if opts.direction == "down":
        return storage_note(opts.method, job.fmt, opts.quality)
    in_fmt = KEEP_SUFFIXES.get(job.src.suffix.lower())
    if storage_note(opts.method, in_fmt) is None:
        return None
    try:
        quality = getattr(read_stored(), "quality", None)
    except ImageError:  # a garbled record: nothing more to say than the format
        quality = None
    return storage_note(opts.method, in_fmt, quality)


def _screentone_options(img: Image.Image, opts: Options) -> tuple[Options, str | None]:
    """``--screentone``: ``opts`` with method ``"screentone"`` for a greyscale or bitonal page; other
    pages keep their method, with a note that says so."""
    from ..screentone.pages import not_screentone_page  # scipy and the analysis: only when asked for

    why = not_screentone_page(img)
    if why is None:
        return replace(opts, method="screentone"), None
    return (
        opts,
        f"{why}: resampled with {opts.method} (--screentone is for greyscale and bitonal pages without transparency)",
    )


def file_options(opts: Options, size: tuple[int, int], read_stored, src, fmt: str | None = None) -> Options:
    """``opts`` for one file of ``rescale down``/``up`` of upright ``size``: the method for the output
    format ``fmt`` (``down``, :func:`down_method`) or the recorded size and method (``up``;
    ``read_stored()`` returns the file's :class:`Provenance` or None, called only then) filled in where
    not given, and the direction checked. Raises :class:`ImageError` with the reason otherwise."""
    if opts.direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {opts.direction!r}")
    target, method = opts.target, opts.method
    if opts.direction == "down" and method is None:
        method = down_method(fmt)
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
        raise ImageError(
            f"rescale down makes images smaller, but {size[0]}x{size[1]} -> {w}x{h} enlarges (use rescale up or resize)"
        )
    if opts.direction == "up" and (w < size[0] or h < size[1]):
        raise ImageError(
            f"rescale up makes images larger, but {size[0]}x{size[1]} -> {w}x{h} shrinks (use rescale down or resize)"
        )
    return replace(opts, target=target, method=method)


def _stored(text: dict, exif: bytes | None) -> Provenance | None:
    try:
        return from_metadata(text, exif)
    except ProvenanceError as e:
        raise ImageError(str(e)) from None


def resample_image(img, size: tuple[int, int], opts: Options):
    """The one place pixels are resampled (a PIL image, or an NCHW tensor batch), through the public
    API: with a direction, a learned method's own :func:`rescale.down` / :func:`rescale.up`;
    otherwise :func:`rescale.rescale` with the method by name, so every registered filter and
    learned method works here."""
    if opts.direction in DIRECTIONS and is_method(opts.method):
        directional = api.down if opts.direction == "down" else api.up
        return directional(img, size=size, method=load_method(opts.method))
    alpha = None
    if not isinstance(img, Image.Image):  # a batch from the GPU path: say whether it has alpha
        alpha = img.shape[1] in (2, 4)
    return api.rescale(img, size=size, method=opts.method, antialias=opts.antialias, alpha=alpha)


def write_output(
    img: Image.Image, job: Job, meta: Metadata, opts: Options, provenance: Provenance | None = None
) -> Image.Image:
    """Write ``img`` to ``job.dst`` (atomically, with ``meta``), making its folder."""
    job.dst.parent.mkdir(parents=True, exist_ok=True)
    return write_image(img, job.dst, job.fmt, meta, opts.quality, provenance)


def reason_of(e: BaseException) -> str:
    """What a failed file's report says: the message of our own errors, the type for others."""
    if isinstance(e, ImageError):
        return str(e)
    return f"{type(e).__name__}: {e}"
