"""What ``rescale down`` records in the files it writes, so that ``rescale up FILE`` can restore the
original without being told its size.

A :class:`Provenance` is the original (upright) size, the method, the size the file was written
at (to notice a file edited since), when they were given the method's weights and, for JPEG and
WebP files, the quality. It is stored

- in PNG files as text chunks: ``rescale:original-size`` = ``"333x217"``, ``rescale:method`` =
  ``"irn"``, ``rescale:lr-size`` = ``"167x109"`` (and ``rescale:weights``);
- in JPEG, WebP and TIFF files in the EXIF ``UserComment`` tag (Exif IFD, 0x9286) as
  ``ASCII\\0\\0\\0`` followed by the JSON
  ``{"rescale": {"original_size": [333, 217], "method": "cairn", "lr_size": [167, 109], "quality": 90}}``
  (and ``"weights"``; ``quality`` only in JPEG and WebP files). Writing it replaces a comment the input
  had; the rest of the EXIF is kept.

A record is only what a file says about itself: ``rescale up`` checks it against the file's own
size, the method's range of factors and a memory budget before it allocates anything
(:func:`rescale.batch.job.file_options`).

A file with both has the text chunks read. ``rescale resize`` neither writes nor removes the
record (a JPEG's EXIF one passes to its outputs, which ``rescale up`` then finds out of date if
the size changed); ``rescale up`` leaves it out of its outputs.

>>> from rescale import provenance
>>> provenance.read("small.png")
Provenance(original_size=(333, 217), method='irn', lr_size=(167, 109), weights=None, quality=None)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from PIL import ExifTags, Image, PngImagePlugin

from .exif import load_exif
from .files import open_image

__all__ = ["Provenance", "ProvenanceError", "read", "from_metadata", "strip_exif"]

#: PNG text chunk keys.
ORIGINAL_SIZE_KEY, METHOD_KEY, LR_SIZE_KEY = "rescale:original-size", "rescale:method", "rescale:lr-size"
WEIGHTS_KEY = "rescale:weights"
#: A UserComment longer than this is nobody's record (and is not parsed).
_MAX_RECORD_CHARS = 4096
#: The EXIF character-code prefix of a UserComment in ASCII.
_ASCII = b"ASCII\0\0\0"


class ProvenanceError(ValueError):
    """A file carries rescale metadata that cannot be parsed."""


@dataclass(frozen=True)
class Provenance:
    """How a downscaled file was made.

    ``original_size``: ``(width, height)`` of the upright image ``rescale down`` read;
    ``method``: the method name (``rescale.methods.get_method``); ``lr_size``: ``(width, height)``
    of the file as written; ``weights``: the method's weights when they were given (``--weights``);
    ``quality``: the JPEG/WebP quality it was written at (None: lossless, or not recorded).
    """

    original_size: tuple[int, int]
    method: str
    lr_size: tuple[int, int]
    weights: str | None = None
    quality: int | None = None

    def to_json(self) -> dict:
        out = {"original_size": list(self.original_size), "method": self.method, "lr_size": list(self.lr_size)}
        return (
            out
            | ({"weights": self.weights} if self.weights is not None else {})
            | ({"quality": self.quality} if self.quality is not None else {})
        )

    def embed(self, params: dict, pil_format: str) -> dict:
        """``Image.save`` keyword arguments ``params`` with this record added: text chunks for
        PNG, the EXIF UserComment (keeping the other tags of ``params["exif"]``) for the rest."""
        params = dict(params)
        if pil_format == "PNG":
            info = PngImagePlugin.PngInfo()
            info.add_text(ORIGINAL_SIZE_KEY, _size_text(self.original_size))
            info.add_text(METHOD_KEY, self.method)
            info.add_text(LR_SIZE_KEY, _size_text(self.lr_size))
            if self.weights is not None:
                info.add_text(WEIGHTS_KEY, self.weights)
            params["pnginfo"] = info
            exif = strip_exif(params.pop("exif", None))  # no stale copy in the EXIF beside the chunks
        else:
            record = self.to_json()
            if pil_format in ("JPEG", "WEBP") and params.get("quality") is not None:
                record["quality"] = int(params["quality"])  # the quality this file is being written at
            exif = load_exif(params.get("exif"))
            exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = (
                _ASCII + json.dumps({"rescale": record}).encode()
            )
            exif = exif.tobytes()
        if exif:
            params["exif"] = exif
        return params


def read(path: str | os.PathLike) -> Provenance | None:
    """The record ``rescale down`` left in the image file ``path``, or ``None`` if it has none.

    Raises :class:`ProvenanceError` if the record is there but malformed."""
    with open_image(path) as im:
        text = {k: v for k, v in im.info.items() if isinstance(k, str) and isinstance(v, str)}
        exif = im.getexif()
        return from_metadata(text, exif if len(exif) else None)


def from_metadata(text: Mapping[str, str], exif: bytes | Image.Exif | None) -> Provenance | None:
    """The record in a file's text chunks ``text`` (``{key: value}``) or its EXIF, or ``None``."""
    if ORIGINAL_SIZE_KEY in text:
        try:
            return _checked(
                _parse_size(text[ORIGINAL_SIZE_KEY]),
                text.get(METHOD_KEY),
                _parse_size(text.get(LR_SIZE_KEY, "")),
                text.get(WEIGHTS_KEY),
            )
        except ValueError as e:
            raise ProvenanceError(f"malformed rescale metadata in the PNG text chunks: {e}") from None
    record = _exif_record(exif)
    if record is None:
        return None
    try:
        original, lr = _pair(record.get("original_size")), _pair(record.get("lr_size"))
        return _checked(original, record.get("method"), lr, record.get("weights"), record.get("quality"))
    except (ValueError, AttributeError) as e:
        raise ProvenanceError(f"malformed rescale metadata in the EXIF UserComment: {e}") from None


def strip_exif(exif: bytes | None) -> bytes | None:
    """EXIF bytes without a rescale record (other tags, and a comment of someone else, kept)."""
    if not exif:
        return exif
    loaded = load_exif(exif)
    try:
        ours = _exif_record(loaded) is not None
    except ProvenanceError:  # ours, but garbled: remove it all the same
        ours = True
    if not ours:
        return exif
    sub = loaded.get_ifd(ExifTags.IFD.Exif)
    del sub[ExifTags.Base.UserComment]
    if not sub:  # it held only the record
        del loaded[ExifTags.IFD.Exif]
    return loaded.tobytes() if len(loaded) else None


def _exif_record(exif) -> dict | None:
    """The ``"rescale"`` object of a JSON UserComment, or None if the comment is absent or not ours."""
    if exif is None:
        return None
    comment = load_exif(exif).get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.UserComment)
    if isinstance(comment, bytes):
        comment = comment[len(_ASCII) :] if comment.startswith(_ASCII) else comment
        comment = comment.decode("utf-8", "replace")
    if not isinstance(comment, str):
        return None
    comment = comment.strip("\0 ")
    if not comment.startswith("{") or len(comment) > _MAX_RECORD_CHARS:  # someone else's comment
        return None
    try:
        value = json.loads(comment)
    except (ValueError, RecursionError):  # someone else's free-text comment (deeply nested: not ours)
        return None
    if not isinstance(value, dict) or "rescale" not in value:
        return None
    record = value["rescale"]
    if not isinstance(record, dict):
        raise ProvenanceError(f"malformed rescale metadata in the EXIF UserComment: {comment!r}")
    return record


def _checked(original, method, lr, weights=None, quality=None) -> Provenance:
    if not isinstance(method, str) or not method:
        raise ValueError(f"the method must be a name, got {method!r}")
    if weights is not None and (not isinstance(weights, str) or not weights):
        raise ValueError(f"the weights must be a name or a path, got {weights!r}")
    if quality is not None and not (isinstance(quality, int) and not isinstance(quality, bool) and 1 <= quality <= 100):
        raise ValueError(f"the quality must be 1..100, got {quality!r}")
    return Provenance(original, method, lr, weights, quality)


def _size_text(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _parse_size(text: str) -> tuple[int, int]:
    parts = text.strip().lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"expected a size like 333x217, got {text!r}")
    return int(parts[0]), int(parts[1])


def _pair(value) -> tuple[int, int]:
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ValueError(f"expected a size [width, height], got {value!r}")
    return value[0], value[1]
