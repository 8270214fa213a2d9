"""Output files of the batch tool: the image's mode fitted to what the format holds (each change
said in the file's report), the metadata kept, written atomically or to a stream (stdout).

What each format holds (:func:`output_mode`):

- PNG: every kept mode but F (32-bit float is refused: use TIFF); 16-bit RGB and RGBA are written
  with 16 bits (:mod:`rescale.batch.deep`);
- TIFF: every kept mode (LZW-compressed, or uncompressed when the EXIF has sub-IFDs, which Pillow's
  LZW writer cannot write; 16-bit colour: deflate);
- JPEG: 8-bit L and RGB: alpha is flattened onto white, 16 bits are rounded to 8;
- WebP: 8-bit RGB and RGBA: greyscale becomes RGB, 16 bits are rounded to 8.

A JPEG's EXIF holds at most 64 KB, so the biggest tags of a larger one are left out, with a note.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from PIL import Image

from .atomic import atomic_write
from .exif import JPEG_EXIF_LIMIT, JPEG_EXIF_RESERVE, fit_jpeg_exif, has_sub_ifd, kept_exif, with_mark
from .files import DEEP_MODES, FORMATS, ImageError, Metadata

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Written", "DEFAULT_QUALITY", "mode_of", "output_mode", "write_image"]

DEFAULT_QUALITY = 90

_NO_ALPHA = "no alpha: flattened onto white"
#: (mode, format) -> (mode written, why) for the modes a format does not hold.
_CHANGES = {
    ("LA", "JPEG"): ("L", f"JPEG has {_NO_ALPHA}"),
    ("RGBA", "JPEG"): ("RGB", f"JPEG has {_NO_ALPHA}"),
    ("I;16", "JPEG"): ("L", "JPEG holds 8 bits"),
    ("RGB;16", "JPEG"): ("RGB", "JPEG holds 8 bits"),
    ("RGBA;16", "JPEG"): ("RGB", f"JPEG holds 8 bits and {_NO_ALPHA}"),
    ("L", "WEBP"): ("RGB", "WebP has no greyscale"),
    ("LA", "WEBP"): ("RGBA", "WebP has no greyscale"),
    ("I;16", "WEBP"): ("RGB", "WebP holds 8 bits and no greyscale"),
    ("RGB;16", "WEBP"): ("RGB", "WebP holds 8 bits"),
    ("RGBA;16", "WEBP"): ("RGBA", "WebP holds 8 bits"),
}


@dataclass(frozen=True)
class Written:
    """What :func:`write_image` wrote."""

    size: tuple[int, int]  # (width, height)
    mode: str  # the mode of the file written (the image's, fitted to the format)
    converted: str | None = None  # e.g. "RGBA -> RGB (JPEG has no alpha: flattened onto white)"
    note: str | None = None  # metadata that had to be left out, for the file's report


def mode_of(img: Image.Image | np.ndarray) -> str:
    """The mode of a PIL image, or of a 16-bit colour array (``"RGB;16"`` / ``"RGBA;16"``)."""
    if isinstance(img, Image.Image):
        return img.mode
    if str(img.dtype) == "uint16" and img.ndim == 3 and img.shape[2] in (3, 4):
        return DEEP_MODES[img.shape[2] - 3]
    raise TypeError(f"expected a PIL image or a uint16 HxWx3/4 array, got {img.dtype} {img.shape}")


def output_mode(mode: str, fmt: str) -> tuple[str, str | None]:
    """``(mode written, conversion)`` for an image of ``mode`` written as ``fmt`` (a key of
    :data:`rescale.batch.files.FORMATS`): the conversion says what changes and why, None when the
    mode is kept. :class:`rescale.batch.files.ImageError` for a mode the format cannot take.

    >>> output_mode("RGBA", "jpg")
    ('RGB', 'RGBA -> RGB (JPEG has no alpha: flattened onto white)')
    """
    pil_format = FORMATS[fmt][0]
    if mode == "F" and pil_format != "TIFF":
        raise ImageError("32-bit float images can only be written as TIFF (use --format tiff)")
    if (mode, pil_format) not in _CHANGES:
        return mode, None
    new, why = _CHANGES[mode, pil_format]
    return new, f"{mode} -> {new} ({why})"


def write_image(
    img: Image.Image | np.ndarray,
    dest: Path,
    fmt: str,
    meta: Metadata,
    quality: int | None = None,
    provenance=None,
    *,
    mark: str | None = None,
    run: str = "",
    stream: BinaryIO | None = None,
) -> Written:
    """Write ``img`` (a PIL image, or a 16-bit colour array) to ``dest`` as ``fmt`` (a key of
    :data:`rescale.batch.files.FORMATS`), atomically, with ``meta`` and, when given, a
    :class:`rescale.batch.provenance.Provenance` record (``rescale down``) and the mark of an
    in-place run (:func:`rescale.batch.exif.with_mark`). ``run`` names the temporary file's run
    (:mod:`rescale.batch.atomic`). With ``stream``, the file goes there instead of to ``dest``.
    """
    pil_format = FORMATS[fmt][0]
    mode, converted = output_mode(mode_of(img), fmt)
    img = _fitted(img, mode)
    size = img.size if isinstance(img, Image.Image) else (img.shape[1], img.shape[0])
    params: dict = {}
    if meta.icc_profile and not (pil_format == "WEBP" and mode in ("L", "LA")):  # WebP makes those RGB
        params["icc_profile"] = meta.icc_profile
    exif = kept_exif(meta.exif, size) if meta.exif else None
    note = None
    if exif and pil_format == "JPEG":
        exif, note = fit_jpeg_exif(exif, JPEG_EXIF_LIMIT - JPEG_EXIF_RESERVE)
    if exif:
        params["exif"] = exif
    if meta.dpi:
        params["dpi"] = meta.dpi
    if pil_format in ("JPEG", "WEBP"):
        params["quality"] = DEFAULT_QUALITY if quality is None else quality
    if provenance is not None:
        params = provenance.embed(params, pil_format)
    if mark is not None:
        params["exif"] = with_mark(params.get("exif"), mark)
    if pil_format == "TIFF":
        # Pillow's LZW (libtiff) writer fails on EXIF sub-IFDs (camera tags, GPS, rescale's
        # record): such files are written uncompressed by Pillow's own writer, which keeps them.
        params["compression"] = "raw" if has_sub_ifd(params.get("exif")) else "tiff_lzw"
    if isinstance(img, Image.Image):
        buf = io.BytesIO()
        img.save(buf, format=pil_format, **params)
        data = buf.getbuffer()
    else:
        from .deep import encode_deep

        data = encode_deep(img, pil_format, **params)
    if stream is None:
        atomic_write(data, dest, run)
    else:
        stream.write(data)
        stream.flush()
    return Written(size, mode, converted, note)


def _fitted(img: Image.Image | np.ndarray, mode: str) -> Image.Image | np.ndarray:
    """``img`` in ``mode`` (:func:`output_mode`); WebP's greyscale is left to Pillow, which makes
    it RGB(A) itself."""
    old = mode_of(img)
    if old == mode or mode in ("RGB", "RGBA") and old in ("L", "LA"):
        return img
    import numpy as np  # here only: a plain resize of a photo need not import numpy

    arr = np.asarray(img)
    if arr.dtype == np.uint16:
        arr = ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)  # round(v / 257)
    if old.split(";")[0].endswith("A") and not mode.endswith("A"):  # alpha dropped
        color, alpha = arr[..., :-1].astype(np.uint32), arr[..., -1:].astype(np.uint32)
        arr = ((color * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)  # like Pillow's blend
    return Image.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr)
