"""The EXIF an output keeps of its input's, and what rescale adds to it.

- :func:`kept_exif`: the input's EXIF without what describes the old pixel data (TIFF layout tags),
  with the pixel-dimension tags set to the new size, and without an in-place mark;
- :func:`fit_jpeg_exif`: a JPEG holds at most 64 KB of EXIF; the biggest tags of a larger one
  (usually a maker note) are left out, with a note naming them;
- :func:`with_mark` / :func:`read_mark`: the mark an in-place run leaves in each file it replaced
  (:mod:`rescale.batch.inplace`), a private tag of the first IFD, which every format here holds.
"""

from __future__ import annotations

from PIL import ExifTags, Image

__all__ = [
    "IN_PLACE_TAG",
    "IN_PLACE_PREFIX",
    "JPEG_EXIF_LIMIT",
    "JPEG_EXIF_RESERVE",
    "load_exif",
    "kept_exif",
    "has_sub_ifd",
    "fit_jpeg_exif",
    "with_mark",
    "read_mark",
]

#: The EXIF tag (IFD0, in the private range) holding the mark of an in-place run
#: (:mod:`rescale.batch.inplace`), whose value starts with :data:`IN_PLACE_PREFIX`. Outputs never
#: inherit it from their input (:func:`kept_exif`): only an in-place write sets it.
IN_PLACE_TAG = 0xFDE9
IN_PLACE_PREFIX = "rescale in-place "
#: Most bytes of EXIF (Pillow's, with its b"Exif\0\0" header) a JPEG holds: one APP1 segment.
JPEG_EXIF_LIMIT = 65533
#: Room left in a JPEG's EXIF for what rescale adds to the kept tags (the size record, the in-place mark).
JPEG_EXIF_RESERVE = 1024


#: Tags of a TIFF's first IFD (which Pillow reads as its EXIF) that describe the old pixel data, not
#: the picture: the writer makes its own, and stale ones break it (e.g. a size that no longer fits).
_TIFF_LAYOUT_TAGS = (
    254,
    255,
    256,
    257,
    258,
    259,
    262,
    266,
    273,
    277,
    278,
    279,
    284,
    317,
    320,
    322,
    323,
    324,
    325,
    338,
    339,
    340,
    341,
    347,
    530,
    531,
    532,
    34675,
)


def kept_exif(exif_bytes: bytes, size: tuple[int, int]) -> bytes | None:
    """The kept EXIF with its pixel-dimension tags (when present) set to the new size, no TIFF
    layout tags and no in-place mark; None when nothing is left."""
    exif = load_exif(exif_bytes)
    for tag in _TIFF_LAYOUT_TAGS:
        exif.pop(tag, None)
    if read_mark(exif) is not None:  # only an in-place write sets it
        del exif[IN_PLACE_TAG]
    if ExifTags.IFD.Exif in exif:  # (get_ifd would add an empty one)
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        if ExifTags.Base.ExifImageWidth in sub:
            sub[ExifTags.Base.ExifImageWidth] = size[0]
        if ExifTags.Base.ExifImageHeight in sub:
            sub[ExifTags.Base.ExifImageHeight] = size[1]
    return exif.tobytes() if len(exif) else None


def has_sub_ifd(exif_bytes: bytes | None) -> bool:
    if not exif_bytes:
        return False
    exif = load_exif(exif_bytes)
    return ExifTags.IFD.Exif in exif or ExifTags.IFD.GPSInfo in exif


def fit_jpeg_exif(exif_bytes: bytes, limit: int = JPEG_EXIF_LIMIT) -> tuple[bytes | None, str | None]:
    """EXIF bytes of at most ``limit`` bytes, the biggest tags left out until they fit, and a note
    naming them (None when nothing was left out). A JPEG holds at most :data:`JPEG_EXIF_LIMIT`."""
    if len(exif_bytes) <= limit:
        return exif_bytes, None
    exif = load_exif(exif_bytes)
    ifds = {None: exif} | {k: exif.get_ifd(k) for k in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo) if k in exif}
    candidates = sorted(
        ((_value_size(v), key, tag) for key, ifd in ifds.items() for tag, v in ifd.items() if tag not in ifds),
        key=lambda c: c[0],
        reverse=True,
    )
    left_out, data = [], exif_bytes
    for _, key, tag in candidates:
        del ifds[key][tag]
        left_out.append(ExifTags.TAGS.get(tag, f"tag {tag:#06x}"))
        data = exif.tobytes() if len(exif) else b""
        if len(data) <= limit:
            break
    note = (
        f"its EXIF ({len(exif_bytes)} bytes) is more than a JPEG holds ({JPEG_EXIF_LIMIT} bytes): "
        f"left out {', '.join(left_out)}"
    )
    return data or None, note


def _value_size(value) -> int:
    if isinstance(value, (bytes, str)):
        return len(value)
    return 8 * len(value) if isinstance(value, tuple) else 8


def load_exif(exif: bytes | Image.Exif | None) -> Image.Exif:
    """EXIF bytes (or an already loaded one, returned as it is) as an ``Image.Exif``."""
    if isinstance(exif, Image.Exif):
        return exif
    loaded = Image.Exif()
    if exif:
        loaded.load(exif)
    return loaded


def with_mark(exif_bytes: bytes | None, text: str) -> bytes:
    """EXIF bytes with the in-place mark ``text`` (after :data:`IN_PLACE_PREFIX`) set."""
    exif = load_exif(exif_bytes)
    exif[IN_PLACE_TAG] = IN_PLACE_PREFIX + text
    return exif.tobytes()


def read_mark(exif: bytes | Image.Exif | None) -> str | None:
    """The in-place mark of a file's EXIF (the text after :data:`IN_PLACE_PREFIX`), or None."""
    value = load_exif(exif).get(IN_PLACE_TAG) if exif else None
    return value[len(IN_PLACE_PREFIX) :] if isinstance(value, str) and value.startswith(IN_PLACE_PREFIX) else None
