"""Image files read by the batch tool: decoding to a mode ``rescale()`` resamples, keeping the
metadata worth keeping (writing them is :mod:`rescale.batch.output`).

Reading (:func:`read_image`):

- the EXIF orientation is applied to the pixels and removed from the EXIF kept for the output;
- the ICC profile, the EXIF block and the DPI are kept (:class:`Metadata`);
- modes L, LA, RGB, RGBA, I;16 (16-bit grey) and F are kept, and so are 16-bit RGB and RGBA
  (PNG, TIFF), which Pillow reads as 8-bit: they are decoded as uint16 arrays of mode RGB;16 or
  RGBA;16 (:func:`deep_mode`, :mod:`rescale.batch.deep`). Others are converted, and the
  conversion is reported (``Decoded.converted``): 1 -> L, P/PA -> RGBA when the palette has
  transparency else RGB, CMYK -> RGB (through the embedded ICC profile when there is one, which is
  then replaced by sRGB), YCbCr/LAB/HSV/RGBX -> RGB, I;16B/I;16L -> I;16, I (32-bit) -> I;16 when
  its values fit, else an error; 16-bit grey with alpha is read as 8-bit LA (Pillow's);
- multi-frame files (animated GIF/PNG/WebP, multi-page TIFF) are refused with a clear error rather
  than silently cut to their first frame. MPO files (phone JPEGs with extra preview or depth
  frames) are read as their first, primary image;
- files larger than ``max_pixels`` (default: Pillow's ``MAX_IMAGE_PIXELS``) are refused before
  their pixels are decoded: the decompression-bomb guard.

Only regular files are read: a FIFO, a device or a socket named like an image would block the run
or never end, so it is refused (:func:`open_file`), as is a symbolic link loop.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from PIL import ExifTags, Image, ImageCms, ImageOps

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ImageError",
    "Metadata",
    "Decoded",
    "Header",
    "FORMATS",
    "KEPT_MODES",
    "DEEP_MODES",
    "open_file",
    "open_image",
    "read_header",
    "read_image",
    "decode",
    "deep_mode",
    "conversion_of",
    "bands_of",
    "output_format",
]

#: Output formats by the name the CLI takes: (Pillow format, file suffix).
FORMATS = {"png": ("PNG", ".png"), "jpg": ("JPEG", ".jpg"), "webp": ("WEBP", ".webp"), "tiff": ("TIFF", ".tiff")}
#: Suffixes of inputs whose format is kept when no output format is asked for (others become PNG).
KEEP_SUFFIXES = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp", ".tif": "tiff", ".tiff": "tiff"}
#: Modes of 16-bit colour images, which Pillow has none for: uint16 ``HxWxC`` arrays (rescale.batch.deep).
DEEP_MODES = ("RGB;16", "RGBA;16")
KEPT_MODES = ("L", "LA", "RGB", "RGBA", "I;16", "F", *DEEP_MODES)
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
    image: Image.Image | np.ndarray  # in one of KEPT_MODES, upright (DEEP_MODES: a uint16 HxWxC array)
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
def open_image(source: str | os.PathLike | BinaryIO) -> Iterator[Image.Image]:
    """The image file ``source`` (a path, or a binary file object such as the bytes of stdin)
    opened by Pillow, its headers read and its pixels not yet decoded (no size guard yet:
    :func:`read_header` applies it). :class:`ImageError` if it cannot be."""
    f = source if hasattr(source, "read") else open_file(source)
    try:
        with _pillow_open(f) as im:
            # Now, while Pillow's tiles still say how samples are stored: reading a PNG's EXIF
            # (read_header) loads its pixels and clears them.
            setattr(im, _DEPTH, _depth_of(im, f))
            yield im
    finally:
        if f is not source:
            f.close()


def _pillow_open(f: BinaryIO) -> Image.Image:
    with _pillow_errors(), _OPEN_LOCK:
        # Pillow's own size guard reads a global limit: read_header applies its own, per call,
        # so threads with different limits do not race.
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return Image.open(f)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


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
        exif = _png_exif(im) if im.format == "PNG" and "exif" not in im.info else None
        if exif is None:
            exif = im.getexif()
    size = (h, w) if exif.get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8) else (w, h)
    text = {k: v for k, v in im.info.items() if isinstance(k, str) and isinstance(v, str)}
    return Header(size, _kept_mode_of(im), text, exif if len(exif) else None)


def _png_exif(im: Image.Image) -> Image.Exif | None:
    """The EXIF of a PNG whose eXIf chunk comes after the image data, found by walking the chunks:
    Pillow's ``getexif`` decodes the whole image to reach it, before the run has reserved the
    memory. None where the file cannot be walked (Pillow's way is then used)."""
    fp = getattr(im, "fp", None)
    if fp is None:
        return None
    exif = Image.Exif()
    try:
        where = fp.tell()
        try:
            fp.seek(8)  # after the signature
            while len(head := fp.read(8)) == 8:
                length, kind = int.from_bytes(head[:4], "big"), head[4:]
                if kind == b"eXIf":
                    exif.load(fp.read(length))
                    break
                if kind == b"IEND":
                    break
                fp.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
        finally:
            fp.seek(where)
    except (OSError, ValueError, SyntaxError):
        return None
    return exif


def decode(im: Image.Image, reduce_to: tuple[int, int] | None = None) -> Decoded:
    """The pixels of an image from :func:`open_image`, upright and in one of the kept modes; a JPEG
    decoded reduced in the DCT domain towards the upright size ``reduce_to`` when given (see
    :data:`DRAFT_GAP`)."""
    full = (im.height, im.width) if im.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8) else im.size
    depth = _depth(im)
    with _pillow_errors():
        low = _low_bytes(depth.source) if depth.deep else None
        if reduce_to is not None and im.format == "JPEG":
            _draft(im, full, reduce_to)
        im.load()
        upright = ImageOps.exif_transpose(im, in_place=True) or im
        icc = upright.info.get("icc_profile") or None
        if low is not None:
            from .deep import join_bytes  # numpy: only for 16-bit colour files

            image, converted = join_bytes(upright, ImageOps.exif_transpose(low)), None
        else:
            image, converted, icc = _to_kept_mode(upright, icc)
            converted = depth.cut or converted
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


@dataclass(frozen=True)
class _Depth:
    """How an opened file stores its samples, where Pillow's modes do not say it."""

    deep: str | None  # "RGB;16" / "RGBA;16": 16-bit colour, which Pillow would cut to its high byte
    cut: str | None  # the report of 16-bit samples Pillow reads as 8 bits and nothing here reads whole
    source: BinaryIO | None  # the file, to decode the low bytes of a deep image from


#: The attribute open_image sets on the images it opens: their _Depth.
_DEPTH = "rescale_depth"


def _depth_of(im: Image.Image, source: BinaryIO | None) -> _Depth:
    """The :class:`_Depth` of an image just opened (its tiles not yet loaded)."""
    rawmodes = [_rawmode(t) for t in im.tile]
    if im.mode in ("RGB", "RGBA") and rawmodes and all(r in {f"{im.mode};16{o}" for o in "BLN"} for r in rawmodes):
        return _Depth(f"{im.mode};16", None, source)
    if im.mode in ("LA", "RGB", "RGBA") and any(";16" in (r or "") for r in rawmodes):
        return _Depth(None, f"{im.mode};16 -> {im.mode} (read as 8 bits)", None)
    return _Depth(None, None, None)


def _depth(im: Image.Image) -> _Depth:
    """The :class:`_Depth` :func:`open_image` found, or (for an image opened otherwise) its own."""
    return getattr(im, _DEPTH, None) or _depth_of(im, None)


def deep_mode(im: Image.Image) -> str | None:
    """``"RGB;16"`` / ``"RGBA;16"`` for an image from :func:`open_image` whose file holds 16-bit
    colour samples, which Pillow would cut to their high byte; else None."""
    return _depth(im).deep


def bands_of(mode: str) -> int:
    """Channels of an image of ``mode`` (one of :data:`KEPT_MODES`)."""
    return len(mode.split(";")[0]) if mode in DEEP_MODES else Image.getmodebands(mode)


def _rawmode(tile) -> str | None:
    """How a tile's decoder unpacks samples (Pillow's "rawmode"), when it says."""
    args = tile[3]
    rawmode = args if isinstance(args, str) else (args[0] if args else None)
    return rawmode if isinstance(rawmode, str) else None


def _low_bytes(source: BinaryIO) -> Image.Image:
    """The 16-bit colour image in the file ``source`` (:func:`deep_mode`) opened once more, set to
    unpack the low byte of each sample instead of the high one: the same unpacker for the other
    byte order (Pillow's "N", native, is the host's order). The image opened first loads the high
    bytes as usual."""
    source.seek(0)
    low = _pillow_open(io.BytesIO(source.read()))
    native = "L" if sys.byteorder == "little" else "B"
    swap = {"B": "L", "L": "B", "N": "B" if native == "L" else "L"}
    tiles = []
    for t in low.tile:
        rawmode = _rawmode(t)
        args = rawmode[:-1] + swap[rawmode[-1]]
        if not isinstance(t[3], str):
            args = (args, *t[3][1:])
        tiles.append(t._replace(args=args) if hasattr(t, "_replace") else (*t[:3], args))
    low.tile = tiles
    return low


_OPEN_LOCK = threading.Lock()


def conversion_of(im: Image.Image) -> str | None:
    """The mode conversion :func:`decode` makes of an opened image, from its headers alone (as
    ``Decoded.converted`` says it, e.g. ``"P -> RGBA"``); None when its mode is kept."""
    mode = _kept_mode_of(im)
    if (deep_mode(im) or im.mode) == mode:
        return _depth(im).cut
    if im.mode == "CMYK" and im.info.get("icc_profile"):
        return "CMYK -> RGB (through its ICC profile)"
    return f"{im.mode} -> {mode}"


def _kept_mode_of(im: Image.Image) -> str:
    """The mode :func:`decode` gives ``im`` (:func:`_to_kept_mode`), from its headers."""
    mode = deep_mode(im) or im.mode
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
