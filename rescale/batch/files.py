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
uncompressed when the EXIF has sub-IFDs, which Pillow's LZW writer cannot write). The file is
written to a temporary name in the destination folder, flushed to disk and renamed over the
destination, so a run killed at any moment leaves either the old file, the complete new one, or a
temporary file named ``.rescale-tmp-<pid>-...`` that :func:`clean_temp_files` removes on the next
run.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import ExifTags, Image, ImageCms, ImageOps

__all__ = [
    "ImageError",
    "Metadata",
    "Decoded",
    "FORMATS",
    "read_image",
    "write_image",
    "atomic_save",
    "clean_temp_files",
    "upright_size",
    "TEMP_PREFIX",
]

#: Output formats by the name the CLI takes: (Pillow format, file suffix).
FORMATS = {"png": ("PNG", ".png"), "jpg": ("JPEG", ".jpg"), "webp": ("WEBP", ".webp"), "tiff": ("TIFF", ".tiff")}
#: Suffixes of inputs whose format is kept when no output format is asked for (others become PNG).
KEEP_SUFFIXES = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp", ".tif": "tiff", ".tiff": "tiff"}
DEFAULT_QUALITY = 90

#: Temporary files are hidden, start with this and carry the writer's pid: ``.rescale-tmp-<pid>-<hex>-<name>``.
TEMP_PREFIX = ".rescale-tmp-"
#: A temporary file untouched for this long is stale even if its pid is alive (pids get reused).
STALE_TEMP_SECONDS = 600

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
    size: tuple[int, int] | None = None  # upright size of the file (``image`` may be smaller: ``reduce_for``)


def read_image(path: str | os.PathLike, max_pixels: int | None = None, reduce_for=None) -> Decoded:
    """Decode ``path`` fully, upright, in a mode that ``rescale()`` resamples.

    ``reduce_for(w, h)``, given the upright size, returns the size the image will be resampled to
    (or None): a JPEG is then decoded reduced in the DCT domain (``--fast-decode``, see
    :data:`DRAFT_GAP`); ``Decoded.size`` stays the file's own size.

    ``max_pixels`` (default Pillow's ``Image.MAX_IMAGE_PIXELS``; 0 for no limit) refuses larger
    images before their pixels are decoded. Raises :class:`ImageError` with a short reason for files
    that cannot be read.
    """
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        with _open(path) as im:
            w, h = im.size
            if limit and w * h > limit:
                raise ImageError(
                    f"too large (decompression-bomb guard): {w}x{h} = {w * h} pixels, over the limit of {limit}; "
                    "raise it with --max-pixels if you trust the file"
                )
            frames = getattr(im, "n_frames", 1)
            if frames > 1 and im.format != "MPO":
                raise ImageError(
                    f"{im.format} with {frames} frames: multi-frame images are not supported "
                    "(extract the frame you want first)"
                )
            full = (h, w) if im.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8) else (w, h)
            if reduce_for is not None and im.format == "JPEG":
                _draft(im, full, reduce_for(*full))
            im.load()
            upright = ImageOps.exif_transpose(im, in_place=True) or im
    except ImageError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageError("not an image file Pillow can read (corrupt or unknown format)") from None
    except FileNotFoundError:
        raise ImageError("file not found") from None
    except PermissionError:
        raise ImageError("permission denied") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as e:
        # Pillow reports truncated and corrupt data as OSError (and a few plugins as others).
        raise ImageError(f"corrupt or truncated: {e}") from None

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


def _draft(im: Image.Image, full: tuple[int, int], target: tuple[int, int] | None) -> None:
    """Have the JPEG decoder shrink ``im`` (upright size ``full``) in the DCT domain, keeping at
    least :data:`DRAFT_GAP` times the upright ``target`` size."""
    if target is None:
        return
    want = (target[0] * DRAFT_GAP, target[1] * DRAFT_GAP)
    if full != im.size:  # stored sideways: the decoder's axes are swapped
        want = want[::-1]
    im.draft(im.mode, want)


def upright_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of ``path`` once its EXIF orientation is applied, from the headers only."""
    with _open(path) as im:
        w, h = im.size
        return (h, w) if im.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8) else (w, h)


_OPEN_LOCK = threading.Lock()


def _open(path) -> Image.Image:
    """``Image.open`` (headers only) without Pillow's own size guard, which reads a global limit:
    :func:`read_image` applies its own, per call, so threads with different limits do not race."""
    with _OPEN_LOCK:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _to_kept_mode(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, str | None, bytes | None]:
    mode = im.mode
    if mode in KEPT_MODES:
        return im, None, icc
    if mode == "1":
        out = im.convert("L")
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA")
        out = im.convert("RGBA" if has_alpha else "RGB")
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


def write_image(
    img: Image.Image, dest: Path, fmt: str, meta: Metadata, quality: int | None = None, provenance=None
) -> Image.Image:
    """Write ``img`` to ``dest`` as ``fmt`` (a key of :data:`FORMATS`), atomically, with ``meta``
    and, when given, a :class:`rescale.batch.provenance.Provenance` record (``rescale down``).

    Returns the image as written (after fitting its mode to the format).
    """
    pil_format = FORMATS[fmt][0]
    img = _fit_mode(img, pil_format)
    params: dict = {}
    if meta.icc_profile and not (pil_format == "WEBP" and img.mode in ("L", "LA")):  # WebP makes those RGB
        params["icc_profile"] = meta.icc_profile
    exif = _exif_for(meta.exif, img.size) if meta.exif else None
    if exif:
        params["exif"] = exif
    if meta.dpi:
        params["dpi"] = meta.dpi
    if pil_format in ("JPEG", "WEBP"):
        params["quality"] = DEFAULT_QUALITY if quality is None else quality
    if provenance is not None:
        params = provenance.embed(params, pil_format)
    if pil_format == "TIFF":
        # Pillow's LZW (libtiff) writer fails on EXIF sub-IFDs (camera tags, GPS, rescale's
        # record): such files are written uncompressed by Pillow's own writer, which keeps them.
        params["compression"] = "raw" if _has_sub_ifd(params.get("exif")) else "tiff_lzw"
    atomic_save(img, dest, pil_format, **params)
    return img


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


def _exif_for(exif_bytes: bytes, size: tuple[int, int]) -> bytes | None:
    """The kept EXIF with its pixel-dimension tags (when present) set to the new size and no TIFF
    layout tags; None when nothing is left."""
    exif = Image.Exif()
    exif.load(exif_bytes)
    for tag in _TIFF_LAYOUT_TAGS:
        exif.pop(tag, None)
    if ExifTags.IFD.Exif in exif:  # (get_ifd would add an empty one)
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        if ExifTags.Base.ExifImageWidth in sub:
            sub[ExifTags.Base.ExifImageWidth] = size[0]
        if ExifTags.Base.ExifImageHeight in sub:
            sub[ExifTags.Base.ExifImageHeight] = size[1]
    return exif.tobytes() if len(exif) else None


def _has_sub_ifd(exif_bytes: bytes | None) -> bool:
    if not exif_bytes:
        return False
    exif = Image.Exif()
    exif.load(exif_bytes)
    return ExifTags.IFD.Exif in exif or ExifTags.IFD.GPSInfo in exif


def atomic_save(img: Image.Image, dest: Path, pil_format: str, **params) -> None:
    """``img.save`` to a temporary file beside ``dest``, fsync, then rename it over ``dest``."""
    dest = Path(dest)
    tmp = dest.with_name(f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{dest.name}")
    try:
        with open(tmp, "xb") as f:
            img.save(f, format=pil_format, **params)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def clean_temp_files(folder: Path) -> list[Path]:
    """Remove the temporary files a killed run left in ``folder`` (not those of live writers)."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX) or not entry.is_file(follow_symlinks=False):
            continue
        pid = entry.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        try:
            stale = now - entry.stat().st_mtime > STALE_TEMP_SECONDS
        except OSError:
            continue
        if stale or not pid.isdigit() or not _alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.path.isdir("/proc/self"):  # Linux: a zombie (killed, not yet reaped) is not writing anything
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
        except FileNotFoundError:
            return False
        except (OSError, IndexError):
            pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
