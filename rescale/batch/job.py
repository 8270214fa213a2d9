"""One file of a batch command: read, resample, crop, write (:func:`process_file`).

A failing file (corrupt, truncated, too large, a record asking for too much, ...) gives a failed
:class:`Result` with its reason; it never raises, so the other files go on. Before a file's pixels
are decoded, the memory its job needs is reserved from the run's budget (:mod:`.budget`).
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING

from PIL import Image

from .. import api, filters
from ..methods import is_method, load_method
from . import budget
from .files import KEEP_SUFFIXES, ImageError, Metadata, decode, open_image, read_header
from .inplace import mark_text, signature
from .output import Written, write_image
from .plan import Job, Target
from .provenance import Provenance, ProvenanceError, from_metadata, strip_exif
from .result import Result

if TYPE_CHECKING:
    from ..linear import LinearOption

__all__ = [
    "Options",
    "process_file",
    "file_options",
    "stored_provenance",
    "resample_image",
    "linear_light",
    "write_output",
    "failed",
    "reason_of",
    "method_of",
    "DIRECTIONS",
    "DEFAULT_UP_METHOD",
    "DEFAULT_DOWN_METHOD",
    "down_method",
    "storage_note",
    "FilePlan",
    "plan_file",
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
#: The factors :data:`LOSSY_DOWN_METHOD` has shipped weights for (``weights/cairn_x*``); other lossy
#: downscales get :data:`DEFAULT_DOWN_METHOD`, with the note of :func:`storage_note`.
LOSSY_DOWN_SCALES = (2, 4)
#: Output formats that lose detail (a key of :data:`rescale.batch.files.FORMATS`).
LOSSY_FORMATS = ("jpg", "webp")
#: Learned rescalers whose LR only restores well when stored losslessly.
LOSSLESS_ONLY = ("irn", "iarn")


def down_method(fmt: str | None, hr: tuple[int, int] | None = None, lr: tuple[int, int] | None = None) -> str:
    """``rescale down``'s default method for output format ``fmt`` and, when given, the sizes
    ``hr -> lr`` (``(width, height)``): CAIRN for a lossy output at a factor it has weights for
    (:data:`LOSSY_DOWN_SCALES`), else IRN."""
    if fmt not in LOSSY_FORMATS:
        return DEFAULT_DOWN_METHOD
    if hr is None or lr is None or any(_is_factor(hr, lr, s) for s in LOSSY_DOWN_SCALES):
        return LOSSY_DOWN_METHOD
    return DEFAULT_DOWN_METHOD


def _is_factor(hr: tuple[int, int], lr: tuple[int, int], s: int) -> bool:
    """Whether ``hr -> lr`` is a downscale by ``s`` (each side ``floor`` or ``ceil`` of ``n / s``)."""
    return all(n // s <= m <= -(-n // s) for n, m in zip(hr, lr))


def storage_note(method: str | None, fmt: str | None, quality: int | None = None) -> str | None:
    """What to tell a user whose LR made by ``method`` is (to be) stored as ``fmt`` (at ``quality``,
    when known): a lossless-only rescaler's LR in a lossy file restores barely better than bicubic."""
    if method not in LOSSLESS_ONLY or fmt not in LOSSY_FORMATS:
        return None
    stored = {"jpg": "JPEG", "webp": "WebP"}[fmt] + (f" (quality {quality})" if quality else "")
    return (
        f"{method}'s LR stored as {stored} restores about as well as bicubic; "
        f"use --method {LOSSY_DOWN_METHOD} (made for lossy files, at x{'/x'.join(map(str, LOSSY_DOWN_SCALES))}) "
        "or --format png when downscaling"
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
    fast_decode: bool = False  # JPEGs decoded reduced in the DCT domain (files.DRAFT_GAP)
    weights: str | None = None  # of the learned method (its factory's weights=); None: its default
    max_memory: int | None = None  # bytes the run's files may use at once (None: what is available; 0: no limit)
    run_id: str = ""  # names this run's temporary files (rescale.batch.atomic)
    linear: bool = False  # filters resample in linear light, with the file's ICC tone curves (linear_light)
    strip: bool = False  # write no EXIF and no ICC profile (the size record and the in-place mark stay)


def failed(job: Job, reason: str, **kw) -> Result:
    return Result(job.name, str(job.src), str(job.dst), "failed", reason, **kw)


def process_file(job: Job, opts: Options) -> Result:
    """Read, resample, crop (cover fit) and write one file; never raises for a bad file."""
    t0 = time.perf_counter()
    size = None
    sig = signature(opts, job.fmt) if job.in_place else None
    try:
        with contextlib.ExitStack() as held:
            with open_image(job.source()) as im:
                head = read_header(im, opts.max_pixels)
                size = head.size
                plan = plan_file(job, opts, head)
                opts, note, rsize, box = plan.opts, plan.note, plan.rsize, plan.box
                held.enter_context(budget.current(opts.max_memory).reserve(plan.need, plan.what))
                fast = opts.fast_decode and opts.direction is None and not opts.screentone
                dec = decode(im, rsize if fast else None)
            meta, record = dec.meta, None
            if opts.direction is not None:
                meta = replace(meta, exif=strip_exif(meta.exif))  # an input's record never passes to the output
            if opts.screentone and opts.direction is None:
                opts, note = _screentone_options(dec.image, opts)
            linear, linear_note = linear_light(opts, meta.icc_profile)
            out = crop(resample_image(dec.image, rsize, opts, linear), box)
            out_size = out.size if isinstance(out, Image.Image) else (out.shape[1], out.shape[0])
            if opts.direction == "down":
                record = Provenance(size, opts.method, out_size, opts.weights)
            written = write_output(out, job, meta, opts, record, None if sig is None else mark_text(sig, out_size))
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
        joined(dec.converted, written.converted),
        time.perf_counter() - t0,
        method,
        joined(note, linear_note, written.note),
    )


def joined(*texts: str | None) -> str | None:
    """The texts that are not None, one after the other (a file's conversions or notes)."""
    return "; ".join(t for t in texts if t) or None


def crop(img, box: tuple[int, int, int, int] | None):
    """``img`` (a PIL image or an ``HxWxC`` array) cut to ``box`` (left, top, right, bottom)."""
    if box is None:
        return img
    if isinstance(img, Image.Image):
        return img.crop(box)
    return img[box[1] : box[3], box[0] : box[2]]


@dataclass(frozen=True)
class FilePlan:
    """What a job does to one file, known from its header alone (:func:`plan_file`)."""

    opts: Options  # with the file's own size, method and weights (down/up: file_options)
    note: str | None  # what to tell the user about the file's storage (storage_note)
    size: tuple[int, int]  # the upright input size
    rsize: tuple[int, int]  # the resampled size
    box: tuple[int, int, int, int] | None  # the cover-fit crop of the resampled image
    need: int  # estimated peak bytes (rescale.batch.budget.estimate)

    @property
    def what(self) -> str:
        return f"{self.size[0]}x{self.size[1]} -> {self.rsize[0]}x{self.rsize[1]}"


def plan_file(job: Job, opts: Options, head) -> FilePlan:
    """The :class:`FilePlan` of ``job`` for a file whose :func:`rescale.batch.files.read_header` is
    ``head``: what :func:`process_file` does before decoding, and ``--dry-run`` shows."""
    note = None
    if opts.direction is not None:

        @cache
        def read_stored():
            return stored_provenance(head.text, head.exif)

        opts = file_options(opts, head.size, read_stored, job.src, job.fmt)
        note = _storage_note(job, opts, read_stored)
    rsize, box = opts.target.plan(*head.size)
    need = budget.estimate(head.size, rsize, head.mode, budget.kind_of(opts.method, opts.screentone))
    return FilePlan(opts, note, head.size, rsize, box, need)


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

    why = not_screentone_page(img) if isinstance(img, Image.Image) else "16-bit colour"
    if why is None:
        return replace(opts, method="screentone"), None
    return (
        opts,
        f"{why}: resampled with {opts.method} (--screentone is for greyscale and bitonal pages without transparency)",
    )


def file_options(opts: Options, size: tuple[int, int], read_stored, src, fmt: str | None = None) -> Options:
    """``opts`` for one file of ``rescale down``/``up`` of upright ``size``: the method for the output
    format ``fmt`` (``down``, :func:`down_method`), or the recorded size, method and weights (``up``;
    ``read_stored()`` returns the file's :class:`Provenance` or None, called only then) filled in
    where not given, and the direction checked. Raises :class:`ImageError` with the reason otherwise.

    A size record is what a file says about itself, so before anything is allocated it must
    belong to this file (its LR size), name a known method, stay within the decompression-bomb
    limit (``max_pixels``, as the input's own size does) and, for a learned method, be a factor the
    method restores (:meth:`rescale.methods.Method.check_sizes`)."""
    if opts.direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {opts.direction!r}")
    target, method, weights = opts.target, opts.method, opts.weights
    if opts.direction == "up":
        stored = read_stored() if target is None or method is None else None
        if stored is not None and not (is_method(stored.method) or stored.method.lower() in filters.available()):
            raise ImageError(f"the recorded method {stored.method!r} is not a method of this rescale")
        method = method or (stored.method.lower() if stored else DEFAULT_UP_METHOD)
        if weights is None and stored is not None and stored.method.lower() == method:
            weights = stored.weights
        if target is None:
            if stored is None:
                raise ImageError(f"no original size stored in {src}; give --scale or --size")
            if stored.lr_size != size:
                raise ImageError(
                    f"the stored original size {stored.original_size[0]}x{stored.original_size[1]} belongs to a "
                    f"{stored.lr_size[0]}x{stored.lr_size[1]} image, but {src} is {size[0]}x{size[1]} "
                    "(changed since rescale down?); give --scale or --size"
                )
            _check_recorded_pixels(stored.original_size, opts.max_pixels)
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
    if opts.direction == "down" and method is None:
        method = down_method(fmt, size, (w, h))
    opts = replace(opts, target=target, method=method, weights=weights)
    if is_method(method):
        hr, lr = ((w, h), size) if opts.direction == "up" else (size, (w, h))
        try:
            method_of(opts).check_sizes(hr, lr)
        except ValueError as e:
            raise ImageError(f"{method} cannot rescale {hr[0]}x{hr[1]} <-> {lr[0]}x{lr[1]}: {e}") from None
    return opts


def _check_recorded_pixels(original: tuple[int, int], max_pixels: int | None) -> None:
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    w, h = original
    if limit and w * h > limit:
        raise ImageError(
            f"the recorded original size {w}x{h} = {w * h} pixels is over the decompression-bomb limit of "
            f"{limit}; raise it with --max-pixels if you trust the file"
        )


def method_of(opts: Options, device="cpu"):
    """The learned method ``opts.method`` (with ``opts.weights``) on ``device``, loaded once per
    process (:func:`rescale.methods.load_method`)."""
    params = {} if opts.weights is None else {"weights": opts.weights}
    return load_method(opts.method, device, **params)


def stored_provenance(text: dict, exif: bytes | None) -> Provenance | None:
    """The record of `rescale down` in a file's text chunks or EXIF; an ImageError if it is damaged."""
    try:
        return from_metadata(text, exif)
    except ProvenanceError as e:
        raise ImageError(str(e)) from None


def linear_light(opts: Options, icc: bytes | None) -> tuple[LinearOption, str | None]:
    """``linear=`` of :func:`rescale.rescale` for a file carrying the ICC profile ``icc`` (None:
    none, sRGB) under ``opts``, and a note for the report where the profile has no tone curves
    that can be used (it is resampled as sRGB then)."""
    if not opts.linear:
        return False, None
    if not icc:
        return True, None
    from ..transfer import SRGB, ICCError, curves_from_icc  # numpy: only when asked for

    try:
        curves = curves_from_icc(icc)
    except ICCError:
        curves = None
    if curves is None:
        return SRGB, "linear light as sRGB: the ICC profile has no tone curves that can be used"
    return icc, None


def resample_image(img, size: tuple[int, int], opts: Options, linear: LinearOption = False):
    """The one place pixels are resampled (a PIL image, or an NCHW tensor batch), through the public
    API: with a direction, a learned method's own :func:`rescale.down` / :func:`rescale.up`;
    otherwise :func:`rescale.rescale` with the method by name, so every registered filter and
    learned method works here; filters in linear light with ``linear`` (:func:`linear_light`)."""
    if is_method(opts.method):
        method = method_of(opts, getattr(img, "device", "cpu"))
        if opts.direction in DIRECTIONS:
            return (api.down if opts.direction == "down" else api.up)(img, size=size, method=method)
        return api.rescale(img, size=size, method=method)
    alpha = None
    if not isinstance(img, Image.Image):  # a 16-bit colour array, or a NCHW batch from the GPU path
        alpha = (img.shape[-1] if img.ndim == 3 else img.shape[1]) in (2, 4)
    return api.rescale(img, size=size, method=opts.method, antialias=opts.antialias, alpha=alpha, linear=linear)


def write_output(
    img: Image.Image,
    job: Job,
    meta: Metadata,
    opts: Options,
    provenance: Provenance | None = None,
    mark: str | None = None,
) -> Written:
    """Write ``img`` to ``job.dst`` (atomically, with ``meta`` and the in-place ``mark``), making
    its folder; or to stdout (``job.to_stdout``). With ``opts.strip`` no EXIF and no ICC profile
    are written (the DPI, the size record and the in-place mark are)."""
    if opts.strip:
        meta = Metadata(dpi=meta.dpi)
    if job.to_stdout:
        return write_image(img, job.dst, job.fmt, meta, opts.quality, provenance, stream=sys.stdout.buffer)
    job.dst.parent.mkdir(parents=True, exist_ok=True)
    return write_image(img, job.dst, job.fmt, meta, opts.quality, provenance, mark=mark, run=opts.run_id)


def reason_of(e: BaseException) -> str:
    """What a failed file's report says: the message of our own errors, the type for others."""
    if isinstance(e, ImageError):
        return str(e)
    return f"{type(e).__name__}: {e}"
