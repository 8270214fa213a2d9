"""In-place runs (``--in-place``): which files a run has already replaced, told by the files
themselves, so that an interrupted run can be finished without processing any file twice.

An in-place output replaces its own input under the same name, so "the output exists" says
nothing. Instead every file an in-place run writes carries a mark in its EXIF
(:func:`rescale.batch.exif.with_mark`, a private tag every output format holds):
``<signature> <width>x<height>``, where the signature is a hash of what the command does to a file
(:func:`signature`: the size rule, the method and its options, the format and quality, ``--strip``) and the
size is the size it wrote. The mark is part of the file, written in the same atomic rename as its
pixels, so there is no journal to lose and no moment at which a replaced file lacks its mark.

A file counts as done by a command (:func:`done_by`) when it carries that command's signature and
still has the size the mark records; a file edited since, or one processed by another command, is
an input like any other. Outputs never inherit a mark from their input.
"""

from __future__ import annotations

import hashlib
import json
import os

from .exif import read_mark
from .files import ImageError, open_image

__all__ = ["signature", "mark_text", "done_by"]

#: What of :class:`rescale.batch.Options` changes the file an in-place command writes.
_FIELDS = ("target", "method", "antialias", "quality", "direction", "screentone", "weights")


def signature(opts, fmt: str) -> str:
    """16 hex digits naming what ``opts`` (:class:`rescale.batch.Options`) do to a file written
    as ``fmt``; the same for the same command line, in any process and any later version."""
    fields = {name: repr(getattr(opts, name, None)) for name in _FIELDS} | {"format": fmt, "mark": 1}
    # Options added since marks were first written count only when used, so older marks still match.
    if getattr(opts, "linear", False):
        fields["linear"] = "True"
    if opts.target is not None and not opts.target.enlarge:
        fields["enlarge"] = "False"
    if getattr(opts, "strip", False):
        fields["strip"] = "True"
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def mark_text(sig: str, size: tuple[int, int]) -> str:
    """The mark of a file written by the command ``sig`` at ``size`` ``(width, height)``."""
    return f"{sig} {size[0]}x{size[1]}"


def done_by(path: str | os.PathLike, sig: str) -> bool:
    """Whether ``path`` is a file the in-place command ``sig`` has already written (and nobody has
    resized since). Unreadable files are not done (their own run will say why)."""
    try:
        with open_image(path) as im:
            exif, size = im.getexif(), im.size
    except (ImageError, OSError, SyntaxError, ValueError):
        return False
    return read_mark(exif) == mark_text(sig, size)
