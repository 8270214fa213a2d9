"""Image files in and out for the batch tool: decoding to a mode ``rescale()`` resamples, keeping the
metadata worth keeping, and writing atomically.

Reading (:func:`read_image`):

- the EXIF orientation is applied to the pixels and removed from the EXIF kept for the output;
- the ICC profile, the EXIF block and the DPI are kept (:class:`Metadata`);
- modes L, LA, RGB, RGBA, I;16 (16-bit grey) and F are kept. Others are converted: 1 -> L,
  P/PA -> RGBA when the palette has transparency else RGB, CMYK -> RGB (through the embedded ICC
  profile when there is one, which is then replaced by sRGB), YCbCr/LAB/HSV/RGBX -> RGB,
  I;16B/I;16L -> I;16, I (32-bit) -> I;16 when its values fit, else an error. Pillow itself
  reads 16-bit RGB PNGs as 8-bit RGB;
- multi-frame files (animated GIF/PNG/WebP, multi-page TIFF) are refused with a clear error rather
  than silently cut to their first frame. MPO files (phone JPEGs with extra preview or depth
  frames) are read as their first, primary image;
- files larger than ``max_pixels`` (default: Pillow's ``MAX_IMAGE_PIXELS``) are refused before
  their pixels are decoded: the decompression-bomb guard.

Writing (:func:`write_image`) fits the mode to what the format can hold: JPEG has no alpha (LA and
RGBA are flattened onto white) and no 16 bits (I;16 -> L, rounded); WebP is RGB/RGBA (Pillow turns
L/LA into RGB/RGBA); PNG has no float (F is refused); TIFF holds every mode (LZW-compressed, or
uncompressed when the EXIF has sub-IFDs, which Pillow's LZW writer cannot write); a JPEG's EXIF
holds at most 64 KB, so the biggest tags of a larger one are left out, with a note. The file is
written atomically (:mod:`rescale.batch.atomic`).

Only regular files are read: a FIFO, a device or a socket named like an image would block the run
or never end, so it is refused (:func:`open_file`), as is a symbolic link loop.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import ExifTags, Image, ImageCms, ImageOps

from .atomic import atomic_save
from .exif import JPEG_EXIF_LIMIT, JPEG_EXIF_RESERVE, fit_jpeg_exif, has_sub_ifd, kept_exif, with_mark

__all__ = [
    "ImageError",
    "Metadata",
    "Decoded",
    "Header",
    "Written",
    "FORMATS",
    "open_file",
    "open_image",
    "read_header",
    "read_image",
    "write_image",
    "upright_size",
]

#: Output formats by the name the CLI takes: (Pillow format, file suffix).
FORMATS = {"png": ("PNG", ".png"), "jpg": ("JPEG", ".jpg"), "webp": ("WEBP", ".webp"), "tiff": ("TIFF", ".tiff")}
#: Suffixes of inputs whose format is kept when no output format is asked for (others become PNG).
KEEP_SUFFIXES = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp", ".tif": "tiff", ".tiff": "tiff"}
DEFAULT_QUALITY = 90

KEPT_MODES = ("L", "LA", "RGB", "RGBA", "I;16", "F")
_TO_RGB = ("CMYK", "YCbCr", "LAB", "HSV", "RGBX")


class ImageError(ValueError):
    """A file that cannot be processed; the message says why (and is shown next to the path)."""


@dataclass(frozen=True)
class Metadata:
    """What the output keeps of the input besides its pixels (all picklable)."""

    icc_profile: bytes | None = None
    exif: bytes | None = None  # orientation already removed
    dpi: tuple[float, float] | None = None


@dataclass
class Decoded:
    image: Image.Image  # in one of KEPT_MODES, upright
    meta: Metadata
    converted: str | None = None  # e.g. "P -> RGBA", None when the mode was kept
    text: dict[str, str] = field(default_factory=dict)  # text chunks (PNG), where rescale.batch.provenance looks
    size: tuple[int, int] | None = None  # upright size of the file (``image`` may be smaller: ``reduce_to``)


@dataclass(frozen=True)
class Header:
    """What a file says about itself before its pixels are decoded (:func:`read_header`)."""

    size: tuple[int, int]  # upright (width, height)
    mode: str  # the mode it decodes to, one of KEPT_MODES
    text: dict[str, str]  # text chunks before the pixel data (PNG), where rescale.batch.provenance looks
    exif: Image.Exif | None


def read_image(path: str | os.PathLike, max_pixels: int | None = None, reduce_for=None) -> Decoded:
    """Decode ``path`` fully, upright, in a mode that ``rescale()`` resamples.

    ``reduce_for(w, h)``, given the upright size, returns the size the image will be resampled to
    (or None): a JPEG is then decoded reduced in the DCT domain (``--fast-decode``, see
    :data:`DRAFT_GAP`); ``Decoded.size`` stays the file's own size.

    ``max_pixels`` (default Pillow's ``Image.MAX_IMAGE_PIXELS``; 0 for no limit) refuses larger
    images before their pixels are decoded. Raises :class:`ImageError` with a short reason for files
    that cannot be read.
    """
    with open_image(path) as im:
        head = read_header(im, max_pixels)
        return decode(im, None if reduce_for is None else reduce_for(*head.size))


@contextlib.contextmanager
def open_image(path: str | os.PathLike) -> Iterator[Image.Image]:
    """The image file ``path`` opened by Pillow, its headers read and its pixels not yet decoded
    (no size guard yet: :func:`read_header` applies it). :class:`ImageError` if it cannot be."""
    f = open_file(path)
    try:
        with _pillow_errors(), _OPEN_LOCK:
            # Pillow's own size guard reads a global limit: read_header applies its own, per call,
            # so threads with different limits do not race.
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                im = Image.open(f)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
        with im:
            yield im
    finally:
        f.close()


def open_file(path: str | os.PathLike):
    """``path`` opened for binary reading, if it is a regular file (symbolic links followed).

    A FIFO, a device, a socket or a folder is an :class:`ImageError` (opening a FIFO for reading
    would wait for a writer forever: the file is opened non-blocking and checked before any read).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ImageError("file not found") from None
    except PermissionError:
        raise ImageError("permission denied") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ImageError("symbolic link loop (or too many levels of links)") from None
        raise ImageError(f"cannot open: {e.strerror}") from None
    try:
        kind = _file_kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise ImageError(f"not a regular file but {kind}: only image files are read")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _file_kind(mode: int) -> str | None:
    """None for a regular file, else what it is."""
    if stat.S_ISREG(mode):
        return None
    for test, kind in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "a special file"


@contextlib.contextmanager
def _pillow_errors() -> Iterator[None]:
    """Pillow's errors for unreadable files as :class:`ImageError` s with a short reason."""
    try:
        yield
    except ImageError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageError("not an image file Pillow can read (corrupt or unknown format)") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as e:
        # Pillow reports truncated and corrupt data as OSError (and a few plugins as others).
        raise ImageError(f"corrupt or truncated: {e}") from None


def read_header(im: Image.Image, max_pixels: int | None = None) -> Header:
    """The :class:`Header` of an image from :func:`open_image`, refusing images over ``max_pixels``
    (as :func:`read_image`) and multi-frame ones."""
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    w, h = im.size
    if limit and w * h > limit:
        raise ImageError(
            f"too large (decompression-bomb guard): {w}x{h} = {w * h} pixels, over the limit of {limit}; "
            "raise it with --max-pixels if you trust the file"
        )
    with _pillow_errors():
        frames = getattr(im, "n_frames", 1)
        if frames > 1 and im.format != "MPO":
            raise ImageError(
                f"{im.format} with {frames} frames: multi-frame images are not supported "
                "(extract the frame you want first)"
            )
        exif = im.getexif()
    size = (h, w) if exif.get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8) else (w, h)
    text = {k: v for k, v in im.info.items() if isinstance(k, str) and isinstance(v, str)}
    return Header(size, _kept_mode_of(im), text, exif if len(exif) else None)


def decode(im: Image.Image, reduce_to: tuple[int, int] | None = None) -> Decoded:
    """The pixels of an image from :func:`open_image`, upright and in one of the kept modes; a JPEG
    decoded reduced in the DCT domain towards the upright size ``reduce_to`` when given (see
    :data:`DRAFT_GAP`)."""
    full = (im.height, im.width) if im.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8) else im.size
    with _pillow_errors():
        if reduce_to is not None and im.format == "JPEG":
            _draft(im, full, reduce_to)
        im.load()
        upright = ImageOps.exif_transpose(im, in_place=True) or im
        icc = upright.info.get("icc_profile") or None
        image, converted, icc = _to_kept_mode(upright, icc)
    exif = upright.getexif()
    dpi = upright.info.get("dpi")
    meta = Metadata(icc, exif.tobytes() if len(exif) else None, tuple(float(v) for v in dpi) if dpi else None)
    text = {k: v for k, v in upright.info.items() if isinstance(k, str) and isinstance(v, str)}
    return Decoded(image, meta, converted, text, full)


#: ``--fast-decode``: JPEGs are decoded reduced by 2, 4 or 8 in the DCT domain down to no less than
#: this many times the target size (Pillow's ``thumbnail`` default), then resampled exactly. Against
#: a full decode: 45-47 dB PSNR on BSD100 and manga pages at 1/8-1/16 (docs/startup.md).
DRAFT_GAP = 2


def _draft(im: Image.Image, full: tuple[int, int], target: tuple[int, int]) -> None:
    """Have the JPEG decoder shrink ``im`` (upright size ``full``) in the DCT domain, keeping at
    least :data:`DRAFT_GAP` times the upright ``target`` size."""
    want = (target[0] * DRAFT_GAP, target[1] * DRAFT_GAP)
    if full != im.size:  # stored sideways: the decoder's axes are swapped
        want = want[::-1]
    im.draft(im.mode, want)


def upright_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of ``path`` once its EXIF orientation is applied, from the headers only."""
    with open_image(path) as im:
        return read_header(im, 0).size


_OPEN_LOCK = threading.Lock()


def _kept_mode_of(im: Image.Image) -> str:
    """The mode :func:`decode` gives ``im`` (:func:`_to_kept_mode`), from its headers."""
    mode = im.mode
    if mode in KEPT_MODES:
        return mode
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA")
        return "RGBA" if has_alpha else "RGB"
    return {"1": "L", "I;16B": "I;16", "I;16L": "I;16", "I;16N": "I;16", "I": "I;16", "La": "LA", "RGBa": "RGBA"}.get(
        mode, "RGB"
    )


def _to_kept_mode(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, str | None, bytes | None]:
    mode = im.mode
    if mode in KEPT_MODES:
        return im, None, icc
    if mode == "1":
        out = im.convert("L")
    elif mode in ("P", "PA"):
        out = im.convert(_kept_mode_of(im))
    elif mode == "CMYK" and icc:
        try:
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            out = ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(icc)), srgb, outputMode="RGB")
            return out, "CMYK -> RGB (through its ICC profile)", srgb.tobytes()
        except ImageCms.PyCMSError:
            out, icc = im.convert("RGB"), None
    elif mode in _TO_RGB:
        out, icc = im.convert("RGB"), None if mode == "CMYK" else icc
    elif mode in ("I;16B", "I;16L", "I;16N"):
        import numpy as np  # here only: a plain resize of a photo need not import numpy

        out = Image.fromarray(np.asarray(im).astype(np.uint16))
    elif mode == "I":
        import numpy as np

        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ImageError("32-bit integer image with values outside 0..65535 is not supported")
        out = Image.fromarray(arr.astype(np.uint16))
    elif mode in ("La", "RGBa"):
        out = im.convert(mode.upper())
    else:
        raise ImageError(f"unsupported image mode {mode!r}")
    return out, f"{mode} -> {out.mode}", icc


def output_format(src: Path, fmt: str | None) -> tuple[str, str]:
    """``(cli format name, suffix)`` of the output for input ``src``: ``fmt`` when given, else the
    input's own format for PNG/JPEG/WebP/TIFF (keeping its suffix spelling), else PNG."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")
        return fmt, FORMATS[fmt][1]
    suffix = src.suffix.lower()
    if suffix in KEEP_SUFFIXES:
        return KEEP_SUFFIXES[suffix], src.suffix
    return "png", ".png"


@dataclass(frozen=True)
class Written:
    """What :func:`write_image` wrote."""

    image: Image.Image  # the image as written (its mode fitted to the format)
    note: str | None = None  # metadata that had to be left out, for the file's report


def write_image(
    img: Image.Image,
    dest: Path,
    fmt: str,
    meta: Metadata,
    quality: int | None = None,
    provenance=None,
    *,
    mark: str | None = None,
    run: str = "",
) -> Written:
    """Write ``img`` to ``dest`` as ``fmt`` (a key of :data:`FORMATS`), atomically, with ``meta``
    and, when given, a :class:`rescale.batch.provenance.Provenance` record (``rescale down``) and the
    mark of an in-place run (:func:`rescale.batch.exif.with_mark`). ``run`` names the temporary file's run
    (:mod:`rescale.batch.atomic`).
    """
    pil_format = FORMATS[fmt][0]
    img = _fit_mode(img, pil_format)
    params: dict = {}
    if meta.icc_profile and not (pil_format == "WEBP" and img.mode in ("L", "LA")):  # WebP makes those RGB
        params["icc_profile"] = meta.icc_profile
    exif = kept_exif(meta.exif, img.size) if meta.exif else None
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
    atomic_save(img, dest, pil_format, run=run, **params)
    return Written(img, note)


def _fit_mode(img: Image.Image, pil_format: str) -> Image.Image:
    mode = img.mode
    if mode == "F" and pil_format != "TIFF":
        raise ImageError("32-bit float images can only be written as TIFF (use --format tiff)")
    if pil_format == "JPEG" or (pil_format == "WEBP" and mode == "I;16"):
        if mode == "I;16":
            import numpy as np

            arr = np.asarray(img).astype(np.uint32)
            return Image.fromarray(((arr * 255 + 32767) // 65535).astype(np.uint8))  # round(v / 257)
        if mode in ("LA", "RGBA"):
            return _flatten_on_white(img)
    return img


def _flatten_on_white(img: Image.Image) -> Image.Image:
    """Composite an LA/RGBA image onto white (JPEG has no alpha), rounding like Pillow's blend."""
    import numpy as np

    arr = np.asarray(img).astype(np.uint32)
    color, alpha = arr[..., :-1], arr[..., -1:]
    out = (color * alpha + 255 * (255 - alpha) + 127) // 255
    out = out.astype(np.uint8)
    return Image.fromarray(out[..., 0] if out.shape[-1] == 1 else out)
