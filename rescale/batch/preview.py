"""``--dry-run``: what a job would do, from the file's headers and no pixel decoding, failing the
files the run would refuse, with the reason the run would give.

:func:`preview` applies every check :func:`rescale.batch.job.process_file` makes before it decodes
(the size guard, multi-frame files, ``rescale up``'s record, the memory budget, a mode the output
format cannot hold) and one it cannot make without decoding: whether the file holds all the data
its headers promise (:func:`truncation`), read from the structure of PNG, JPEG, TIFF and WebP files.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

from PIL import Image

from . import budget
from .files import ImageError, conversion_of, open_image, read_header
from .job import Job, Options, failed, joined, plan_file, reason_of
from .output import output_mode
from .result import Result

__all__ = ["preview", "truncation"]


def preview(job: Job, opts: Options) -> Result:
    """The ``"planned"`` :class:`Result` of ``job`` (sizes, output mode, conversions), or the
    ``"failed"`` one the run would give it."""
    size = None
    try:
        with open_image(job.source()) as im:
            cut = truncation(im.fp)
            if cut is not None:
                raise ImageError(cut)
            head = read_header(im, opts.max_pixels)
            size = head.size
            converted = conversion_of(im)
            plan = plan_file(job, opts, head)
            opts, rsize, box = plan.opts, plan.rsize, plan.box
            max_memory = budget.available_memory() if opts.max_memory is None else opts.max_memory
            budget.MemoryBudget(max_memory or 0).check(plan.need, plan.what)
            mode, written = output_mode(head.mode, job.fmt)
    except Exception as e:  # noqa: BLE001 - a file the run would refuse is a result, not an error
        return failed(job, reason_of(e), size=size)
    out_size = (box[2] - box[0], box[3] - box[1]) if box else rsize
    method = opts.method if opts.direction is not None else None
    return Result(
        job.name,
        str(job.src),
        str(job.dst),
        "planned",
        None,
        size,
        out_size,
        mode,
        joined(converted, written),
        0.0,
        method,
        plan.note,
    )


def truncation(f: BinaryIO) -> str | None:
    """Why the image file ``f`` (PNG, JPEG, TIFF or WebP) ends before its data does, from its
    structure alone; None when it is complete or of another format. ``f`` is left at its start.

    >>> import io
    >>> buf = io.BytesIO(); Image.new("L", (64, 64)).save(buf, "PNG")
    >>> truncation(io.BytesIO(buf.getvalue()[:-20]))
    'truncated: the file ends inside its IDAT chunk (no IEND chunk)'
    """
    f.seek(0)
    data = f.read()  # already in memory for stdin; for a file, the bytes the run reads anyway
    f.seek(0)
    for check in (_png, _jpeg, _tiff, _webp):
        why = check(data)
        if why is not False:
            return why
    return None


def _png(d: bytes) -> str | None | bool:
    if d[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    pos, kind = 8, b"the signature"
    while pos + 8 <= len(d):
        (length,), kind = struct.unpack_from(">I", d, pos), d[pos + 4 : pos + 8]
        if pos + 12 + length > len(d):
            break
        if kind == b"IEND":
            return None
        pos += 12 + length
    return f"truncated: the file ends inside its {kind.decode('latin-1')} chunk (no IEND chunk)"


def _jpeg(d: bytes) -> str | None | bool:
    if d[:3] != b"\xff\xd8\xff":
        return False
    # The end-of-image marker: FF D9 cannot occur inside entropy-coded data (FF is stuffed with 00).
    return None if d.rfind(b"\xff\xd9") > 2 else "truncated: the file ends before its end-of-image marker"


def _tiff(d: bytes) -> str | None | bool:
    if d[:4] not in (b"II*\x00", b"MM\x00*"):
        return False
    try:
        with Image.open(io.BytesIO(d)) as im:
            tags = im.tag_v2
            offsets = tags.get(273) or tags.get(324) or ()
            counts = tags.get(279) or tags.get(325) or ()
    except Exception:  # noqa: BLE001 - unreadable headers: the run says why
        return None
    end = max((o + c for o, c in zip(offsets, counts)), default=0)
    if end > len(d):
        return f"truncated: the file is {len(d)} bytes but its image data ends at byte {end}"
    return None


def _webp(d: bytes) -> str | None | bool:
    if d[:4] != b"RIFF" or d[8:12] != b"WEBP":
        return False
    (size,) = struct.unpack_from("<I", d, 4)
    if size + 8 > len(d):
        return f"truncated: the file is {len(d)} bytes but its header says {size + 8}"
    return None
